"""Checkpoints cross between fastopt and ``torch.optim`` in both directions.

For every rule both libraries have (options maximal, so every state entry exists):
torch trains 12 steps, fastopt loads torch's ``state_dict()`` and both go on 12 more
steps with the same gradients; and the other way, fastopt trains, torch loads
``torch_state_dict()`` and both go on.  The runs must agree as the trajectories of
tests/optim/test_torch.py do.  Skipped without torch.
"""
import numpy as np
import pytest

import fastopt

from conftest import bits
from optimizer_cases import GRIDS

torch = pytest.importorskip("torch")

SHARED = [c for c in GRIDS if hasattr(torch.optim, c.__name__)]
STEPS = 12
# float64: torch keeps NAdam's mu_product and ASGD's eta, mu in float32 (see test_torch.py).
RTOL = {np.float64: 1e-8, np.float32: 5e-5}
RTOL_ASGD_F64 = 1e-6


def _rtol(cls, dtype):
    return RTOL_ASGD_F64 if cls is fastopt.ASGD and dtype == np.float64 else RTOL[dtype]


def _options(cls):
    kwargs = {k: v[-1] for k, v in GRIDS[cls].items() if k not in ("rowwise", "per_row_step")}
    if cls is fastopt.SGD:
        kwargs.update(momentum=0.9, dampening=0.0, nesterov=True)
    if cls is fastopt.ASGD:
        kwargs["t0"] = 3.0  # averaging on
    return kwargs


def _grad(cls, rng, shape, dtype):
    g = rng.standard_normal(shape).astype(dtype)
    if cls is not fastopt.SparseAdam:
        return g, torch.from_numpy(g.copy())
    idx = rng.integers(0, shape[0], 5)
    values = rng.standard_normal((5,) + shape[1:]).astype(dtype)
    return (fastopt.SparseGrad(idx, values),
            torch.sparse_coo_tensor(torch.from_numpy(idx)[None], torch.from_numpy(values), shape))


def _close(ours, theirs, rtol, label):
    theirs = np.asarray(theirs, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    floor = max(1e-3 * np.max(np.abs(theirs), initial=0), 1e-300)
    dev = np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), floor), initial=0)
    assert dev <= rtol, f"{label}: relative deviation {dev:.3g}"


def _step_both(cls, ours, theirs, tparams, rng, shapes, dtype):
    grads = [_grad(cls, rng, s, dtype) for s in shapes]
    ours.step([g for g, _ in grads])
    for tp, (_, tg) in zip(tparams, grads):
        tp.grad = tg
    theirs.step()


def _compare(cls, params, tparams, ours, theirs, dtype):
    for i, (p, tp) in enumerate(zip(params, tparams)):
        _close(p, tp.detach().numpy(), _rtol(cls, dtype), f"{cls.__name__} params[{i}]")
        for name, v in ours.state[i].items():
            tv = theirs.state[tp].get(name)
            if tv is None:
                continue
            if isinstance(tv, torch.Tensor):  # (SparseAdam's step is an int)
                tv = tv.item() if tv.ndim == 0 else tv.numpy()
            if name == "step":
                assert v == tv
            else:
                _close(v, tv, max(_rtol(cls, dtype), 1e-6 if np.ndim(v) == 0 else 0),
                       f"{cls.__name__} state[{i}][{name!r}]")


def _pair(cls, dtype, seed):
    rng = np.random.default_rng(seed)
    shapes = [(6, 3), (5,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    kwargs = _options(cls)
    ours = cls(params, **kwargs)
    theirs = getattr(torch.optim, cls.__name__)(tparams, **kwargs)
    return rng, shapes, params, tparams, ours, theirs, kwargs


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cls", SHARED, ids=lambda c: c.__name__)
def test_torch_checkpoint_loads_into_fastopt(cls, dtype):
    rng, shapes, params, tparams, _, theirs, kwargs = _pair(cls, dtype, 0)
    scratch = cls([p.copy() for p in params], **kwargs)
    for _ in range(STEPS):  # torch alone
        _step_both(cls, scratch, theirs, tparams, rng, shapes, dtype)
    for p, tp in zip(params, tparams):
        p[...] = tp.detach().numpy()
    ours = cls(params, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    _compare(cls, params, tparams, ours, theirs, dtype)
    for _ in range(STEPS):
        _step_both(cls, ours, theirs, tparams, rng, shapes, dtype)
    _compare(cls, params, tparams, ours, theirs, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cls", SHARED, ids=lambda c: c.__name__)
def test_fastopt_checkpoint_loads_into_torch(cls, dtype):
    rng, shapes, params, tparams, ours, _, kwargs = _pair(cls, dtype, 1)
    scratch = getattr(torch.optim, cls.__name__)(
        [torch.zeros(s, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                     requires_grad=True) for s in shapes], **kwargs)
    scratch_params = [p for g in scratch.param_groups for p in g["params"]]
    for _ in range(STEPS):  # fastopt alone
        _step_both(cls, ours, scratch, scratch_params, rng, shapes, dtype)
    with torch.no_grad():
        for p, tp in zip(params, tparams):
            tp.copy_(torch.from_numpy(p))
    theirs = getattr(torch.optim, cls.__name__)(tparams, **kwargs)
    exported = ours.torch_state_dict()
    theirs.load_state_dict(exported)
    _compare(cls, params, tparams, ours, theirs, dtype)
    for _ in range(STEPS):
        _step_both(cls, ours, theirs, tparams, rng, shapes, dtype)
    _compare(cls, params, tparams, ours, theirs, dtype)


def test_export_is_a_copy_and_round_trips_bit_for_bit():
    p = np.random.default_rng(2).standard_normal((4, 3))
    opt = fastopt.Adam(p, amsgrad=True)
    opt.step(np.ones_like(p))
    exported = opt.torch_state_dict()
    assert isinstance(exported["state"][0]["exp_avg"], torch.Tensor)
    assert exported["param_groups"][0]["foreach"] is None
    before = opt.state_dict()
    exported["state"][0]["exp_avg"].zero_()  # a copy: the optimizer is unchanged
    assert np.array_equal(opt.state[0]["exp_avg"], before["state"][0]["exp_avg"])
    opt.load_state_dict(opt.torch_state_dict())
    for name, v in before["state"][0].items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(bits(opt.state[0][name]), bits(v))
        else:
            assert opt.state[0][name] == v


def test_rules_and_options_torch_lacks_cannot_be_exported():
    with pytest.raises(ValueError, match="torch.optim has no Lion"):
        fastopt.Lion(np.zeros(3)).torch_state_dict()
    with pytest.raises(ValueError, match="no option 'rowwise'"):
        fastopt.Adagrad(np.zeros((3, 2)), rowwise=True).torch_state_dict()


def test_bad_torch_checkpoint_is_refused_and_changes_nothing():
    tp = torch.zeros(4, requires_grad=True)
    theirs = torch.optim.Adam([tp])
    tp.grad = torch.ones(4)
    theirs.step()
    sd = theirs.state_dict()
    p = np.zeros(5, np.float32)  # another shape
    opt = fastopt.Adam(p)
    with pytest.raises(ValueError, match=r"'exp_avg'\] has shape \(4,\), expected \(5,\)"):
        opt.load_state_dict(sd)
    assert not opt.state
    opt64 = fastopt.Adam(np.zeros(4))  # float64 parameter, float32 torch state
    with pytest.raises(ValueError, match="dtype float32, the parameter float64"):
        opt64.load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        fastopt.Adam([{"params": [np.zeros(4, np.float32)]},
                      {"params": [np.zeros(1, np.float32)]}]).load_state_dict(sd)
