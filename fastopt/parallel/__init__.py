"""Parallel and distributed SGD (Hogwild!, parameter servers, Downpour SGD,
delay-tolerant Adagrad, Elastic Averaging SGD): threads in one process by default, Ray
beyond one machine.

Imports point down only: :mod:`fastopt.train`, :mod:`fastopt.optim`,
:mod:`fastopt.backends`, :mod:`fastopt._internal`.
"""
