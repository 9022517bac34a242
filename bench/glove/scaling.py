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
"""
import threading
import argparse
import os
import statistics
import sys
import time

import numpy as np

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
