"""The GloVe trainer (:mod:`fastopt.embeddings.glove`): counting, file formats, the training loop.

The compiled loop is checked bit for bit against the reference loop
(``backend="python"``), which itself is checked against fastopt's public Adagrad
optimizer and against the cost formula written out with NumPy.
"""
import threading

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastopt.embeddings import glove

from conftest import bits

LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 20


def random_lines(rng, n_lines, vocab_size, max_len=30):
    return [" ".join(f"w{t}" for t in rng.zipf(1.3, rng.integers(0, max_len)) % vocab_size)
            for _ in range(n_lines)]


def brute_force_counts(lines, vocab, window, symmetric=True, weighted=True):
    """GloVe's ``cooccur`` loop, written out: OOV words dropped, lines reset the window."""
    x = {}
    for line in lines:
        ids = [vocab.index[w] for w in line.split() if w in vocab.index]
        for pos, w2 in enumerate(ids):
            for k in range(pos - 1, max(0, pos - window) - 1, -1):
                w1 = ids[k]
                v = 1.0 / (pos - k) if weighted else 1.0
                x[(w1, w2)] = x.get((w1, w2), 0.0) + v
                if symmetric:
                    x[(w2, w1)] = x.get((w2, w1), 0.0) + v
    return x


# ------------------------------------------------------------------------ vocabulary

def test_vocabulary_orders_by_count_then_word_and_drops_rare_words():
    vocab = glove.Vocabulary.from_corpus(["b a c b a d", "a e e"], min_count=2)
    assert vocab.words == ["a", "b", "e"]          # a:3, then b:2 and e:2 by the word
    assert vocab.counts.tolist() == [3, 2, 2]
    assert vocab.index == {"a": 0, "b": 1, "e": 2}
    assert glove.Vocabulary.from_corpus(["b a c b a d", "a e e"], min_count=1,
                                        max_size=2).words == ["a", "b"]


def test_vocabulary_file_round_trip_and_corpus_file(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(LINES) + "\n")
    vocab = glove.Vocabulary.from_corpus(corpus, min_count=1)
    assert vocab.words == glove.Vocabulary.from_corpus(LINES, min_count=1).words
    vocab.save(tmp_path / "vocab.txt")
    again = glove.Vocabulary.load(tmp_path / "vocab.txt")
    assert again.words == vocab.words and np.array_equal(again.counts, vocab.counts)
    assert (tmp_path / "vocab.txt").read_text().splitlines()[0] == "the 80"


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (2.0, TypeError),
                                     (True, TypeError), (None, TypeError)])
def test_vocabulary_rejects_bad_min_count(bad, exc):
    with pytest.raises(exc, match="min_count"):
        glove.Vocabulary.from_corpus(LINES, min_count=bad)


def test_vocabulary_rejects_non_string_lines():
    with pytest.raises(TypeError, match="corpus"):
        glove.Vocabulary.from_corpus([b"bytes line"])


# --------------------------------------------------------------------- co-occurrence

@pytest.mark.parametrize("window", [1, 2, 5, 15])
@pytest.mark.parametrize("symmetric,weighted", [(True, True), (False, True), (True, False)])
def test_cooccurrence_matches_glove_counting_loop(window, symmetric, weighted):
    rng = np.random.default_rng(window)
    lines = random_lines(rng, 200, 60)
    vocab = glove.Vocabulary.from_corpus(lines, min_count=3)  # some words out of vocabulary
    records = glove.cooccurrence(lines, vocab, window=window, symmetric=symmetric,
                                 distance_weighting=weighted)
    want = brute_force_counts(lines, vocab, window, symmetric, weighted)
    keys = sorted(want)
    assert list(zip(records.word1.tolist(), records.word2.tolist())) == keys  # sorted, 0-based
    # the same additions in the same order: equal, not merely close
    assert records.count.tolist() == [want[k] for k in keys]


def test_cooccurrence_grows_its_table_many_times():
    rng = np.random.default_rng(1)
    lines = random_lines(rng, 3000, 3000, max_len=60)
    vocab = glove.Vocabulary.from_corpus(lines, min_count=1)
    records = glove.cooccurrence(lines, vocab, window=10)
    want = brute_force_counts(lines, vocab, 10)
    assert len(records) == len(want) > (1 << 15)
    got = dict(zip(zip(records.word1.tolist(), records.word2.tolist()), records.count.tolist()))
    assert got == want


