"""The numba backend's parallel paths run on fastopt's own pool (the Cython kernels'
``parallel_range``), not on numba's ``prange`` team, and give the bits of one thread.

Bitwise equality alone cannot tell a pooled run from a serial one, so the pool's own
counters (``_pool.info()``) are the witness: every multi-threaded numba call opens one
pool job, and on large arrays helper threads run some of its chunks.
"""
import time

import numpy as np
import pytest

from fastopt.backends import ALGORITHMS

from conftest import bits, kernel, require
from kernel_cases import make_case, option_grid, stable_seed


@pytest.fixture
def pool():
    require("numba")
    require("cython")
    from fastopt.backends.cython import _pool
    from fastopt.backends.numba import _jit
    if not _jit.POOL_RUN:
        pytest.skip("the numba pool twins are switched off ($FASTOPT_NUMBA_POOL=0)")
    old = _pool.info()["backoff_max"]
    _pool.set_backoff(0)  # helpers must be seen working, even on a loaded machine
    yield _pool
    _pool.set_backoff(old)


def _first_options(algorithm):
    return next(iter(option_grid(algorithm)))


def _jobs(pool):
    info = pool.info()
    return info["jobs"], info["helper_chunks"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_dense_rule_opens_one_pool_job_per_call_with_one_thread_bits(pool, algorithm):
    fast = kernel("numba", algorithm)
    for options in option_grid(algorithm):
        rng = np.random.default_rng(stable_seed("pool", algorithm, options))
        arrays, scalars = make_case(algorithm, options, 4099, np.float32, rng)
        want = [a.copy() for a in arrays]
        fast(*want, *scalars, 1)
        jobs = _jobs(pool)[0]
        fast(*arrays, *scalars, 3)
        assert _jobs(pool)[0] == jobs + 1, f"{algorithm} {options}: no pool job"
        for i, (got, w) in enumerate(zip(arrays, want)):
            assert np.array_equal(bits(got), bits(w)), f"{algorithm} {options} array #{i}"


def test_helpers_run_chunks_of_numba_kernels(pool):
    # 2**21 elements: ~1 ms of chunks, long enough for a helper to be scheduled within a
    # few tries even on a busy machine.
    fast = kernel("numba", "adam")
    rng = np.random.default_rng(1)
    arrays, scalars = make_case("adam", _first_options("adam"), 1 << 21, np.float32, rng)
    want = [a.copy() for a in arrays]
    deadline = time.monotonic() + 20
    helped = False
    while not helped and time.monotonic() < deadline:
        fast(*want, *scalars, 1)
        before = _jobs(pool)[1]
        fast(*arrays, *scalars, 2)
        helped = _jobs(pool)[1] > before
        for got, w in zip(arrays, want):
            assert np.array_equal(bits(got), bits(w))
    assert helped, "no helper thread of the pool ran a chunk of a numba kernel"


def test_sparse_rows_run_on_the_pool(pool):
    fast = kernel("numba", "adam_sparse")
    rng = np.random.default_rng(2)
    n_rows, d = 300, 8
    options = dict(_first_options("adam"), amsgrad=True)
    arrays, scalars = make_case("adam", options, n_rows * d, np.float64, rng)
    param, _, *state = arrays
    param = param.reshape(n_rows, d)
    state = [s.reshape(n_rows, d) for s in state]
    indices = np.minimum(rng.zipf(1.3, 500), n_rows) - 1
    values = rng.standard_normal((indices.size, d))

    def run(n_threads):
        p, s = param.copy(), [a.copy() for a in state]
        slots = np.full(n_rows, -1, np.int64)
        fast(p, indices, values, *s, *scalars, slots, np.empty(indices.size, np.int64),
             np.empty((indices.size, d)), n_threads)
        assert (slots == -1).all()
        return [p, *s]

    want = run(1)
    jobs = _jobs(pool)[0]
    got = run(2)
    assert _jobs(pool)[0] == jobs + 1
    for g, w in zip(got, want):
        assert np.array_equal(bits(g), bits(w))


def test_blocked_dot_products_run_on_the_pool(pool):
    from fastopt.backends.numba import lbfgs
    rng = np.random.default_rng(3)
    n = 5 * lbfgs.DOT_BLOCK + 17
    x, y, z = (rng.standard_normal(n) for _ in range(3))
    jobs = _jobs(pool)[0]
    assert lbfgs.dot(x, y, 3) == lbfgs.dot(x, y, 1)
    y1, y3 = y.copy(), y.copy()
    assert lbfgs.axpy_dot(y3, 0.5, x, z, 3) == lbfgs.axpy_dot(y1, 0.5, x, z, 1)
    assert np.array_equal(bits(y3), bits(y1))
    assert _jobs(pool)[0] == jobs + 2


@pytest.mark.parametrize("algorithm", ["adam", "rmsprop", "sgd"])
def test_prange_fallback_gives_the_same_bits(pool, monkeypatch, algorithm):
    # Without the Cython extension (here: the address switched off), the prange
    # functions run: same bits, and no pool job.
    from fastopt.backends.numba import _jit
    fast = kernel("numba", algorithm)
    rng = np.random.default_rng(stable_seed("fallback", algorithm))
    arrays, scalars = make_case(algorithm, _first_options(algorithm), 10_007, np.float64, rng)
    other = [a.copy() for a in arrays]
    fast(*arrays, *scalars, 2)
    monkeypatch.setattr(_jit, "POOL_RUN", 0)
    jobs = _jobs(pool)[0]
    fast(*other, *scalars, 2)
    assert _jobs(pool)[0] == jobs
    for got, want in zip(other, arrays):
        assert np.array_equal(bits(got), bits(want))


def test_every_parallel_function_has_a_pooled_twin():
    """A ``prange`` function without a twin collapses under load (Adafactor's did, until
    its twins were written): every one of the backend's modules is checked."""
    require("numba")
    import importlib
    import pkgutil
    import fastopt.backends.numba as package
    from fastopt.backends.numba import _jit
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    missing = [f.py_func.__qualname__ for f in _jit.PARALLEL if f not in _jit._POOLED]
    assert _jit.PARALLEL and not missing, missing


@pytest.mark.parametrize("shape", [(700, 150), (3, 100, 150), (5 * 4096 + 3,)],
                         ids=["matrix", "batched", "vector"])
def test_adafactor_step_opens_the_pool_jobs_of_the_cython_kernel(pool, shape):
    # The whole multi-threaded step is one compiled call whose parallel passes (norm of the
    # parameter, row and column statistics, norm of the update, the update) open one pool
    # job each, as the Cython kernel's do: it was one Python call per pass.
    from kernel_cases import adafactor_option_grid, make_adafactor_case
    cython, numba = kernel("cython", "adafactor"), kernel("numba", "adafactor")
    for options in adafactor_option_grid():
        rng = np.random.default_rng(stable_seed("pool jobs", "adafactor", shape, options))
        arrays, scalars = make_adafactor_case(options, shape, np.float32, rng)
        one, two, cy = ([a.copy() for a in arrays] for _ in range(3))
        numba(*one, *scalars, 1)
        jobs = _jobs(pool)[0]
        cython(*cy, *scalars, 3)
        cython_jobs = _jobs(pool)[0] - jobs
        numba(*two, *scalars, 3)
        assert _jobs(pool)[0] - jobs - cython_jobs == cython_jobs == (
            5 if len(shape) > 1 else 3), options
        for i, (a, b, c) in enumerate(zip(one, two, cy)):
            assert np.array_equal(bits(a), bits(b)), f"{options} array #{i}: 3 threads"
            assert np.array_equal(bits(a), bits(c)), f"{options} array #{i}: Cython"


def test_adafactor_prange_fallback_gives_the_same_bits(pool, monkeypatch):
    from fastopt.backends.numba import _jit
    from kernel_cases import make_adafactor_case
    fast = kernel("numba", "adafactor")
    for shape in [(300, 57), (9 * 4096 + 5,)]:
        rng = np.random.default_rng(stable_seed("fallback", "adafactor", shape))
        arrays, scalars = make_adafactor_case({"maximize": True}, shape, np.float64, rng)
        want, got = [a.copy() for a in arrays], [a.copy() for a in arrays]
        fast(*want, *scalars, 1)
        with monkeypatch.context() as m:
            m.setattr(_jit, "POOL_RUN", 0)
            jobs = _jobs(pool)[0]
            fast(*got, *scalars, 3)
            assert _jobs(pool)[0] == jobs
        for g, w in zip(got, want):
            assert np.array_equal(bits(g), bits(w))


def test_adafactor_compiles_one_step_per_dtype(monkeypatch):
    # The compiled steps take the arrays flat (their shape as ints) and the gradient
    # read-only: any number of dimensions, a writeable or read-only gradient, reuse one
    # compilation per dtype; one element runs serially, as in the other kernels
    # (_jit.n_chunks), a few on as many threads as elements.
    require("numba")
    from numba.core import types
    from fastopt.backends.numba import _jit, adafactor as module
    from kernel_cases import make_adafactor_case
    fast = kernel("numba", "adafactor")
    threads = []
    call_parallel = _jit.call_parallel
    monkeypatch.setattr(_jit, "call_parallel",
                        lambda *args: threads.append(args[-1]) or call_parallel(*args))
    for i, shape in enumerate([(), (1,), (3,), (1, 2), (2, 1, 3)]):
        rng = np.random.default_rng(stable_seed("one compilation", "adafactor", shape))
        arrays, scalars = make_adafactor_case({}, shape, np.float32, rng)
        want = [a.copy() for a in arrays]
        arrays[1].flags.writeable = i % 2 == 0
        threads.clear()
        fast(*arrays, *scalars, 8)
        size = int(np.prod(shape))
        assert threads == ([size] if size > 1 else []), f"shape={shape}, 8 threads"
        fast(*want, *scalars, 1)
        for a, b in zip(arrays, want):
            assert np.array_equal(bits(a), bits(b)), f"shape={shape}"
    for fn in (module.adafactor_serial, module.adafactor_pooled):
        arrays = [[t for t in sig if isinstance(t, types.Array)] for sig in fn.signatures]
        assert all(t.ndim == 1 for a in arrays for t in a), fn.signatures
        assert len({a[0].dtype for a in arrays}) == len(arrays), fn.signatures


@pytest.mark.parametrize("shape", [(300, 57), (2, 40, 33), (3 * 4096 + 5,)],
                         ids=["matrix", "batched", "vector"])
def test_adafactor_never_writes_the_gradient_it_types_as_writeable(shape):
    # The compiled step takes the read-only gradient typed as writeable (the intrinsic
    # adafactor_read_only_as_writeable): a gradient in an immutable buffer (a bytes
    # object's) keeps its bytes, on one thread and on several, and the step is the
    # reference's.
    require("numba")
    from kernel_cases import make_adafactor_case
    fast, reference = kernel("numba", "adafactor"), kernel("python", "adafactor")
    rng = np.random.default_rng(stable_seed("read-only gradient", "adafactor", shape))
    arrays, scalars = make_adafactor_case({"maximize": True}, shape, np.float32, rng)
    frozen = arrays[1].tobytes()
    grad = np.frombuffer(frozen, np.float32).reshape(shape)
    want = [a.copy() for a in arrays]
    reference(*want, *scalars, 1)
    for n_threads in (1, 3):
        got = [a.copy() for a in arrays]
        got[1] = grad
        fast(*got, *scalars, n_threads)
        assert grad.tobytes() == frozen, n_threads
        for a, b in zip(got, want):
            assert np.array_equal(bits(a), bits(b)), n_threads
    assert not grad.flags.writeable
