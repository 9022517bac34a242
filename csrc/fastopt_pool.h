/* fastopt_pool.h: the parallel-for of the Cython kernels (C11 atomics + pthreads).
 *
 * Included by csrc/_pool.pyx only: one pool per process, which every kernel module
 * reaches through the C-API of fastopt.backends.cython._pool (parallel_range).
 *
 * Why not OpenMP: an OpenMP parallel region ends at a barrier that waits for every
 * thread of the team, so one helper thread that the OS has descheduled (another
 * process is busy on its core) holds the caller for a whole time slice (~4-10 ms for
 * a 50 us step).  Here:
 *
 *   - the caller always works: it publishes a job, then claims chunks itself;
 *   - helpers join only if the OS runs them: chunks are claimed one at a time from a
 *     shared counter (a CAS on `ticket`), so a helper that wakes late finds nothing
 *     left and goes back to sleep without the caller ever waiting for it;
 *   - the caller waits only for chunks that were actually claimed by a running
 *     helper (done == n_chunks), never for a helper that did not start;
 *   - idle helpers sleep on a condition variable (futex) after a job; they can spin
 *     (pause) for the next one first while the machine looks quiet ("Idle spin" below);
 *   - the caller, all chunks claimed, spins up to 200 us for the helpers' chunks,
 *     then sleeps until the last one signals;
 *   - backoff: a helper that claimed a chunk and was then descheduled still holds the
 *     caller for a time slice, and waking a helper can cost the caller its CPU (the woken
 *     thread preempts it; seen on 2 cores with 2 busy processes: the helper ran 84% of
 *     the chunks while the caller waited for a core).  A job is *late* (fp_job_late)
 *     when the caller waited for helpers longer than its own share of the work took,
 *     or when it ran less than half of its fair share of the chunks.  After a late job
 *     the next `penalty` jobs run serially in the caller (8 jobs, doubling on each late
 *     job up to `backoff_max`, default 1024, and for one second at most); the penalty
 *     halves only after FP_RECOVER_JOBS (16) parallel jobs in a row were not late.
 *     Under sustained load
 *     (a few percent of the parallel jobs late) the caller then stays serial and a
 *     parallel probe is rare.  Halving the penalty on every job that was not late (as
 *     before) let it fall back to 8 between two late jobs: in a simulation of the policy,
 *     at a 5% late rate 3.6% of all jobs were late (0.6% with 16 in a row), at 12%: 6%
 *     (0.4%), enough to move the 90th percentile.  On a quiet machine no job is late
 *     and nothing changes.
 *
 * Idle spin (fp_idle_spin): waking a sleeping helper costs the caller a futex call and
 * the helper the OS's wake-up latency (tens of us on a VM), on every job: Adam at 1e5
 * float32 took 47 us on 2 threads where a perfect split of the 72 us 1-thread step is
 * 37-40 us.  A helper that spins between jobs catches the next one at once, but on a
 * loaded machine it only takes CPU from the caller and from the other processes
 * (measured: 1.8x the 1-thread step at 1e5 with 50 us of spin, 1.0x with none).  So
 * after each parallel job the caller decides how long the helpers of that job spin
 * for the next: FASTOPT_POOL_QUIET_SPIN_US while the machine looks quiet -- no backoff
 * penalty left and the last FP_QUIET_JOBS parallel jobs none late (judged even with
 * backoff off) -- else 0; FASTOPT_POOL_SPIN_US (default 0) spins whatever the load.
 * A late job sets it to 0 before the job closes, so helpers sleep at once from then on.
 * The quiet spin's default is 0 (set by _pool.pyx) until measured on a quiet machine:
 * under 1 and 2 busy processes 50 us changed nothing measurable (docs/guide/threads.md).
 *
 * Chunk c always covers [c * chunk, min(c * chunk + chunk, n)), whoever runs it: the
 * kernels' bits do not depend on the thread count or on which thread ran a chunk.
 *
 * `ticket` holds (generation << 24) | next chunk.  A job is opened at an even
 * generation (next = 0) after its fields are written, and closed (generation + 1,
 * next = FULL) once all its chunks are done; a claim is a CAS that keeps the
 * generation, so a helper that read the fields of one job can never claim a chunk of
 * another.  One caller at a time owns the pool (`busy`); a second concurrent caller
 * (another Python thread) or a nested call runs its range serially in its own thread
 * (same bits).  Without pthreads (Windows builds) every range runs serially.
 */
