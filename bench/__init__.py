"""fastopt's benchmark harness: ``python -m bench`` from the repository root.

One folder per concern; imports point down this list, never up:

``__main__``, ``config``   the command line, the run, its output folders and exit status
``budget``                 the memory a run needs, stated before it starts
``report``, ``targets``    terminal tables, results.json, results.md, charts; the
                           project's performance targets evaluated on the run
``suites/``                the measurements: ``roof`` (a compiled streaming kernel with
                           each rule's traffic), ``dense`` (dense grid, small steps, the
                           many-parameter model, consistency checks), ``sparse``
                           (embedding-table rows), ``compile_cost`` (numba)
``peers/``                 the competitors: ``algorithms`` (rules, hyperparameters, bytes per
                           element), ``numpy_impl``, ``torch_impl``, ``fastopt_impl``
``harness/``               ``timing`` (interleaved samples, medians), ``machine``,
                           ``load`` (busy machine), ``memory`` (peak resident memory),
                           ``progress``, ``formatting``

Embedding training, run on its own (``glove/``):

``python -m bench.glove.corpus``  a 20M-token English corpus from Debian packages
``python -m bench.glove``         GloVe records/s and cost per epoch: fastopt (1 thread,
                                  all cores), NumPy mini-batch, GloVe's own C program,
                                  interleaved epoch by epoch
"""
