"""The parallel paths really run in parallel.

Bitwise equality cannot tell a parallel run from a serial one (the result is the
same by design), so these tests look at the threads themselves:

* the build: the Cython kernels were compiled with OpenMP wherever the compiler
  supports it (a build that silently fell back to serial fails here and in CI);
* the mechanism: ``_runtime.chunk_threads`` runs chunks through the same ``prange``
  the kernels use and reports which OpenMP thread ran each one; numba runs a
  ``prange`` on as many threads as asked;
* the optimizers: a step on an array above ``PARALLEL_THRESHOLD`` with
  ``set_num_threads(2)`` makes a second OS thread of this process do a fair share of
  the work (its CPU time, read from ``/proc/self/task/*/schedstat``), for the dense,
  row-wise and sparse paths of both compiled backends.
"""
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
import time

import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

from conftest import FAST_BACKENDS, require

OPENMP_PROGRAM = """
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def compiler_has_openmp():
    """Whether the C compiler Python builds extensions with compiles and links OpenMP code
    (``None`` if there is no working C compiler at all)."""
    from setuptools._distutils import ccompiler, sysconfig as dsysconfig
    from setuptools._distutils.errors import CCompilerError, DistutilsError
    compiler = ccompiler.new_compiler()
    dsysconfig.customize_compiler(compiler)
    msvc = compiler.compiler_type == "msvc"
    flag = "/openmp" if msvc else "-fopenmp"
    tmp = tempfile.mkdtemp(prefix="fastopt-test-openmp-")
    try:
        plain = os.path.join(tmp, "plain.c")
        with open(plain, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            compiler.link_executable(compiler.compile([plain], output_dir=tmp), "plain",
                                     output_dir=tmp)
        except (CCompilerError, DistutilsError, OSError):
            return None
        source = os.path.join(tmp, "omp.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROGRAM)
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=[flag])
            compiler.link_executable(objects, "omp", output_dir=tmp,
                                     extra_postargs=[] if msvc else [flag])
        except (CCompilerError, DistutilsError, OSError):
            return False
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_cython_built_with_openmp_where_the_compiler_has_it():
    require("cython")
    from fastopt.backends.cython import _runtime
    if _runtime.openmp_enabled():
        return
    if os.environ.get("FASTOPT_DISABLE_OPENMP"):
        pytest.skip("built serial on purpose: FASTOPT_DISABLE_OPENMP is set")
    has = compiler_has_openmp()
    if has is None:
        pytest.skip(f"no working C compiler ({sysconfig.get_config_var('CC')}) to probe")
    assert not has, ("the Cython kernels were built WITHOUT OpenMP although this compiler "
                     "supports it: n_threads > 1 runs serially. Rebuild: "
                     "python setup.py build_ext --inplace (or pip install -e .)")


def test_cython_chunks_run_on_as_many_openmp_threads():
    require("cython")
    from fastopt.backends.cython import _runtime
    if not _runtime.openmp_enabled():
        pytest.skip("built without OpenMP (see the test above): chunks run serially")
    for n in (1, 2, 3):
        assert _runtime.chunk_threads(n) == list(range(n))
    with pytest.raises(ValueError, match="n_chunks"):
        _runtime.chunk_threads(0)


def test_numba_prange_runs_on_as_many_threads():
    require("numba")
    import numba
    from fastopt.backends.numba import _jit
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here (NUMBA_NUM_THREADS=1, one CPU)")

    @numba.njit(parallel=True)
    def thread_ids(n):
        out = np.empty(n, np.int64)
        for c in numba.prange(n):
            out[c] = numba.get_thread_id()
        return out

    ids = _jit.call_parallel(thread_ids, 2)
    assert numba.threading_layer() in ("tbb", "omp", "workqueue")
    assert sorted(ids) == [0, 1], ids


# -- the optimizers' parallel paths: CPU time of the other threads ---------------------------

def _cpu_ns_per_thread():
    """``{thread id: CPU time in ns}`` of every thread of this process (Linux)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def _work_of_other_threads(fn, repeat):
    """Run ``fn`` ``repeat`` times; return (CPU ns of this thread, CPU ns of all others).

    A pause before, so that pool threads still spinning after an earlier parallel region
    (OpenMP spins a few ms before it sleeps) do not count, and one after, so that the
    pool threads have gone to sleep: the kernel updates a thread's CPU time when it
    stops running (or at a timer tick), not while it runs.
    """
    me = threading.get_native_id()
    time.sleep(0.05)
    before = _cpu_ns_per_thread()
    for _ in range(repeat):
        fn()
    time.sleep(0.05)
    after = _cpu_ns_per_thread()
    delta = {t: after[t] - before.get(t, 0) for t in after}
    return delta.get(me, 0), sum(v for t, v in delta.items() if t != me)


