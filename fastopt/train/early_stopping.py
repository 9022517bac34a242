r"""Early stopping: stop when a monitored objective stops improving, restore the best weights.

After each evaluation with value x (e.g. the validation loss), with the
best value so far x^*, the evaluation is an improvement if

.. math::

    x < x^* - δ    (mode="min")    or
    x > x^* + δ    (mode="max")

with ``min_delta`` δ ≥ 0 (default 0).  Training should stop after
``patience`` (default 10) evaluations in a row without improvement.  NaN never
improves.  With ``restore_best=True`` (default) the parameters are copied at every
improvement (into buffers allocated once) and :meth:`EarlyStopping.restore` copies
them back **in place** into the user's arrays (so an optimizer, or any other
reference to them, sees the restored values).
"""
import math

import numpy as np

from . import _args
from .._internal import validation as check

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stop when the monitored value has not improved for ``patience`` evaluations.

    Arguments: ``patience`` (10), ``min_delta`` (0.0), ``mode`` ``"min"`` (default) or
    ``"max"``, ``restore_best`` (True), ``params`` -- the arrays to snapshot and
    restore: one array, a list, or an optimizer (its parameters); required with
    ``restore_best``.  Optionally ``baseline``: a value to beat before anything
    counts as an improvement.

    Attributes: ``best`` (best value), ``best_step`` (the evaluation it came from,
    counting from 1; 0 if none), ``wait`` (evaluations since), ``steps``
    (evaluations so far), ``stopped`` (whether :meth:`step` has said stop).
    Example::

        stopper = fastopt.EarlyStopping(patience=5, params=opt)
        for epoch in range(200):
            train_one_epoch()
            if stopper.step(validation_loss()):
                break
        stopper.restore()     # the parameters of the best epoch, in place

    Raises:
        TypeError: a non-integer ``patience``, a non-boolean ``restore_best``,
            :meth:`step` with a value that is not a real number.
        ValueError: ``patience`` < 0, a negative ``min_delta``, an unknown ``mode``,
            ``restore_best`` without ``params``.

    Semantics of Keras' ``EarlyStopping`` (``patience``, ``min_delta``, ``baseline``,
    ``restore_best_weights``); see L. Prechelt, "Early Stopping -- But When?", 1998.
    """

    def __init__(self, patience=10, min_delta=0.0, mode="min", *, restore_best=True,
                 params=None, baseline=None):
        self.patience = _args.integer("patience", patience, 0)
        self.min_delta = check.nonnegative("min_delta", min_delta)
        self.mode = _args.choice("mode", mode, ("min", "max"))
        self.restore_best = check.flag("restore_best", restore_best)
        if self.restore_best and params is None:
            raise ValueError("restore_best needs params: the arrays (or the optimizer) whose "
                             "best values to keep; pass params=... or restore_best=False")
        self.params = None if params is None else _args.param_list("params", params)
        self.baseline = None if baseline is None else check.real("baseline", baseline)
        self.best = (math.inf if self.mode == "min" else -math.inf) if baseline is None \
            else self.baseline
        self.best_step = 0
        self.wait = 0
        self.steps = 0
        self.stopped = False
        self._snapshot = None

    def is_improvement(self, value):
        """Whether ``value`` improves on the best so far by more than ``min_delta``."""
        value = _args.metric("value", value)
        if value != value:
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value):
        """Record one evaluation; returns True when training should stop."""
        value = _args.metric("value", value)
        self.steps += 1
        if self.is_improvement(value):
            self.best = value
            self.best_step = self.steps
            self.wait = 0
            if self.restore_best:
                self._save()
        else:
            self.wait += 1
        if self.wait >= self.patience and self.wait > 0:
            self.stopped = True
        return self.stopped

    @property
    def should_stop(self):
        return self.stopped

    def _save(self):
        if self._snapshot is None:
            self._snapshot = [np.empty_like(p) for p in self.params]
        for saved, p in zip(self._snapshot, self.params):
            np.copyto(saved, p)

    def restore(self):
        """Copy the parameters of the best evaluation back into the arrays, in place.

        Returns True if there was a snapshot to restore (False before any improvement,
        or without ``restore_best``).
        """
        if self._snapshot is None:
            return False
        for p, saved in zip(self.params, self._snapshot):
            np.copyto(p, saved)
        return True

    def __repr__(self):
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"mode={self.mode!r}, best={self.best}, best_step={self.best_step}, "
                f"wait={self.wait})")
