"""Optimizers beyond first-order update rules: least squares, Newton's method, L-BFGS
and a genetic algorithm.

Imports point down only: :mod:`fastopt.train`, :mod:`fastopt.optim`,
:mod:`fastopt.backends`, :mod:`fastopt._internal`.
"""
from .genetic import GAResult, GeneticAlgorithm
from .lbfgs import LBFGS
from .least_squares import LstsqResult, lstsq
from .newton import NewtonResult, newton

__all__ = ["lstsq", "LstsqResult", "newton", "NewtonResult", "LBFGS", "GeneticAlgorithm",
           "GAResult"]
