"""Sparse row updates in the reference backend: coalesce, then the dense rule on the rows.

A sparse step of any algorithm is, by definition, its dense step applied to the
rows it touches: ``table[R]`` and the same rows of every state array, with the
gradient of each row summed over its duplicates in order of appearance.  This
module states exactly that, with NumPy: the compiled backends do the same without
gathering and scattering copies.
"""
import numpy as np


def coalesce(indices, values):
    """``(rows, grad)``: the distinct rows and, for each, the sum of its values.

    Duplicates are summed in order of appearance, starting from zero:
    ``grad[r] = ((0 + v_first) + v_second) + ...`` -- exactly what ``np.add.at``
    does when it scatters the values into a zero table.
    """
    rows, inverse = np.unique(indices, return_inverse=True)
    grad = np.zeros((rows.size,) + values.shape[1:], values.dtype)
    np.add.at(grad, inverse.reshape(-1), values)
    return rows, grad


def sparse_step(dense_kernel, param, indices, values, states, scalars):
    """Apply ``dense_kernel`` (elementwise, flat arrays) to the rows listed in ``indices``."""
    rows, grad = coalesce(indices, values)
    p = param[rows]
    touched = [s[rows] if s.size else s for s in states]
    dense_kernel(p.reshape(-1), grad.reshape(-1), *(s.reshape(-1) for s in touched), *scalars, 1)
    param[rows] = p
    for s, t in zip(states, touched):
        if s.size:
            s[rows] = t
