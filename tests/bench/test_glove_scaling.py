"""``python -m bench.glove.scaling``: the short thread comparison runs on a records file."""
import numpy as np

from fastopt.embeddings import glove


def _records_file(tmp_path, n, vocab_size, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "cooc.bin"
    glove.Cooccurrence(rng.integers(0, vocab_size, n), rng.integers(0, vocab_size, n),
                       rng.random(n) * 20 + 1).save(path)
    return path


def test_scaling_runs_on_a_records_file(tmp_path, capsys):
    from bench.glove import scaling

    path = _records_file(tmp_path, 3000, 50, seed=0)
    records, vocab_size = scaling.subset(str(path), 1000, seed=1)
    assert len(records) == 1000 and vocab_size <= 50
    assert records.word1.max() < vocab_size and records.word2.max() < vocab_size
    assert scaling.main(["--records-file", str(path), "--records", "2000", "--rounds", "2",
                         "--dim", "8", "--separate"]) == 0
    out = capsys.readouterr().out
    for line in ("threads 1: median", "threads 2: median", "threads sep: median",
                 "2 threads / 2 separate models", "ratio 2/1"):
        assert line in out


def test_stamps_count_only_chunks_when_both_threads_run():
    from bench.glove import scaling

    one = [np.arange(0, 1100, 100)]                       # 10 chunks of 100 cycles alone
    a = np.array([0, 120, 240, 2000, 2120])               # a preempted chunk (240 -> 2000)
    b = np.array([0, 125, 250, 375, 500])                 # runs 0-500 only
    alone, both, n = scaling.efficiency(one, [a, b])
    # counted: a's chunks 0-120 and 120-240 (b runs throughout) and b's 0-125 (a's counted
    # chunks cover it); b's 125-250 and later reach into a's preempted chunk: not counted
    assert (alone, both, n) == (100.0, 120.0, 3)


def test_stamps_mode_runs(tmp_path, capsys):
    from bench.glove import scaling

    path = _records_file(tmp_path, 20000, 500, seed=1)
    assert scaling.main(["--records-file", str(path), "--records", "20000", "--rounds", "1",
                         "--dim", "8", "--stamps", "--separate", "--chunk", "256"]) == 0
    out = capsys.readouterr().out
    assert "round 1 shared" in out and "round 1 separate" in out
