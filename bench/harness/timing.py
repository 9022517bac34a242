"""Timing: warm-up, calibrated samples, interleaved competitors, medians, load average.

A *competitor* is a callable doing one optimizer step plus an optional
``setup`` run (untimed) before each of its samples, e.g. to set a thread count.
:func:`interleaved` times all competitors of one case together:

1. warm-up: every competitor is called once (first calls compile, allocate
   state, fault pages in), then calibrated: the number ``k`` of steps per sample
   is chosen so that a sample lasts at least ``min_sample_s`` (one step for large
   arrays, thousands for tiny ones);
2. ``repeats`` rounds; in each round every competitor takes one sample of ``k``
   consecutive steps, in an order shuffled per round (a fixed seed), so that no
   competitor always runs first or right after the same one (an order rotated by one
   place per round, as before, kept every competitor's predecessor: fastopt's 1-thread
   sparse step always ran right after torch's 2-thread one, see below);
3. the time per step of a competitor is the median over its samples.

With ``settle_s``, each sample starts only when no other thread of this process is
running (:func:`settle`; waited at most ``settle_s``, untimed).  A competitor's
threads may keep running after its sample: an OpenMP runtime's workers (libgomp's, under
torch or MKL) spin for milliseconds after each parallel region before they sleep
(4-22 ms after torch's sparse Adagrad on 2 threads, measured).  On a 2-core machine that
spinning slowed the next competitor's sample by ~60% (fastopt's sparse Adagrad on one
thread: 0.65 ms per step right after torch's 2-thread sample, 0.40 ms otherwise) -- the
round-robin charged one competitor for another's idle threads.  The wait spins (an
idle vCPU came back slower: every fastopt sample 10-20% slower when it slept).  It
removes most, not all, of the effect: measured again with it (the workers idle 4-6 ms
after torch's sample), the competitor right after torch's 2-thread sample was still
~20% slower than the same code elsewhere in the order (0.565 against 0.472 ms).

Ratios between competitors of one case therefore come from measurements taken
in the same minutes, under the same machine load.  The garbage collector is
off while sampling.
"""
import gc
import math
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

clock = time.perf_counter


@dataclass
class Competitor:
    name: str
    fn: object
    setup: object = None
    info: dict = field(default_factory=dict)


@dataclass
class Stats:
    median_s: float
    min_s: float
    max_s: float
    q1_s: float
    q3_s: float
    steps_per_sample: int
    samples_s: list

    def as_dict(self):
        return {"median_s": self.median_s, "min_s": self.min_s, "max_s": self.max_s,
                "q1_s": self.q1_s, "q3_s": self.q3_s, "repeats": len(self.samples_s),
                "steps_per_sample": self.steps_per_sample,
                "samples_s": [float(f"{s:.6g}") for s in self.samples_s]}


def load_average():
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):  # pragma: no cover - not on this platform
        return None


def _other_threads_running():
    """How many threads of this process other than the caller are running (state R in
    ``/proc/self/task/*/stat``); None where that cannot be read."""
    me = threading.get_native_id()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    n = 0
    for t in tasks:
        if t == str(me):
            continue
        try:
            with open(f"/proc/self/task/{t}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended
            continue
        if stat.rpartition(")")[2].split()[0] == "R":
            n += 1
    return n


def settle(max_s, poll_s=0.0005):
    """Wait until no other thread of this process is running (at most ``max_s``).

    Returns the seconds waited; 0 where ``/proc`` cannot be read (nothing is waited)."""
    t0 = clock()
    while True:
        running = _other_threads_running()
        waited = clock() - t0
        if not running or waited >= max_s:
            return waited
        until = clock() + poll_s
        while clock() < until:  # spin, not sleep: an idle vCPU may come back colder
            pass


def _run(fn, k):
    t0 = clock()
    for _ in range(k):
        fn()
    return clock() - t0


def calibrate(fn, min_sample_s, max_steps=1_000_000):
    """Steps per sample so that one sample takes >= ``min_sample_s`` (``fn`` is warm).

    A try that reaches ``min_sample_s`` is run again and the faster of the two counts:
    one slow call (a cache loaded or code compiled at a step the warm-up did not reach,
    a page-fault storm) must not fix a sample at a single step of a short ``fn``."""
    k = 1
    while True:
        t = _run(fn, k)
        if t >= min_sample_s and k < max_steps:
            t = min(t, _run(fn, k))
        if t >= min_sample_s or k >= max_steps:
            break
        if t <= 0:
            k *= 10
            continue
        # aim 20 % above the target, grow at most 100x per try
        k = min(max_steps, max(k + 1, min(k * 100, math.ceil(k * 1.2 * min_sample_s / t))))
    return k


def _quartiles(xs):
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def round_orders(n, rounds, seed=0):
    """The order of ``n`` competitors in each of ``rounds`` rounds: a permutation per
    round from a fixed seed (the same orders in every run)."""
    rng = random.Random(seed)
    orders = []
    for _ in range(rounds):
        order = list(range(n))
        rng.shuffle(order)
        orders.append(order)
    return orders


def interleaved(competitors, *, repeats, min_sample_s, warmup=1, max_steps=1_000_000,
                on_round=None, settle_s=0.0):
    """Time ``competitors`` round-robin; returns ``{name: Stats}`` (per-step seconds).

    ``settle_s`` > 0: before each sample (and each calibration), wait until the other
    threads of the process are idle, at most that long (see the module's docstring)."""
    steps = {}
    for c in competitors:
        if c.setup:
            c.setup()
        for _ in range(warmup):
            c.fn()
        if settle_s:
            settle(settle_s)
        steps[c.name] = calibrate(c.fn, min_sample_s, max_steps)
    samples = {c.name: [] for c in competitors}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        orders = round_orders(len(competitors), repeats)
        for r in range(repeats):
            for j in orders[r]:
                c = competitors[j]
                if c.setup:
                    c.setup()
                if settle_s:
                    settle(settle_s)
                k = steps[c.name]
                samples[c.name].append(_run(c.fn, k) / k)
            if on_round:
                on_round(r)
    finally:
        if gc_was_enabled:
            gc.enable()
    out = {}
    for name, xs in samples.items():
        q1, q3 = _quartiles(xs)
        out[name] = Stats(statistics.median(xs), min(xs), max(xs), q1, q3, steps[name], xs)
    return out


def time_once(fn):
    t0 = clock()
    fn()
    return clock() - t0