@pytest.mark.parametrize("memory_mb", [0.005, 0.02, 0.2])
def test_cooccurrence_spills_sorted_runs_within_a_memory_budget(tmp_path, memory_mb):
    """A tiny budget: a small dense table of frequent pairs, many runs spilled to disk and
    merged.  The same pairs; counts equal to the corpus-order sums within rounding (a pair
    in several runs adds the runs' sums in run order), exactly when nothing spilled."""
    rng = np.random.default_rng(7)
    lines = random_lines(rng, 400, 200, max_len=40)
    vocab = glove.Vocabulary.from_corpus(lines, min_count=1)
    records = glove.cooccurrence(lines, vocab, window=6, memory_mb=memory_mb, tmp_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the runs are deleted
    want = brute_force_counts(lines, vocab, 6)
    keys = sorted(want)
    assert list(zip(records.word1.tolist(), records.word2.tolist())) == keys
    np.testing.assert_allclose(records.count, [want[k] for k in keys], rtol=1e-13, atol=0)
    again = glove.cooccurrence(lines, vocab, window=6, memory_mb=memory_mb)
    assert np.array_equal(bits(again.count), bits(records.count))  # deterministic
    row_len, _, entries, capacity = glove._plan(len(vocab), memory_mb, 6)
    per = glove._BUFFER_BYTES
    assert entries * 8 + capacity * per <= max(memory_mb * 2 ** 20, 8 * per + 28 * per)
    # pairs of the dense table are exact sums in corpus order
    dense = [(a, b) for a, b in keys if b < row_len[a]]
    assert dense
    got = dict(zip(zip(records.word1.tolist(), records.word2.tolist()), records.count.tolist()))
    assert [got[k] for k in dense] == [want[k] for k in dense]


def test_cooccurrence_refuses_a_bad_memory_budget():
    vocab = glove.Vocabulary.from_corpus(LINES, min_count=1)
    for bad, exc in [(0, ValueError), (-1.0, ValueError), ("1", TypeError)]:
        with pytest.raises(exc, match="memory_mb"):
            glove.cooccurrence(LINES, vocab, memory_mb=bad)


def test_cooccurrence_accepts_encoded_corpus_and_checks_it():
    vocab = glove.Vocabulary.from_corpus(LINES, min_count=1)
    ids, starts = vocab.encode(LINES)
    a = glove.cooccurrence(LINES, vocab, window=3)
    b = glove.cooccurrence((ids, starts), vocab, window=3)
    assert np.array_equal(a.word1, b.word1) and np.array_equal(a.count, b.count)
    with pytest.raises(IndexError, match="ids"):
        glove.cooccurrence((np.array([0, len(vocab)], np.int32), np.array([0, 2])), vocab)
    with pytest.raises(ValueError, match="starts"):
        glove.cooccurrence((ids, starts[:-1]), vocab)
    with pytest.raises(ValueError, match="window"):
        glove.cooccurrence(LINES, vocab, window=0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=25), max_size=12), st.integers(1, 6))
def test_cooccurrence_symmetric_total_weight(docs, window):
    """Symmetric counts are symmetric, and sum to twice the harmonic weights of the windows."""
    lines = [" ".join(f"w{t}" for t in doc) for doc in docs]
    vocab = glove.Vocabulary.from_corpus(lines, min_count=1)
    if not len(vocab):
        return
    records = glove.cooccurrence(lines, vocab, window=window)
    x = dict(zip(zip(records.word1.tolist(), records.word2.tolist()), records.count.tolist()))
    assert all(x[(j, i)] == v for (i, j), v in x.items())
    total = sum(2 * sum(1.0 / k for k in range(1, min(window, pos) + 1))
                for doc in docs for pos in range(len(doc)))
    assert sum(x.values()) == pytest.approx(total, rel=1e-12)


