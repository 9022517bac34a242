"""The Cython kernels' thread pool (csrc/fastopt_pool.h, fastopt.backends.cython._pool):
every chunk runs exactly once whoever runs it, concurrent callers and busy machines
give the same bits, and threadpoolctl sees and limits fastopt."""
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

from conftest import bits, require


@pytest.fixture
def pool():
    require("cython")
    from fastopt.backends.cython import _pool
    return _pool


@pytest.fixture
def no_backoff(pool):
    """Backoff off for a test that must see helpers work on a loaded machine."""
    old = pool.info()["backoff_max"]
    pool.set_backoff(0)
    yield pool
    pool.set_backoff(old)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("n, chunk", [(0, 16), (1, 16), (17, 16), (1000, 1), (100_003, 4096),
                                      (64, 64), (65, 64)])
def test_every_chunk_runs_once(pool, n, chunk, n_threads):
    counts, owners, caller = pool._cover(n, chunk, n_threads)
    assert counts.shape == (n,)
    assert (counts == 1).all()


def test_concurrent_callers_each_cover_their_range(pool):
    # Callers that find the pool busy run their range serially: still exactly once.
    before = pool.info()["serial_fallbacks"]
    results, errors = [], []

    def call():
        try:
            for _ in range(20):
                results.append(pool._cover(50_000, 1000, 4, work_us=20.0)[0])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 80 and all((c == 1).all() for c in results)
    assert pool.info()["serial_fallbacks"] >= before


def test_helpers_take_chunks(no_backoff):
    pool = no_backoff
    # Chunks long enough for a helper to be scheduled: within a few seconds (even on a
    # busy machine) some chunk runs on a thread other than the caller's.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        counts, owners, caller = pool._cover(16 * 64, 64, 2, work_us=300.0)
        assert (counts == 1).all()
        if (owners != caller).any():
            break
    assert (owners != caller).any()
    assert pool.info()["helpers"] >= 1


