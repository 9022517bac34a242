"""Argument checks of the training toolkit (data, schedules, regularization, ...).

They complement :mod:`fastopt._internal.validation` (real numbers, flags, parameter arrays):
every check raises ``TypeError``/``ValueError`` naming the argument, before
anything is written.
"""
import numbers

import numpy as np

from .._internal import validation as check
from ..optim.optimizer import Optimizer


def integer(name, value, minimum=None):
    """An ``int`` (bool refused), at least ``minimum`` if given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def metric(name, value):
    """A real number (NaN and infinities allowed: a diverged loss), as ``float``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        try:  # a 0-d or one-element array
            value = np.asarray(value)
            if value.size != 1 or value.dtype.kind not in "fiu":
                raise TypeError
            value = value.item()
        except TypeError:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
    return float(value)


def positive(name, value):
    """A finite real number > 0."""
    value = check.real(name, value)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def probability(name, value, *, one_allowed=False):
    """A real number in [0, 1) (or [0, 1])."""
    return check.in_range(name, value, 0.0, 1.0, high_inclusive=one_allowed)


def choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def optimizer(name, value):
    if not isinstance(value, Optimizer):
        raise TypeError(f"{name} must be a fastopt optimizer (fastopt.Optimizer), got "
                        f"{type(value).__name__}")
    return value


def optimizer_params(opt):
    """The parameters of ``opt``, in the order of ``opt.step``'s gradients."""
    return [p for group in opt.param_groups for p in group["params"]]


def param_list(name, params):
    """A list of parameter arrays from one array, a list of arrays or an optimizer."""
    if isinstance(params, Optimizer):
        params = optimizer_params(params)
        for i, p in enumerate(params):  # the toolkit's kernels are float32/float64 only
            if p.dtype not in check.FLOAT_DTYPES:
                raise TypeError(f"{name}: the optimizer's params[{i}] has dtype {p.dtype}; "
                                f"this takes float32 or float64 parameters only")
        return params
    if isinstance(params, np.ndarray):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{name} must be an array, a list of arrays or an optimizer, got "
                        f"{type(params).__name__}") from None
    if not params:
        raise ValueError(f"{name} is empty")
    for i, p in enumerate(params):
        check.parameter(f"{name}[{i}]", p)
    return params


def rounded(dtype, value):
    """``value`` (computed in double precision) rounded once to ``dtype``, as a Python float."""
    return float(np.dtype(dtype).type(value))


def as_array(name, x, dtype=None):
    """A float32/float64 ndarray (C-contiguous: copied if it is not), of ``dtype`` if given."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in check.FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype}, expected {np.dtype(dtype)}")
    return np.ascontiguousarray(x)


def output(name, out, shape, dtype, inputs=()):
    """A user-given output array: writeable, C-contiguous, of ``shape`` and ``dtype``, and not
    sharing memory with any of ``inputs`` (unless it *is* that input, for in-place use)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} is not C-contiguous")
    if not out.flags.aligned:
        raise check.unaligned(name, out, "pass an aligned array (np.empty makes one)")
    for other in inputs:
        if other is not out and out.size and np.may_share_memory(out, other):
            raise ValueError(f"{name} overlaps an input array")
    return out
