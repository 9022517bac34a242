"""Downpour SGD on the local engine: deterministic with one worker, converging with
several, pulling and pushing only the touched rows, with n_fetch / n_push."""
import functools

import numpy as np
import pytest

import fastopt
from fastopt.parallel.adarevision import AdaRevision
from fastopt.parallel.downpour import downpour
from fastopt.parallel.server import ParameterServer

from conftest import bits

problems = pytest.importorskip("bench.parallel.problems")


@pytest.fixture(scope="module")
def problem():
    return problems.SparseLogisticProblem(problems.documents(n_docs=800, n_words=600,
                                                             mean_length=20, seed=3))


def _run(problem, n_workers, optimizer=None, **kw):
    server = ParameterServer(problem.initial(), n_shards=2,
                             optimizer=optimizer or functools.partial(fastopt.Adagrad, lr=0.1))
    result = downpour(server, problem, n_workers=n_workers, epochs=kw.pop("epochs", 3),
                      batch_size=16, **kw)
    return server, result


def test_one_worker_is_deterministic_and_learns(problem):
    a, ra = _run(problem, 1)
    b, rb = _run(problem, 1)
    np.testing.assert_array_equal(bits(a.tables()["w"]), bits(b.tables()["w"]))
    assert ra.losses == rb.losses
    assert ra.losses[-1] < 0.8 * ra.losses[0]
    assert ra.stats["staleness_max"] == 0


def test_two_workers_reach_the_one_worker_loss(problem):
    one, _ = _run(problem, 1)
    two, r = _run(problem, 2)
    assert problem.loss(two.tables()) == pytest.approx(problem.loss(one.tables()), rel=0.05)
    assert r.stats["acks"] > 0


def test_fetch_and_push_periods(problem):
    server, r = _run(problem, 1, n_fetch=3, n_push=2, epochs=1)
    n_batches = -(-problem.n_examples // 16)
    assert r.stats["pulls"] == -(-n_batches // 3)
    assert r.stats["pushes"] == -(-n_batches // 2)
    assert r.stats["staleness_max"] >= 1  # pushes between fetches are computed on old rows


def test_pushes_carry_only_touched_rows(problem):
    _, r = _run(problem, 1, epochs=1)
    # at most one (int64 index, float32 value) per word occurrence and bias, per push
    occurrences = problem.data.indices.size + r.stats["pushes"]
    assert 0 < r.stats["bytes_pushed"] <= occurrences * (8 + 4)
    assert r.stats["bytes_pulled"] <= occurrences * 4


def test_adarevision_server_trains(problem):
    server, r = _run(problem, 2, optimizer=functools.partial(AdaRevision, lr=0.1))
    assert r.losses[-1] < 0.8 * r.losses[0]
