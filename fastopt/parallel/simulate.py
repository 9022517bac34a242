"""Asynchronous SGD at scale, by simulation: ``n_workers`` workers (up to thousands) with
configurable delays, deterministically, in one process, on the real server code.

Time is counted in *ticks*.  At every tick one worker -- in turn, round robin -- reads
the parameters it needs from a :class:`~fastopt.parallel.ParameterServer` (local
engine: the same shards, optimizers, versions and checks as a real run) and computes
the gradient of its next mini-batch.  The push of a gradient read at tick t
reaches the server at tick t + D, where the delay D is fixed
(``delay=100``), per worker (a list), or drawn per push (``delay=callable(rng)``,
with a generator seeded by ``seed``).  At each tick the pushes due are applied first,
in the order they were sent, then the tick's read happens.  A push therefore finds
about D other pushes applied since its read: its staleness.

Schemes (the same problem protocol as :mod:`fastopt.parallel.workers`):

``"async-adagrad"``
    Downpour with Adagrad on the server: every gradient is pushed and applied as it
    arrives;
``"adarevision"``
    the same with :class:`~fastopt.parallel.AdaRevision` on the server (the workers read
    the gradient sums with the rows and send them back);
``"easgd"``
    asynchronous EASGD: workers take local SGD steps and, every ``tau`` of their own
    steps, read the centre and push their elastic move; both the read and the push
    count against the delay (the move reaches the centre D ticks later);
``"sync-sgd"``
    synchronous SGD: every ``n_workers`` ticks the gradients of all workers, read on
    the same parameters, are averaged and applied at once with the server's Adagrad
    (the workers wait for each other: delays cost wall time, which the simulation does
    not count, and never staleness).

Every scheme computes one mini-batch gradient per tick, so losses after the same number
of ticks compare the schemes at equal work.
"""
import functools
import heapq

import numpy as np

from .._internal import random as _random
from ..optim.adagrad import Adagrad
from ..optim.sgd import SGD
from ..optim.sparse import SparseGrad
from ..train import _args
from . import workers as _workers
from .adarevision import AdaRevision
from .easgd import elastic_center
from .server import ParameterServer

SCHEMES = ("async-adagrad", "adarevision", "easgd", "sync-sgd")


class SimulationResult:
    """``ticks`` at which the loss was measured, ``losses`` (``problem.loss`` of the
    server's tables -- the centre for EASGD), ``staleness`` (mean over the pushes),
    ``server`` (the final one)."""

    def __init__(self, ticks, losses, staleness, server):
        self.ticks, self.losses, self.staleness, self.server = ticks, losses, staleness, server

    def __repr__(self):
        return (f"SimulationResult(final loss {self.losses[-1]:.6g} at tick {self.ticks[-1]}, "
                f"mean staleness {self.staleness:.1f})")


def _delay_fn(delay, n_workers, rng):
    if callable(delay):
        return lambda w: _args.integer("delay()", delay(rng), 0)
    if isinstance(delay, (list, tuple, np.ndarray)):
        if len(delay) != n_workers:
            raise ValueError(f"delay has {len(delay)} entries for {n_workers} workers")
        ds = [_args.integer(f"delay[{i}]", d, 0) for i, d in enumerate(delay)]
        return lambda w: ds[w]
    d = _args.integer("delay", delay, 0)
    return lambda w: d


