r"""Regularization for any optimizer: decoupled weight decay, L1 and elastic net as
proximal steps, and a lazy L1 for sparse (embedding) gradients.

Notation: θ a parameter, η its group's current ``lr`` (so
the penalty follows any schedule), λ the regularizer's strength.
Each regularizer is applied right after the optimizer's step, to the parameters
that had a gradient at that step:

* coupled L2 -- the ``weight_decay=`` of every optimizer: g ← g + λ·θ before the
  rule; minimizes (λ/2)·‖θ‖².
* :class:`DecoupledWeightDecay` -- θ ← θ·(1 − η·λ) after the rule (AdamW's decay, for
  any rule).
* :class:`L1` -- θ ← sign(θ)·max(abs(θ) − η·λ_1, 0); minimizes λ_1·‖θ‖_1.
* :class:`ElasticNet` -- θ ← sign(θ)·max(abs(θ) − η·λ_1, 0)/(1 + η·λ_2); minimizes
  λ_1·‖θ‖_1 + (λ_2/2)·‖θ‖².

The L1 and elastic-net steps are *proximal* steps (proximal gradient descent /
ISTA): the soft threshold prox of η·λ_1·abs(·) sets
every weight with abs(θ) ≤ η·λ_1 to exactly zero, so they yield
truly sparse weights, which a subgradient λ_1·sign(θ)
added to the gradient never does.  It is computed as
θ - clip(θ, -τ, τ): the zeros are ``+0.0``.

**Lazy L1 for sparse gradients.**  With a :class:`~fastopt.SparseGrad`, the dense
proximal step would touch every row of the table at every step.  :class:`L1`
(``lazy=True``, the default) keeps instead the penalty accumulated so far,
u = Σ_s η_sλ_1, and per row the part ℓ_r it has
received; a row listed in a step first catches up (before the optimizer's step,
θ_r ← prox_(u - ℓ_r)(θ_r)), then gets this
step's threshold after it.  Since consecutive soft thresholds add up,
prox_a ∘ prox_b = prox_(a+b),
a row receives the same total penalty however rarely it appears, as in dense
training (Tsuruoka et al., 2009; Carpenter, 2008).  :meth:`L1.flush` applies what is
pending to every row (before evaluating, saving or reading the weights).

Usage -- call ``reg.step(grads)`` instead of ``opt.step(grads)``, or the two halves
around it::

    opt = fastopt.Adam([W, b], lr=1e-3)
    l1 = fastopt.L1(opt, 1e-4, params=[W])     # only W is penalized
    for batch in sampler:
        grads = gradient(batch)
        l1.step(grads)                         # = l1.before_step(grads); opt.step(grads);
                                               #   l1.after_step(grads)
    l1.flush()

The kernels (``weight_decay``, ``soft_threshold``, ``soft_threshold_rows``) exist in
every backend and give the same bits (:mod:`fastopt.backends.python.regularization`).
"""
import numpy as np

from . import _args
from ..backends import _dispatch
from .._internal import validation as check
from ..optim.sparse import SparseGrad

__all__ = ["Regularizer", "DecoupledWeightDecay", "L1", "ElasticNet"]

_MODULE = "regularization"


