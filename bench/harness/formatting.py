"""Number formatting shared by the reports."""
import math


def fmt_size(n):
    if n is None:
        return "-"
    e = int(math.floor(math.log10(n))) if n > 0 else 0
    m = n / 10 ** e
    return f"{m:g}e{e}" if m == int(m) or len(f"{m:g}") <= 4 else f"{n:,}"
