"""Elastic Averaging SGD (Zhang, Choromanska & LeCun, 2015, "Deep learning with Elastic
Averaging SGD"): synchronous and asynchronous EASGD, and EAMSGD.

Each of p workers keeps its own parameters x^i and runs SGD on its data shard; a
centre variable x̃ lives on the parameter server.  Every τ local steps (the
communication period, ``tau``) worker i and the centre pull on each other with an
elastic force of moving rate α (``alpha``; the paper's η·ρ):

.. math::

    δ^i = α·(x^i − x̃)
    x^i ← x^i − δ^i
    x̃ ← x̃ + δ^i

-- the fused ``easgd`` kernel computes the worker's side and δ^i, the server adds δ^i
to the centre (its optimizer is :func:`elastic_center`).

* ``variant="async"`` (Algorithm 2): each worker pulls the centre, moves, and pushes
  δ^i when its own clock says so; nobody waits.
* ``variant="sync"`` (Algorithm 1 / Eq. 5-6): in rounds of τ local steps, all
  workers move against the *same* centre, which then receives the sum of the δ^i in
  worker order: x̃ ← x̃ + α·Σ_i (x^i − x̃), i.e. β = p·α in the paper's notation.
* ``momentum=δ`` gives EAMSGD (Algorithm 3): the local steps use Nesterov momentum
  (``fastopt.SGD(lr, momentum=δ, nesterov=True)``).

The paper's suggested β = 0.9 gives the default ``alpha = 0.9 / n_workers``.
The result is the centre variable (``server.tables()``).
"""
import threading
import time

import numpy as np

from ..backends import _dispatch
from ..optim.optimizer import _rounded
from ..optim.sgd import SGD
from ..train import _args
from .._internal import validation as check
from . import workers as _workers
from .downpour import Result


def elastic_center(params):
    """The server-side rule of EASGD: add each pushed δ to the centre x̃.

    ``fastopt.SGD(lr=1, maximize=True)``: x̃ − 1·(−δ), which is x̃ + δ exactly (negation
    and multiplication by 1 are exact).

    Args:
        params: the centre's tables, as for :class:`fastopt.SGD`.

    Raises:
        TypeError, ValueError: bad parameters, as :class:`fastopt.SGD`.
    """
    return SGD(params, lr=1.0, maximize=True)


