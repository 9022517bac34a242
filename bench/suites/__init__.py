"""The measurements: the memory-bandwidth roof, the dense grid (with small-step, model and
consistency checks), sparse embedding-table updates and numba's compile cost.
Imports :mod:`bench.peers` and :mod:`bench.harness`."""
