"""The competitors: the benchmarked update rules (``algorithms``) and their
implementations in NumPy, torch.optim and fastopt, driven through one interface.
Imports only :mod:`bench.harness`."""
