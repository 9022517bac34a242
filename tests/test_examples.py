"""The examples run (reduced with --quick) and write their plots and tables.

Each script runs as ``__main__`` (``runpy``) with ``--quick`` in this process, so that
the imports (matplotlib, scikit-learn) are paid once.  With scikit-learn installed
they use its bundled digits; without it, the synthetic data set, so that CI
exercises them either way.
"""
import importlib.util
import os
import runpy
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
DATASET = [] if HAVE_SKLEARN else ["--dataset", "synthetic"]

CASES = {
    "logistic_regression.py": (DATASET, ["logistic_regression_loss.png",
                                         "logistic_regression_results.md"]),
    "loss_surfaces.py": ([], ["optimizer_paths_rosenbrock.png", "optimizer_paths_saddle.png",
                              "optimizer_paths_results.md"]),
    "mlp_toolkit.py": (DATASET, ["mlp_training.png"]),
    "solvers_showcase.py": ([], ["solvers_regression.png", "solvers_convex.png",
                                 "solvers_saddle.png", "solvers_ga.png", "solvers_results.md"]),
}


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="the examples plot with matplotlib")
@pytest.mark.parametrize("script", CASES)
def test_example_runs_quick(script, tmp_path, monkeypatch):
    args, outputs = CASES[script]
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(sys, "argv", [script, "--quick", "--output-dir", str(tmp_path), *args])
    monkeypatch.setattr(sys, "path", [EXAMPLES] + sys.path)
    runpy.run_path(os.path.join(EXAMPLES, script), run_name="__main__")
    for name in outputs:
        path = tmp_path / name
        assert path.exists() and path.stat().st_size > 0, name
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_table_lists_every_optimizer(tmp_path):
    pytest.importorskip("matplotlib")
    sys.path.insert(0, EXAMPLES)
    try:
        import logistic_regression
    finally:
        sys.path.remove(EXAMPLES)
    logistic_regression.main(["--quick", "--dataset", "synthetic", "--output-dir",
                              str(tmp_path)])
    table = (tmp_path / "logistic_regression_results.md").read_text()
    for name in logistic_regression.OPTIMIZERS:
        assert f"| {name} |" in table