def test_binary_format_round_trip_is_glove_layout(tmp_path):
    vocab = glove.Vocabulary.from_corpus(LINES, min_count=1)
    records = glove.cooccurrence(LINES, vocab, window=4)
    path = tmp_path / "cooc.bin"
    records.save(path)
    raw = np.fromfile(path, dtype=[("w1", "<i4"), ("w2", "<i4"), ("x", "<f8")])
    assert path.stat().st_size == 16 * len(records)
    assert np.array_equal(raw["w1"], records.word1 + 1)  # GloVe's ids start at 1
    back = glove.read_cooccurrence(path)
    assert np.array_equal(back.word1, records.word1) and np.array_equal(back.word2, records.word2)
    assert np.array_equal(back.count, records.count)
    (tmp_path / "short.bin").write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="multiple"):
        glove.read_cooccurrence(tmp_path / "short.bin")
    raw["w1"][0] = 0
    raw.tofile(tmp_path / "zero.bin")
    with pytest.raises(ValueError, match="start at 1"):
        glove.read_cooccurrence(tmp_path / "zero.bin")


# -------------------------------------------------------------------------- training

def small_problem(seed=0, vocab_size=40, n=400):
    rng = np.random.default_rng(seed)
    return glove.Cooccurrence(rng.integers(0, vocab_size, n), rng.integers(0, vocab_size, n),
                              rng.random(n) * 150 + 0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [1, 7, 8, 13, 50])
def test_compiled_loop_equals_reference_loop_bit_for_bit(dtype, dim):
    records = small_problem(dim)
    models = [glove.GloVe(40, dim, dtype=dtype, seed=3) for _ in range(2)]
    costs = [m.fit(records, epochs=3, n_threads=1, progress=False, backend=b)
             for m, b in zip(models, ["numba", "python"])]
    assert costs[0] == costs[1]
    for name in ("weights", "context", "weights_sum", "context_sum"):
        a, b = getattr(models[0], name), getattr(models[1], name)
        assert a.dtype == dtype
        np.testing.assert_array_equal(bits(a), bits(b), err_msg=name)


