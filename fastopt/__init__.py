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
"""
from ._backend import (available_backends, get_backend, get_num_threads, set_backend,
                       set_num_threads, use_backend)
from ._config import show_config
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .optimizer import Optimizer, flat_arrays
from .rmsprop import RMSprop
from .sgd import SGD
from .sparse import SparseGrad

__version__ = "0.1.0"

__all__ = [
    "SGD", "SparseGrad", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer",
    "available_backends", "get_backend", "set_backend", "use_backend",
    "get_num_threads", "set_num_threads", "show_config", "flat_arrays",
]