class Regularizer:
    """Base class: a step applied after the optimizer's, with each group's ``lr``.

    ``optimizer`` is any fastopt optimizer; ``params`` (default: all of them) the
    parameters to regularize, a subset of the optimizer's (e.g. weights but not
    biases).  ``backend`` fixes the kernels' backend (default: the optimizer's, or
    :func:`fastopt.get_backend`).

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer; a regularized parameter
            that is not float32 or float64 (float16/bfloat16 tables are the optimizers'
            alone).
        ValueError: a ``params`` entry that is not one of the optimizer's parameters, an
            unknown backend.
    """

    def __init__(self, optimizer, params=None, *, backend=None):
        self.optimizer = _args.optimizer("optimizer", optimizer)
        all_params = _args.optimizer_params(optimizer)
        if params is None:
            selected = set(range(len(all_params)))
        else:
            if isinstance(params, np.ndarray):
                params = [params]
            selected = set()
            for k, p in enumerate(params):
                where = [i for i, q in enumerate(all_params) if q is p]
                if not where:
                    raise ValueError(f"params[{k}] is not a parameter of the optimizer")
                selected.add(where[0])
        self._selected = [i in selected for i in range(len(all_params))]
        for i in sorted(selected):  # the kernels are float32/float64 only
            if all_params[i].dtype not in check.FLOAT_DTYPES:
                raise TypeError(f"the optimizer's params[{i}] has dtype {all_params[i].dtype}; "
                                f"{type(self).__name__} takes float32 or float64 parameters")
        self._group_of = [gi for gi, group in enumerate(optimizer.param_groups)
                          for _ in group["params"]]
        self.backend = None if backend is None else _dispatch.check_backend(backend)

    # -- what subclasses define --------------------------------------------------------

    def _check_strength(self):
        """Validate the strength attributes (they may be edited between steps)."""

    def _apply(self, i, p, g, lr):
        """The step of parameter ``i`` (validated) after the optimizer's."""
        raise NotImplementedError

    def _penalty(self, p):
        raise NotImplementedError

    # -- the steps ----------------------------------------------------------------------

    @property
    def params(self):
        """The regularized parameters."""
        return [p for p, s in zip(_args.optimizer_params(self.optimizer), self._selected) if s]

    def _kernel(self, name):
        backend = self.backend or self.optimizer.backend or _dispatch.get_backend()
        return _dispatch.kernel(backend, name, _MODULE)

    def _grads(self, grads):
        """``grads`` as a list with one entry per parameter, each checked against its
        parameter (``grads=None``: every parameter, as if each had a dense gradient)."""
        params = _args.optimizer_params(self.optimizer)
        if grads is None:
            return [True] * len(params)
        if isinstance(grads, (np.ndarray, SparseGrad)):
            grads = [grads]
        try:
            grads = list(grads)
        except TypeError:
            raise TypeError(f"grads must be an array, a SparseGrad or a list of them, got "
                            f"{type(grads).__name__}") from None
        if len(grads) != len(params):
            raise ValueError(f"grads has {len(grads)} entries but the optimizer has "
                             f"{len(params)} parameters")
        for i, (g, p) in enumerate(zip(grads, params)):
            if isinstance(g, SparseGrad):
                check.sparse_gradient(g, p, i)
            elif g is not None:
                check.gradient(g, p, i)
        return grads

    def _lr(self, i):
        return float(self.optimizer.param_groups[self._group_of[i]]["lr"])

    def before_step(self, grads=None):
        """Prepare the optimizer's step with ``grads`` (only the lazy L1 does something)."""

    def after_step(self, grads=None):
        """The regularization step, after ``optimizer.step(grads)``.

        Applies to every selected parameter whose entry of ``grads`` is not ``None``
        (``grads=None``: to all of them).
        """
        self._check_strength()
        grads = self._grads(grads)
        params = _args.optimizer_params(self.optimizer)
        work = [(i, p, g) for i, (p, g) in enumerate(zip(params, grads))
                if self._selected[i] and g is not None]
        for i, p, g in work:
            self._apply(i, p, g, self._lr(i))

    def step(self, grads):
        """``before_step(grads)``, ``optimizer.step(grads)``, ``after_step(grads)``."""
        self.before_step(grads)
        self.optimizer.step(grads)
        self.after_step(grads)

    def flush(self):
        """Apply any pending (lazy) penalty to every row; a no-op except for lazy L1."""

    def penalty(self):
        """The value of the penalty at the current parameters (add it to the loss to report
        the regularized objective).  Call :meth:`flush` first with a lazy L1."""
        return float(sum(self._penalty(p) for p in self.params))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if not k.startswith("_") and k not in ("optimizer",))
        return f"{type(self).__name__}({args})"