def _fresh_ir(loop, *args):
    """The LLVM IR of ``loop`` (a compiled loop of the module), compiled afresh (the
    module's own functions come from numba's cache, which keeps no IR) for ``args``."""
    fn = numba.njit(nogil=True, error_model="numpy", boundscheck=False)(loop.py_func)
    fn(*args)
    return fn.inspect_llvm(fn.signatures[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_loops_take_no_reference_counts(dtype):
    """A numba view of an array (``table[i]``) takes an atomic reference on the array's
    memory (~20 per record made half of the loop's time): the loop takes none, at all
    (the view intrinsics ``_row`` and ``unowned``).  (The 16-bit loop is built the same
    way; compiling it afresh takes too long for this suite: ~30 s.)"""
    import re

    d, n = 9, 3
    rows = np.zeros(n, np.int32)
    ones = np.ones(n, dtype)
    tables = [np.ones((4, d + 1), dtype) for _ in range(4)]
    ir = _fresh_ir(glove._train_records, *tables, rows, rows, ones, ones, 0, n,
                   dtype(1e-10), np.zeros(d + 1, dtype), np.zeros(d + 1, dtype))
    body = re.search(r"define [^\n]*_train_records[^\n]*\{(.*?)\n\}", ir, re.S).group(1)
    assert "llvm.prefetch" in body  # the loop itself, not a wrapper
    assert re.findall(r"@NRT_(?:incref|decref)\(", body) == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_views_read_and_write_the_table(dtype):
    @numba.njit
    def use(table, i, values):
        row = glove._row(glove.unowned((table,))[0], i)
        old = row.sum()
        row[:] = values
        return old, row.size, glove._row(table, i)[1]

    table = np.arange(15, dtype=dtype).reshape(5, 3)
    before = table.copy()
    old, size, second = use(table, 3, np.array([7, 8, 9], dtype))
    assert (old, size, second) == (before[3].sum(), 3, 8)
    before[3] = [7, 8, 9]
    np.testing.assert_array_equal(table, before)


@numba.njit
def _compiled_dot(w, c, d):
    return glove._dot(w, c, d)


@np.errstate(all="ignore")
def _dot_reference(w, c, d):
    """The dot product in the documented order, one Python scalar operation at a time."""
    t = w.dtype.type
    lanes = [t(0)] * 8
    m = d - d % 8
    for k in range(m):
        lanes[k % 8] = t(lanes[k % 8] + t(w[k] * c[k]))
    total = t(t(t(lanes[0] + lanes[1]) + t(lanes[2] + lanes[3]))
              + t(t(lanes[4] + lanes[5]) + t(lanes[6] + lanes[7])))
    for k in range(m, d):
        total = t(total + t(w[k] * c[k]))
    return total


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.integers(0, 40),
       st.integers(0, 2 ** 32 - 1), st.booleans())
def test_dot_is_the_documented_order_bit_for_bit(dtype, d, seed, special):
    """``_dot`` (8 lanes in one vector) against the scalar order it documents: random
    magnitudes over many binades (so that the order shows in the last bits), and with
    ``special`` also -0.0, inf, nan and subnormals."""
    rng = np.random.default_rng(seed)
    w, c = (rng.standard_normal(d + 1) * np.exp2(rng.integers(-20, 20, d + 1)) for _ in "wc")
    if special and d:
        for v in (w, c):
            v[rng.integers(0, d, 3)] = rng.choice(
                [-0.0, np.inf, -np.inf, np.nan, 1e-310 if dtype == np.float64 else 1e-40], 3)
    w, c = w.astype(dtype), c.astype(dtype)
    got = np.array([_compiled_dot(w, c, d)], dtype)
    want = np.array([_dot_reference(w, c, d)], dtype)
    if np.isnan(want[0]):  # (which nan is not part of the contract)
        assert np.isnan(got[0])
    else:
        np.testing.assert_array_equal(bits(got), bits(want))


def test_one_record_is_the_glove_objective_and_an_adagrad_step():
    """The first record's cost is ½ f(x) δ², and each row takes fastopt.Adagrad's step with
    lr=1 and initial_accumulator_value=1/eta², on the gradient of that cost."""
    import fastopt

    records = glove.Cooccurrence([2], [5], [30.0])
    model = glove.GloVe(8, 6, dtype=np.float64, seed=1, eta=0.05, x_max=100, alpha=0.75)
    w0, c0 = model.weights[2].copy(), model.context[5].copy()
    delta = w0[:6] @ c0[:6] + w0[6] + c0[6] - np.log(30.0)
    f = (30.0 / 100) ** 0.75
    assert model.cost(records) == pytest.approx(0.5 * f * delta ** 2, rel=1e-12)
    [cost] = model.fit(records, epochs=1, progress=False)
    assert cost == pytest.approx(0.5 * f * delta ** 2, rel=1e-12)
    for start, grad, got in ((w0, f * delta * np.r_[c0[:6], 1.0], model.weights[2]),
                             (c0, f * delta * np.r_[w0[:6], 1.0], model.context[5])):
        p = start.copy()
        opt = fastopt.Adagrad([p], lr=1.0, initial_accumulator_value=1 / 0.05 ** 2,
                              backend="python")
        opt.step([grad])
        np.testing.assert_allclose(got, p, rtol=1e-13, atol=1e-15)


def test_cost_decreases_and_vectors_learn_the_corpus():
    lines = ["king queen royal palace crown"] * 40 + ["dog cat pet animal fur"] * 40
    vocab = glove.Vocabulary.from_corpus(lines, min_count=1)
    records = glove.cooccurrence(lines, vocab, window=4)
    model = glove.GloVe(len(vocab), 10, seed=0)
    costs = model.fit(records, epochs=60, n_threads=1, progress=False)
    assert costs[-1] < 0.05 * costs[0]
    v = model.vectors()
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    sim = v @ v.T
    same = sim[vocab.index["king"], vocab.index["queen"]]
    other = sim[vocab.index["king"], vocab.index["dog"]]
    assert same > other + 0.5


def test_hogwild_threads_on_disjoint_rows_equal_the_sequential_run():
    """Two threads whose records touch disjoint rows do exactly what one thread does."""
    rng = np.random.default_rng(5)
    n = 600_000  # > 2 blocks per thread, so that the threads overlap in time
    half = n // 2
    w1 = np.r_[rng.integers(0, 50, half), rng.integers(50, 100, half)]
    w2 = np.r_[rng.integers(0, 50, half), rng.integers(50, 100, half)]
    records = glove.Cooccurrence(w1, w2, rng.random(n) * 50 + 1)
    a, b = glove.GloVe(100, 16, seed=2), glove.GloVe(100, 16, seed=2)
    ca = a.fit(records, epochs=2, n_threads=1, shuffle=False, progress=False)
    cb = b.fit(records, epochs=2, n_threads=2, shuffle=False, progress=False)
    assert ca == pytest.approx(cb, rel=1e-12)  # the per-thread sums add up in another order
    for name in ("weights", "context", "weights_sum", "context_sum"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_hogwild_threads_on_shared_rows_train():
    records = small_problem(7, vocab_size=30, n=200_000)
    model = glove.GloVe(30, 8, seed=0)
    costs = model.fit(records, epochs=3, n_threads=4, progress=False)
    assert np.all(np.isfinite(model.weights)) and costs[-1] < costs[0]


def test_callback_and_progress(capsys):
    records = small_problem(1)
    seen = []
    model = glove.GloVe(40, 4, seed=0)
    costs = model.fit(records, epochs=2, progress=True,
                      callback=lambda e, c, s: seen.append((e, c, s)))
    assert [e for e, _, _ in seen] == [1, 2] and [c for _, c, _ in seen] == costs
    assert all(s > 0 for _, _, s in seen)


def test_fit_is_reproducible_from_the_seed():
    records = small_problem(2)
    a, b = glove.GloVe(40, 5, seed=11), glove.GloVe(40, 5, seed=11)
    assert a.fit(records, epochs=2, n_threads=1, progress=False) == \
        b.fit(records, epochs=2, n_threads=1, progress=False)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_initialisation_follows_glove():
    model = glove.GloVe(1000, 50, seed=0, eta=0.05)
    for table in (model.weights, model.context):
        assert table.shape == (1000, 51) and table.dtype == np.float32
        assert np.abs(table).max() <= 0.5 / 51 and np.abs(table).max() > 0.49 / 51
    assert np.all(model.weights_sum == np.float32(400.0))


@pytest.mark.parametrize("field,value,exc", [
    ("word1", 40, IndexError), ("word2", -1, IndexError), ("count", 0.0, ValueError),
    ("count", np.nan, ValueError), ("count", -2.0, ValueError)])
def test_bad_records_are_refused_before_anything_is_written(field, value, exc):
    records = small_problem(3)
    getattr(records, field)[17] = value
    model = glove.GloVe(40, 4, seed=0)
    before = [model.weights.copy(), model.context_sum.copy()]
    with pytest.raises(exc, match=field):
        model.fit(records, epochs=1, progress=False)
    np.testing.assert_array_equal(model.weights, before[0])
    np.testing.assert_array_equal(model.context_sum, before[1])


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(vocab_size=0), ValueError, "vocab_size"), (dict(dim=0), ValueError, "dim"),
    (dict(x_max=0.0), ValueError, "x_max"), (dict(alpha=-1.0), ValueError, "alpha"),
    (dict(eta=0.0), ValueError, "eta"), (dict(eta="big"), TypeError, "eta"),
    (dict(dtype=np.int32), TypeError, "dtype"), (dict(eps=-1.0), ValueError, "eps")])
