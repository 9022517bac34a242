"""Build the compiled Cython backend of fastopt (metadata lives in pyproject.toml).

One extension module per algorithm, ``csrc/<algorithm>.pyx`` ->
``fastopt.backends.cython.<algorithm>``, plus ``csrc/_runtime.pyx`` ->
``fastopt.backends.cython._runtime``, which records how the build went (OpenMP,
compiler flags).  Cython runs inside ``build_ext`` (not when setup.py is merely
imported, e.g. for metadata), into ``build/cython*``: generated C never lands
in the source tree.

C-API: ``fastopt/backends/cython/<algorithm>.pxd`` (shipped with the package, for other
Cython extensions to ``cimport``) declares the ``cdef`` functions that
``csrc/<algorithm>.pyx`` exports through ``__pyx_capi__``.  Cython finds it as the
module's own .pxd through the repository root on its include path.

Floating-point flags: the kernels must reproduce the NumPy reference bit for
bit, so the C compiler may not contract ``a*b + c`` into an FMA
(``-ffp-contract=off``) nor reassociate (never ``-ffast-math``).
``-fno-math-errno`` only lets ``sqrt`` compile to the (vectorizable) instruction.

Environment variables:

``FASTOPT_DEBUG_CHECKS=1``
    Cython ``boundscheck`` and ``wraparound`` back on.
``FASTOPT_EXTRA_CFLAGS``
    Extra compiler flags, appended last (e.g. ``-march=native`` or
    ``-fopt-info-vec-optimized``).  Flags that break bitwise reproducibility
    (``-ffast-math``, ``-ffp-contract=fast``, ...) are refused with a warning.
``FASTOPT_DISABLE_OPENMP=1``
    Build serial kernels even if the compiler supports OpenMP.
``FASTOPT_SANITIZE=1``
    Build with AddressSanitizer and UndefinedBehaviorSanitizer (GCC/Clang), for
    ``tools/sanitize.sh`` only: Python must then run with ``LD_PRELOAD`` of libasan.
``FASTOPT_BUILD_JOBS``
    Parallel jobs for Cython and for the C compiler (default: the usable CPUs).
"""
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PACKAGE = "fastopt.backends.cython"
CSRC = "csrc"
# On Cython's include path after CSRC: the directory of the ``fastopt`` package, where
# Cython finds ``fastopt/backends/cython/<algorithm>.pxd``, the module's own .pxd.
PACKAGE_ROOT = os.curdir
DEPENDS = [os.path.join(CSRC, "_kernel_common.pxd"), os.path.join(CSRC, "fastopt_omp.h")]

# Flags that would let the compiler change the rounding of the kernels' arithmetic.
UNSAFE_FLAGS = ("-ffast-math", "-Ofast", "-ffp-contract=fast", "-ffp-contract=on",
                "-funsafe-math-optimizations", "-fassociative-math", "-freciprocal-math",
                "/fp:fast")

OPENMP_TEST = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d %d\n", n, omp_get_max_threads());
    return 0;
}
"""


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _jobs():
    env = os.environ.get("FASTOPT_BUILD_JOBS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _c_string(text):
    """``text`` as a C string literal, for a -D macro value."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _warn(*lines):
    bar = "!" * 78
    print("\n".join(["", bar, *(f"!! {line}" for line in lines), bar, ""]), file=sys.stderr)


#: Kernel modules are built twice on x86-64: for the baseline and for this level,
#: into ``{PACKAGE}.{VARIANT_PACKAGE}``; fastopt picks the second at run time on CPUs
#: that support it.  ``-ffp-contract=off`` still forbids FMA: the bits are the same.
VARIANT_ARCH = "x86-64-v3"
VARIANT_PACKAGE = "x86_64_v3"


def _module_pxd(name):
    """``fastopt/backends/cython/<name>.pxd``: the C-API declarations of module ``name``."""
    return os.path.join(PACKAGE_ROOT, *PACKAGE.split("."), f"{name}.pxd")


def _depends(name):
    return DEPENDS + [p for p in (_module_pxd(name),) if os.path.exists(p)]


