"""``python -m bench.glove.scaling``: the short thread comparison runs on a records file."""
import numpy as np

from fastopt.embeddings import glove


def test_scaling_runs_on_a_records_file(tmp_path, capsys):
    from bench.glove import scaling

    rng = np.random.default_rng(0)
    n = 3000
    path = tmp_path / "cooc.bin"
    glove.Cooccurrence(rng.integers(0, 50, n), rng.integers(0, 50, n),
                       rng.random(n) * 20 + 1).save(path)
    records, vocab_size = scaling.subset(str(path), 1000, seed=1)
    assert len(records) == 1000 and vocab_size <= 50
    assert records.word1.max() < vocab_size and records.word2.max() < vocab_size
    assert scaling.main(["--records-file", str(path), "--records", "2000", "--rounds", "2",
                         "--dim", "8", "--separate"]) == 0
    out = capsys.readouterr().out
    for line in ("threads 1: median", "threads 2: median", "threads sep: median",
                 "2 threads / 2 separate models", "ratio 2/1"):
        assert line in out
