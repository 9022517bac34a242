r"""A training loop that ties the toolkit together: :func:`fit`.

One epoch of :func:`fit` is, for every batch I that ``data`` yields::

    (L_I, g) = objective(I)
    g ← g + N(0, σ_t²)                       (with gradient_noise)
    θ ← optimizer.step(g), then each regularizer's step
    η ← schedule.step()                      (if schedule_interval="batch")

then, at the end of the epoch: the epoch's loss (the mean of L_I weighted by
the batch sizes), the monitored value (``validation()`` if given, else that loss),
the schedule's step (or ``ReduceLROnPlateau.step(monitored)``), early stopping,
the callbacks, and the progress bar (``tqdm`` when installed) showing the epoch,
loss and learning rate.  Everything is optional except the objective, the
optimizer and the data; nothing is random except what the components draw from
their own seeded generators, so a run is reproducible.

Example::

    sampler = fastopt.BatchSampler(len(X), 32, seed=0)
    opt = fastopt.Adam([w, b], lr=1e-2)

    def objective(batch):              # loss and gradients on X[batch]
        ...
        return loss, [grad_w, grad_b]

    history = fastopt.fit(objective, opt, sampler, epochs=50,
                          schedule=fastopt.CosineAnnealing(opt, total_steps=50),
                          early_stopping=fastopt.EarlyStopping(patience=5, params=opt),
                          validation=lambda: validation_loss(w, b))
    history["loss"], history["lr"], history.best_epoch
"""
import sys
import time

from . import _args
from .._internal import validation as check
from .early_stopping import EarlyStopping
from .noise import GradientNoise
from .regularization import Regularizer
from .schedules import LRSchedule, ReduceLROnPlateau

__all__ = ["fit", "History"]


class History(dict):
    """What :func:`fit` records, one entry per epoch: a dict of lists.

    Keys: ``"epoch"`` (from 1), ``"loss"`` (mean training loss of the epoch),
    ``"monitor"`` (the monitored value: ``validation()``, or the loss),
    ``"val"`` (``validation()``, or None), ``"lr"`` (the first group's rate used
    during the epoch), ``"time"`` (seconds).  Attributes: ``stopped_early``,
    ``best_epoch`` and ``best`` (from early stopping, else the best monitored epoch),
    ``epochs`` (epochs run).
    """

    def __init__(self):
        super().__init__(epoch=[], loss=[], monitor=[], val=[], lr=[], time=[])
        self.stopped_early = False
        self.best_epoch = 0
        self.best = None

    @property
    def epochs(self):
        return len(self["epoch"])

    def __repr__(self):
        last = f", last loss {self['loss'][-1]:.6g}" if self["loss"] else ""
        return (f"History({self.epochs} epochs{last}, best_epoch={self.best_epoch}, "
                f"stopped_early={self.stopped_early})")


