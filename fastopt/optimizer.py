"""The optimizer base class: parameters, lazily created state, checkpoints, dispatch.

Each algorithm subclass contributes three things: its hyperparameter checks
(``_check_group``), the state it keeps (``_state_arrays``) and the per-step
scalars of its kernel (``_scalars``).  Everything else -- validation of
parameters and gradients, backend and thread selection, the kernel call,
``state_dict``/``load_state_dict`` -- is shared and lives here.
"""
import struct
from array import array

import numpy as np

from . import _backend
from . import _validation as check

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
        self.backend = None if backend is None else _backend.check_backend(backend)
        self.param_groups = []
        self._params = []
        self._states = []
        self._group_of = []
        self._kernel_arrays = []
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
        for p in arrays:
            self._params.append(p)
            self._states.append({})
            self._group_of.append(group)
            self._kernel_arrays.append(None)
        group.edited = False

    def _recheck_groups(self):
        """Validate the groups edited since the last step (schedules, user edits)."""
        for i, group in enumerate(self.param_groups):
            if getattr(group, "edited", True):
                if not isinstance(group, ParamGroup):
                    raise TypeError(f"param_groups[{i}] was replaced by a {type(group).__name__};"
                                    f" edit the group's entries instead")
                self._check_group(group, f"param_groups[{i}].")
                group.edited = False
                for j, g in enumerate(self._group_of):
                    if g is group:
                        self._kernel_arrays[j] = None  # options may need other state

    # -- the step -------------------------------------------------------------------

    def _grads_list(self, grads):
        n = len(self._params)
        if isinstance(grads, np.ndarray):
            if n != 1:
                raise ValueError(f"grads is one array but the optimizer has {n} parameters; "
                                 f"pass a list of {n} arrays")
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
        grads = self._grads_list(grads)
        params = self._params
        gradient = check.gradient
        for i, g in enumerate(grads):
            if g is not None:
                gradient(g, params[i], i)
        self._recheck_groups()
        kernel = _backend.kernel(self.backend or _backend.get_backend(), self.algorithm)
        threshold = _backend.PARALLEL_THRESHOLD
        for i, g in enumerate(grads):
            if g is None:
                continue
            p = params[i]
            state = self._states[i]
            group = self._group_of[i]
            arrays = self._kernel_arrays[i]
            if arrays is None:
                arrays = self._kernel_arrays[i] = self._flat_arrays(group, p, state)
            state["step"] += 1
            floats, flags = self._scalars(group, state)
            kernel(arrays[0], g if g.ndim == 1 else g.reshape(-1), *arrays[1],
                   *_rounded(floats, p.dtype), *flags,
                   1 if p.size < threshold else _backend.get_num_threads())

    def _flat_arrays(self, group, p, state):
        """(param,), then the state arrays in kernel order, all flat; creates missing state."""
        if not state:
            state["step"] = 0
        empty = _EMPTY[p.dtype]
        flat = []
        for name, init in self._state_arrays(group):
            if init is None:
                flat.append(empty)
                continue
            if name not in state:
                state[name] = np.full_like(p, init, order="C")
                self._on_new_state(state, name)
            flat.append(state[name].reshape(-1))
        return p.reshape(-1), tuple(flat)

    def _on_new_state(self, state, name):
        """Hook for state whose creation changes the next update (SGD's momentum buffer)."""

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
        self._states[:] = new_states
        self._kernel_arrays = [None] * len(self._params)

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
            if a.shape != p.shape:
                raise ValueError(f"{where}[{name!r}] has shape {a.shape}, the parameter {p.shape}")
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
