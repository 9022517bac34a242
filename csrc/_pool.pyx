"""The thread pool of the Cython kernels (csrc/fastopt_pool.h): a parallel-for that
never waits for a thread the OS did not run.

Every multi-threaded Cython kernel splits its range ``[0, n)`` into fixed chunks and
calls :c:func:`parallel_range` (C-API, declared in ``fastopt/backends/cython/_pool.pxd``).
The calling thread always works; helpers claim chunks from a shared counter only if
the OS runs them, and sleep when idle.  One pool per process, shared by every kernel
module (and by their x86-64-v3 twins).
"""
import os

cdef extern from "fastopt_pool.h":
    ctypedef void (*fastopt_range_fn)(const void* ctx, Py_ssize_t lo,
                                      Py_ssize_t hi) noexcept nogil
    int FASTOPT_POOL_THREADS
    int FASTOPT_POOL_MAX_THREADS
    void fastopt_pool_run(fastopt_range_fn fn, const void* ctx, Py_ssize_t n,
                          Py_ssize_t chunk, int n_threads) noexcept nogil
    void fastopt_pool_set_spin_us(long us) noexcept nogil
    long fastopt_pool_spin_us() noexcept nogil
    void fastopt_pool_set_quiet_spin_us(long us) noexcept nogil
    long fastopt_pool_quiet_spin_us() noexcept nogil
    long fastopt_pool_idle_spin_us() noexcept nogil
    unsigned long long fastopt_pool_sleeps() noexcept nogil
    unsigned long long fastopt_pool_jobs() noexcept nogil
    unsigned long long fastopt_pool_helper_chunks() noexcept nogil
    unsigned long long fastopt_pool_serial_fallbacks() noexcept nogil
    unsigned long long fastopt_pool_late_jobs() noexcept nogil
    unsigned long long fastopt_pool_backoff_runs() noexcept nogil
    unsigned long long fastopt_pool_parallel_jobs() noexcept nogil
    unsigned long long fastopt_pool_chunks() noexcept nogil
    double fastopt_pool_own_us() noexcept nogil
    double fastopt_pool_wait_us() noexcept nogil
    long fastopt_pool_backoff_max() noexcept nogil
    void fastopt_pool_set_backoff(long jobs, long recover_jobs) noexcept nogil
    long fastopt_pool_recover_jobs() noexcept nogil
    int fastopt_pool_helpers() noexcept nogil
    size_t fp_thread_id() noexcept nogil
    double fp_now_us() noexcept nogil
    int fp_job_late(int helpers, unsigned long long n_chunks, unsigned long long own,
                    double own_us, double wait_us) noexcept nogil
    long fp_idle_spin(long spin_us, long quiet_spin_us, unsigned long long penalty,
                      unsigned long long serial_left, unsigned long long quiet_run) noexcept nogil
    int FP_FIRST_PENALTY
    int FP_RECOVER_JOBS
    int FP_QUIET_JOBS

#: How long (microseconds) an idle helper spins for the next job before it sleeps,
#: whatever the load; ``$FASTOPT_POOL_SPIN_US`` overrides it.  0: spinning helpers take
#: CPU from the caller and from other processes on a loaded machine (measured: Adam at
#: 1e5 float32 on 2 busy cores, 2 threads took 1.8x the 1-thread step with 50 us of
#: spin, 1.0x with 0).
DEFAULT_SPIN_US = 0

#: How long (microseconds) the helpers of a job spin for the next one while the machine
#: looks quiet: no backoff penalty left and the last ``QUIET_JOBS`` parallel jobs none
#: late; ``$FASTOPT_POOL_QUIET_SPIN_US`` or :func:`set_quiet_spin_us` sets it, 0: off.
#: A helper that catches the next job spinning saves the futex wake-up and the OS's
#: wake-up latency.  Off by default (docs/guide/threads.md): alone on the quiet machine,
#: 2-thread Adam at 1e5 float32 took 45.0 us with 50 us of spin against 49.6 us with 0,
#: but in the benchmark's round-robin (torch's OpenMP threads and the other competitors
#: between fastopt's steps) 50 us made the backoff run most 2-thread steps at 1e5
#: serially: all-cores / 1-thread 1.02-1.11x for five of six rules against 0.62-0.79x.
DEFAULT_QUIET_SPIN_US = 0

