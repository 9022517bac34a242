"""Pickling and deep-copying an optimizer: the copy continues bit for bit, on its own arrays."""
import copy
import pickle

import numpy as np
import pytest

import fastopt
from tests.optimizer_cases import GRIDS, SHAPED_GRIDS, case_id, cases

# per class, the case with the most options on (the grid's last valid combination)
LAST = {cls: kwargs for cls, kwargs in cases({**GRIDS, **SHAPED_GRIDS})}
COPIES = {"deepcopy": copy.deepcopy, "pickle": lambda o: pickle.loads(pickle.dumps(o))}


def _make(cls, kwargs, backend):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal(7),
              rng.standard_normal((4, 3)).astype(np.float32)]
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": kwargs.get("lr", 1e-3) / 2}]
    return cls(groups, backend=backend, **kwargs), params


def _grads(params, step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(p.shape).astype(p.dtype) for p in params]


def _arrays(opt):
    out = [p.copy() for g in opt.param_groups for p in g["params"]]
    for i in range(len(out)):
        out += [v.copy() for _, v in sorted(opt.state[i].items()) if isinstance(v, np.ndarray)]
        out += [v for _, v in sorted(opt.state[i].items()) if not isinstance(v, np.ndarray)]
    return out


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8))
        else:
            assert x == y


@pytest.mark.parametrize("how", sorted(COPIES))
@pytest.mark.parametrize("backend", ["python", "cython"])
@pytest.mark.parametrize("cls", sorted(LAST, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_copy_continues_bit_for_bit_on_its_own_arrays(cls, backend, how):
    kwargs = LAST[cls]
    opt, params = _make(cls, kwargs, backend)
    opt.check_finite = True
    for t in range(3):
        opt.step(_grads(params, t))
    twin = COPIES[how](opt)
    assert type(twin) is type(opt) and twin.backend == backend and twin.check_finite is True
    assert repr(twin) == repr(opt), case_id(cls, kwargs)
    _same(_arrays(twin), _arrays(opt))
    mine = [p for g in opt.param_groups for p in g["params"]]
    theirs = [p for g in twin.param_groups for p in g["params"]]
    for p in theirs:
        assert not any(np.shares_memory(p, q) for q in mine)
    for t in range(3, 6):
        opt.step(_grads(params, t))
        twin.step(_grads(params, t))
    _same(_arrays(twin), _arrays(opt))


def test_deepcopy_shares_the_memo_with_the_model():
    # copy.deepcopy((params, opt)) gives a model and an optimizer that steps it, as in torch
    w = np.zeros(4)
    opt = fastopt.Adam([w], lr=0.1)
    w2, opt2 = copy.deepcopy((w, opt))
    opt2.step([np.ones(4)])
    assert np.all(w == 0) and np.all(w2 < 0)


def test_pickled_16_bit_rounding_stream_continues():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    p = np.linspace(-1, 1, 64).astype(ml_dtypes.bfloat16)
    opt = fastopt.SGD([p], lr=1e-3)
    opt.set_rounding("stochastic", seed=7)
    g = np.full(64, 0.37, np.float32).astype(ml_dtypes.bfloat16)
    opt.step([g])
    twin = pickle.loads(pickle.dumps(opt))
    for _ in range(4):
        opt.step([g])
        twin.step([g])
    _same(_arrays(twin), _arrays(opt))
    assert twin.state_dict()["rounding"] == opt.state_dict()["rounding"]