def _extensions():
    """One extension module per ``csrc/*.pyx`` (``csrc/adam.pyx`` -> ``{PACKAGE}.adam``),
    plus an x86-64-v3 twin of each kernel module (not of the ``_``-prefixed helpers)."""
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted(f[:-4] for f in os.listdir(os.path.join(here, CSRC)) if f.endswith(".pyx"))
    extensions = [Extension(f"{PACKAGE}.{name}", [os.path.join(CSRC, f"{name}.pyx")],
                            depends=_depends(name)) for name in names]
    if platform.machine().lower() in ("x86_64", "amd64") and not _env_flag("FASTOPT_NO_VARIANTS"):
        extensions += [Extension(f"{PACKAGE}.{VARIANT_PACKAGE}.{name}",
                                 [os.path.join(CSRC, f"{name}.pyx")], depends=_depends(name))
                       for name in names if not name.startswith("_")]
    return extensions


def _is_variant(ext):
    return ext.name.startswith(f"{PACKAGE}.{VARIANT_PACKAGE}.")


class BuildExt(build_ext):
    """build_ext that cythonizes first, detects OpenMP, and builds in parallel."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = _jobs()

    def run(self):
        from Cython.Build import cythonize

        debug = _env_flag("FASTOPT_DEBUG_CHECKS")
        directives = {
            "language_level": 3,
            "boundscheck": debug,
            "wraparound": debug,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        }
        # Separate C output per mode: cythonize only compares timestamps, not directives.
        build_dir = os.path.join("build", "cython-debug" if debug else "cython")
        baseline = [ext for ext in self.extensions if not _is_variant(ext)]
        self._drop_c_older_than_module_pxd(baseline, build_dir)
        cythonized = cythonize(
            baseline, compiler_directives=directives, include_path=[CSRC, PACKAGE_ROOT],
            build_dir=build_dir, nthreads=self.parallel if self.parallel > 1 else 0,
            force=self.force)
        # Keep the Extension objects (finalize_options annotated them): swap in the C sources.
        # A variant compiles a copy of its baseline's C file (own path, so own object file).
        by_name = {ext.name: ext for ext in cythonized}
        for ext in self.extensions:
            source = by_name[ext.name.replace(f".{VARIANT_PACKAGE}.", ".")]
            ext.depends = sorted(set(ext.depends) | set(source.depends))
            if not _is_variant(ext):
                ext.sources = source.sources
                continue
            copies = []
            for c_file in source.sources:
                copy = os.path.join(build_dir, VARIANT_PACKAGE, os.path.basename(c_file))
                os.makedirs(os.path.dirname(copy), exist_ok=True)
                if self.force or not os.path.exists(copy) or \
                        os.path.getmtime(copy) < os.path.getmtime(c_file):
                    shutil.copyfile(c_file, copy)
                copies.append(copy)
            ext.sources = copies
        super().run()

    @staticmethod
    def _drop_c_older_than_module_pxd(extensions, build_dir):
        """Remove generated C older than its module's .pxd, so that cythonize redoes it.

        (cythonize's timestamps cover the .pyx, what it cimports and a .pxd beside the
        .pyx, not the module's own .pxd found elsewhere on the include path.)
        """
        for ext in extensions:
            pxd = _module_pxd(ext.name.rsplit(".", 1)[1])
            for source in ext.sources:
                c_file = os.path.join(build_dir, os.path.splitext(source)[0] + ".c")
                if (os.path.exists(pxd) and os.path.exists(c_file)
                        and os.path.getmtime(c_file) < os.path.getmtime(pxd)):
                    os.remove(c_file)

    def build_extensions(self):
        import Cython
        import numpy

        cflags, ldflags = self._flags()
        debug = _env_flag("FASTOPT_DEBUG_CHECKS")
        macros = [
            ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
            ("FASTOPT_COMPILE_ARGS", _c_string(" ".join(cflags))),
            ("FASTOPT_CYTHON_VERSION", _c_string(Cython.__version__)),
            ("FASTOPT_DEBUG_CHECKS", "1" if debug else "0"),
        ]
        variant_ok = self._compiler_accepts(f"-march={VARIANT_ARCH}")
        if not variant_ok and any(_is_variant(ext) for ext in self.extensions):
            _warn(f"The compiler does not accept -march={VARIANT_ARCH}: building only the",
                  "baseline Cython kernels (correct, slower on AVX2 machines).")
            self.extensions = [ext for ext in self.extensions if not _is_variant(ext)]
        for ext in self.extensions:
            ext.include_dirs = [CSRC, numpy.get_include(), *ext.include_dirs]
            ext.define_macros = [*ext.define_macros, *macros]
            ext.extra_compile_args = [*ext.extra_compile_args, *cflags]
            if _is_variant(ext):
                ext.extra_compile_args.append(f"-march={VARIANT_ARCH}")
            ext.extra_link_args = [*ext.extra_link_args, *ldflags]
        self._force_if_flags_changed(cflags, ldflags, macros)
        super().build_extensions()

    def _compiler_accepts(self, flag):
        """Whether the C compiler compiles an empty file with ``flag``."""
        if self.compiler.compiler_type == "msvc":
            return False
        tmp = tempfile.mkdtemp(prefix="fastopt-flag-")
        try:
            source = os.path.join(tmp, "empty.c")
            with open(source, "w") as f:
                f.write("int fastopt_empty;\n")
            self.compiler.compile([source], output_dir=tmp, extra_postargs=[flag])
            return True
        except Exception:  # CompileError and friends
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _flags(self):
        msvc = self.compiler.compiler_type == "msvc"
        # -g0: Python's own CFLAGS carry -g, which only makes the build slower and the
        # modules bigger here (FASTOPT_EXTRA_CFLAGS=-g brings it back).
        cflags = ["/O2", "/fp:precise"] if msvc else [
            "-O3", "-ffp-contract=off", "-fno-math-errno", "-g0"]
        extra = shlex.split(os.environ.get("FASTOPT_EXTRA_CFLAGS", ""))
        unsafe = [flag for flag in extra if flag in UNSAFE_FLAGS]
        if unsafe:
            _warn(f"FASTOPT_EXTRA_CFLAGS: ignoring {' '.join(unsafe)}: the kernels must",
                  "round exactly as the NumPy reference does.")
            extra = [flag for flag in extra if flag not in UNSAFE_FLAGS]
        ldflags = []
        openmp = self._openmp_flag(msvc)
        if openmp:
            cflags.append(openmp)
            if not msvc:
                ldflags.append(openmp)
        if _env_flag("FASTOPT_SANITIZE") and not msvc:  # for tools/sanitize.sh, never a release
            sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                        "-fno-omit-frame-pointer", "-g"]
            cflags += sanitize
            ldflags += sanitize
        return cflags + extra, ldflags

    def _openmp_flag(self, msvc):
        """The OpenMP flag if a test program compiles and links with it, else None."""
        if _env_flag("FASTOPT_DISABLE_OPENMP"):
            _warn("FASTOPT_DISABLE_OPENMP is set: building the Cython kernels WITHOUT OpenMP.",
                  "n_threads > 1 will run its chunks serially.")
            return None
        flag = "/openmp" if msvc else "-fopenmp"
        tmp = tempfile.mkdtemp(prefix="fastopt-openmp-")
        try:
            source = os.path.join(tmp, "openmp_test.c")
            with open(source, "w") as f:
                f.write(OPENMP_TEST)
            objects = self.compiler.compile([source], output_dir=tmp, extra_postargs=[flag])
            self.compiler.link_executable(objects, "openmp_test", output_dir=tmp,
                                          extra_postargs=[] if msvc else [flag])
        except Exception as exc:  # CompileError, LinkError, missing compiler pieces
            _warn("OpenMP is NOT available with this compiler "
                  f"({type(exc).__name__}: {str(exc).strip()[:200]}).",
                  "Building the Cython kernels SERIAL: n_threads > 1 will run its chunks",
                  "one after the other.  Install an OpenMP runtime (e.g. libgomp, libomp)",
                  "and rebuild to get parallel kernels.")
            return None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"fastopt: OpenMP works with {flag}; building parallel kernels", file=sys.stderr)
        return flag

    def _force_if_flags_changed(self, cflags, ldflags, macros):
        """Rebuild everything when the flags differ from the previous build's.

        (build_ext only compares timestamps, so a change of FASTOPT_EXTRA_CFLAGS or of
        OpenMP availability would otherwise leave stale objects.)
        """
        stamp = os.path.join(self.build_temp, "fastopt-build-flags.json")
        current = json.dumps({"cflags": cflags, "ldflags": ldflags, "macros": macros})
        try:
            with open(stamp) as f:
                previous = f.read()
        except OSError:
            previous = None
        if previous != current:
            self.force = True
            os.makedirs(self.build_temp, exist_ok=True)
            with open(stamp, "w") as f:
                f.write(current)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