#: The longest backoff, in jobs: after a job whose helpers held the caller longer than
#: its own work took (a helper descheduled mid-chunk), the next 8, 16, ... up to this
#: many jobs run in the caller alone; ``$FASTOPT_POOL_BACKOFF`` overrides it, 0 turns
#: backoff off.  Measured on 2 cores with 2 busy processes (Adam and Adagrad at 1e5
#: float32): without it the 90th percentile of the 2-thread step was up to 17x the
#: 1-thread step's.  Under sustained load every parallel probe is likely late, so the
#: maximum sets the late jobs' share: 12-14 of 3,790 jobs with 1024 against 18-24 with
#: 256 (contention cases of 4 rules x 2 sizes x 2 backends, 2 busy processes).
DEFAULT_BACKOFF = 1024

#: The backoff's first penalty (jobs run by the caller alone after a late job) and the
#: parallel jobs in a row, none late, after which the penalty halves.
FIRST_PENALTY = FP_FIRST_PENALTY
RECOVER_JOBS = FP_RECOVER_JOBS
#: Parallel jobs in a row, none late, before the quiet spin starts.
QUIET_JOBS = FP_QUIET_JOBS



cdef void parallel_range(range_fn fn, const void* ctx, Py_ssize_t n, Py_ssize_t chunk,
                         int n_threads) noexcept nogil:
    """Run ``fn(ctx, lo, hi)`` on the chunks ``[c * chunk, min(c * chunk + chunk, n))``
    of ``[0, n)``, on at most ``n_threads`` threads, the calling one included.

    Every chunk runs exactly once, whole, on one thread; which thread does not change
    what a chunk computes.  With ``n_threads <= 1``, a single chunk, the pool already
    in use (another thread, or a call from inside a chunk) or no pthreads, the whole
    range runs as one call ``fn(ctx, 0, n)`` in the calling thread.
    """
    fastopt_pool_run(<fastopt_range_fn>fn, ctx, n, chunk, n_threads)


def set_spin_us(long us):
    """Set how long idle helpers spin (microseconds, >= 0) before they sleep, whatever
    the load; from the end of the next parallel job."""
    if us < 0:
        raise ValueError(f"us must be >= 0, got {us}")
    fastopt_pool_set_spin_us(us)


def set_quiet_spin_us(long us):
    """Set how long idle helpers spin (microseconds, >= 0; 0: never) before they sleep
    while the machine looks quiet (:data:`DEFAULT_QUIET_SPIN_US`); from the end of the
    next parallel job."""
    if us < 0:
        raise ValueError(f"us must be >= 0, got {us}")
    fastopt_pool_set_quiet_spin_us(us)


def set_backoff(long max_jobs, long recover_jobs=RECOVER_JOBS):
    """Set the longest backoff (jobs, >= 0; 0: never back off) and the parallel jobs in
    a row, none late, after which the penalty halves (>= 1); end any backoff in
    progress."""
    if max_jobs < 0:
        raise ValueError(f"max_jobs must be >= 0, got {max_jobs}")
    if recover_jobs < 1:
        raise ValueError(f"recover_jobs must be >= 1, got {recover_jobs}")
    fastopt_pool_set_backoff(max_jobs, recover_jobs)


def info():
    """The pool's state: threads built in, helpers started, jobs run (parallel ranges
    asked for), chunks run by helpers, ranges run serially because the pool was busy,
    the spin times (whatever the load, while quiet, and the one the helpers of the last
    job use), the times a helper of the last job went to sleep, and the backoff: its longest
    penalty, the good parallel jobs in a row that halve it, the jobs found late and the
    jobs run by the caller alone while backing off; and of the jobs run on helpers too
    (``parallel_jobs``): their chunks, and the time (microseconds, summed) their callers
    worked on chunks (``own_us``) and then waited for the chunks helpers had claimed
    (``wait_us``: a helper the OS descheduled while it held one makes it long)."""
    return {
        "threads": bool(FASTOPT_POOL_THREADS),
        "max_threads": FASTOPT_POOL_MAX_THREADS,
        "helpers": fastopt_pool_helpers(),
        "jobs": fastopt_pool_jobs(),
        "helper_chunks": fastopt_pool_helper_chunks(),
        "serial_fallbacks": fastopt_pool_serial_fallbacks(),
        "spin_us": fastopt_pool_spin_us(),
        "quiet_spin_us": fastopt_pool_quiet_spin_us(),
        "idle_spin_us": fastopt_pool_idle_spin_us(),
        "sleeps": fastopt_pool_sleeps(),
        "backoff_max": fastopt_pool_backoff_max(),
        "recover_jobs": fastopt_pool_recover_jobs(),
        "late_jobs": fastopt_pool_late_jobs(),
        "backoff_runs": fastopt_pool_backoff_runs(),
        "parallel_jobs": fastopt_pool_parallel_jobs(),
        "chunks": fastopt_pool_chunks(),
        "own_us": fastopt_pool_own_us(),
        "wait_us": fastopt_pool_wait_us(),
    }


