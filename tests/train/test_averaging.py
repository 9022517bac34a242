"""Exponentially weighted averages (closed form, bias correction) and weight averaging
against torch.optim.swa_utils.AveragedModel; backends give the same bits; checkpoints."""
import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

from conftest import bits
from toolkit_cases import backends


def test_exponential_average_closed_form():
    """v_t = (1-b) sum_k b^(t-k) x_k, corrected by 1 - b^t: a constant series is returned
    exactly from the first step (the point of the correction)."""
    beta, xs = 0.9, np.random.default_rng(0).standard_normal(20)
    avg = fastopt.ExponentialAverage(beta)
    for t, x in enumerate(xs, 1):
        got = avg.update(float(x))
        weights = (1 - beta) * beta ** np.arange(t - 1, -1, -1)
        assert got == pytest.approx(weights @ xs[:t] / (1 - beta ** t), rel=1e-12)
        assert avg.average == pytest.approx(weights @ xs[:t], rel=1e-12)
    const = fastopt.exponential_average(np.full(10, 3.0), 0.98)
    np.testing.assert_allclose(const, 3.0, rtol=1e-14)
    raw = fastopt.exponential_average(np.full(3, 3.0), 0.5, bias_correction=False)
    np.testing.assert_allclose(raw, [1.5, 2.25, 2.625])


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exponential_average_of_arrays_same_bits_in_every_backend(backend, dtype):
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((6, _dispatch.PARALLEL_THRESHOLD + 3)).astype(dtype)
    fastopt.set_num_threads(2)
    ref, fast = (fastopt.ExponentialAverage(0.8, backend=b) for b in ("python", backend))
    out = np.empty_like(xs[0])
    for x in xs:
        want = ref.update(x)
        got = fast.update(x, out=out)
        assert got is out and np.array_equal(bits(want), bits(got))
    assert np.array_equal(bits(ref.average), bits(fast.average))
    np.testing.assert_array_equal(fastopt.exponential_average(xs, 0.8)[-1], want)


def _torch_reference(params_seq, mode, decay, avg_fn):
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils
    model = torch.nn.Linear(3, 2).double()
    if avg_fn:
        kw = {"avg_fn": swa_utils.get_swa_avg_fn() if mode == "swa"
              else swa_utils.get_ema_avg_fn(decay)}
    else:
        kw = {"multi_avg_fn": swa_utils.get_swa_multi_avg_fn() if mode == "swa"
              else swa_utils.get_ema_multi_avg_fn(decay)}
    averaged = swa_utils.AveragedModel(model, **kw)
    for W, b in params_seq:
        with torch.no_grad():
            model.weight.copy_(torch.from_numpy(W))
            model.bias.copy_(torch.from_numpy(b))
        averaged.update_parameters(model)
    m = averaged.module
    return m.weight.detach().numpy(), m.bias.detach().numpy()


