r"""Data iteration: the gradient-descent variants, and curriculum learning.

Batch, stochastic and mini-batch gradient descent differ only in which samples
each gradient is computed on.  With n samples, batch size B and
an epoch permutation π (a new one per epoch, from a seeded
:class:`numpy.random.Generator`), batch k of an epoch is

.. math::

    I_k = {π(kB), π(kB + 1), …, π(min((k + 1)B, n) − 1)}   (k = 0, …, ⌈n/B⌉ − 1)

(the last, smaller batch is dropped with ``drop_last``).  Then

* **batch gradient descent** is B = n (one batch: every sample),
* **stochastic gradient descent** is B = 1 (one sample per step),
* **mini-batch gradient descent** is anything in between.

:class:`BatchSampler` implements all three (helpers: :func:`full_batch`,
:func:`stochastic`, :func:`mini_batches`); :class:`CurriculumSampler` orders the
samples by a difficulty instead, from easy to hard (Bengio et al., 2009), or mixes
that order with uniformly random samples (the "mixed" strategy of Zaremba &
Sutskever, 2014).

Both are re-iterable: each ``for batch in sampler`` is one epoch, and yields 1-D
read-only ``int64`` index arrays (index your data with them: ``X[batch]``).  They
are reproducible: the same ``seed`` gives the same batches, epoch after epoch.
"""
import math

import numpy as np

from . import _args
from .._internal import validation as check
from .._internal.random import as_generator

__all__ = ["BatchSampler", "CurriculumSampler", "full_batch", "stochastic", "mini_batches",
           "linear_pacing"]


def _read_only(a):
    a.flags.writeable = False
    return a


class BatchSampler:
    """Index batches over ``n`` samples, reshuffled every epoch.

    Arguments:
        n: the number of samples (>= 1).
        batch_size: samples per batch; ``None`` (default) means ``n``, i.e. full
            batch gradient descent; ``1`` is stochastic gradient descent.
        shuffle: draw a new permutation of the samples every epoch (default
            True); False keeps the order ``0, 1, ..., n-1``.
        drop_last: drop the last batch of an epoch if it is smaller than
            ``batch_size`` (default False).
        seed: an int, a :class:`numpy.random.Generator` or ``None`` (see
            :mod:`fastopt._internal.random`); the same seed gives the same batches.

    ``len(sampler)`` is the number of batches per epoch; ``sampler.epoch`` counts
    the epochs started so far.  Example::

        sampler = fastopt.BatchSampler(len(X), batch_size=32, seed=0)
        for epoch in range(10):
            for batch in sampler:          # one epoch: a new permutation
                loss, grads = objective(X[batch], y[batch])
                opt.step(grads)

    Raises:
        TypeError: ``n`` or ``batch_size`` not an integer, ``seed`` of another type.
        ValueError: ``n`` < 1 or ``batch_size`` < 1.

    Batches are 1-D read-only ``int64`` index arrays.
    """

    def __init__(self, n, batch_size=None, *, shuffle=True, drop_last=False, seed=None):
        self.n = _args.integer("n", n, 1)
        self.batch_size = self.n if batch_size is None else _args.integer(
            "batch_size", batch_size, 1)
        self.shuffle = check.flag("shuffle", shuffle)
        self.drop_last = check.flag("drop_last", drop_last)
        if self.drop_last and self.batch_size > self.n:
            raise ValueError(f"batch_size ({self.batch_size}) is larger than n ({self.n}) and "
                             f"drop_last is set: an epoch would have no batch")
        self.rng = as_generator(seed)
        self.epoch = 0

    def __len__(self):
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        _read_only(order)
        self.epoch += 1
        size = self.batch_size
        for k in range(len(self)):
            yield order[k * size:(k + 1) * size]

    def __repr__(self):
        return (f"BatchSampler(n={self.n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")


def full_batch(n):
    """Batch gradient descent: one batch of all ``n`` samples per epoch, in order.

    Returns a :class:`BatchSampler` with ``batch_size=n`` and no shuffling.
    Raises as :class:`BatchSampler`.
    """
    return BatchSampler(n, None, shuffle=False)


def stochastic(n, *, seed=None):
    """Stochastic gradient descent: ``n`` batches of one sample, in a new order every epoch.

    Returns a :class:`BatchSampler` with ``batch_size=1``.  Raises as
    :class:`BatchSampler`.
    """
    return BatchSampler(n, 1, seed=seed)


def mini_batches(n, batch_size, *, drop_last=False, seed=None):
    """Mini-batch gradient descent: batches of ``batch_size`` samples, reshuffled every epoch.

    Returns a :class:`BatchSampler`.  Raises as :class:`BatchSampler`.
    """
    return BatchSampler(n, batch_size, drop_last=drop_last, seed=seed)


def linear_pacing(start_fraction, epochs):
    r"""A pacing function for :class:`CurriculumSampler` ("baby steps").

    Epoch e (from 0) uses the easiest fraction
    min(1, f_0 + (1 - f_0)  e / E) of the samples: ``start_fraction``
    f_0 ∈ (0, 1] at first, all of them from epoch ``epochs`` E on.

    Returns a function ``epoch -> fraction``.

    Raises:
        ValueError: ``start_fraction`` outside (0, 1], ``epochs`` < 1.
    """
    f0 = check.in_range("start_fraction", start_fraction, 0.0, 1.0, high_inclusive=True)
    if f0 == 0:
        raise ValueError("start_fraction must be > 0")
    span = _args.integer("epochs", epochs, 1)

    def pacing(epoch):
        return min(1.0, f0 + (1.0 - f0) * epoch / span)

    pacing.__doc__ = f"min(1, {f0} + (1 - {f0}) * epoch / {span})"
    return pacing


