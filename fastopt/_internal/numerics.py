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


# ------------------------------------------------- counter-based random stream (16-bit rounding)

#: 2^64 - 1: the uint64 mask of :func:`mix64_int`.
M64 = (1 << 64) - 1
#: 2^64 / golden ratio, odd: SplitMix64's increment (Steele, Lea & Flood 2014), which spreads
#: consecutive counters over the 64-bit space before they are mixed.
GOLDEN = 0x9E3779B97F4A7C15


def mix64_int(z):
    """SplitMix64's finaliser on a Python int taken modulo 2^64 (a uint64 as an int).

    The stochastic rounding of 16-bit values (the optimizers' and the GloVe trainer's)
    draws element ``k``'s uniform from ``mix64(key ^ ((counter + k // 2) * GOLDEN))``; this
    is the host-side twin of the compiled ``_mix64``, used to derive keys from seeds.
    """
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)
