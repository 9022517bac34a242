"""SPARSE BENCHMARK -- HOOK ONLY, NOT IMPLEMENTED YET.

Sparse (row-subset / index) updates come with a later issue.  When they land,
implement :func:`run` here: it receives the run configuration and the progress
bar and returns a JSON-ready dict with ``"status": "measured"`` plus its
figures; :mod:`bench.report` prints and writes whatever ``run`` returns under
the "Sparse" heading, and ``"sparse"`` is already a section name of
``--sections``.  Until then it returns a "pending" marker and no numbers: no
figure in any output is made up.
"""

STATUS = "pending"
NOTE = "sparse updates are not implemented in fastopt yet; this section is a placeholder (no measurements)"


def units(cfg):
    return 0


def run(cfg, bar):
    return {"status": STATUS, "note": NOTE}