@pytest.mark.parametrize("mode", ["swa", "ema"])
@pytest.mark.parametrize("backend", backends())
def test_averaged_weights_match_torch(mode, backend):
    rng = np.random.default_rng(2)
    seq = [(rng.standard_normal((2, 3)), rng.standard_normal(2)) for _ in range(7)]
    W, b = np.zeros((2, 3)), np.zeros(2)
    avg = fastopt.AveragedWeights([W, b], mode=mode, decay=0.7, backend=backend)
    for Wi, bi in seq:
        W[...], b[...] = Wi, bi
        avg.update_parameters()
    assert avg.n_averaged == 7
    # the same expression as torch's avg_fn: the same bits in float64
    Wt, bt = _torch_reference(seq, mode, 0.7, avg_fn=True)
    assert np.array_equal(bits(avg.averaged[0]), bits(Wt))
    assert np.array_equal(bits(avg.averaged[1]), bits(bt))
    # torch's default multi_avg_fn (lerp): the same averages up to rounding -- for SWA its
    # weight 1 / (n_averaged + 1) is a float32 tensor (n_averaged is a tensor), hence 1e-6
    Wt, bt = _torch_reference(seq, mode, 0.7, avg_fn=False)
    tol = dict(rtol=1e-13, atol=1e-15) if mode == "ema" else dict(rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(avg.averaged[0], Wt, **tol)
    if mode == "swa":
        np.testing.assert_allclose(avg.averaged[0], np.mean([s[0] for s in seq], axis=0),
                                   rtol=1e-13, atol=1e-15)


def test_averaged_weights_checkpoint_with_the_optimizer():
    rng = np.random.default_rng(3)
    w = rng.standard_normal(5)
    opt = fastopt.SGD(w, lr=0.1, momentum=0.9)
    swa = fastopt.AveragedWeights(opt, mode="ema", decay=0.9)
    grads = rng.standard_normal((8, 5))
    for g in grads[:4]:
        opt.step(g)
        swa.update_parameters()
    ckpt = {"opt": opt.state_dict(), "swa": swa.state_dict(), "w": w.copy()}
    for g in grads[4:]:
        opt.step(g)
        swa.update_parameters()
    w2 = ckpt["w"].copy()
    opt2 = fastopt.SGD(w2, lr=0.1, momentum=0.9)
    opt2.load_state_dict(ckpt["opt"])
    swa2 = fastopt.AveragedWeights(w2, mode="ema", decay=0.1)
    swa2.load_state_dict(ckpt["swa"])
    for g in grads[4:]:
        opt2.step(g)
        swa2.update_parameters()
    assert np.array_equal(bits(swa2.averaged[0]), bits(swa.averaged[0]))
    target = np.zeros(5)
    swa.copy_to([target])
    assert np.array_equal(target, swa.averaged[0])
    swa.copy_to()
    assert np.array_equal(w, swa.averaged[0])


def test_exponential_average_state_dict_round_trip():
    a = fastopt.ExponentialAverage(0.5)
    a.update(np.ones(3))
    b = fastopt.ExponentialAverage(0.9)
    b.load_state_dict(a.state_dict())
    x = np.arange(3.0)
    assert np.array_equal(a.update(x), b.update(x)) and b.step == 2


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastopt.ExponentialAverage(1.0), ValueError, "beta"),
    (lambda: fastopt.ExponentialAverage(0.5, bias_correction=1), TypeError, "bias_correction"),
    (lambda: fastopt.ExponentialAverage().update("a"), TypeError, "x"),
    (lambda: fastopt.ExponentialAverage().update(np.ones(2, np.int64)), TypeError, "dtype"),
    (lambda: fastopt.ExponentialAverage().update(np.array([np.nan])), ValueError, "non-finite"),
    (lambda: fastopt.ExponentialAverage().update(np.ones(2), out=np.ones(3)), ValueError, "out"),
    (lambda: fastopt.ExponentialAverage().update(1.0, out=np.ones(1)), TypeError, "out"),
    (lambda: fastopt.ExponentialAverage().load_state_dict({}), ValueError, "state"),
    (lambda: fastopt.exponential_average(["a"]), TypeError, "values"),
    (lambda: fastopt.AveragedWeights(np.ones(2), mode="polyak"), ValueError, "mode"),
    (lambda: fastopt.AveragedWeights(np.ones(2), decay=-0.1), ValueError, "decay"),
    (lambda: fastopt.AveragedWeights(np.ones(2, np.int32)), TypeError, "float32"),
    (lambda: fastopt.AveragedWeights(np.ones(2)).copy_to([np.ones(3)]), ValueError, "shape"),
    (lambda: fastopt.AveragedWeights(np.ones(2)).load_state_dict(
        {"mode": "swa", "decay": 0.5, "n_averaged": 1, "averaged": [np.ones(3)]}),
     ValueError, "averaged"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_shape_change_between_updates_is_refused():
    avg = fastopt.ExponentialAverage()
    avg.update(np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        avg.update(np.ones(4))
    before = avg.average.copy()
    with pytest.raises(TypeError, match="dtype"):
        avg.update(np.ones(3, np.float32))
    assert np.array_equal(avg.average, before) and avg.step == 1


@pytest.mark.parametrize("beta", [0.999, 0.9999])
def test_debiased_average_of_a_constant_is_the_constant_early_on(beta):
    """The bias correction 1 - beta**t is computed without cancellation: the debiased
    average of a constant stays within 2 ulps of it over the first steps (with
    ``1.0 - beta ** t`` it was up to ~1,100 ulps off at beta = 0.9999, t = 2)."""
    from fastopt.train.averaging import ExponentialAverage
    average = ExponentialAverage(beta)
    for t in range(1, 11):
        value = average.update(np.ones(3))
        assert np.all(np.abs(value - 1.0) <= 2 * np.spacing(1.0)), (t, value - 1.0)
