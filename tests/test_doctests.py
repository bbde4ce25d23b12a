"""Every docstring example in the library runs: they show calls, so they must stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import labelport

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(labelport.__path__, "labelport.")
    if not name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failed, _attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0, f"{failed} docstring examples of {name} fail (run: python -m doctest -v)"
