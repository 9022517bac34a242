"""``python -m bench.glove``: see :mod:`bench.glove.run`."""
import sys

from .run import main

sys.exit(0 if main() else 1)
