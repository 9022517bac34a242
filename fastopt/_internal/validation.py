"""Argument checks shared by the optimizers.

Every check raises before anything is written, with a message that names the
argument.  The compiled kernels run without bounds checks, so these checks are
what keeps them inside their arrays.
"""
import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
try:  # bfloat16 is NumPy's through ml_dtypes (the package JAX uses)
    import ml_dtypes
    BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - without the optional dependency
    BFLOAT16 = None
#: 16-bit parameter dtypes: kept in 16 bits, optimizer state and arithmetic in float32.
HALF_DTYPES = tuple(d for d in (np.dtype(np.float16), BFLOAT16) if d is not None)


def real(name, value):
    """A finite real number (bool refused), returned as ``float``."""
    if type(value) is float and math.isfinite(value):  # the common case, without the ABC
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def nonnegative(name, value):
    value = real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def in_range(name, value, low, high, *, high_inclusive):
    value = real(name, value)
    if not (low <= value and (value <= high if high_inclusive else value < high)):
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value}")
    return value


def flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def betas(value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {value!r}")
    return (in_range("betas[0]", value[0], 0.0, 1.0, high_inclusive=False),
            in_range("betas[1]", value[1], 0.0, 1.0, high_inclusive=False))


def unaligned(name, a, fix):
    """``ValueError`` for an array whose address is not a multiple of its itemsize (e.g.
    ``np.frombuffer(buf, offset=1)``): the compiled kernels load whole elements."""
    return ValueError(f"{name} is not aligned: its address is not a multiple of its "
                      f"{a.dtype.itemsize}-byte elements; {fix}")


def parameter(name, p, half=False):
    """A parameter array the kernels may update in place: float32 or float64, and with
    ``half`` (the optimizers, which keep float32 state for them) float16 or bfloat16."""
    if not isinstance(p, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(p).__name__}")
    if half and p.dtype not in FLOAT_DTYPES and p.dtype not in HALF_DTYPES:
        raise TypeError(f"{name} must have dtype float32, float64, float16 or bfloat16 "
                        f"(ml_dtypes), got {p.dtype}")
    if not half and p.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {p.dtype}")
    if not p.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not p.flags.c_contiguous:
        raise ValueError(
            f"{name} is not C-contiguous: fastopt updates parameters in place and never through "
            f"a silent copy; keep the parameter in a contiguous array (np.ascontiguousarray) "
            f"and update that")
    if not p.flags.aligned:
        raise unaligned(name, p, "keep the parameter in an aligned array (np.array(...) "
                                 "makes one) and update that")
    return p


def _address_range(a):
    start = a.__array_interface__["data"][0]
    return start, start + a.nbytes


def no_overlaps(name, arrays):
    """Refuse arrays (all C-contiguous) whose memory overlaps: each would overwrite the other."""
    spans = sorted((*_address_range(a), i) for i, a in enumerate(arrays) if a.size)
    for (start_a, end_a, i), (start_b, end_b, j) in zip(spans, spans[1:]):
        if start_b < end_a:
            i, j = sorted((i, j))
            raise ValueError(f"{name}[{i}] and {name}[{j}] share memory; every parameter needs "
                             f"its own array")


def first_overlap(lows, highs, written):
    """The indices ``(i, j)`` of two memory ranges ``[lows[i], highs[i])`` (non-empty) that
    overlap, at least one of them ``written``, or None: what a kernel that writes some of
    the arrays and reads the others (which may share memory) must refuse."""
    order = sorted(range(len(lows)), key=lows.__getitem__)
    end_any = end_written = -1  # the furthest end so far, of any range / a written one
    who_any = who_written = -1
    for j in order:
        if written[j] and lows[j] < end_any:
            return who_any, j
        if lows[j] < end_written:
            return who_written, j
        if highs[j] > end_any:
            end_any, who_any = highs[j], j
        if written[j] and highs[j] > end_written:
            end_written, who_written = highs[j], j
    return None


def gradient(g, p, i):
    """``grads[i]`` for ``params[i]``: same dtype and shape, contiguous, not aliasing ``p``."""
    if not isinstance(g, np.ndarray):
        raise TypeError(f"grads[{i}] must be a numpy.ndarray, got {type(g).__name__}")
    if g.dtype is not p.dtype and g.dtype != p.dtype and not (
            p.dtype in HALF_DTYPES and g.dtype == FLOAT_DTYPES[0]):
        raise TypeError(f"grads[{i}] has dtype {g.dtype} but params[{i}] has dtype {p.dtype}"
                        + (" (or float32)" if p.dtype in HALF_DTYPES else ""))
    if g.shape != p.shape:
        raise ValueError(f"grads[{i}] has shape {g.shape} but params[{i}] has shape {p.shape}")
    if not g.flags.c_contiguous:
        raise ValueError(f"grads[{i}] is not C-contiguous; pass np.ascontiguousarray(grad)")
    if not g.flags.aligned:
        raise unaligned(f"grads[{i}]", g, "pass an aligned copy (np.array(grad))")
    # Two arrays that own their memory cannot overlap (a cheap test first).
    if (g is p or g.base is not None or p.base is not None) and g.size and \
            np.may_share_memory(g, p):
        raise ValueError(f"grads[{i}] shares memory with params[{i}]; the gradient must be a "
                         f"separate array")
    return g


INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


_UNSIGNED = {np.dtype(np.int32): np.dtype(np.uint32), np.dtype(np.int64): np.dtype(np.uint64)}


def sparse_gradient(sg, p, i, *, check_alias=True):
    """``grads[i]``, a :class:`~fastopt.SparseGrad`, for ``params[i]``: rows in range, shapes
    and dtypes matching, contiguous, not aliasing the parameter (``check_alias=False``:
    the caller checks the aliasing itself, against more arrays)."""
    indices, values = sg.indices, sg.values
    if p.ndim == 0:
        raise ValueError(f"grads[{i}] is sparse but params[{i}] is 0-dimensional: sparse "
                         f"gradients update rows")
    if indices.dtype not in INDEX_DTYPES:
        raise TypeError(f"grads[{i}].indices must have dtype int32 or int64, got {indices.dtype}")
    if indices.ndim != 1:
        raise ValueError(f"grads[{i}].indices must be 1-D, got shape {indices.shape}")
    if not indices.flags.c_contiguous:
        raise ValueError(f"grads[{i}].indices is not C-contiguous; pass "
                         f"np.ascontiguousarray(indices)")
    if not indices.flags.aligned:
        raise unaligned(f"grads[{i}].indices", indices, "pass an aligned copy (np.array(...))")
    if not isinstance(values, np.ndarray):
        raise TypeError(f"grads[{i}].values must be a numpy.ndarray")
    if values.dtype != p.dtype and not (p.dtype in HALF_DTYPES and values.dtype == FLOAT_DTYPES[0]):
        raise TypeError(f"grads[{i}].values has dtype {values.dtype} but params[{i}] has dtype "
                        f"{p.dtype}")
    expected = (indices.shape[0],) + p.shape[1:]
    if values.shape != expected:
        raise ValueError(f"grads[{i}].values has shape {values.shape}, expected {expected} "
                         f"(one row of params[{i}] per index)")
    if not values.flags.c_contiguous:
        raise ValueError(f"grads[{i}].values is not C-contiguous; pass "
                         f"np.ascontiguousarray(values)")
    if not values.flags.aligned:
        raise unaligned(f"grads[{i}].values", values, "pass an aligned copy (np.array(...))")
    # One pass: read as unsigned, a negative index is larger than any row number.
    if indices.size and int(indices.view(_UNSIGNED[indices.dtype]).max()) >= p.shape[0]:
        low, high = int(indices.min()), int(indices.max())
        bad = low if low < 0 else high
        raise IndexError(f"grads[{i}].indices has row {bad}, outside [0, {p.shape[0]}) "
                         f"of params[{i}]")
    if check_alias and values.size and np.may_share_memory(values, p):
        raise ValueError(f"grads[{i}].values shares memory with params[{i}]; the gradient "
                         f"must be a separate array")
    return sg


def group_hyperparameters(group, prefix, *, nonnegative_names=(), flags=(), with_betas=False):
    """Check (and normalize in place) the usual entries of a parameter group: the
    ``nonnegative_names`` (floats >= 0), ``betas`` if ``with_betas``, and the ``flags``
    (bools); each error message starts with ``prefix`` (the group's name)."""
    for name in nonnegative_names:
        group[name] = nonnegative(prefix + name, group[name])
    if with_betas:
        try:
            group["betas"] = betas(group["betas"])
        except (TypeError, ValueError) as e:
            raise type(e)(prefix + str(e)) from None
    for name in flags:
        group[name] = flag(prefix + name, group[name])
