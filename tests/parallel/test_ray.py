"""The Ray engine on a local Ray cluster (2 CPUs, no dashboard, a small object store):
the same pushes in the same order give the same bits as the local engine; Downpour runs
on actors; a killed worker rejoins, a killed shard restarts from its checkpoint and loses
at most the pushes since; a Ray checkpoint resumes on the local engine."""
import functools
import os
import pathlib
import numpy as np
import pytest

import fastopt
from fastopt import SparseGrad
from fastopt.parallel import AdaRevision, ParameterServer, downpour, easgd, elastic_center

from conftest import bits

ray = pytest.importorskip("ray")
problems = pytest.importorskip("bench.parallel.problems")
ROOT = str(pathlib.Path(__file__).resolve().parents[2])


@pytest.fixture(scope="module", autouse=True)
def cluster():
    # Ray's worker processes import fastopt and the test problems from this checkout.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = ROOT + (os.pathsep + old if old else "")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024**2,
             log_to_driver=False)
    yield
    ray.shutdown()
    if old is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def problem():
    return problems.SparseLogisticProblem(problems.documents(n_docs=600, n_words=400,
                                                             mean_length=15, seed=4))


def _schedule(seed=0):
    rng = np.random.default_rng(seed)
    tables = {"emb": rng.standard_normal((31, 3)).astype(np.float32),
              "dense": rng.standard_normal((4, 2))}
    pushes = [{"emb": SparseGrad(rng.integers(0, 31, 5), rng.standard_normal((5, 3))
                                 .astype(np.float32)), "dense": rng.standard_normal((4, 2))}
              for _ in range(6)]
    return tables, pushes


@pytest.mark.parametrize("optimizer", [None, functools.partial(AdaRevision, lr=0.1)],
                         ids=["adagrad", "adarevision"])
def test_same_pushes_same_order_same_bits_on_both_engines(optimizer):
    tables, pushes = _schedule()
    out = {}
    for engine in ("local", "ray"):
        server = ParameterServer(tables, n_shards=2, engine=engine, optimizer=optimizer)
        pulled = [server.pull({"emb": g["emb"].indices, "dense": None}) for g in pushes[:2]]
        for g, p in zip(pushes, pulled + [None] * 4):  # two stale pushes, then fresh ones
            p = p or server.pull({"emb": g["emb"].indices, "dense": None})
            server.push(g, p.versions, p.snapshots)
        out[engine] = server.tables()
        server.close()
    for k in tables:
        np.testing.assert_array_equal(bits(out["ray"][k]), bits(out["local"][k]))


def test_downpour_on_actors_one_worker_equals_local(problem):
    opt = functools.partial(fastopt.Adagrad, lr=0.1)
    local = ParameterServer(problem.initial(), n_shards=2, optimizer=opt)
    downpour(local, problem, n_workers=1, epochs=1, batch_size=32)
    remote = ParameterServer(problem.initial(), n_shards=2, optimizer=opt, engine="ray")
    downpour(remote, problem, n_workers=1, epochs=1, batch_size=32)
    np.testing.assert_array_equal(bits(remote.tables()["w"]), bits(local.tables()["w"]))
    remote.close()


def test_easgd_on_actors():
    problem = problems.SoftmaxProblem(n_examples=1000, n_features=8, n_classes=3)
    losses = {}
    for engine in ("local", "ray"):
        server = ParameterServer(problem.initial(), n_shards=1, optimizer=elastic_center,
                                 engine=engine)
        start = problem.loss(server.tables())
        easgd(server, problem, n_workers=2, epochs=2, tau=4, lr=0.05, variant="sync")
        losses[engine] = problem.loss(server.tables())
        server.close()
    assert losses["ray"] < start
    assert losses["ray"] == losses["local"]  # synchronous EASGD is deterministic


def test_killed_worker_and_shard_come_back_and_training_completes(problem, tmp_path):
    every = 5
    server = ParameterServer(problem.initial(), n_shards=2, engine="ray",
                             optimizer=functools.partial(fastopt.Adagrad, lr=0.1),
                             checkpoint_dir=tmp_path, checkpoint_every=every)
    workers, at_kill = [], {}

    def kill_both(epoch, loss, seconds):
        if epoch == 1:  # mid-run: two epochs to go
            at_kill.update(server.info()[1])
            ray.kill(workers[0], no_restart=False)
            server.kill_shard(1)

    result = downpour(server, problem, n_workers=2, epochs=3, batch_size=16,
                      on_start=workers.extend, callback=kill_both)
    assert len(result.losses) == 3 and result.losses[-1] < result.losses[0]
    info = server.info()[1]
    assert info["incarnation"] != at_kill["incarnation"]  # shard 1 was restarted ...
    # ... from the checkpoint on disk at the kill: nothing acknowledged before it is lost
    assert info["restored_from"] == at_kill["checkpoint_version"]
    lost = at_kill["version"] - at_kill["checkpoint_version"]
    assert 0 <= lost <= every - 1  # what was lost is bounded by the checkpoint interval ...
    assert result.stats["lost_updates"] == info["lost_updates"] == lost  # ... and reported
    assert result.stats["shard_restarts"] == info["restarts"] == 1
    assert result.worker_restarts == 1  # worker 0 came back (a new incarnation) and rejoined
    server.close()


def test_ray_checkpoint_resumes_on_the_local_engine(tmp_path):
    tables, pushes = _schedule(1)
    server = ParameterServer(tables, n_shards=2, engine="ray", checkpoint_dir=tmp_path)
    for g in pushes[:3]:
        server.push(g, server.versions())
    server.checkpoint()
    saved = server.tables()
    server.close()
    resumed = ParameterServer.resume(tmp_path, n_shards=2, engine="local")
    for k, v in saved.items():
        np.testing.assert_array_equal(bits(resumed.tables()[k]), bits(v))
    assert resumed.versions() == [3, 3]
