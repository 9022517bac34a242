"""``python -m bench.glove.count CORPUS VOCAB OUT``: fastopt's co-occurrence counting alone,
in its own process, for :func:`bench.glove.run.count_comparison`.

Reads the vocabulary (GloVe's ``vocab.txt``), counts ``CORPUS`` with
:func:`fastopt.embeddings.glove.cooccurrence` (``--window``, ``--memory-mb``) and writes the
records to ``OUT`` in GloVe's binary format -- what GloVe's ``cooccur`` does with
``-vocab-file VOCAB < CORPUS > OUT``.  The compiled functions are compiled (or loaded
from numba's cache) on a tiny corpus first; the timed part is the counting call and the
write.  Prints one JSON line: ``seconds`` (timed part), ``records``.
"""
import argparse
import json
import sys
import time

from fastopt.embeddings import glove


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.glove.count")
    ap.add_argument("corpus")
    ap.add_argument("vocab")
    ap.add_argument("out")
    ap.add_argument("--window", type=int, default=15)
    ap.add_argument("--memory-mb", type=float, default=glove.DEFAULT_MEMORY_MB)
    args = ap.parse_args(argv)
    vocab = glove.Vocabulary.load(args.vocab)
    tiny = glove.Vocabulary(vocab.words[:2], vocab.counts[:2])
    for memory_mb in (0.01, 1):  # compile (or load) both paths: with and without spilled runs
        glove.cooccurrence([" ".join(tiny.words * 3)], tiny, window=2, memory_mb=memory_mb)
    t0 = time.perf_counter()
    records = glove.cooccurrence(args.corpus, vocab, window=args.window,
                                 memory_mb=args.memory_mb)
    records.save(args.out)
    seconds = time.perf_counter() - t0
    print(json.dumps(dict(seconds=seconds, records=len(records))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