#ifndef FASTOPT_POOL_H
#define FASTOPT_POOL_H

#include <stdint.h>
#include <stdlib.h>

typedef void (*fastopt_range_fn)(const void* ctx, Py_ssize_t lo, Py_ssize_t hi);

#define FASTOPT_POOL_MAX_THREADS 256

/* Slack of the lateness tests (microseconds): a helper's wake-up on a quiet machine
 * costs less. */
#define FP_LATE_US 50.0
#define FP_FIRST_PENALTY 8
/* The longest a penalty lasts (us), whatever its jobs: a late job costs the caller about
 * a time slice, whatever the job's size, so large jobs need fewer serial ones to make it
 * rare (with 1024 jobs of 1.6e7 elements, a penalty would last half a minute). */
#define FP_BACKOFF_MAX_US 1e6
/* Parallel jobs in a row that were not late before the penalty halves (default). */
#define FP_RECOVER_JOBS 16

/* Parallel jobs in a row, none late, before idle helpers spin (quiet spin). */
#define FP_QUIET_JOBS 32

/* How long (us) the helpers of the job just finished spin for the next one before they
 * sleep: `spin_us` always; `quiet_spin_us` too while the machine looks quiet (no backoff
 * `penalty` nor `serial_left` jobs left, and the last `quiet_run` >= FP_QUIET_JOBS
 * parallel jobs none late). */
static long fp_idle_spin(long spin_us, long quiet_spin_us, uint64_t penalty,
                         uint64_t serial_left, uint64_t quiet_run) {
    int quiet = penalty == 0 && serial_left == 0 && quiet_run >= FP_QUIET_JOBS;
    long spin = quiet ? quiet_spin_us : 0;
    return spin_us > spin ? spin_us : spin;
}

/* Was a job late?  `helpers` took part beside the caller, which ran `own` of the
 * `n_chunks` chunks in `own_us`, then waited `wait_us` for the helpers' chunks. */
static int fp_job_late(int helpers, uint64_t n_chunks, uint64_t own, double own_us,
                       double wait_us) {
    double fair = (double)n_chunks / (double)(helpers + 1);
    if (wait_us > own_us + FP_LATE_US)   /* a helper held the caller */
        return 1;
    return 2.0 * (double)own < fair;     /* the caller lost its core to a helper */
}

#if defined(__unix__) || defined(__APPLE__)
#define FASTOPT_POOL_THREADS 1
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

#define FP_CHUNK_BITS 24
#define FP_FULL ((uint64_t)((1u << FP_CHUNK_BITS) - 1u))
#define FP_GEN(t) ((t) >> FP_CHUNK_BITS)
#define FP_NEXT(t) ((t) & FP_FULL)

#if defined(__x86_64__) || defined(__i386__)
#define fp_pause() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define fp_pause() __asm__ __volatile__("yield")
#else
#define fp_pause() ((void)0)
#endif

static struct {
    pthread_mutex_t mutex;
    pthread_cond_t wake;        /* helpers wait here for a job (generation > seen) */
    pthread_cond_t finished;    /* the caller waits here for claimed chunks */
    int n_helpers;              /* started (under mutex) */
    int sleeping;               /* helpers in cond_wait(wake) (under mutex) */
    int caller_waiting;         /* the caller is in cond_wait(finished) (under mutex) */
    uint64_t published;         /* generation of the last opened job (under mutex) */
    uint64_t generation;        /* of the caller: the last closed one (owner of busy) */
    _Atomic uint64_t ticket;
    _Atomic(fastopt_range_fn) fn;
    _Atomic(const void*) ctx;
    _Atomic Py_ssize_t n, chunk;
    _Atomic uint64_t n_chunks;
    _Atomic int want;           /* helpers 1..want take part in the current job */
    _Atomic uint64_t done;      /* chunks of the current job finished */
    _Atomic int busy;           /* a caller owns the pool */
    _Atomic long spin_us;       /* idle spin whatever the load (setting) */
    _Atomic long quiet_spin_us; /* idle spin while the machine looks quiet (setting) */
    _Atomic long idle_spin_us;  /* the helpers' spin after the last job (fp_idle_spin) */
    _Atomic uint64_t sleeps;    /* a helper of the last job went to sleep (cond_wait) */
    _Atomic uint64_t jobs, helper_chunks, serial_fallbacks;
    _Atomic uint64_t late_jobs, backoff_runs;   /* jobs late / run serially by backoff */
    _Atomic uint64_t parallel_jobs, chunks;     /* jobs run on helpers too, their chunks */
    double own_us, wait_us;     /* their callers' own work and wait for helpers (owner only) */
    _Atomic long backoff_max;   /* longest penalty (jobs); 0: no backoff */
    _Atomic long recover_jobs;  /* good parallel jobs in a row that halve the penalty */
    uint64_t penalty, serial_left, good_run;   /* backoff state (owner of busy only) */
    uint64_t quiet_run;         /* parallel jobs in a row none late (owner of busy only) */
    double serial_until;        /* ... and the backoff ends at this time (us) at the latest */
    int atfork;
} fp_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

