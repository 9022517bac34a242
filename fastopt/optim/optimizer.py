"""The optimizer base class: parameters, lazily created state, checkpoints, dispatch.

Each algorithm subclass contributes three things: its hyperparameter checks
(``_check_group``), the state it keeps (``_state_arrays``) and the per-step
scalars of its kernel (``_scalars``).  Everything else -- validation of
parameters and gradients, backend and thread selection, the kernel call,
``state_dict``/``load_state_dict`` -- is shared and lives here.
"""
import bisect
import inspect
import math
import operator
import struct
import threading
import weakref
from array import array
from collections.abc import Mapping

import numpy as np

from ..backends import _dispatch
from .._internal import validation as check
from .._internal.numerics import GOLDEN as _GOLDEN, M64 as _M64, mix64_int as _mix64_int
from .._internal.numerics import one_minus_pow as _one_minus_pow
from . import torch_state
from .sparse import SparseGrad

_EMPTY = {dt: np.empty(0, dt) for dt in check.FLOAT_DTYPES}

#: The process-wide default of :attr:`Optimizer.check_finite` (see :func:`set_check_finite`).
_CHECK_FINITE = [False]


def set_check_finite(flag):
    """Refuse non-finite gradients in every optimizer whose ``check_finite`` is ``None``.

    Off by default: a NaN or infinite gradient is applied like any other value, and
    a NaN then stays in that element's state for ever.  With the check on, ``step``
    raises ``ValueError`` naming the gradient and the first bad index before
    anything is written.  It costs one extra pass over every gradient (see the
    hardening guide for measurements).

    Args:
        flag: ``True`` to turn the check on, ``False`` to turn it off.

    Raises:
        TypeError: ``flag`` is not a bool.
    """
    _CHECK_FINITE[0] = check.flag("flag", flag)


def get_check_finite():
    """Whether :func:`set_check_finite` turned the check on."""
    return _CHECK_FINITE[0]


def _first_non_finite(values):
    """The index (a tuple) of the first non-finite element of ``values``, or ``None``."""
    flat = values.reshape(-1)
    # One pass without a temporary: a NaN or inf makes the sum of squares non-finite (so
    # does an overflow, which the exact test below then clears).
    if flat.size == 0:
        return None
    with np.errstate(over="ignore"):
        if np.isfinite(np.dot(flat, flat)):
            return None
    bad = np.flatnonzero(~np.isfinite(flat))
    if not bad.size:
        return None
    k = int(bad[0])
    return tuple(int(j) for j in np.unravel_index(k, values.shape))

_FLOAT32 = np.dtype(np.float32)


_FLOAT32_PACKERS = {}


def _rounded(values, dtype):
    """Python floats rounded to ``dtype`` (round to nearest, as a C cast does)."""
    if dtype is not _FLOAT32 and dtype != _FLOAT32:
        return values
    packer = _FLOAT32_PACKERS.get(len(values))
    if packer is None:
        packer = _FLOAT32_PACKERS[len(values)] = struct.Struct(f"{len(values)}f")
    try:
        return packer.unpack(packer.pack(*values))
    except OverflowError:  # beyond float32's range: inf, as NumPy rounds it
        return array("f", values).tolist()


def _is_number(x):
    return isinstance(x, (int, float, np.number)) and not isinstance(x, (bool, np.bool_))


def _preview(values):
    shown = ", ".join(repr(float(v)) for v in values[:4])
    return f"[{shown}{', ...' if len(values) > 4 else ''}]"


def _address(a):
    return a.__array_interface__["data"][0]


#: State arrays of at least this many bytes start at staggered offsets within a 4 KiB
#: page: large allocations all start at the same page offset, and streams whose
#: addresses agree in their low 12 bits stall each other (4K aliasing; ~10% of a
#: 1.6e7-element Adam step on the machines we measured).
_STAGGER_MIN_BYTES = 1 << 16
_STAGGER_BYTES = 1024 + 64


