"""fit(): every optimizer and backend, schedules, early stopping, callbacks, progress."""
import sys

import numpy as np
import pytest

import fastopt
from fastopt import BatchSampler, EarlyStopping, fit

from conftest import bits
from toolkit_cases import OPTIMIZERS, backends, logistic_problem


def train(optimizer, backend, epochs=8, **kwargs):
    X, y, params, objective = logistic_problem(n=120, d=6)
    opt = OPTIMIZERS[optimizer](params, backend)
    kwargs.setdefault("progress", False)
    history = fit(objective, opt, BatchSampler(120, 16, seed=0), epochs=epochs, **kwargs)
    return history, params


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains_and_every_backend_gives_the_same_run(optimizer):
    runs = []
    for backend in fastopt.available_backends():
        history, params = train(optimizer, backend)
        assert history.epochs == 8 and history["epoch"] == list(range(1, 9))
        assert history["loss"][-1] < history["loss"][0] < np.log(2) + 1e-9
        runs.append((history["loss"], [bits(p).copy() for p in params]))
    for losses, params in runs[1:]:
        assert losses == runs[0][0]
        assert all(np.array_equal(a, b) for a, b in zip(params, runs[0][1]))


@pytest.mark.parametrize("backend", backends())
def test_the_whole_toolkit_together(backend):
    X, y, params, objective = logistic_problem(n=200, d=8, seed=1)
    opt = fastopt.SGD(params, lr=0.5, momentum=0.9, backend=backend)
    val_X, val_y = X[150:], y[150:]

    def validation():
        z = val_X @ params[0] + params[1][0]
        return float(np.mean(np.logaddexp(0.0, z) - val_y * z))

    seen = []
    history = fit(objective, opt,
                  fastopt.CurriculumSampler(np.abs(X[:150] @ np.ones(8)), 25, strategy="mixed",
                                            seed=2),
                  epochs=30,
                  schedule=fastopt.CosineAnnealing(opt, total_steps=30, warmup_steps=2),
                  early_stopping=EarlyStopping(patience=4, params=opt),
                  validation=validation,
                  regularizers=[fastopt.L1(opt, 1e-3, params=[params[0]])],
                  gradient_noise=fastopt.GradientNoise(0.01, seed=3),
                  callbacks=[seen.append], progress=False)
    assert len(seen) == history.epochs and seen[-1]["history"] is history
    assert history["val"] == history["monitor"]
    assert history["lr"][:3] == pytest.approx([0.5 / 3, 1.0 / 3, 0.5])
    assert validation() == pytest.approx(min(history["val"]))    # the best epoch was restored
    assert history.best == min(history["val"])
    assert history["epoch"][history.best_epoch - 1] == history.best_epoch


def test_schedule_per_batch_and_reduce_on_plateau():
    _, _, params, objective = logistic_problem(n=64, d=4)
    opt = fastopt.SGD(params, lr=0.1)
    schedule = fastopt.ExponentialDecay(opt, 0.5)
    history = fit(objective, opt, BatchSampler(64, 16, seed=0), epochs=3, schedule=schedule,
                  schedule_interval="batch", progress=False)
    assert schedule.t == 12 and history["lr"] == [0.1, 0.1 * 0.5 ** 4, 0.1 * 0.5 ** 8]
    opt = fastopt.SGD(params, lr=0.1)
    plateau = fastopt.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=0.5)
    history = fit(objective, opt, BatchSampler(64, 16, seed=0), epochs=3, schedule=plateau,
                  progress=False)
    assert history["lr"] == [0.1, 0.1, 0.05]   # the first value improves on inf; then halved


def test_callbacks_can_stop_and_early_stopping_stops():
    history, _ = train("Adam", "python", epochs=20, callbacks=lambda log: log["epoch"] == 3)
    assert history.epochs == 3 and not history.stopped_early
    worse = iter(range(100))
    history, params = train("Adam", "python", epochs=20,
                            validation=lambda: float(next(worse)),
                            early_stopping=EarlyStopping(patience=2, params=[np.zeros(1)]))
    assert history.epochs == 3 and history.stopped_early and history.best_epoch == 1


