"""The optimizer base class: parameters, lazily created state, checkpoints, dispatch.

Each algorithm subclass contributes three things: its hyperparameter checks
(``_check_group``), the state it keeps (``_state_arrays``) and the per-step
scalars of its kernel (``_scalars``).  Everything else -- validation of
parameters and gradients, backend and thread selection, the kernel call,
``state_dict``/``load_state_dict`` -- is shared and lives here.
"""
import struct
import threading
from array import array

import numpy as np

from ..backends import _dispatch
from .._internal import validation as check
from .sparse import SparseGrad

_EMPTY = {dt: np.empty(0, dt) for dt in check.FLOAT_DTYPES}
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


class _StateView:
    """``opt.state``: per-parameter state dicts, indexed by position or by the array itself."""

    def __init__(self, optimizer):
        self._opt = optimizer

    def _index(self, key):
        if isinstance(key, np.ndarray):
            for i, p in enumerate(self._opt._params):
                if p is key:
                    return i
            raise KeyError("this array is not a parameter of the optimizer")
        return range(len(self._opt._params))[key]

    def __getitem__(self, key):
        return self._opt._states[self._index(key)]

    def __contains__(self, key):
        try:
            return bool(self[key])
        except (KeyError, IndexError, TypeError):
            return False

    def __len__(self):
        return sum(1 for s in self._opt._states if s)

    def __iter__(self):
        return (i for i, s in enumerate(self._opt._states) if s)

    def items(self):
        return ((i, s) for i, s in enumerate(self._opt._states) if s)

    def __repr__(self):
        return f"<state of {len(self)} parameter(s) of {type(self._opt).__name__}>"


