"""Learning-rate schedules: closed forms, every optimizer and backend, no reallocation."""
import math

import numpy as np
import pytest

import fastopt
from fastopt.train.schedules import (CosineAnnealing, ExponentialDecay, InverseTimeDecay,
                               PolynomialDecay, ReduceLROnPlateau, StepDecay)

from conftest import bits
from toolkit_cases import OPTIMIZERS, backends, logistic_problem

SCHEDULES = {
    "step": (lambda o: StepDecay(o, step_size=3, gamma=0.5),
             lambda lr0, t: lr0 * 0.5 ** (t // 3)),
    "exponential": (lambda o: ExponentialDecay(o, gamma=0.9), lambda lr0, t: lr0 * 0.9 ** t),
    "inverse_time": (lambda o: InverseTimeDecay(o, decay_rate=0.5),
                     lambda lr0, t: lr0 / (1 + 0.5 * t)),
    "polynomial": (lambda o: PolynomialDecay(o, total_steps=8, power=2.0, end_lr=1e-4),
                   lambda lr0, t: (lr0 - 1e-4) * (1 - min(t, 8) / 8) ** 2 + 1e-4),
    "cosine": (lambda o: CosineAnnealing(o, total_steps=10, min_lr=1e-3),
               lambda lr0, t: 1e-3 + 0.5 * (lr0 - 1e-3) * (1 + math.cos(math.pi * min(t, 10) / 10))),
    "cosine_warmup": (lambda o: CosineAnnealing(o, total_steps=10, warmup_steps=3),
                      lambda lr0, t: lr0 * (t + 1) / 4 if t < 3 else
                      0.5 * lr0 * (1 + math.cos(math.pi * min(t - 3, 7) / 7))),
}


def two_groups():
    a, b = np.zeros(3), np.zeros(2)
    return fastopt.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.02}])


@pytest.mark.parametrize("name", SCHEDULES)
def test_closed_form_on_every_group(name):
    make, formula = SCHEDULES[name]
    opt = two_groups()
    schedule = make(opt)
    assert schedule.base_lrs == [0.1, 0.02]
    for t in range(15):
        got = [g["lr"] for g in opt.param_groups]
        assert got == pytest.approx([formula(0.1, t), formula(0.02, t)], rel=1e-12, abs=1e-15)
        assert schedule.lrs_at(t) == got and schedule.get_last_lr() == got
        schedule.step()
    assert schedule.t == 15


def test_cosine_warmup_shape():
    opt = fastopt.SGD(np.zeros(1), lr=1.0)
    lrs = CosineAnnealing(opt, total_steps=20, warmup_steps=4, min_lr=0.1).lrs_at
    values = [lrs(t)[0] for t in range(25)]
    assert all(a < b for a, b in zip(values[:5], values[1:5]))     # rises during warm-up
    assert values[0] > 0 and values[4] == 1.0                      # no zero step, peak at W
    assert all(a >= b for a, b in zip(values[4:], values[5:]))    # then anneals
    assert values[20:] == [0.1] * 5


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_follows_the_schedule_without_reallocating(optimizer, backend):
    """A scheduled run equals a run whose lr is set by hand, bit for bit, and no
    parameter or state array moves."""
    runs = []
    for scheduled in (True, False):
        _, _, params, objective = logistic_problem(n=64, d=5)
        opt = OPTIMIZERS[optimizer](params, backend)
        schedule = CosineAnnealing(opt, total_steps=6, warmup_steps=2) if scheduled else None
        expected_lrs = CosineAnnealing(OPTIMIZERS[optimizer]([np.zeros(1)], backend),
                                       total_steps=6, warmup_steps=2).lrs_at
        batch = np.arange(64)
        addresses = None
        for t in range(8):
            if not scheduled:
                opt.param_groups[0]["lr"] = expected_lrs(t)[0]
            assert opt.param_groups[0]["lr"] == expected_lrs(t)[0]
            opt.step(objective(batch)[1])
            now = [a.__array_interface__["data"][0] for s in opt.state.items()
                   for a in s[1].values() if isinstance(a, np.ndarray)]
            now += [p.__array_interface__["data"][0] for p in params]
            assert addresses is None or now == addresses
            addresses = now
            if scheduled:
                schedule.step()
        runs.append([bits(p).copy() for p in params])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_schedule_state_dict_round_trip():
    opt = two_groups()
    schedule = StepDecay(opt, 2, 0.5)
    for _ in range(5):
        schedule.step()
    state = schedule.state_dict()
    other = StepDecay(two_groups(), 2, 0.5)
    other.load_state_dict(state)
    assert other.t == 5 and other.get_last_lr() == schedule.get_last_lr()
    with pytest.raises(ValueError, match="keys"):
        other.load_state_dict({"t": 1})


def test_schedule_refuses_groups_added_later():
    opt = fastopt.SGD(np.zeros(2), lr=0.1)
    schedule = ExponentialDecay(opt, 0.5)
    opt.add_param_group({"params": [np.zeros(3)]})
    with pytest.raises(ValueError, match="groups"):
        schedule.step()


