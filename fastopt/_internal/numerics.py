"""Scalar arithmetic shared by the rules and the toolkit (double precision, on the host)."""
import math


def one_minus_pow(beta, t):
    """``1 - beta**t`` in double precision without cancellation (the bias corrections of
    the Adam family): ``-expm1(t * log(beta))``, within a few units in the last place.

    ``1.0 - beta ** t`` loses what ``beta ** t`` rounds away next to 1: its relative error
    reaches ``2**-53 / (1 - beta**t)`` (about 250 ulps at t = 4, beta = 0.999).  ``beta``
    in [0, 1), ``t >= 1``.
    """
    if beta == 0.0:
        return 1.0
    return -math.expm1(t * math.log(beta))
