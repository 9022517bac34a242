r"""Annealed Gaussian gradient noise (Neelakantan et al., 2015).

At step t (from 0) every gradient gets independent Gaussian noise:

.. math::

    g_t ← g_t + σ_t·z,   z ∼ N(0, I)
    σ_t² = η/(1 + t)^γ

with ``gamma`` γ = 0.55 and ``eta`` η chosen from
:data:`ETA_CHOICES` ``= (0.01, 0.3, 1.0)`` in the paper (default 0.01).  The noise
is drawn from a seeded :class:`numpy.random.Generator` in the gradient's dtype
(``standard_normal(dtype=...)``), multiplied by σ_t rounded to that
dtype, and added: ``noisy = g + sigma_t * z``.

Example::

    noise = fastopt.GradientNoise(eta=0.3, seed=0)
    for batch in sampler:
        loss, grads = objective(batch)
        opt.step(noise(grads))     # one call = one step t

The caller's gradients are not modified: the noisy gradients are written into
buffers the :class:`GradientNoise` owns and reuses from call to call (valid until
the next call).  With ``inplace=True`` the noise is added to the caller's arrays
instead (no buffer, and for sparse gradients the caller's ``values``).
"""
import math

import numpy as np

from . import _args
from .._internal import validation as check
from .._internal.random import as_generator
from ..optim.sparse import SparseGrad

__all__ = ["GradientNoise", "ETA_CHOICES", "noise_std"]

#: The values of η of Neelakantan et al. (2015).
ETA_CHOICES = (0.01, 0.3, 1.0)


def noise_std(t, eta=0.01, gamma=0.55):
    r"""σ_t = √(η / (1 + t)^γ), in double precision."""
    return math.sqrt(eta / (1.0 + t) ** gamma)