def test_bad_hyperparameters(kwargs, exc, name):
    args = dict(vocab_size=10, dim=4) | kwargs
    with pytest.raises(exc, match=name):
        glove.GloVe(**args)


@pytest.mark.parametrize("kwargs,name", [
    (dict(epochs=-1), "epochs"), (dict(n_threads=0), "n_threads"),
    (dict(backend="cuda"), "backend")])
def test_bad_fit_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        glove.GloVe(40, 4).fit(small_problem(), progress=False, **kwargs)
    with pytest.raises(TypeError, match="records"):
        glove.GloVe(40, 4).fit([(1, 2, 3.0)], progress=False)


def test_records_shapes_are_checked():
    with pytest.raises(ValueError, match="1-D"):
        glove.Cooccurrence([1, 2], [1], [1.0, 2.0])


def test_save_text_and_load_text(tmp_path):
    vocab = glove.Vocabulary.from_corpus(LINES, min_count=1)
    model = glove.GloVe(len(vocab), 6, seed=0)
    model.fit(glove.cooccurrence(LINES, vocab, window=3), epochs=2, progress=False)
    model.save_text(tmp_path / "vectors.txt", vocab.words)
    words, vectors = glove.load_text(tmp_path / "vectors.txt")
    assert words == vocab.words
    np.testing.assert_allclose(vectors, model.vectors(), atol=5e-7)
    assert (tmp_path / "vectors.txt").read_text().splitlines()[0].split()[0] == "the"
    np.testing.assert_array_equal(model.vectors("word"), model.weights[:, :-1])
    with pytest.raises(ValueError, match="kind"):
        model.vectors("bias")
    with pytest.raises(ValueError, match="words"):
        model.save_text(tmp_path / "v.txt", vocab.words[:-1])


