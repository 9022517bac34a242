"""The x86-64-v3 build of the Cython kernels gives the bits of the baseline build.

Both are compiled from the same source with ``-ffp-contract=off`` (no FMA); the
wider vectors change the speed, never the result.  Every kernel, every option
combination, both dtypes, 1 and 2 threads.
"""
import importlib

import numpy as np
import pytest

from fastopt.backends import _dispatch
from fastopt.backends import ALGORITHMS

from conftest import bits, require
from kernel_cases import make_case, option_grid


def _variant_module(algorithm):
    try:
        from fastopt.backends.cython import _cpu
        module = importlib.import_module(f"fastopt.backends.cython.x86_64_v3.{algorithm}")
    except ImportError:
        pytest.skip("the x86-64-v3 build of the Cython kernels is not present")
    if not _cpu.supports_x86_64_v3():
        pytest.skip("this CPU does not run x86-64-v3 code")
    return module


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_x86_64_v3_build_equals_baseline_build(algorithm):
    require("cython")
    variant = getattr(_variant_module(algorithm), algorithm)
    baseline = getattr(importlib.import_module(f"fastopt.backends.cython.{algorithm}"), algorithm)
    rng = np.random.default_rng(0)
    for options in option_grid(algorithm):
        for dtype in (np.float32, np.float64):
            for n, n_threads in ((1, 1), (1000, 1), (4099, 2)):
                arrays, scalars = make_case(algorithm, options, n, dtype, rng)
                copy = [a.copy() for a in arrays]
                baseline(*arrays, *scalars, n_threads)
                variant(*copy, *scalars, n_threads)
                for a, b in zip(arrays, copy):
                    assert np.array_equal(bits(a), bits(b)), (algorithm, options, dtype, n)


def test_variant_in_use_is_reported_and_can_be_forced_off(monkeypatch):
    require("cython")
    assert _dispatch.cython_variant() in ("baseline", "x86_64_v3")
    import subprocess
    import sys
    code = "from fastopt.backends import _dispatch; print(_dispatch.cython_variant())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "FASTOPT_CPU": "baseline"}, check=True)
    assert out.stdout.strip() == "baseline"
