r"""Hogwild!: lock-free SGD on several threads of one process (Niu, Recht, Ré & Wright, 2011).

The user writes the update of one example -- or of one mini-batch -- as a compiled,
GIL-free function (``@numba.njit(nogil=True)``) that computes a sparse gradient and
applies it to shared tables with fastopt's row kernels (for instance
:func:`fastopt.backends.numba.adagrad.adagrad_serial` on the touched rows, or the
``<rule>_element`` functions).  :func:`hogwild` runs it on ``n_threads`` Python
threads at once, each over its own shard of the data, without locks: when two
threads touch the same row at the same moment one update may be partly lost, which
SGD on sparse problems shrugs off (the paper's analysis).  GloVe's trainer
(:mod:`fastopt.embeddings.glove`) is the same scheme, hard-wired.

The function's contract::

    @numba.njit(nogil=True)
    def step(batch, *args) -> float:
        ...   # batch: int64 array of example ids; update the tables in args; return the
              # sum of the examples' losses (before their updates), or 0.0

``batch`` holds one example id (``batch_size=1``, the default) or up to
``batch_size`` of them.  ``args`` is a tuple of arrays and scalars (the tables, the
optimizer state, the data, hyperparameters) passed to every call unchanged.

One epoch: the ids ``0 .. n_examples - 1`` in a random order (a new permutation per
epoch, from ``seed``; in order with ``shuffle=False``) are cut into ``n_threads``
contiguous shards; thread ``t`` calls ``step`` on consecutive batches of its shard.
The loop over batches is compiled too (one specialisation per ``step``), so no Python
code and no GIL stand between two batches.  With ``n_threads=1`` the run is
exactly the sequential one -- ``step`` on the batches of the permutation in order --
and gives the same bits every time.
"""
import math
import os
import threading
import time

import numba
import numpy as np

from .._internal import random as _random
from ..train import _args
from ..train.training import _progress_bar



@numba.njit(nogil=True, error_model="numpy", boundscheck=False, fastmath=False)
def _run_batches(step, order, lo, hi, batch_size, args):
    """``step(order[b:b + batch_size], *args)`` for the batches of ``order[lo:hi]``, in
    order; returns the sum of what they return (in double)."""
    total = 0.0
    for b in range(lo, hi, batch_size):
        total += step(order[b:min(b + batch_size, hi)], *args)
    return total


def run_sequential(step, order, args, batch_size=1):
    """The sequential run of one epoch that :func:`hogwild` reproduces with one thread:
    ``step`` called from Python on the batches of ``order`` in turn (for tests)."""
    total = 0.0
    for b in range(0, order.size, batch_size):
        total += step(order[b:b + batch_size], *args)
    return total


def epoch_orders(n_examples, epochs, *, shuffle=True, seed=0):
    """The example order of every epoch (int64 arrays) that :func:`hogwild` uses."""
    rng = _random.as_generator(seed)
    for _ in range(epochs):
        yield rng.permutation(n_examples).astype(np.int64) if shuffle else \
            np.arange(n_examples, dtype=np.int64)


def hogwild(step, n_examples, args=(), *, epochs=1, n_threads=None, batch_size=1,
            shuffle=True, seed=0, progress=False, callback=None):
    """Run ``step`` (a ``numba.njit(nogil=True)`` function, see the module docstring) over
    ``n_examples`` examples for ``epochs`` epochs on ``n_threads`` threads, Hogwild!-style.

    Arguments:
        step: the compiled per-example (``batch_size=1``) or per-mini-batch function.
        n_examples (int >= 0): the examples are the ids ``0 .. n_examples - 1``.
        args (tuple): passed to every call of ``step`` after the batch.
        epochs (int >= 0, 1); n_threads (int >= 1; default: the usable CPUs);
        batch_size (int >= 1, 1); shuffle (bool, True): a new seeded permutation per
        epoch; seed: int, ``SeedSequence`` or ``numpy.random.Generator`` (0).
        progress (bool, False): a progress bar over the epochs, with the last loss
        (tqdm if installed, else a line on stderr).
        callback: ``callback(epoch, loss, seconds)`` after every epoch (``epoch`` from
        1, ``loss`` the mean of what ``step`` returned per example, ``seconds`` the
        epoch's wall time); returning ``True`` stops the training.

    Returns the list of the epochs' mean losses.

    Raises ``TypeError`` if ``step`` is not a numba-compiled function or ``args`` not a
    tuple, ``ValueError``/``TypeError`` for the integer arguments (before any update).
    """
    if not isinstance(step, numba.core.registry.CPUDispatcher):
        raise TypeError(f"step must be a numba.njit(nogil=True) function, got "
                        f"{type(step).__name__}")
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple, got {type(args).__name__}")
    n_examples = _args.integer("n_examples", n_examples, 0)
    epochs = _args.integer("epochs", epochs, 0)
    n_threads = _args.integer("n_threads", _default_threads() if n_threads is None
                              else n_threads, 1)
    batch_size = _args.integer("batch_size", batch_size, 1)
    shuffle = bool(shuffle)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable")
    orders = epoch_orders(n_examples, epochs, shuffle=shuffle, seed=seed)
    bounds = _shard_bounds(n_examples, n_threads, batch_size)
    losses = []
    bar = _progress_bar(epochs, "hogwild", progress)
    try:
        for epoch, order in enumerate(orders, 1):
            sums = [0.0] * n_threads
            errors = []

            def work(t):
                try:
                    sums[t] = _run_batches(step, order, bounds[t], bounds[t + 1], batch_size,
                                           args)
                except BaseException as e:  # re-raised in the calling thread
                    errors.append(e)

            t0 = time.perf_counter()
            if n_threads == 1:
                work(0)
            else:
                threads = [threading.Thread(target=work, args=(t,), daemon=True)
                           for t in range(n_threads)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
            seconds = time.perf_counter() - t0
            if errors:
                raise errors[0]
            losses.append(math.fsum(sums) / max(n_examples, 1))
            if bar is not None:
                bar.set_postfix_str(f"loss {losses[-1]:.6g}")
                bar.update(1)
            if callback is not None and callback(epoch, losses[-1], seconds) is True:
                break
    finally:
        if bar is not None:
            bar.close()
    return losses


def _shard_bounds(n, n_threads, batch_size):
    """Shard ``t`` of the epoch's order is ``[bounds[t], bounds[t + 1])``; every shard but
    the last starts on a batch boundary, so one thread's batches are those of the
    sequential run."""
    n_batches = -(-n // batch_size)
    return [min(n, (n_batches * t // n_threads) * batch_size) for t in range(n_threads)] + [n]


def _default_threads():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
