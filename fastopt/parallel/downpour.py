r"""Downpour SGD (Dean et al., 2012, "Large Scale Distributed Deep Networks").

Asynchronous model replicas, each on its own shard of the data, talk to a
:class:`~fastopt.parallel.ParameterServer`: every ``n_fetch`` steps a replica pulls the
parameters it needs -- here only the rows the next ``n_fetch`` mini-batches read -- and
every ``n_push`` steps it pushes the gradients it accumulated since its last push (the
touched rows only, for sparse gradients).  In between it computes gradients on the
parameters it fetched last; a push travels while the replica computes on (one push in
flight per replica).  The server applies each push as it arrives with its
optimizer (Adagrad in the paper; :class:`~fastopt.parallel.AdaRevision` corrects for
the delays).  Nothing waits for anything: replicas never synchronise.

Example (``problem`` follows the protocol of :mod:`fastopt.parallel.workers`)::

    server = ParameterServer({"w": np.zeros((n_features, 1))}, n_shards=2)
    result = downpour(server, problem, n_workers=2, epochs=5, batch_size=64)
    w = server.tables()["w"]
"""
import time

import numpy as np

from ..optim.sparse import SparseGrad
from ..train import _args
from . import workers as _workers


class DownpourWorker:
    """One model replica: its data shard, its cache of the pulled rows, its pending
    gradients.  A plain class (an object on the local engine, an actor on Ray)."""

    def __init__(self, client, problem, worker, n_workers, batch_size, n_fetch, n_push,
                 seed):
        self.client, self.problem = client, problem
        self.worker, self.batch_size = worker, batch_size
        self.n_fetch, self.n_push, self.seed = n_fetch, n_push, seed
        self.examples = _workers.shard_of(problem.n_examples, worker, n_workers)
        self.cache = {name: np.zeros((n, d), dtype) for name, n, d, dtype in client.specs}
        self.snap_cache = {name: np.zeros_like(a) for name, a in self.cache.items()} \
            if client.needs_snapshot else None
        self.staleness = []
        self.in_flight = None
        self.incarnation = time.time_ns()

    def n_examples(self):
        return self.examples.size

    def stats(self):
        s = dict(self.client.stats)
        s["staleness_sum"] = int(sum(self.staleness))
        s["staleness_max"] = int(max(self.staleness, default=0))
        s["acks"] = len(self.staleness)
        return s

    def _push(self, pending, versions):
        grads, snaps = {}, ({} if self.snap_cache is not None else None)
        for name, parts in pending.items():
            if isinstance(parts[0], SparseGrad):
                indices = np.concatenate([np.asarray(p.indices, np.int64) for p in parts])
                values = np.concatenate([p.values.reshape(p.indices.shape[0], -1)
                                         for p in parts])
                # Coalesced here (as the server would: sums in order of appearance), so
                # that each touched row travels once.
                indices, inverse = np.unique(indices, return_inverse=True)
                summed = np.zeros((indices.size, values.shape[1]), values.dtype)
                np.add.at(summed, inverse.reshape(-1), values)
                grads[name] = SparseGrad(indices, summed)
                if snaps is not None:
                    snaps[name] = self.snap_cache[name][indices]
            else:
                total = parts[0].copy()
                for p in parts[1:]:
                    total += p
                grads[name] = total
                if snaps is not None:
                    snaps[name] = self.snap_cache[name].copy()
        self._settle()
        self.in_flight = self.client.push(grads, versions, snaps, wait=False)

    def _settle(self):
        """Wait for the push in flight (at most one per worker: the next one waits)."""
        if self.in_flight is not None:
            acks, self.in_flight = self.in_flight(), None
            self.staleness.extend(a["staleness"] for a in acks)

    def run_epoch(self, epoch):
        """One pass over the worker's shard; returns ``{"loss": summed loss}``."""
        group_of = _workers.batches(self.examples, self.batch_size, self.seed, self.worker,
                                    epoch)
        loss, pending, versions = 0.0, {}, None
        for i, batch in enumerate(group_of):
            if i % self.n_fetch == 0:
                versions = _workers.fetch(self.client, self.problem, group_of[i:i + self.n_fetch],
                                          self.cache, self.snap_cache)
            batch_loss, grads = self.problem.gradient(batch, self.cache)
            loss += float(batch_loss)
            for name, g in grads.items():
                pending.setdefault(name, []).append(g)
            if (i + 1) % self.n_push == 0 or i + 1 == len(group_of):
                if pending:
                    self._push(pending, versions)
                pending = {}
        self._settle()
        return {"loss": loss, "incarnation": self.incarnation}


class Result:
    """What a distributed run returns: ``losses`` (per epoch, the mean training loss as
    the workers saw it), ``seconds`` (per epoch), ``stats`` (the workers' traffic and
    staleness, summed), ``worker_restarts`` (Ray)."""

    def __init__(self, losses, seconds, stats, worker_restarts):
        self.losses, self.seconds = losses, seconds
        self.stats, self.worker_restarts = stats, worker_restarts

    def __repr__(self):
        return (f"Result(losses={self.losses}, seconds={[round(s, 3) for s in self.seconds]},"
                f" worker_restarts={self.worker_restarts})")


def downpour(server, problem, *, n_workers=2, epochs=1, batch_size=32, n_fetch=1, n_push=1,
             seed=0, callback=None, worker_restarts=-1, on_start=None):
    """Run Downpour SGD on ``server`` (see the module docstring); returns a :class:`Result`.

    Arguments: ``n_workers`` replicas (threads on the local engine, Ray actors on Ray);
    ``epochs``; ``batch_size``; ``n_fetch`` and ``n_push`` (steps between pulls, between
    pushes; 1 and 1: every step); ``seed`` of the batch orders;
    ``callback(epoch, loss, seconds)`` (``True`` stops); ``worker_restarts`` (Ray: how
    often a dead worker is restarted, -1 always); ``on_start(workers)`` is called once
    the workers exist (fault drills kill one from there).
    """
    n_workers = _args.integer("n_workers", n_workers, 1)
    epochs = _args.integer("epochs", epochs, 0)
    batch_size = _args.integer("batch_size", batch_size, 1)
    n_fetch = _args.integer("n_fetch", n_fetch, 1)
    n_push = _args.integer("n_push", n_push, 1)
    _args.integer("problem.n_examples", problem.n_examples, 0)
    replicas = _workers.make_workers(
        server, DownpourWorker,
        [(problem, w, n_workers, batch_size, n_fetch, n_push, seed) for w in range(n_workers)],
        restarts=worker_restarts)
    if on_start is not None:
        on_start(replicas)
    losses, seconds, restarts = _workers.run_epochs(server, replicas, epochs, callback)
    stats = _workers.stats_of(server, replicas)
    server.engine.close(replicas)
    return Result(losses, seconds, stats, restarts)