def test_the_callers_work_and_wait_are_counted(no_backoff):
    """Each parallel job adds its chunks, its caller's time on its own chunks and its
    wait for the chunks helpers claimed; a helper chunk that takes 3 ms more (a helper
    descheduled while it holds it) shows in the wait; serial runs add nothing."""
    pool = no_backoff
    before = pool.info()
    pool._cover(8 * 64, 8 * 64, 2, work_us=50.0)  # one chunk: a serial call
    pool._cover(8 * 64, 64, 1, work_us=50.0)      # one thread: a serial call
    after = pool.info()
    assert after["parallel_jobs"] == before["parallel_jobs"]
    assert (after["own_us"], after["wait_us"]) == (before["own_us"], before["wait_us"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        before = pool.info()
        counts, owners, caller = pool._cover(8 * 64, 64, 2, work_us=20.0, helper_us=3000.0)
        after = pool.info()
        assert (counts == 1).all()
        assert after["parallel_jobs"] == before["parallel_jobs"] + 1
        assert after["chunks"] == before["chunks"] + 8
        own = after["own_us"] - before["own_us"]
        assert own >= 20.0 * (owners == caller).sum()  # its chunks' busy-waits
        if (owners != caller).any():  # a helper took a chunk: the caller waited for it
            assert after["wait_us"] - before["wait_us"] > 1000.0
            break
    assert (owners != caller).any(), "no helper ever took a chunk"


def test_a_late_helper_makes_the_caller_work_alone_for_a_while(pool):
    """A helper that holds the caller (descheduled mid-chunk; here a chunk that takes
    it 3 ms) sends the next jobs to the caller alone: 8 of them, then 16, ... up to the
    backoff maximum; every chunk still runs exactly once.  Backoff 0: never."""
    old = pool.info()["backoff_max"]
    try:
        pool.set_backoff(64)
        deadline = time.monotonic() + 20
        late = pool.info()["late_jobs"]
        while pool.info()["late_jobs"] == late and time.monotonic() < deadline:
            counts, owners, caller = pool._cover(8 * 64, 64, 2, work_us=20.0,
                                                 helper_us=3000.0)
            assert (counts == 1).all()
        assert pool.info()["late_jobs"] == late + 1, "no helper ever took a chunk"
        runs = pool.info()["backoff_runs"]
        for _ in range(8):
            counts, owners, caller = pool._cover(8 * 64, 64, 2, work_us=20.0)
            assert (counts == 1).all() and (owners[1:] == 0).all()  # one serial call
        assert pool.info()["backoff_runs"] == runs + 8
        pool._cover(8 * 64, 64, 2, work_us=20.0)  # the penalty is over: a parallel job
        assert pool.info()["backoff_runs"] == runs + 8

        pool.set_backoff(0)
        assert pool.info()["backoff_max"] == 0
        assert pool.info()["recover_jobs"] == pool.RECOVER_JOBS
        late = pool.info()["late_jobs"]
        for _ in range(20):
            pool._cover(8 * 64, 64, 2, work_us=20.0, helper_us=3000.0)
        assert pool.info()["late_jobs"] == late
        with pytest.raises(ValueError, match="max_jobs must be >= 0"):
            pool.set_backoff(-1)
        with pytest.raises(ValueError, match="recover_jobs must be >= 1"):
            pool.set_backoff(64, 0)
    finally:
        pool.set_backoff(old)


def _late_job(pool, deadline):
    """Run jobs whose helper chunks take 3 ms until one is found late (True) or the
    deadline passes (False: no helper ever took a chunk)."""
    late = pool.info()["late_jobs"]
    while time.monotonic() < deadline:
        counts, _, _ = pool._cover(8 * 64, 64, 2, work_us=20.0, helper_us=3000.0)
        assert (counts == 1).all()
        if pool.info()["late_jobs"] > late:
            return True
    return False


def test_the_penalty_doubles_until_a_run_of_jobs_was_not_late(pool):
    """Two late jobs with fewer than ``recover_jobs`` good ones between them: the second
    penalty is twice the first (the first design halved it after every good job, so a
    penalty fell back to 8 between two late jobs and a loaded machine kept probing)."""
    old = pool.info()["backoff_max"]
    try:
        pool.set_backoff(64, recover_jobs=1000)
        deadline = time.monotonic() + 30
        assert _late_job(pool, deadline), "no helper ever took a chunk"
        runs = pool.info()["backoff_runs"]
        for _ in range(pool.FIRST_PENALTY):
            counts, owners, _ = pool._cover(8 * 64, 64, 2, work_us=20.0)
            assert (counts == 1).all() and (owners[1:] == 0).all()
        assert pool.info()["backoff_runs"] == runs + pool.FIRST_PENALTY
        good = False   # a parallel job that was not late (the first design halved here)
        while not good and time.monotonic() < deadline:
            before = pool.info()
            pool._cover(8 * 64, 64, 2, work_us=20.0)
            after = pool.info()
            good = (after["late_jobs"] == before["late_jobs"]
                    and after["backoff_runs"] == before["backoff_runs"])
        assert good, "every job was late"
        assert _late_job(pool, deadline), "no helper ever took a chunk"
        runs = pool.info()["backoff_runs"]
        for _ in range(2 * pool.FIRST_PENALTY):
            counts, owners, _ = pool._cover(8 * 64, 64, 2, work_us=20.0)
            assert (counts == 1).all() and (owners[1:] == 0).all()  # one serial call
        assert pool.info()["backoff_runs"] == runs + 2 * pool.FIRST_PENALTY
    finally:
        pool.set_backoff(old)


@pytest.mark.parametrize("helpers, n_chunks, own, own_us, wait_us, late", [
    (1, 8, 4, 400.0, 0.0, False),      # an even split, no wait
    (1, 8, 4, 400.0, 449.0, False),    # waited as long as its own work took (+ slack)
    (1, 8, 4, 400.0, 451.0, True),     # a helper held the caller
    (1, 8, 2, 200.0, 0.0, False),      # a quarter of the chunks: half of its share
    (1, 8, 1, 100.0, 0.0, True),       # less than half its share: it lost its core
    (3, 16, 1, 100.0, 0.0, True),      # 4 threads: fair share 4, ran 1
    (3, 16, 2, 200.0, 0.0, False),
    (1, 8, 8, 800.0, 0.0, False),      # the helper never started: nothing was waited for
    (1, 2, 1, 5.0, 60.0, True),        # small jobs: the slack is absolute
    (1, 2, 1, 5.0, 50.0, False),
])
def test_what_makes_a_job_late(pool, helpers, n_chunks, own, own_us, wait_us, late):
    assert pool._job_late(helpers, n_chunks, own, own_us, wait_us) is late


def test_spin_setting(pool):
    old = pool.info()["spin_us"]
    try:
        pool.set_spin_us(0)   # helpers sleep at once: still correct
        assert (pool._cover(10_000, 100, 3)[0] == 1).all()
        with pytest.raises(ValueError, match="us must be >= 0"):
            pool.set_spin_us(-1)
    finally:
        pool.set_spin_us(old)


@pytest.mark.parametrize("spin_us, quiet_spin_us, penalty, serial_left, quiet_run, want", [
    (0, 50, 0, 0, 32, 50),       # quiet: no penalty, 32 good jobs in a row
    (0, 50, 0, 0, 31, 0),        # one good job short
    (0, 50, 0, 0, 0, 0),         # the last job was late
    (0, 50, 1, 0, 1000, 0),      # a penalty left (still recovering)
    (0, 50, 0, 3, 1000, 0),      # serial jobs of a penalty left
    (0, 0, 0, 0, 1000, 0),       # quiet spin off
    (20, 0, 0, 0, 1000, 20),     # the spin setting applies whatever the load
    (20, 50, 8, 8, 0, 20),
    (20, 50, 0, 0, 32, 50),      # the longer of the two
    (80, 50, 0, 0, 32, 80),
])
def test_how_long_idle_helpers_spin(pool, spin_us, quiet_spin_us, penalty, serial_left,
                                    quiet_run, want):
    assert pool.QUIET_JOBS == 32
    assert pool._idle_spin(spin_us, quiet_spin_us, penalty, serial_left, quiet_run) == want


def _quiet_jobs(pool, deadline):
    """Run short parallel jobs until the helpers spin after them (True), or the deadline
    passes (False: the machine never looked quiet)."""
    want = pool.info()["quiet_spin_us"]
    while time.monotonic() < deadline:
        counts, _, _ = pool._cover(8 * 64, 64, 2)
        assert (counts == 1).all()
        if pool.info()["idle_spin_us"] == want:
            return True
    return False


def test_helpers_spin_while_quiet_and_sleep_after_a_late_job(pool):
    """After QUIET_JOBS parallel jobs, none late, the helpers spin quiet_spin_us for the
    next job; a late job (a helper that held the caller 3 ms) stops it at once, through
    the penalty's serial jobs; with backoff off a late job stops it too."""
    old = pool.info()
    try:
        pool.set_backoff(64)
        pool.set_spin_us(0)
        pool.set_quiet_spin_us(37)
        assert pool.info()["quiet_spin_us"] == 37
        assert pool.info()["idle_spin_us"] == 0   # a new setting ends the spin in progress
        deadline = time.monotonic() + 30
        assert _quiet_jobs(pool, deadline), "the machine never looked quiet"
        assert _late_job(pool, deadline), "no helper ever took a chunk"
        assert pool.info()["idle_spin_us"] == 0
        for _ in range(pool.FIRST_PENALTY):   # serial jobs of the penalty: still 0
            pool._cover(8 * 64, 64, 2)
            assert pool.info()["idle_spin_us"] == 0

        pool.set_backoff(0)
        assert _quiet_jobs(pool, deadline), "the machine never looked quiet"
        while pool.info()["idle_spin_us"] and time.monotonic() < deadline:
            pool._cover(8 * 64, 64, 2, work_us=20.0, helper_us=3000.0)
        assert pool.info()["idle_spin_us"] == 0, "no late job stopped the spin"

        pool.set_quiet_spin_us(0)
        pool.set_spin_us(15)   # spin whatever the load, from the next parallel job
        pool._cover(8 * 64, 64, 2)
        assert pool.info()["idle_spin_us"] == 15
        with pytest.raises(ValueError, match="us must be >= 0"):
            pool.set_quiet_spin_us(-1)
    finally:
        pool.set_backoff(old["backoff_max"], old["recover_jobs"])
        pool.set_spin_us(old["spin_us"])
        pool.set_quiet_spin_us(old["quiet_spin_us"])


def test_a_spinning_helper_catches_the_next_job_without_sleeping(pool):
    """While quiet, the helper of a job spins for the next one (here up to 0.2 s, longer
    than the 20 jobs below take together, ~10 ms): it goes to sleep at most once (it may have
    gone to sleep before the job that made the machine look quiet ended)."""
    old = pool.info()
    try:
        pool.set_backoff(64)
        pool.set_quiet_spin_us(200_000)
        deadline = time.monotonic() + 30
        caught = False
        while not caught and time.monotonic() < deadline:
            assert _quiet_jobs(pool, deadline), "the machine never looked quiet"
            before = pool.info()
            joined = 0
            for _ in range(20):   # long enough chunks for the helper to take part
                _, owners, caller = pool._cover(8 * 64, 64, 2, work_us=100.0)
                joined += bool((owners[owners != 0] != caller).any())
            after = pool.info()
            # A helper that sleeps after every job it took part in would sleep >= 2 times.
            if after["late_jobs"] == before["late_jobs"] and joined >= 3:
                caught = True   # else: a loaded machine, try again
                assert after["sleeps"] - before["sleeps"] <= 1
        assert caught, "every try had a late job, or the helper joined too few"
    finally:
        pool.set_backoff(old["backoff_max"], old["recover_jobs"])
        pool.set_quiet_spin_us(old["quiet_spin_us"])


def _adam_args(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(n).astype(dtype)
    grad = rng.standard_normal(n).astype(dtype)
    exp_avg = rng.standard_normal(n).astype(dtype)
    exp_avg_sq = rng.random(n).astype(dtype)
    f = [float(dtype(x)) for x in (0.9, 0.1, 0.999, 0.001, 0.01, 0.03, 1e-8, 0.0, 1.0)]
    return [param, grad, exp_avg, exp_avg_sq, np.empty(0, dtype)], f


def _busy_process():
    # Bounded: it ends by itself after 60 s even if the test process dies.
    code = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_bits_and_progress_beside_a_busy_process(dtype):
    """Adam at 2 threads while another process keeps a core busy: the same bits as the
    reference at 1 thread, and every step completes (no collapse into a hang)."""
    require("cython")
    reference = _dispatch.kernel("python", "adam")
    compiled = _dispatch.kernel("cython", "adam")
    arrays, scalars = _adam_args(200_003, dtype)
    expected = [a.copy() for a in arrays]
    busy = _busy_process()
    try:
        start = time.monotonic()
        for step in range(5):
            reference(*expected, *scalars, False, False, 1)
            compiled(*arrays, *scalars, False, False, 2)
        elapsed = time.monotonic() - start
    finally:
        busy.kill()
        busy.wait(timeout=10)
    for got, want in zip(arrays, expected):
        np.testing.assert_array_equal(bits(got), bits(want))
    assert elapsed < 30


@pytest.fixture
def threadpoolctl():
    require("cython")
    module = pytest.importorskip("threadpoolctl")
    if not hasattr(module, "register"):
        pytest.skip("threadpoolctl < 3.5 cannot register controllers")
    return module


def test_threadpoolctl_sees_and_limits_fastopt(threadpoolctl):
    fastopt.set_num_threads(3)
    info = [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "fastopt"]
    assert len(info) == 1 and info[0]["num_threads"] == 3
    assert info[0]["filepath"].endswith(".so") or info[0]["filepath"].endswith(".pyd")
    with threadpoolctl.threadpool_limits(1):
        assert fastopt.get_num_threads() == 1
    assert fastopt.get_num_threads() == 3
    with threadpoolctl.threadpool_limits(limits={"fastopt": 2}):
        assert fastopt.get_num_threads() == 2
    assert fastopt.get_num_threads() == 3


def test_threadpoolctl_limit_reaches_the_kernels(threadpoolctl):
    # Under threadpool_limits(1) the optimizer passes n_threads=1: no job for the pool.
    from fastopt.backends.cython import _pool
    fastopt.set_num_threads(2)
    w = np.zeros(_dispatch.PARALLEL_THRESHOLD * 2, dtype=np.float32)
    opt = fastopt.Adam(w, lr=1e-3, backend="cython")
    g = np.ones_like(w)
    opt.step(g)
    jobs = _pool.info()["jobs"]
    with threadpoolctl.threadpool_limits(1):
        for _ in range(3):
            opt.step(g)
    assert _pool.info()["jobs"] == jobs
    opt.step(g)
    assert _pool.info()["jobs"] == jobs + 1


def test_a_penalty_lasts_one_second_at_most(pool):
    """A late job costs about a time slice whatever the job's size, so the penalty also
    ends after FP_BACKOFF_MAX_US (1 s): 8 jobs of 1.6e7 elements would take longer."""
    old = pool.info()["backoff_max"]
    try:
        pool.set_backoff(64)
        assert _late_job(pool, time.monotonic() + 30), "no helper ever took a chunk"
        runs = pool.info()["backoff_runs"]
        pool._cover(8 * 64, 64, 2)   # within the second: the caller alone
        assert pool.info()["backoff_runs"] == runs + 1
        time.sleep(1.05)
        pool._cover(8 * 64, 64, 2)   # 7 jobs of the penalty left, but the second is over
        assert pool.info()["backoff_runs"] == runs + 1
    finally:
        pool.set_backoff(old)
