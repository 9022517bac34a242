"""Batch iteration (batch, stochastic, mini-batch gradient descent) and curriculum learning."""
import numpy as np
import pytest

import fastopt
from fastopt.train.data import BatchSampler, CurriculumSampler, linear_pacing


def epochs_of(sampler, k):
    return [[b.copy() for b in sampler] for _ in range(k)]


def test_full_batch_is_one_batch_of_every_sample_in_order():
    sampler = fastopt.full_batch(10)
    assert len(sampler) == 1
    for _ in range(3):
        (batch,) = list(sampler)
        assert batch.dtype == np.int64
        assert np.array_equal(batch, np.arange(10))


def test_stochastic_is_one_sample_per_batch_in_a_new_order_every_epoch():
    sampler = fastopt.stochastic(50, seed=1)
    assert len(sampler) == 50
    first, second = epochs_of(sampler, 2)
    assert all(b.shape == (1,) for b in first)
    order1, order2 = np.concatenate(first), np.concatenate(second)
    assert sorted(order1) == list(range(50)) and sorted(order2) == list(range(50))
    assert not np.array_equal(order1, order2)
    assert sampler.epoch == 2


@pytest.mark.parametrize("n,batch_size,drop_last,sizes", [
    (10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (9, 3, True, [3, 3, 3]),
    (10, 10, False, [10]), (10, 25, False, [10]), (1, 1, False, [1]),
])
def test_mini_batch_sizes_and_coverage(n, batch_size, drop_last, sizes):
    sampler = fastopt.mini_batches(n, batch_size, drop_last=drop_last, seed=0)
    assert len(sampler) == len(sizes)
    for _ in range(3):
        batches = list(sampler)
        assert [b.size for b in batches] == sizes
        seen = np.concatenate(batches)
        assert len(set(seen.tolist())) == seen.size  # no sample twice in an epoch
        if not drop_last:
            assert sorted(seen) == list(range(n))


def test_reproducible_with_a_seed_and_different_across_seeds():
    a = epochs_of(BatchSampler(100, 7, seed=42), 3)
    b = epochs_of(BatchSampler(100, 7, seed=42), 3)
    c = epochs_of(BatchSampler(100, 7, seed=43), 3)
    assert all(np.array_equal(x, y) for ea, eb in zip(a, b) for x, y in zip(ea, eb))
    assert not all(np.array_equal(x, y) for ea, ec in zip(a, c) for x, y in zip(ea, ec))


def test_a_shared_generator_is_used_as_is():
    rng = np.random.default_rng(5)
    sampler = BatchSampler(20, 5, seed=rng)
    assert sampler.rng is rng
    expected = np.random.default_rng(5).permutation(20)
    assert np.array_equal(np.concatenate(list(sampler)), expected)


def test_no_shuffle_keeps_the_order_and_batches_are_read_only():
    sampler = BatchSampler(7, 3, shuffle=False)
    batches = list(sampler)
    assert np.array_equal(np.concatenate(batches), np.arange(7))
    with pytest.raises(ValueError):
        batches[0][0] = 5


def test_indexing_data_with_batches():
    X = np.arange(20.0).reshape(10, 2)
    for batch in BatchSampler(10, 4, seed=0):
        assert X[batch].shape == (batch.size, 2)


@pytest.mark.parametrize("kwargs,error", [
    (dict(n=0), ValueError), (dict(n=2.0), TypeError), (dict(n=True), TypeError),
    (dict(n=5, batch_size=0), ValueError), (dict(n=5, batch_size=1.5), TypeError),
    (dict(n=5, batch_size=6, drop_last=True), ValueError),
    (dict(n=5, shuffle="yes"), TypeError), (dict(n=5, seed=-1), ValueError),
    (dict(n=5, seed="abc"), TypeError), (dict(n=5, seed=np.random.RandomState(0)), TypeError),
])
def test_bad_arguments(kwargs, error):
    n = kwargs.pop("n")
    with pytest.raises(error) as info:
        BatchSampler(n, **kwargs)
    name = next(iter(kwargs), "n")
    assert name in str(info.value)


# -- curriculum ----------------------------------------------------------------------------

def test_curriculum_goes_from_easy_to_hard_every_epoch():
    rng = np.random.default_rng(0)
    difficulty = rng.integers(0, 5, 40).astype(float)  # many ties
    sampler = CurriculumSampler(difficulty, 6, seed=3)
    assert len(sampler) == 7
    orders = []
    for _ in range(2):
        order = np.concatenate(list(sampler))
        assert sorted(order) == list(range(40))
        assert np.all(np.diff(difficulty[order]) >= 0)
        orders.append(order)
    assert not np.array_equal(*orders)  # ties are broken at random, anew every epoch
    again = CurriculumSampler(difficulty, 6, seed=3)
    assert np.array_equal(np.concatenate(list(again)), orders[0])


def test_mixed_strategy_mixes_curriculum_and_uniform_samples():
    n, batch_size = 60, 10
    difficulty = np.arange(n, dtype=float)[::-1]  # sample n-1 is the easiest
    sampler = CurriculumSampler(difficulty, batch_size, strategy="mixed", random_fraction=0.3,
                                seed=0)
    assert sampler.n_random == 3 and len(sampler) == n // 7 + 1
    counts = np.zeros(n)
    for _ in range(40):
        batches = list(sampler)
        curriculum = np.concatenate([b[:-3] for b in batches])
        assert np.array_equal(curriculum, np.arange(n)[::-1])  # the curriculum part, in order
        for b in batches:
            assert 4 <= b.size <= 10
            assert len(set(b[-3:].tolist())) == 3  # random part: no repeats within a batch
            counts[b[-3:]] += 1
    # the random part is uniform over all samples (a loose chi-square bound)
    expected = counts.sum() / n
    assert ((counts - expected) ** 2 / expected).sum() < 2 * n
    a = [b.copy() for b in CurriculumSampler(difficulty, 10, strategy="mixed", seed=9)]
    b = [b.copy() for b in CurriculumSampler(difficulty, 10, strategy="mixed", seed=9)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_pacing_grows_the_training_set():
    difficulty = np.linspace(0, 1, 100)
    pacing = linear_pacing(0.25, 3)
    assert [pacing(e) for e in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    sampler = CurriculumSampler(difficulty, 10, pacing=pacing, seed=0)
    sizes = [np.concatenate(list(sampler)).size for _ in range(5)]
    assert sizes == [25, 50, 75, 100, 100]
    sampler = CurriculumSampler(difficulty, 10, pacing=lambda e: 0.0)
    with pytest.raises(ValueError, match="pacing"):
        list(sampler)


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(difficulty=[1.0, np.nan]), ValueError, "difficulty"),
    (dict(difficulty=np.zeros((2, 2))), ValueError, "difficulty"),
    (dict(difficulty=[]), ValueError, "difficulty"),
    (dict(difficulty=["a", "b"]), TypeError, "difficulty"),
    (dict(difficulty=np.array([True, False])), TypeError, "difficulty"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(strategy="random"), ValueError, "strategy"),
    (dict(strategy="mixed", random_fraction=1.0), ValueError, "random_fraction"),
    (dict(strategy="mixed", random_fraction=0.9, batch_size=2), ValueError, "random_fraction"),
    (dict(pacing=0.5), TypeError, "pacing"),
])
def test_curriculum_bad_arguments(kwargs, error, name):
    args = dict(difficulty=np.arange(5.0), batch_size=2)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        CurriculumSampler(args.pop("difficulty"), args.pop("batch_size"), **args)
    with pytest.raises(ValueError, match="start_fraction"):
        linear_pacing(0.0, 3)