class CurriculumSampler:
    r"""Curriculum learning: batches ordered from easy to hard by a given difficulty.

    Each epoch visits the samples in order of increasing ``difficulty`` (ties in a
    random order, new every epoch), cut into batches of ``batch_size``:

    ``strategy="curriculum"`` (default)
        batch k holds the samples kB, …, (k+1)B - 1 of the
        easy-to-hard order c: the naive curriculum.
    ``strategy="mixed"``
        every batch mixes the curriculum with uniformly random samples:
        r = round(ρ B) samples drawn uniformly (without
        replacement within the batch) from all n, and the next
        B - r samples of the order c.  An epoch ends when the
        curriculum order is used up (⌈n_c / (B - r)⌉ batches).
        ``random_fraction`` is ρ ∈ [0, 1) (default 0.5).

    ``pacing`` (optional) is a function ``epoch -> fraction in (0, 1]``: epoch
    e (from 0) then uses only the easiest ``ceil(fraction * n)`` samples as
    its curriculum c (e.g. :func:`linear_pacing`, Bengio et al.'s growing
    training set); by default every epoch uses all of them.

    Batches are 1-D read-only ``int64`` index arrays, reproducible with ``seed``.

    Args:
        difficulty: 1-D real array of length n (one score per sample, finite; lower
            is easier).
        batch_size: B >= 1.

    Raises:
        TypeError: a non-integer ``batch_size``, a non-callable ``pacing``, a bad
            ``seed``.
        ValueError: ``difficulty`` not 1-D, empty or not finite; ``batch_size`` < 1;
            an unknown ``strategy``; ``random_fraction`` outside [0, 1).

    Source: Y. Bengio, J. Louradour, R. Collobert, J. Weston, "Curriculum Learning",
    ICML 2009 (naive curriculum, growing training set); W. Zaremba, I. Sutskever,
    "Learning to Execute", arXiv:1410.4615, 2014 (the mixed strategy).
    """

    STRATEGIES = ("curriculum", "mixed")

    def __init__(self, difficulty, batch_size, *, strategy="curriculum", random_fraction=0.5,
                 pacing=None, drop_last=False, seed=None):
        if isinstance(difficulty, np.ndarray) and difficulty.dtype == np.bool_:
            raise TypeError("difficulty must be real numbers, got a boolean array")
        try:
            difficulty = np.array(difficulty, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("difficulty must be a 1-D array of real numbers") from None
        if difficulty.ndim != 1 or difficulty.size == 0:
            raise ValueError(f"difficulty must be a non-empty 1-D array (one value per sample), "
                             f"got shape {difficulty.shape}")
        if not np.all(np.isfinite(difficulty)):
            raise ValueError("difficulty has NaN or infinite values")
        self.difficulty = _read_only(difficulty)
        self.n = difficulty.size
        self.batch_size = _args.integer("batch_size", batch_size, 1)
        self.strategy = _args.choice("strategy", strategy, self.STRATEGIES)
        self.random_fraction = _args.probability("random_fraction", random_fraction)
        self.n_random = round(self.random_fraction * self.batch_size) \
            if self.strategy == "mixed" else 0
        if self.n_random >= self.batch_size:
            raise ValueError(f"random_fraction={self.random_fraction} leaves no curriculum "
                             f"sample in a batch of {self.batch_size}")
        if self.n_random > self.n:
            raise ValueError(f"a batch would draw {self.n_random} distinct random samples out "
                             f"of n={self.n}")
        if pacing is not None and not callable(pacing):
            raise TypeError(f"pacing must be a function epoch -> fraction, got "
                            f"{type(pacing).__name__}")
        self.pacing = pacing
        self.drop_last = check.flag("drop_last", drop_last)
        self.rng = as_generator(seed)
        self.epoch = 0

    def _curriculum_size(self, epoch):
        if self.pacing is None:
            return self.n
        fraction = check.real("pacing(epoch)", self.pacing(epoch))
        if not 0 < fraction <= 1:
            raise ValueError(f"pacing({epoch}) must be in (0, 1], got {fraction}")
        return max(1, math.ceil(fraction * self.n))

    def _per_batch(self):
        return self.batch_size - self.n_random

    def batches_in_epoch(self, epoch):
        """The number of batches of epoch ``epoch`` (from 0)."""
        size, per = self._curriculum_size(epoch), self._per_batch()
        return size // per if self.drop_last else -(-size // per)

    def __len__(self):
        return self.batches_in_epoch(self.epoch)

    def order(self):
        """A new easy-to-hard order of all samples (ties broken at random)."""
        shuffled = self.rng.permutation(self.n)
        return shuffled[np.argsort(self.difficulty[shuffled], kind="stable")]

    def __iter__(self):
        epoch = self.epoch
        size = self._curriculum_size(epoch)
        self.epoch += 1
        curriculum = self.order()[:size]
        per = self._per_batch()
        for k in range(self.batches_in_epoch(epoch)):
            part = curriculum[k * per:(k + 1) * per]
            if self.n_random:
                part = np.concatenate([part, self.rng.choice(self.n, self.n_random,
                                                             replace=False)])
            else:
                part = part.copy()
            yield _read_only(part)

    def __repr__(self):
        return (f"CurriculumSampler(n={self.n}, batch_size={self.batch_size}, "
                f"strategy={self.strategy!r}, random_fraction={self.random_fraction})")
