"""Optimizer checkpoints as ``.npz`` files that load without pickle.

``pickle`` (and ``np.load(..., allow_pickle=True)``) runs code named by the file, so
a checkpoint from an untrusted place could do anything.  The format here is a plain
``.npz`` (a zip of ``.npy`` files) holding only numeric arrays:

* ``__fastopt_checkpoint__``: the UTF-8 bytes of a JSON document (as a uint8 array)
  with the format name and version, the optimizer's class name, the parameter
  shapes and dtypes, the parameter groups' hyperparameters and every scalar state
  entry (``step``, NAdam's ``mu_product``; floats are written with ``repr``, so they
  round-trip exactly) and, with stochastic rounding of 16-bit parameters, the state of
  its counter-based stream (``rounding``: key and counter, see ``Optimizer.set_rounding``);
* ``state/<i>/<name>``: state array ``name`` of parameter ``i``.

It is read with ``np.load(path, allow_pickle=False)`` and checked in full (format,
optimizer class, parameter shapes and dtypes, then everything
:meth:`Optimizer.load_state_dict` checks) before the optimizer changes.  A resumed
run continues bit for bit, as with :meth:`~Optimizer.state_dict`.
"""
import json
import os
import zipfile

import numpy as np

from .optimizer import Optimizer

FORMAT = "fastopt-optimizer-checkpoint"
VERSION = 1
META = "__fastopt_checkpoint__"


def save_checkpoint(optimizer, path):
    """Write ``optimizer``'s state to ``path`` (an ``.npz`` file, loadable without pickle).

    Args:
        optimizer: a fastopt :class:`~fastopt.Optimizer`.
        path: a file name (``.npz`` is appended by NumPy if missing) or a writable
            binary file object.

    Returns nothing; see :func:`load_checkpoint`.

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer.
        OSError: the file cannot be written.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a fastopt Optimizer, got {type(optimizer).__name__}")
    sd = optimizer.state_dict()
    arrays, state = {}, {}
    for i, entries in sd["state"].items():
        scalars, names = {}, []
        for name, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays[f"state/{i}/{name}"] = value
                names.append(name)
            else:
                scalars[name] = value
        state[str(i)] = {"scalars": scalars, "arrays": names}
    meta = {"format": FORMAT, "version": VERSION, "optimizer": type(optimizer).__name__,
            "params": [{"shape": list(p.shape), "dtype": p.dtype.name}
                       for p in optimizer._params],
            "param_groups": sd["param_groups"], "state": state}
    if "rounding" in sd:
        meta["rounding"] = sd["rounding"]
    text = json.dumps(meta, allow_nan=False)
    arrays[META] = np.frombuffer(text.encode("utf-8"), np.uint8)
    np.savez(path, **arrays)


def load_checkpoint(optimizer, path):
    """Restore ``optimizer`` from a file written by :func:`save_checkpoint`.

    Never unpickles: a file holding pickled objects is refused.  Nothing changes
    unless the whole file checks out.

    Args:
        optimizer: the fastopt :class:`~fastopt.Optimizer` to restore, of the class and
            with the parameter shapes and dtypes of the saved one.
        path: a file name or a readable binary file object.

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer.
        ValueError: naming the file and the problem: not a checkpoint, corrupt or
            truncated, another optimizer class, other parameter shapes or dtypes, bad
            state.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a fastopt Optimizer, got {type(optimizer).__name__}")
    where = os.fspath(path) if isinstance(path, (str, bytes, os.PathLike)) else "the file"
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it is a single .npy array, not an .npz archive")
        with npz:
            if META not in npz.files:
                raise ValueError(f"it has no {META!r} entry")
            meta = _read_meta(npz[META])
            arrays = {name: npz[name] for name in npz.files if name != META}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError,
            UnicodeDecodeError) as e:
        raise ValueError(f"{where} is not a readable fastopt checkpoint: {e}") from None
    try:
        state_dict = _state_dict(optimizer, meta, arrays)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    try:
        optimizer.load_state_dict(state_dict)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _read_meta(raw):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"{META} must be a 1-D uint8 array")
    meta = json.loads(raw.tobytes().decode("utf-8"),
                      parse_constant=lambda c: _raise(f"non-finite number {c} in the metadata"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError("it is not a fastopt optimizer checkpoint (wrong format name)")
    if meta.get("version") != VERSION:
        raise ValueError(f"it has format version {meta.get('version')!r}; this fastopt reads "
                         f"version {VERSION}")
    for key, kind in (("optimizer", str), ("params", list), ("param_groups", list),
                      ("state", dict)):
        if not isinstance(meta.get(key), kind):
            raise ValueError(f"its metadata lacks {key!r} (a {kind.__name__})")
    return meta


def _raise(message):
    raise ValueError(message)


def _state_dict(optimizer, meta, arrays):
    """The state dict the checkpoint describes; checks what load_state_dict cannot see."""
    name = type(optimizer).__name__
    if meta["optimizer"] != name:
        raise ValueError(f"it is a checkpoint of {meta['optimizer']}, the optimizer is {name}")
    want = [{"shape": list(p.shape), "dtype": p.dtype.name} for p in optimizer._params]
    if meta["params"] != want:
        raise ValueError(f"its parameters ({_describe(meta['params'])}) are not the "
                         f"optimizer's ({_describe(want)})")
    state, used = {}, set()
    for key, entry in meta["state"].items():
        if not (isinstance(entry, dict) and isinstance(entry.get("scalars"), dict)
                and isinstance(entry.get("arrays"), list)):
            raise ValueError(f"its state entry {key!r} is malformed")
        try:
            i = int(key)
        except ValueError:
            raise ValueError(f"its state has an entry for parameter {key!r}") from None
        s = dict(entry["scalars"])
        for array_name in entry["arrays"]:
            stored = f"state/{key}/{array_name}"
            if not isinstance(array_name, str) or stored not in arrays:
                raise ValueError(f"it lacks the array {stored!r}")
            s[array_name] = arrays[stored]
            used.add(stored)
        state[i] = s
    extra = sorted(set(arrays) - used)
    if extra:
        raise ValueError(f"it holds arrays the metadata does not describe: {extra[:5]}")
    out = {"state": state, "param_groups": meta["param_groups"]}
    if "rounding" in meta:
        out["rounding"] = meta["rounding"]
    return out


def _describe(params):
    shown = ", ".join(f"{tuple(p.get('shape', ())) if isinstance(p, dict) else p}"
                      f" {p.get('dtype') if isinstance(p, dict) else ''}".strip()
                      for p in params[:4])
    return f"{len(params)}: {shown}{', ...' if len(params) > 4 else ''}"
