r"""A genetic algorithm: a population-based random search by selection, crossover and
mutation (Holland, 1975; Goldberg, 1989), for real-valued vectors and bit strings.

One generation, for a population :math:`P` of ``population_size`` individuals with
fitness :math:`F` (higher is better; ``minimize=True`` maximizes :math:`-f`):

1. **elitism**: the ``elitism`` fittest individuals are copied unchanged;
2. **selection** of parents, with replacement:
   ``"tournament"`` -- the fittest of ``tournament_size`` individuals drawn uniformly;
   ``"roulette"`` -- fitness-proportional, :math:`P(i) = (F_i - \min F + \epsilon) /
   \sum_j (F_j - \min F + \epsilon)` (shifted so that any fitness scale works; an
   infinite fitness is never chosen);
3. **crossover** of consecutive parent pairs with probability ``crossover_rate``:
   ``"uniform"`` (each gene from either parent with probability 1/2), ``"one_point"``
   (genes after a random cut are swapped) or, for real vectors, ``"blend"``
   (BLX-:math:`\alpha`, Eshelman & Schaffer 1993: each child gene uniform in
   :math:`[\min - \alpha d, \max + \alpha d]`, :math:`d = |a - b|`, :math:`\alpha = 0.5`);
4. **mutation**, gene by gene with probability ``mutation_rate``: bit strings flip
   the bit; real vectors add :math:`N(0, (\sigma (u - l))^2)`, ``mutation_scale``
   :math:`\sigma` relative to the bounds :math:`[l, u]`, then clip to the bounds.

All randomness comes from one seeded :class:`numpy.random.Generator`, drawn by the
main thread in a fixed order; the operators are vectorized NumPy (no Python loop over
individuals or genes).  Only the fitness evaluation can run on several threads, and
each individual's fitness is computed by one thread from its genes alone, so **the same
seed gives the same run at any thread count**.

Fitness evaluation:

* a compiled numba function ``fitness(x) -> float`` (``@numba.njit(nogil=True)``) is
  evaluated by a compiled loop on ``n_threads`` Python threads, the GIL released;
* ``vectorized=True``: ``fitness(population) -> (population_size,)`` is called once per
  generation (a NumPy expression over the rows);
* otherwise ``fitness(x)`` is called per individual, in order.
"""
import concurrent.futures
from dataclasses import dataclass, field

import numpy as np

from .._internal import validation as check
from .._internal.random import as_generator
from ..backends import _dispatch
from ..train import _args

__all__ = ["GeneticAlgorithm", "GAResult"]


@dataclass
class GAResult:
    """What :meth:`GeneticAlgorithm.run` returns.

    ``x``: the best individual found (float64 genes, or uint8 bits); ``fitness`` its
    fitness as given by ``fitness`` (not negated with ``minimize``); ``n_generations``;
    ``n_evaluations`` fitness evaluations; ``best`` and ``mean``: the best and mean
    fitness of each generation (including the initial one).
    """
    x: np.ndarray
    fitness: float
    n_generations: int
    n_evaluations: int
    best: np.ndarray = field(repr=False)
    mean: np.ndarray = field(repr=False)


def _is_numba_function(f):
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return isinstance(f, CPUDispatcher)


_row_loop = None


def _compiled_row_loop():
    """``loop(f, population, out, lo, hi)``: ``out[i] = f(population[i])``, GIL released."""
    global _row_loop
    if _row_loop is None:
        import numba

        @numba.njit(nogil=True, cache=False)
        def loop(f, population, out, lo, hi):
            for i in range(lo, hi):
                out[i] = f(population[i])

        _row_loop = loop
    return _row_loop


