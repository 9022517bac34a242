"""Hogwild!: the driver runs the user's compiled step over shards of the data on threads.

One thread is exactly the sequential run (bits); several threads converge to the same
loss on the showcases; the arguments are checked before anything runs.
"""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import bits

hw = importlib.import_module("fastopt.parallel.hogwild")  # the module (the package exports
#                                                           the function under its name)

numba = pytest.importorskip("numba")
problems = pytest.importorskip("bench.parallel.problems")


@pytest.fixture(scope="module")
def small_ratings():
    return problems.ratings(n_users=60, n_items=40, n_ratings=3000, seed=1)


@pytest.fixture(scope="module")
def small_docs():
    return problems.documents(n_docs=600, n_words=500, mean_length=20, seed=2)


def _sequential(model, step, n, epochs, batch_size=1, seed=0):
    args = model.args()
    losses = []
    for order in hw.epoch_orders(n, epochs, seed=seed):
        losses.append(hw.run_sequential(step, order, args, batch_size) / n)
    return losses


@pytest.mark.parametrize("batch_size", [1, 7])
def test_one_thread_is_the_sequential_run_bitwise(small_ratings, batch_size):
    a = problems.MatrixFactorization(small_ratings, dim=4)
    b = problems.MatrixFactorization(small_ratings, dim=4)
    got = hw.hogwild(problems.mf_step, len(small_ratings), a.args(), epochs=3, n_threads=1,
                     batch_size=batch_size, seed=5)
    want = _sequential(b, problems.mf_step, len(small_ratings), 3, batch_size, seed=5)
    assert got == want
    for x, y in zip(a.state(), b.state()):
        np.testing.assert_array_equal(bits(x), bits(y))


def test_one_thread_sequential_logistic(small_docs):
    a, b = problems.LogisticRegression(small_docs), problems.LogisticRegression(small_docs)
    got = hw.hogwild(problems.logistic_step, len(small_docs), a.args(), epochs=2, n_threads=1)
    want = _sequential(b, problems.logistic_step, len(small_docs), 2)
    assert got == want
    np.testing.assert_array_equal(bits(a.w), bits(b.w))


def test_shuffle_is_seeded_and_off_means_in_order(small_docs):
    orders = list(hw.epoch_orders(10, 2, seed=3))
    again = list(hw.epoch_orders(10, 2, seed=3))
    assert all(np.array_equal(x, y) for x, y in zip(orders, again))
    assert not np.array_equal(orders[0], orders[1])  # a new permutation per epoch
    assert np.array_equal(next(hw.epoch_orders(10, 1, shuffle=False)), np.arange(10))


@pytest.mark.parametrize("n_threads", [2, 3])
def test_threads_reach_the_sequential_loss(small_docs, n_threads):
    one, many = problems.LogisticRegression(small_docs), problems.LogisticRegression(small_docs)
    hw.hogwild(problems.logistic_step, len(small_docs), one.args(), epochs=4, n_threads=1)
    hw.hogwild(problems.logistic_step, len(small_docs), many.args(), epochs=4,
               n_threads=n_threads)
    start = problems.LogisticRegression(small_docs).loss()
    assert one.loss() < 0.8 * start
    assert many.loss() == pytest.approx(one.loss(), rel=0.05)


def test_every_example_is_visited_once_per_epoch():
    @numba.njit(nogil=True)
    def count(batch, seen):
        for e in batch:
            seen[e] += 1
        return float(batch.size)

    seen = np.zeros(1001, np.int64)
    losses = hw.hogwild(count, 1001, (seen,), epochs=3, n_threads=3, batch_size=4)
    assert np.all(seen == 3) and losses == [1.0, 1.0, 1.0]


def test_callback_every_epoch_and_stop():
    @numba.njit(nogil=True)
    def noop(batch, x):
        return 0.0

    calls = []
    hw.hogwild(noop, 5, (np.zeros(1),), epochs=4, n_threads=2,
               callback=lambda e, loss, s: calls.append((e, loss, s >= 0)) or e == 2)
    assert calls == [(1, 0.0, True), (2, 0.0, True)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200), st.integers(1, 9), st.integers(1, 13))
def test_shards_cover_the_order_on_batch_boundaries(n, n_threads, batch_size):
    b = hw._shard_bounds(n, n_threads, batch_size)
    assert b[0] == 0 and b[-1] == n and len(b) == n_threads + 1
    assert all(x <= y for x, y in zip(b, b[1:]))
    assert all(x % batch_size == 0 for x in b[:-1] if x < n)


def test_bad_arguments_are_refused():
    @numba.njit(nogil=True)
    def noop(batch):
        return 0.0

    with pytest.raises(TypeError, match="step"):
        hw.hogwild(lambda batch: 0.0, 3)
    with pytest.raises(TypeError, match="args"):
        hw.hogwild(noop, 3, [1])
    with pytest.raises(ValueError, match="n_threads"):
        hw.hogwild(noop, 3, n_threads=0)
    with pytest.raises(ValueError, match="batch_size"):
        hw.hogwild(noop, 3, batch_size=0)
    with pytest.raises(TypeError, match="callback"):
        hw.hogwild(noop, 3, callback=3)
