"""The x86-64-v3 build of the Cython kernels gives the bits of the baseline build,
and the baseline build gives the reference's bits on any machine.

Both are compiled from the same source with ``-ffp-contract=off`` (no FMA); the
wider vectors change the speed, never the result.  Every kernel, every option
combination, both dtypes, 1 and 2 threads.  On a machine where the dispatcher picks
the x86-64-v3 build, the kernel tables test that one; the tests at the end import
the baseline build directly and compare it with the reference for every kernel kind
(dense, sparse rows, row-wise, toolkit), with ordinary and special values, so it is
checked wherever the suite runs.  (The toolkit tables in tests/train also run on
``"cython-baseline"``.)
"""
import importlib

import numpy as np
import pytest

from fastopt.backends import _dispatch
from fastopt.backends import ALGORITHMS

from conftest import assert_same_values, bits, require
from kernel_cases import make_case, option_grid
from test_kernels import check_special_values
from test_sparse_kernels import _sparse_arrays, check_sparse_special_values, index_sets, workspace


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


def _baseline(name, module=None):
    """Kernel ``name`` of the baseline build, imported directly (never the dispatcher's)."""
    require("cython")
    module = module or _dispatch._module_of(name)
    return getattr(importlib.import_module(f"fastopt.backends.cython.{module}"), name)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_baseline_build_matches_reference_dense_and_sparse(algorithm):
    dense, sparse = _baseline(algorithm), _baseline(algorithm + "_sparse")
    reference = _dispatch.kernel("python", algorithm)
    reference_sparse = _dispatch.kernel("python", algorithm + "_sparse")
    rng = np.random.default_rng(1)
    for options in option_grid(algorithm):
        for dtype in (np.float32, np.float64):
            for n, n_threads in ((1, 1), (4099, 2)):
                arrays, scalars = make_case(algorithm, options, n, dtype, rng)
                expected = [a.copy() for a in arrays]
                reference(*expected, *scalars, 1)
                dense(*arrays, *scalars, n_threads)
                for a, b in zip(arrays, expected):
                    assert np.array_equal(bits(a), bits(b)), (algorithm, options, dtype, n)
            check_special_values(dense, algorithm, options, dtype, "baseline",
                                 runs=[(4099, 2)])
            indices = index_sets(rng, np.int32)["zipf"]
            param, state, scalars = _sparse_arrays(algorithm, options, 3, dtype, rng)
            values = rng.standard_normal((indices.size, 3)).astype(dtype)
            want_p, want_s = param.copy(), [s.copy() for s in state]
            reference_sparse(want_p, indices, values, *want_s, *scalars, None, None, None, 1)
            sparse(param, indices, values, *state, *scalars, *workspace(indices.size, 3, dtype),
                   2)
            for a, b in zip([param, *state], [want_p, *want_s]):
                assert np.array_equal(bits(a), bits(b)), (algorithm, options, dtype, "sparse")
            check_sparse_special_values(sparse, algorithm, options, dtype, "baseline")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_baseline_build_matches_reference_rowwise(dtype):
    rowwise, rowwise_sparse = _baseline("adagrad_rowwise"), _baseline("adagrad_rowwise_sparse")
    rng = np.random.default_rng(2)
    scalars = (float(dtype(0.05)), float(dtype(0.01)), float(dtype(1e-10)), True)
    for d, n_threads in ((1, 1), (64, 2)):
        param = rng.standard_normal((200, d)).astype(dtype)
        grad = rng.standard_normal((200, d)).astype(dtype)
        state_sum = rng.random(200).astype(dtype)
        want = param.copy(), state_sum.copy()
        _dispatch.kernel("python", "adagrad_rowwise")(want[0], grad, want[1], *scalars, 1)
        rowwise(param, grad, state_sum, *scalars, n_threads)
        assert_same_values(param, want[0], f"dense d={d}")
        assert_same_values(state_sum, want[1], f"dense d={d}")
        indices = index_sets(rng, np.int64)["zipf"]
        values = rng.standard_normal((indices.size, d)).astype(dtype)
        want = param.copy(), state_sum.copy()
        _dispatch.kernel("python", "adagrad_rowwise_sparse")(want[0], indices, values, want[1],
                                                           *scalars, None, None, None, 1)
        rowwise_sparse(param, indices, values, state_sum, *scalars,
                       *workspace(indices.size, d, dtype), n_threads)
        assert_same_values(param, want[0], f"sparse d={d}")
        assert_same_values(state_sum, want[1], f"sparse d={d}")
