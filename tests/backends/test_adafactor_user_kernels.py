"""Adafactor's row pieces called from the user's own loops: Cython (``cimport`` of
``fastopt/backends/cython/adafactor.pxd``, without the GIL) and ``@numba.njit``.

A user's loop over the distinct touched rows of a 2-D table makes the four passes the
.pxd describes (norm of the rows, statistics, norm of the update, update); with the
scalars the optimizer computes, it must give fastopt's sparse step bit for bit (the rows
hold fewer than DOT_BLOCK elements, where one running sum is the reference's order).
"""
import importlib
import re

import numpy as np
import pytest

import fastopt
from fastopt.backends.python.lbfgs import DOT_BLOCK

from conftest import bits, require
from test_cython_user_kernels import _capsule_signature, _pxd_path, build_user_extension

NAMES = ("sum_sq", "row_stats", "col_stats", "den", "row_sq", "row")

USER_LOOP = '''
def adafactor_rows_{s}({t}[:, ::1] table, const {t}[:, ::1] grads, const Py_ssize_t[::1] rows,
                       {t}[::1] row_var, {t}[::1] col_var, double beta2_hat, double rho,
                       double eps1, double eps2, double d_clip, double decay_factor,
                       bint maximize):
    """One Adafactor step on the distinct rows ``rows`` (increasing) of ``table``."""
    cdef Py_ssize_t u = rows.shape[0], d = table.shape[1], k
    cdef double n = u * d, s_theta = 0.0, s_r = 0.0, s_u = 0.0, alpha, y
    cdef {t} beta = <{t}>beta2_hat, eps1_sq = <{t}>(eps1 * eps1)
    cdef {t} decay = <{t}>decay_factor, den, coef
    cdef double* acc = <double*>calloc(d, sizeof(double))
    with nogil:
        for k in range(u):
            s_theta = adafactor_sum_sq_{s}(&table[rows[k], 0], d, s_theta)
        alpha = sqrt(s_theta) / sqrt(n)
        alpha = (alpha if alpha > eps2 else eps2) * rho
        for k in range(u):
            adafactor_row_stats_{s}(&grads[k, 0], d, &row_var[rows[k]], acc, beta)
        adafactor_col_stats_{s}(&col_var[0], acc, d, u, beta)
        for k in range(u):
            s_r = s_r + <double>row_var[rows[k]]
        den = adafactor_den_{s}(s_r, u, <{t}>eps1)
        for k in range(u):
            s_u = adafactor_row_sq_{s}(&grads[k, 0], &col_var[0], d, row_var[rows[k]], den,
                                       eps1_sq, maximize, s_u)
        y = sqrt(s_u) / (sqrt(n) * d_clip)
        coef = <{t}>(alpha / (y if y > 1.0 else 1.0))
        for k in range(u):
            adafactor_row_{s}(&table[rows[k], 0], &grads[k, 0], &col_var[0], d,
                              row_var[rows[k]], den, eps1_sq, decay, coef, maximize)
    free(acc)
'''


def _user_pyx():
    names = ", ".join(f"adafactor_{n}_{s}" for s in ("f32", "f64") for n in NAMES)
    head = ("# cython: language_level=3, boundscheck=False, wraparound=False\n"
            "from libc.math cimport sqrt\nfrom libc.stdlib cimport calloc, free\n"
            f"from fastopt.backends.cython.adafactor cimport ({names})\n")
    return head + "".join(USER_LOOP.format(s=s, t=t)
                          for s, t in (("f32", "float"), ("f64", "double")))


@pytest.fixture(scope="module")
def user_module(tmp_path_factory):
    return build_user_extension(tmp_path_factory.mktemp("adafactor_user"),
                                "fastopt_adafactor_user", _user_pyx())


