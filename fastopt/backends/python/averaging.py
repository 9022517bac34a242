r"""Reference kernels of averaging: exponentially weighted averages (with bias correction)
and Polyak / SWA running means.

Every kernel updates ``avg`` in place from ``param`` (1-D, same length and dtype), in the
dtype, element by element; the scalars come as Python floats computed in double precision
and are rounded once to the dtype.
"""


def ema(avg, param, decay, one_minus_decay, n_threads):
    r"""The exponentially weighted average, in place:

    .. math::

        v \leftarrow \beta v + (1 - \beta)\,\theta

    ``decay`` is :math:`\beta`, ``one_minus_decay`` :math:`1 - \beta` (computed in double
    precision by the caller, then rounded).  The same expression as
    ``torch.optim.swa_utils.get_ema_avg_fn``.
    """
    t = avg.dtype.type
    avg *= t(decay)
    avg += t(one_minus_decay) * param


def ema_debiased(out, avg, param, decay, one_minus_decay, bias_correction, n_threads):
    r"""The exponentially weighted average and its bias-corrected value, in one pass:

    .. math::

        v_t &\leftarrow \beta v_{t-1} + (1 - \beta)\,\theta_t \\
        \hat v_t &= v_t / (1 - \beta^t)

    ``bias_correction`` is :math:`1 - \beta^t` (double precision, then rounded); the
    corrected value is written to ``out`` (which may be ``param``, not ``avg``).
    """
    ema(avg, param, decay, one_minus_decay, n_threads)
    out[...] = avg / out.dtype.type(bias_correction)


def swa(avg, param, count, n_threads):
    r"""The running (Polyak / stochastic weight) average, in place:

    .. math::

        \bar\theta \leftarrow \bar\theta + (\theta - \bar\theta) / (n + 1)

    ``count`` is :math:`n + 1`, the number of values averaged after this update.  The same
    expression as ``torch.optim.swa_utils.get_swa_avg_fn``.
    """
    avg += (param - avg) / avg.dtype.type(count)
