"""Adafactor."""
import numpy as np

from .._internal import validation as check
from ..backends import _dispatch
from .optimizer import Optimizer, _put, get_check_finite
from .sparse import SparseGrad


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018, "Adafactor: Adaptive Learning Rates with Sublinear
    Memory Cost"), as ``torch.optim.Adafactor``.

    Source: N. Shazeer, M. Stern, "Adafactor: Adaptive Learning Rates with Sublinear
    Memory Cost", ICML 2018; defaults and order of operations of
    ``torch.optim.Adafactor``.

    For a parameter of two or more dimensions the second moment is kept factored along
    its last two: a row statistic ``row_var`` (``shape[:-1] + (1,)``) and a column
    statistic ``col_var`` (``shape[:-2] + (1, shape[-1])``) instead of a full array;
    vectors keep ``variance``.  No first moment.  At step t, with β̂_t = t^c and
    ρ_t = min(η, 1/√t): see :func:`fastopt.backends.python.adafactor.adafactor` for the
    equations (PyTorch's order: relative step size from the RMS of the parameter, update
    clipped by its RMS).

    Every backend runs the step (reductions included) as one kernel: the NumPy reference
    writes each sum in an explicit order (see :mod:`fastopt.backends.python.adafactor`)
    that the numba and Cython kernels follow, so all three agree bit for bit, on any
    number of threads.  Float32/float64 parameters only.

    Sparse rows (:class:`~fastopt.SparseGrad`; fastopt's definition, torch has no sparse
    Adafactor): as for every rule, duplicates are summed first and the step is the dense
    step on ``table[u]``, ``u`` the distinct touched rows in increasing order and G their
    gradients -- the touched rows are the matrix.  So for a 2-D table ``(n, d)``, with the
    global step t:

    .. math::

        R_u ← R_u + β̂_t (mean_{-1}(G²) − R_u)
        C ← C + β̂_t (mean_u(G²) − C)          (the shared (1, d) column statistic)
        V̂ = R_u C / max(mean_u(R_u), ε_1),   U = G / √max(V̂, ε_1²)
        θ_u ← θ_u (1 − ηλ) − α/max(1, RMS(U)/d) · U,   α = max(ε_2, RMS(θ_u)) ρ_t

    (RMS over the touched rows).  A table of three or more dimensions ``(n, a, b)`` uses
    ``row_var[u]`` and ``col_var[u]``; a 1-D table ``variance[u]`` (lazy RMSprop).
    Untouched rows and their statistics are neither read nor written; a step listing
    every row once is bit for bit the dense step.  See :func:`fastopt.backends.python.
    adafactor.adafactor_sparse` and the sparse guide.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: η >= 0 (default 1e-2).
        beta2_decay: c <= 0 (default -0.8).
        eps: (ε_1, ε_2) (default (None, 1e-3); None is the dtype's machine epsilon).
        d: the clipping threshold, >= 1 (default 1.0).
        weight_decay: λ >= 0, decoupled (default 0).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``row_var`` and ``col_var``, or ``variance``; ``step``.

    Raises:
        TypeError: a parameter that is not float32/float64, ``eps`` not a pair, a
            non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        IndexError: a ``SparseGrad`` row outside ``[0, n_rows)`` (before any write).
        ValueError: ``lr``, an ``eps`` or ``weight_decay`` negative or not finite,
            ``beta2_decay`` > 0, ``d`` < 1.

    Conventions:
        * PyTorch's variant: the paper's relative step size and update clipping, no first
          moment, ε_1 inside the root as a floor on V̂.  Hugging Face's ``Adafactor``
          uses ``eps=(1e-30, 1e-3)``, ``decay_rate=-0.8`` and may add momentum; optax's
          ``adafactor`` defaults to ``decay_rate=0.8`` (1 − t^(−0.8)), the same schedule.
    """

    algorithm = "adafactor"

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                                      weight_decay=weight_decay, maximize=maximize),
                         backend=backend)
        for i, p in enumerate(self._params):
            if p.dtype not in check.FLOAT_DTYPES:
                raise TypeError(f"params[{i}]: Adafactor takes float32 or float64 parameters, "
                                f"got {p.dtype}")

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        group["beta2_decay"] = check.real(prefix + "beta2_decay", group["beta2_decay"])
        if group["beta2_decay"] > 0:
            raise ValueError(f"{prefix}beta2_decay must be <= 0, got {group['beta2_decay']}")
        eps = group["eps"]
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise TypeError(f"{prefix}eps must be a pair (eps1 or None, eps2), got {eps!r}")
        eps1 = None if eps[0] is None else check.nonnegative(prefix + "eps[0]", eps[0])
        group["eps"] = (eps1, check.nonnegative(prefix + "eps[1]", eps[1]))
        group["d"] = check.real(prefix + "d", group["d"])
        if group["d"] < 1:
            raise ValueError(f"{prefix}d must be >= 1, got {group['d']}")
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])

    def _state_arrays_all(self):
        return [("row_var", 0.0), ("col_var", 0.0), ("variance", 0.0)]

    def _state_arrays(self, group):
        return self._state_arrays_all()

    def _may_create_later(self, missing):
        return True  # which statistics exist depends on the parameter's dimensions

    def _state_shape(self, group, name, p):
        if name == "row_var":
            return p.shape[:-1] + (1,) if p.ndim > 1 else (0,)
        if name == "col_var":
            return p.shape[:-2] + (1, p.shape[-1]) if p.ndim > 1 else (0,)
        return p.shape if p.ndim <= 1 else (0,)

    def _new_state_array(self, group, p, name, init):
        return np.full(self._state_shape(group, name, p), init, p.dtype)

    def step(self, grads):
        """Update every parameter in place: dense gradients, :class:`~fastopt.SparseGrad`
        (the dense step on the touched rows, see the class docstring) or ``None`` (skip).

        Everything is checked before anything is written (see
        :meth:`fastopt.Optimizer.step`).
        """
        grads = self._grads_list(grads)
        params = self._params
        for i, g in enumerate(grads):
            if isinstance(g, SparseGrad):
                check.sparse_gradient(g, params[i], i, check_alias=False)
                self._refuse_alias(g.values, f"grads[{i}].values")
                self._refuse_alias(g.indices, f"grads[{i}].indices")
            elif g is not None:
                check.gradient(g, params[i], i)
                self._refuse_alias(g, f"grads[{i}]")
        if self.check_finite or (self.check_finite is None and get_check_finite()):
            self._refuse_non_finite(grads)
        self._recheck_groups()
        for i, g in enumerate(grads):
            if g is None:
                continue
            p, group, state = params[i], self._group_of[i], self._states[i]
            if not state:
                _put(state, "step", 0)
            for name, _ in self._state_arrays_all():
                if self._state_shape(group, name, p) != (0,) and name not in state:
                    _put(state, name, self._new_state_array(group, p, name, 0.0))
                    self._occupied = None
            _put(state, "step", state["step"] + 1)
            empty = np.empty(0, p.dtype)
            statistics = [state.get(name, empty) for name in ("row_var", "col_var", "variance")]
            scalars = self._step_scalars(group, state["step"], p.dtype)
            if isinstance(g, SparseGrad):
                table = p.reshape(p.shape[0], -1)
                k, width = g.indices.shape[0], table.shape[1]
                workspace = self._workspace(i, table.shape[0], k, width, p.dtype)
                self._kernel("adafactor_sparse")(
                    table, g.indices, g.values.reshape(k, width), *statistics, *scalars,
                    *workspace, _dispatch.threads_for(k * width))
            else:
                self._kernel("adafactor")(p, g, *statistics, *scalars,
                                          _dispatch.threads_for(p.size))

    def step_scalars(self, step, dtype, group=0):
        """The scalars of the kernels at step ``step`` (from 1) for parameters of
        ``dtype`` in ``param_groups[group]``: ``(β̂_t, ρ_t, ε_1, ε_2, d, 1 − ηλ,
        maximize)``, Python floats and a bool (for users' own loops over rows: see
        ``fastopt/backends/cython/adafactor.pxd`` and the update-rules guide)."""
        return self._step_scalars(self.param_groups[group], step, np.dtype(dtype))

    @staticmethod
    def _step_scalars(group, t, dtype):
        lr = group["lr"]
        eps1, eps2 = group["eps"]
        return (float(t) ** group["beta2_decay"], min(lr, 1.0 / t ** 0.5),
                float(np.finfo(dtype).eps) if eps1 is None else eps1, eps2, group["d"],
                1.0 - lr * group["weight_decay"], group["maximize"])
