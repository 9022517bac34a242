"""The training toolkit: the strategies around an update rule.

``data`` (full-batch, mini-batch and stochastic iteration, curriculum), ``schedules``
(learning-rate annealing, reduce on plateau), ``noise`` (annealed gradient noise),
``averaging`` (exponentially weighted averages, EMA / SWA weight averaging),
``augmentation`` (image flips, crops, noise), ``regularization`` (decoupled weight decay, proximal L1, elastic net, lazy L1),
``dropout`` (dropout, DropConnect), ``batchnorm``, ``early_stopping``, ``gradcheck``
(finite-difference gradient checks) and ``training`` (:func:`fit`, the loop that ties
them together).  Compiled kernels of the toolkit live in :mod:`fastopt.backends` like
every other kernel.

Imports point down only: :mod:`fastopt.optim`, :mod:`fastopt.backends`,
:mod:`fastopt._internal`.
"""
from .augmentation import Augment, gaussian_noise, random_crop, random_flip
from .averaging import AveragedWeights, ExponentialAverage, exponential_average
from .batchnorm import BatchNorm
from .data import (BatchSampler, CurriculumSampler, full_batch, linear_pacing, mini_batches,
                   stochastic)
from .dropout import DropConnect, Dropout
from .early_stopping import EarlyStopping
from .gradcheck import GradientCheck, check_gradient
from .noise import GradientNoise
from .regularization import L1, DecoupledWeightDecay, ElasticNet, Regularizer
from .schedules import (CosineAnnealing, ExponentialDecay, InverseTimeDecay, LRSchedule,
                        PolynomialDecay, ReduceLROnPlateau, StepDecay)
from .training import History, fit

__all__ = ["BatchSampler", "CurriculumSampler", "full_batch", "stochastic", "mini_batches",
           "linear_pacing", "LRSchedule", "StepDecay", "ExponentialDecay", "InverseTimeDecay",
           "PolynomialDecay", "CosineAnnealing", "ReduceLROnPlateau", "GradientNoise",
           "Regularizer", "DecoupledWeightDecay", "L1", "ElasticNet", "Dropout", "DropConnect",
           "BatchNorm", "EarlyStopping", "check_gradient", "GradientCheck", "fit", "History",
           "ExponentialAverage", "exponential_average", "AveragedWeights", "Augment",
           "random_flip", "random_crop", "gaussian_noise"]