class GradientNoise:
    r"""Adds N(0, σ_t²) noise, σ_t² = η/(1+t)^γ,
    to gradients (see the module docstring).

    Arguments: ``eta`` η ≥ 0 (default 0.01), ``gamma`` γ ≥ 0
    (default 0.55), ``seed`` (int, Generator or None), ``inplace`` (default False:
    the result is written into reused buffers, the caller's gradients are left alone).

    Calling it with gradients -- one array, one :class:`~fastopt.SparseGrad`, or a
    list of them (``None`` entries are passed through) -- returns the noisy
    gradients in the same structure and advances ``t`` by one.

    Sparse gradients get noise on the rows they list, once per distinct row: for a
    row listed several times the noise is added to its first entry, so that after
    the optimizer sums the duplicates the row's gradient has variance
    σ_t², as a dense gradient's.  Rows not listed get no noise (a
    dense noise would make the gradient dense).

    Gradients keep their shapes and dtypes (float32 or float64); the noise is drawn in
    float64 from the seeded generator and rounded to the gradient's dtype.

    Raises:
        TypeError: a bad ``seed``, a gradient that is not an array or ``SparseGrad``.
        ValueError: a negative or non-finite ``eta`` or ``gamma``.

    Source: A. Neelakantan et al., "Adding Gradient Noise Improves Learning for Very
    Deep Networks", arXiv:1511.06807, 2015.
    """

    def __init__(self, eta=0.01, gamma=0.55, *, seed=None, inplace=False):
        self.eta = check.nonnegative("eta", eta)
        self.gamma = check.nonnegative("gamma", gamma)
        self.inplace = check.flag("inplace", inplace)
        self.rng = as_generator(seed)
        self.t = 0
        self._buffers = {}  # position -> (noisy buffer, noise buffer), reused across calls

    def std(self, t=None):
        r"""σ_t at step ``t`` (default: the next call's)."""
        t = self.t if t is None else _args.integer("t", t, 0)
        return noise_std(t, self.eta, self.gamma)

    def _buffer(self, key, shape, dtype):
        buffers = self._buffers.get(key)
        if buffers is None or buffers[0].shape != shape or buffers[0].dtype != dtype:
            buffers = self._buffers[key] = (np.empty(shape, dtype), np.empty(shape, dtype))
        return buffers

    def _rows_buffer(self, key, shape, dtype):
        """A ``shape`` view of a buffer that grows (never shrinks) with the number of rows."""
        key = ("rows", key)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape[1:] != shape[1:] or buffer.dtype != dtype or \
                buffer.shape[0] < shape[0]:
            capacity = max(shape[0], 2 * buffer.shape[0]) if buffer is not None and \
                buffer.shape[1:] == shape[1:] and buffer.dtype == dtype else shape[0]
            buffer = self._buffers[key] = np.empty((capacity,) + shape[1:], dtype)
        return buffer[:shape[0]]

    def _check(self, i, g):
        if isinstance(g, SparseGrad):
            values = g.values
            if not isinstance(values, np.ndarray) or values.dtype not in check.FLOAT_DTYPES:
                raise TypeError(f"grads[{i}].values must be a float32 or float64 array")
            if g.indices.ndim != 1 or g.indices.dtype.kind not in "iu" or \
                    values.ndim < 1 or values.shape[0] != g.indices.shape[0]:
                raise ValueError(f"grads[{i}] is not a valid SparseGrad: indices {g.indices.shape} "
                                 f"{g.indices.dtype}, values {values.shape}")
            target = values
        elif isinstance(g, np.ndarray):
            if g.dtype not in check.FLOAT_DTYPES:
                raise TypeError(f"grads[{i}] must have dtype float32 or float64, got {g.dtype}")
            target = g
        elif g is None:
            return
        else:
            raise TypeError(f"grads[{i}] must be a numpy.ndarray, a SparseGrad or None, got "
                            f"{type(g).__name__}")
        if self.inplace and not target.flags.writeable:
            raise ValueError(f"grads[{i}] is read-only but inplace=True adds the noise to it")

    def __call__(self, grads):
        single = isinstance(grads, (np.ndarray, SparseGrad))
        items = [grads] if single else grads
        try:
            items = list(items)
        except TypeError:
            raise TypeError(f"grads must be an array, a SparseGrad or a list of them, got "
                            f"{type(grads).__name__}") from None
        for i, g in enumerate(items):
            self._check(i, g)
        sigma = self.std()
        out = [self._noisy(i, g, sigma) for i, g in enumerate(items)]
        self.t += 1
        return out[0] if single else out

    def _noisy(self, i, g, sigma):
        if g is None:
            return None
        if isinstance(g, SparseGrad):
            return self._noisy_sparse(i, g, sigma)
        noisy, noise = self._buffer(i, g.shape, g.dtype)
        self.rng.standard_normal(dtype=g.dtype, out=noise)
        noise *= g.dtype.type(sigma)
        if self.inplace:
            g += noise
            return g
        np.add(g, noise, out=noisy)
        return noisy

    def _noisy_sparse(self, i, g, sigma):
        values = g.values
        _, first = np.unique(g.indices, return_index=True)
        first.sort()  # noise in order of first appearance
        noise = self.rng.standard_normal((first.size,) + values.shape[1:], dtype=values.dtype)
        noise *= values.dtype.type(sigma)
        if self.inplace:
            values[first] += noise
            return g
        noisy = self._rows_buffer(i, values.shape, values.dtype)
        np.copyto(noisy, values)
        noisy[first] += noise
        return SparseGrad(g.indices, noisy)

    def state_dict(self):
        """``t`` and the generator's state (to resume a run bit for bit)."""
        return {"t": self.t, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        if not isinstance(state, dict) or set(state) != {"t", "rng"}:
            raise ValueError("state must be a dict with the keys 't' and 'rng'")
        t = _args.integer("state['t']", state["t"], 0)
        self.rng.bit_generator.state = state["rng"]
        self.t = t

    def __repr__(self):
        return f"GradientNoise(eta={self.eta}, gamma={self.gamma}, t={self.t})"
