"""The GloVe benchmark: ``python -m bench.glove`` (training speed and cost curves) and
``python -m bench.glove.corpus`` (the 20M-token corpus built offline from Debian packages).
Imports :mod:`bench.harness`."""