class DecoupledWeightDecay(Regularizer):
    r"""Decoupled weight decay (Loshchilov & Hutter): θ ← θ(1 - ηλ)
    after the optimizer's step, for any optimizer.

    ``weight_decay`` λ ≥ 0 (default 1e-2, as ``AdamW``).  Unlike the
    coupled ``weight_decay=`` of the optimizers, the decay does not pass through
    the update rule's scaling (Adam's 1/√v̂, ...).  A sparse gradient
    decays the whole parameter (as dense training would).  ``AdamW`` applies the same
    factor before its update instead of after.

    Raises as :class:`Regularizer`, and ValueError for a negative or non-finite
    ``weight_decay``.

    Source: I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    def __init__(self, optimizer, weight_decay=1e-2, params=None, *, backend=None):
        super().__init__(optimizer, params, backend=backend)
        self.weight_decay = check.nonnegative("weight_decay", weight_decay)

    def _check_strength(self):
        check.nonnegative("weight_decay", self.weight_decay)

    def _apply(self, i, p, g, lr):
        factor = _args.rounded(p.dtype, 1.0 - lr * self.weight_decay)
        if factor != 1:
            self._kernel("weight_decay")(p.reshape(-1), factor, _dispatch.threads_for(p.size))

    def _penalty(self, p):
        return 0.5 * self.weight_decay * float(np.vdot(p, p))


class ElasticNet(Regularizer):
    r"""Elastic net as a proximal step: θ ← sign(θ)
    max(abs(θ) − η·λ_1, 0)/(1 + η·λ_2).

    This is the exact proximal operator of η(λ_1‖θ‖_1 +
    λ_2/2‖θ‖_2²); ``l1`` λ_1 ≥ 0 and ``l2``
    λ_2 ≥ 0.  Weights within ηλ_1 of zero become exactly
    zero.  A sparse gradient gets the dense step on the whole parameter.

    Raises as :class:`Regularizer`, and ValueError for a negative or non-finite ``l1`` or
    ``l2``.

    Source: H. Zou, T. Hastie, "Regularization and variable selection via the elastic
    net", JRSS B 67, 2005; the proximal step as in ISTA (Beck & Teboulle, 2009).
    """

    def __init__(self, optimizer, l1, l2, params=None, *, backend=None):
        super().__init__(optimizer, params, backend=backend)
        self.l1 = check.nonnegative("l1", l1)
        self.l2 = check.nonnegative("l2", l2)

    def _check_strength(self):
        check.nonnegative("l1", self.l1)
        check.nonnegative("l2", self.l2)

    def _apply(self, i, p, g, lr):
        threshold = _args.rounded(p.dtype, lr * self.l1)
        divisor = _args.rounded(p.dtype, 1.0 + lr * self.l2)
        self._kernel("soft_threshold")(p.reshape(-1), threshold, divisor,
                                       _dispatch.threads_for(p.size))

    def _penalty(self, p):
        return self.l1 * float(np.abs(p).sum()) + 0.5 * self.l2 * float(np.vdot(p, p))


class L1(Regularizer):
    r"""L1 regularization as a proximal (soft-threshold) step, lazy for sparse gradients.

    After the optimizer's step: θ ← sign(θ)
    max(abs(θ) − η·λ_1, 0) (``l1`` λ_1 ≥ 0), which yields exact
    zeros.  With ``lazy=True`` (default), a parameter stepped with a
    :class:`~fastopt.SparseGrad` is regularized row by row, only on the rows listed,
    with the penalty each row accumulated while it was untouched (see the module
    docstring); call :meth:`flush` before using the weights.  With ``lazy=False``
    a sparse step is followed by the dense proximal step on the whole parameter.

    State per lazily regularized parameter ``i``: ``total_penalty[i]``
    (u = Σ_s η_sλ_1, a double) and ``last_penalty[i]`` (float64, one
    value per row: the part of u the row has received).

    Raises as :class:`Regularizer`, and ValueError for a negative or non-finite ``l1``.

    Source: the proximal gradient step of ISTA (A. Beck, M. Teboulle, SIAM J. Imaging
    Sciences 2, 2009) for the lasso penalty (R. Tibshirani, 1996); lazy updates:
    Y. Tsuruoka, J. Tsujii, S. Ananiadou, ACL 2009; B. Carpenter, 2008.

    Pair it with plain SGD when you want exact zeros: under adaptive rules (Adam, ...)
    every coordinate moves by about ``lr`` per step, so weights rarely land within
    η·λ_1 of zero (see the training guide).
    """

    def __init__(self, optimizer, l1, params=None, *, lazy=True, backend=None):
        super().__init__(optimizer, params, backend=backend)
        self.l1 = check.nonnegative("l1", l1)
        self.lazy = check.flag("lazy", lazy)
        self.total_penalty = {}
        self.last_penalty = {}
        self._pending_rows = {}  # parameter -> distinct rows of the step in progress

    def _check_strength(self):
        check.nonnegative("l1", self.l1)

    @staticmethod
    def _table(p):
        """``p`` as a 2-D ``(n_rows, row size)`` view (a 0-d or 1-D parameter: one column)."""
        if p.ndim == 0:
            return p.reshape(1, 1)
        return p.reshape(p.shape[0], -1)

    def _lazy_state(self, i, p):
        if i not in self.last_penalty:
            self.last_penalty[i] = np.zeros(self._table(p).shape[0], np.float64)
            self.total_penalty[i] = 0.0
        return self.last_penalty[i]

    def _catch_up(self, i, p, rows):
        """Rows ``rows`` (distinct int64) receive the penalty accumulated since their last."""
        last = self._lazy_state(i, p)
        table = self._table(p)
        self._kernel("soft_threshold_rows")(table, rows, last, self.total_penalty[i],
                                            _dispatch.threads_for(rows.size * table.shape[1]))

    @staticmethod
    def _distinct_rows(g):
        return np.unique(g.indices).astype(np.int64, copy=False)

    def before_step(self, grads=None):
        """Catch the rows listed by sparse gradients up with their pending penalty."""
        if not self.lazy:
            return
        grads = self._grads(grads)
        params = _args.optimizer_params(self.optimizer)
        work = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if not self._selected[i] or g is None:
                continue
            if isinstance(g, SparseGrad):
                work.append((i, p, self._distinct_rows(g)))
            elif i in self.last_penalty:  # a dense step on a lazily regularized parameter
                work.append((i, p, np.arange(self._table(p).shape[0], dtype=np.int64)))
        self._pending_rows = {}
        for i, p, rows in work:
            self._catch_up(i, p, rows)
            self._pending_rows[i] = rows

    def _apply(self, i, p, g, lr):
        lazy_rows = self._pending_rows.pop(i, None)
        if self.lazy and (isinstance(g, SparseGrad) or i in self.last_penalty):
            if lazy_rows is None:  # after_step without before_step: catch up now
                lazy_rows = self._distinct_rows(g) if isinstance(g, SparseGrad) else \
                    np.arange(self._table(p).shape[0], dtype=np.int64)
            self._lazy_state(i, p)
            self.total_penalty[i] += lr * self.l1
            self._catch_up(i, p, lazy_rows)
            return
        threshold = _args.rounded(p.dtype, lr * self.l1)
        self._kernel("soft_threshold")(p.reshape(-1), threshold, 1.0,
                                       _dispatch.threads_for(p.size))

    def flush(self):
        """Apply every row's pending penalty now (before evaluating or saving the weights)."""
        params = _args.optimizer_params(self.optimizer)
        for i, last in self.last_penalty.items():
            self._catch_up(i, params[i], np.arange(last.size, dtype=np.int64))

    def _penalty(self, p):
        return self.l1 * float(np.abs(p).sum())
