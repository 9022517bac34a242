"""Seeded random generators for the training toolkit (never NumPy's global state).

Every component that draws random numbers (batch order, curriculum mixing,
gradient noise, dropout masks, gradient-check sampling) takes ``seed``: an
integer, a :class:`numpy.random.SeedSequence`, a :class:`numpy.random.Generator`
(used as is, so several components can share one stream), or ``None`` (fresh
entropy from the operating system: not reproducible).
"""
import numbers

import numpy as np


def as_generator(seed, name="seed"):
    """A :class:`numpy.random.Generator` for ``seed`` (see the module docstring)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.RandomState):
        raise TypeError(f"{name} must be an int, a numpy.random.Generator, a SeedSequence or "
                        f"None; the legacy RandomState is not supported "
                        f"(use numpy.random.default_rng)")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int, a numpy.random.Generator, a SeedSequence or "
                        f"None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))
