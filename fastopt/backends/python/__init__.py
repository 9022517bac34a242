"""The reference backend: readable NumPy, one module per algorithm.

Each kernel is the specification of its algorithm.  Its lines are the update
equations of the optimizer's docstring, in the order the compiled backends
evaluate them.  NumPy computes every ufunc in the arrays' dtype with the
dtype-rounded scalars (``dtype.type(x)``), so every operation rounds exactly as
the compiled loops do; temporaries are allowed here and nowhere else.
"""
