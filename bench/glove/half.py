"""``python -m bench.glove.half``: GloVe with 16-bit tables against float32 (issue #15).

The GloVe objective trained through fastopt's optimizer API -- mini-batches of
co-occurrence records, row gradients as :class:`fastopt.SparseGrad`, :class:`fastopt.Adagrad`
with GloVe's mapping (``lr=1``, accumulators starting at ``1/eta**2``) -- with the word
and context tables in float32, float16 and bfloat16 (state always float32), rounded to
nearest or stochastically.  Every configuration starts from the same vectors (rounded)
and sees the same records in the same order.  Reports the bytes of tables and state,
records per second and the cost after every epoch; results go to
``bench/results/glove_half.json`` and ``glove_half.md``.

The corpus is a generated Zipf corpus (``bench.glove.run.generated_corpus``) unless
``--corpus`` names one: the cost curves compare the number formats, not the vectors.
"""
import argparse
import json
import os
import time

import numpy as np

import fastopt

from .run import RESULTS, generated_corpus, records_for

CONFIGS = [("float32", "nearest"), ("float16", "nearest"), ("float16", "stochastic"),
           ("bfloat16", "nearest"), ("bfloat16", "stochastic")]


def _dtype(name):
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def train(records, vocab_size, *, dtype, rounding, dim, epochs, batch, eta=0.05, x_max=100.0,
          alpha=0.75, seed=0, log=print):
    rng = np.random.default_rng(seed)
    shape = (vocab_size, dim + 1)
    tables = [((rng.random(shape) - 0.5) / (dim + 1)).astype(np.float32).astype(dtype)
              for _ in range(2)]
    opt = fastopt.Adagrad(tables, lr=1.0, initial_accumulator_value=1.0 / eta ** 2, eps=1e-10)
    opt.set_rounding(rounding, seed=seed)
    log_count = np.log(records.count).astype(np.float32)
    weight = np.minimum(1.0, (records.count / x_max) ** alpha).astype(np.float32)
    order_rng = np.random.default_rng(seed + 1)
    costs, seconds = [], 0.0
    for epoch in range(epochs):
        order = order_rng.permutation(len(records))
        cost = 0.0
        t0 = time.perf_counter()
        for lo in range(0, order.size, batch):
            k = order[lo:lo + batch]
            i, j = records.word1[k], records.word2[k]
            w, c = tables[0][i].astype(np.float32), tables[1][j].astype(np.float32)
            diff = np.einsum("ij,ij->i", w[:, :-1], c[:, :-1]) + w[:, -1] + c[:, -1] \
                - log_count[k]
            fdiff = weight[k] * diff
            cost += 0.5 * float(np.dot(fdiff.astype(np.float64), diff))
            gw, gc = fdiff[:, None] * c, fdiff[:, None] * w
            gw[:, -1] = fdiff
            gc[:, -1] = fdiff
            opt.step([fastopt.SparseGrad(i, gw), fastopt.SparseGrad(j, gc)])
        seconds += time.perf_counter() - t0
        costs.append(cost / len(records))
        log(f"  {dtype} {rounding}: epoch {epoch + 1} cost {costs[-1]:.6f}")
    state_bytes = sum(v.nbytes for _, s in opt.state.items() for v in s.values()
                      if isinstance(v, np.ndarray))
    return dict(dtype=str(dtype), rounding=rounding, costs=costs,
                records_per_s=epochs * len(records) / seconds,
                table_bytes=sum(t.nbytes for t in tables), state_bytes=state_bytes)


def markdown(results, info):
    base = results[0]
    lines = [f"GloVe through `fastopt.Adagrad` with `SparseGrad` rows: {info}.", "",
             "| tables | rounding | table MB | state MB | records/s | cost after 1 | "
             f"cost after {len(base['costs'])} | vs float32 |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rel = r["costs"][-1] / base["costs"][-1] - 1
        lines.append(f"| {r['dtype']} | {r['rounding']} | {r['table_bytes'] / 1e6:.1f} | "
                     f"{r['state_bytes'] / 1e6:.1f} | {r['records_per_s'] / 1e6:.2f}M | "
                     f"{r['costs'][0]:.5f} | {r['costs'][-1]:.5f} | {rel:+.2%} |")
    lines += ["", "Cost per epoch:", "", "| epoch | " + " | ".join(
        f"{r['dtype']} {r['rounding']}" for r in results) + " |",
        "|---:|" + "---:|" * len(results)]
    for e in range(len(base["costs"])):
        lines.append(f"| {e + 1} | " + " | ".join(f"{r['costs'][e]:.5f}" for r in results) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", help="a text file (default: a generated Zipf corpus)")
    parser.add_argument("--tokens", type=int, default=300_000)
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--out", default=RESULTS)
    a = parser.parse_args(argv)
    if a.corpus:
        corpus, name = a.corpus, a.corpus
    else:
        corpus = generated_corpus(a.tokens, vocab_size=a.vocab)
        name = f"generated Zipf corpus, {a.tokens:,} tokens"
    vocab, records, _ = records_for(corpus, window=a.window, min_count=5, cache=False)
    info = (f"{name}, vocabulary {len(vocab):,}, {len(records):,} records, dim {a.dim}, "
            f"batch {a.batch}, backend {fastopt.get_backend()}, {fastopt.get_num_threads()} "
            f"thread(s)")
    print(info)
    results = [train(records, len(vocab), dtype=_dtype(d), rounding=r, dim=a.dim,
                     epochs=a.epochs, batch=a.batch) for d, r in CONFIGS]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "glove_half.json"), "w") as f:
        json.dump(dict(info=info, results=results), f, indent=1)
    text = markdown(results, info)
    with open(os.path.join(a.out, "glove_half.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
