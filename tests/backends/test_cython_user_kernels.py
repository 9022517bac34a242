"""fastopt's update rules called from the user's own Cython code (``cimport``), without the GIL.

``fastopt/backends/cython/<rule>.pxd`` declares, for every rule, ``<rule>_row_f32`` /
``_f64`` (one update of ``n`` contiguous elements: the dense kernel's arguments with ``n``
after the arrays, without ``n_threads``) and ``<rule>_element_f32`` / ``_f64`` (one
element, the gradient by value), plus ``adagrad_rowwise_row_f32`` / ``_f64``; the
compiled module exports them through ``__pyx_capi__``.  A small extension built here,
once per session, cimports them and calls them row by row (or element by element) in a
``with nogil:`` loop, as a GloVe or word2vec trainer would; the results are the
reference kernel's, applied row by row, bit for bit.
"""
import ctypes
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch
from fastopt.backends import ALGORITHMS

from conftest import bits, require
from kernel_cases import make_case, option_grid

# The state arrays of each rule's dense kernel, in its order (after param and grad).
STATES = {
    "sgd": ("momentum_buffer",),
    "adagrad": ("state_sum",),
    "adadelta": ("square_avg", "acc_delta"),
    "rmsprop": ("square_avg", "grad_avg", "momentum_buffer"),
    "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adamax": ("exp_avg", "exp_inf"),
    "nadam": ("exp_avg", "exp_avg_sq"),
    "radam": ("exp_avg", "exp_avg_sq"),
    "lion": ("exp_avg",),
    "rprop": ("prev", "step_size"),
    "asgd": ("ax",),
    "sparse_adam": ("exp_avg", "exp_avg_sq"),
    "ftrl": ("accum", "linear"),
    "proximal_adagrad": ("accumulator",),
    "lamb": ("exp_avg", "exp_avg_sq", "update"),
}
# Scalars then booleans of each dense kernel, in its order (without n_threads).
SCALARS = {
    "sgd": ("lr", "weight_decay", "momentum", "one_minus_dampening", "nesterov", "maximize",
            "first_step"),
    "adagrad": ("clr", "weight_decay", "eps", "maximize"),
    "adadelta": ("lr", "rho", "one_minus_rho", "eps", "weight_decay", "maximize"),
    "rmsprop": ("lr", "alpha", "one_minus_alpha", "eps", "weight_decay", "momentum",
                "centered", "maximize"),
    "adam": ("beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "step_size",
             "bias_correction2_sqrt", "eps", "weight_decay", "decay_factor", "amsgrad",
             "maximize"),
    "adamax": ("beta1", "one_minus_beta1", "beta2", "clr", "eps", "weight_decay", "maximize"),
    "nadam": ("beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "bias_correction2",
              "eps", "grad_coef", "exp_avg_coef", "weight_decay", "decay_factor", "maximize"),
    "radam": ("beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "step_size", "eps",
              "weight_decay", "decay_factor", "rectify", "maximize"),
    "lion": ("lr", "beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "decay_factor",
             "maximize"),
    "rprop": ("etaminus", "etaplus", "step_size_min", "step_size_max", "maximize"),
    "asgd": ("eta", "weight_decay", "decay_factor", "mu", "maximize", "average"),
    "sparse_adam": ("one_minus_beta1", "one_minus_beta2", "step_size", "eps", "maximize"),
    "ftrl": ("lr", "l1", "two_l2", "two_l2_shrinkage", "lr_power", "maximize"),
    "proximal_adagrad": ("lr", "l1", "l2", "maximize"),
    "lamb": ("beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "bias_correction1",
             "bias_correction2", "eps", "weight_decay", "maximize"),
}
BOOLS = {"nesterov", "maximize", "first_step", "centered", "amsgrad", "rectify", "average"}


def _expected_names(algorithm):
    names = {f"{algorithm}_{kind}_{t}" for kind in ("row", "element") for t in ("f32", "f64")}
    if algorithm == "adagrad":
        names |= {"adagrad_rowwise_row_f32", "adagrad_rowwise_row_f64"}
    return names


def _pxd_path(algorithm):
    return os.path.join(fastopt.get_include(), "fastopt", "backends", "cython",
                        f"{algorithm}.pxd")


def _declared(algorithm):
    with open(_pxd_path(algorithm)) as f:
        return set(re.findall(r"^cdef void (\w+)\(", f.read(), re.MULTILINE))


# ------------------------------------------------------------------ the user's extension

