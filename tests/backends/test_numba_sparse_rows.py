"""The numba sparse row loops make their row views without reference counting.

A view passed to a function numba does not inline (``<rule>_serial(param[r], ...)``)
otherwise costs an atomic increment and decrement of its owner's count per row: a
fence per row on one thread, a cache line the threads fight over on two (the 2-thread
sparse step was slower than the 1-thread one).  ``_sparse.unowned`` drops the owners;
these tests check that it keeps the memory and that every row loop uses it.
"""
import importlib
import re

import numpy as np
import pytest

from fastopt.backends import ALGORITHMS

from conftest import require
from kernel_cases import make_case, option_grid, stable_seed

N_ROWS, D = 20, 3


@pytest.fixture(scope="module")
def numba_jit():
    require("numba")
    import numba

    from fastopt.backends.numba import _jit, _sparse
    return numba, _jit, _sparse


def _row_functions():
    names = [a for a in ALGORITHMS
             if hasattr(importlib.import_module(f"fastopt.backends.python.{a}"), a + "_sparse")]
    return [(a, a + "_rows") for a in names] + [("adagrad", "adagrad_rowwise_rows")]


def _row_args(algorithm, fn_name, rng):
    """Arguments of ``<rule>_rows`` on an empty range of rows (the types are what count)."""
    options = next(iter(option_grid(algorithm)))
    arrays, scalars = make_case(algorithm, options, N_ROWS * D, np.float32, rng)
    param, grad, *state = arrays
    if fn_name == "adagrad_rowwise_rows":
        state = [np.zeros(N_ROWS, np.float32)]
    rows = np.arange(4, dtype=np.int64)
    return (param.reshape(N_ROWS, D), grad.reshape(N_ROWS, D)[:4], *state, rows, 0, 0,
            *scalars)


@pytest.mark.parametrize("algorithm,fn_name", _row_functions())
def test_row_loops_count_no_references_to_the_tables(numba_jit, algorithm, fn_name):
    numba, _jit, _ = numba_jit
    module = importlib.import_module(f"fastopt.backends.numba.{algorithm}")
    # A fresh, uncached compilation of the same source: numba shows no IR of cached code.
    fresh = numba.njit(**dict(_jit.FLAGS, cache=False))(getattr(module, fn_name).py_func)
    fresh(*_row_args(algorithm, fn_name, np.random.default_rng(stable_seed(fn_name))))
    ir = fresh.inspect_llvm(fresh.signatures[0])
    own = re.search(r"define [^\n]*@_ZN[^\n]*" + fn_name + r"[^\n]*\{\n(.*?)\n\}\n", ir, re.S)
    assert own is not None, f"no body of {fn_name} in its IR"
    counted = set(re.findall(r"NRT_(?:incref|decref)\(ptr %arg\.(\w+)\.0\)", own.group(1)))
    # Only ``rows`` (indexed, never viewed) may keep its count; the tables are viewed per row.
    assert counted <= {"rows"}, f"{fn_name} counts references to {sorted(counted)} per row"


def test_unowned_arrays_share_the_memory_and_pass_other_items(numba_jit):
    numba, _jit, _sparse = numba_jit

    @numba.njit(**dict(_jit.FLAGS, cache=False))
    def fill(row, value):
        for j in range(row.size):
            row[j] = value

    @numba.njit(**dict(_jit.FLAGS, cache=False))
    def through_views(table, flat, scale):
        table, flat, scale = _sparse.unowned((table, flat, scale))
        for r in range(table.shape[0]):
            fill(table[r], scale * r)
        fill(flat[2:5], -scale)
        return scale, table.shape[0], flat.size

    table = np.zeros((4, 3))
    flat = np.zeros(6, np.float32)
    assert through_views(table, flat, 2.0) == (2.0, 4, 6)
    assert np.array_equal(table, np.repeat(2.0 * np.arange(4.0), 3).reshape(4, 3))
    assert np.array_equal(flat, [0, 0, -2, -2, -2, 0])