def simulate(problem, scheme, tables=None, *, n_workers=16, delay=0, ticks=1000, batch_size=16, lr=0.1,
             worker_lr=None, tau=4, alpha=None, n_shards=2, eval_every=None, seed=0):
    """Simulate ``scheme`` (see the module docstring) for ``ticks`` ticks; returns a
    :class:`SimulationResult`.

    ``tables`` are the initial tables (``{name: 2-D array}``, copied; default
    ``problem.initial()``).  ``lr`` is the server's learning rate; ``worker_lr`` (default ``lr``), ``tau`` and
    ``alpha`` (default ``0.9 / n_workers``) are EASGD's: the workers' SGD learning rate,
    the communication period and the moving rate; the loss is measured every ``eval_every``
    ticks (default: 10 times in the run) and at the end.  Raises ``ValueError`` /
    ``TypeError`` for bad arguments before anything runs.
    """
    _args.choice("scheme", scheme, SCHEMES)
    n_workers = _args.integer("n_workers", n_workers, 1)
    ticks = _args.integer("ticks", ticks, 0)
    batch_size = _args.integer("batch_size", batch_size, 1)
    tau = _args.integer("tau", tau, 1)
    eval_every = _args.integer("eval_every", eval_every or max(1, ticks // 10), 1)
    rng = _random.as_generator(seed)
    delay_of = _delay_fn(delay, n_workers, rng)
    alpha = 0.9 / n_workers if alpha is None else float(alpha)
    optimizer = {"async-adagrad": functools.partial(Adagrad, lr=lr),
                 "adarevision": functools.partial(AdaRevision, lr=lr),
                 "easgd": elastic_center,
                 "sync-sgd": functools.partial(Adagrad, lr=lr)}[scheme]
    if tables is None:
        tables = problem.initial()
    server = ParameterServer(tables, n_shards=n_shards, optimizer=optimizer)
    client = server.client()
    shards = [_workers.shard_of(problem.n_examples, w, n_workers) for w in range(n_workers)]
    streams = [_batch_stream(s, batch_size, seed, w) for w, s in enumerate(shards)]
    sim = _Sim(problem, client, scheme, n_workers, lr if worker_lr is None else worker_lr,
               tau, alpha, server)
    in_flight = []  # (arrival tick, send order, push)
    sent = 0
    out_ticks, losses = [], []
    for t in range(ticks):
        while in_flight and in_flight[0][0] <= t:
            sim.deliver(heapq.heappop(in_flight)[2])
        w = t % n_workers
        push = sim.work(w, next(streams[w]), t)
        if push is not None and scheme == "sync-sgd":
            sim.deliver(push)  # the round ends when every worker's gradient is in
        elif push is not None:
            heapq.heappush(in_flight, (t + delay_of(w), sent, push))
            sent += 1
        if (t + 1) % eval_every == 0 or t + 1 == ticks:
            out_ticks.append(t + 1)
            losses.append(problem.loss(server.tables()))
    staleness = float(np.mean(sim.staleness)) if sim.staleness else 0.0
    return SimulationResult(out_ticks, losses, staleness, server)


def _batch_stream(examples, batch_size, seed, worker):
    epoch = 0
    while True:
        yield from _workers.batches(examples, batch_size, seed, worker, epoch)
        epoch += 1


class _Sim:
    """The workers' side of each scheme."""

    def __init__(self, problem, client, scheme, n_workers, lr, tau, alpha, server):
        self.problem, self.client, self.scheme = problem, client, scheme
        self.n_workers, self.tau, self.alpha = n_workers, tau, alpha
        self.staleness = []
        self.names = [s[0] for s in client.specs]
        self.cache = {name: np.zeros((n, d), dtype) for name, n, d, dtype in client.specs}
        self.snaps = {name: np.zeros_like(a) for name, a in self.cache.items()}
        if scheme == "easgd":
            center = client.pull().values
            self.local = [{n: center[n].copy() for n in self.names} for _ in range(n_workers)]
            self.opts = [SGD([p[n] for n in self.names], lr=lr) for p in self.local]
            self.clock = [0] * n_workers
            from .easgd import EASGDWorker
            self._move = EASGDWorker.move
            self.diff = {n: np.empty_like(center[n]) for n in self.names}
        if scheme == "sync-sgd":
            self.round = []

    def _read(self, batch):
        snaps = self.snaps if self.client.needs_snapshot else None
        versions = _workers.fetch(self.client, self.problem, [batch], self.cache, snaps)
        # The gradient is computed at once from these rows (only its push is delayed),
        # so the shared cache can serve as every worker's view.
        return self.cache, versions, snaps

    def work(self, w, batch, t):
        """Worker ``w``'s tick: returns the push to deliver later, or ``None``."""
        if self.scheme == "easgd":
            return self._easgd(w, batch)
        params, versions, snaps = self._read(batch)
        _, grads = self.problem.gradient(batch, params)
        if self.scheme == "sync-sgd":
            self.round.append(grads)
            if len(self.round) < self.n_workers:
                return None
            grads, self.round = _mean(self.round), []
        push_snaps = None
        if snaps is not None:
            push_snaps = {n: (snaps[n][np.asarray(g.indices)] if isinstance(g, SparseGrad)
                              else snaps[n]) for n, g in grads.items()}
        return (grads, versions, push_snaps)

    def _easgd(self, w, batch):
        push = None
        if self.clock[w] % self.tau == 0:
            pulled = self.client.pull()
            holder = _Holder(self.local[w], self.diff, self.alpha, self.names)
            push = (self._move(holder, pulled.values), pulled.versions, None)
        _, grads = self.problem.gradient(batch, self.local[w])
        self.opts[w].step([grads.get(n) for n in self.names])
        self.clock[w] += 1
        return push

    def deliver(self, push):
        grads, versions, snaps = push
        acks = self.client.push(grads, versions, snaps)
        self.staleness.extend(a["staleness"] for a in acks)


class _Holder:
    """What :meth:`EASGDWorker.move` needs of a worker."""

    def __init__(self, params, diff, alpha, names):
        self.params, self.diff, self.alpha, self.names = params, diff, alpha, names
        self.backend = None


def _mean(grads_list):
    """The mean of the workers' gradients (sparse ones concatenated, values scaled)."""
    out = {}
    k = len(grads_list)
    for name in grads_list[0]:
        parts = [g[name] for g in grads_list]
        if isinstance(parts[0], SparseGrad):
            out[name] = SparseGrad(np.concatenate([np.asarray(p.indices, np.int64)
                                                   for p in parts]),
                                   np.concatenate([p.values for p in parts]) / parts[0]
                                   .values.dtype.type(k))
        else:
            total = parts[0].copy()
            for p in parts[1:]:
                total += p
            out[name] = total / total.dtype.type(k)
    return out
