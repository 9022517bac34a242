"""fastopt's benchmark harness: ``python -m bench`` from the repository root.

Modules, one concern each:

``algorithms``   the benchmarked update rules: hyperparameters, bytes per element
``roof``         the limit: a compiled streaming kernel with each rule's traffic
``numpy_impl``   naive (textbook, temporaries) and careful (``out=``) NumPy versions
``torch_impl``   torch.optim (loop / foreach / fused) on the same memory, if installed
``fastopt_impl`` fastopt's optimizer classes (or its raw kernels before they exist)
``timing``       warm-up, calibrated samples, round-robin interleaving, medians
``suites``       roof, dense, small-tensor, many-tensor and consistency measurements
``compile_cost`` numba compile and cache-load time, in fresh subprocesses
``sparse``       placeholder for the sparse benchmark (a later issue)
``targets``      the project's performance targets, evaluated on the run
``report``       terminal tables, results.json, results.md, PNG charts
``config``       the command line

Embedding training (issue #6), run on their own:

``corpus``       ``python -m bench.corpus``: a 20M-token English corpus from Debian packages
``glove``        ``python -m bench.glove``: GloVe records/s and cost per epoch: fastopt
                 (1 thread, all cores), NumPy mini-batch, GloVe's own C program
"""
