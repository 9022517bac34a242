"""Test the tests: plant one small bug of each kind, run the tests that must catch it.

Usage (from the repository root, with the Cython extension built in place)::

    python tools/mutation_check.py            # every mutation, prints a table
    python tools/mutation_check.py --list     # the mutations, without running anything
    python tools/mutation_check.py nan-numba threads   # some of them, by name

Each mutation replaces one exact piece of source text in one file, runs the test
files that CI runs for that code (``python -m pytest -x -q ...``) and counts the
mutation *caught* when they fail.  The file is restored in a ``finally`` block
(also on Ctrl-C) and checked against git afterwards (``git diff --quiet``); a file
with uncommitted changes is refused before anything is touched.  Mutations of
``csrc/`` rebuild the baseline build of the extension in place
(``FASTOPT_NO_VARIANTS=1 python setup.py build_ext --inplace``, a minute or more),
run the tests with ``FASTOPT_CPU=baseline`` and rebuild again after the restore;
mutations of numba code run with an empty ``NUMBA_CACHE_DIR`` (numba does not see
edits of a module that a cached function calls).  Exit status 0 only if every
mutation was caught.  Not part of CI: it takes several minutes.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Mutation:
    name: str
    kind: str
    path: str           # relative to the repository root
    old: str            # exact text, must occur exactly once
    new: str
    tests: list         # pytest arguments
    env: dict = field(default_factory=dict)

    @property
    def compiled(self):
        return self.path.startswith("csrc/")

    @property
    def numba(self):
        return self.path.startswith("fastopt/backends/numba/")


MUTATIONS = [
    Mutation("coefficient-cython", "a coefficient in one backend (Cython)", "csrc/adam.pyx.tp",
             "v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g",
             "v = beta2 * exp_avg_sq[i] + one_minus_beta1 * g * g",
             ["tests/backends/test_kernels.py", "-k", "cython and adam"]),
    Mutation("coefficient-numba", "a coefficient in one backend (numba)",
             "fastopt/backends/numba/adam.py",
             "v = beta2 * v + one_minus_beta2 * g * g", "v = beta2 * v + one_minus_beta1 * g * g",
             ["tests/backends/test_kernels.py", "-k", "numba and adam"]),
    Mutation("chunk-boundary", "a chunk boundary (numba's chunking of n elements)",
             "fastopt/backends/numba/_jit.py",
             "return c * n // n_chunks, (c + 1) * n // n_chunks",
             "return c * n // n_chunks, (c + 1) * n // n_chunks - (c + 1 < n_chunks)",
             ["tests/backends/test_kernels.py", "-k", "numba and sgd"]),
    Mutation("shared-scalar", "a shared step scalar (Adagrad's lr_decay one step late)",
             "fastopt/optim/adagrad.py",
             'clr = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])',
             'clr = group["lr"] / (1.0 + state["step"] * group["lr_decay"])',
             ["tests/optim/test_exact.py"]),
    Mutation("nan-cython", "a NaN clause (the compiled running maximum, Cython)",
             "csrc/_kernel_common.pxd",
             "return a if ((a > b) | (a != a)) else b", "return a if (a > b) else b",
             ["tests/backends/test_kernels.py", "-k", "cython and (adam or adamax)"]),
    Mutation("nan-numba", "a NaN clause (the running maximum, numba)",
             "fastopt/backends/numba/_jit.py",
             "return a if (a > b or a != a) else b", "return a if a > b else b",
             ["tests/backends/test_kernels.py", "-k", "numba and (adam or adamax)"]),
    Mutation("threads", "the thread count (threads_for always 1)",
             "fastopt/backends/_dispatch.py",
             "    if size < PARALLEL_THRESHOLD:\n        return 1\n    return get_num_threads()",
             "    return 1",
             ["tests/backends/test_threads.py"]),
    Mutation("threads-dense", "the thread count (the dense step always on 1 thread)",
             "fastopt/optim/optimizer.py",
             "1 if p.size < threshold else _dispatch.get_num_threads())", "1)",
             ["tests/backends/test_threads.py"]),
    Mutation("sparse-order", "the order duplicates are summed in (numba, last to first)",
             "fastopt/backends/numba/_sparse.py",
             "    for i in range(indices.size):\n        r = indices[i]\n        s = slots[r]",
             "    for i in range(indices.size - 1, -1, -1):\n        r = indices[i]\n"
             "        s = slots[r]",
             ["tests/backends/test_sparse_kernels.py", "-k", "numba and sparse_kernel and adam"]),
]


def _run(cmd, env=None, log=None):
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if log is not None:
        log.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n")
    return proc


def _build(log):
    """Rebuild the baseline extension modules in place (only changed sources recompile)."""
    proc = _run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                env={"FASTOPT_NO_VARIANTS": "1"}, log=log)
    if proc.returncode != 0:
        raise RuntimeError("build failed:\n" + proc.stdout[-3000:])


def _git_clean(path):
    return _run(["git", "diff", "--quiet", "HEAD", "--", path]).returncode == 0


def _summary(output):
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    return lines[-1][:90] if lines else "(no output)"


def check(m, log):
    """Apply ``m``, run its tests, restore.  Returns ``(caught, detail)``."""
    full = os.path.join(ROOT, m.path)
    if not _git_clean(m.path):
        raise RuntimeError(f"{m.path} has uncommitted changes; commit or stash them first")
    with open(full, encoding="utf-8") as f:
        original = f.read()
    if original.count(m.old) != 1:
        raise RuntimeError(f"{m.name}: the text to mutate occurs {original.count(m.old)} "
                           f"times in {m.path} (the code changed: update MUTATIONS)")
    env = dict(m.env)
    cache = None
    if m.numba:
        cache = tempfile.TemporaryDirectory(prefix="fastopt-mutation-numba-")
        env["NUMBA_CACHE_DIR"] = cache.name
    if m.compiled:
        env["FASTOPT_CPU"] = "baseline"
    try:
        with open(full, "w", encoding="utf-8") as f:
            f.write(original.replace(m.old, m.new))
        if m.compiled:
            _build(log)
        proc = _run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                     *m.tests], env=env, log=log)
    finally:
        with open(full, "w", encoding="utf-8") as f:
            f.write(original)
        if cache is not None:
            cache.cleanup()
        if m.compiled:
            _build(log)
    if not _git_clean(m.path):
        raise RuntimeError(f"{m.path} was not restored (git diff is not empty)")
    # pytest: 0 all passed, 1 some failed, 5 nothing collected, else an error.  A
    # failure counts only if it is an assertion of a test (-x: the only failure), not an
    # exception the mutation raised (that would be a broken mutation, not a caught one).
    if proc.returncode == 1:
        if "AssertionError" not in proc.stdout:
            raise RuntimeError(f"{m.name}: the tests failed without an AssertionError:\n"
                               f"{proc.stdout[-2000:]}")
        return True, _summary(proc.stdout)
    if proc.returncode == 0:
        return False, _summary(proc.stdout)
    raise RuntimeError(f"{m.name}: pytest exited with {proc.returncode}:\n{proc.stdout[-2000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--log", default=os.path.join(tempfile.gettempdir(),
                                                      "fastopt-mutation-check.log"),
                        help="where the full pytest and build output goes")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutations: {sorted(unknown)}")
    if args.list:
        for m in chosen:
            print(f"{m.name:20} {m.kind}\n{'':20} {m.path}: {m.old!r} -> {m.new!r}")
        return 0
    rows = []
    with open(args.log, "w", encoding="utf-8") as log:
        for m in chosen:
            start = time.perf_counter()
            print(f"{m.name} ...", file=sys.stderr, flush=True)
            caught, detail = check(m, log)
            rows.append((m, caught, detail, time.perf_counter() - start))
    print("| mutation | kind | file | caught | tests | seconds |")
    print("|---|---|---|---|---|---|")
    for m, caught, detail, seconds in rows:
        print(f"| {m.name} | {m.kind} | {m.path} | {'yes' if caught else '**NO**'} | "
              f"{detail} | {seconds:.0f} |")
    missed = [m.name for m, caught, _, _ in rows if not caught]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} mutations caught" +
          (f"; NOT caught: {', '.join(missed)}" if missed else "") + f" (log: {args.log})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