static uintptr_t fp_thread_id(void) { return (uintptr_t)pthread_self(); }

static double fp_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

/* Spin (pause) while `*word` (its generation if `use_gen`) equals `value`, for at most
 * `limit` us; returns what was read (as `value` would read when the time ran out). */
static uint64_t fp_spin(_Atomic uint64_t* word, uint64_t value, int use_gen, double limit) {
    double start = -1.0;
    unsigned i;
    if (limit <= 0.0)
        return use_gen ? (value << FP_CHUNK_BITS) : value;
    for (;;) {
        for (i = 0; i < 64; i++) {
            uint64_t now = atomic_load_explicit(word, memory_order_acquire);
            if ((use_gen ? FP_GEN(now) : now) != value)
                return now;
            fp_pause();
        }
        if (start < 0.0)
            start = fp_now_us();
        else if (fp_now_us() - start >= limit)
            return use_gen ? (value << FP_CHUNK_BITS) : value;
    }
}

/* Claim and run chunks of the open job `gen` until none is left; returns how many. */
static uint64_t fp_work(uint64_t gen) {
    uint64_t ran = 0;
    for (;;) {
        uint64_t t = atomic_load_explicit(&fp_pool.ticket, memory_order_acquire);
        fastopt_range_fn fn;
        const void* ctx;
        Py_ssize_t n, chunk, lo, hi;
        uint64_t c, n_chunks = atomic_load_explicit(&fp_pool.n_chunks, memory_order_relaxed);
        if (FP_GEN(t) != gen || FP_NEXT(t) >= n_chunks)
            return ran;
        /* Read before the claim; valid if the claim succeeds (see the comment above). */
        fn = atomic_load_explicit(&fp_pool.fn, memory_order_relaxed);
        ctx = atomic_load_explicit(&fp_pool.ctx, memory_order_relaxed);
        n = atomic_load_explicit(&fp_pool.n, memory_order_relaxed);
        chunk = atomic_load_explicit(&fp_pool.chunk, memory_order_relaxed);
        if (!atomic_compare_exchange_weak_explicit(&fp_pool.ticket, &t, t + 1,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        c = FP_NEXT(t);
        lo = (Py_ssize_t)c * chunk;
        hi = lo + chunk < n ? lo + chunk : n;
        fn(ctx, lo, hi);
        ran++;
        if (atomic_fetch_add_explicit(&fp_pool.done, 1, memory_order_acq_rel) + 1 == n_chunks) {
            pthread_mutex_lock(&fp_pool.mutex);   /* the last chunk: wake a waiting caller */
            if (fp_pool.caller_waiting)
                pthread_cond_signal(&fp_pool.finished);
            pthread_mutex_unlock(&fp_pool.mutex);
        }
    }
}

static void* fp_helper(void* arg) {
    int index = (int)(intptr_t)arg;   /* 1, 2, ... */
    int wanted;
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = FP_GEN(atomic_load_explicit(&fp_pool.ticket, memory_order_acquire));
        if (gen != seen) {
            seen = gen;
            if ((gen & 1) == 1 && index <= atomic_load_explicit(&fp_pool.want,
                                                                 memory_order_relaxed)) {
                uint64_t ran = fp_work(gen);
                if (ran)
                    atomic_fetch_add_explicit(&fp_pool.helper_chunks, ran,
                                              memory_order_relaxed);
            }
            continue;
        }
        /* Only the helpers of the last job spin (`want` is that job's until the next). */
        wanted = index <= atomic_load_explicit(&fp_pool.want, memory_order_relaxed);
        if (wanted && FP_GEN(fp_spin(&fp_pool.ticket, seen, 1, (double)atomic_load_explicit(
                          &fp_pool.idle_spin_us, memory_order_relaxed))) != seen)
            continue;
        if (wanted)
            atomic_fetch_add_explicit(&fp_pool.sleeps, 1, memory_order_relaxed);
        pthread_mutex_lock(&fp_pool.mutex);
        fp_pool.sleeping++;
        while (fp_pool.published <= seen && FP_GEN(atomic_load_explicit(
                   &fp_pool.ticket, memory_order_acquire)) == seen)
            pthread_cond_wait(&fp_pool.wake, &fp_pool.mutex);
        fp_pool.sleeping--;
        pthread_mutex_unlock(&fp_pool.mutex);
    }
    return NULL;
}

static void fp_after_fork_child(void) {
    /* Only the forking thread exists in the child: start again without helpers. */
    pthread_mutex_init(&fp_pool.mutex, NULL);
    pthread_cond_init(&fp_pool.wake, NULL);
    pthread_cond_init(&fp_pool.finished, NULL);
    fp_pool.n_helpers = 0;
    fp_pool.sleeping = 0;
    fp_pool.caller_waiting = 0;
    atomic_store(&fp_pool.busy, 0);
}

/* Start helpers until there are `count` (at most MAX_THREADS - 1); returns how many. */
static int fp_start_helpers(int count) {
    pthread_mutex_lock(&fp_pool.mutex);
    if (!fp_pool.atfork) {
        fp_pool.atfork = 1;
        pthread_atfork(NULL, NULL, fp_after_fork_child);
    }
    if (count > FASTOPT_POOL_MAX_THREADS - 1)
        count = FASTOPT_POOL_MAX_THREADS - 1;
    while (fp_pool.n_helpers < count) {
        pthread_t thread;
        pthread_attr_t attr;
        int rc;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        rc = pthread_create(&thread, &attr, fp_helper,
                            (void*)(intptr_t)(fp_pool.n_helpers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break;
        fp_pool.n_helpers++;
    }
    count = fp_pool.n_helpers;
    pthread_mutex_unlock(&fp_pool.mutex);
    return count;
}

/* The caller, all chunks claimed: wait until the helpers' chunks are done.  Spin (pause)
 * for up to FP_WAIT_SPIN_US, then sleep until the helper that finishes the last chunk
 * signals.  No sched_yield: beside a busy process it hands the CPU to that process for
 * a whole time slice (measured: 90th percentiles of 2-3 ms at 1e5). */
#define FP_WAIT_SPIN_US 200.0
static void fp_wait_done(uint64_t n_chunks) {
    double start = -1.0;
    unsigned i = 0;
    while (atomic_load_explicit(&fp_pool.done, memory_order_acquire) != n_chunks) {
        if (++i % 64) {
            fp_pause();
            continue;
        }
        if (start < 0.0) {
            start = fp_now_us();
        } else if (fp_now_us() - start >= FP_WAIT_SPIN_US) {
            pthread_mutex_lock(&fp_pool.mutex);
            fp_pool.caller_waiting = 1;
            while (atomic_load_explicit(&fp_pool.done, memory_order_acquire) != n_chunks)
                pthread_cond_wait(&fp_pool.finished, &fp_pool.mutex);
            fp_pool.caller_waiting = 0;
            pthread_mutex_unlock(&fp_pool.mutex);
            return;
        }
    }
}

static void fastopt_pool_run(fastopt_range_fn fn, const void* ctx, Py_ssize_t n,
                             Py_ssize_t chunk, int n_threads) {
    uint64_t n_chunks, gen;
    int expected = 0, helpers, late;
    double t_start, t_worked, t_waited;
    uint64_t own;
    long backoff_max;
    if (n <= 0)
        return;
    if (chunk < 1)
        chunk = 1;
    n_chunks = (uint64_t)((n + chunk - 1) / chunk);
    if (n_threads <= 1 || n_chunks <= 1) {
        fn(ctx, 0, n);
        return;
    }
    if (n_chunks >= FP_FULL || !atomic_compare_exchange_strong(&fp_pool.busy, &expected, 1)) {
        atomic_fetch_add_explicit(&fp_pool.serial_fallbacks, 1, memory_order_relaxed);
        fn(ctx, 0, n);   /* pool in use (another thread, or nested): serial, same bits */
        return;
    }
    atomic_fetch_add_explicit(&fp_pool.jobs, 1, memory_order_relaxed);
    if (fp_pool.serial_left && fp_now_us() >= fp_pool.serial_until)
        fp_pool.serial_left = 0;   /* large jobs: a penalty lasts FP_BACKOFF_MAX_US at most */
    if (fp_pool.serial_left) {   /* backing off after a late job: the caller alone */
        fp_pool.serial_left--;
        atomic_fetch_add_explicit(&fp_pool.backoff_runs, 1, memory_order_relaxed);
        fn(ctx, 0, n);
        atomic_store_explicit(&fp_pool.busy, 0, memory_order_release);
        return;
    }
    helpers = (uint64_t)(n_threads - 1) < n_chunks - 1 ? n_threads - 1 : (int)(n_chunks - 1);
    if (helpers > fp_pool.n_helpers) {
        int started = fp_start_helpers(helpers);
        if (started < helpers)
            helpers = started;
    }
    /* Write the job, then open it (release: a helper that sees the generation sees it). */
    atomic_store_explicit(&fp_pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&fp_pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&fp_pool.n, n, memory_order_relaxed);
    atomic_store_explicit(&fp_pool.chunk, chunk, memory_order_relaxed);
    atomic_store_explicit(&fp_pool.n_chunks, n_chunks, memory_order_relaxed);
    atomic_store_explicit(&fp_pool.want, helpers, memory_order_relaxed);
    atomic_store_explicit(&fp_pool.done, 0, memory_order_relaxed);
    gen = fp_pool.generation + 1;   /* odd: open (closed generations are even) */
    atomic_store_explicit(&fp_pool.ticket, gen << FP_CHUNK_BITS, memory_order_release);
    pthread_mutex_lock(&fp_pool.mutex);
    fp_pool.published = gen;
    if (fp_pool.sleeping)
        pthread_cond_broadcast(&fp_pool.wake);
    pthread_mutex_unlock(&fp_pool.mutex);
    /* The caller works too, then waits only for the chunks that helpers claimed. */
    t_start = fp_now_us();
    own = fp_work(gen);
    t_worked = fp_now_us();
    fp_wait_done(n_chunks);
    t_waited = fp_now_us() - t_worked;
    fp_pool.own_us += t_worked - t_start;
    fp_pool.wait_us += t_waited;
    atomic_fetch_add_explicit(&fp_pool.parallel_jobs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&fp_pool.chunks, n_chunks, memory_order_relaxed);
    backoff_max = atomic_load_explicit(&fp_pool.backoff_max, memory_order_relaxed);
    late = fp_job_late(helpers, n_chunks, own, t_worked - t_start, t_waited);
    fp_pool.quiet_run = late ? 0 : fp_pool.quiet_run + 1;
    if (backoff_max > 0 && late) {
        uint64_t next = fp_pool.penalty ? 2 * fp_pool.penalty : FP_FIRST_PENALTY;
        fp_pool.penalty = next < (uint64_t)backoff_max ? next : (uint64_t)backoff_max;
        fp_pool.serial_left = fp_pool.penalty;
        fp_pool.serial_until = fp_now_us() + FP_BACKOFF_MAX_US;
        fp_pool.good_run = 0;
        atomic_fetch_add_explicit(&fp_pool.late_jobs, 1, memory_order_relaxed);
    } else if (++fp_pool.good_run
               >= (uint64_t)atomic_load_explicit(&fp_pool.recover_jobs, memory_order_relaxed)) {
        fp_pool.penalty /= 2;
        fp_pool.good_run = 0;
    }
    atomic_store_explicit(&fp_pool.idle_spin_us, fp_idle_spin(
        atomic_load_explicit(&fp_pool.spin_us, memory_order_relaxed),
        atomic_load_explicit(&fp_pool.quiet_spin_us, memory_order_relaxed),
        fp_pool.penalty, fp_pool.serial_left, fp_pool.quiet_run), memory_order_relaxed);
    /* Close the job: no claim of this generation can succeed any more. */
    fp_pool.generation = gen + 1;
    atomic_store_explicit(&fp_pool.ticket, ((gen + 1) << FP_CHUNK_BITS) | FP_FULL,
                          memory_order_release);
    atomic_store_explicit(&fp_pool.busy, 0, memory_order_release);
}

#else  /* no pthreads: serial */
#define FASTOPT_POOL_THREADS 0
static struct { long spin_us, quiet_spin_us, idle_spin_us;
                uint64_t jobs, helper_chunks, serial_fallbacks, sleeps; int n_helpers;
                uint64_t late_jobs, backoff_runs, penalty, serial_left, good_run, quiet_run;
                uint64_t parallel_jobs, chunks; double own_us, wait_us;
                long backoff_max, recover_jobs; }
    fp_pool;
static uintptr_t fp_thread_id(void) { return 0; }
static void fastopt_pool_run(fastopt_range_fn fn, const void* ctx, Py_ssize_t n,
                             Py_ssize_t chunk, int n_threads) {
    (void)chunk; (void)n_threads;
    if (n > 0)
        fn(ctx, 0, n);
}
#endif

/* Statistics and settings, for fastopt.backends.cython._pool. */
/* Spin settings take effect from the end of the next parallel job (fp_idle_spin);
 * both end any idle spin in progress. */
static void fastopt_pool_set_spin_us(long us) { fp_pool.spin_us = us; fp_pool.idle_spin_us = 0; }
static long fastopt_pool_spin_us(void) { return fp_pool.spin_us; }
static void fastopt_pool_set_quiet_spin_us(long us) {
    fp_pool.quiet_spin_us = us;
    fp_pool.idle_spin_us = 0;
}
static long fastopt_pool_quiet_spin_us(void) { return fp_pool.quiet_spin_us; }
static long fastopt_pool_idle_spin_us(void) { return fp_pool.idle_spin_us; }
static unsigned long long fastopt_pool_sleeps(void) { return fp_pool.sleeps; }
static unsigned long long fastopt_pool_jobs(void) { return fp_pool.jobs; }
static unsigned long long fastopt_pool_helper_chunks(void) { return fp_pool.helper_chunks; }
static unsigned long long fastopt_pool_serial_fallbacks(void) { return fp_pool.serial_fallbacks; }
static unsigned long long fastopt_pool_late_jobs(void) { return fp_pool.late_jobs; }
static unsigned long long fastopt_pool_backoff_runs(void) { return fp_pool.backoff_runs; }
/* Parallel jobs (run on helpers too), their chunks, and their callers' time: working on
 * their own chunks and waiting for the chunks helpers claimed (us, since the start). */
static unsigned long long fastopt_pool_parallel_jobs(void) { return fp_pool.parallel_jobs; }
static unsigned long long fastopt_pool_chunks(void) { return fp_pool.chunks; }
static double fastopt_pool_own_us(void) { return fp_pool.own_us; }
static double fastopt_pool_wait_us(void) { return fp_pool.wait_us; }
static long fastopt_pool_backoff_max(void) { return fp_pool.backoff_max; }
static long fastopt_pool_recover_jobs(void) { return fp_pool.recover_jobs; }
/* Set the longest backoff (jobs; 0: none) and the good parallel jobs in a row (>= 1)
 * that halve the penalty, and forget any backoff in progress.  Only
 * between jobs (the Python wrapper holds the GIL; a job in progress is not disturbed:
 * its owner reads backoff_max once). */
static void fastopt_pool_set_backoff(long jobs, long recover_jobs) {
    fp_pool.backoff_max = jobs;
    fp_pool.recover_jobs = recover_jobs;
    fp_pool.penalty = 0;
    fp_pool.serial_left = 0;
    fp_pool.good_run = 0;
}

/* Exported (not static): threadpoolctl identifies the library by this symbol. */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int fastopt_pool_helpers(void) { return fp_pool.n_helpers; }

#endif /* FASTOPT_POOL_H */