def _user_pyx():
    """A user's module: for each rule, a loop over listed rows that calls the row (or the
    element) function of fastopt without the GIL.  Unused states are empty tables (0, d)
    and are passed as NULL."""
    parts = ["""\
        # cython: language_level=3, boundscheck=False, wraparound=False
        from cython cimport floating
        from fastopt.backends.cython.adagrad cimport (adagrad_rowwise_row_f32,
                                                      adagrad_rowwise_row_f64)
        """]
    for alg in ALGORITHMS:
        names = sorted(_expected_names(alg) - {"adagrad_rowwise_row_f32",
                                               "adagrad_rowwise_row_f64"})
        parts.append(f"from fastopt.backends.cython.{alg} cimport {', '.join(names)}\n")
    for alg in ALGORITHMS:
        states, scalars = STATES[alg], SCALARS[alg]
        params = ", ".join(
            ["floating[:, ::1] table", "const floating[:, ::1] grads",
             "const Py_ssize_t[::1] rows"]
            + [f"floating[:, ::1] {s}" for s in states]
            + [f"{'bint' if s in BOOLS else 'floating'} {s}" for s in scalars]
            + ["bint by_element"])
        pointers = "".join(
            f"    cdef floating* {s}0 = &{s}[0, 0] if {s}.shape[0] else NULL\n"
            for s in states)
        row_states = ", ".join(f"{s}0 + r * d if {s}0 else NULL" for s in states)
        el_states = ", ".join(f"{s}0 + r * d + j if {s}0 else NULL" for s in states)
        args = ", ".join(scalars)
        parts.append(f"""
def {alg}_rows({params}):
    cdef Py_ssize_t d = table.shape[1], k, r, j
{pointers}    with nogil:
        for k in range(rows.shape[0]):
            r = rows[k]
            if by_element:
                for j in range(d):
                    if floating is float:
                        {alg}_element_f32(&table[r, j], grads[k, j], {el_states}, {args})
                    else:
                        {alg}_element_f64(&table[r, j], grads[k, j], {el_states}, {args})
            elif floating is float:
                {alg}_row_f32(&table[r, 0], &grads[k, 0], {row_states}, d, {args})
            else:
                {alg}_row_f64(&table[r, 0], &grads[k, 0], {row_states}, d, {args})
""")
    parts.append("""
def adagrad_rowwise_rows(floating[:, ::1] table, const floating[:, ::1] grads,
                         const Py_ssize_t[::1] rows, floating[::1] state_sum, floating clr,
                         floating weight_decay, floating eps, bint maximize):
    cdef Py_ssize_t d = table.shape[1], k, r
    with nogil:
        for k in range(rows.shape[0]):
            r = rows[k]
            if floating is float:
                adagrad_rowwise_row_f32(&table[r, 0], &grads[k, 0], &state_sum[r], d, clr,
                                        weight_decay, eps, maximize)
            else:
                adagrad_rowwise_row_f64(&table[r, 0], &grads[k, 0], &state_sum[r], d, clr,
                                        weight_decay, eps, maximize)
""")
    return textwrap.dedent(parts[0]) + "".join(parts[1:])


SETUP = """\
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(name={name!r}, script_args=["build_ext", "--inplace", "-q"],
      ext_modules=cythonize(
          [Extension({name!r}, [{name!r} + ".pyx"],
                     extra_compile_args=[{optimize!r}, "-g0"])],
          include_path=[{include!r}], quiet=True))
"""


def _have_c_compiler():
    if sys.platform == "win32":
        return True  # MSVC: found by setuptools itself, not on PATH
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shutil.which(shlex.split(cc)[0]) is not None


