"""``python -m bench.glove.scaling``: a short 1-thread / n-thread timing of the GloVe trainer.

The full ``python -m bench.glove`` takes minutes; this takes a random subset of the cached
co-occurrence records (``--records``, default 4M of the 49M: every word's rows still
visited in the full run's proportions), and times ``fit(epochs=1)`` with 1 and with
``--threads`` threads, interleaved (the order rotated every round), ``--rounds`` rounds
on one model per thread count.  Every epoch is printed with the load average before it and
the cores that other processes used during it (``/proc/stat``; see
:mod:`bench.harness.load`), and the summary gives the medians over the epochs in which
others used less than ``--quiet`` cores (all epochs if none was that quiet).
"""
import argparse
import os
import statistics
import sys

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records-file", default=None)
    ap.add_argument("--records", type=int, default=4_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--dtype", default="float32")
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
    got = {t: [] for t in counts}
    for r in range(args.rounds):
        order = counts[r % len(counts):] + counts[:r % len(counts)]
        for t in order:
            la = os.getloadavg()[0]
            mon = load.Monitor().start()
            out = []
            costs = models[t].fit(records, epochs=1, n_threads=t, shuffle=False,
                                  progress=False, callback=lambda e, c, s: out.append(s))
            busy = mon.stop()
            rate = n / out[0]
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
    if len(counts) > 1:
        t = args.threads
        print(f"ratio {t}/1: {medians[t] / medians[1]:.2f}x wall; per CPU-second "
              f"{cpu[t] / cpu[1]:.2f}x (x {t} = {t * cpu[t] / cpu[1]:.2f}x if every thread "
              f"had its core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
