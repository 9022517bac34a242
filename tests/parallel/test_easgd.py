"""EASGD: synchronous (deterministic), asynchronous and EAMSGD reach the single-process
SGD loss on the dense showcase; the centre moves by the workers' elastic pulls."""
import numpy as np
import pytest

import fastopt
from fastopt.parallel import workers as W
from fastopt.parallel.easgd import easgd, elastic_center
from fastopt.parallel.server import ParameterServer

from conftest import bits

problems = pytest.importorskip("bench.parallel.problems")
EPOCHS = 4


@pytest.fixture(scope="module")
def problem():
    return problems.SoftmaxProblem(n_examples=3000, n_features=16, n_classes=4, seed=1)


@pytest.fixture(scope="module")
def single_loss(problem):
    w = problem.initial()["W"]
    opt = fastopt.SGD(w, lr=0.05)
    for epoch in range(EPOCHS):
        for b in W.batches(np.arange(problem.n_examples), 32, 0, 0, epoch):
            opt.step(problem.gradient(b, {"W": w})[1]["W"])
    return problem.loss({"W": w})


def _run(problem, **kw):
    server = ParameterServer(problem.initial(), n_shards=2, optimizer=elastic_center)
    kw.setdefault("lr", 0.05)
    result = easgd(server, problem, n_workers=2, epochs=EPOCHS, batch_size=32, **kw)
    return server, result


@pytest.mark.parametrize("tau", [4, 16])
def test_async_easgd_reaches_the_single_process_loss(problem, single_loss, tau):
    server, result = _run(problem, tau=tau)
    assert problem.loss(server.tables()) <= single_loss * 1.02
    assert result.stats["pushes"] > 0


def test_sync_easgd_is_deterministic_and_converges(problem, single_loss):
    a, _ = _run(problem, tau=4, variant="sync")
    b, _ = _run(problem, tau=4, variant="sync")
    np.testing.assert_array_equal(bits(a.tables()["W"]), bits(b.tables()["W"]))
    assert problem.loss(a.tables()) <= single_loss * 1.02


def test_eamsgd_converges(problem, single_loss):
    server, _ = _run(problem, tau=8, momentum=0.9, lr=0.005)
    assert problem.loss(server.tables()) <= single_loss * 1.02


def test_elastic_center_adds_the_pushed_move_exactly():
    c = np.array([[1.0, -2.5], [0.1, 3.0]])
    d = np.array([[0.3, 0.7], [-1e-17, 2.0]])
    want = c + d
    elastic_center(c).step(d)
    np.testing.assert_array_equal(bits(c), bits(want))


def test_easgd_needs_the_elastic_server(problem):
    with pytest.raises(ValueError, match="elastic_center"):
        easgd(ParameterServer(problem.initial()), problem)
    server = ParameterServer(problem.initial(), optimizer=elastic_center)
    with pytest.raises(ValueError, match="tau"):
        easgd(server, problem, tau=0)
    with pytest.raises(ValueError, match="variant"):
        easgd(server, problem, variant="sometimes")
