"""Optimizers beyond first-order update rules: least squares, Newton's method, L-BFGS
and a genetic algorithm.

Imports point down only: :mod:`fastopt.train`, :mod:`fastopt.optim`,
:mod:`fastopt.backends`, :mod:`fastopt._internal`.
"""
