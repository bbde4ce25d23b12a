"""Stable short identifiers in the platform's style (8 hex digits for features, uuid4 for rows).

>>> len(new_feature_hash())
8
"""

from __future__ import annotations

import secrets
import uuid


def new_feature_hash() -> str:
    """A new ``feature_node_hash`` or ``object_hash``: 8 random hex digits."""
    return secrets.token_hex(4)


def new_uuid() -> str:
    """A new project, data, label or ontology hash: a random UUID4 string."""
    return str(uuid.uuid4())
