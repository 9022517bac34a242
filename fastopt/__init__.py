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

The training toolkit around the update rules, one module per concern:
:mod:`fastopt.data` (batch / stochastic / mini-batch iteration, curriculum),
:mod:`fastopt.schedules` (learning-rate annealing), :mod:`fastopt.noise` (gradient
noise), :mod:`fastopt.regularization` (decoupled decay, L1, elastic net, lazy L1),
:mod:`fastopt.dropout`, :mod:`fastopt.batchnorm`, :mod:`fastopt.early_stopping`,
:mod:`fastopt.gradcheck` and :mod:`fastopt.training` (:func:`fit`).

Embedding training: :mod:`fastopt.glove` trains GloVe word vectors with the numba
Adagrad row kernel inside a compiled, multi-threaded loop; the row kernels can be
called from users' own numba code (``fastopt.backends.numba.<rule>``) and, through
the ``.pxd`` declarations found with :func:`get_include`, from their Cython code.
"""
from ._backend import (available_backends, get_backend, get_num_threads, set_backend,
                       set_num_threads, use_backend)
from ._config import show_config
from ._include import get_include
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .optimizer import Optimizer, flat_arrays
from .rmsprop import RMSprop
from .sgd import SGD
from .sparse import SparseGrad
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

__version__ = "0.1.0"

__all__ = [
    "SGD", "SparseGrad", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer",
    "available_backends", "get_backend", "set_backend", "use_backend",
    "get_num_threads", "set_num_threads", "show_config", "flat_arrays", "get_include",
    # training toolkit
    "BatchSampler", "CurriculumSampler", "full_batch", "stochastic", "mini_batches",
    "linear_pacing", "LRSchedule", "StepDecay", "ExponentialDecay", "InverseTimeDecay",
    "PolynomialDecay", "CosineAnnealing", "ReduceLROnPlateau", "GradientNoise", "Regularizer",
    "DecoupledWeightDecay", "L1", "ElasticNet", "Dropout", "DropConnect", "BatchNorm",
    "EarlyStopping", "check_gradient", "GradientCheck", "fit", "History",
]