def _paths(backend):
    """``{path: step function}``: a dense Adam step, a row-wise Adagrad step and a sparse
    Adagrad step, each on arrays ~8x above PARALLEL_THRESHOLD."""
    rng = np.random.default_rng(0)
    n = 8 * _dispatch.PARALLEL_THRESHOLD
    dense = np.zeros(n, np.float32)
    dense_grad = rng.standard_normal(n).astype(np.float32)
    adam = fastopt.Adam(dense, backend=backend)
    d = 16
    rows = np.zeros((n // d, d), np.float32)
    rows_grad = rng.standard_normal((n // d, d)).astype(np.float32)
    rowwise = fastopt.Adagrad(rows, rowwise=True, backend=backend)
    table = np.zeros((4 * n // d, d), np.float32)
    indices = rng.permutation(table.shape[0])[: n // d].astype(np.int64)
    sparse_grad = fastopt.SparseGrad(indices, rng.standard_normal((indices.size, d))
                                     .astype(np.float32))
    sparse = fastopt.Adagrad(table, backend=backend)
    return {"dense": lambda: adam.step(dense_grad),
            "rowwise": lambda: rowwise.step(rows_grad),
            "sparse": lambda: sparse.step(sparse_grad)}


@pytest.mark.skipif(not sys.platform.startswith("linux") or
                    not os.path.exists(f"/proc/self/task/{os.getpid()}/schedstat"),
                    reason="per-thread CPU times are read from Linux's /proc/self/task")
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_two_threads_share_the_work_of_a_large_step(backend):
    """With set_num_threads(2), threads other than the caller's do at least a fifth of
    the CPU work of steps above the threshold (an even split gives about a half; the
    caller may also spin at the barrier).  With 1 thread they do almost none."""
    require(backend)
    if backend == "cython":
        from fastopt.backends.cython import _runtime
        if not _runtime.openmp_enabled():
            pytest.skip("built without OpenMP (test_cython_built_with_openmp... says why)")
    else:
        import numba
        if numba.config.NUMBA_NUM_THREADS < 2:
            pytest.skip("numba has a single thread here (NUMBA_NUM_THREADS=1, one CPU)")
    # The pool (Cython's, and numba's when it runs on it) may back off to serial steps
    # on a loaded machine: off here, where the helpers' share is the assertion.
    try:
        from fastopt.backends.cython import _pool
    except ImportError:
        _pool = None
    old_backoff = _pool.info()["backoff_max"] if _pool else 0
    if _pool:
        _pool.set_backoff(0)
    try:
        _share_test(backend)
    finally:
        if _pool:
            _pool.set_backoff(old_backoff)


def _share_test(backend):
    paths = _paths(backend)
    fastopt.set_num_threads(1)  # serial first: no pool thread is still spinning from a region
    for step in paths.values():  # warm up: state allocation, numba loading
        step()
    for name, step in paths.items():
        mine, others = _work_of_other_threads(step, 16)
        assert others < 0.1 * (mine + others), f"{name}: other threads busy on 1-thread steps"
    fastopt.set_num_threads(2)
    failures = []
    for name, step in paths.items():
        step()
        # The Cython pool's caller always works and a helper joins only when the OS runs
        # it, so on a loaded machine a batch of steps can be mostly the caller's: the best
        # of a few batches must show the helper's share.
        for _ in range(8):
            mine, others = _work_of_other_threads(step, 16)
            if others >= 0.2 * (mine + others):
                break
        else:
            failures.append(f"{name}: other threads did {others / 1e6:.1f} ms of "
                            f"{(mine + others) / 1e6:.1f} ms CPU with 2 threads")
    assert not failures, "steps ran serially: " + "; ".join(failures)
