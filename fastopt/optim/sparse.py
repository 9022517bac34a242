"""Row-sparse gradients for embedding tables."""
import numpy as np


class SparseGrad:
    """The gradient of some rows of a parameter of shape ``(n_rows, ...)``.

    ``indices`` is a 1-D int32 or int64 array of row numbers; ``values[i]`` is the
    gradient of row ``indices[i]``, so ``values`` has shape ``(len(indices),) +
    param.shape[1:]`` and the parameter's dtype.  Pass it to ``opt.step`` wherever
    a dense gradient goes (the two mix freely in one call).

    Semantics of a sparse step, for every optimizer:

    * duplicate indices are summed first, in order of appearance, starting from
      zero -- exactly ``np.add.at`` into a zero table, so the result is
      deterministic and independent of the thread count;
    * only the listed rows of the parameter and of its state are read or written
      ("lazy" updates): a row's moving averages and accumulators do not decay while
      it is not touched.  Step counts, bias corrections and learning-rate decay use
      the optimizer's global step (every ``step`` call counts);
    * weight decay (coupled or decoupled) applies to the touched rows only;
    * hence the sparse step on rows R is the dense step applied to ``table[R]``
      and the same rows of the state; for SGD without momentum and for Adagrad
      (without weight decay) it is bit for bit the dense step with the scattered
      gradient :meth:`to_dense`.

    No copy is made: the arrays are read by the update, never written.

    Args:
        indices: 1-D int32 or int64 array of row numbers in ``[0, n_rows)``, any order,
            repeats allowed (anything else is converted with ``np.asarray``).
        values: array of shape ``(len(indices),) + param.shape[1:]`` and the
            parameter's dtype (float32 or float64), C-contiguous.

    Raises:
        TypeError: ``indices`` not of an integer dtype (int32/int64), ``values`` of
            another dtype than the parameter's.
        ValueError: ``indices`` not 1-D, ``values`` of the wrong shape or not
            C-contiguous, a 0-dimensional parameter.
        IndexError: an index < 0 or >= ``n_rows``.

    The checks run in ``opt.step``, before anything is written.

    Example::

        >>> import numpy as np, fastopt
        >>> table = np.zeros((4, 2))
        >>> opt = fastopt.SGD(table, lr=1.0)
        >>> opt.step(fastopt.SparseGrad(np.array([3, 0, 3]), np.ones((3, 2))))
        >>> table
        array([[-1., -1.],
               [ 0.,  0.],
               [ 0.,  0.],
               [-2., -2.]])
    """

    __slots__ = ("indices", "values")

    def __init__(self, indices, values):
        self.indices = indices if isinstance(indices, np.ndarray) else np.asarray(indices)
        self.values = values if isinstance(values, np.ndarray) else np.asarray(values)

    def to_dense(self, shape):
        """The dense gradient: ``values`` summed into a zero array of ``shape``."""
        dense = np.zeros(shape, self.values.dtype)
        np.add.at(dense, self.indices, self.values)
        return dense

    def __repr__(self):
        return (f"SparseGrad({self.indices.size} rows, values {self.values.shape} "
                f"{self.values.dtype})")
