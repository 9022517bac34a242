"""fastopt: fast, fused gradient-descent update kernels for NumPy arrays.

Optimizers follow ``torch.optim`` (class names, hyperparameters, defaults, state
names) and update NumPy arrays in place::

    import numpy as np, fastopt
    w = np.zeros(10, dtype=np.float32)
    opt = fastopt.Adam(w, lr=1e-3)
    opt.step(grad)            # grad: an array like w

Each update rule has three interchangeable backends that give the same bits:
``"python"`` (the readable NumPy reference, the specification), ``"numba"`` and
``"cython"`` (compiled, multi-threaded).  See :func:`available_backends`,
:func:`set_backend`, :func:`use_backend` and :func:`show_config`.

The package has one folder per concern; imports point one way, down this list:

* :mod:`fastopt.embeddings`, :mod:`fastopt.parallel`, :mod:`fastopt.solvers` --
  applications: GloVe, parallel and distributed SGD, the non-first-order optimizers;
* :mod:`fastopt.train` -- the training toolkit: data iteration and curriculum,
  schedules, gradient noise, regularization, dropout, batch norm, early stopping,
  gradient checks, :func:`fit`;
* :mod:`fastopt.optim` -- :class:`Optimizer`, :func:`flat_arrays`, :class:`SparseGrad`
  and one module per update rule;
* :mod:`fastopt.backends` -- the kernels (``python``, ``numba``, ``cython``: the same
  module names in each), backend selection and threads;
* :mod:`fastopt._internal` -- private argument checks and random generators.

The update rules can also be called from users' own compiled code: numba
(``fastopt.backends.numba.<rule>``) and Cython (the ``.pxd`` declarations found with
:func:`get_include`).
"""
from .backends._config import show_config
from .backends._dispatch import (available_backends, get_backend, get_num_threads, set_backend,
                                 set_num_threads, use_backend)
from .backends._include import get_include
from .optim import (ASGD, LAMB, SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Ftrl,
                    Lion, NAdam, Optimizer, ProximalAdagrad, RAdam, RMSprop, Rprop, SparseAdam,
                    SparseGrad, flat_arrays, get_check_finite, load_checkpoint, save_checkpoint,
                    set_check_finite)
from .solvers import LBFGS, GeneticAlgorithm, lstsq, newton
from .train import (Augment, AveragedWeights, ExponentialAverage, exponential_average,
                    gaussian_noise, random_crop, random_flip)
from .train import (L1, BatchNorm, BatchSampler, CosineAnnealing, CurriculumSampler,
                    DecoupledWeightDecay, DropConnect, Dropout, EarlyStopping, ElasticNet,
                    ExponentialDecay, GradientCheck, GradientNoise, History, InverseTimeDecay,
                    LRSchedule, PolynomialDecay, ReduceLROnPlateau, Regularizer, StepDecay,
                    check_gradient, fit, full_batch, linear_pacing, mini_batches, stochastic)

__version__ = "0.1.0"

__all__ = [
    "SGD", "SparseGrad", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam",
    "RAdam", "Lion", "Rprop", "ASGD", "SparseAdam", "Ftrl", "ProximalAdagrad", "LAMB", "Adafactor",
    "Optimizer",
    "available_backends", "get_backend", "set_backend", "use_backend",
    "get_num_threads", "set_num_threads", "show_config", "flat_arrays", "get_include",
    "save_checkpoint", "load_checkpoint", "set_check_finite", "get_check_finite",
    # training toolkit
    "BatchSampler", "CurriculumSampler", "full_batch", "stochastic", "mini_batches",
    "linear_pacing", "LRSchedule", "StepDecay", "ExponentialDecay", "InverseTimeDecay",
    "PolynomialDecay", "CosineAnnealing", "ReduceLROnPlateau", "GradientNoise", "Regularizer",
    "DecoupledWeightDecay", "L1", "ElasticNet", "Dropout", "DropConnect", "BatchNorm",
    "EarlyStopping", "check_gradient", "GradientCheck", "fit", "History",
    "ExponentialAverage", "exponential_average", "AveragedWeights", "Augment", "random_flip",
    "random_crop", "gaussian_noise",
    # solvers
    "lstsq", "newton", "LBFGS", "GeneticAlgorithm",
]
