"""Parallel and distributed SGD: threads in one process by default, Ray beyond one machine.

* :func:`hogwild` -- Hogwild! (Niu et al., 2011): the user's compiled, GIL-free
  per-example or per-mini-batch step on ``n_threads`` threads over shards of the data;
* :class:`ParameterServer` -- tables sharded by rows, pulls and pushes of the touched
  rows, any fastopt optimizer on the server, versions and staleness, checkpoints;
  ``engine="local"`` (threads) or ``engine="ray"`` (actors);
* :func:`downpour` -- Downpour SGD (Dean et al., 2012), with ``n_fetch`` / ``n_push``;
* :class:`AdaRevision` -- delay-tolerant Adagrad (McMahan & Streeter, 2014) as the
  server's optimizer;
* :func:`easgd` -- Elastic Averaging SGD (Zhang, Choromanska & LeCun, 2015):
  synchronous, asynchronous and EAMSGD, with :func:`elastic_center` on the server;
* :func:`simulate` -- N workers with delays, deterministically, in one process, on the
  same server code (convergence against staleness).

Imports point down only: :mod:`fastopt.train`, :mod:`fastopt.optim`,
:mod:`fastopt.backends`, :mod:`fastopt._internal`.  Ray is imported only when
``engine="ray"`` is asked for.
"""
from .adarevision import AdaRevision
from .downpour import DownpourWorker, Result, downpour
from .easgd import EASGDWorker, easgd, elastic_center
from .hogwild import hogwild
from .server import Client, ParameterServer, Pulled, Shard, StaleGradientError
from .simulate import SimulationResult, simulate

__all__ = ["hogwild", "ParameterServer", "Client", "Pulled", "Shard", "StaleGradientError",
           "downpour", "DownpourWorker", "Result", "AdaRevision", "easgd", "EASGDWorker",
           "elastic_center", "simulate", "SimulationResult"]