def build_user_extension(build, name, source, optimize="-O2"):
    """Build the Cython ``source`` as extension ``name`` in the folder ``build`` against
    ``fastopt.get_include()``, with the C compiler's flag ``optimize``, and import it
    (skips without Cython or a C compiler)."""
    require("cython")
    pytest.importorskip("Cython", reason="Cython is needed to build an extension that cimports")
    if not _have_c_compiler():
        pytest.skip("no C compiler to build an extension that cimports fastopt")
    (build / f"{name}.pyx").write_text(source)
    (build / "setup.py").write_text(SETUP.format(include=fastopt.get_include(), name=name,
                                                 optimize=optimize))
    done = subprocess.run([sys.executable, "setup.py"], cwd=build, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = [p for p in build.iterdir() if p.name.startswith(f"{name}.")
               and p.suffix in (".so", ".pyd")]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # binds the cimported functions: imports fastopt's modules
    return module


@pytest.fixture(scope="module")
def user_module(tmp_path_factory):
    """The user's extension, built once per session.  Unoptimized (-O0: ~7 s instead of
    ~19 s at -O2 on a loaded 2-core machine): its loops only index rows and call
    fastopt's functions, whose arithmetic is compiled into fastopt's own extension."""
    return build_user_extension(tmp_path_factory.mktemp("cython_user"), "fastopt_user_loops",
                                _user_pyx(), optimize="-O0")


def _tables(algorithm, options, dtype, rng, n_rows=9, d=37):
    """A table, its states (``(n_rows, d)``; an unused one empty) and the scalars."""
    arrays, scalars = make_case(algorithm, options, n_rows * d, dtype, rng)
    table = arrays[0].reshape(n_rows, d)
    states = [s.reshape(-1, d) for s in arrays[2:]]
    return table, states, scalars


def _reference_rows(name, table, states, grads, rows, scalars):
    """The reference kernel applied row by row: ``rows[k]`` with the gradient ``grads[k]``."""
    kernel = _dispatch.kernel("python", name)
    for k, r in enumerate(rows):
        kernel(table[r], grads[k], *(s[r] if s.size else s.reshape(0) for s in states),
               *scalars, 1)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_row_and_element_functions_from_user_nogil_loop_match_reference(user_module,
                                                                       algorithm):
    user_rows = getattr(user_module, f"{algorithm}_rows")
    rng = np.random.default_rng(list(ALGORITHMS).index(algorithm))
    n_cases = 0
    for options in option_grid(algorithm):
        for dtype in (np.float32, np.float64):
            for by_element in (False, True):
                table, states, scalars = _tables(algorithm, options, dtype, rng)
                grads = rng.standard_normal((40, table.shape[1])).astype(dtype)
                rows = rng.integers(0, table.shape[0], 40).astype(np.intp)  # with repeats
                want = [table.copy(), *(s.copy() for s in states)]
                _reference_rows(algorithm, want[0], want[1:], grads, rows, scalars)
                user_rows(table, grads, rows, *states, *scalars, by_element)
                for got, w in zip([table, *states], want):
                    assert np.array_equal(bits(got), bits(w)), (options, dtype, by_element)
                n_cases += 1
    assert n_cases >= 8


def test_rowwise_adagrad_row_function_from_user_nogil_loop_matches_reference(user_module):
    rng = np.random.default_rng(7)
    reference = _dispatch.kernel("python", "adagrad_rowwise")
    for options in option_grid("adagrad"):
        for dtype in (np.float32, np.float64):
            table, _, (clr, wd, eps, maximize) = _tables("adagrad", options, dtype, rng)
            state_sum = (rng.random(table.shape[0]) + 1e-3).astype(dtype)
            grads = rng.standard_normal((40, table.shape[1])).astype(dtype)
            rows = rng.integers(0, table.shape[0], 40).astype(np.intp)
            want_t, want_s = table.copy(), state_sum.copy()
            for k, r in enumerate(rows):
                reference(want_t[r:r + 1], grads[k:k + 1], want_s[r:r + 1], clr, wd, eps,
                          maximize, 1)
            user_module.adagrad_rowwise_rows(table, grads, rows, state_sum, clr, wd, eps,
                                             maximize)
            assert np.array_equal(bits(table), bits(want_t)), (options, dtype)
            assert np.array_equal(bits(state_sum), bits(want_s)), (options, dtype)


# ------------------------------------------------------------------------- the C-API

def test_get_include_holds_the_declarations():
    root = fastopt.get_include()
    assert os.path.isfile(os.path.join(root, "fastopt", "__init__.py"))
    for algorithm in ALGORITHMS:
        assert os.path.isfile(_pxd_path(algorithm)), algorithm
        assert _declared(algorithm) == _expected_names(algorithm), algorithm


def _capsule_signature(capsule):
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    return get_name(capsule).decode()


@pytest.mark.parametrize("variant", ["baseline", "x86_64_v3"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_declared_function_is_exported(algorithm, variant):
    """``cimport`` binds through ``__pyx_capi__`` (name -> capsule named by the C
    signature): every function the .pxd declares must be there, in both builds, with
    the same signature (the x86-64-v3 build is compiled from the baseline's C file)."""
    require("cython")
    baseline = importlib.import_module(f"fastopt.backends.cython.{algorithm}")
    module = baseline
    if variant != "baseline":
        try:
            module = importlib.import_module(f"fastopt.backends.cython.{variant}.{algorithm}")
        except ImportError:
            pytest.skip(f"the {variant} build of the Cython kernels is not present")
    declared = _declared(algorithm)
    assert set(module.__pyx_capi__) == declared
    for name in declared:
        signature = _capsule_signature(module.__pyx_capi__[name])
        assert signature == _capsule_signature(baseline.__pyx_capi__[name]), name
        assert signature.startswith("void (")
        wrong = "double" if name.endswith("_f32") else "float"
        assert wrong not in signature, (name, signature)
