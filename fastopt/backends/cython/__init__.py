"""The Cython backend: compiled kernels, one extension module per algorithm.

The modules are built from ``csrc/*.pyx`` by ``setup.py`` (``pip install -e .``);
:mod:`fastopt.backends.cython._runtime` reports how they were built (OpenMP,
compiler flags).  Each kernel has the positional signature of its reference in
:mod:`fastopt.backends.python` and reproduces it bit for bit.
"""
