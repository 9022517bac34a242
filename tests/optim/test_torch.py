"""fastopt's trajectories match ``torch.optim``'s with the same hyperparameters.

PyTorch is an independent implementation of the same update rules; it is a peer,
never a requirement, so this module is skipped when torch is not installed
(``pip install torch --index-url https://download.pytorch.org/whl/cpu`` gets a CPU
build), unless ``FASTOPT_REQUIRE_ORACLES=1`` (CI sets it): then it fails.  The comparison is not bitwise:
PyTorch writes moving averages as ``lerp`` and keeps NAdam's ``mu_product`` in
float32, so trajectories agree to rounding, checked with a relative tolerance.
"""
import os

import numpy as np
import pytest

import fastopt

from optimizer_cases import case_id, cases

if os.environ.get("FASTOPT_REQUIRE_ORACLES") == "1":
    import torch
else:
    torch = pytest.importorskip("torch")

STEPS = 40
# Relative deviation allowed after STEPS steps, measured against max(|torch value|,
# 1e-3 * the array's largest magnitude).  Rounding differences (lerp vs. the EMA form,
# a different association in addcdiv) compound over the steps; measured worst cases
# were ~7e-15 (float64) and ~4e-6 on float32 parameters, 3.9e-5 on a float32 exp_avg
# (a moving average that cancels near zero).
RTOL = {np.float64: 1e-12, np.float32: 5e-5}
# torch keeps NAdam's mu_product in float32 even for float64 parameters: its step
# coefficients are off by ~1e-8 relative (measured worst case 1.9e-9 on parameters),
# and mu_product itself agrees only to float32 rounding (measured 1.5e-7).
RTOL_NADAM_F64 = 1e-8
RTOL_MU_PRODUCT = 1e-6
# torch keeps ASGD's eta and mu as float32 tensors too: the same kind of deviation.
RTOL_ASGD_F64 = 1e-6
# Rules torch.optim does not have (tested against their papers' equations elsewhere).
NOT_IN_TORCH = {"Lion", "Ftrl", "ProximalAdagrad", "LAMB"}
# torch's SparseAdam takes sparse gradients only: tests/optim/test_rule_oracles.py.
SPARSE_ONLY = {"SparseAdam"}


def assert_close(ours, theirs, rtol, label):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if theirs.size == 0:
        return
    floor = 1e-3 * np.max(np.abs(theirs))
    deviation = np.abs(ours - theirs) / np.maximum(np.abs(theirs), max(floor, 1e-300))
    assert np.max(deviation, initial=0) <= rtol, f"{label}: max relative deviation " \
                                                  f"{np.max(deviation):.3g} > {rtol:g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cls,kwargs", [pytest.param(c, k, id=case_id(c, k)) for c, k in cases()
                                        if not k.get("rowwise")  # torch has no row-wise Adagrad
                                        and c.__name__ not in NOT_IN_TORCH | SPARSE_ONLY])
def test_trajectory_matches_torch(cls, kwargs, dtype):
    rng = np.random.default_rng(3)
    shapes = [(5, 4), (17,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    ours = cls(params, backend="python", **kwargs)
    torch_kwargs = {k: v for k, v in kwargs.items() if k != "rowwise"}
    theirs = getattr(torch.optim, cls.__name__)(tparams, foreach=False, **torch_kwargs)
    for t in range(STEPS):
        if t == STEPS // 2:
            for g in ours.param_groups + theirs.param_groups:
                g["lr"] *= 0.5
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        ours.step(grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g.copy())
        theirs.step()
    rtol = RTOL[dtype]
    if dtype == np.float64 and cls is fastopt.NAdam:
        rtol = RTOL_NADAM_F64
    if dtype == np.float64 and cls is fastopt.ASGD:
        rtol = RTOL_ASGD_F64
    label = case_id(cls, kwargs)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p, tp.detach().numpy(), rtol, f"{label} params[{i}]")
        for name, v in ours.state[i].items():
            if name == "step" and cls is fastopt.SGD:
                continue  # torch's SGD keeps no step count
            tv = theirs.state[tp][name]
            tv = tv.item() if tv.ndim == 0 else tv.numpy()
            if name == "step":
                assert v == tv, f"{label} state[{i}]['step']"
            elif name in ("mu_product", "eta", "mu"):  # float32 tensors in torch
                assert_close(v, tv, RTOL_MU_PRODUCT, f"{label} state[{i}][{name!r}]")
            else:
                assert_close(v, tv, rtol, f"{label} state[{i}][{name!r}]")
