"""The simulator: deterministic, staleness as configured, and the delay-tolerance result
it exists to show (AdaRevision beats plain async Adagrad at large delays)."""
import numpy as np
import pytest

from fastopt.parallel.simulate import simulate

problems = pytest.importorskip("bench.parallel.problems")


@pytest.fixture(scope="module")
def problem():
    return problems.SparseLogisticProblem(problems.documents(n_docs=1500, n_words=1500,
                                                             mean_length=25, seed=5))


def test_deterministic(problem):
    a = simulate(problem, "adarevision", n_workers=8, delay=20, ticks=200, seed=3)
    b = simulate(problem, "adarevision", n_workers=8, delay=20, ticks=200, seed=3)
    assert a.losses == b.losses and a.ticks == b.ticks


def test_staleness_follows_the_delay(problem):
    for d in (0, 30):
        r = simulate(problem, "async-adagrad", n_workers=4, delay=d, ticks=200)
        assert abs(r.staleness - d * (200 - d) / 200) <= 1.0  # the last d pushes never land
    assert simulate(problem, "sync-sgd", n_workers=4, delay=50, ticks=200).staleness == 0
    per_worker = simulate(problem, "async-adagrad", n_workers=2, delay=[0, 10], ticks=100)
    drawn = simulate(problem, "async-adagrad", n_workers=2, ticks=100,
                     delay=lambda rng: int(rng.integers(0, 3)))
    assert 0 < per_worker.staleness < 10 and 0 < drawn.staleness < 3


def test_adarevision_beats_async_adagrad_at_large_delay(problem):
    kw = dict(n_workers=16, delay=150, ticks=700, batch_size=16, lr=0.3)
    plain = simulate(problem, "async-adagrad", **kw)
    revised = simulate(problem, "adarevision", **kw)
    assert revised.losses[-1] < 0.8 * plain.losses[-1]
    no_delay = simulate(problem, "async-adagrad", **dict(kw, delay=0))
    assert no_delay.losses[-1] < plain.losses[-1]  # delay hurts plain Adagrad


@pytest.mark.parametrize("scheme", ["easgd", "sync-sgd"])
def test_other_schemes_learn(problem, scheme):
    r = simulate(problem, scheme, n_workers=4, delay=5, ticks=300, lr=0.3, worker_lr=0.01)
    assert r.losses[-1] < np.log(2)


def test_bad_arguments(problem):
    with pytest.raises(ValueError, match="scheme"):
        simulate(problem, "hogwild")
    with pytest.raises(ValueError, match="delay"):
        simulate(problem, "async-adagrad", n_workers=2, delay=[1, 2, 3])
    with pytest.raises(ValueError, match="delay"):
        simulate(problem, "async-adagrad", delay=-1)
