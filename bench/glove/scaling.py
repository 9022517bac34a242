"""``python -m bench.glove.scaling``: a short 1-thread / n-thread timing of the GloVe trainer.

The full ``python -m bench.glove`` takes minutes; this takes a random subset of the cached
co-occurrence records (``--records``, default 4M of the 49M: every word's rows still
visited in the full run's proportions), and times ``fit(epochs=1)`` with 1 and with
``--threads`` threads, interleaved (the order rotated every round), ``--rounds`` rounds
on one model per thread count.  Every epoch is printed with the load average before it and
the cores that other processes used during it (``/proc/stat``; see
:mod:`bench.harness.load`), and the summary gives the medians over the epochs in which
others used less than ``--quiet`` cores (all epochs if none was that quiet).

``--separate`` adds a third run, ``sep``: ``--threads`` models trained at once, each by one
thread on its share of the records -- the same work as the n-thread run, but no table
shared between threads.  What the n-thread run is slower than ``sep`` by is the cost of
sharing (cache lines of the rows both threads update, travelling between the cores);
what ``sep`` is slower than n times the 1-thread run by is the cores' shared resources
(memory bandwidth, the last-level cache).

``--stamps`` measures on a busy machine too: each thread runs the compiled loop through a
compiled driver that reads the cycle counter every ``--chunk`` records; a chunk counts when
it took less than 2.5x the 1-thread median (it was not preempted) and, for 2 threads, the
other thread's counted chunks cover its whole interval (both really ran at once).  The
median counted chunk of the 1-thread run over that of the 2-thread run is each thread's
*efficiency*; twice it is what two threads would do on two free cores.
"""
import threading
import argparse
import os
import statistics
import sys
import time

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from fastopt.embeddings import glove

from ..harness import load

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/


def default_records_path():
    """The cached records of ``python -m bench.glove`` (this worktree's, else main's)."""
    for root in (os.path.join(HERE, "data"), "/work/main/bench/data"):
        folder = os.path.join(root, "glove-cache")
        if os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".cooc.bin"):
                    return os.path.join(folder, name)
    return None


def subset(path, n, seed=0):
    """``(records, vocab_size)``: ``n`` records of the binary file ``path`` drawn at random
    without replacement, in random order (0-based ids)."""
    raw = np.memmap(path, glove.RECORD_DTYPE, mode="r")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(raw.size, size=min(n, raw.size), replace=False))
    part = np.asarray(raw[pick])
    order = rng.permutation(part.size)
    records = glove.Cooccurrence(part["word1"][order] - 1, part["word2"][order] - 1,
                                 part["count"][order])
    # the vocabulary of the whole file (ids are ranked by frequency: the largest id is in it)
    vocab_size = int(max(raw["word1"].max(), raw["word2"].max()))
    return records, vocab_size


def _separate(models, shares):
    """Train ``models[k]`` on ``shares[k]`` (one epoch, one thread each), all at once:
    ``([mean cost], seconds)`` -- the time from the start to the last one's end."""
    out = [None] * len(models)

    def work(k):
        out[k] = models[k].fit(shares[k], epochs=1, n_threads=1, shuffle=False,
                               progress=False)[0] * len(shares[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(models))]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t0
    return [sum(out) / sum(len(s) for s in shares)], seconds


_STAMP_LIMIT = 2.5  # a chunk slower than this many 1-thread medians was preempted