def test_module_docstring_example_runs():
    namespace = {}
    code = glove.__doc__.split("Example::")[1]
    exec(compile("\n".join(line[4:] for line in code.splitlines()), "glove-doc", "exec"),
         namespace)


def test_records_reassigned_to_mismatched_lengths_are_refused():
    records = small_problem(4)
    records.word2 = records.word2[:-1]  # the compiled loop would read past its end
    model = glove.GloVe(40, 4, seed=0)
    before = model.weights.copy()
    with pytest.raises(ValueError, match="one length"):
        model.fit(records, epochs=1, progress=False)
    np.testing.assert_array_equal(model.weights, before)


@pytest.mark.parametrize("name,value,exc", [
    ("weights", np.zeros((39, 5), np.float32), ValueError),
    ("context", np.zeros((40, 5), np.float64), TypeError),
    ("weights_sum", np.zeros((40, 10), np.float32)[:, ::2], ValueError),
    ("context_sum", [[0.0] * 5] * 40, TypeError)])
def test_replaced_tables_are_checked_before_training(name, value, exc):
    model = glove.GloVe(40, 4, seed=0)
    setattr(model, name, value)
    before = model.weights.copy()
    with pytest.raises(exc, match=name):
        model.fit(small_problem(), epochs=1, progress=False)
    if name != "weights":
        np.testing.assert_array_equal(model.weights, before)


# ----------------------------------------------------------- compiled corpus encoding

@pytest.mark.parametrize("text", [
    "", "\n", "a", "a\n", "a b\n\nc", "the cat  sat\t on\x0bthe\x0cmat\x1c\x1d\x1e\x1fdog \n",
    "  leading and trailing  \n\n\n", "ab a abc b ba\nzz yy\n", "x" * 5000 + " a\n a",
    "oov words only\nand a cat\n"])
def test_ascii_file_encoding_equals_the_python_path(tmp_path, text):
    vocab = glove.Vocabulary(["a", "ab", "b", "cat", "the", "dog", "mat", "c", "and", "x" * 5000],
                             [9, 8, 7, 6, 5, 4, 3, 2, 1, 1])
    path = tmp_path / "corpus.txt"
    path.write_bytes(text.encode("ascii"))
    ids, starts = vocab.encode(path)
    with open(path, encoding="utf-8") as f:  # Python's own reading of the file
        want_ids, want_starts = vocab.encode(list(f))
    assert ids.dtype == np.int32 and starts.dtype == np.int64
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(starts, want_starts)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c\n\t\x0b\x1f", max_size=80))
def test_ascii_file_encoding_property(tmp_path_factory, text):
    vocab = glove.Vocabulary(["a", "b", "ab", "ba", "c", "aa", "abc"], [7, 6, 5, 4, 3, 2, 1])
    path = tmp_path_factory.mktemp("enc") / "corpus.txt"
    path.write_bytes(text.encode("ascii"))
    ids, starts = vocab.encode(path)
    with open(path, encoding="utf-8") as f:  # Python's own reading of the file
        want_ids, want_starts = vocab.encode(list(f))
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(starts, want_starts)


@pytest.mark.parametrize("text", ["caf\u00e9 a b\na\n", "a b\r\nb a\r\n", "a\rb\n"])
def test_non_ascii_or_carriage_returns_take_the_python_path(tmp_path, text):
    vocab = glove.Vocabulary(["a", "b", "caf\u00e9"], [3, 2, 1])
    path = tmp_path / "corpus.txt"
    path.write_bytes(text.encode("utf-8"))
    ids, starts = vocab.encode(path)
    with open(path, encoding="utf-8") as f:
        want_ids, want_starts = vocab.encode(list(f))
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(starts, want_starts)


def test_counting_a_file_equals_counting_its_lines(tmp_path):
    rng = np.random.default_rng(11)
    lines = random_lines(rng, 300, 80)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    vocab = glove.Vocabulary.from_corpus(lines, min_count=2)
    a = glove.cooccurrence(path, vocab, window=5)
    b = glove.cooccurrence(lines, vocab, window=5)
    np.testing.assert_array_equal(a.word1, b.word1)
    np.testing.assert_array_equal(a.word2, b.word2)
    np.testing.assert_array_equal(a.count, b.count)
