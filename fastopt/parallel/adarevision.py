"""Delay-tolerant Adagrad: AdaptiveRevision (McMahan & Streeter, 2014), as a server rule.

Asynchronous workers compute gradients on parameters that are stale by the time the
gradients arrive.  AdaptiveRevision keeps, per coordinate, the sum of every gradient
applied so far (ḡ, state ``grad_sum``).  A worker reads that sum along with
the parameters it pulls and returns it with its gradient (``grad_sum_old``); the
difference is the *backlog* -- the gradients that arrived while this one was in flight
-- and the update revises their step sizes with what it now knows (see
:func:`fastopt.backends.python.adarevision.adarevision` for the equations).

:class:`AdaRevision` has the interface the parameter server expects of an optimizer
(``step``, ``state_dict``, ``load_state_dict``) plus the snapshot argument, and calls
the ``adarevision`` kernel of the selected backend.
"""
import numpy as np

from .._internal import validation as check
from ..backends import _dispatch
from ..optim.optimizer import _rounded
from ..optim.sparse import SparseGrad


class AdaRevision:
    """AdaptiveRevision over 2-D tables ``params`` (each ``(n_rows, d)``, float32 or
    float64, C-contiguous), updated in place.

    Source: H. B. McMahan, M. Streeter, "Delay-Tolerant Algorithms for Asynchronous
    Distributed Online Learning", NeurIPS 2014, Algorithm 2 (AdaRevision).

    Per coordinate, with the gradient g, the snapshot ḡ_old of the gradient sum the
    worker read, and the backlog ḡ_bck = ḡ − ḡ_old, in this order (η = ``lr``,
    ε = ``eps``):

    .. math::

        η_old = η/(√z' + ε)
        z ← z + (g·g + (g + g)·ḡ_bck)
        z' ← max(z, z')
        η_new = η/(√z' + ε)
        θ ← (θ − η_new·g) + (η_old − η_new)·ḡ_bck
        ḡ ← ḡ + g

    See :func:`fastopt.backends.python.adarevision.adarevision` for the details.

    Args:
        params: a 2-D table or a list of them, updated in place.
        lr: η >= 0 (default 0.01).
        initial_accumulator_value: the initial z = z', >= 0 (default 0.1: the paper
            starts above 0).
        eps: ε >= 0 added outside the root (default 1e-10).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None
            (:func:`fastopt.get_backend`).

    Raises:
        TypeError: parameters that are not float32/float64 arrays; gradients or
            snapshots of the wrong type or dtype.
        ValueError: a parameter that is not 2-D, parameters that overlap, a negative
            or non-finite hyperparameter; gradients or snapshots of the wrong shape.
        IndexError: a ``SparseGrad`` row out of range.

    State per table: ``sum`` (z), ``max_sum`` (z'), ``grad_sum`` (ḡ) and ``step``.

    ``step(grads, grad_sum_old)``: for every table a dense gradient, a
    :class:`fastopt.SparseGrad` or ``None``, and the snapshot of ``grad_sum`` the worker
    read with the parameters -- the same shape as the gradient (for a ``SparseGrad``:
    one row per index; duplicate indices are summed, the snapshot of their first
    occurrence is used).  Every argument is checked before anything is written.
    """

    needs_snapshot = True

    def __init__(self, params, lr=0.01, initial_accumulator_value=0.1, eps=1e-10, *,
                 backend=None):
        params = [params] if isinstance(params, np.ndarray) else list(params)
        for i, p in enumerate(params):
            check.parameter(f"params[{i}]", p)
            if p.ndim != 2:
                raise ValueError(f"params[{i}] must be 2-D (n_rows, d), got shape {p.shape}")
        check.no_overlaps("params", params)
        self.params = params
        self.defaults = dict(lr=check.nonnegative("lr", lr),
                             initial_accumulator_value=check.nonnegative(
                                 "initial_accumulator_value", initial_accumulator_value),
                             eps=check.nonnegative("eps", eps))
        self.backend = None if backend is None else _dispatch.check_backend(backend)
        init = self.defaults["initial_accumulator_value"]
        self.state = [{"step": 0, "sum": np.full_like(p, init), "max_sum": np.full_like(p, init),
                       "grad_sum": np.zeros_like(p)} for p in params]

    def snapshot(self, i, rows=None):
        """A copy of ``grad_sum`` of table ``i`` (of ``rows`` only, if given): what a
        worker must read with the parameters."""
        g = self.state[i]["grad_sum"]
        return g.copy() if rows is None else g[rows]

    def _checked(self, i, grad, old):
        p = self.params[i]
        if isinstance(grad, SparseGrad):
            check.sparse_gradient(grad, p, i)
            rows, first, inverse = np.unique(grad.indices, return_index=True,
                                             return_inverse=True)
            want = (grad.indices.shape[0], p.shape[1])
        else:
            check.gradient(grad, p, i)
            rows = first = inverse = None
            want = p.shape
        if not isinstance(old, np.ndarray) or old.dtype != p.dtype:
            raise TypeError(f"grad_sum_old[{i}] must be a {p.dtype} array, got "
                            f"{getattr(old, 'dtype', type(old).__name__)}")
        if old.shape != want:
            raise ValueError(f"grad_sum_old[{i}] has shape {old.shape}, expected {want}")
        return rows, first, inverse

    def step(self, grads, grad_sum_old):
        """One update of every table with a gradient (see the class docstring)."""
        if len(grads) != len(self.params) or len(grad_sum_old) != len(self.params):
            raise ValueError(f"grads and grad_sum_old must have {len(self.params)} entries")
        plans = [None if g is None else self._checked(i, g, grad_sum_old[i])
                 for i, g in enumerate(grads)]
        kernel = _dispatch.kernel(self.backend or _dispatch.get_backend(), "adarevision")
        for i, (g, plan) in enumerate(zip(grads, plans)):
            if g is None:
                continue
            p, s = self.params[i], self.state[i]
            lr, eps = _rounded((self.defaults["lr"], self.defaults["eps"]), p.dtype)
            s["step"] += 1
            if plan[0] is None:
                kernel(p.reshape(-1), np.ascontiguousarray(g).reshape(-1),
                       np.ascontiguousarray(grad_sum_old[i]).reshape(-1),
                       s["grad_sum"].reshape(-1), s["sum"].reshape(-1),
                       s["max_sum"].reshape(-1), lr, eps, _dispatch.threads_for(p.size))
                continue
            rows, first, inverse = plan
            values = np.zeros((rows.size, p.shape[1]), p.dtype)
            np.add.at(values, inverse.reshape(-1), g.values.reshape(-1, p.shape[1]))
            old = np.ascontiguousarray(grad_sum_old[i][first])
            arrays = [p[rows], s["grad_sum"][rows], s["sum"][rows], s["max_sum"][rows]]
            kernel(arrays[0].reshape(-1), values.reshape(-1), old.reshape(-1),
                   *(a.reshape(-1) for a in arrays[1:]), lr, eps, 1)
            p[rows], s["grad_sum"][rows], s["sum"][rows], s["max_sum"][rows] = arrays

    def state_dict(self):
        """Plain data: ``{"state": {i: {...}}, "param_groups": [{hyperparameters}]}``."""
        return {"state": {i: {k: (v.copy() if isinstance(v, np.ndarray) else v)
                              for k, v in s.items()} for i, s in enumerate(self.state)},
                "param_groups": [dict(self.defaults, params=list(range(len(self.params))))]}

    def load_state_dict(self, state_dict):
        """Restore :meth:`state_dict`'s output, checked in full before anything changes."""
        try:
            saved, groups = state_dict["state"], state_dict["param_groups"]
            hyper = {k: v for k, v in groups[0].items() if k != "params"}
        except (KeyError, IndexError, TypeError):
            raise ValueError("state_dict must have 'state' and 'param_groups'") from None
        if set(hyper) != set(self.defaults):
            raise ValueError(f"state_dict hyperparameters {sorted(hyper)} do not match "
                             f"{sorted(self.defaults)}")
        new = []
        for i, p in enumerate(self.params):
            s = saved.get(i, saved.get(str(i)))
            if not isinstance(s, dict) or set(s) != {"step", "sum", "max_sum", "grad_sum"}:
                raise ValueError(f"state_dict['state'][{i}] must have step, sum, max_sum, "
                                 f"grad_sum")
            entry = {"step": int(s["step"])}
            for name in ("sum", "max_sum", "grad_sum"):
                a = np.asarray(s[name])
                if a.shape != p.shape or a.dtype != p.dtype:
                    raise ValueError(f"state_dict['state'][{i}][{name!r}] is {a.dtype} "
                                     f"{a.shape}, expected {p.dtype} {p.shape}")
                entry[name] = np.array(a, order="C", copy=True)
            new.append(entry)
        self.defaults.update({k: check.nonnegative(k, v) for k, v in hyper.items()})
        self.state = new

    def __repr__(self):
        return (f"AdaRevision({', '.join(f'{k}={v!r}' for k, v in self.defaults.items())}, "
                f"{len(self.params)} tables)")
