"""``python -m bench.parallel --quick`` runs and writes its report (Ray runs excluded: the
Ray tests cover the engine)."""
import json

import pytest

pytest.importorskip("numba")


def test_parallel_bench_quick_writes_its_report(tmp_path, capsys):
    from bench.parallel.__main__ import main
    assert main(["--quick", "--no-ray", "--sections", "hogwild", "--out",
                 str(tmp_path)]) == 0
    data = json.loads((tmp_path / "parallel.json").read_text())
    assert set(data["hogwild"]) == {"matrix_factorization", "logistic_regression"}
    assert all(x["speedup"] > 0 and x["loss_rel"] < 0.05 for x in data["hogwild"].values())
    assert "## Hogwild!" in (tmp_path / "parallel.md").read_text()
