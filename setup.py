"""Build the compiled Cython backend of fastopt (metadata lives in pyproject.toml).

One extension module per ``csrc/<name>.pyx`` or ``csrc/<name>.pyx.tp`` ->
``fastopt.backends.cython.<name>``; ``csrc/_runtime.pyx`` records how the build went
(OpenMP, compiler flags).  Cython runs inside ``build_ext`` (not when setup.py is
merely imported, e.g. for metadata), into ``build/cython*``: generated C never lands
in the source tree.

Update rules are templates (Tempita, shipped with Cython, as scikit-learn's
``_sgd_fast.pyx.tp``): ``csrc/<rule>.pyx.tp`` holds the rule's element loop
``_loop`` and says which bool arguments the kernel takes and when each of the loop's
``bint`` options is on; ``build_ext`` renders it and puts ``csrc/_update_rule.pxi.tp``
rendered for that rule (argument struct, the dispatch to one copy of the loop per
combination of options, OpenMP chunks, sparse rows, Python kernels, C-API twins) where
the rule writes ``{{kernels}}``, into ``build/generated/<rule>.pyx`` (rewritten only
when its text changes).  To add a rule: write ``csrc/<rule>.pyx.tp`` and
``fastopt/backends/cython/<rule>.pxd``; see ``csrc/README.md``.

C-API: ``fastopt/backends/cython/<rule>.pxd`` (shipped with the package, for other
Cython extensions to ``cimport``) declares the ``cdef`` functions that the module
``<rule>`` exports through ``__pyx_capi__``.  Cython finds it as the module's own .pxd
through the repository root on its include path, and checks the generated definitions
against it.

Floating-point flags: the kernels must reproduce the NumPy reference bit for
bit, so the C compiler may not contract ``a*b + c`` into an FMA
(``-ffp-contract=off``) nor reassociate (never ``-ffast-math``).
``-fno-math-errno`` only lets ``sqrt`` compile to the (vectorizable) instruction.
``-fno-trapping-math`` lets gcc turn a branch of a loop into a select, and so vectorize
the loops with a data-dependent choice (sign, clipping, FTRL's and proximal Adagrad's
shrinkage; kept scalar without it, those rules ran at 5-10% of the roof): it changes
no result, only the promise that a floating-point exception can trap (LLVM, and so
numba, assumes the same by default).

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
import re
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
DEPENDS = [os.path.join(CSRC, "_kernel_common.pxd"), os.path.join(CSRC, "fastopt_omp.h"),
           os.path.join(PACKAGE_ROOT, "fastopt", "backends", "cython", "_pool.pxd")]
#: An update rule's template, ``csrc/<rule>.pyx.tp``, and the template rendered for each
#: rule where it writes ``{{kernels}}``; the .pyx they make go to GENERATED.
TEMPLATE_SUFFIX = ".pyx.tp"
UPDATE_RULE_TEMPLATE = os.path.join(CSRC, "_update_rule.pxi.tp")
GENERATED = os.path.join("build", "generated")

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


def _depends(source):
    name = os.path.basename(source).split(".")[0]
    templates = [UPDATE_RULE_TEMPLATE] if source.endswith(TEMPLATE_SUFFIX) else []
    if name == "_pool":
        templates.append(os.path.join(CSRC, "fastopt_pool.h"))
    return DEPENDS + templates + [p for p in (_module_pxd(name),) if os.path.exists(p)]


def _extensions():
    """One extension module per ``csrc/*.pyx`` and ``csrc/*.pyx.tp`` (``csrc/adam.pyx.tp``
    -> ``{PACKAGE}.adam``), plus an x86-64-v3 twin of each kernel module (not of the
    ``_``-prefixed helpers)."""
    here = os.path.dirname(os.path.abspath(__file__))
    sources = sorted(os.path.join(CSRC, f) for f in os.listdir(os.path.join(here, CSRC))
                     if f.endswith((".pyx", TEMPLATE_SUFFIX)))
    names = [os.path.basename(source).split(".")[0] for source in sources]
    extensions = [Extension(f"{PACKAGE}.{name}", [source], depends=_depends(source))
                  for name, source in zip(names, sources)]
    if platform.machine().lower() in ("x86_64", "amd64") and not _env_flag("FASTOPT_NO_VARIANTS"):
        extensions += [Extension(f"{PACKAGE}.{VARIANT_PACKAGE}.{name}", [source],
                                 depends=_depends(source))
                       for name, source in zip(names, sources) if not name.startswith("_")]
    return extensions


# ----------------------------------------------------------------- update-rule templates

#: Local names of the generated functions: no state, scalar or switch may take one.
RESERVED_NAMES = {"param", "grad", "params", "grads", "seq", "name", "m", "a0", "k", "i", "p",
                  "total", "mid", "b", "lo", "hi", "a", "args", "n", "c", "chunk", "n_chunks",
                  "flags", "sp", "d", "j", "o", "j0", "j1", "start", "stop", "indices",
                  "values", "slots", "rows", "coalesced", "n_threads", "typenum"}


def _loop_parameters(text, loop, path):
    """The parameters of ``cdef inline void <loop>(...) noexcept nogil:`` in ``text``,
    each as ``(type, name)``: ``("const floating*", "grad")``."""
    match = re.search(rf"^cdef inline void {loop}\(([^)]*)\) noexcept nogil:", text, re.M)
    if match is None:
        raise ValueError(f"{path}: no 'cdef inline void {loop}(...) noexcept nogil:'")
    return [tuple(" ".join(re.sub(r"\s*\*\s*", "* ", p).split()).rsplit(" ", 1))
            for p in match[1].split(",")]


def _update_rule_namespace(rule, spec, text, path):
    """What ``_update_rule.pxi.tp`` renders with, for the rule ``csrc/<rule>.pyx.tp``
    (``spec``: the names its ``{{py:}}`` block set; ``text``: the template rendered).

    The kernel's arguments are those of the rule's ``_loop`` -- ``param``, ``grad``, the
    state arrays, the scalars -- then the ``switches`` (the kernel's bool arguments) and
    ``n_threads``; each ``bint`` option of ``_loop`` is a bit of ``flags``.
    """
    def fail(message):
        raise ValueError(f"{path}: {message}")

    parameters = _loop_parameters(text, "_loop", path)
    states = [name for kind, name in parameters[2:] if kind == "floating*"]
    scalars = [name for kind, name in parameters if kind == "floating"]
    options = [name for kind, name in parameters if kind == "bint"]
    if parameters != ([("floating*", "param"), ("const floating*", "grad")]
                      + [("floating*", s) for s in states] + [("floating", s) for s in scalars]
                      + [("Py_ssize_t", "start"), ("Py_ssize_t", "stop")]
                      + [("bint", o) for o in options]):
        fail("_loop takes (floating* param, const floating* grad, the states (floating*), "
             "the scalars (floating), Py_ssize_t start, Py_ssize_t stop, the options (bint))")
    switches, conditions = spec["switches"], spec["options"]
    optional, only_with = spec.get("optional", {}), spec.get("only_with", {})
    if not options or list(conditions) != options:
        fail(f"options must give the condition of each bint option of _loop, in order: {options}")
    if not set(optional.values()) | set(only_with) | set(only_with.values()) <= set(options):
        fail("optional and only_with may only name options of _loop")
    if not set(optional) <= set(states):
        fail("optional may only name state arrays of _loop")
    stream_with = spec.get("stream_with", options)
    if not set(stream_with) <= set(options):
        fail("stream_with may only name options of _loop")
    if RESERVED_NAMES & set(states + scalars + switches) or set(options) & set(states + scalars):
        fail(f"no state, scalar or switch may be named {sorted(RESERVED_NAMES)}, no state or "
             "scalar like an option")
    if len(states) > 3:
        fail("more than 3 state arrays: extend prefetch_rows in _kernel_common.pxd")

    def referenced(name):
        return any(re.search(rf"\b{name}\b", condition) for condition in conditions.values())

    flag_conditions = dict(conditions)
    for option, required in only_with.items():
        flag_conditions[option] = f"({conditions[option]}) and ({conditions[required]})"
    cases = []  # (flags, the options' values): every combination that only_with allows
    for flags in range(1 << len(options)):
        on = {o for bit, o in enumerate(options) if flags >> bit & 1}
        if all(required in on for option, required in only_with.items() if option in on):
            cases.append((flags, ", ".join("1" if o in on else "0" for o in options)))
    dispatchers = []  # (dispatcher, loop, the loop's parameters but the options, their names)
    for loop in ["_loop", *spec.get("extra_loops", [])]:
        data = _loop_parameters(text, loop, path)
        data, loop_options = data[:-len(options)], data[-len(options):]
        if not loop.endswith("_loop") or loop_options != [("bint", o) for o in options]:
            fail(f"{loop}: a loop's name ends in _loop and its last parameters are {options}")
        dispatchers.append((loop[:-len("loop")] + "dispatch", loop,
                            ", ".join(" ".join(p) for p in data),
                            ", ".join(name for _, name in data)))
    return dict(rule=rule, title=spec["title"], states=states, scalars=scalars,
                switches=switches, options=options, optional=optional, conditions=conditions,
                flag_conditions=flag_conditions,
                flags_scalars=[s for s in scalars if referenced(s)],
                flags_switches=[s for s in switches if referenced(s)],
                prefetched=(states + ["NULL"] * 3)[:3], cases=cases, dispatchers=dispatchers,
                stream_mask="" if stream_with == options else " | ".join(
                    o.upper() for o in stream_with))


def _render_update_rule(source):
    """``csrc/<rule>.pyx.tp`` rendered, with ``_update_rule.pxi.tp`` rendered for it in
    place of its ``{{kernels}}``."""
    from Cython import Tempita

    rule = os.path.basename(source)[:-len(TEMPLATE_SUFFIX)]
    marker = "# (the kernels of _update_rule.pxi.tp)"
    spec = {"kernels": marker}  # Tempita adds the names the {{py:}} block sets
    with open(source) as f:
        text = Tempita.Template(f.read(), name=source).substitute(spec)
    if spec.get("standalone"):  # not elementwise (Adafactor): the template alone
        if marker in text:
            raise ValueError(f"{source}: a standalone template has no {{{{kernels}}}}")
        return f"# Generated by setup.py from {source}: edit that.\n" + text
    if text.count(marker) != 1:
        raise ValueError(f"{source}: {{{{kernels}}}} must appear once")
    with open(UPDATE_RULE_TEMPLATE) as f:
        kernels = Tempita.Template(f.read(), name=UPDATE_RULE_TEMPLATE).substitute(
            _update_rule_namespace(rule, spec, text, source))
    return (f"# Generated by setup.py from {source} and {UPDATE_RULE_TEMPLATE}: edit those.\n"
            + text.replace(marker, kernels.strip("\n")))


def _generate(source):
    """Render the template ``source`` into ``build/generated/``; returns the .pyx path.

    The file is rewritten only if its text changed, so that cythonize (which compares
    timestamps) redoes only the modules whose templates changed.
    """
    target = os.path.join(GENERATED, os.path.basename(source)[:-len(".tp")])
    text = _render_update_rule(source)
    try:
        with open(target) as f:
            if f.read() == text:
                return target
    except OSError:
        pass
    os.makedirs(GENERATED, exist_ok=True)
    with open(target, "w") as f:
        f.write(text)
    return target


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
        for ext in baseline:
            ext.sources = [_generate(source) if source.endswith(TEMPLATE_SUFFIX) else source
                           for source in ext.sources]
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
            "-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-g0"]
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
