"""Update rules: the :class:`Optimizer` base class and one module per rule.

``optimizer`` (the base class: parameter groups, lazily created state, checkpoints,
backend dispatch, :func:`flat_arrays`, the opt-in check of non-finite gradients),
``checkpoint`` (files that load without pickle), ``sparse`` (:class:`SparseGrad`, row gradients
of embedding tables) and one module per update rule (``sgd``, ``adagrad``,
``adadelta``, ``rmsprop``, ``adam``, ``adamax``, ``nadam``, ``radam``, ``lion``, ``rprop``,
``asgd``, ``sparse_adam``, ``ftrl`` (FTRL-Proximal and proximal Adagrad), ``lamb``, ``adafactor``),
each a thin class that checks its hyperparameters, computes the step scalars in double
precision and calls the kernel of the same name in :mod:`fastopt.backends`;
``torch_state`` converts checkpoints to and from ``torch.optim``.

Imports point down only: :mod:`fastopt.backends` and :mod:`fastopt._internal`.
"""
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .ftrl import Ftrl, ProximalAdagrad
from .lamb import LAMB
from .lion import Lion
from .nadam import NAdam
from .checkpoint import load_checkpoint, save_checkpoint
from .optimizer import (Optimizer, ParamState, flat_arrays, get_check_finite,
                        set_check_finite)
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse import SparseGrad
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "flat_arrays", "SparseGrad", "SGD", "Adagrad", "Adadelta", "RMSprop",
           "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Lion", "Rprop", "ASGD",
           "SparseAdam", "Ftrl", "ProximalAdagrad", "LAMB", "Adafactor", "ParamState",
           "save_checkpoint", "load_checkpoint", "set_check_finite", "get_check_finite"]