def _numba_loop():
    numba = pytest.importorskip("numba")
    from fastopt.backends.numba.adafactor import (adafactor_col_stats, adafactor_den,
                                                  adafactor_row, adafactor_row_sq,
                                                  adafactor_row_stats, adafactor_sum_sq)

    @numba.njit(nogil=True)
    def step(table, grads, rows, row_var, col_var, beta, rho, eps1, eps2, d_clip, decay,
             maximize):
        u, d = rows.size, table.shape[1]
        n = u * d
        s_theta = 0.0
        for k in range(u):
            s_theta = adafactor_sum_sq(s_theta, table[rows[k]], d)
        x = np.sqrt(s_theta) / np.sqrt(n)
        alpha = (x if x > eps2 else eps2) * rho
        acc = np.zeros(d)
        for k in range(u):
            adafactor_row_stats(grads[k], row_var, rows[k], acc, beta)
        adafactor_col_stats(col_var, acc, u, beta)
        s_r = 0.0
        for k in range(u):
            s_r += np.float64(row_var[rows[k]])
        t = table.dtype.type
        den = adafactor_den(s_r, u, t(eps1))
        s_u = 0.0
        for k in range(u):
            s_u = adafactor_row_sq(grads[k], col_var, row_var[rows[k]], den, eps1 * eps1,
                                   maximize, s_u)
        y = np.sqrt(s_u) / (np.sqrt(n) * d_clip)
        coef = alpha / (y if y > 1.0 else 1.0)
        for k in range(u):
            adafactor_row(table[rows[k]], grads[k], col_var, row_var[rows[k]], den,
                          eps1 * eps1, decay, coef, maximize)

    return step


def _check_user_loop(call, dtype, kwargs, seed):
    """Three steps of the user's loop on random distinct rows == fastopt's sparse steps."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((50, 37)).astype(dtype)
    want = table.copy()
    opt = fastopt.Adafactor(want, backend="python", **kwargs)
    row_var, col_var = np.zeros(50, dtype), np.zeros(37, dtype)
    for t in range(1, 4):
        rows = np.sort(rng.choice(50, int(rng.integers(1, 40)), replace=False)).astype(np.intp)
        assert rows.size * 37 <= DOT_BLOCK
        grads = rng.standard_normal((rows.size, 37)).astype(dtype)
        opt.step(fastopt.SparseGrad(rows, grads))
        scalars = opt.step_scalars(t, dtype)
        call(table, grads, rows, row_var, col_var, *scalars)
        np.testing.assert_array_equal(bits(table), bits(want), err_msg=f"step {t}")
        np.testing.assert_array_equal(bits(row_var), bits(opt.state[0]["row_var"][:, 0]))
        np.testing.assert_array_equal(bits(col_var), bits(opt.state[0]["col_var"][0]))


OPTIONS = [{}, dict(lr=0.05, weight_decay=0.1, maximize=True, eps=(1e-30, 1e-3), d=1.5)]


@pytest.mark.parametrize("kwargs", OPTIONS, ids=["default", "all"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_cython_user_loop_over_rows_is_fastopts_sparse_step(user_module, dtype, kwargs):
    fn = getattr(user_module, "adafactor_rows_" + ("f32" if dtype == np.float32 else "f64"))
    _check_user_loop(fn, dtype, kwargs, seed=1)


@pytest.mark.parametrize("kwargs", OPTIONS, ids=["default", "all"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_numba_user_loop_over_rows_is_fastopts_sparse_step(dtype, kwargs):
    _check_user_loop(_numba_loop(), dtype, kwargs, seed=2)


@pytest.mark.parametrize("variant", ["", "x86_64_v3."])
def test_every_declared_function_is_exported(variant):
    """Every function of adafactor.pxd is in the module's ``__pyx_capi__`` (how
    ``cimport`` binds), in both builds, with the baseline's C signature."""
    require("cython")
    baseline = importlib.import_module("fastopt.backends.cython.adafactor")
    try:
        module = importlib.import_module(f"fastopt.backends.cython.{variant}adafactor")
    except ImportError:
        pytest.skip(f"the {variant} build of the Cython kernels is not present")
    with open(_pxd_path("adafactor")) as f:
        declared = set(re.findall(r"^cdef \w+ (\w+)\(", f.read(), re.MULTILINE))
    assert declared == {f"adafactor_{n}_{s}" for n in NAMES for s in ("f32", "f64")}
    assert set(module.__pyx_capi__) == declared
    for name in declared:
        signature = _capsule_signature(module.__pyx_capi__[name])
        assert signature == _capsule_signature(baseline.__pyx_capi__[name]), name
        assert ("float" in signature) == name.endswith("_f32"), (name, signature)
