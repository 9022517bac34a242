"""``python -m bench.glove.half``: GloVe with 16-bit tables against float32 (issue #15).

Trains GloVe with the word and context tables in float32, float16 and bfloat16
(``ml_dtypes``), the Adagrad sums always float32, rounded to nearest or stochastically:

* ``--via trainer`` (default): :class:`fastopt.embeddings.glove.GloVe` itself, whose
  compiled loop widens each record's rows to float32, takes the float32 step and rounds
  them back (see its docstring);
* ``--via optimizer``: the same objective through fastopt's optimizer API -- mini-batches
  of records, row gradients as :class:`fastopt.SparseGrad`, :class:`fastopt.Adagrad` with
  GloVe's mapping and :meth:`~fastopt.Optimizer.set_rounding` -- slower (Python per
  mini-batch); it rounds with the same compiled functions as the trainer
  (``fastopt.backends.<backend>.half``), the optimizer's own stream.

Every configuration starts from the same float32 vectors (rounded to the table's
dtype) and sees the same shuffled records in the same order (one thread by default,
so every run is deterministic); ``--via trainer`` interleaves the configurations one
epoch each per round, so their records/s compare epochs run in the same minutes.
Reports the bytes of tables and state, records per second (median epoch) and the cost
after every epoch, and the target: stochastic rounding within 1% of float32's cost
after the last (15th) epoch.

Corpus: ``--corpus PATH``, else ``bench/data/corpus.txt`` when present (built by
``python -m bench.glove.corpus``) unless ``--tokens N`` asks for a generated Zipf corpus
(``--vocab`` words), else a generated one of 300,000 tokens; ``--max-tokens N`` takes the
first N tokens of a corpus file (the records of a whole file are cached by
``python -m bench.glove``'s cache).  Results go to ``bench_results/glove_half/``
(git-ignored), or with ``--publish`` (a clean tree) to ``bench/results/``:
``glove_half.json``/``.md`` (``--via trainer``), ``glove_half_optimizer.json``/``.md``
(``--via optimizer``).
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

import fastopt
from fastopt.embeddings import glove

from ..harness import machine, memory
from .run import DATA, HERE, RESULTS, generated_corpus, interleave, records_for

CONFIGS = [("float32", "nearest"), ("float16", "nearest"), ("float16", "stochastic"),
           ("bfloat16", "nearest"), ("bfloat16", "stochastic")]
#: the issue's bar: stochastic rounding's cost within 1% of float32's after the last epoch
COST_BAR = 0.01


def _dtype(name):
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _name(config):
    return f"{config[0]} {config[1]}"


def trainer_epochs(records, vocab_size, *, dtype, rounding, dim, epochs, n_threads, seed=0,
                   sizes=None):
    """The trainer, one epoch per ``next()`` (``dict(epoch, cost, seconds, records_per_s)``);
    ``sizes`` (a dict) gets the bytes of the tables and of the sums."""
    model = glove.GloVe(vocab_size, dim, dtype=dtype, rounding=rounding, seed=seed)
    if sizes is not None:
        sizes.update(table_bytes=model.weights.nbytes + model.context.nbytes,
                     state_bytes=model.weights_sum.nbytes + model.context_sum.nbytes)
    for e in range(epochs):
        got = []
        model.fit(records, epochs=1, n_threads=n_threads, shuffle=False, progress=False,
                  callback=lambda _, c, s: got.append((c, s)))
        cost, seconds = got[0]
        yield dict(epoch=e + 1, cost=cost, seconds=seconds,
                   records_per_s=len(records) / seconds)


def optimizer_epochs(records, vocab_size, *, dtype, rounding, dim, epochs, batch, eta=0.05,
                     x_max=100.0, alpha=0.75, seed=0, sizes=None):
    """The GloVe objective through ``fastopt.Adagrad`` and ``SparseGrad`` rows, ``batch``
    records a step, one epoch per ``next()``."""
    rng = np.random.default_rng(seed)
    shape = (vocab_size, dim + 1)
    tables = [((rng.random(shape) - 0.5) / (dim + 1)).astype(np.float32).astype(dtype)
              for _ in range(2)]
    opt = fastopt.Adagrad(tables, lr=1.0, initial_accumulator_value=1.0 / eta ** 2, eps=1e-10)
    opt.set_rounding(rounding, seed=seed)
    log_count = np.log(records.count).astype(np.float32)
    weight = np.minimum(1.0, (records.count / x_max) ** alpha).astype(np.float32)
    for epoch in range(epochs):
        cost = 0.0
        t0 = time.perf_counter()
        for lo in range(0, len(records), batch):
            i, j = records.word1[lo:lo + batch], records.word2[lo:lo + batch]
            w, c = tables[0][i].astype(np.float32), tables[1][j].astype(np.float32)
            diff = np.einsum("ij,ij->i", w[:, :-1], c[:, :-1]) + w[:, -1] + c[:, -1] \
                - log_count[lo:lo + batch]
            fdiff = weight[lo:lo + batch] * diff
            cost += 0.5 * float(np.dot(fdiff.astype(np.float64), diff))
            gw, gc = fdiff[:, None] * c, fdiff[:, None] * w
            gw[:, -1] = fdiff
            gc[:, -1] = fdiff
            opt.step([fastopt.SparseGrad(i, gw), fastopt.SparseGrad(j, gc)])
        seconds = time.perf_counter() - t0
        if sizes is not None and epoch == 0:
            sizes.update(table_bytes=sum(t.nbytes for t in tables),
                         state_bytes=sum(v.nbytes for _, s in opt.state.items()
                                         for v in s.values() if isinstance(v, np.ndarray)))
        yield dict(epoch=epoch + 1, cost=cost / len(records), seconds=seconds,
                   records_per_s=len(records) / seconds)


def summary(results):
    """``(label, value, target, ok)`` rows: each 16-bit run's last cost against float32's
    (the bar applies to stochastic rounding; nearest is reported beside it)."""
    runs = {(r["dtype"], r["rounding"]): r for r in results["runs"]}
    base = runs[("float32", "nearest")]["costs"][-1]
    epochs = len(runs[("float32", "nearest")]["costs"])
    rows = []
    for (dtype, rounding), r in runs.items():
        if dtype == "float32":
            continue
        rel = r["costs"][-1] / base - 1
        bar = rounding == "stochastic"
        rows.append((f"{dtype} {rounding}: cost after {epochs} epochs vs float32",
                     f"{rel:+.2%}", f"within {COST_BAR:.0%}" if bar else "(info)",
                     abs(rel) <= COST_BAR if bar else None))
    return rows


def markdown(results):
    lines = [f"GloVe with 16-bit tables ({results['via']}): {results['info']}.", ""]
    for why in results.get("unreliable") or []:
        lines += [f"UNRELIABLE: the machine was busy: {why}.", ""]
    lines += ["| target | measured | wanted | |", "|---|---:|---:|---|"]
    for label, value, want, ok in summary(results):
        lines.append(f"| {label} | {value} | {want} | "
                     f"{'' if ok is None else 'ok' if ok else 'MISS'} |")
    base = results["runs"][0]
    n = len(base["costs"])
    lines += ["", "| tables | rounding | table MB | state MB | records/s (median epoch) | "
              f"cost after 1 | cost after {n} | vs float32 |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["runs"]:
        rel = r["costs"][-1] / base["costs"][-1] - 1
        lines.append(f"| {r['dtype']} | {r['rounding']} | {r['table_bytes'] / 1e6:.1f} | "
                     f"{r['state_bytes'] / 1e6:.1f} | {r['records_per_s'] / 1e6:.2f}M | "
                     f"{r['costs'][0]:.5f} | {r['costs'][-1]:.5f} | {rel:+.2%} |")
    lines += ["", "Cost per epoch:", "", "| epoch | " + " | ".join(
        f"{r['dtype']} {r['rounding']}" for r in results["runs"]) + " |",
        "|---:|" + "---:|" * len(results["runs"])]
    for e in range(n):
        lines.append(f"| {e + 1} | " + " | ".join(
            f"{r['costs'][e]:.5f}" if e < len(r["costs"]) else "" for r in results["runs"])
            + " |")
    git = results.get("git") or {}
    lines += ["", f"Command: `{results['command']}`; git {git.get('commit')} "
              f"({'DIRTY tree' if git.get('dirty') else 'clean tree'}); peak memory "
              f"{results['peak_rss_bytes'] / 2 ** 30:.1f} GiB; {results['machine']}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.glove.half",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--via", choices=["trainer", "optimizer"], default="trainer")
    parser.add_argument("--corpus", help="a text file (default: bench/data/corpus.txt if "
                        "present, else a generated Zipf corpus)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="only the first N tokens of the corpus file")
    parser.add_argument("--tokens", type=int, default=None, help="train on a generated Zipf "
                        "corpus of this many tokens (default when there is no corpus: 300,000)")
    parser.add_argument("--vocab", type=int, default=5000, help="generated corpus vocabulary")
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="trainer threads (default 1: "
                        "deterministic runs)")
    parser.add_argument("--batch", type=int, default=4096, help="--via optimizer's mini-batch")
    parser.add_argument("--window", type=int, default=15)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--out", default=None, help="results folder (default "
                        "bench_results/glove_half, --publish: bench/results)")
    parser.add_argument("--publish", action="store_true",
                        help="write into bench/results/ (committed); refuses a dirty git tree")
    a = parser.parse_args(argv)
    if a.publish and machine.git_dirty():
        parser.error(f"refusing to publish from a dirty tree ({machine.git_dirty()})")
    default_corpus = os.path.join(DATA, "corpus.txt")
    corpus = a.corpus or (default_corpus if os.path.exists(default_corpus) and a.tokens is None
                          else None)
    if corpus is None:
        tokens = a.tokens or 300_000
        lines = generated_corpus(tokens, vocab_size=a.vocab)
        name = f"generated Zipf corpus, {tokens:,} tokens"
        vocab, records, _ = records_for(lines, window=a.window, min_count=a.min_count,
                                        cache=False)
    elif a.max_tokens:
        from .corpus import read_corpus
        lines = [" ".join(words) for words in read_corpus(corpus, a.max_tokens)]
        name = f"the first {a.max_tokens:,} tokens of {os.path.relpath(corpus)}"
        vocab, records, _ = records_for(lines, window=a.window, min_count=a.min_count,
                                        cache=False)
    else:
        name = os.path.relpath(corpus)
        vocab, records, _ = records_for(corpus, window=a.window, min_count=a.min_count)
    order = np.random.default_rng(0).permutation(len(records))
    records = glove.Cooccurrence(records.word1[order], records.word2[order],
                                 records.count[order])
    where = (f"{a.threads} thread(s)" if a.via == "trainer" else
             f"batch {a.batch}, backend {fastopt.get_backend()}, "
             f"{fastopt.get_num_threads()} thread(s)")
    info = (f"{name}, vocabulary {len(vocab):,} (min count {a.min_count}), {len(records):,} "
            f"records (window {a.window}), dim {a.dim}, {where}")
    print(info, flush=True)
    sizes = {c: {} for c in CONFIGS}
    if a.via == "trainer":  # compile the loops before anything is timed
        for d, r in CONFIGS:
            warm = glove.GloVe(len(vocab), 4, dtype=_dtype(d), rounding=r)
            warm.fit(glove.Cooccurrence(records.word1[:10], records.word2[:10],
                                        records.count[:10]), epochs=1, progress=False)
        competitors = [(_name(c), trainer_epochs(records, len(vocab), dtype=_dtype(c[0]),
                                                 rounding=c[1], dim=a.dim, epochs=a.epochs,
                                                 n_threads=a.threads, sizes=sizes[c]))
                       for c in CONFIGS]
    else:
        competitors = [(_name(c), optimizer_epochs(records, len(vocab), dtype=_dtype(c[0]),
                                                   rounding=c[1], dim=a.dim, epochs=a.epochs,
                                                   batch=a.batch, sizes=sizes[c]))
                       for c in CONFIGS]
    runs = interleave(competitors, log=lambda *x: print(*x, flush=True))
    git_state = machine.git_dirty()
    results = dict(
        via=a.via, info=info, records=len(records), vocab=len(vocab), dim=a.dim,
        epochs=a.epochs, threads=a.threads, machine=f"{machine.cpu_model()}, "
        f"{machine.cores()[0]} usable cores",
        command=" ".join(["python -m bench.glove.half", *(sys.argv[1:] if argv is None
                                                          else argv)]),
        git={"commit": machine._git("rev-parse", "HEAD"),
             "dirty": None if git_state is None else bool(git_state)},
        runs=[dict(dtype=d, rounding=r, costs=[e["cost"] for e in runs[_name((d, r))]],
                   records_per_s=statistics.median(e["records_per_s"]
                                                   for e in runs[_name((d, r))]),
                   epochs=runs[_name((d, r))], **sizes[(d, r)]) for d, r in CONFIGS],
        peak_rss_bytes=memory.peak_bytes())
    out = a.out or (RESULTS if a.publish else os.path.join(os.path.dirname(HERE),
                                                            "bench_results", "glove_half"))
    os.makedirs(out, exist_ok=True)
    stem = "glove_half" if a.via == "trainer" else "glove_half_optimizer"
    with open(os.path.join(out, stem + ".json"), "w") as f:
        json.dump(results, f, indent=1)
    text = markdown(results)
    with open(os.path.join(out, stem + ".md"), "w") as f:
        f.write(text)
    print(text)
    return results


if __name__ == "__main__":
    main()
