import contextlib
import importlib
import os
import sys

import numpy as np
import pytest

# The helper modules of the suite (kernel_cases, optimizer_cases) sit beside the tests.
sys.path.insert(0, os.path.dirname(__file__))

import fastopt  # noqa: E402
from fastopt.backends import _dispatch  # noqa: E402

FAST_BACKENDS = ("numba", "cython")
#: The compiled builds that the kernel tables compare with the reference: the ones the
#: dispatcher picks, plus the baseline (non-x86-64-v3) Cython build on machines where
#: the dispatcher picks the x86-64-v3 one (see :func:`kernel`).
KERNEL_BACKENDS = FAST_BACKENDS + ("cython-baseline",)

# Hypothesis: FASTOPT_HYPOTHESIS_PROFILE=long runs every property with >= 10,000 examples
# (outside CI; see docs/guide/hardening.md).  Property tests size themselves with examples().
HYPOTHESIS_PROFILE = os.environ.get("FASTOPT_HYPOTHESIS_PROFILE", "default")
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile("long", max_examples=10_000, deadline=None,
                              suppress_health_check=list(HealthCheck))
    settings.load_profile(HYPOTHESIS_PROFILE)
except ImportError:  # hypothesis is a test extra; the property tests skip without it
    pass


def examples(n):
    """``n`` examples for a property, or the long profile's count when it is selected."""
    return 10_000 if HYPOTHESIS_PROFILE == "long" else n


def require(backend):
    if not _dispatch.is_available(backend):
        pytest.skip(f"backend {backend!r} is not available here")


@pytest.fixture(autouse=True)
def _restore_global_settings():
    """Tests that change the backend or thread count leave no trace."""
    yield
    fastopt.set_backend(None)
    fastopt.set_num_threads(None)


@contextlib.contextmanager
def lowered_threshold(value):
    """``_dispatch.PARALLEL_THRESHOLD = value`` inside the block (test-only): small arrays
    then take the threaded path (the optimizers read the threshold at every step)."""
    saved = _dispatch.PARALLEL_THRESHOLD
    _dispatch.PARALLEL_THRESHOLD = value
    try:
        yield
    finally:
        _dispatch.PARALLEL_THRESHOLD = saved


def kernel(backend, name, module=None):
    """Kernel ``name`` of ``backend`` (one of ``KERNEL_BACKENDS`` or ``"python"``), or skip.

    ``"cython-baseline"`` is the baseline Cython build imported directly
    (``fastopt.backends.cython.<module>``), whatever the dispatcher would pick; it is
    skipped where the dispatcher already picks it (``"cython"`` tests it there).
    """
    if backend == "cython-baseline":
        require("cython")
        if _dispatch.cython_variant() == "baseline":
            pytest.skip("the dispatcher picks the baseline Cython build: tested as 'cython'")
        module = module or _dispatch._module_of(name)
        return getattr(importlib.import_module(f"fastopt.backends.cython.{module}"), name)
    require(backend)
    return _dispatch.kernel(backend, name, module)


def assert_same_values(got, want, label=""):
    """Bitwise where ``want`` is not NaN; NaN where it is NaN.

    IEEE 754 leaves the sign and payload of a NaN unspecified and compilers may
    reorder negations around one, so NaNs are compared as NaNs; every other value
    (infinities, signed zeros and subnormals included) by its bits.
    """
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, label
    nan = np.isnan(want)
    wrong_nan = np.count_nonzero(np.isnan(got) != nan)
    assert wrong_nan == 0, f"{label}: {wrong_nan} elements differ in being NaN"
    diff = np.count_nonzero(bits(got)[~nan] != bits(want)[~nan])
    assert diff == 0, f"{label}: {diff} of {want.size} elements differ in their bits"


def bits(a):
    """Bit patterns of a float array, so that comparisons are exact (-0.0 != +0.0)."""
    a = np.asarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)