@pytest.mark.parametrize("make,error,name", [
    (lambda o: StepDecay(o, 0), ValueError, "step_size"),
    (lambda o: StepDecay(o, 2, gamma=-1.0), ValueError, "gamma"),
    (lambda o: ExponentialDecay(o, 1.5), ValueError, "gamma"),
    (lambda o: ExponentialDecay(o, 0.0), ValueError, "gamma"),
    (lambda o: InverseTimeDecay(o, -0.1), ValueError, "decay_rate"),
    (lambda o: PolynomialDecay(o, 10, power=0.0), ValueError, "power"),
    (lambda o: PolynomialDecay(o, 0), ValueError, "total_steps"),
    (lambda o: CosineAnnealing(o, 10, warmup_steps=10), ValueError, "warmup_steps"),
    (lambda o: CosineAnnealing(o, 10, min_lr=float("nan")), ValueError, "min_lr"),
    (lambda o: StepDecay("sgd", 2), TypeError, "optimizer"),
    (lambda o: ReduceLROnPlateau(o, mode="median"), ValueError, "mode"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold_mode"),
    (lambda o: ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), ValueError, "min_lr"),
])
def test_bad_arguments(make, error, name):
    opt = fastopt.SGD(np.zeros(2), lr=0.1)
    with pytest.raises(error, match=name):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1


# -- reduce on plateau ---------------------------------------------------------------------

def test_plateau_waits_patience_then_reduces_with_cooldown_and_floor():
    opt = fastopt.SGD(np.zeros(2), lr=1.0)
    plateau = ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2,
                                threshold=0.1)
    lrs = []
    # 10 improves; 9.5 is within the 10% threshold (not an improvement); then a plateau.
    for value in [10, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5]:
        plateau.step(value)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2]


def test_plateau_mode_max_abs_threshold_and_nan():
    opt = fastopt.SGD(np.zeros(2), lr=1.0)
    plateau = ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=1, threshold=0.5,
                                threshold_mode="abs")
    assert not plateau.step(1.0)
    assert not plateau.step(2.0)           # +1.0 > 0.5: improvement
    assert not plateau.step(2.4)           # +0.4: not an improvement (1 bad)
    assert plateau.step(float("nan"))      # NaN never improves (2 bad > patience): reduce
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    with pytest.raises(TypeError, match="metric"):
        plateau.step("low")


def test_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    values = np.concatenate([np.linspace(5, 1, 10), 1 + 0.01 * rng.random(40),
                             np.linspace(1, 0.5, 10), 0.5 + 0.01 * rng.random(40)])
    for kwargs in (dict(), dict(patience=3, factor=0.5, cooldown=2, min_lr=1e-3),
                   dict(mode="max", threshold_mode="abs", threshold=0.01, patience=2)):
        w = torch.zeros(1, requires_grad=True)
        topt = torch.optim.SGD([w], lr=0.5)
        tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
        opt = fastopt.SGD(np.zeros(1), lr=0.5)
        plateau = ReduceLROnPlateau(opt, **kwargs)
        for v in values:
            tsched.step(float(v))
            plateau.step(float(v))
            assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"],
                                                              rel=1e-12)


# -- plateau with objectives of either sign (issue 11: a comparison that assumed best > 0) -----

def _lrs(values, **kwargs):
    opt = fastopt.SGD(np.zeros(1), lr=1.0)
    plateau = ReduceLROnPlateau(opt, **kwargs)
    out = []
    for v in values:
        plateau.step(v)
        out.append(opt.param_groups[0]["lr"])
    return out, plateau


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_plateau_flat_objective_reduces_whatever_its_sign(sign):
    lrs, _ = _lrs([sign * 1.0] * 4, patience=2)
    assert lrs == [1.0, 1.0, 1.0, pytest.approx(0.1, rel=1e-15)]


def test_plateau_slowly_worsening_negative_objective_is_no_improvement():
    values = [-1.0 + 5e-5 * k for k in range(4)]   # -1.0, -0.99995, -0.9999, -0.99985
    lrs, plateau = _lrs(values, patience=2)
    assert plateau.best == -1.0 and lrs[-1] == pytest.approx(0.1, rel=1e-15)


def test_plateau_mode_max_flat_negative_objective_reduces():
    lrs, _ = _lrs([-5.0] * 4, mode="max", patience=2)
    assert lrs[-1] == pytest.approx(0.1, rel=1e-15)


@pytest.mark.parametrize("mode, start", [("min", -1e-3), ("max", 1e-3)])
def test_plateau_relative_margin_is_threshold_times_abs_best(mode, start):
    sign = 1 if mode == "min" else -1
    # within the margin 0.1 * |best|: no improvement; beyond it: improvement
    _, plateau = _lrs([start, start - sign * 0.09 * abs(start)], mode=mode, threshold=0.1,
                      patience=5)
    assert plateau.best == start and plateau.num_bad_epochs == 1
    _, plateau = _lrs([start, start - sign * 0.11 * abs(start)], mode=mode, threshold=0.1,
                      patience=5)
    assert plateau.best == start - sign * 0.11 * abs(start) and plateau.num_bad_epochs == 0


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("threshold", [0.0, 1e-4])
def test_plateau_infinities(mode, threshold_mode, threshold):
    good, bad = (-math.inf, math.inf) if mode == "min" else (math.inf, -math.inf)
    kw = dict(mode=mode, threshold_mode=threshold_mode, threshold=threshold, patience=0)
    lrs, plateau = _lrs([bad], **kw)        # the start (best = bad infinity) is not beaten
    assert plateau.num_bad_epochs == 0 and lrs == [pytest.approx(0.1)]
    lrs, plateau = _lrs([3.0, good, good], **kw)   # any finite value beats the start,
    assert plateau.best == good and lrs == [1.0, 1.0, pytest.approx(0.1)]  # ±inf beats it
