"""The examples of docs/guide/parallel.md run (in order, in one namespace, as a reader
would paste them), except the block that needs a Ray cluster (tests/parallel/test_ray.py
covers that path)."""
import pathlib
import re

import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "guide" / "parallel.md"


@pytest.mark.skipif(not GUIDE.exists(), reason="the guide is not beside the tests")
def test_guide_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) >= 7
    namespace = {}
    for i, block in enumerate(blocks):
        if "import ray" in block:
            continue
        exec(compile(block, f"{GUIDE.name} block {i}", "exec"), namespace)
    assert "out of range" in capsys.readouterr().out
