"""Reference dropout kernel: apply a keep-mask with inverted scaling."""
import numpy as np


def dropout_apply(x, mask, scale, out, n_threads):
    r"""Inverted dropout / DropConnect with a given mask, forward or backward:

    .. math::

        y_i = \begin{cases} x_i \cdot s & m_i \\ +0 & \text{otherwise} \end{cases}

    ``mask`` :math:`m` is a boolean array (True: keep), ``scale`` :math:`s =
    1/(1-p)` rounded to the dtype.  ``out`` may be ``x`` itself (in place).  The
    same kernel is the backward pass: :math:`\partial L/\partial x_i = m_i\, s\,
    \partial L/\partial y_i`.  A dropped element is ``+0.0`` even if :math:`x_i` is
    NaN or infinite.
    """
    t = x.dtype.type
    out[...] = np.where(mask, x * t(scale), t(0))
