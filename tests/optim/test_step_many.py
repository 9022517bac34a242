"""One compiled call for many separate arrays (the ``<rule>_many`` kernels of the Cython
and numba backends, and the optimizer's use of them): the same bits as stepping each
array alone and as the reference, at any thread count, and every bad array refused
before anything is written."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastopt
from fastopt.backends import ALGORITHMS, _dispatch

from conftest import bits, examples, require
from kernel_cases import make_case, option_grid

SIZES = (0, 1, 17, 4096, 0, _dispatch.PARALLEL_THRESHOLD + 3, 3)
BACKENDS = ("cython", "numba")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_many_equals_one_call_per_array(algorithm, dtype, backend):
    """Each array as the backend's own kernel and the reference update it (whose bits the
    kernel tests compare for each call alone), on 1 to 4 threads: the chunks of the
    arrays laid end to end start and stop inside arrays, and at their boundaries."""
    require(backend)
    single = _dispatch.kernel(backend, algorithm)
    reference = _dispatch.kernel("python", algorithm)
    many = _dispatch.kernel(backend, f"{algorithm}_many", algorithm)
    rng = np.random.default_rng(sum(map(ord, algorithm)))
    for options in option_grid(algorithm):
        cases = [make_case(algorithm, options, n, dtype, rng) for n in SIZES]
        scalars = cases[0][1]
        want = [[a.copy() for a in arrays] for arrays, _ in cases]
        for arrays in want:
            reference(*arrays, *scalars, 1)
        alone = [[a.copy() for a in arrays] for arrays, _ in cases]
        for arrays in alone:
            single(*arrays, *scalars, 1)
        for n_threads in (1, 2, 3, 4):
            got = [[a.copy() for a in arrays] for arrays, _ in cases]
            many(*[list(column) for column in zip(*got)], *scalars, n_threads)
            for g, w, s in zip(got, want, alone):
                for a, b, c in zip(g, w, s):
                    assert np.array_equal(bits(a), bits(b)), (algorithm, options, n_threads)
                    assert np.array_equal(bits(a), bits(c)), (algorithm, options, n_threads)


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_refuses_bad_arrays_before_writing(backend):
    require(backend)
    many = _dispatch.kernel(backend, "adam_many", "adam")
    rng = np.random.default_rng(0)
    cases = [make_case("adam", {"amsgrad": False, "weight_decay": False, "decoupled": False,
                                "maximize": False}, n, np.float32, rng) for n in (5, 6, 7)]
    arrays = [list(column) for column in zip(*(arrays for arrays, _ in cases))]
    scalars = cases[0][1]
    before = [[a.copy() for a in column] for column in arrays]

    def unchanged():
        return all(np.array_equal(bits(a), bits(b)) for c, d in zip(arrays, before)
                   for a, b in zip(c, d))

    bad = [list(c) for c in arrays]
    bad[0][2] = bad[0][2].astype(np.float64)
    with pytest.raises(ValueError, match=r"params\[2\] has dtype float64"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[3][1] = np.zeros(5, np.float32)  # exp_avg_sq[1] too short
    with pytest.raises(ValueError, match=r"exp_avg_sq\[1\] has shape \(5,\)"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[1] = bad[1][:2]
    with pytest.raises(ValueError, match="grads has 2 arrays, params has 3"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[2][2] = bad[2][2].copy()
    bad[2][2].flags.writeable = False
    with pytest.raises(ValueError, match=r"exp_avg\[2\] is read-only"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[1][1] = np.zeros(12, np.float32)[::2]
    with pytest.raises(ValueError, match=r"grads\[1\] is not contiguous"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[1][0] = [0.0] * 5
    with pytest.raises(TypeError, match=r"grads\[0\]"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[0][1] = np.zeros((6, 1), np.float32)
    with pytest.raises(ValueError, match=r"params\[1\] must be 1-D, got 2 dimensions"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[0][1] = bad[0][1].astype(np.float16)
    with pytest.raises(TypeError, match=r"params\[1\] must be float32 or float64, got float16"):
        many(*bad, *scalars, 2)
    # Another byte order: the same typenum in C, other bytes (the Cython kernels read them
    # as native floats).
    bad = [list(c) for c in arrays]
    bad[0][0] = bad[0][0].astype(">f4")
    with pytest.raises(TypeError, match=r"params\[0\] must be float32 or float64, got >f4"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[1][1] = bad[1][1].astype(">f4")
    with pytest.raises(ValueError, match=r"grads\[1\] has dtype >f4, expected float32"):
        many(*bad, *scalars, 2)
    # None where an array is required (the message for an optional state the options use
    # said "is None but the selected options use it").
    bad = [list(c) for c in arrays]
    bad[1][2] = None
    with pytest.raises(TypeError, match=r"grads\[2\] must be a NumPy array, got NoneType"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[3][0] = None
    with pytest.raises(TypeError, match=r"exp_avg_sq\[0\] must be a NumPy array, got NoneType"):
        many(*bad, *scalars, 2)
    with pytest.raises(TypeError, match="real number"):  # a string is not a scalar
        many(*arrays, *(str(scalars[0]),) + scalars[1:], 2)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        many(*arrays, *scalars, 0)
    # Aliasing: a written array sharing memory with any other array of the call.
    memory = np.zeros(8, np.float32)
    bad = [list(c) for c in arrays]
    bad[2][1], bad[3][2] = memory[:6], memory[1:]  # exp_avg[1] and exp_avg_sq[2] overlap
    with pytest.raises(ValueError, match=r"exp_avg_sq\[2\] shares memory with exp_avg\[1\]"):
        many(*bad, *scalars, 2)
    bad = [list(c) for c in arrays]
    bad[1][1] = bad[0][1]  # grads[1] is params[1]
    with pytest.raises(ValueError, match=r"(grads\[1\] shares memory with params\[1\]|"
                                         r"params\[1\] shares memory with grads\[1\])"):
        many(*bad, *scalars, 2)
    big = np.zeros(20, np.float32)
    bad = [list(c) for c in arrays]
    bad[0][0], bad[0][2] = big[:5], big[4:11]  # params[0] and params[2] share one element
    with pytest.raises(ValueError, match=r"params\[2\] shares memory with params\[0\]"):
        many(*bad, *scalars, 2)
    assert unchanged()
    # Gradients may share memory with each other (they are only read).
    shared = [list(c) for c in arrays]
    shared[1] = [np.ones(n, np.float32) for n in (5, 6, 7)]
    shared[1][1] = shared[1][2][:6]
    many(*shared, *scalars, 2)
    assert not unchanged()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_optimizer_steps_separate_arrays_in_one_call(n_threads, backend):
    """Adam on 40 separate arrays: the compiled backends step them with one call per step
    (one job of fastopt's pool when their total is above the threshold) and give the bits
    of the reference backend, which steps them one by one."""
    require(backend)
    require("cython")  # (the pool's job counter)
    from fastopt.backends.cython import _pool
    fastopt.set_num_threads(n_threads)
    rng = np.random.default_rng(3)
    shapes = [(5_003,), (0,), (31, 7)] + [(4_099,)] * 37
    params = {b: [rng.standard_normal(s).astype(np.float32) for s in shapes]
              for b in (backend,)}
    params["python"] = [p.copy() for p in params[backend]]
    opts = {b: fastopt.AdamW(params[b], lr=1e-2, weight_decay=0.1, amsgrad=True, backend=b)
            for b in params}
    for step in range(3):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        jobs = _pool.info()["jobs"]
        for b, opt in opts.items():
            opt.step(grads)
        assert _pool.info()["jobs"] == jobs + (n_threads > 1)
    for a, b in zip(params[backend], params["python"]):
        assert np.array_equal(bits(a), bits(b))
    for i in range(len(shapes)):
        for name, value in opts["python"].state[i].items():
            other = opts[backend].state[i][name]
            if isinstance(value, np.ndarray):
                assert np.array_equal(bits(other), bits(value)), name
            else:
                assert other == value, name


def test_numba_many_prange_fallback_gives_the_same_bits(monkeypatch):
    """Without fastopt's pool (the Cython extension not built; here its address switched
    off), numba's ``<rule>_many`` runs its ``prange`` driver: the same bits, no pool job."""
    require("numba")
    require("cython")  # (the pool's job counter)
    from fastopt.backends.cython import _pool
    from fastopt.backends.numba import _jit
    many = _dispatch.kernel("numba", "rmsprop_many", "rmsprop")
    rng = np.random.default_rng(5)
    options = {"centered": True, "momentum": True, "weight_decay": False, "maximize": False}
    cases = [make_case("rmsprop", options, n, np.float64, rng) for n in SIZES]
    scalars = cases[0][1]
    want = [[a.copy() for a in arrays] for arrays, _ in cases]
    many(*[list(column) for column in zip(*want)], *scalars, 1)
    monkeypatch.setattr(_jit, "POOL_RUN", 0)
    for n_threads in (2, 3):
        got = [[a.copy() for a in arrays] for arrays, _ in cases]
        jobs = _pool.info()["jobs"]
        many(*[list(column) for column in zip(*got)], *scalars, n_threads)
        assert _pool.info()["jobs"] == jobs
        for g, w in zip(got, want):
            for a, b in zip(g, w):
                assert np.array_equal(bits(a), bits(b)), n_threads


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 70), min_size=1, max_size=9),
       n_threads=st.integers(1, 4), dtype=st.sampled_from([np.float32, np.float64]),
       amsgrad=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_many_equals_one_call_per_array_for_drawn_sizes(backend, sizes, n_threads, dtype,
                                                        amsgrad, seed):
    """Drawn array sizes (the chunks of a few dozen elements each end anywhere: inside an
    array, at its end, on empty arrays): the bits of one kernel call per array."""
    require(backend)
    single = _dispatch.kernel(backend, "adam")
    many = _dispatch.kernel(backend, "adam_many", "adam")
    rng = np.random.default_rng(seed)
    options = {"amsgrad": amsgrad, "weight_decay": True, "decoupled": False,
               "maximize": False}
    cases = [make_case("adam", options, n, dtype, rng) for n in sizes]
    scalars = cases[0][1]
    want = [[a.copy() for a in arrays] for arrays, _ in cases]
    for arrays in want:
        single(*arrays, *scalars, 1)
    got = [[a.copy() for a in arrays] for arrays, _ in cases]
    many(*[list(column) for column in zip(*got)], *scalars, n_threads)
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            assert np.array_equal(bits(a), bits(b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_uses_an_optional_state_as_its_kernel_would(backend):
    """An optional state is checked only when the options use it, judged on the scalars
    rounded to the arrays' dtype (RMSprop's momentum of 1e-50 is 0 in float32)."""
    require(backend)
    many = _dispatch.kernel(backend, "rmsprop_many", "rmsprop")
    for dtype, used in ((np.float32, False), (np.float64, True)):
        params = [np.ones(3, dtype), np.ones(2, dtype)]
        grads = [np.ones(3, dtype), np.ones(2, dtype)]
        square_avg = [np.zeros(3, dtype), np.zeros(2, dtype)]
        empty = [np.empty(0, dtype), np.empty(0, dtype)]
        args = (params, grads, square_avg, empty, empty, 0.1, 0.9, 0.1, 1e-8, 0.0, 1e-50,
                False, False, 1)
        if used:
            with pytest.raises(ValueError, match=r"momentum_buffer\[0\] has shape \(0,\)"):
                many(*args)
        else:
            many(*args)
            assert np.all(params[0] < 1)


def _overlapping_pair(spans):
    """Brute force: is there a pair of non-empty spans (low, high, written) that share
    memory, at least one of them written?"""
    return any(a[0] < b[1] and b[0] < a[1] and (a[2] or b[2])
               for i, a in enumerate(spans) for b in spans[i + 1:] if a[0] < a[1]
               and b[0] < b[1])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=examples(60), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 400), st.integers(0, 9)),
                       min_size=1, max_size=30),
       seed=st.integers(0, 2 ** 16))
