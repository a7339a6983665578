"""The examples in the API docstrings run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest

import seqcnn

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(seqcnn.__path__, "seqcnn.")
    if not name.endswith("__main__")
)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Examples that write files (write_simulation) write them here, not into the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_examples_are_actually_run():
    attempted = sum(doctest.testmod(importlib.import_module(name)).attempted for name in MODULES)
    assert attempted >= 20
