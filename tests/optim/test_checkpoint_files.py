"""Checkpoint files that load without pickle; messages a newcomer needs (issue 11, fault 4)."""
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import fastopt
from fastopt.optim.checkpoint import META

from conftest import bits
from optimizer_cases import GRIDS


def _trained(cls, steps=3, dtype=np.float64, **kwargs):
    params = [np.linspace(-1, 1, 6, dtype=dtype).reshape(2, 3), np.ones(4, dtype)]
    opt = cls(params, **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        opt.step([rng.standard_normal(p.shape).astype(dtype) for p in params])
    return params, opt


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sorted(sa["state"]) == sorted(sb["state"])
    for i in sa["state"]:
        assert sorted(sa["state"][i]) == sorted(sb["state"][i])
        for name, v in sa["state"][i].items():
            w = sb["state"][i][name]
            if isinstance(v, np.ndarray):
                assert v.dtype == w.dtype and bits(v).tolist() == bits(w).tolist()
            else:
                assert type(v) is type(w) and v == w


@pytest.mark.parametrize("cls", list(GRIDS), ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_resumes_bit_for_bit(tmp_path, cls, dtype):
    kwargs = {k: v[-1] for k, v in GRIDS[cls].items()}
    if cls is fastopt.SGD:
        kwargs.update(momentum=0.9, dampening=0.0)
    params, opt = _trained(cls, dtype=dtype, **kwargs)
    path = tmp_path / "ckpt.npz"
    fastopt.save_checkpoint(opt, path)
    copies = [p.copy() for p in params]
    other = cls(copies, **{**kwargs, "lr": 0.5} if "lr" in kwargs else kwargs)
    fastopt.load_checkpoint(other, path)
    _same_state(opt, other)
    g = [np.full(p.shape, 0.3, dtype) for p in params]
    opt.step(g)
    other.step(g)
    for a, b in zip(params, copies):
        assert bits(a).tolist() == bits(b).tolist()
    # the file holds nothing but numeric arrays
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[n].dtype.kind in "fiu" for n in npz.files)  # (per-row counters: int64)


def test_file_objects_work():
    params, opt = _trained(fastopt.Adam)
    buffer = io.BytesIO()
    fastopt.save_checkpoint(opt, buffer)
    buffer.seek(0)
    other = fastopt.Adam([p.copy() for p in params])
    fastopt.load_checkpoint(other, buffer)
    _same_state(opt, other)


class _Exploit:
    """Unpickling this would run ``marker.write_text(...)``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (_touch, (self.path,))


def _touch(path):
    with open(path, "w") as f:
        f.write("pwned")


def test_a_crafted_file_cannot_execute_anything(tmp_path):
    marker = tmp_path / "marker"
    params, opt = _trained(fastopt.Adam)
    good = tmp_path / "good.npz"
    fastopt.save_checkpoint(opt, good)
    before = opt.state_dict()
    # 1. an .npz whose state array is a pickled object array
    with np.load(good) as npz:
        entries = {n: npz[n] for n in npz.files}
    payload = np.empty(1, object)
    payload[0] = _Exploit(str(marker))
    entries["state/0/exp_avg"] = payload
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **entries)
    # 2. a plain pickle named like a checkpoint
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"state": _Exploit(str(marker))}))
    # 3. metadata that is a pickled object array
    meta = dict(entries)
    meta[META] = payload
    crafted_meta = tmp_path / "meta.npz"
    np.savez(crafted_meta, **meta)
    for path in (crafted, raw, crafted_meta):
        with pytest.raises(ValueError, match="not a readable fastopt checkpoint"):
            fastopt.load_checkpoint(opt, path)
        assert not marker.exists()
    _same_state(opt, _Frozen(before))
    # the payload is live: loading it with pickle would have run it
    with np.load(crafted, allow_pickle=True) as npz:
        npz["state/0/exp_avg"]
    assert marker.read_text() == "pwned"


class _Frozen:
    def __init__(self, sd):
        self.sd = sd

    def state_dict(self):
        return self.sd


def _npy_bytes(a):
    buffer = io.BytesIO()
    np.save(buffer, a)
    return buffer.getvalue()


def _rewrite(src, dst, edit_meta=None, edit_arrays=None):
    with np.load(src) as npz:
        entries = {n: npz[n] for n in npz.files}
    meta = json.loads(entries.pop(META).tobytes())
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(entries)
    entries[META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(dst, **entries)
    return dst


def test_corrupt_truncated_and_mismatched_files_are_refused_before_any_change(tmp_path):
    params, opt = _trained(fastopt.Adam)
    good = tmp_path / "good.npz"
    fastopt.save_checkpoint(opt, good)
    data = good.read_bytes()
    target_params, target = _trained(fastopt.Adam, steps=1, lr=0.01)
    before = target.state_dict()

    def set_(path_key, value):
        def edit(meta):
            node = meta
            for k in path_key[:-1]:
                node = node[k]
            node[path_key[-1]] = value
        return edit

    cases = {
        "truncated": (lambda p: p.write_bytes(data[:len(data) // 2]), "not a readable"),
        "garbage": (lambda p: p.write_bytes(b"\x00" * 100), "not a readable"),
        "flipped": (lambda p: p.write_bytes(data[:200] + bytes([data[200] ^ 0xFF]) + data[201:]),
                    "not a readable"),
        "npy": (lambda p: p.write_bytes(_npy_bytes(np.zeros(3))), "single .npy"),
        "no metadata": (lambda p: np.savez(p, a=np.zeros(3)), "no '__fastopt_checkpoint__'"),
        "other optimizer": (lambda p: _rewrite(good, p, set_(["optimizer"], "SGD")),
                            "checkpoint of SGD, the optimizer is Adam"),
        "other version": (lambda p: _rewrite(good, p, set_(["version"], 99)), "version 99"),
        "bad json": (lambda p: np.savez(p, **{META: np.frombuffer(b"{not json", np.uint8)}),
                     "not a readable"),
        "other shapes": (lambda p: _rewrite(good, p, set_(["params", 1, "shape"], [5])),
                         "are not the optimizer's"),
        "missing array": (lambda p: _rewrite(good, p, edit_arrays=lambda a: a.pop(
            "state/1/exp_avg")), "lacks the array 'state/1/exp_avg'"),
        "extra array": (lambda p: _rewrite(good, p, edit_arrays=lambda a: a.update(
            {"state/1/evil": np.zeros(4)})), "does not describe"),
        "wrong array shape": (lambda p: _rewrite(good, p, edit_arrays=lambda a: a.update(
            {"state/1/exp_avg": np.zeros(5)})), r"\['exp_avg'\] has shape \(5,\)"),
        "wrong array dtype": (lambda p: _rewrite(good, p, edit_arrays=lambda a: a.update(
            {"state/1/exp_avg": np.zeros(4, np.float32)})), "dtype float32"),
        "bad step": (lambda p: _rewrite(good, p, set_(["state", "0", "scalars", "step"], -2)),
                     "non-negative integer"),
        "bad hyperparameter": (lambda p: _rewrite(good, p, set_(["param_groups", 0, "lr"], -1)),
                               "lr"),
        "nan in json": (lambda p: np.savez(p, **{META: np.frombuffer(
            b'{"format": NaN}', np.uint8)}), "not a readable"),
    }
    for name, (write, match) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.npz"
        write(path)
        with pytest.raises(ValueError, match=match):
            fastopt.load_checkpoint(target, path)
        _same_state(target, _Frozen(before))
    with pytest.raises(TypeError, match="fastopt Optimizer"):
        fastopt.load_checkpoint("not an optimizer", good)


# -- messages ------------------------------------------------------------------------------

def test_a_list_of_floats_as_grads_gets_a_hint():
    with pytest.raises(ValueError, match=r"has 1 parameter; a list is read as one gradient "
                                         r"per parameter.*np.array\(\[1.0, 2.0, 3.0\]"):
        fastopt.SGD(np.zeros(3)).step([1.0, 2.0, 3.0])


def test_a_list_of_floats_as_params_gets_a_hint():
    with pytest.raises(TypeError, match=r"params is a list of 3 numbers.*list of parameters.*"
                                        r"np.array\(\[0.0, 0.0, 0.0\]\)"):
        fastopt.Adam([0.0, 0.0, 0.0])


# -- non-finite gradients ------------------------------------------------------------------

@pytest.fixture
def finite_check():
    yield
    fastopt.set_check_finite(False)


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
def test_check_finite_refuses_before_any_write(backend, finite_check):
    from conftest import require
    require(backend)
    params = fastopt.flat_arrays([(3,), (2, 3)])
    opt = fastopt.Adam(params, backend=backend)
    opt.step([np.ones(3), np.ones((2, 3))])
    before = opt.state_dict()
    saved = [p.copy() for p in params]
    bad = np.ones((2, 3))
    bad[1, 1] = np.nan
    bad[1, 2] = np.inf
    opt.check_finite = True
    with pytest.raises(ValueError, match=r"params\[1\] is not finite: nan in grads\[1\] at "
                                         r"index \(1, 1\); nothing was updated"):
        opt.step([np.ones(3), bad])
    assert all(bits(a).tolist() == bits(b).tolist() for a, b in zip(params, saved))
    _same_state(opt, _Frozen(before))
    sparse = fastopt.SparseGrad(np.array([1, 0]), np.array([[1.0, 2, 3], [4, -np.inf, 6]]))
    with pytest.raises(ValueError, match=r"-inf in grads\[1\].values at index \(1, 1\) "
                                         r"\(row 0 of params\[1\]\)"):
        opt.step([None, sparse])
    # off (the default): applied, and the NaN stays in the state
    opt.check_finite = None
    assert not fastopt.get_check_finite()
    opt.step([np.ones(3), bad])
    assert np.isnan(opt.state[1]["exp_avg"][1, 1])
    # the process-wide switch
    fastopt.set_check_finite(True)
    opt2 = fastopt.SGD(np.zeros(2))
    with pytest.raises(ValueError, match="not finite"):
        opt2.step(np.array([0.0, np.nan]))
    opt2.check_finite = False      # the instance's own setting wins
    opt2.step(np.array([0.0, np.nan]))
    with pytest.raises(TypeError, match="flag"):
        fastopt.set_check_finite("yes")