class EASGDWorker:
    """One EASGD worker: its parameters (starting at the centre), its local optimizer,
    its clock.  A plain class (an object on the local engine, an actor on Ray)."""

    def __init__(self, client, problem, worker, n_workers, batch_size, tau, alpha, lr,
                 momentum, seed, backend):
        self.client, self.problem, self.worker = client, problem, worker
        self.batch_size, self.tau, self.alpha, self.seed = batch_size, tau, alpha, seed
        self.backend = backend
        self.examples = _workers.shard_of(problem.n_examples, worker, n_workers)
        self.names = [s[0] for s in client.specs]
        center = client.pull().values
        self.params = {name: np.ascontiguousarray(center[name]) for name in self.names}
        self.diff = {name: np.empty_like(a) for name, a in self.params.items()}
        arrays = [self.params[n] for n in self.names]
        self.optimizer = SGD(arrays, lr=lr, momentum=momentum or 0.0,
                             nesterov=bool(momentum), backend=backend)
        self.clock = 0
        self.incarnation = time.time_ns()

    def n_examples(self):
        return self.examples.size

    def stats(self):
        return dict(self.client.stats)

    def move(self, center):
        """The worker's side of the elastic update against ``center`` (``{name: array}``);
        returns the δ of every table."""
        kernel = _dispatch.kernel(self.backend or _dispatch.get_backend(), "easgd")
        for name in self.names:
            p = self.params[name]
            (alpha,) = _rounded((self.alpha,), p.dtype)
            kernel(p.reshape(-1), np.ascontiguousarray(center[name], p.dtype).reshape(-1),
                   self.diff[name].reshape(-1), alpha, _dispatch.threads_for(p.size))
        return {name: d.copy() for name, d in self.diff.items()}

    def _local_step(self, batch):
        loss, grads = self.problem.gradient(batch, self.params)
        self.optimizer.step([grads.get(n) for n in self.names])
        self.clock += 1
        return float(loss)

    def run_epoch(self, epoch):
        """Asynchronous EASGD over the worker's shard (Algorithm 2)."""
        loss = 0.0
        for batch in _workers.batches(self.examples, self.batch_size, self.seed, self.worker,
                                      epoch):
            if self.clock % self.tau == 0:
                pulled = self.client.pull()
                self.client.push(self.move(pulled.values), pulled.versions)
            loss += self._local_step(batch)
        return {"loss": loss, "incarnation": self.incarnation}

    def local_steps(self, epoch, first, count):
        """Synchronous EASGD: the local steps on batches ``[first, first + count)`` of the
        epoch; returns their summed loss."""
        group = _workers.batches(self.examples, self.batch_size, self.seed, self.worker,
                                 epoch)[first:first + count]
        return sum(self._local_step(b) for b in group)

    def n_batches(self):
        return -(-self.examples.size // self.batch_size)


def easgd(server, problem, *, n_workers=2, epochs=1, batch_size=32, tau=4, alpha=None,
          lr=0.01, momentum=None, variant="async", seed=0, callback=None, backend=None,
          worker_restarts=-1):
    """Run EASGD / EAMSGD (see the module docstring); returns a
    :class:`~fastopt.parallel.downpour.Result` (the losses are the workers' training
    losses; the model is the centre, ``server.tables()``).

    Source: S. Zhang, A. Choromanska, Y. LeCun, "Deep learning with Elastic Averaging
    SGD", NeurIPS 2015.  Every ``tau`` local steps worker i and the centre x̃ pull on
    each other:

    .. math::

        δ^i = α·(x^i − x̃)
        x^i ← x^i − δ^i
        x̃ ← x̃ + δ^i

    Args:
        server: a :class:`~fastopt.parallel.ParameterServer` with :func:`elastic_center`
            as its optimizer, holding the initial centre.
        problem: an object with ``n_examples`` and ``gradient(batch, params)`` (see
            :func:`~fastopt.parallel.downpour`).
        n_workers: p >= 1 (default 2).
        epochs: >= 0 (default 1).
        batch_size: >= 1 (default 32).
        tau: the communication period τ >= 1 (default 4).
        alpha: the moving rate α in [0, 1] (default 0.9/p, the paper's β = 0.9).
        lr: the workers' SGD learning rate η >= 0 (default 0.01).
        momentum: the Nesterov momentum δ of EAMSGD, in [0, 1) (``None``: EASGD).
        variant: ``"async"`` (default) or ``"sync"``.
        seed: the seed of the mini-batch order (default 0).
        callback: ``callback(epoch, loss, seconds)`` after each epoch (``True`` stops),
            optional.
        backend: the kernels' backend (``None``: :func:`fastopt.get_backend`).
        worker_restarts: how often a killed worker is restarted on Ray (-1: always).

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an argument out of range, an unknown ``variant``, a server whose
            optimizer is not :func:`elastic_center`.
    """
    n_workers = _args.integer("n_workers", n_workers, 1)
    epochs = _args.integer("epochs", epochs, 0)
    batch_size = _args.integer("batch_size", batch_size, 1)
    tau = _args.integer("tau", tau, 1)
    alpha = 0.9 / n_workers if alpha is None else check.in_range("alpha", alpha, 0.0, 1.0,
                                                                   high_inclusive=True)
    lr = check.nonnegative("lr", lr)
    if momentum is not None:
        momentum = check.in_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
    _args.choice("variant", variant, ("async", "sync"))
    if server.optimizer is not elastic_center:
        raise ValueError("the server of EASGD must hold the centre with "
                         "optimizer=fastopt.parallel.elastic_center")
    replicas = _workers.make_workers(
        server, EASGDWorker,
        [(problem, w, n_workers, batch_size, tau, alpha, lr, momentum, seed, backend)
         for w in range(n_workers)], restarts=worker_restarts)
    if variant == "async":
        losses, seconds, restarts = _workers.run_epochs(server, replicas, epochs, callback)
    else:
        losses, seconds = _sync_epochs(server, replicas, epochs, tau, callback)
        restarts = 0
    stats = _workers.stats_of(server, replicas)
    server.engine.close(replicas)
    return Result(losses, seconds, stats, restarts)


def _sync_epochs(server, replicas, epochs, tau, callback):
    """Synchronous EASGD: rounds of ``tau`` local steps on every worker (in parallel),
    then every worker moves against the same centre, and the centre takes the sum of
    the moves in worker order."""
    engine = server.engine
    local = engine.name == "local"

    def call(method, args_of):
        if local:
            out, threads = [None] * len(replicas), []
            for i, w in enumerate(replicas):
                th = threading.Thread(target=lambda i=i, w=w: out.__setitem__(
                    i, getattr(w, method)(*args_of(i))), daemon=True)
                th.start()
                threads.append(th)
            for th in threads:
                th.join()
            if any(o is None for o in out):
                raise RuntimeError(f"a worker failed in {method}")
            return out
        return engine.call_all([(w, method, args_of(i)) for i, w in enumerate(replicas)])

    sizes = call("n_examples", lambda i: ())
    n_batches = max(call("n_batches", lambda i: ()))
    losses, times = [], []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        total = 0.0
        for first in range(0, n_batches, tau):
            pulled = server.pull()
            diffs = call("move", lambda i: (pulled.values,))
            for d in diffs:  # worker order: a deterministic sum
                server.push(d, server.versions())
            total += sum(call("local_steps", lambda i: (epoch, first, tau)))
        seconds = time.perf_counter() - t0
        losses.append(total / max(sum(sizes), 1))
        times.append(seconds)
        if callback is not None and callback(epoch + 1, losses[-1], seconds) is True:
            break
    return losses, times
