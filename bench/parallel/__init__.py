"""The parallel-SGD benchmark: ``python -m bench.parallel`` (see :mod:`bench.parallel.__main__`)."""
