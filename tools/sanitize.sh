#!/usr/bin/env bash
# Build the Cython extension with AddressSanitizer + UndefinedBehaviorSanitizer in a scratch
# copy of the working tree and run the kernel, sparse, user-kernel and bad-input tests under it.
# Exit status 0 and "sanitize: clean" mean zero reports (any ASan/UBSan report aborts the test
# process: -fno-sanitize-recover=all, halt_on_error=1).  See docs/guide/hardening.md.
#
#   tools/sanitize.sh                 # the default test selection
#   tools/sanitize.sh tests/optim/test_sparse.py -k adam     # other pytest arguments
#   KEEP=1 tools/sanitize.sh          # keep the scratch copy (its path is printed)
#   SCRATCH=/tmp/fastopt-sanitize.X tools/sanitize.sh   # reuse a kept copy: refresh the
#                                     # sources, rebuild only what changed (implies KEEP)
#
# Needs gcc (or clang) with libasan/libubsan.  Python itself is not instrumented, so
# libasan is preloaded; leak detection is off (CPython keeps objects alive until exit by
# design).  The x86-64-v3 twins are not built (same sources, half the build time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-gcc}
libasan=$($cc -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
    echo "sanitize: $cc has no libasan.so ($libasan)" >&2
    exit 2
fi
if [ -n "${SCRATCH:-}" ] && [ -d "$SCRATCH" ]; then
    scratch=$SCRATCH
else
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/fastopt-sanitize.XXXXXX")
    if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$scratch"' EXIT; fi
fi
echo "sanitize: scratch copy in $scratch"
cd "$root"
git ls-files -co --exclude-standard -z | grep -zv '\.so$' | xargs -0 cp -p --parents -t "$scratch"
cd "$scratch"
[ -n "${SCRATCH:-}" ] || rm -f fastopt/backends/cython/*.so fastopt/backends/cython/x86_64_v3/*.so
FASTOPT_SANITIZE=1 FASTOPT_NO_VARIANTS=1 python setup.py -q build_ext --inplace \
    >build.log 2>&1 || { tail -40 build.log; echo "sanitize: build failed" >&2; exit 1; }
python - <<'PY' || { echo "sanitize: the extension was not built with the sanitizers" >&2; exit 1; }
import json, glob
stamps = glob.glob("build/temp*/fastopt-build-flags.json")
assert stamps and all("-fsanitize=address,undefined" in json.load(open(s))["cflags"] for s in stamps)
PY
if [ $# -eq 0 ]; then
    set -- tests/backends/test_kernels.py tests/backends/test_sparse_kernels.py \
        tests/backends/test_cython_user_kernels.py tests/optim/test_validation.py \
        tests/optim/test_sparse.py tests/optim/test_properties.py \
        tests/optim/test_hardening_properties.py tests/optim/test_checkpoint_files.py \
        tests/optim/test_rounding_hazards.py tests/optim/test_state_edits.py \
        tests/train/test_batchnorm.py tests/train/test_dropout.py \
        tests/train/test_regularization.py tests/embeddings/test_glove.py
fi
export LD_PRELOAD="$libasan${LD_PRELOAD:+ $LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
python - <<'PY'
import fastopt.backends._dispatch as d, fastopt
assert d.is_available("cython"), "the sanitized extension does not import"
print("sanitize: cython backend from", fastopt.__file__)
PY
set +e
python -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee pytest.log
status=${PIPESTATUS[0]}
set -e
if grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" pytest.log; then
    echo "sanitize: REPORTS FOUND (see above)" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "sanitize: pytest failed with status $status" >&2
    exit "$status"
fi
echo "sanitize: clean (no AddressSanitizer or UndefinedBehaviorSanitizer report)"