def _job_late(int helpers, unsigned long long n_chunks, unsigned long long own,
              double own_us, double wait_us):
    """Test hook: the backoff's verdict on one job (``fp_job_late``): ``helpers`` took
    part beside the caller, which ran ``own`` of the ``n_chunks`` chunks in ``own_us``
    microseconds, then waited ``wait_us`` for the helpers' chunks."""
    return bool(fp_job_late(helpers, n_chunks, own, own_us, wait_us))


def _idle_spin(long spin_us, long quiet_spin_us, unsigned long long penalty,
               unsigned long long serial_left, unsigned long long quiet_run):
    """Test hook: how long the helpers spin after a job (``fp_idle_spin``), given the
    two spin settings, the backoff's penalty and serial jobs left, and the parallel jobs
    in a row that were not late."""
    return fp_idle_spin(spin_us, quiet_spin_us, penalty, serial_left, quiet_run)


ctypedef struct Cover:
    int* counts
    size_t* owner
    Py_ssize_t chunk
    double work_us
    double helper_us
    size_t caller


cdef void _cover_range(const void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef const Cover* c = <const Cover*>ctx
    cdef Py_ssize_t i
    cdef double start = fp_now_us()
    for i in range(lo, hi):
        c.counts[i] += 1
    c.owner[lo // c.chunk] = fp_thread_id()
    while fp_now_us() - start < c.work_us:
        pass
    if fp_thread_id() != c.caller:
        while fp_now_us() - start < c.work_us + c.helper_us:
            pass


def _cover(Py_ssize_t n, Py_ssize_t chunk, int n_threads, double work_us=0.0,
           double helper_us=0.0):
    """Test hook: run a range that counts each element it is given, through the pool.

    Returns ``(counts, owners, caller)``: per element the number of times a chunk
    covered it (all ones when correct), per chunk the id of the thread that ran it
    (0 for chunks that were not started separately: a serial run is one call), and the
    calling thread's id.  ``work_us``: time each chunk busy-waits (lets helpers join);
    ``helper_us``: extra time for chunks a helper runs (a helper late as if descheduled).
    """
    import numpy as np
    counts = np.zeros(max(n, 0), dtype=np.intc)
    owners = np.zeros(max((n + chunk - 1) // chunk, 1) if chunk > 0 else 1, dtype=np.uintp)
    cdef int[::1] cv = counts
    cdef size_t[::1] ov = owners
    cdef Cover c
    c.counts = &cv[0] if n > 0 else NULL
    c.owner = &ov[0]
    c.chunk = chunk if chunk > 0 else 1
    c.work_us = work_us
    c.helper_us = helper_us
    c.caller = fp_thread_id()
    with nogil:
        parallel_range(_cover_range, &c, n, chunk, n_threads)
    return counts, owners, fp_thread_id()


fastopt_pool_set_spin_us(int(os.environ.get("FASTOPT_POOL_SPIN_US", DEFAULT_SPIN_US)))
fastopt_pool_set_quiet_spin_us(int(os.environ.get("FASTOPT_POOL_QUIET_SPIN_US",
                                                  DEFAULT_QUIET_SPIN_US)))
fastopt_pool_set_backoff(int(os.environ.get("FASTOPT_POOL_BACKOFF", DEFAULT_BACKOFF)),
                         FP_RECOVER_JOBS)
