"""The README's code and the docstring examples run and say what they claim."""
import doctest
import pathlib
import re

import pytest

import fastopt

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _readme_blocks():
    text = README.read_text() if README.exists() else ""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    # the self-contained ones
    return [b for b in blocks if b.lstrip().startswith(("import", "from fastopt"))]


@pytest.mark.skipif(not README.exists(), reason="README.md not beside the tests (installed copy)")
@pytest.mark.parametrize("index", range(len(_readme_blocks())))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files an example saves land here
    exec(compile(_readme_blocks()[index], f"README block {index}", "exec"), {})


@pytest.mark.parametrize("module", ["fastopt.optim.sgd", "fastopt.optim.adam"])
def test_docstring_examples(module):
    import importlib
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