class _TextProgress:
    """A one-line progress report on stderr, for when tqdm is not installed."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n = total, desc, 0
        self.postfix = ""

    def set_postfix_str(self, text):
        self.postfix = text

    def update(self, k=1):
        self.n += k
        end = "\n" if self.n == self.total else ""
        print(f"\r{self.desc}: epoch {self.n}/{self.total}  {self.postfix}", end=end,
              file=sys.stderr, flush=True)

    def close(self):
        if self.n != self.total:
            print(file=sys.stderr, flush=True)


def _progress_bar(total, desc, progress):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="epoch", leave=True)


def _batch_size(batch):
    try:
        return len(batch)
    except TypeError:
        return 1


def fit(objective, optimizer, data, *, epochs=10, schedule=None, schedule_interval="epoch",
        early_stopping=None, validation=None, regularizers=(), gradient_noise=None,
        callbacks=(), progress=True, desc="fit"):
    """Train: ``epochs`` passes over ``data`` (see the module docstring for the order).

    Arguments:
        objective: ``objective(batch) -> (loss, grads)``; ``loss`` is a real number
            (the batch's mean loss), ``grads`` what ``optimizer.step`` takes (arrays,
            :class:`~fastopt.SparseGrad`, ``None``).
        optimizer: any fastopt optimizer.
        data: re-iterable batches: a :class:`~fastopt.BatchSampler`,
            :class:`~fastopt.CurriculumSampler`, or e.g. a list of index arrays;
            each epoch iterates it once.
        epochs: the maximum number of epochs (>= 1).
        schedule: an :class:`~fastopt.train.schedules.LRSchedule` (stepped every epoch, or
            every batch with ``schedule_interval="batch"``) or a
            :class:`~fastopt.ReduceLROnPlateau` (stepped with the monitored value
            every epoch).
        early_stopping: an :class:`~fastopt.EarlyStopping`, stepped with the
            monitored value; when it says stop, training ends, and its best
            parameters are restored (if it keeps them) when training ends.
        validation: ``validation() -> float``, the monitored value (e.g. a
            validation loss), called after every epoch; default: the epoch's loss.
        regularizers: :mod:`fastopt.train.regularization` regularizers of this optimizer
            (their steps wrap each ``optimizer.step``; lazy L1 is flushed before
            every validation and at the end).
        gradient_noise: a :class:`~fastopt.GradientNoise` applied to every gradient.
        callbacks: functions ``callback(log)`` called after every epoch with a dict
            (``epoch``, ``loss``, ``monitor``, ``val``, ``lr``, ``time``,
            ``optimizer``, ``history``); returning True stops training.
        progress: show a progress bar (tqdm if installed, else a line on stderr).
        desc: the progress bar's label.

    Returns a :class:`History`.  Bad arguments raise before the first step.

    Raises:
        TypeError: an argument of the wrong type (a non-callable objective or
            validation, ``data`` that is an iterator, a schedule or regularizer of
            another kind), an objective that does not return ``(loss, grads)``.
        ValueError: ``epochs`` < 1, a schedule or regularizer made for another
            optimizer, ``schedule_interval="batch"`` with ``ReduceLROnPlateau``, data
            that yields no batch.
    """
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    _args.optimizer("optimizer", optimizer)
    try:
        iter(data)
    except TypeError:
        raise TypeError(f"data must be an iterable of batches (e.g. a BatchSampler), got "
                        f"{type(data).__name__}") from None
    if iter(data) is data:
        raise TypeError("data is an iterator, which one epoch would exhaust; pass a re-iterable "
                        "(a BatchSampler, a list of batches)")
    epochs = _args.integer("epochs", epochs, 1)
    if schedule is not None and not isinstance(schedule, (LRSchedule, ReduceLROnPlateau)):
        raise TypeError(f"schedule must be an LRSchedule or a ReduceLROnPlateau, got "
                        f"{type(schedule).__name__}")
    if schedule is not None and schedule.optimizer is not optimizer:
        raise ValueError("schedule was made for another optimizer")
    schedule_interval = _args.choice("schedule_interval", schedule_interval, ("epoch", "batch"))
    if isinstance(schedule, ReduceLROnPlateau) and schedule_interval == "batch":
        raise ValueError("ReduceLROnPlateau is stepped once per epoch with the monitored value; "
                         "schedule_interval='batch' does not apply")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be an EarlyStopping, got "
                        f"{type(early_stopping).__name__}")
    if validation is not None and not callable(validation):
        raise TypeError(f"validation must be callable, got {type(validation).__name__}")
    if isinstance(regularizers, Regularizer):
        regularizers = [regularizers]
    regularizers = list(regularizers)
    for i, reg in enumerate(regularizers):
        if not isinstance(reg, Regularizer):
            raise TypeError(f"regularizers[{i}] must be a fastopt regularizer, got "
                            f"{type(reg).__name__}")
        if reg.optimizer is not optimizer:
            raise ValueError(f"regularizers[{i}] was made for another optimizer")
    if gradient_noise is not None and not isinstance(gradient_noise, GradientNoise):
        raise TypeError(f"gradient_noise must be a GradientNoise, got "
                        f"{type(gradient_noise).__name__}")
    if callable(callbacks):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}] must be callable, got {type(cb).__name__}")
    check.flag("progress", progress)

    history = History()
    bar = _progress_bar(epochs, desc, progress)
    best_monitor = None
    mode = early_stopping.mode if early_stopping is not None else \
        schedule.mode if isinstance(schedule, ReduceLROnPlateau) else "min"
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            lr = float(optimizer.param_groups[0]["lr"])
            total, count = 0.0, 0
            for batch in data:
                result = objective(batch)
                if not isinstance(result, tuple) or len(result) != 2:
                    raise TypeError("objective(batch) must return (loss, grads)")
                loss, grads = result
                loss = _args.metric("the objective's loss", loss)
                if gradient_noise is not None:
                    grads = gradient_noise(grads)
                for reg in regularizers:
                    reg.before_step(grads)
                optimizer.step(grads)
                for reg in regularizers:
                    reg.after_step(grads)
                if schedule is not None and schedule_interval == "batch":
                    schedule.step()
                size = _batch_size(batch)
                total += loss * size
                count += size
            if count == 0:
                raise ValueError(f"data yielded no batch in epoch {epoch}")
            epoch_loss = total / count
            for reg in regularizers:
                reg.flush()
            val = None if validation is None else _args.metric("validation()", validation())
            monitor = epoch_loss if val is None else val
            if isinstance(schedule, ReduceLROnPlateau):
                schedule.step(monitor)
            elif schedule is not None and schedule_interval == "epoch":
                schedule.step()
            elapsed = time.perf_counter() - start
            for key, value in (("epoch", epoch), ("loss", epoch_loss), ("monitor", monitor),
                               ("val", val), ("lr", lr), ("time", elapsed)):
                history[key].append(value)
            if monitor == monitor and (best_monitor is None or (
                    monitor < best_monitor if mode == "min" else monitor > best_monitor)):
                best_monitor, history.best_epoch = monitor, epoch
            stop = False
            if early_stopping is not None and early_stopping.step(monitor):
                stop = history.stopped_early = True
            log = {"epoch": epoch, "loss": epoch_loss, "monitor": monitor, "val": val,
                   "lr": lr, "time": elapsed, "optimizer": optimizer, "history": history}
            for cb in callbacks:
                if cb(log) is True:
                    stop = True
            if bar is not None:
                text = f"loss={epoch_loss:.4g}" + ("" if val is None else f", val={val:.4g}") \
                    + f", lr={lr:.3g}"
                bar.set_postfix_str(text)
                bar.update(1)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    history.best = best_monitor
    if early_stopping is not None:
        if early_stopping.best_step:
            history.best_epoch = early_stopping.best_step
            history.best = early_stopping.best
        early_stopping.restore()
    return history
