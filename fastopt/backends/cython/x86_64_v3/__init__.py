"""The Cython kernels compiled a second time for x86-64-v3 (AVX2; no FMA contraction).

Built when the compiler supports ``-march=x86-64-v3`` and used at run time only on
CPUs that support that level (see :func:`fastopt._dispatch.cython_variant`).  Same
source, same ``-ffp-contract=off``: the results are bit for bit those of the
baseline build, only faster where the kernels are compute-bound (divisions and
square roots of Adam-like rules).
"""
