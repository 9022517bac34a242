"""Atomic checkpoint files of plain data (dicts, lists, numbers, strings, NumPy arrays).

A checkpoint is one ``.npz`` file (no pickle): the arrays as its members and, in member
``__tree__``, the structure as JSON with the arrays replaced by ``{"__array__": name}``.
It is written to a temporary file in the same folder, flushed to disk, then renamed over
the old one (``os.replace``, atomic on POSIX): a reader sees the old checkpoint or the new
one, never half of one, even if the writer is killed.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

_TREE = "__tree__"


def _encode(obj, arrays):
    if isinstance(obj, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = obj
        return {"__array__": name}
    if isinstance(obj, dict):
        if any(not isinstance(k, (str, int)) for k in obj):
            raise TypeError("checkpoint dict keys must be str or int")
        return {"__dict__": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint an object of type {type(obj).__name__}")


def _decode(obj, arrays, path):
    if isinstance(obj, dict):
        if "__array__" in obj:
            try:
                return arrays[obj["__array__"]]
            except KeyError:
                raise ValueError(f"{path}: corrupt checkpoint (array {obj['__array__']!r} "
                                 f"missing)") from None
        if "__dict__" in obj:
            return {k: _decode(v, arrays, path) for k, v in obj["__dict__"]}
        raise ValueError(f"{path}: corrupt checkpoint (unknown node)")
    if isinstance(obj, list):
        return [_decode(v, arrays, path) for v in obj]
    return obj


def save(path, tree):
    """Write ``tree`` to ``path`` atomically (see the module docstring)."""
    arrays = {}
    encoded = json.dumps(_encode(tree, arrays))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_TREE: np.frombuffer(encoded.encode(), np.uint8)}, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path):
    """Read a checkpoint written by :func:`save`; ``ValueError`` if it is corrupt."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        tree = json.loads(arrays.pop(_TREE).tobytes().decode())
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable fastopt checkpoint ({e})") from None
    return _decode(tree, arrays, path)