class GeneticAlgorithm:
    """A genetic algorithm for real vectors or bit strings (see the module docstring).

    Args:
        fitness: ``fitness(x) -> float`` for one individual ``x`` (float64 array of
            ``n_genes``, or uint8 array of 0/1), or with ``vectorized=True``
            ``fitness(P) -> (N,)``.  Higher is better, unless ``minimize=True``.
        n_genes: int >= 1.
        encoding: ``"real"`` (default) or ``"binary"``.
        bounds: (low, high), arrays of ``n_genes`` or numbers; required for "real".
            The initial population is uniform in the bounds; mutations are clipped to
            them.
        population_size: int >= 2 (default 100).
        selection: ``"tournament"`` or ``"roulette"``.
        tournament_size: int >= 1 (default 3).
        crossover: ``"uniform"`` (default), ``"one_point"`` or ``"blend"`` (real only).
        crossover_rate: float in [0, 1] (default 0.9).
        mutation_rate: float in [0, 1] per gene (default ``1 / n_genes``).
        mutation_scale: float > 0 (default 0.1; real only).
        elitism: int in [0, population_size] (default 1).
        minimize: bool (default False).
        vectorized: bool (default False).
        n_threads: threads for a compiled (numba) fitness (default
            :func:`fastopt.get_num_threads`).  The result does not depend on it.
        seed: int, Generator, SeedSequence or None.

    Raises:
        TypeError: an argument of the wrong type (named), ``fitness`` returning a
            non-number.
        ValueError: an invalid setting (named), ``fitness`` returning the wrong shape or
            NaN.
    """

    def __init__(self, fitness, n_genes, *, encoding="real", bounds=None, population_size=100,
                 selection="tournament", tournament_size=3, crossover="uniform",
                 crossover_rate=0.9, mutation_rate=None, mutation_scale=0.1, elitism=1,
                 minimize=False, vectorized=False, n_threads=None, seed=None):
        if not callable(fitness):
            raise TypeError(f"fitness must be callable, got {type(fitness).__name__}")
        self.fitness = fitness
        self.n_genes = _args.integer("n_genes", n_genes, minimum=1)
        self.encoding = _args.choice("encoding", encoding, ("real", "binary"))
        self.population_size = _args.integer("population_size", population_size, minimum=2)
        self.selection = _args.choice("selection", selection, ("tournament", "roulette"))
        self.tournament_size = _args.integer("tournament_size", tournament_size, minimum=1)
        allowed = ("uniform", "one_point", "blend") if encoding == "real" else \
            ("uniform", "one_point")
        self.crossover = _args.choice("crossover", crossover, allowed)
        self.crossover_rate = _args.probability("crossover_rate", crossover_rate,
                                                one_allowed=True)
        if mutation_rate is None:
            mutation_rate = 1.0 / self.n_genes
        self.mutation_rate = _args.probability("mutation_rate", mutation_rate, one_allowed=True)
        self.mutation_scale = _args.positive("mutation_scale", mutation_scale)
        self.elitism = _args.integer("elitism", elitism, minimum=0)
        if self.elitism > self.population_size:
            raise ValueError(f"elitism must be <= population_size ({self.population_size}), "
                             f"got {self.elitism}")
        self.minimize = check.flag("minimize", minimize)
        self.vectorized = check.flag("vectorized", vectorized)
        self.n_threads = None if n_threads is None else _args.integer("n_threads", n_threads, 1)
        self.compiled = _is_numba_function(fitness) and not self.vectorized
        if self.encoding == "real":
            if bounds is None:
                raise ValueError("bounds=(low, high) is required for encoding='real'")
            self.low, self.high = self._bounds(bounds)
        elif bounds is not None:
            raise ValueError("bounds apply to encoding='real' only")
        self.rng = as_generator(seed)
        self.population = self._initial()
        self.n_evaluations = 0
        self.scores = self._evaluate(self.population)
        self.generation = 0

    def _bounds(self, bounds):
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise TypeError("bounds must be a pair (low, high)")
        low, high = (np.broadcast_to(np.asarray(b, dtype=np.float64), (self.n_genes,)).copy()
                     if np.ndim(b) in (0, 1) and np.size(b) in (1, self.n_genes)
                     else _bad_bounds(self.n_genes) for b in bounds)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError("bounds must be finite")
        if not (low < high).all():
            raise ValueError("bounds must have low < high for every gene")
        return low, high

    def _initial(self):
        shape = (self.population_size, self.n_genes)
        if self.encoding == "binary":
            return self.rng.integers(0, 2, size=shape, dtype=np.uint8)
        return self.low + (self.high - self.low) * self.rng.random(shape)

    # -- fitness ------------------------------------------------------------------------

    def _evaluate(self, population):
        """Scores (higher is better) of ``population``'s rows."""
        n = population.shape[0]
        if self.vectorized:
            values = np.asarray(self.fitness(population))
            if values.dtype.kind not in "fiu" or values.shape != (n,):
                raise ValueError(f"fitness(population) must return {n} real numbers, got "
                                 f"{values.dtype} of shape {values.shape}")
            values = values.astype(np.float64)
        elif self.compiled:
            values = np.empty(n, np.float64)
            loop = _compiled_row_loop()
            n_threads = self.n_threads or _dispatch.get_num_threads()
            n_threads = max(1, min(n_threads, n))
            if n_threads == 1:
                loop(self.fitness, population, values, 0, n)
            else:
                bounds = [(c * n // n_threads, (c + 1) * n // n_threads)
                          for c in range(n_threads)]
                with concurrent.futures.ThreadPoolExecutor(n_threads) as pool:
                    list(pool.map(lambda b: loop(self.fitness, population, values, *b), bounds))
        else:
            values = np.empty(n, np.float64)
            for i in range(n):
                values[i] = _args.metric("fitness(x)", self.fitness(population[i]))
        if np.isnan(values).any():
            raise ValueError(f"fitness returned NaN for individual "
                             f"{int(np.flatnonzero(np.isnan(values))[0])}")
        self.n_evaluations += n
        return -values if self.minimize else values

    # -- operators ----------------------------------------------------------------------

    def _select(self, scores, k):
        """Indices of ``k`` parents."""
        n = scores.size
        if self.selection == "tournament":
            entrants = self.rng.integers(0, n, size=(k, self.tournament_size))
            winner = np.argmax(scores[entrants], axis=1)
            return entrants[np.arange(k), winner]
        finite = np.isfinite(scores)
        low = float(np.min(scores[finite])) if finite.any() else 0.0
        base = np.where(finite, scores - low, 0.0)  # non-finite fitness: never chosen
        weights = base + (1e-12 + 1e-12 * float(np.max(base)))
        cumulative = np.cumsum(weights)
        u = self.rng.random(k) * cumulative[-1]
        return np.minimum(np.searchsorted(cumulative, u, side="right"), n - 1)

    def _crossover(self, a, b):
        """Children of the parent rows ``a`` and ``b`` (arrays of the same shape)."""
        m, g = a.shape
        mate = self.rng.random(m) < self.crossover_rate
        if self.crossover == "uniform":
            swap = (self.rng.random((m, g)) < 0.5) & mate[:, None]
        elif self.crossover == "one_point":
            cut = self.rng.integers(1, g, size=m) if g > 1 else np.ones(m, np.int64)
            swap = (np.arange(g)[None, :] >= cut[:, None]) & mate[:, None]
        else:  # blend (BLX-0.5)
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            d = hi - lo
            u1, u2 = self.rng.random((m, g)), self.rng.random((m, g))
            c1 = np.where(mate[:, None], lo - 0.5 * d + 2.0 * d * u1, a)
            c2 = np.where(mate[:, None], lo - 0.5 * d + 2.0 * d * u2, b)
            return np.clip(c1, self.low, self.high), np.clip(c2, self.low, self.high)
        return np.where(swap, b, a), np.where(swap, a, b)

    def _mutate(self, children):
        hit = self.rng.random(children.shape) < self.mutation_rate
        if self.encoding == "binary":
            return children ^ hit.astype(np.uint8)
        noise = self.rng.standard_normal(children.shape) * (self.mutation_scale *
                                                             (self.high - self.low))
        return np.clip(np.where(hit, children + noise, children), self.low, self.high)

    # -- the loop -----------------------------------------------------------------------

    def step(self):
        """One generation: elitism, selection, crossover, mutation, evaluation."""
        N = self.population_size
        elite = np.argsort(-self.scores, kind="stable")[:self.elitism]
        n_children = N - self.elitism
        n_pairs = (n_children + 1) // 2
        parents = self._select(self.scores, 2 * n_pairs)
        a, b = self.population[parents[0::2]], self.population[parents[1::2]]
        c1, c2 = self._crossover(a, b)
        children = np.empty((2 * n_pairs, self.n_genes), self.population.dtype)
        children[0::2], children[1::2] = c1, c2
        children = self._mutate(children[:n_children])
        scores = self._evaluate(children) if n_children else np.empty(0)
        self.population = np.concatenate([self.population[elite], children])
        self.scores = np.concatenate([self.scores[elite], scores])
        self.generation += 1

    def run(self, n_generations, *, target=None, callback=None):
        """Run ``n_generations`` generations (or until the best fitness reaches ``target``:
        ``>=`` it, or ``<=`` with ``minimize``); returns a :class:`GAResult`.

        ``callback(ga)`` is called after each generation; returning ``True`` stops.
        """
        n_generations = _args.integer("n_generations", n_generations, minimum=0)
        if target is not None:
            target = check.real("target", target)
        sign = -1.0 if self.minimize else 1.0
        best, mean = [self._best_score()], [self._mean_score()]
        for _ in range(n_generations):
            if target is not None and best[-1] * sign >= target * sign:
                break
            self.step()
            best.append(self._best_score())
            mean.append(self._mean_score())
            if callback is not None and callback(self):
                break
        i = int(np.argmax(self.scores))
        return GAResult(self.population[i].copy(), sign * float(self.scores[i]),
                        self.generation, self.n_evaluations, np.array(best), np.array(mean))

    def _best_score(self):
        return (-1.0 if self.minimize else 1.0) * float(np.max(self.scores))

    def _mean_score(self):
        return (-1.0 if self.minimize else 1.0) * float(np.mean(self.scores))

    def __repr__(self):
        return (f"GeneticAlgorithm(n_genes={self.n_genes}, encoding={self.encoding!r}, "
                f"population_size={self.population_size}, selection={self.selection!r}, "
                f"crossover={self.crossover!r}, generation={self.generation})")


def _bad_bounds(n):
    raise ValueError(f"bounds: low and high must be numbers or arrays of {n} (n_genes) values")
