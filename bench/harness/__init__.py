"""Measurement infrastructure: timing (interleaved samples, medians), the machine's
description and load, progress bars, number formatting.  Imports nothing else of bench."""
