"""A bounded fuzz of the server's import endpoint: the shared fixture files, mutated (a value swapped
for a strange one, a key dropped, the text cut or a byte changed), imported with random options by
raw signed requests. No answer is a 500, and a request that fails leaves the database as it was.

Seeded, so a failure comes back the same: :data:`EXAMPLES` examples, fewer when they take more than
:data:`BUDGET_SECONDS`. The damage includes JSON nested deeper than the decoder recurses and bytes
that are not UTF-8.
"""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

from test_server import Team
from test_server_inputs import snapshot
from test_server_trust import call, upload_import

# the shared team fixture (a database and a server process on it, per module) comes from test_server
BUDGET_SECONDS = 25.0
EXAMPLES = 70
FIXTURES = (
    "seed/bounding_box.json",
    "seed/polygon.json",
    "datumaro/instances_val.json",
    "datumaro/person_keypoints_val.json",
    "keypoints/person_keypoints_gt.json",
    "label-studio/coco_import_input.json",
)
STRANGE: list[Any] = [
    None,
    True,
    0,
    -1,
    2**31,
    2**63,
    2**64 + 1,
    10**30,
    -(2**63) - 1,
    1e308,
    -0.0,
    0.5,
    "",
    "\x00",
    "a\x00b",
    "😀" * 70,
    "NaN",
    [],
    {},
    [[]],
    [None],
    {"": 1},
    [1, 2, 3],
    [1, 2, 3, 4, 5],
    {"counts": "x", "size": [1, 1]},
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"dry_run": True},
    {"categories": "create", "create_missing_data_units": True},
    {"categories": "create", "create_missing_data_units": True, "on_error": "skip"},
    {"on_error": "skip", "dry_run": True, "create_missing_data_units": True},
    {"replace": True, "categories": "create", "create_missing_data_units": True, "branch_name": "fuzz"},
]


def _places(value: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON document."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((value, key))
        _places(child, found)
    return found


def mutate(document: Any, rng: random.Random) -> bytes:
    """One to three changes to a copy of ``document``, then perhaps damage to its text."""
    doc = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        places = _places(doc, [])
        if not places:
            break
        container, key = rng.choice(places)
        if isinstance(container, dict) and rng.random() < 0.25:
            del container[key]
        elif isinstance(container, list) and rng.random() < 0.15:
            container.append(copy.deepcopy(container[key]))  # a duplicate: ids used twice
        else:
            container[key] = copy.deepcopy(rng.choice(STRANGE))
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()
    damage = rng.random()
    if damage < 0.1:
        text = text[: rng.randrange(len(text))]  # cut short (perhaps inside a character)
    elif damage < 0.2:
        ascii_at = [i for i in range(0, len(text), 7) if text[i] < 0x80]
        at = rng.choice(ascii_at)
        text = text[:at] + bytes([rng.randrange(0x20, 0x7F)]) + text[at + 1 :]  # one character changed
    elif damage < 0.26:
        at = rng.randrange(len(text))
        text = text[:at] + bytes([rng.choice([0x80, 0xC3, 0xFF])]) + text[at:]  # a byte that is not UTF-8
    elif damage < 0.32 and text.startswith(b"{"):
        depth = rng.choice([1_000, 200_000])  # nested deeper than any COCO file, past the decoder's limit
        text = b'{"deep": ' + b"[" * depth + b"]" * depth + b", " + text[1:]
    return text


def test_mutated_fixture_files_never_get_a_500(team: Team, shared_fixtures: Path) -> None:
    base = team.server.url
    _, identity, _ = team.user("fuzzer")
    project = call(identity, "POST", f"{base}/projects", {"title": "fuzz"}).json()["hash"]
    documents = [json.loads((shared_fixtures / name).read_text()) for name in FIXTURES]
    rng = random.Random(20261201)
    statuses: dict[int, int] = {}
    started = time.monotonic()
    for example in range(EXAMPLES):
        if time.monotonic() - started > BUDGET_SECONDS:
            break
        data = mutate(rng.choice(documents), rng)
        options = rng.choice(OPTIONS)
        before = snapshot(team.db)
        response = upload_import(identity, base, project, data, options, name=f"fuzz{example % 7}.json")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            f"example {example} ({options}): {response.text}\n{data[:2000]!r}\n"
            f"{team.server.log.read_text()[-4000:]}"
        )
        body = response.json()
        if response.status_code != 200:
            assert body["error"] and len(body["message"].splitlines()) == 1
            assert snapshot(team.db) == before, f"example {example} failed and changed the database"
        elif options.get("dry_run") or not body["written"]:
            assert snapshot(team.db) == before, f"example {example} wrote nothing and changed the database"
    assert sum(statuses.values()) >= 20  # the budget allowed a real number of examples
    assert 200 in statuses and any(s >= 400 for s in statuses)  # both kinds were met
