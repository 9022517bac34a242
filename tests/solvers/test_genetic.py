"""The genetic algorithm: reproducible (same seed, any thread count, any evaluation path),
operators doing what they say, finding known optima; bad input."""
import numpy as np
import pytest

import fastopt

numba = pytest.importorskip("numba")


@numba.njit(nogil=True)
def rastrigin(x):
    s = 10.0 * x.size
    for v in x:
        s += v * v - 10.0 * np.cos(2.0 * np.pi * v)
    return s


def rastrigin_rows(P):
    return np.array([rastrigin(p) for p in P])


def _ga(fitness, **kw):
    args = dict(n_genes=4, bounds=(-5.12, 5.12), population_size=40, minimize=True, seed=3)
    args.update(kw)
    return fastopt.GeneticAlgorithm(fitness, **args)


def test_same_seed_same_run_at_any_thread_count_and_evaluation_path():
    runs = [_ga(rastrigin, n_threads=t).run(15) for t in (1, 2, 3)]
    runs.append(_ga(rastrigin_rows, vectorized=True).run(15))
    runs.append(_ga(lambda x: rastrigin(x)).run(15))
    for r in runs[1:]:
        assert np.array_equal(r.x, runs[0].x) and np.array_equal(r.best, runs[0].best)
    other = _ga(rastrigin, seed=4).run(15)
    assert not np.array_equal(other.best, runs[0].best)


@pytest.mark.parametrize("selection", ["tournament", "roulette"])
@pytest.mark.parametrize("crossover", ["uniform", "one_point", "blend"])
def test_real_encoding_improves_and_keeps_the_elite(selection, crossover):
    ga = _ga(rastrigin, selection=selection, crossover=crossover, population_size=60,
             elitism=2, mutation_rate=0.3)
    res = ga.run(40)
    assert np.all(np.diff(res.best) <= 0)  # elitism: the best never gets worse
    assert res.best[-1] < res.best[0]
    assert np.all(ga.population >= -5.12) and np.all(ga.population <= 5.12)
    assert res.fitness == pytest.approx(rastrigin(res.x))


def test_finds_the_global_minimum_of_rastrigin_in_2d():
    res = _ga(rastrigin, n_genes=2, population_size=150, mutation_rate=0.3).run(150)
    assert res.fitness < 1e-2 and np.all(np.abs(res.x) < 1e-2)


@pytest.mark.parametrize("selection", ["tournament", "roulette"])
def test_binary_one_max(selection):
    ga = fastopt.GeneticAlgorithm(lambda b: float(b.sum()), 24, encoding="binary",
                                  selection=selection, population_size=50, seed=1)
    res = ga.run(80, target=24)
    assert res.x.dtype == np.uint8 and set(np.unique(ga.population)) <= {0, 1}
    assert res.fitness == 24 and res.x.sum() == 24


def test_roulette_selects_in_proportion():
    ga = fastopt.GeneticAlgorithm(lambda b: float(b.sum()), 3, encoding="binary",
                                  selection="roulette", population_size=3, seed=0)
    counts = np.bincount(ga._select(np.array([1.0, 2.0, 4.0]), 30000), minlength=3)
    # shifted by the minimum: weights ~ (0, 1, 3)
    np.testing.assert_allclose(counts / 30000, [0, 0.25, 0.75], atol=0.02)


def test_without_mutation_or_crossover_genes_come_from_the_initial_population():
    ga = fastopt.GeneticAlgorithm(lambda b: float(b.sum()), 10, encoding="binary",
                                  crossover_rate=0.0, mutation_rate=0.0, seed=2,
                                  population_size=20)
    rows = {tuple(r) for r in ga.population}
    ga.run(5)
    assert {tuple(r) for r in ga.population} <= rows


def test_run_callback_and_counts():
    ga = _ga(rastrigin)
    res = ga.run(10, callback=lambda g: g.generation == 3)
    assert res.n_generations == 3 and res.n_evaluations == 40 + 3 * 39


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(fitness=3), TypeError, "fitness"),
    (dict(n_genes=0), ValueError, "n_genes"),
    (dict(bounds=None), ValueError, "bounds"),
    (dict(bounds=(1.0, 0.0)), ValueError, "low < high"),
    (dict(bounds=(np.zeros(3), 1.0)), ValueError, "bounds"),
    (dict(bounds=(-np.inf, 1.0)), ValueError, "finite"),
    (dict(encoding="gray"), ValueError, "encoding"),
    (dict(encoding="binary", bounds=(0, 1)), ValueError, "bounds"),
    (dict(encoding="binary", bounds=None, crossover="blend"), ValueError, "crossover"),
    (dict(population_size=1), ValueError, "population_size"),
    (dict(selection="rank"), ValueError, "selection"),
    (dict(crossover_rate=1.5), ValueError, "crossover_rate"),
    (dict(mutation_rate=-0.1), ValueError, "mutation_rate"),
    (dict(mutation_scale=0.0), ValueError, "mutation_scale"),
    (dict(elitism=41), ValueError, "elitism"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(fitness=lambda x: "bad"), TypeError, "fitness"),
    (dict(fitness=lambda x: float("nan")), ValueError, "NaN"),
    (dict(fitness=lambda P: np.zeros(3), vectorized=True), ValueError, "40 real numbers"),
])
def test_bad_input(kwargs, error, match):
    args = dict(fitness=rastrigin)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        _ga(args.pop("fitness"), **args)
