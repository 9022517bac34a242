"""Embedding training: applications built on the sparse row kernels.

``glove``: vocabulary, co-occurrence counting, GloVe's binary file formats and the
:class:`~fastopt.embeddings.glove.GloVe` trainer (numba Adagrad row kernel inside a
compiled, multi-threaded Hogwild! loop).

Imports point down only: :mod:`fastopt.train`, :mod:`fastopt.optim`,
:mod:`fastopt.backends`, :mod:`fastopt._internal`.
"""