def test_reproducible():
    a, pa = train("Adam", "python", gradient_noise=fastopt.GradientNoise(0.3, seed=1))
    b, pb = train("Adam", "python", gradient_noise=fastopt.GradientNoise(0.3, seed=1))
    assert a["loss"] == b["loss"] and all(np.array_equal(x, y) for x, y in zip(pa, pb))


def test_progress_bar_with_tqdm_and_without(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    train("SGD", "python", epochs=2, progress=True, desc="demo")
    err = capsys.readouterr().err
    assert "demo" in err and "loss=" in err and "lr=" in err and "2/2" in err
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    train("SGD", "python", epochs=2, progress=True, desc="plain")
    err = capsys.readouterr().err
    assert "plain: epoch 2/2" in err and "loss=" in err and "lr=" in err


def test_sparse_gradients_and_lazy_l1_are_flushed():
    table = np.ones((10, 2))
    opt = fastopt.SGD(table, lr=0.1)
    l1 = fastopt.L1(opt, 0.1)

    def objective(batch):
        return 0.0, fastopt.SparseGrad(np.asarray(batch), np.zeros((len(batch), 2)))

    fit(objective, opt, [np.array([0, 1]), np.array([1])], epochs=5, regularizers=l1,
        progress=False)
    np.testing.assert_allclose(table, 1 - 10 * 0.01)    # every row, also the untouched ones


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(objective="f"), TypeError, "objective"),
    (dict(optimizer="sgd"), TypeError, "optimizer"),
    (dict(data=5), TypeError, "data"),
    (dict(data=iter([np.arange(3)])), TypeError, "iterator"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(schedule="cosine"), TypeError, "schedule"),
    (dict(schedule_interval="step"), ValueError, "schedule_interval"),
    (dict(early_stopping=3), TypeError, "early_stopping"),
    (dict(validation=0.5), TypeError, "validation"),
    (dict(regularizers=[None]), TypeError, "regularizers"),
    (dict(gradient_noise=0.01), TypeError, "gradient_noise"),
    (dict(callbacks=[1]), TypeError, "callbacks"),
    (dict(progress="yes"), TypeError, "progress"),
    (dict(objective=lambda b: 1.0), TypeError, "loss, grads"),
])
def test_bad_arguments(kwargs, error, name):
    _, _, params, objective = logistic_problem(n=20, d=3)
    opt = fastopt.SGD(params, lr=0.1)
    args = dict(objective=objective, optimizer=opt, data=BatchSampler(20, 5, seed=0),
                epochs=2, progress=False)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        fit(args.pop("objective"), args.pop("optimizer"), args.pop("data"), **args)
    if name != "loss, grads":
        assert all(np.all(p == 0) for p in params)      # refused before the first step


def test_schedule_of_another_optimizer_is_refused():
    _, _, params, objective = logistic_problem(n=20, d=3)
    opt = fastopt.SGD(params, lr=0.1)
    other = fastopt.SGD(np.zeros(2), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer"):
        fit(objective, opt, BatchSampler(20, 5), schedule=fastopt.StepDecay(other, 2),
            progress=False)
    with pytest.raises(ValueError, match="another optimizer"):
        fit(objective, opt, BatchSampler(20, 5), regularizers=[fastopt.L1(other, 0.1)],
            progress=False)


def test_reduce_on_plateau_with_a_negative_validation_loss():
    # issue 11: fit() with a constant negative validation loss must lower the rate
    _, _, params, objective = logistic_problem(n=64, d=4)
    opt = fastopt.SGD(params, lr=1.0)
    plateau = fastopt.ReduceLROnPlateau(opt, patience=2)
    history = fit(objective, opt, BatchSampler(64, 64, seed=0), epochs=5, schedule=plateau,
                  validation=lambda: -1.0, progress=False)
    assert history["lr"] == [1.0, 1.0, 1.0, 1.0, pytest.approx(0.1)]


def test_best_epoch_follows_the_plateau_schedule_mode():
    _, _, params, objective = logistic_problem(n=64, d=4)
    opt = fastopt.SGD(params, lr=1.0)
    vals = iter([1.0, 3.0, 2.0])
    history = fit(objective, opt, BatchSampler(64, 64, seed=0), epochs=3, progress=False,
                  schedule=fastopt.ReduceLROnPlateau(opt, mode="max"),
                  validation=lambda: next(vals))
    assert history.best == 3.0 and history.best_epoch == 2
