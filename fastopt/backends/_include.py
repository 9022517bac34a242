"""Where the Cython declarations of fastopt's update rules live: :func:`get_include`."""
import os


def get_include():
    """The directory to put on Cython's include path to ``cimport`` fastopt's update rules.

    Like :func:`numpy.get_include`, but for Cython's ``include_path`` (``cythonize(...,
    include_path=[fastopt.get_include()])``), not for the C compiler: the directory that
    holds the ``fastopt`` package, where ``fastopt/backends/cython/<rule>.pxd`` declares
    ``<rule>_row_f32``, ``<rule>_row_f64``, ``<rule>_element_f32`` and
    ``<rule>_element_f64`` (and ``adagrad_rowwise_row_*``; Adafactor, whose step is
    reductions over all the rows it updates, declares the row pieces of its step instead:
    ``adafactor_row_f32`` and five more, see ``adafactor.pxd``), so that::

        from fastopt.backends.cython.adagrad cimport adagrad_row_f32

    compiles.  It is found from this file's location, so it is right for an editable
    install too, whose source tree need not be on ``sys.path`` (Cython would not find the
    declarations there by itself).

    Returns:
        str: an absolute directory path (the parent of the ``fastopt`` package).
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../fastopt
    return os.path.dirname(package)