@intrinsic
def _cycles(typingctx):
    """The CPU's cycle counter (``llvm.readcyclecounter``: rdtsc, constant rate)."""
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic(
            "llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), []))
        return builder.call(fn, [])
    return types.int64(), codegen


@numba.njit(nogil=True)
def _stamped(weights, context, weights_sum, context_sum, word1, word2, log_count, weight, lo,
             hi, eps, grad_w, grad_c, chunk, stamps):
    """``glove._train_records`` on ``[lo, hi)`` in chunks, ``stamps[k]`` the cycle counter
    before chunk ``k`` (and after the last)."""
    cost = 0.0
    k = 0
    stamps[0] = _cycles()
    for a in range(lo, hi, chunk):
        cost += glove._train_records(weights, context, weights_sum, context_sum, word1, word2,
                                     log_count, weight, a, min(a + chunk, hi), eps, grad_w,
                                     grad_c)
        k += 1
        stamps[k] = _cycles()
    return cost


def stamped_run(models, records, n_threads, chunk):
    """Cycle stamps of one epoch of ``records`` on ``n_threads`` threads (contiguous equal
    shares; thread ``t`` trains ``models[t % len(models)]``), one array per thread."""
    n = len(records)
    bounds = [n * t // n_threads for t in range(n_threads + 1)]
    prepared = [m._prepare(records) for m in models[:1]][0]
    stamps = [np.zeros(-(-(bounds[t + 1] - bounds[t]) // chunk) + 1, np.int64)
              for t in range(n_threads)]

    def work(t):
        m = models[t % len(models)]
        scratch = glove._thread_scratch(m.dim + 1, m.compute_dtype, 2)
        _stamped(m.weights, m.context, m.weights_sum, m.context_sum, records.word1,
                 records.word2, *prepared, bounds[t], bounds[t + 1],
                 m.compute_dtype.type(m.eps), *scratch, chunk, stamps[t])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return stamps


def efficiency(one, two, limit=_STAMP_LIMIT):
    """``(cycles per chunk alone, cycles per chunk with both threads running, chunks
    counted)`` from :func:`stamped_run`'s stamps of a 1-thread and a 2-thread run."""
    alone = np.diff(one[0])
    base = np.median(alone)
    counted = [(s[:-1][d < limit * base], s[1:][d < limit * base])
               for s in two for d in [np.diff(s)]]
    both = []
    for a in range(2):
        starts, ends = counted[a]
        other_starts, other_ends = counted[1 - a]
        for x0, x1 in zip(starts, ends):
            k = np.searchsorted(other_starts, x0, side="right") - 1
            if k < 0:
                continue
            end = other_ends[k]  # the other thread's counted chunks, back to back, from x0
            while end < x1 and k + 1 < other_starts.size and other_starts[k + 1] == end:
                k += 1
                end = other_ends[k]
            if end >= x1:
                both.append(x1 - x0)
    alone = alone[alone < limit * base]
    return float(np.median(alone)), (float(np.median(both)) if both else float("nan")), \
        len(both)


def stamps_main(args, records, vocab_size):
    kinds = ["shared", "separate"] if args.separate else ["shared"]
    got = {k: [] for k in kinds}
    for r in range(args.rounds):
        one = stamped_run([glove.GloVe(vocab_size, args.dim, dtype=args.dtype, seed=0)],
                          records, 1, args.chunk)
        for kind in kinds:
            models = [glove.GloVe(vocab_size, args.dim, dtype=args.dtype, seed=0)
                      for _ in range(2 if kind == "separate" else 1)]
            alone, both, n = efficiency(one, stamped_run(models, records, 2, args.chunk))
            got[kind].append(alone / both)
            print(f"round {r + 1} {kind}: alone {alone / args.chunk:.0f} cycles/record, both "
                  f"running {both / args.chunk:.0f} ({n} chunks): efficiency {alone / both:.2f}"
                  f", load {os.getloadavg()[0]:.2f}", flush=True)
    for kind, values in got.items():
        values = [v for v in values if v == v]
        if values:
            e = statistics.median(values)
            print(f"{kind}: median efficiency {e:.2f} (2 threads on free cores: {2 * e:.2f}x)")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records-file", default=None)
    ap.add_argument("--records", type=int, default=4_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--separate", action="store_true",
                    help="also train one model per thread at once (no shared tables)")
    ap.add_argument("--stamps", action="store_true",
                    help="per-thread speed while both threads run (works on a busy machine)")
    ap.add_argument("--chunk", type=int, default=2048, help="records per stamp (--stamps)")
    ap.add_argument("--quiet", type=float, default=0.15,
                    help="an epoch counts when others used fewer cores than this")
    args = ap.parse_args(argv)
    path = args.records_file or default_records_path()
    if path is None:
        ap.error("no cached records: run python -m bench.glove once, or give --records-file")
    records, vocab_size = subset(path, args.records)
    n = len(records)
    print(f"{n:,} records of {path}, vocabulary {vocab_size:,}, d={args.dim}, {args.dtype}",
          flush=True)
    if args.stamps:
        if args.dtype not in ("float32", "float64"):
            ap.error("--stamps times the float32/float64 loop")
        return stamps_main(args, records, vocab_size)
    warm = glove.GloVe(vocab_size, args.dim, dtype=args.dtype, seed=0)
    warm.fit(glove.Cooccurrence(records.word1[:100], records.word2[:100],
                                records.count[:100]), epochs=1, n_threads=1, shuffle=False,
             progress=False)
    counts = sorted({1, args.threads})
    models = {t: glove.GloVe(vocab_size, args.dim, dtype=args.dtype, seed=0) for t in counts}
    if args.separate and args.threads > 1:
        counts.append("sep")
        bounds = [n * t // args.threads for t in range(args.threads + 1)]
        shares = [glove.Cooccurrence(records.word1[a:b], records.word2[a:b], records.count[a:b])
                  for a, b in zip(bounds[:-1], bounds[1:])]
        models["sep"] = [glove.GloVe(vocab_size, args.dim, dtype=args.dtype, seed=0)
                         for _ in shares]
    got = {t: [] for t in counts}
    for r in range(args.rounds):
        order = counts[r % len(counts):] + counts[:r % len(counts)]
        for t in order:
            la = os.getloadavg()[0]
            mon = load.Monitor().start()
            if t == "sep":
                costs, seconds = _separate(models[t], shares)
            else:
                out = []
                costs = models[t].fit(records, epochs=1, n_threads=t, shuffle=False,
                                      progress=False, callback=lambda e, c, s: out.append(s))
                seconds = out[0]
            busy = mon.stop()
            rate = n / seconds
            per_cpu = n / (busy["own_cores"] * busy["wall_s"])
            got[t].append((rate, busy["others_cores"], la, per_cpu))
            print(f"round {r + 1} threads {t}: {rate / 1e6:.3f}M records/s "
                  f"({per_cpu / 1e6:.3f}M per CPU-second), cost {costs[0]:.6f}, load {la:.2f}, "
                  f"others {busy['others_cores']:.2f} cores, own {busy['own_cores']:.2f} cores",
                  flush=True)
    medians, cpu = {}, {}
    for t in counts:
        quiet = [g for g in got[t] if g[1] < args.quiet]
        use = quiet or got[t]
        medians[t] = statistics.median(g[0] for g in use)
        cpu[t] = statistics.median(g[3] for g in got[t])
        print(f"threads {t}: median {medians[t] / 1e6:.3f}M records/s over {len(use)} "
              f"{'quiet ' if quiet else ''}epochs (all: "
              + ", ".join(f"{g[0] / 1e6:.2f}" for g in got[t])
              + f"); {cpu[t] / 1e6:.3f}M records per CPU-second (median of all)")
    if "sep" in medians:
        t = args.threads
        print(f"{t} threads / {t} separate models: {medians[t] / medians['sep']:.2f}x wall, "
              f"{cpu[t] / cpu['sep']:.2f}x per CPU-second; separate / 1 thread: "
              f"{medians['sep'] / medians[1]:.2f}x wall")
    if len(counts) > 1:
        t = args.threads
        print(f"ratio {t}/1: {medians[t] / medians[1]:.2f}x wall; per CPU-second "
              f"{cpu[t] / cpu[1]:.2f}x (x {t} = {t * cpu[t] / cpu[1]:.2f}x if every thread "
              f"had its core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