def _state_full(shape, init, dtype, slot):
    """``np.full(shape, init, dtype)``, C-contiguous; large ones placed ``slot``-dependently
    within their page (see ``_STAGGER_BYTES``)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64))
    if size * dtype.itemsize < _STAGGER_MIN_BYTES:
        return np.full(shape, init, dtype)
    buffer = np.empty(size + 4096 // dtype.itemsize, dtype)
    target = (slot + 1) * _STAGGER_BYTES % 4096
    offset = (target - _address(buffer)) % 4096 // dtype.itemsize
    state = buffer[offset:offset + size].reshape(shape)
    state[...] = init
    return state


def _span(arrays):
    """A flat view covering ``arrays`` if they lie back to back, in order, in one buffer.

    ``None`` otherwise (or for fewer than two arrays).  Arrays laid out like this --
    by :func:`flat_arrays`, for instance -- are updated by one kernel call.
    """
    nonempty = [a for a in arrays if a.size]
    if len(arrays) < 2 or not nonempty:
        return None
    first = nonempty[0]
    owner = first if first.base is None else first.base
    if not isinstance(owner, np.ndarray) or owner.dtype != first.dtype or \
            not owner.flags.c_contiguous:
        return None
    end = _address(first)
    for a in arrays:
        if a.dtype != first.dtype:
            return None
        if a.size == 0:  # occupies no memory (NumPy may give it any address)
            continue
        if a.base is not owner and a is not owner or not a.flags.c_contiguous or \
                _address(a) != end:
            return None
        end += a.nbytes
    offset = (_address(first) - _address(owner)) // first.itemsize
    return owner.reshape(-1)[offset:offset + (end - _address(first)) // first.itemsize]


def flat_arrays(shapes, dtype=np.float64):
    """Zero-filled arrays of the given shapes, laid out back to back in one buffer.

    Parameters (and gradients) allocated this way let an optimizer update a whole
    parameter group with one kernel call, spreading its threads over all of them
    instead of paying a call per array::

        params = fastopt.flat_arrays([(784, 256), (256,), (256, 10), (10,)], np.float32)
        grads = fastopt.flat_arrays([p.shape for p in params], np.float32)
        opt = fastopt.Adam(params)
        ...                     # write the gradients into grads[i] in place
        opt.step(grads)         # one fused call over all four arrays

    Args:
        shapes: a sequence of shapes (tuples of ints >= 0, or ints for 1-D arrays).
        dtype: the arrays' dtype (default float64; the optimizers take float32 and
            float64).

    Returns:
        A list of C-contiguous, writeable, zero-filled arrays of the given shapes: views,
        in order, of one new 1-D buffer of ``sum(sizes)`` elements.

    Raises:
        ValueError: a negative dimension.
    """
    dtype = np.dtype(dtype)
    shapes = [tuple(np.atleast_1d(np.asarray(s, dtype=np.int64)).tolist()) if not
              isinstance(s, tuple) else s for s in shapes]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    buffer = np.zeros(sum(sizes), dtype)
    views, start = [], 0
    for shape, size in zip(shapes, sizes):
        views.append(buffer[start:start + size].reshape(shape))
        start += size
    return views


def _plain(g):
    """A gradient with its ndarray subclasses (a masked array, ``np.matrix``) as views of
    their data of type ``numpy.ndarray``: what every backend's kernels read (numba refuses
    masked arrays when it compiles; ``np.matrix`` stays 2-D when flattened; the reference
    would follow a mask)."""
    if g is None or type(g) is np.ndarray:
        return g
    if type(g) is SparseGrad:
        if type(g.indices) is np.ndarray and type(g.values) is np.ndarray:
            return g
        return SparseGrad(g.indices.view(np.ndarray), g.values.view(np.ndarray))
    return g.view(np.ndarray)


def _checked_row_steps(where, value, p):
    a = np.asarray(value)
    n_rows = p.shape[0] if p.ndim else 1
    if a.shape != (n_rows,) or a.dtype.kind not in "iu":
        raise ValueError(f"{where} must be an integer array of shape ({n_rows},), got "
                         f"{a.dtype} {a.shape}")
    if a.size and a.min() < 0:
        raise ValueError(f"{where} must be >= 0")
    return np.array(a, dtype=np.int64, copy=True)


def _checked_row_values(where, value, p):
    a = np.asarray(value)
    n_rows = p.shape[0] if p.ndim else 1
    if a.shape != (n_rows,) or a.dtype.kind != "f":
        raise ValueError(f"{where} must be a float array of shape ({n_rows},), got "
                         f"{a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{where} must be finite")
    return np.array(a, dtype=np.float64, copy=True)


#: The version of the ``"rounding"`` entry of :meth:`Optimizer.state_dict` (2: the
#: counter-based stream, ``key`` and ``counter``; 1, without a ``format``: a PCG64 state).
ROUNDING_FORMAT = 2


def _is_uint64(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) \
        and 0 <= int(x) <= _M64


def _checked_rounding(saved):
    """The ``_rounding`` pair a state dict's ``"rounding"`` entry describes (None: no
    entry, the optimizer's rounding stays as it is); ValueError if it is malformed.

    An entry of the first format (``{"mode": "stochastic", "bit_generator": <PCG64
    state>}``, fastopt before the counter-based stream) is converted: the stream goes on
    under a key derived from the PCG64 state (a new stream, not the draws the old
    version would have made)."""
    if saved is None:
        return None
    where = "state_dict['rounding']"
    if not isinstance(saved, dict) or saved.get("mode") not in ("nearest", "stochastic"):
        raise ValueError(f"{where} must be a dict with 'mode' 'nearest' or 'stochastic'")
    if saved["mode"] == "nearest":
        if set(saved) != {"mode"}:
            raise ValueError(f"{where}: 'nearest' rounding has no other entry")
        return ("nearest", None)
    if "bit_generator" in saved:  # the first format
        if set(saved) != {"mode", "bit_generator"}:
            raise ValueError(f"{where}: an entry of the first format (with 'bit_generator') "
                             f"must have exactly the entries 'mode' and 'bit_generator'")
        state = saved["bit_generator"]
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError(f"{where}['bit_generator'] must be a PCG64 state (NumPy's "
                             f"PCG64().state)")
        bit_generator = np.random.PCG64()
        try:
            bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise ValueError(f"{where}['bit_generator'] is not a valid PCG64 state: "
                             f"{e}") from None
        pcg = bit_generator.state["state"]
        return ("stochastic", [_mix64_int(pcg["state"] ^ (pcg["inc"] << 1)), 0])
    if set(saved) != {"mode", "format", "key", "counter"}:
        raise ValueError(f"{where} must have exactly the entries 'mode', 'format', 'key' and "
                         f"'counter' (format {ROUNDING_FORMAT}), or 'mode' and "
                         f"'bit_generator' (format 1), got {sorted(saved)}")
    if saved["format"] != ROUNDING_FORMAT:
        raise ValueError(f"{where}['format'] must be {ROUNDING_FORMAT}, got "
                         f"{saved['format']!r} (written by a newer fastopt?)")
    if not _is_uint64(saved["key"]):
        raise ValueError(f"{where}['key'] must be an int in [0, 2**64), got {saved['key']!r}")
    if not _is_uint64(saved["counter"]):
        raise ValueError(f"{where}['counter'] must be an int in [0, 2**64), got "
                         f"{saved['counter']!r}")
    return ("stochastic", [int(saved["key"]), int(saved["counter"])])


#: The page-offset slots (:func:`_state_full`) of a dense 16-bit parameter's float32
#: scratch, past the state arrays' (4K aliasing with them slows the kernel).
_HALF_SLOT = 6

#: One row, row 0: a dense 16-bit parameter is converted as the one row of a table.
_ROW_ZERO = np.zeros(1, np.int64)


#: The kinds of call a plan replays (see Optimizer._make_plan): one parameter, a group
#: in one buffer, a group of separate arrays (``<rule>_many``).
_ONE, _SPAN, _MANY = "one", "span", "many"
#: The backends with ``<rule>_many`` kernels.
_MANY_BACKENDS = ("cython", "numba")


def _grads_pass_py(params, grads, last, dtypes, shapes, starts, ends):
    """Whether every ``grads[i]`` passes the fast path's checks for ``params[i]``.

    ``params[i]`` must still have the dtype object ``dtypes[i]`` and the shape
    ``shapes[i]`` and be writeable; ``grads[i]`` must be a ``numpy.ndarray`` (exactly) of
    that dtype object and shape, C-contiguous, aligned and, unless it is ``last[i]`` (the
    array checked at the last step, whose memory cannot have moved), outside the address
    ranges ``[starts[j], ends[j])`` of the parameters and state.  Records each new gradient
    that passes in ``last``.  ``False`` as soon as one fails.
    (``fastopt.backends.cython._checks`` does the same in C, ~20x faster; this is used where
    it was not built.)
    """
    if len(grads) != len(params):
        return False
    for i, g in enumerate(grads):
        p, shape, dtype = params[i], shapes[i], dtypes[i]
        if p.dtype is not dtype or p.shape != shape or not p.flags.writeable:
            return False
        if type(g) is not np.ndarray or g.dtype is not dtype or g.shape != shape or \
                not g.flags.c_contiguous or not g.flags.aligned:
            return False
        if g is not last[i]:
            if _overlap_index_py(g, starts, ends) >= 0:
                return False
            last[i] = g
    return True


def _overlap_index_py(a, starts, ends):
    """The index ``j`` of the range ``[starts[j], ends[j])`` (disjoint, sorted) that the
    memory of ``a`` (C-contiguous) meets, or -1; -1 for an empty ``a``."""
    if not a.size:
        return -1
    low, high = check._address_range(a)
    k = bisect.bisect_right(starts, low) - 1
    for j in (k, k + 1):  # the ranges are disjoint: only these two can overlap [low, high)
        if 0 <= j < len(starts) and starts[j] < high and ends[j] > low:
            return j
    return -1


def _sparse_pass_py(p, g, starts, ends):
    """Whether the ``SparseGrad`` ``g`` passes the checks of a sparse step for ``p``
    (``check.sparse_gradient`` and the aliasing of its arrays with the address ranges
    ``[starts[j], ends[j])``); ``False`` also where those might pass (a ``values`` dtype
    equal to but not ``p``'s dtype object, an ``ndarray`` subclass).
    (``fastopt.backends.cython._checks`` does the same in C; this is used where it was
    not built.)"""
    indices, values = g.indices, g.values
    if p.ndim == 0 or type(indices) is not np.ndarray or type(values) is not np.ndarray:
        return False
    if (indices.ndim != 1 or indices.dtype not in check.INDEX_DTYPES
            or not indices.flags.c_contiguous or not indices.flags.aligned):
        return False
    if (values.dtype is not p.dtype or values.shape != indices.shape + p.shape[1:]
            or not values.flags.c_contiguous or not values.flags.aligned):
        return False
    if indices.size and int(indices.view(check._UNSIGNED[indices.dtype]).max()) >= p.shape[0]:
        return False
    return _overlap_index_py(values, starts, ends) < 0 and _overlap_index_py(
        indices, starts, ends) < 0


def _next_step_py(state):
    """``state["step"] + 1``, stored (with ``dict``'s item assignment) and returned."""
    t = state["step"] + 1
    _put(state, "step", t)
    return t


def _next_steps_py(states):
    """:func:`_next_step_py` on every dict of ``states`` (a tuple or list)."""
    for state in states:
        _put(state, "step", state["step"] + 1)


def _put_all_py(states, key, value):
    """``state[key] = value`` (``dict``'s item assignment) in every dict of ``states``."""
    for state in states:
        _put(state, key, value)


def _same_items_py(a, b):
    """Whether the sequences ``a`` and ``b`` hold the same objects (``is``) in order."""
    return len(a) == len(b) and all(map(operator.is_, a, b))


def _call_kernel_py(kernel, param, grad, states, floats, flags, n_threads):
    """``kernel(param, grad, *states, *floats, *flags, n_threads)``."""
    return kernel(param, grad, *states, *floats, *flags, n_threads)


try:
    from ..backends.cython._checks import call_kernel as _call_kernel
    from ..backends.cython._checks import grads_pass as _grads_pass
    from ..backends.cython._checks import next_step as _next_step
    from ..backends.cython._checks import next_steps as _next_steps
    from ..backends.cython._checks import put_all as _put_all
    from ..backends.cython._checks import same_items as _same_items
    from ..backends.cython._checks import overlap_index as _overlap_index
    from ..backends.cython._checks import sparse_pass as _sparse_pass
    from ..backends.cython._checks import ReplayOne as _ReplayOne
    from ..backends.cython._checks import StepScalars as _StepScalars
except ImportError:  # the extension was not built
    _grads_pass, _next_step, _overlap_index = _grads_pass_py, _next_step_py, _overlap_index_py
    _next_steps, _put_all, _same_items = _next_steps_py, _put_all_py, _same_items_py
    _sparse_pass = _sparse_pass_py
    _call_kernel = _call_kernel_py
    _ReplayOne = _StepScalars = None


def _step_scalars_py(floats, flags, terms=()):
    """``state -> (floats, flags)`` at step ``t = state["step"]``: ``floats`` with the
    entries of ``terms`` computed from ``t`` -- ``(j, "over_one_minus_pow", a, b)``:
    ``a / -expm1(t * b)``; ``(j, "sqrt_one_minus_pow", _, b)``: ``sqrt(-expm1(t * b))``;
    ``(j, "over_decay", a, b)``: ``a / (1.0 + (t - 1) * b)``.  (``_checks.StepScalars``
    computes the same doubles in C, and hands them to a prepared call without making a
    float; this twin is used where the extension was not built.)"""
    floats, flags, terms = tuple(floats), tuple(flags), tuple(terms)
    expm1, sqrt = math.expm1, math.sqrt

    def scalars(state):
        t = state["step"]
        out = list(floats)
        for at, kind, a, b in terms:
            if kind == "over_decay":
                out[at] = a / (1.0 + (t - 1) * b)
            elif kind == "sqrt_one_minus_pow":
                out[at] = sqrt(-expm1(t * b))
            else:
                out[at] = a / -expm1(t * b)
        return tuple(out), flags
    return scalars


def _step_scalars(floats, flags, terms=()):
    """The plan's scalars of a rule whose scalars are constants and the ``terms`` of
    :func:`_step_scalars_py` (``_checks.StepScalars`` where built)."""
    if _StepScalars is not None:
        return _StepScalars(tuple(floats), tuple(flags), tuple(terms))
    return _step_scalars_py(floats, flags, terms)


def _state_dtype(p):
    """The dtype of ``p``'s optimizer state and arithmetic: float32 for 16-bit parameters."""
    return _FLOAT32 if p.dtype in check.HALF_DTYPES else p.dtype


class _GroupParams(list):
    """``param_groups[i]["params"]``: the group's arrays, a list that cannot be changed in
    place (the optimizer's state, spans and one-call-per-group steps are laid out for these
    arrays: an array appended would shift every later group's).  Copies are plain lists."""

    __slots__ = ()

    def _refuse(self, *args, **kwargs):
        raise TypeError("a parameter group's 'params' cannot be changed in place: the "
                        "optimizer's state and calls are laid out for its arrays; add arrays "
                        "with opt.add_param_group({'params': [...]}) or make a new optimizer")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __reduce__(self):
        return (list, (list(self),))


class ParamGroup(dict):
    """A parameter group: a dict (as in ``torch.optim``) that notices when it is edited.

    Schedules change hyperparameters between steps (``group["lr"] = ...``); the
    optimizer re-validates a group only after such an edit.
    """

    __slots__ = ("edited",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.edited = True

    def __setitem__(self, key, value):
        self.edited = True
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.edited = True
        super().__delitem__(key)

    def update(self, *args, **kwargs):
        self.edited = True
        super().update(*args, **kwargs)

    def setdefault(self, key, default=None):
        self.edited = True
        return super().setdefault(key, default)

    def pop(self, *args):
        self.edited = True
        return super().pop(*args)

    def popitem(self):
        self.edited = True
        return super().popitem()

    def clear(self):
        self.edited = True
        super().clear()

    def __ior__(self, other):
        self.edited = True
        return super().__ior__(other)


#: Writes of the optimizer's own bookkeeping into a state dict (``step``, NAdam's
#: ``mu_product``, newly created arrays): they bypass :class:`ParamState`'s checks.
_put = dict.__setitem__


class ParamState(dict):
    """``opt.state[i]``: the state of one parameter, a dict whose edits reach the kernels.

    The ways ``torch.optim`` users reset, roll back or replace state work, and act
    exactly as on a fresh optimizer:

    * ``clear()`` (or deleting every entry): the parameter starts again at step 0
      with freshly initialized state at its next step;
    * ``state["exp_avg"] = array``: the optimizer uses (and updates in place) that
      array from the next step on.  It must be a writable C-contiguous
      ``numpy.ndarray`` of the parameter's dtype (float32 for a float16/bfloat16
      parameter) and the state's shape, sharing no
      memory with any parameter or other state array; anything else is refused here
      with a ``TypeError``/``ValueError``;
    * ``state["step"] = n`` (a non-negative integer), NAdam's ``mu_product``;
    * deleting some entries: allowed only if the rest is a consistent state (at
      step 0 the missing arrays are created; later they are refused at the next
      ``step``, before anything is written).

    Unknown names are refused (``KeyError``): the kernels would never read them.

    It holds its optimizer weakly (no reference cycle: an optimizer and its arrays are
    freed as soon as the last reference to it goes); once the optimizer is gone it is a
    plain dict.
    """

    __slots__ = ("_owner", "_index")

    def __init__(self, owner, index, *args):
        super().__init__(*args)
        self._owner = weakref.ref(owner)
        self._index = index

    def __setitem__(self, key, value):
        owner = self._owner()
        if owner is not None:
            value = owner._checked_state_entry(self._index, key, value, self)
        super().__setitem__(key, value)
        self._edited(owner)

    def _edited(self, owner):
        if owner is not None:
            owner._state_edited(self._index)

    def __delitem__(self, key):
        super().__delitem__(key)
        self._edited(self._owner())

    def clear(self):
        super().clear()
        self._edited(self._owner())

    def pop(self, *args):
        value = super().pop(*args)
        self._edited(self._owner())
        return value

    def popitem(self):
        item = super().popitem()
        self._edited(self._owner())
        return item

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args, **kwargs):
        """Assign every entry, each checked as ``state[key] = value``; if one is refused,
        the state is left as it was before the call."""
        before = dict(self)
        try:
            for key, value in dict(*args, **kwargs).items():
                self[key] = value
        except BaseException:
            dict.clear(self)
            dict.update(self, before)
            self._edited(self._owner())
            raise

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):  # pickles (and copies) as the plain dict it holds
        return (dict, (dict(self),))

    def copy(self):
        return dict(self)


class _StateView(Mapping):
    """``opt.state``: per-parameter state dicts (:class:`ParamState`), keyed by the
    parameter's position (0, 1, ...) or by the parameter array itself.

    A read-only ``Mapping`` of the parameters that have state (``len``, iteration,
    ``keys``/``values``/``items``, ``in``); ``opt.state[i]`` also gives the (empty)
    state of a parameter that has not been stepped yet, as ``torch.optim``'s
    ``defaultdict`` does.  It holds its optimizer weakly (see :class:`ParamState`).
    """

    __slots__ = ("_ref",)

    def __init__(self, optimizer):
        self._ref = weakref.ref(optimizer)

    @property
    def _opt(self):
        optimizer = self._ref()
        if optimizer is None:
            raise ReferenceError("the optimizer of this opt.state no longer exists")
        return optimizer

    def _index(self, key):
        params = self._opt._params
        if isinstance(key, np.ndarray):
            for i, p in enumerate(params):
                if p is key:
                    return i
            raise KeyError("this array is not a parameter of the optimizer (opt.state takes "
                           "a parameter's position or the parameter array itself)")
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise KeyError(f"opt.state takes a parameter's position (an int) or the parameter "
                           f"array, got {type(key).__name__}")
        if not 0 <= key < len(params):
            raise KeyError(f"parameter {int(key)} does not exist: the optimizer has "
                           f"{len(params)} parameter(s), numbered 0 to {len(params) - 1}")
        return int(key)

    def __getitem__(self, key):
        return self._opt._states[self._index(key)]

    def __contains__(self, key):
        try:
            return bool(self[key])
        except KeyError:
            return False

    def __len__(self):
        return sum(1 for s in self._opt._states if s)

    def __iter__(self):
        return (i for i, s in enumerate(self._opt._states) if s)

    def __repr__(self):
        return f"<state of {len(self)} parameter(s) of {type(self._opt).__name__}>"


class Optimizer:
    """Base class of every fastopt optimizer: parameters, groups, state, checkpoints, dispatch.

    Subclasses (:class:`~fastopt.SGD`, :class:`~fastopt.Adam`, ...) differ only in their
    hyperparameters, state and kernel; this class holds everything else, with
    ``torch.optim.Optimizer``'s semantics.

    Args:
        params: what to update, in place: one NumPy array, a list of arrays, or a list
            of parameter-group dicts (``{"params": [...], "lr": ...}``) whose entries
            override the optimizer's defaults.  Every array is float32 or float64 (both
            may be mixed), writeable and C-contiguous, of any shape (also 0 elements);
            no two may overlap in memory.
        defaults: the subclass's hyperparameters (each class documents its own).
        backend: ``"python"``, ``"numba"`` or ``"cython"`` for this optimizer; ``None``
            (default) follows :func:`fastopt.get_backend` at every step.

    Attributes:
        param_groups: list of dicts, one per group: ``"params"`` and every
            hyperparameter.  Editing ``opt.param_groups[i]["lr"]`` between steps takes
            effect at the next step, which checks the new value.  A group's ``"params"``
            list cannot be changed (``TypeError``): add arrays with :meth:`add_param_group`.
        defaults: dict of the constructor's hyperparameters.

    :attr:`state` (a property) is the per-parameter state, ``opt.state[i]`` or
    ``opt.state[array]``: a dict of the subclass's state arrays (same shape and dtype as
    the parameter) and ``"step"`` (int, steps taken), created at the parameter's first
    step.

    Raises:
        TypeError: ``params`` of the wrong type, a parameter of another dtype than
            float32/float64, an unknown hyperparameter, a non-boolean flag.
        ValueError: empty ``params``, a read-only or non-contiguous parameter, parameters
            that overlap or repeat, a hyperparameter out of its range, an unknown backend.

    Every check runs before anything is written, here and in :meth:`step`.
    """

    #: Name of the kernel module of every backend (``fastopt.backends.<b>.<algorithm>``).
    algorithm = None

    #: Refuse non-finite gradients (``True``), apply them (``False``) or follow
    #: :func:`fastopt.set_check_finite` (``None``, the default).  Set it on an instance:
    #: ``opt.check_finite = True``.
    check_finite = None

    def __init__(self, params, defaults, *, backend=None):
        self.defaults = dict(defaults)
        self._check_group(self.defaults, "")
        self.backend = None if backend is None else _dispatch.check_backend(backend)
        self._kernel_for = (None, None)   # ((backend, selection version), kernel)
        self._kernel_cache = (None, {})   # the same, for the other kernels (sparse, ...)
        self._local = threading.local()   # per-thread workspace of the sparse kernels
        self._creating = threading.Lock()  # threads stepping at once create state once
        self.param_groups = []
        self._groups = []           # the groups as created: param_groups must stay these
        self._group_params = []     # per group: its 'params' as created (a _GroupParams)
        self._params = []
        self._dtypes = []           # per param: its dtype when it was given (see step)
        self._states = []
        self._group_of = []
        self._param_spans = []      # per group: flat view over its params, or None
        self._state_buffers = []    # per group: {state name: flat buffer} when spanned
        self._group_arrays = []     # per group: cached spans of params and state
        self._grad_spans = []       # per group: (grads seen last, their span)
        self._lockstep = []         # per group: all its params at the same step, same state
        self._group_index = []      # per param: index of its group
        self._validated_grads = []  # per param: the gradient array validated last
        self._kernel_arrays = []
        self._row_arrays = []       # per param: 2-D (rows) views of param and state
        self._state_dirty = set()   # params whose state the user edited since the last step
        self._occupied = None       # sorted memory ranges of params and state (_refuse_alias)
        self._plan = None           # the last step's calls, replayed by _step_planned
        self._state_view = _StateView(self)
        for group in self._as_groups(params):
            self.add_param_group(group)

    @property
    def state(self):
        """Per-parameter state: ``opt.state[i]`` (or ``opt.state[param]``) is a
        :class:`ParamState` dict; see there for the edits that are allowed.

        Assigning an empty mapping (``opt.state = {}`` or ``collections.defaultdict(dict)``,
        as ``torch.optim`` users do) resets every parameter's state; any other
        assignment is refused (restore a checkpoint with :meth:`load_state_dict`).
        """
        return self._state_view

    @state.setter
    def state(self, value):
        if value is self._state_view:
            return
        if isinstance(value, Mapping) and len(value) == 0:
            for state in self._states:
                state.clear()
            return
        raise TypeError("opt.state cannot be replaced: assign an empty dict (opt.state = {}) to "
                        "reset every parameter's state, call opt.state[i].clear() for one, or "
                        "restore a checkpoint with opt.load_state_dict(...)")

    # -- parameters -----------------------------------------------------------------

    @staticmethod
    def _as_groups(params):
        if isinstance(params, np.ndarray):
            return [{"params": [params]}]
        if isinstance(params, dict):
            return [params]
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"params must be an array, a list of arrays or a list of dicts, "
                            f"got {type(params).__name__}") from None
        if not params:
            raise ValueError("params is empty: the optimizer has nothing to update")
        if all(_is_number(p) for p in params):
            raise TypeError(
                f"params is a list of {len(params)} numbers, but a list is read as a list of "
                f"parameters (one array each). For one parameter of {len(params)} elements pass "
                f"an array, e.g. np.array({_preview(params)}) (float32 or float64); the "
                f"optimizer updates that array in place")
        if all(isinstance(p, dict) for p in params):
            return params
        if any(isinstance(p, dict) for p in params):
            raise TypeError("params mixes arrays and parameter-group dicts")
        return [{"params": params}]

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (torch's semantics)."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        arrays = param_group["params"]
        arrays = [arrays] if isinstance(arrays, np.ndarray) else list(arrays)
        unknown = set(param_group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"unknown hyperparameter(s) for {type(self).__name__}: "
                            f"{', '.join(sorted(unknown))}")
        group = ParamGroup({**self.defaults,
                            **{k: v for k, v in param_group.items() if k != "params"}})
        self._check_group(group, f"param_groups[{len(self.param_groups)}].")
        start = len(self._params)
        for k, p in enumerate(arrays):
            check.parameter(f"params[{start + k}]", p, half=True)
        check.no_overlaps("params", self._params + arrays)
        for k, p in enumerate(arrays):
            label = self._alias_of(p)  # (the parameters' overlaps are refused above)
            if label is not None:
                raise ValueError(f"params[{start + k}] shares memory with {label}; every "
                                 f"parameter needs its own array")
        if any(p.dtype in check.HALF_DTYPES for p in arrays):
            if self._finishes or group.get("per_row_step"):
                raise ValueError(f"{type(self).__name__}"
                                 f"{' with per_row_step' if group.get('per_row_step') else ''} "
                                 f"does not take float16/bfloat16 parameters")
        # Everything checked: register the group.
        group["params"] = _GroupParams(arrays)
        self.param_groups.append(group)
        self._groups.append(group)
        self._group_params.append(group["params"])
        self._param_spans.append(None if any(p.dtype in check.HALF_DTYPES for p in arrays)
                                 else _span(arrays))
        self._state_buffers.append({})
        self._group_arrays.append(None)
        self._grad_spans.append((None, None))
        self._lockstep.append(False)
        for p in arrays:
            self._group_index.append(len(self.param_groups) - 1)
            self._validated_grads.append(None)
            self._params.append(p)
            self._dtypes.append(p.dtype)
            self._states.append(ParamState(self, len(self._states)))
            self._group_of.append(group)
            self._kernel_arrays.append(None)
            self._row_arrays.append(None)
        group.edited = False
        self._occupied = None
        self._plan = None
        # A gradient validated before may overlap the new parameters: check them again.
        self._validated_grads[:] = [None] * len(self._validated_grads)

    def _recheck_groups(self):
        """Validate the groups edited since the last step (schedules, user edits)."""
        try:
            if not any(group.edited for group in self.param_groups):
                return
        except AttributeError:
            pass
        if len(self.param_groups) != len(self._groups) or any(
                a is not b for a, b in zip(self.param_groups, self._groups)):
            raise TypeError("param_groups was changed as a list; edit a group's entries "
                            "(opt.param_groups[0]['lr'] = ...) or call add_param_group")
        self._refuse_replaced_params()
        for i, group in enumerate(self.param_groups):
            if group.edited:
                self._check_group(group, f"param_groups[{i}].")
                for j, g in enumerate(self._group_of):
                    if g is not group:
                        continue
                    for name, _ in self._state_arrays(group):
                        have = self._states[j].get(name)
                        want = self._state_shape(group, name, self._params[j])
                        if have is not None and not self._state_fits(have, want,
                                                                     self._params[j]):
                            raise ValueError(
                                f"param_groups[{i}]: the options no longer fit the state of "
                                f"params[{j}] ({name!r} has shape {have.shape}, these options "
                                f"need {want}); they cannot change once the state exists")
                group.edited = False
                for j, g in enumerate(self._group_of):
                    if g is group:
                        self._kernel_arrays[j] = None  # options may need other state
                        self._row_arrays[j] = None
                self._group_arrays[i] = None

    def _refuse_replaced_params(self):
        """Refuse a group whose ``"params"`` entry is no longer the list it was created with
        (its arrays are what the state and the calls are laid out for)."""
        for i, (group, params) in enumerate(zip(self.param_groups, self._group_params)):
            if group.get("params") is not params:
                raise TypeError(f"param_groups[{i}]['params'] was replaced: the optimizer's "
                                f"state and calls are laid out for the arrays it was given; "
                                f"add arrays with opt.add_param_group({{'params': [...]}}) or "
                                f"make a new optimizer")

    # -- the step -------------------------------------------------------------------

    def _grads_list(self, grads):
        n = len(self._params)
        if isinstance(grads, (np.ndarray, SparseGrad)):
            if n != 1:
                raise ValueError(f"grads is one gradient but the optimizer has {n} parameters; "
                                 f"pass a list of {n}")
            return [grads]
        try:
            grads = list(grads)
        except TypeError:
            raise TypeError(f"grads must be an array or a list of arrays, got "
                            f"{type(grads).__name__}") from None
        if len(grads) != n:
            hint = ""
            if grads and all(_is_number(g) for g in grads):
                hint = (f"; a list is read as one gradient per parameter -- for the gradient of "
                        f"one parameter pass an array, e.g. np.array({_preview(grads)}, "
                        f"dtype=param.dtype)")
            raise ValueError(f"grads has {len(grads)} entries but the optimizer has {n} "
                             f"parameter{'s' if n != 1 else ''}{hint}")
        return grads

    def step(self, grads):
        """Update every parameter in place from its gradient: one step of the rule.

        Args:
            grads: one gradient per parameter, in the order of the parameters (groups
                concatenated); a single array when there is one parameter.  Each is a
                NumPy array of the parameter's shape and dtype, C-contiguous, not
                sharing memory with its parameter; or a :class:`~fastopt.SparseGrad`
                for a parameter of shape ``(n_rows, ...)`` (only the listed rows of the
                parameter and of its state are updated; see the rule's docstring); or
                ``None`` to skip the parameter (its step count does not advance).

        Raises:
            TypeError: a gradient of the wrong type or dtype (int32/int64 indices for
                a ``SparseGrad``).
            ValueError: the wrong number of gradients, a shape that differs from the
                parameter's, a non-contiguous gradient, a gradient that shares memory
                with its parameter, a hyperparameter edited to an invalid value.
            IndexError: a ``SparseGrad`` row outside ``[0, n_rows)``.

        Everything is validated before anything is written: after an error the
        parameters and the state are unchanged.

        A step like the last one (dense gradients for every parameter, nothing edited
        since) replays the last step's kernel calls, re-checking only what can have
        changed: see :meth:`_step_planned` and the hardening guide.
        """
        plan = self._plan
        if plan is not None and plan[-1](grads):
            return
        self._plan = None
        params = self._params
        if (type(grads) is np.ndarray or type(grads) is SparseGrad) and len(params) == 1:
            grads = (grads,)
        else:
            grads = self._grads_list(grads)
        for i, g in enumerate(grads):
            p, dtype = params[i], self._dtypes[i]
            if g is not None and p.dtype is not dtype and p.dtype != dtype:
                raise TypeError(
                    f"params[{i}] has dtype {p.dtype} but was given to the optimizer as "
                    f"{dtype}: its state and layout were made for {dtype}; an array's dtype "
                    f"cannot be reassigned in place (params[{i}].dtype = ...) under an "
                    f"optimizer")
        gradient = check.gradient
        validated = self._validated_grads
        for i, g in enumerate(grads):
            # The array validated at the last step cannot have moved, been resized or
            # changed layout since (NumPy refuses while we hold it); its shape and dtype
            # can be reassigned in place, so those are compared again.
            p = params[i]
            if g is not None and (g is not validated[i] or g.shape != p.shape
                                  or g.dtype is not p.dtype or not g.flags.c_contiguous):
                if type(g) is SparseGrad:
                    starts, ends, _ = self._occupied or self._occupied_ranges()
                    if not _sparse_pass(p, g, starts, ends):  # the checks that name it
                        check.sparse_gradient(g, p, i, check_alias=False)
                        self._refuse_alias(g.values, f"grads[{i}].values")
                        self._refuse_alias(g.indices, f"grads[{i}].indices")
                    continue
                gradient(g, p, i)
                self._refuse_alias(g, f"grads[{i}]")
                validated[i] = g
        for i, g in enumerate(grads):  # (made read-only in place since it was added)
            if g is not None and not params[i].flags.writeable:
                raise ValueError(f"params[{i}] is read-only")
        if not all(type(g) is np.ndarray for g in grads):
            grads = [_plain(g) for g in grads]
        if self.check_finite or (self.check_finite is None and _CHECK_FINITE[0]):
            self._refuse_non_finite(grads)
        self._recheck_groups()
        if self._state_dirty:
            self._check_edited_states()
        if self._kernel_for[0] != (self.backend, _dispatch.selection_version):
            kernel = _dispatch.kernel(self.backend or _dispatch.get_backend(), self.algorithm)
            self._kernel_for = ((self.backend, _dispatch.selection_version), kernel)
        kernel = self._kernel_for[1]
        threshold = _dispatch.PARALLEL_THRESHOLD
        fused = None
        record = []  # the calls made, for the plan of the next steps (None: no plan)
        if len(grads) > 1:
            fused = self._step_fused_groups(grads, kernel, record)
        for i, g in enumerate(grads):
            if g is None or fused and fused[i]:
                continue
            self._lockstep[self._group_index[i]] = False
            p = params[i]
            state = self._states[i]
            group = self._group_of[i]
            if type(g) is SparseGrad:
                record = None
                self._step_sparse(i, g, p, group, state)
                continue
            if p.dtype in check.HALF_DTYPES:
                record = None
                self._step_half(i, g, p, group, state, kernel)
                continue
            if group.get("per_row_step"):
                record = None
                self._step_dense_per_row(i, g, p, group, state, kernel)
                continue
            arrays = self._kernel_arrays[i]
            if arrays is None:
                arrays = self._views_once(self._kernel_arrays, i, group, p, state, rows=False)
            _put(state, "step", state["step"] + 1)
            floats, flags = self._scalars(group, state)
            if arrays[2] is None:  # the elementwise kernel on flat views
                work = p.size * self._cost_per_element(group)
                kernel(arrays[0], g if g.ndim == 1 else g.reshape(-1), *arrays[1],
                       *_rounded(floats, p.dtype), *flags,
                       1 if work < threshold else _dispatch.get_num_threads())
                if self._finishes:
                    record = None
                    self._finish(group, arrays[0], arrays[1], None)
                elif record is not None:
                    record.append((_ONE, i, kernel, arrays[0], arrays[1], group, state,
                                   work, p.dtype))
            else:  # a row kernel (row-wise Adagrad) on 2-D views
                record = None
                self._kernel(arrays[2])(arrays[0], g.reshape(arrays[0].shape), *arrays[1],
                                        *_rounded(floats, p.dtype), *flags,
                                        _dispatch.threads_for(p.size))
        if record is not None and all(type(g) is np.ndarray for g in grads):
            self._plan = self._make_plan(record)

    # -- the fast path ------------------------------------------------------------------

    def _make_plan(self, record):
        """The plan that replays the calls of this step (``record``) at the next steps.

        Made after a step that gave every parameter a dense gradient and made only
        elementwise kernel calls: one per parameter (``_ONE``), one per group laid out
        in one buffer (``_SPAN``), one ``<rule>_many`` call per group (``_MANY``).
        Everything the calls depend on -- the backend selection, the groups (their
        hyperparameters and the list), the state dicts, the parameters' shapes and
        dtypes -- is either compared by :meth:`_step_planned` at every step or drops the
        plan when it is edited (:meth:`_state_edited`, :meth:`add_param_group`).
        """
        params = self._params
        # The Cython kernels take the scalars as doubles and cast them to the arrays'
        # dtype once (a C cast: the rounding of _rounded, bit for bit); the others get
        # them rounded here.
        rounding = (self.backend or _dispatch.get_backend()) != "cython"
        groups = tuple(self.param_groups)
        index = {id(group): gi for gi, group in enumerate(groups)}
        calls = tuple(self._prepared_call(c, index, rounding) for c in record)
        plan = (_dispatch.selection_version, self.backend, self.param_groups, groups,
                tuple(params), tuple(p.shape for p in params), tuple(p.dtype for p in params),
                calls, tuple(c for c in calls if c[0] is _SPAN),
                [self._scalars_for(group) for group in groups],
                [self._group_structure(group) for group in groups])
        if len(groups) == 1 and len(calls) == 1 and calls[0][0] is _ONE:
            return plan + (self._replay_one(plan),)
        # The plan is kept by the optimizer: it holds the optimizer weakly (no cycle).
        optimizer, step_planned = weakref.ref(self), type(self)._step_planned
        return plan + (lambda grads: step_planned(optimizer(), plan, grads),)

    @staticmethod
    def _prepared_call(call, index, rounding):
        """A recorded call as the plan keeps it: the group as its index, and ``rounding``
        appended.  A kernel with ``prepare`` (numba's elementwise kernels) is replaced by
        its call prepared for the call's arrays, given the scalars unrounded (it casts
        them to the dtype itself)."""
        kernel = call[2]
        if call[0] is _ONE and hasattr(kernel, "prepare"):
            kernel, rounding = kernel.prepare(call[3], tuple(call[4])), False
        return call[:2] + (kernel,) + call[3:5] + (index[id(call[5])],) + call[6:] + (rounding,)

    def _replay_one(self, plan):
        """:meth:`_step_planned` for a plan of one group and one elementwise call (a model
        with one parameter): the same checks in the same order, with what the plan holds
        bound once, so that a small step costs little more than its kernel.  With the
        Cython extension this is ``_checks.ReplayOne``, the same function in C."""
        if _ReplayOne is not None:
            return _ReplayOne(weakref.ref(self), _dispatch, plan, self._validated_grads,
                              _CHECK_FINITE, _rounded)
        (version, backend, group_list, groups, params, shapes, dtypes, calls, _, scalars_of,
         _) = plan
        _, i, kernel, param, states, _, state, size, dtype, rounding = calls[0]
        states = tuple(states)
        group, validated, ndarray = groups[0], self._validated_grads, np.ndarray
        flat = len(shapes[i]) == 1  # (the gradient's shape is checked at every step)
        optimizer = weakref.ref(self)  # the optimizer keeps the plan: no cycle

        def replay(grads):
            self = optimizer()
            if (_dispatch.selection_version != version or self.backend is not backend
                    or self.param_groups is not group_list or len(group_list) != 1
                    or group_list[0] is not group):
                return False
            if group.edited and not self._replan_edited_groups(plan):
                return False
            if type(grads) is ndarray:
                grads = (grads,)
            elif type(grads) is not list and type(grads) is not tuple:
                return False
            occupied = self._occupied or self._occupied_ranges()
            if not _grads_pass(params, grads, validated, dtypes, shapes, occupied[0],
                               occupied[1]):
                return False
            if self.check_finite or (self.check_finite is None and _CHECK_FINITE[0]):
                self._refuse_non_finite(grads)
            g = grads[i]
            _next_step(state)
            floats, flags = scalars_of[0](state)
            _call_kernel(kernel, param, g if flat else g.reshape(-1), states,
                         _rounded(floats, dtype) if rounding else floats, flags,
                         1 if size < _dispatch.PARALLEL_THRESHOLD else _dispatch.get_num_threads())
            return True
        return replay

    def _group_structure(self, group):
        """What a plan's calls depend on in a group's options: the kernel, the state arrays
        in use, per-row counters, the cost per element.  An edit that keeps it only changes
        the scalars."""
        return (self._kernel_name(group, sparse=False), bool(group.get("per_row_step")),
                tuple(init is None for _, init in self._state_arrays(group)),
                self._cost_per_element(group))

    def _cost_per_element(self, group):
        """The weight of one element of the elementwise kernel in the thread decision: a
        step runs on several threads from ``PARALLEL_THRESHOLD / cost`` elements on.
        1.0 for the rules whose 1e5-element step gains from a second thread (Adam: 75 us
        on one thread, 0.66x of that on two, 2 cores, float32); below 1 for the cheap
        rules that lose there, where waking a helper costs more than it saves (plain
        SGD: 14 us, 1.2-1.3x slower on two threads).  Results do not depend on it."""
        return 1.0

    def _replan_edited_groups(self, plan):
        """Check the groups edited since the last step (raises as :meth:`step`, before any
        write) and renew the plan's scalars; ``False`` if an edit changed what the
        calls depend on (:meth:`_group_structure`)."""
        self._recheck_groups()
        groups, scalars, structures = plan[3], plan[9], plan[10]
        for gi, group in enumerate(groups):
            if self._group_structure(group) != structures[gi]:
                return False
            scalars[gi] = self._scalars_for(group)
        return True

    def _step_planned(self, plan, grads):
        """The step of :meth:`step` when it can replay the last step's calls (``plan``,
        made by :meth:`_make_plan`); ``False`` (nothing done) when it cannot.

        What is re-checked at every step, before anything is written: the backend
        selection; that ``param_groups`` is the same list of the same groups; the groups
        edited since (``ParamGroup.edited``) in full, renewing the plan's scalars (an
        edit that changes the kernel or the state in use drops the plan); each
        parameter's shape, dtype object and writeable flag; each gradient's exact type
        ``numpy.ndarray``, dtype object, shape and C-contiguity (all of which can be
        reassigned in place), and for an array other than the one checked at the last
        step, the aliasing search (a binary search in the address ranges of the
        parameters and state); non-finite values when ``check_finite`` is on.  State
        edits drop the plan.  Anything else (a gradient that fails a check, ``None``, a
        ``SparseGrad``) is left to the full checks of :meth:`step`, which give the
        precise error.  The gradient checks run in C (``_grads_pass``).
        """
        (version, backend, group_list, groups, params, shapes, dtypes, calls,
         span_calls, scalars_of, *_) = plan
        if _dispatch.selection_version != version or self.backend is not backend \
                or self.param_groups is not group_list or len(group_list) != len(groups):
            return False
        if len(groups) == 1:
            if group_list[0] is not groups[0]:
                return False
            edited = groups[0].edited
        else:
            edited = False
            for group, same in zip(group_list, groups):
                if group is not same:
                    return False
                edited = edited or group.edited
        if edited and not self._replan_edited_groups(plan):
            return False
        if type(grads) is np.ndarray:
            grads = (grads,)
        elif type(grads) is not list and type(grads) is not tuple:
            return False
        occupied = self._occupied or self._occupied_ranges()
        if not _grads_pass(params, grads, self._validated_grads, dtypes, shapes, occupied[0],
                           occupied[1]):
            return False
        for _, gi, start, stop, *_ in span_calls:
            seen, span = self._grad_spans[gi]
            group_grads = grads[start:stop]
            if seen is None or not _same_items(seen, group_grads):
                span = _span(group_grads)
                if span is None:
                    return False
                self._grad_spans[gi] = (group_grads, span)
        if self.check_finite or (self.check_finite is None and _CHECK_FINITE[0]):
            self._refuse_non_finite(grads)
        # Everything checked: the calls.
        threshold = _dispatch.PARALLEL_THRESHOLD
        for call in calls:
            if call[0] is _ONE:
                _, i, kernel, param, states, gi, state, size, dtype, rounding = call
                g = grads[i]
                _next_step(state)
                floats, flags = scalars_of[gi](state)
                _call_kernel(kernel, param, g if g.ndim == 1 else g.reshape(-1), states,
                             _rounded(floats, dtype) if rounding else floats, flags,
                             1 if size < threshold else _dispatch.get_num_threads())
                continue
            kind, gi, start, stop, kernel, _, param, states, group_states, size, dtype, \
                one_d, rounding = call
            _next_steps(group_states)
            floats, flags = scalars_of[gi](group_states[0])
            self._sync_state(group_states[0], group_states[1:])
            if kind is _SPAN:
                grad = self._grad_spans[gi][1]
            elif one_d:  # (the gradients' shapes are the parameters': checked above)
                grad = grads[start:stop] if type(grads) is list else list(grads[start:stop])
            else:
                grad = [g if g.ndim == 1 else g.reshape(-1) for g in grads[start:stop]]
            kernel(param, grad, *states, *(_rounded(floats, dtype) if rounding else floats),
                   *flags, 1 if size < threshold else _dispatch.get_num_threads())
        return True

    def _scalars_for(self, group):
        """``state -> _scalars(group, state)`` for a group that stays as it is (the plan's)."""
        scalars, optimizer = type(self)._scalars, weakref.ref(self)  # (no cycle: see _make_plan)
        return lambda state: scalars(optimizer(), group, state)

    def _refuse_alias(self, a, name):
        """Refuse ``a`` (C-contiguous) if it shares memory with a parameter or a state array:
        the kernels would read it while writing there, in an order that differs between
        backends and thread counts."""
        label = self._alias_of(a)
        if label is not None:
            raise ValueError(f"{name} shares memory with {label}; the gradient must be a "
                             f"separate array")

    def _alias_of(self, a):
        """The name of the parameter or state array ``a`` (C-contiguous) overlaps, or None."""
        if not a.size:
            return None
        starts, ends, labels = self._occupied or self._occupied_ranges()
        j = _overlap_index(a, starts, ends)
        return None if j < 0 else labels[j]

    def _occupied_ranges(self):
        """``(starts, ends, labels)``: the sorted memory ranges of the parameters and state
        (cached in ``_occupied`` until a state array is created or replaced)."""
        ranges = [(*check._address_range(q), f"params[{j}]")
                  for j, q in enumerate(self._params) if q.size]
        ranges += [(*check._address_range(v), f"opt.state[{j}][{key!r}]")
                   for j, st in enumerate(self._states) for key, v in st.items()
                   if isinstance(v, np.ndarray) and v.size]
        ranges.sort()
        self._occupied = ([r[0] for r in ranges], [r[1] for r in ranges],
                          [r[2] for r in ranges])
        return self._occupied

    @staticmethod
    def _refuse_non_finite(grads):
        for i, g in enumerate(grads):
            if g is None:
                continue
            sparse = type(g) is SparseGrad
            values = g.values if sparse else g
            where = _first_non_finite(values)
            if where is None:
                continue
            value = values[where]
            if sparse:
                row = int(g.indices[where[0]])
                at = f"grads[{i}].values at index {where} (row {row} of params[{i}])"
            else:
                at = f"grads[{i}] at index {where}"
            raise ValueError(f"the gradient of params[{i}] is not finite: {value} in {at}; "
                             f"nothing was updated (check_finite is on)")

    def _kernel(self, name):
        """Kernel ``name`` of this optimizer's backend (cached while the selection holds)."""
        version = (self.backend, _dispatch.selection_version)
        if self._kernel_cache[0] != version:
            self._kernel_cache = (version, {})
        cache = self._kernel_cache[1]
        fn = cache.get(name)
        if fn is None:
            fn = cache[name] = _dispatch.kernel(self.backend or _dispatch.get_backend(), name,
                                               self.algorithm)
        return fn

    def _step_sparse(self, i, g, p, group, state):
        """One sparse row update of ``params[i]`` (validated) with the rows of ``g``."""
        if p.dtype in check.HALF_DTYPES:
            return self._step_half(i, g, p, group, state, None)
        views = self._row_arrays[i]
        if views is None:
            views = self._views_once(self._row_arrays, i, group, p, state, rows=True)
        param2d, state2d, _ = views
        k, d = g.indices.shape[0], param2d.shape[1]
        slots, rows, coalesced = self._workspace(i, param2d.shape[0], k, d, p.dtype)
        _put(state, "step", state["step"] + 1)
        kernel = self._kernel(self._kernel_name(group, sparse=True))
        values = g.values.reshape(k, d)
        if not group.get("per_row_step"):
            floats, flags = self._scalars(group, state)
            kernel(param2d, g.indices, values, *state2d, *_rounded(floats, p.dtype), *flags,
                   slots, rows, coalesced, _dispatch.threads_for(k * d))
            if self._finishes:
                self._finish(group, param2d, state2d, np.unique(g.indices))
            return
        # Per-row step counters: the rows touched count one more step each; rows at the
        # same count (and the same per-row scalars, NAdam's product) share the step
        # scalars, so each distinct key is one kernel call on its rows (a row's
        # duplicates stay together and in order: the same coalesced sums).
        row_step = self._row_steps(state, param2d.shape[0])
        extras = self._row_extras(state, param2d.shape[0])
        touched = np.unique(g.indices)
        row_step[touched] += 1
        keys = row_step[g.indices]
        if extras:
            keys = np.column_stack([keys.astype(np.float64)]
                                   + [a[g.indices] for _, a in extras])
        distinct, inverse = np.unique(keys, axis=0 if extras else None, return_inverse=True)
        inverse = inverse.reshape(-1)
        for j, key in enumerate(distinct):
            pick = np.flatnonzero(inverse == j) if len(distinct) > 1 else None
            sub_i = g.indices if pick is None else g.indices[pick]
            sub_v = values if pick is None else values[pick]
            scalar_state = self._row_scalar_state(key, extras)
            floats, flags = self._scalars(group, scalar_state)
            kernel(param2d, sub_i, sub_v, *state2d, *_rounded(floats, p.dtype), *flags,
                   slots, rows, coalesced, _dispatch.threads_for(sub_i.shape[0] * d))
            for name, a in extras:
                a[sub_i] = scalar_state[name]
        if self._finishes:
            self._finish(group, param2d, state2d, touched)

    @staticmethod
    def _row_steps(state, n_rows):
        """The per-row step counters (``per_row_step``): int64 ``(n_rows,)``, made on first use."""
        row_step = state.get("row_step")
        if row_step is None:
            row_step = np.zeros(n_rows, np.int64)
            _put(state, "row_step", row_step)
        return row_step

    def _row_extras(self, state, n_rows):
        """``[(name, array)]``: the scalar state that per_row_step keeps per row
        (:attr:`_row_extra_state`; NAdam's ``mu_product`` as ``row_mu_product``), float64
        ``(n_rows,)``, made on first use."""
        out = []
        for name, init in self._row_extra_state.items():
            a = state.get("row_" + name)
            if a is None:
                a = np.full(n_rows, init, np.float64)
                _put(state, "row_" + name, a)
            out.append((name, a))
        return out

    @staticmethod
    def _row_scalar_state(key, extras):
        """The state ``_scalars`` reads for rows at ``key`` (a count, or a count and the
        rows' per-row scalars); ``_scalars`` writes the new scalars into it."""
        if not extras:
            return {"step": int(key)}
        return {"step": int(key[0]), **{name: float(v) for (name, _), v in zip(extras, key[1:])}}

    def _step_dense_per_row(self, i, g, p, group, state, kernel):
        """A dense step with per-row counters: every row counts one more step."""
        n_rows = p.shape[0] if p.ndim else 1
        row_step = self._row_steps(state, n_rows)
        extras = self._row_extras(state, n_rows)
        if n_rows and row_step.min() == row_step.max() and all(
                a.min() == a.max() for _, a in extras):  # all rows alike: one call
            arrays = self._kernel_arrays[i]
            if arrays is None:
                arrays = self._views_once(self._kernel_arrays, i, group, p, state, rows=False)
            _put(state, "step", state["step"] + 1)
            row_step += 1
            scalar_state = self._row_scalar_state(
                row_step[0] if not extras else [row_step[0]] + [a[0] for _, a in extras],
                extras)
            floats, flags = self._scalars(group, scalar_state)
            kernel(arrays[0], g.reshape(-1), *arrays[1], *_rounded(floats, p.dtype), *flags,
                   _dispatch.threads_for(p.size))
            for name, a in extras:
                a[...] = scalar_state[name]
            if self._finishes:
                self._finish(group, arrays[0], arrays[1], None)
            return
        rows = np.arange(n_rows, dtype=np.int64)
        self._step_sparse(i, SparseGrad(rows, g.reshape((n_rows,) + p.shape[1:])), p, group,
                          state)

    # -- 16-bit parameters ----------------------------------------------------------------

    def set_rounding(self, mode, seed=None):
        """How float16/bfloat16 parameters get the float32 result of each update.

        ``"nearest"`` (default): round to nearest even, as ``astype``.  ``"stochastic"``:
        to one of the two neighbouring 16-bit values, the one away from zero with
        probability ``(|x| - |toward|) / (|away| - |toward|)``, so that the rounding is
        unbiased in expectation -- FBGEMM's stochastic rounding of fp16 embedding tables
        (and of the GloVe trainer's 16-bit tables, :mod:`fastopt.embeddings.glove`).

        The uniforms come from a counter-based stream (SplitMix64's finaliser, as in
        FBGEMM and the GloVe trainer), so the result does not depend on the backend, the
        thread count or the order of work: the ``c``-th rounding of a parameter's step
        (``c`` counts every 16-bit parameter step of this optimizer) uses the key
        ``mix64(key + c * golden)``, and element ``k`` of row ``r`` (a dense parameter is
        one row) draws 24 bits of ``mix64(step_key ^ ((r * ceil(d / 2) + k // 2) *
        golden))`` (see :mod:`fastopt.backends.python.half`).  ``seed`` (a
        non-negative int, default 0) gives ``key = mix64(seed)``, the same in every
        process.  The stream's state, ``key`` and ``c``, is the ``"rounding"`` entry of
        :meth:`state_dict` and of checkpoint files, so a resumed run continues bit for
        bit.  Returns the optimizer.

        Raises:
            ValueError: ``mode`` is not ``"nearest"`` or ``"stochastic"``.
            TypeError: ``seed`` is not a non-negative int or None.
        """
        if mode not in ("nearest", "stochastic"):
            raise ValueError(f"mode must be 'nearest' or 'stochastic', got {mode!r}")
        if mode == "stochastic":
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                                     or seed < 0):
                raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
            self._rounding = ("stochastic", [_mix64_int(seed or 0), 0])
        else:
            self._rounding = ("nearest", None)
        return self

    _rounding = ("nearest", None)

    def _round_into(self, backend, values, rows, table, bf16):
        """``table[rows] = values`` rounded (:meth:`set_rounding`), by ``backend``'s
        ``half.narrow_rows`` (on the step's threads); a stochastic rounding advances the
        stream by one."""
        mode, stream = self._rounding
        key = 0
        if mode == "stochastic":
            key = _mix64_int(stream[0] + stream[1] * _GOLDEN)
            stream[1] = (stream[1] + 1) & _M64
        _dispatch.kernel(backend, "narrow_rows", "half")(
            values, rows, table, bf16, mode == "stochastic", np.uint64(key),
            _dispatch.threads_for(values.size))

    def _half_scratch(self, i, arrays, grad_half):
        """``params[i]``'s dense 16-bit step arrays, made once per parameter and thread:
        its bits as one row, the float32 row it is widened into (and its view in the
        kernel's shape), and a float32 row for a 16-bit gradient."""
        spaces = self._local.__dict__.setdefault("half", {})
        space = spaces.get(i)
        if space is None or space[0] is not arrays:
            bits = arrays[0].view(np.uint16).reshape(1, -1)
            work = _state_full(bits.shape, 0, np.float32, _HALF_SLOT)
            space = spaces[i] = [arrays, bits, work, work.reshape(arrays[0].shape), None]
        if grad_half and space[4] is None:
            space[4] = _state_full(space[1].shape, 0, np.float32, _HALF_SLOT + 1)
        return space

    def _step_half(self, i, g, p, group, state, kernel):
        """A step of a float16/bfloat16 parameter: its values (only the touched rows of a
        sparse step) widened to float32 scratch, the float32 kernel with the float32
        state, the result rounded back (:meth:`set_rounding`), by the backend's
        ``half`` kernels.  Every backend gives the same bits."""
        f32 = _FLOAT32
        backend = self.backend or _dispatch.get_backend()
        widen = _dispatch.kernel(backend, "widen_rows", "half")
        bf16 = p.dtype == check.BFLOAT16
        if type(g) is SparseGrad:
            self._step_half_sparse(i, g, p, group, state, backend, widen, bf16)
            return
        arrays = self._kernel_arrays[i]
        if arrays is None:
            arrays = self._views_once(self._kernel_arrays, i, group, p, state, rows=False)
        grad_half = g.dtype != f32
        _, bits, work, work_view, grad_work = self._half_scratch(i, arrays, grad_half)
        n_threads = _dispatch.threads_for(p.size)
        widen(bits, _ROW_ZERO, work, bf16, n_threads)
        if grad_half:
            widen(g.reshape(1, -1).view(np.uint16), _ROW_ZERO, grad_work, bf16, n_threads)
            grad = grad_work.reshape(work_view.shape)
        else:
            grad = g.reshape(work_view.shape)
        _put(state, "step", state["step"] + 1)
        floats, flags = self._scalars(group, state)
        if arrays[2] is None:
            kernel(work_view, grad, *arrays[1], *_rounded(floats, f32), *flags,
                   _dispatch.threads_for(p.size))
        else:  # a row kernel (row-wise Adagrad) on 2-D views
            self._kernel(arrays[2])(work_view, grad, *arrays[1], *_rounded(floats, f32),
                                    *flags, _dispatch.threads_for(p.size))
        self._round_into(backend, work, _ROW_ZERO, bits, bf16)

    def _step_half_sparse(self, i, g, p, group, state, backend, widen, bf16):
        """The sparse step of a 16-bit ``params[i]``: the distinct rows of ``g`` (in order
        of first appearance) and where each index is among them, by ``half.distinct_rows``;
        the touched parameter rows widened to float32 and the touched rows of each float32
        state gathered into this thread's workspace (:meth:`_half_sparse_space`); the
        float32 sparse kernel on them, addressed by position; the state rows scattered back
        and the parameter rows rounded back.  Nothing is allocated in steady state."""
        f32 = _FLOAT32
        views = self._row_arrays[i]
        if views is None:
            views = self._views_once(self._row_arrays, i, group, p, state, rows=True)
        k = g.indices.shape[0]
        grad_half = g.values.dtype != f32
        space = self._half_sparse_space(i, views, k, grad_half)
        table, states, d = space["table"], space["states"], views[0].shape[1]
        half = space["kernels"]
        if half[0] is not backend:
            half = space["kernels"] = (backend, *(
                _dispatch.kernel(backend, name, "half")
                for name in ("distinct_rows", "gather_rows", "scatter_rows")))
        _, distinct, gather, scatter = half
        u = distinct(g.indices, space["slots"], space["rows"], space["inverse"])
        rows = space["rows"][:u]
        work = space["work"][:u * d].reshape(u, d)
        widen(table, rows, work, bf16, _dispatch.threads_for(u * d))
        gathered = []
        for s, s2, buf in states:
            if s2 is None:  # an unused state: empty, never indexed
                gathered.append(s)
                continue
            sub = buf[:u * s2.shape[1]].reshape(u, s2.shape[1])
            gather(s2, rows, sub)
            gathered.append(sub if s.ndim == 2 else sub.reshape(u))
        if grad_half:
            values = space["grad"][:k * d].reshape(1, k * d)
            widen(g.values.reshape(1, k * d).view(np.uint16), _ROW_ZERO, values, bf16,
                  _dispatch.threads_for(k * d))
            values = values.reshape(k, d)
        else:
            values = g.values.reshape(k, d)
        _put(state, "step", state["step"] + 1)
        floats, flags = self._scalars(group, state)
        self._kernel(self._kernel_name(group, sparse=True))(
            work, space["inverse"][:k], values, *gathered, *_rounded(floats, f32), *flags,
            space["kernel_slots"][:u], space["kernel_rows"], space["coalesced"],
            _dispatch.threads_for(k * d))
        for (s, s2, buf), sub in zip(states, gathered):
            if s2 is not None:
                scatter(sub.reshape(u, s2.shape[1]), rows, s2)
        self._round_into(backend, work, rows, table, bf16)

    def _half_sparse_space(self, i, views, k, grad_half):
        """This thread's workspace for sparse 16-bit steps of ``params[i]`` (``views``: its
        row views), for ``k`` indices: a dict of the parameter's bits (``table``), the row
        -> position table of ``distinct_rows`` (``slots``, ``(n_rows,)``, all -1), and
        arrays for at least ``k`` rows -- ``rows``, ``inverse``, the kernel's ``kernel_slots``
        (all -1), ``kernel_rows``, ``coalesced``, the widened rows ``work``, a 16-bit
        gradient's widened values ``grad``, the backend's ``half`` helpers (``kernels``),
        and per state ``(state, 2-D view or None, rows)`` (``states``).  Grows, never
        shrinks; each thread has its own, so several threads may step the same table at
        once."""
        spaces = self._local.__dict__.setdefault("half_sparse", {})
        space = spaces.get(i)
        param2d, state2d, _ = views
        n_rows, d = param2d.shape
        if space is None or space["views"] is not views:
            space = spaces[i] = {
                "views": views, "table": param2d.view(np.uint16), "capacity": -1,
                "kernels": (None,),
                "slots": np.full(n_rows, -1, np.int64),
                "states": [(s, None if not s.size else s if s.ndim == 2
                            else s.reshape(n_rows, -1), None) for s in state2d]}
        if space["capacity"] < k:
            c = max(k, 2 * space["capacity"])
            space.update(capacity=c, rows=np.empty(c, np.int64), inverse=np.empty(c, np.int64),
                         kernel_slots=np.full(c, -1, np.int64),
                         kernel_rows=np.empty(c, np.int64),
                         coalesced=np.empty((c, d), _FLOAT32),
                         work=np.empty(c * d, _FLOAT32), grad=None)
            space["states"] = [(s, s2, None if s2 is None else
                                np.empty(c * s2.shape[1], _FLOAT32))
                               for s, s2, _ in space["states"]]
        if grad_half and space["grad"] is None:
            space["grad"] = np.empty(space["capacity"] * d, _FLOAT32)
        return space

    def _workspace(self, i, n_rows, k, d, dtype):
        """This thread's scratch for sparse steps of ``params[i]``; grows, never shrinks.

        Each thread has its own, so several threads may step the same table at once.
        """
        spaces = self._local.__dict__.setdefault("spaces", {})
        space = spaces.get(i)
        if space is None or space[0].shape[0] != n_rows:
            space = spaces[i] = [np.full(n_rows, -1, np.int64), np.empty(0, np.int64),
                                 np.empty((0, d), dtype)]
        if space[1].shape[0] < k or space[2].shape[1] != d:
            capacity = max(k, 2 * space[1].shape[0])
            space[1] = np.empty(capacity, np.int64)
            space[2] = np.empty((capacity, d), dtype)
        return space

    def _step_fused_groups(self, grads, kernel, record=None):
        """One kernel call per group whose params, grads and state each lie in one buffer.

        Applies when every parameter of the group has a gradient and they are all at
        the same point (same step and scalar state).  Returns which parameters were
        updated, or ``None`` if no group was.
        """
        fused = None
        start = 0
        for gi, group in enumerate(self.param_groups):
            n = len(group["params"])
            stop = start + n
            param_span = self._param_spans[gi]
            if param_span is None:
                if self._step_many(gi, start, stop, grads[start:stop], record):
                    fused = fused or [False] * len(grads)
                    fused[start:stop] = [True] * n
                start = stop
                continue
            group_grads = grads[start:stop]
            if self._kernel_name(group, sparse=False) != self.algorithm or group.get(
                    "per_row_step") or self._finishes or any(
                    type(g) is not np.ndarray for g in group_grads):
                start = stop
                continue
            seen, grad_span = self._grad_spans[gi]
            if seen is None or not _same_items(seen, group_grads):
                grad_span = _span(group_grads)
                self._grad_spans[gi] = (group_grads, grad_span)
            states = self._states[start:stop]
            if grad_span is None and self._step_many(gi, start, stop, group_grads, record):
                fused = fused or [False] * len(grads)
                fused[start:stop] = [True] * n
                start = stop
                continue
            if grad_span is None or not (self._lockstep[gi] or self._in_lockstep(states)):
                start = stop
                continue
            arrays = self._group_arrays[gi]
            if arrays is None:
                for i in range(start, stop):
                    if self._kernel_arrays[i] is None:
                        self._views_once(self._kernel_arrays, i, group, self._params[i],
                                         self._states[i], rows=False)
                arrays = self._group_arrays[gi] = self._group_spans(gi, start, stop)
            if arrays is False:
                start = stop
                continue
            _next_steps(states)
            floats, flags = self._scalars(group, states[0])
            self._sync_state(states[0], states[1:])
            work = param_span.size * self._cost_per_element(group)
            kernel(param_span, grad_span, *arrays, *_rounded(floats, param_span.dtype), *flags,
                   _dispatch.threads_for(work))
            if record is not None:
                record.append((_SPAN, gi, start, stop, kernel, group, param_span, arrays,
                               tuple(states), work, param_span.dtype, True))
            if fused is None:
                fused = [False] * len(grads)
            fused[start:stop] = [True] * n
            self._lockstep[gi] = True
            start = stop
        return fused

    def _step_many(self, gi, start, stop, group_grads, record=None):
        """One compiled call (the compiled backends' ``<rule>_many``) for a group of
        separate arrays at the same point: its arrays cost what one array of their total
        size costs.  Returns whether it applied (else each array is stepped on its own).
        The gradients were validated by :meth:`step`; the kernel checks the arrays again
        before it writes anything.  A kernel with ``prepare`` (numba's) gives the call
        the plan replays: it keeps the checked addresses of the group's arrays and checks
        only the gradients again."""
        group = self.param_groups[gi]
        if (stop - start < 2 or (self.backend or _dispatch.get_backend()) not in _MANY_BACKENDS
                or self._kernel_name(group, sparse=False) != self.algorithm
                or group.get("per_row_step") or self._finishes
                or any(p.dtype in check.HALF_DTYPES for p in self._params[start:stop])
                or any(type(g) is not np.ndarray for g in group_grads)):
            return False
        states = self._states[start:stop]
        if not (self._lockstep[gi] or self._in_lockstep(states)):
            return False
        views = [self._kernel_arrays[i] or self._views_once(
                     self._kernel_arrays, i, group, self._params[i], states[i - start],
                     rows=False) for i in range(start, stop)]
        dtype = views[0][0].dtype
        if any(v[0].dtype != dtype for v in views):
            return False
        many = self._kernel(self.algorithm + "_many")
        param_views = [v[0] for v in views]
        state_views = [list(s) for s in zip(*(v[1] for v in views))]
        if hasattr(many, "prepare"):
            many = many.prepare(param_views, *state_views)
        _next_steps(states)
        floats, flags = self._scalars(group, states[0])
        self._sync_state(states[0], states[1:])
        work = sum(v[0].size for v in views) * self._cost_per_element(group)
        many(param_views, [g.reshape(-1) for g in group_grads], *state_views,
             *_rounded(floats, dtype), *flags, _dispatch.threads_for(work))
        self._lockstep[gi] = True
        if record is not None:
            one_d = all(p.ndim == 1 for p in self._params[start:stop])
            record.append((_MANY, gi, start, stop, many, group, param_views, state_views,
                           tuple(states), work, dtype, one_d))
        return True

    def _group_spans(self, gi, start, stop):
        """The flat state spans of group ``gi`` in kernel order, or ``False`` if not spanned."""
        group = self.param_groups[gi]
        dtype = self._param_spans[gi].dtype
        spans = []
        for name, init in self._state_arrays(group):
            if init is None:
                spans.append(_EMPTY[dtype])
                continue
            span = _span([self._states[i][name] for i in range(start, stop)])
            if span is None:
                return False
            spans.append(span)
        return tuple(spans)

    def _in_lockstep(self, states):
        """Whether these states take the same scalars this step (so one call can serve all)."""
        first = self._lockstep_key(states[0])
        return all(self._lockstep_key(s) == first for s in states[1:])

    def _lockstep_key(self, state):
        return (state.get("step"),) + tuple(state.get(k) for k in self._extra_state)

    def _sync_state(self, first, others):
        """After ``_scalars`` updated ``first``, give ``others`` the same scalar state."""
        for name in self._extra_state:
            _put_all(others, name, first[name])

    def _views_once(self, cache, i, group, p, state, rows):
        """``cache[i]``, made under a lock: when threads step the same parameter for the
        first time together, its state is created once and every thread updates it."""
        with self._creating:
            if cache[i] is None:
                cache[i] = self._kernel_views(group, p, state, rows=rows)
            return cache[i]

    def _kernel_views(self, group, p, state, rows=False):
        """``(param view, state views in kernel order, row-kernel name or None)``.

        Elementwise kernels get flat views; row kernels (sparse steps, row-wise
        rules) get 2-D ``(n_rows, row size)`` views, and state shaped per row
        (``_state_shape``) as it is.  Missing state is created here.
        """
        if "step" not in state:  # (per-row counters may have been made first)
            _put(state, "step", 0)
        name = self._kernel_name(group, sparse=False)
        rows = rows or name != self.algorithm
        if rows:  # (n_rows, row size); a 0-d parameter is one row of one element
            shape = (p.shape[0], int(np.prod(p.shape[1:], dtype=np.int64))) if p.ndim else (1, 1)
        else:
            shape = (p.size,)
        empty = _EMPTY[_state_dtype(p)]
        views = []
        for state_name, init in self._state_arrays(group):
            if init is None:
                views.append(empty)
                continue
            if state_name not in state:
                _put(state, state_name, self._new_state_array(group, p, state_name, init))
                self._occupied = None
                self._on_new_state(state, state_name)
            a = state[state_name]
            views.append(a if self._state_per_row(group, state_name) else a.reshape(shape))
        return (p.view(np.ndarray).reshape(shape), tuple(views),
                None if name == self.algorithm else name)

    def _new_state_array(self, group, p, name, init):
        """A state array for ``p``: a view into the group's buffer when the group is spanned."""
        gi = next(k for k, g in enumerate(self.param_groups) if g is group)
        span = self._param_spans[gi]
        if self._state_per_row(group, name):
            return np.full(self._state_shape(group, name, p), init, dtype=_state_dtype(p))
        slot = [n for n, _ in self._state_arrays_all()].index(name)
        if span is None:
            return _state_full(p.shape, init, _state_dtype(p), slot)
        buffers = self._state_buffers[gi]
        offset = (_address(p) - _address(span)) // p.itemsize
        if name not in buffers:
            buffers[name] = _state_full(span.shape, init, span.dtype, slot)
            return buffers[name][offset:offset + p.size].reshape(p.shape)
        # This parameter's slot may hold its earlier state (cleared, rolled back): reset it.
        place = buffers[name][offset:offset + p.size].reshape(p.shape)
        place[...] = init
        return place

    #: Whether the rule has a second pass over the whole parameter after its kernel
    #: (:meth:`_finish`); such parameters are never fused with others in one call.
    _finishes = False

    def _finish(self, group, param, states, rows):
        """Second pass after the kernel (layer-wise rules such as LAMB): ``param`` and
        ``states`` are the kernel's views; ``rows`` the distinct rows of a sparse step,
        else ``None``."""

    def _on_new_state(self, state, name):
        """Hook for state whose creation changes the next update (SGD's momentum buffer)."""

    def _kernel_name(self, group, sparse):
        """The kernel for this group: ``algorithm`` (elementwise) or a row kernel's name."""
        return self.algorithm + "_sparse" if sparse else self.algorithm

    def _state_per_row(self, group, name):
        """Whether state ``name`` holds one value per row (row-wise rules) instead of per element."""
        return False

    @staticmethod
    def _state_fits(a, want, p):
        """Whether a state array of ``a``'s shape serves a parameter ``p`` whose state has
        shape ``want``: that shape, or, for elementwise state (``want`` is ``p``'s shape),
        ``p``'s size -- the state of a parameter reshaped in place since it was made (the
        parameter keeps stepping: the kernels read both flat)."""
        return a.shape == want or (want == p.shape and a.size == p.size)

    def _state_shape(self, group, name, p):
        """The shape of state array ``name`` of parameter ``p``."""
        if self._state_per_row(group, name):
            return (p.shape[0],) if p.ndim else (1,)
        return p.shape

    # -- state edited by the user ---------------------------------------------------------

    def _state_edited(self, i):
        """``opt.state[i]`` was edited: drop every cached view of it; check it before the
        next step."""
        gi = self._group_index[i]
        self._plan = None
        self._kernel_arrays[i] = None
        self._row_arrays[i] = None
        self._group_arrays[gi] = None
        self._lockstep[gi] = False
        self._validated_grads[:] = [None] * len(self._validated_grads)  # re-checked against
        self._occupied = None                                         # the new state arrays
        self._state_dirty.add(i)

    def _checked_state_entry(self, i, key, value, state):
        """``value`` for ``opt.state[i][key]``, checked (see :class:`ParamState`)."""
        where = f"opt.state[{i}][{key!r}]"
        if key == "step":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                    or value < 0:
                raise ValueError(f"{where} must be a non-negative integer, got {value!r}")
            return int(value)
        if key in self._extra_state:
            return check.real(where, value)
        if key in self._row_state_names() and self._group_of[i].get("per_row_step"):
            checked = _checked_row_steps if key == "row_step" else _checked_row_values
            return checked(where, value, self._params[i])
        names = [n for n, _ in self._state_arrays_all()]
        if key not in names:
            raise KeyError(f"{type(self).__name__} keeps no state {key!r}; its entries are "
                           f"{', '.join(map(repr, ['step', *names, *self._extra_state]))}")
        p = self._params[i]
        dtype = _state_dtype(p)
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{where} must be a numpy.ndarray of dtype {dtype}, got "
                            f"{type(value).__name__}")
        if value.dtype != dtype:
            raise TypeError(f"{where} has dtype {value.dtype}, the parameter {p.dtype}"
                            if dtype == p.dtype else
                            f"{where} has dtype {value.dtype}, expected float32 (the state of "
                            f"a {p.dtype} parameter)")
        want = self._state_shape(self._group_of[i], key, p)
        if value.shape != want:
            raise ValueError(f"{where} has shape {value.shape}, expected {want}")
        if not value.flags.writeable:
            raise ValueError(f"{where} is read-only; the optimizer updates its state in place")
        if not value.flags.c_contiguous:
            raise ValueError(f"{where} is not C-contiguous; assign np.ascontiguousarray(...)")
        if not value.flags.aligned:
            raise check.unaligned(where, value, "assign an aligned copy (np.array(...))")
        if value.size:
            for j, q in enumerate(self._params):
                if q.size and np.may_share_memory(value, q):
                    raise ValueError(f"{where} shares memory with params[{j}]")
            for j, other in enumerate(self._states):
                for name, a in other.items():
                    if isinstance(a, np.ndarray) and a.size and not (j == i and name == key) \
                            and np.may_share_memory(value, a):
                        raise ValueError(f"{where} shares memory with "
                                         f"opt.state[{j}][{name!r}]")
        return value

    def _check_edited_states(self):
        """Refuse (before anything is written) a state the user left inconsistent."""
        for i in sorted(self._state_dirty):
            state = self._states[i]
            if not state:
                continue  # cleared: starts afresh
            where = f"opt.state[{i}]"
            if "step" not in state:
                raise ValueError(f"{where} has entries {sorted(state)} but no 'step': call "
                                 f"opt.state[{i}].clear() to start afresh, or set its 'step'")
            if state["step"] > 0:
                group = self._group_of[i]
                missing = [n for n, init in self._state_arrays(group)
                           if init is not None and n not in state]
                missing += [n for n in self._required_extra_state(group) if n not in state]
                if missing and not self._may_create_later(missing):
                    raise ValueError(f"{where} is at step {state['step']} but lacks {missing}: "
                                     f"call opt.state[{i}].clear() to start afresh, or restore "
                                     f"them")
            self._check_row_entries(where, self._group_of[i], state)
        self._state_dirty.clear()

    # -- subclass interface -----------------------------------------------------------

    def _check_group(self, group, prefix):
        """Validate (and normalize in place) the hyperparameters of ``group``."""
        raise NotImplementedError

    def _state_arrays(self, group):
        """``[(name, initial value or None), ...]`` in kernel order; ``None`` = unused (empty)."""
        raise NotImplementedError

    def _scalars(self, group, state):
        """The kernel's scalar arguments for this step: ``(floats, flags)``.

        ``floats`` are computed in double precision; the caller rounds them to the
        parameter's dtype once.  ``flags`` are the kernel's booleans.
        """
        raise NotImplementedError

    # -- checkpoints --------------------------------------------------------------------

    def state_dict(self):
        """The optimizer's state as plain data (dicts, lists, numbers, NumPy arrays).

        Arrays are copies, so later steps do not change a saved checkpoint.
        Parameters are referred to by their position, as in ``torch.optim``.  With
        stochastic rounding of 16-bit parameters (:meth:`set_rounding`) the dict has a
        third entry, ``"rounding"``: the mode and the counter-based stream's state
        (``{"mode": "stochastic", "format": 2, "key": int, "counter": int}``, both
        uint64 values as ints), so a resumed run draws the same numbers and continues
        bit for bit.  :meth:`load_state_dict` also takes the first format's entry
        (``"bit_generator"``: NumPy's ``PCG64.state``, fastopt before the counter-based
        stream) and converts it: the stream goes on under a key derived from that state.
        """
        state = {}
        for i, s in enumerate(self._states):
            if s:
                state[i] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
        self._refuse_replaced_params()
        groups = []
        start = 0
        for group in self.param_groups:
            n = len(group["params"])
            entry = {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in group.items() if k != "params"}
            entry["params"] = list(range(start, start + n))
            groups.append(entry)
            start += n
        out = {"state": state, "param_groups": groups}
        mode, stream = self._rounding
        if mode == "stochastic":
            out["rounding"] = {"mode": mode, "format": ROUNDING_FORMAT, "key": stream[0],
                               "counter": stream[1]}
        return out

    def load_state_dict(self, state_dict):
        """Restore a checkpoint made by :meth:`state_dict`; a resumed run continues bit for bit.

        The checkpoint is checked in full before anything changes: group and
        parameter counts, hyperparameters, state names, shapes and dtypes.

        A ``torch.optim`` optimizer's ``state_dict()`` (tensors, PyTorch's switches
        such as ``foreach``) is accepted too, for the rules PyTorch has: the names are
        the same; see :mod:`fastopt.optim.torch_state`.  :meth:`torch_state_dict` is
        the way back.
        """
        self._refuse_replaced_params()
        if torch_state.is_torch_state_dict(state_dict):
            state_dict = torch_state.from_torch(self, state_dict)
        if not isinstance(state_dict, dict) or not (
                {"state", "param_groups"} <= set(state_dict)
                <= {"state", "param_groups", "rounding"}):
            raise ValueError("state_dict must be a dict with the keys 'state' and "
                             "'param_groups' (and 'rounding', nothing else)")
        rounding = _checked_rounding(state_dict.get("rounding"))
        groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or len(groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(groups) if isinstance(groups, (list, tuple)) else '?'}"
                             f" parameter groups, the optimizer has {len(self.param_groups)}")
        new_groups = []
        for gi, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if not isinstance(saved, dict) or len(saved.get("params", ())) != len(group["params"]):
                raise ValueError(f"state_dict param_groups[{gi}] does not match the optimizer's "
                                 f"group of {len(group['params'])} parameters")
            missing = set(self.defaults) - set(saved)
            unknown = set(saved) - set(self.defaults) - {"params"}
            if missing or unknown:
                raise ValueError(f"state_dict param_groups[{gi}]: missing {sorted(missing)}, "
                                 f"unknown {sorted(unknown)}")
            hyper = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items()
                     if k != "params"}
            self._check_group(hyper, f"state_dict param_groups[{gi}].")
            new_groups.append(hyper)
        if not isinstance(saved_state, dict):
            raise ValueError("state_dict['state'] must be a dict")
        new_states = [{} for _ in self._params]
        for key, s in saved_state.items():
            try:
                i = range(len(self._params))[int(key)]
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"state_dict['state'] has an entry for parameter {key!r}, which "
                                 f"does not exist") from None
            new_states[i] = self._checked_state(i, s, new_groups[self._group_index[i]])
        # Everything checked: apply.
        for group, hyper in zip(self.param_groups, new_groups):
            group.update(hyper)
        for i, restored in enumerate(new_states):
            group = self._group_of[i]
            for name, value in restored.items():
                if isinstance(value, np.ndarray) and name not in self._row_state_names():
                    place = self._new_state_array(group, self._params[i], name, 0.0)
                    place[...] = value
                    restored[name] = place
            state = self._states[i]  # the same dict as before: references to it stay valid
            dict.clear(state)
            dict.update(state, restored)
            self._state_edited(i)
        self._state_dirty.clear()  # checked above
        if rounding is not None:
            self._rounding = rounding

    def torch_state_dict(self):
        """The state as a ``torch.optim`` state dict (tensors, copies) that the PyTorch
        optimizer of the same class name loads with ``load_state_dict``.

        Requires torch.  ``ValueError`` if PyTorch has no such rule, or an option it
        lacks is in use (Adagrad's ``rowwise``).
        """
        return torch_state.to_torch(self)

    def _checked_state(self, i, saved, group):
        p = self._params[i]
        where = f"state_dict['state'][{i}]"
        if not isinstance(saved, dict) or "step" not in saved:
            raise ValueError(f"{where} must be a dict with a 'step' entry")
        step = saved["step"]
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"{where}['step'] must be a non-negative integer, got {step!r}")
        allowed = {name for name, _ in self._state_arrays_all()} | {"step"} | set(self._extra_state)
        if group.get("per_row_step"):
            allowed |= self._row_state_names()
        unknown = set(saved) - allowed
        if unknown:
            raise ValueError(f"{where} has unknown entries {sorted(unknown)}")
        restored = {"step": int(step)}
        for name, value in saved.items():
            if name == "step":
                continue
            if name in self._extra_state:
                restored[name] = check.real(f"{where}[{name!r}]", value)
                continue
            if name == "row_step":
                restored[name] = _checked_row_steps(f"{where}['row_step']", value, p)
                continue
            if name in self._row_state_names():
                restored[name] = _checked_row_values(f"{where}[{name!r}]", value, p)
                continue
            a = np.asarray(value)
            want = self._state_shape(group, name, p)
            if not self._state_fits(a, want, p):
                raise ValueError(f"{where}[{name!r}] has shape {a.shape}, expected {want}")
            a = a.reshape(want)
            if a.dtype != _state_dtype(p):
                raise ValueError(f"{where}[{name!r}] has dtype {a.dtype}, the parameter {p.dtype}"
                                 + (" (state: float32)" if p.dtype != _state_dtype(p) else ""))
            restored[name] = np.array(a, dtype=_state_dtype(p), order="C", copy=True)
        if restored["step"] > 0:
            needed = [name for name, init in self._state_arrays(group) if init is not None]
            missing = [n for n in needed if n not in restored]
            missing += [n for n in self._required_extra_state(group) if n not in restored]
            if missing and not self._may_create_later(missing):
                raise ValueError(f"{where} lacks {missing}")
        self._check_row_entries(where, group, restored)
        return restored

    #: Scalar (non-array) state entries besides 'step', e.g. NAdam's 'mu_product'.
    _extra_state = ()
    #: ``{name: initial value}``: the entries of :attr:`_extra_state` that per_row_step
    #: keeps per row instead, as float64 arrays ``row_<name>`` of shape ``(n_rows,)``.
    _row_extra_state = {}

    def _row_state_names(self):
        """The per-row state entries of per_row_step (not of the parameter's shape)."""
        return {"row_step"} | {"row_" + name for name in self._row_extra_state}

    def _check_row_entries(self, where, group, state):
        """Refuse per-row entries that do not come together (NAdam's ``row_step`` without
        ``row_mu_product`` would restart the products of rows already counted)."""
        names = self._row_state_names()
        present = names & set(state)
        if group.get("per_row_step") and present and present != names:
            raise ValueError(f"{where} has {sorted(present)} but lacks "
                             f"{sorted(names - present)}: the per-row entries come together")

    def _required_extra_state(self, group):
        """The scalar entries a state past step 0 must hold (per_row_step keeps those of
        :attr:`_row_extra_state` per row, made on first use like ``row_step``)."""
        if group.get("per_row_step"):
            return [n for n in self._extra_state if n not in self._row_extra_state]
        return list(self._extra_state)

    def _state_arrays_all(self):
        """Every state array this algorithm can have, whatever the options."""
        raise NotImplementedError

    def _may_create_later(self, missing):
        return False

    def __reduce__(self):
        """Pickling and :func:`copy.deepcopy`: the class, the groups (with their arrays), the
        backend and :meth:`state_dict`; unpickling builds the optimizer anew and loads the
        state, so the copy continues bit for bit (and steps its own copies of the arrays)."""
        groups = [{k: (list(v) if k == "params" else v) for k, v in g.items()}
                  for g in self.param_groups]
        instance = {k: self.__dict__[k] for k in ("check_finite",) if k in self.__dict__}
        return (_restore_optimizer,
                (type(self), groups, dict(self.defaults), self.backend, self.state_dict(),
                 instance))

    def __repr__(self):
        groups = ", ".join(
            "{" + ", ".join(f"{k}={g[k]!r}" for k in self.defaults) + f", {len(g['params'])} params}}"
            for g in self.param_groups)
        return f"{type(self).__name__}({groups}, backend={self.backend!r})"


def _restore_optimizer(cls, groups, defaults, backend, state, instance):
    """Rebuild a pickled or deep-copied optimizer (:meth:`Optimizer.__reduce__`)."""
    # a class may fix some of its defaults (AdamW's decoupled_weight_decay): the groups
    # carry every value, the constructor gets those it takes
    takes = inspect.signature(cls.__init__).parameters
    opt = cls(groups, backend=backend, **{k: v for k, v in defaults.items() if k in takes})
    opt.load_state_dict(state)
    opt.__dict__.update(instance)
    return opt