def test_many_refuses_exactly_the_overlapping_calls(backend, layout, seed):
    """Arrays carved from a few shared buffers at random offsets (up to 120 spans: the
    sort that finds overlaps runs its merges): the call is refused exactly when a written
    array (a parameter, a state) shares memory with another array, as a brute-force
    comparison of every pair says, and then nothing is written."""
    require(backend)
    many = _dispatch.kernel(backend, "rmsprop_many", "rmsprop")
    rng = np.random.default_rng(seed)
    buffers = [np.zeros(512, np.float32) for _ in range(4)]
    lists = [[], [], [], []]  # params, grads, square_avg, (momentum_buffer, grad_avg: None)
    spans = []
    for buffer_of, offset, n in layout:
        for which in range(3):
            if rng.random() < 0.7:  # most arrays on their own, some carved from a buffer
                a = np.zeros(n, np.float32)
            else:
                start = (offset + 37 * which) % 500
                a = buffers[(buffer_of + which) % 4][start:start + n]
            lists[which].append(a)
            low = a.__array_interface__["data"][0]
            spans.append((low, low + 4 * a.size, which != 1))
    k = len(layout)
    none = [None] * k
    before = [[a.copy() for a in arrays] for arrays in lists[:3]]
    args = (*lists[:3], none, none, 0.01, 0.99, 0.01, 1e-8, 0.0, 0.0, False, False, 1)
    if _overlapping_pair(spans):
        with pytest.raises(ValueError, match="shares memory with"):
            many(*args)
        assert all(np.array_equal(a, b) for arrays, saved in zip(lists, before)
                   for a, b in zip(arrays, saved))
    else:
        many(*args)
