"""``labelport.__all__`` is exactly the public names the package exports, sorted."""

from __future__ import annotations

import inspect

import labelport


def public_names() -> set[str]:
    """Names bound in the package that are not private and not submodules, plus ``__version__``."""
    names = {
        name
        for name, value in vars(labelport).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    return names | {"__version__"}


def test_all_matches_the_public_names() -> None:
    assert set(labelport.__all__) == public_names()


def test_all_is_sorted_without_duplicates() -> None:
    assert labelport.__all__ == sorted(labelport.__all__)
    assert len(set(labelport.__all__)) == len(labelport.__all__)


def test_every_name_resolves() -> None:
    for name in labelport.__all__:
        assert getattr(labelport, name) is not None, name


def test_the_brief_names_are_there() -> None:
    """What the brief's import.py needs after changing its import lines."""
    from labelport import EncordUserClient, FrameIndex, OntologyError, UserClient

    assert EncordUserClient is UserClient
    assert FrameIndex.__name__ == "FrameIndex"
    assert issubclass(OntologyError, labelport.LabelportError)
    assert hasattr(labelport.Project, "import_coco_labels")
    assert hasattr(labelport.Project, "list_label_rows_v2")
    assert isinstance(labelport.__version__, str)
