import os
import sys

import numpy as np
import pytest

# The helper modules of the suite (kernel_cases, optimizer_cases) sit beside the tests.
sys.path.insert(0, os.path.dirname(__file__))

import fastopt  # noqa: E402
from fastopt.backends import _dispatch  # noqa: E402

FAST_BACKENDS = ("numba", "cython")

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


def bits(a):
    """Bit patterns of a float array, so that comparisons are exact (-0.0 != +0.0)."""
    a = np.asarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)
