"""Adafactor against ``torch.optim.Adafactor``, its checkpoints, and bad input.

The trajectory against PyTorch's, for matrices (factored statistics), 3-D arrays and
vectors, in every backend: the reference sums in its own explicit order (not PyTorch's),
so agreement is within a tolerance; the compiled kernels reproduce the reference bit for
bit (tests/backends/test_kernels.py, tests/optim/test_equivalence.py).
"""
import numpy as np
import pytest

import fastopt

from conftest import bits, require

SHAPES = [(6, 5), (3, 4, 2), (7,)]
STEPS = 30


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kwargs", [{}, dict(lr=0.05, weight_decay=0.1, maximize=True),
                                    dict(eps=(1e-30, 1e-3), d=2.0, beta2_decay=-0.5)],
                         ids=["default", "wd-max", "eps-d"])
def test_trajectory_matches_torch(kwargs, dtype, backend):
    torch = pytest.importorskip("torch")
    require(backend)
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    ours = fastopt.Adafactor(params, backend=backend, **kwargs)
    theirs = torch.optim.Adafactor(tparams, foreach=False, **kwargs)
    for _ in range(STEPS):
        grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        ours.step(grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g.copy())
        theirs.step()
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    for i, (p, tp) in enumerate(zip(params, tparams)):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)
        for name, v in ours.state[i].items():
            tv = theirs.state[tp][name]
            tv = tv.item() if tv.ndim == 0 else tv.numpy()
            np.testing.assert_allclose(v, tv, rtol=rtol, err_msg=f"params[{i}] {name}")


def test_state_is_factored_and_checkpoints_resume_bit_for_bit():
    rng = np.random.default_rng(1)
    start = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(10)]
    a = [p.copy() for p in start]
    opt = fastopt.Adafactor(a)
    for g in grads:
        opt.step(g)
    assert opt.state[0]["row_var"].shape == (6, 1) and opt.state[0]["col_var"].shape == (1, 5)
    assert opt.state[1]["row_var"].shape == (3, 4, 1) and opt.state[1]["col_var"].shape == (3, 1, 2)
    assert set(opt.state[2]) == {"step", "variance"}
    b = [p.copy() for p in start]
    first = fastopt.Adafactor(b)
    for g in grads[:4]:
        first.step(g)
    second = fastopt.Adafactor(b)
    second.load_state_dict(first.state_dict())
    for g in grads[4:]:
        second.step(g)
    for x, y in zip(a, b):
        assert np.array_equal(bits(x), bits(y))


def test_bad_input():
    with pytest.raises(ValueError, match="beta2_decay must be <= 0"):
        fastopt.Adafactor(np.zeros(3), beta2_decay=0.5)
    with pytest.raises(ValueError, match="d must be >= 1"):
        fastopt.Adafactor(np.zeros(3), d=0.5)
    with pytest.raises(TypeError, match="eps must be a pair"):
        fastopt.Adafactor(np.zeros(3), eps=1e-3)
    with pytest.raises(ValueError, match=r"eps\[1\] must be >= 0"):
        fastopt.Adafactor(np.zeros(3), eps=(None, -1.0))
    with pytest.raises(TypeError, match="Adafactor takes float32 or float64"):
        fastopt.Adafactor(np.zeros(3, np.float16))
    opt = fastopt.Adafactor(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="shape"):
        opt.step(np.zeros(8))
    assert not opt.state
    opt.step(np.ones((4, 2)))
    buffer = np.ones(8)
    opt.state[0]["col_var"] = buffer[:2].reshape(1, 2)  # a gradient may not alias a statistic
    before = opt.state[0]["row_var"].copy()
    with pytest.raises(ValueError, match=r"grads\[0\] shares memory with "
                                         r"opt.state\[0\]\['col_var'\]"):
        opt.step(buffer.reshape(4, 2))
    assert np.array_equal(opt.state[0]["row_var"], before) and opt.state[0]["step"] == 1


def test_torch_checkpoints_cross_both_ways():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    params = [rng.standard_normal(s) for s in SHAPES]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    theirs = torch.optim.Adafactor(tparams)
    for _ in range(5):
        for tp in tparams:
            tp.grad = torch.from_numpy(rng.standard_normal(tuple(tp.shape)))
        theirs.step()
    ours = fastopt.Adafactor([tp.detach().numpy().copy() for tp in tparams])
    ours.load_state_dict(theirs.state_dict())
    for i, tp in enumerate(tparams):
        for name, tv in theirs.state[tp].items():
            want = tv.item() if tv.ndim == 0 else tv.numpy()
            np.testing.assert_array_equal(ours.state[i][name], want)
    back = torch.optim.Adafactor([torch.zeros(s, dtype=torch.float64, requires_grad=True)
                                  for s in SHAPES])
    back.load_state_dict(ours.torch_state_dict())
    for i, tp in enumerate(back.param_groups[0]["params"]):
        np.testing.assert_array_equal(back.state[tp]["row_var" if i < 2 else "variance"].numpy(),
                                      ours.state[i]["row_var" if i < 2 else "variance"])