class Optimizer:
    """Base class of every fastopt optimizer.

    ``params`` is one NumPy array, a list of arrays, or a list of parameter-group
    dicts (``{"params": [...], "lr": ...}``) whose entries override the
    optimizer's defaults, as in ``torch.optim``.  Arrays must be float32 or
    float64, writable and C-contiguous; they are updated in place.

    ``backend`` fixes this optimizer's backend (``"python"``, ``"numba"`` or
    ``"cython"``); ``None`` follows :func:`fastopt.get_backend` at every step.
    """

    #: Name of the kernel module of every backend (``fastopt.backends.<b>.<algorithm>``).
    algorithm = None

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
        self._params = []
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
        for group in self._as_groups(params):
            self.add_param_group(group)
        self.state = _StateView(self)

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
            check.parameter(f"params[{start + k}]", p)
        check.no_overlaps("params", self._params + arrays)
        group["params"] = arrays
        self.param_groups.append(group)
        self._groups.append(group)
        self._param_spans.append(_span(arrays))
        self._state_buffers.append({})
        self._group_arrays.append(None)
        self._grad_spans.append((None, None))
        self._lockstep.append(False)
        for p in arrays:
            self._group_index.append(len(self.param_groups) - 1)
            self._validated_grads.append(None)
            self._params.append(p)
            self._states.append({})
            self._group_of.append(group)
            self._kernel_arrays.append(None)
            self._row_arrays.append(None)
        group.edited = False

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
        for i, group in enumerate(self.param_groups):
            if group.edited:
                self._check_group(group, f"param_groups[{i}].")
                for j, g in enumerate(self._group_of):
                    if g is not group:
                        continue
                    for name, _ in self._state_arrays(group):
                        have = self._states[j].get(name)
                        want = self._state_shape(group, name, self._params[j])
                        if have is not None and have.shape != want:
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
            raise ValueError(f"grads has {len(grads)} entries but the optimizer has {n} parameters")
        return grads

    def step(self, grads):
        """Update every parameter in place from its gradient.

        ``grads`` matches the parameters: one array for a single parameter, else
        a list in the order of the parameters (groups concatenated); ``None``
        skips a parameter.  Everything is validated before anything is written.
        """
        params = self._params
        if (type(grads) is np.ndarray or type(grads) is SparseGrad) and len(params) == 1:
            grads = (grads,)
        else:
            grads = self._grads_list(grads)
        gradient = check.gradient
        validated = self._validated_grads
        for i, g in enumerate(grads):
            # The array validated at the last step cannot have moved, been resized or
            # changed layout since (NumPy refuses while we hold it); its shape and dtype
            # can be reassigned in place, so those are compared again.
            p = params[i]
            if g is not None and (g is not validated[i] or g.shape != p.shape
                                  or g.dtype is not p.dtype):
                if type(g) is SparseGrad:
                    check.sparse_gradient(g, p, i)
                    continue
                gradient(g, p, i)
                validated[i] = g
        self._recheck_groups()
        if self._kernel_for[0] != (self.backend, _dispatch.selection_version):
            kernel = _dispatch.kernel(self.backend or _dispatch.get_backend(), self.algorithm)
            self._kernel_for = ((self.backend, _dispatch.selection_version), kernel)
        kernel = self._kernel_for[1]
        threshold = _dispatch.PARALLEL_THRESHOLD
        fused = None
        if len(grads) > 1:
            fused = self._step_fused_groups(grads, kernel)
        for i, g in enumerate(grads):
            if g is None or fused and fused[i]:
                continue
            self._lockstep[self._group_index[i]] = False
            p = params[i]
            state = self._states[i]
            group = self._group_of[i]
            if type(g) is SparseGrad:
                self._step_sparse(i, g, p, group, state)
                continue
            arrays = self._kernel_arrays[i]
            if arrays is None:
                arrays = self._views_once(self._kernel_arrays, i, group, p, state, rows=False)
            state["step"] += 1
            floats, flags = self._scalars(group, state)
            if arrays[2] is None:  # the elementwise kernel on flat views
                kernel(arrays[0], g if g.ndim == 1 else g.reshape(-1), *arrays[1],
                       *_rounded(floats, p.dtype), *flags,
                       1 if p.size < threshold else _dispatch.get_num_threads())
            else:  # a row kernel (row-wise Adagrad) on 2-D views
                self._kernel(arrays[2])(arrays[0], g.reshape(arrays[0].shape), *arrays[1],
                                        *_rounded(floats, p.dtype), *flags,
                                        _dispatch.threads_for(p.size))

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
        views = self._row_arrays[i]
        if views is None:
            views = self._views_once(self._row_arrays, i, group, p, state, rows=True)
        param2d, state2d, _ = views
        k, d = g.indices.shape[0], param2d.shape[1]
        slots, rows, coalesced = self._workspace(i, param2d.shape[0], k, d, p.dtype)
        state["step"] += 1
        floats, flags = self._scalars(group, state)
        self._kernel(self._kernel_name(group, sparse=True))(
            param2d, g.indices, g.values.reshape(k, d), *state2d, *_rounded(floats, p.dtype),
            *flags, slots, rows, coalesced, _dispatch.threads_for(k * d))

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

    def _step_fused_groups(self, grads, kernel):
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
                if self._step_many(gi, start, stop, grads[start:stop]):
                    fused = fused or [False] * len(grads)
                    fused[start:stop] = [True] * n
                start = stop
                continue
            group_grads = grads[start:stop]
            if self._kernel_name(group, sparse=False) != self.algorithm or any(
                    type(g) is not np.ndarray for g in group_grads):
                start = stop
                continue
            seen, grad_span = self._grad_spans[gi]
            if seen is None or any(a is not b for a, b in zip(seen, group_grads)):
                grad_span = _span(group_grads)
                self._grad_spans[gi] = (group_grads, grad_span)
            states = self._states[start:stop]
            if grad_span is None and self._step_many(gi, start, stop, group_grads):
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
            for state in states:
                state["step"] += 1
            floats, flags = self._scalars(group, states[0])
            self._sync_state(states[0], states[1:])
            kernel(param_span, grad_span, *arrays, *_rounded(floats, param_span.dtype), *flags,
                   _dispatch.threads_for(param_span.size))
            if fused is None:
                fused = [False] * len(grads)
            fused[start:stop] = [True] * n
            self._lockstep[gi] = True
            start = stop
        return fused

    def _step_many(self, gi, start, stop, group_grads):
        """One compiled call (the Cython backend's ``<rule>_many``) for a group of separate
        arrays at the same point: its arrays cost what one array of their total size
        costs.  Returns whether it applied (else each array is stepped on its own).
        The gradients were validated by :meth:`step`; the kernel checks the arrays again
        before it writes anything."""
        group = self.param_groups[gi]
        if (stop - start < 2 or (self.backend or _dispatch.get_backend()) != "cython"
                or self._kernel_name(group, sparse=False) != self.algorithm
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
        for state in states:
            state["step"] += 1
        floats, flags = self._scalars(group, states[0])
        self._sync_state(states[0], states[1:])
        many([v[0] for v in views], [g.reshape(-1) for g in group_grads],
             *[list(s) for s in zip(*(v[1] for v in views))], *_rounded(floats, dtype),
             *flags, _dispatch.threads_for(sum(v[0].size for v in views)))
        self._lockstep[gi] = True
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
            for s in others:
                s[name] = first[name]

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
        if not state:
            state["step"] = 0
        name = self._kernel_name(group, sparse=False)
        rows = rows or name != self.algorithm
        if rows:  # (n_rows, row size); a 0-d parameter is one row of one element
            shape = (p.shape[0], int(np.prod(p.shape[1:], dtype=np.int64))) if p.ndim else (1, 1)
        else:
            shape = (p.size,)
        empty = _EMPTY[p.dtype]
        views = []
        for state_name, init in self._state_arrays(group):
            if init is None:
                views.append(empty)
                continue
            if state_name not in state:
                state[state_name] = self._new_state_array(group, p, state_name, init)
                self._on_new_state(state, state_name)
            a = state[state_name]
            views.append(a if self._state_per_row(group, state_name) else a.reshape(shape))
        return p.reshape(shape), tuple(views), None if name == self.algorithm else name

    def _new_state_array(self, group, p, name, init):
        """A state array for ``p``: a view into the group's buffer when the group is spanned."""
        gi = next(k for k, g in enumerate(self.param_groups) if g is group)
        span = self._param_spans[gi]
        if self._state_per_row(group, name):
            return np.full(self._state_shape(group, name, p), init, dtype=p.dtype)
        slot = [n for n, _ in self._state_arrays_all()].index(name)
        if span is None:
            return _state_full(p.shape, init, p.dtype, slot)
        buffers = self._state_buffers[gi]
        if name not in buffers:
            buffers[name] = _state_full(span.shape, init, span.dtype, slot)
        offset = (_address(p) - _address(span)) // p.itemsize
        return buffers[name][offset:offset + p.size].reshape(p.shape)

    def _on_new_state(self, state, name):
        """Hook for state whose creation changes the next update (SGD's momentum buffer)."""

    def _kernel_name(self, group, sparse):
        """The kernel for this group: ``algorithm`` (elementwise) or a row kernel's name."""
        return self.algorithm + "_sparse" if sparse else self.algorithm

    def _state_per_row(self, group, name):
        """Whether state ``name`` holds one value per row (row-wise rules) instead of per element."""
        return False

    def _state_shape(self, group, name, p):
        """The shape of state array ``name`` of parameter ``p``."""
        if self._state_per_row(group, name):
            return (p.shape[0],) if p.ndim else (1,)
        return p.shape

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
        Parameters are referred to by their position, as in ``torch.optim``.
        """
        state = {}
        for i, s in enumerate(self._states):
            if s:
                state[i] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
        groups = []
        start = 0
        for group in self.param_groups:
            n = len(group["params"])
            entry = {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in group.items() if k != "params"}
            entry["params"] = list(range(start, start + n))
            groups.append(entry)
            start += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a checkpoint made by :meth:`state_dict`; a resumed run continues bit for bit.

        The checkpoint is checked in full before anything changes: group and
        parameter counts, hyperparameters, state names, shapes and dtypes.
        """
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("state_dict must be a dict with exactly the keys 'state' and "
                             "'param_groups'")
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
            new_states[i] = self._checked_state(i, s, new_groups[self.param_groups.index(
                self._group_of[i])])
        # Everything checked: apply.
        for group, hyper in zip(self.param_groups, new_groups):
            group.update(hyper)
        for i, restored in enumerate(new_states):
            group = self._group_of[i]
            for name, value in restored.items():
                if isinstance(value, np.ndarray):
                    place = self._new_state_array(group, self._params[i], name, 0.0)
                    place[...] = value
                    restored[name] = place
        self._states[:] = new_states
        self._kernel_arrays = [None] * len(self._params)
        self._row_arrays = [None] * len(self._params)
        self._group_arrays = [None] * len(self.param_groups)
        self._lockstep = [False] * len(self.param_groups)

    def _checked_state(self, i, saved, group):
        p = self._params[i]
        where = f"state_dict['state'][{i}]"
        if not isinstance(saved, dict) or "step" not in saved:
            raise ValueError(f"{where} must be a dict with a 'step' entry")
        step = saved["step"]
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"{where}['step'] must be a non-negative integer, got {step!r}")
        allowed = {name for name, _ in self._state_arrays_all()} | {"step"} | set(self._extra_state)
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
            a = np.asarray(value)
            want = self._state_shape(group, name, p)
            if a.shape != want:
                raise ValueError(f"{where}[{name!r}] has shape {a.shape}, expected {want}")
            if a.dtype != p.dtype:
                raise ValueError(f"{where}[{name!r}] has dtype {a.dtype}, the parameter {p.dtype}")
            restored[name] = np.array(a, dtype=p.dtype, order="C", copy=True)
        if restored["step"] > 0:
            needed = [name for name, init in self._state_arrays(group) if init is not None]
            missing = [n for n in needed if n not in restored]
            missing += [n for n in self._extra_state if n not in restored]
            if missing and not self._may_create_later(missing):
                raise ValueError(f"{where} lacks {missing}")
        return restored

    #: Scalar (non-array) state entries besides 'step', e.g. NAdam's 'mu_product'.
    _extra_state = ()

    def _state_arrays_all(self):
        """Every state array this algorithm can have, whatever the options."""
        raise NotImplementedError

    def _may_create_later(self, missing):
        return False

    def __repr__(self):
        groups = ", ".join(
            "{" + ", ".join(f"{k}={g[k]!r}" for k in self.defaults) + f", {len(g['params'])} params}}"
            for g in self.param_groups)
        return f"{type(self).__name__}({groups}, backend={self.backend!r})"
