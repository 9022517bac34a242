"""The GloVe benchmark's counting comparison (``bench.glove.run.count_comparison``) with a
stand-in for GloVe's ``cooccur``: a script that counts with the brute-force loop of
GloVe's ``cooccur`` written out in Python (so a wrong fastopt count is caught), and the
rows it adds to the target table."""
import os
import sys


from bench.glove import run as glove_bench
from fastopt.embeddings import glove

FAKE_COOCCUR = '''#!{python}
"""cooccur -window-size W -vocab-file V ... < corpus > records, the slow way."""
import sys
import numpy as np
args = sys.argv[1:]
window = int(args[args.index("-window-size") + 1])
words = [line.split()[0] for line in open(args[args.index("-vocab-file") + 1])]
index = {{w: i for i, w in enumerate(words)}}
x = {{}}
for line in sys.stdin.read().splitlines():
    ids = [index[w] for w in line.split() if w in index]
    for pos, w2 in enumerate(ids):
        for k in range(pos - 1, max(0, pos - window) - 1, -1):
            for a, b in ((ids[k], w2), (w2, ids[k])):
                x[(a, b)] = x.get((a, b), 0.0) + 1.0 / (pos - k)
keys = sorted(x)
out = np.empty(len(keys), [("word1", "<i4"), ("word2", "<i4"), ("count", "<f8")])
out["word1"] = [a + 1 for a, _ in keys]
out["word2"] = [b + 1 for _, b in keys]
out["count"] = [x[k] for k in keys]
sys.stdout.buffer.write(out.tobytes())
'''


def test_counting_comparison_runs_both_and_checks_the_records(tmp_path):
    fake = tmp_path / "cooccur"
    fake.write_text(FAKE_COOCCUR.format(python=sys.executable))
    fake.chmod(0o755)
    lines = glove_bench.generated_corpus(3000, vocab_size=80, line_tokens=40)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    vocab = glove.Vocabulary.from_corpus(lines, min_count=2)
    got = glove_bench.count_comparison(str(corpus), vocab, str(fake), window=5, memory_mb=0.05,
                                       rounds=2, log=lambda *_: None)
    assert got["same_pairs"] and got["worst_relative_count_difference"] < 1e-12
    assert got["records"] == len(glove.cooccurrence(lines, vocab, window=5))
    for name in ("fastopt", "cooccur"):
        assert len(got["runs"][name]) == 2
        for run in got["runs"][name]:
            assert run["seconds"] > 0 and run["process_seconds"] >= run["seconds"] * 0.99
            assert run["peak_rss_bytes"] > 1 << 20
    rows = glove_bench.summary(dict(runs={}, threads=1, counting=got))
    counting = [row for row in rows if row[0].startswith("counting")]
    assert [label for label, *_ in counting] == ["counting time / GloVe cooccur",
                                                 "counting peak memory (memory_mb 0.05)"]
    assert all(isinstance(ok, bool) for *_, ok in counting)
    assert "Counting (window 5" in glove_bench.markdown(dict(
        corpus=dict(name="c", tokens=3000, vocab=len(vocab), records=got["records"]),
        min_count=2, window=5, dim=4, dtype="float32", machine="m", epochs=0, runs={},
        threads=1, counting=got))


def test_counting_comparison_reports_different_records(tmp_path):
    """A cooccur whose output differs (here: nothing) is reported, not hidden."""
    fake = tmp_path / "cooccur"
    fake.write_text("#!/bin/sh\ncat > /dev/null\n")
    fake.chmod(0o755)
    lines = ["a b c a b", "c a b"] * 10
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    vocab = glove.Vocabulary.from_corpus(lines, min_count=1)
    got = glove_bench.count_comparison(str(corpus), vocab, str(fake), window=3, memory_mb=1,
                                       rounds=1, log=lambda *_: None)
    assert not got["same_pairs"]
    assert os.path.basename(str(fake)) == "cooccur"
