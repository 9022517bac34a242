"""fastopt as the benchmark drives it: the optimizer classes, or the raw kernels.

The benchmark measures what users call: ``fastopt.<Class>(params, backend=...)``
and ``opt.step(grads)``, validation included.  While the classes do not exist
yet (fastopt is being built), :class:`KernelOptimizer` stands in for them: it
computes the step scalars as the optimizers will (double precision, rounded
once to the dtype) and calls the raw kernel of :mod:`fastopt.backends`
directly.  Which one ran is recorded as ``api`` ("class" or "kernel") in every
output.  The raw-kernel path is also what the small-tensor section uses to split
a step's fixed cost into kernel call and Python overhead.
"""
import functools
import importlib
import math

import numpy as np

from .numpy_impl import nadam_coefficients, radam_step_size


def _fastopt():
    return importlib.import_module("fastopt")


def _backend_module():
    return importlib.import_module("fastopt.backends._dispatch")


def has_classes():
    try:
        return hasattr(_fastopt(), "Adam")
    except ImportError:
        return False


def api():
    return "class" if has_classes() else "kernel"


def version():
    try:
        fo = _fastopt()
    except ImportError:
        return None
    v = getattr(fo, "__version__", None)
    if v is None:
        try:
            from importlib.metadata import version as _v  # noqa: PLC0415
            v = _v("fastopt")
        except Exception:  # noqa: BLE001 - not installed: running from the tree
            v = "unknown (not installed)"
    return v


def location():
    """Where ``fastopt`` is imported from (the source tree when run from the repository root)."""
    try:
        return getattr(_fastopt(), "__file__", None)
    except ImportError:
        return None


def available_backends():
    fo = _fastopt()
    fn = getattr(fo, "available_backends", None) or _backend_module().available_backends
    return list(fn())


def set_num_threads(n):
    fo = _fastopt()
    (getattr(fo, "set_num_threads", None) or _backend_module().set_num_threads)(n)


def get_num_threads():
    fo = _fastopt()
    return (getattr(fo, "get_num_threads", None) or _backend_module().get_num_threads)()


def pool_counters():
    """The thread pool's job counters (jobs, late jobs, jobs run serially by its backoff;
    of the parallel jobs: their chunks, those helpers ran, their callers' own work and
    wait for helpers, in us), or None without the Cython extension."""
    try:
        from fastopt.backends.cython import _pool
    except ImportError:
        return None
    info = _pool.info()
    return {k: info[k] for k in ("jobs", "late_jobs", "backoff_runs", "parallel_jobs",
                                 "chunks", "helper_chunks", "own_us", "wait_us")
            if k in info}


def show_config():
    """``fastopt.show_config()``'s printed text and returned dict (or a stand-in while it is missing)."""
    import contextlib  # noqa: PLC0415
    import io  # noqa: PLC0415
    fo = _fastopt()
    fn = getattr(fo, "show_config", None)
    if fn is None:
        b = _backend_module()
        return {"printed": None, "returned": None,
                "note": "fastopt.show_config() does not exist yet; fastopt.backends._dispatch values instead",
                "available_backends": b.available_backends(),
                "num_threads": b.get_num_threads(),
                "parallel_threshold": getattr(b, "PARALLEL_THRESHOLD", None)}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        returned = fn()
    return {"printed": buf.getvalue(), "returned": returned}


def state_full(n, init, dtype, slot):
    """A 1-D state array of ``n`` elements allocated as fastopt's optimizers allocate slot
    ``slot`` of their state (``fastopt.optim.optimizer._state_full``: large arrays start at a
    slot-dependent offset within the 4 KiB page, against 4K aliasing); ``np.full`` when this
    fastopt has no such helper."""
    try:
        helper = importlib.import_module("fastopt.optim.optimizer")._state_full
    except (ImportError, AttributeError):
        return np.full(n, init, dtype)
    return helper((n,), init, dtype, slot)


def page_offset(a):
    """Byte offset of ``a``'s first element within its 4 KiB page."""
    return a.__array_interface__["data"][0] % 4096


def parallel_threshold():
    return getattr(_backend_module(), "PARALLEL_THRESHOLD", None)


def kernel(backend, algorithm):
    """The raw kernel function (raises ImportError/RuntimeError when the backend lacks it)."""
    return _backend_module().kernel(backend, algorithm.kernel)


def probe(backend, algorithm):
    """``None`` if ``backend`` can run ``algorithm`` here, else the reason it cannot."""
    try:
        if has_classes():
            p = np.zeros(8, np.float32)
            opt = getattr(_fastopt(), algorithm.cls)(p, backend=backend, **algorithm.hyper)
            opt.step(np.zeros(8, np.float32))
        else:
            kernel(backend, algorithm)
    except Exception as e:  # noqa: BLE001 - any failure means "not available"
        return f"{type(e).__name__}: {e}".splitlines()[0][:200]
    return None


def make(algorithm, backend, params, grads):
    """An object with ``step()`` that updates ``params`` (list of 1-D arrays) in place."""
    if has_classes():
        return ClassOptimizer(algorithm, backend, params, grads)
    return KernelOptimizer(algorithm, backend, params, grads)


class ClassOptimizer:
    def __init__(self, algorithm, backend, params, grads):
        cls = getattr(_fastopt(), algorithm.cls)
        single = len(params) == 1
        self.opt = cls(params[0] if single else list(params), backend=backend, **algorithm.hyper)
        self.step = functools.partial(self.opt.step, grads[0] if single else list(grads))

    def state(self, i=0):
        return {k: v for k, v in self.opt.state[i].items() if isinstance(v, np.ndarray) and v.ndim}


# ------------------------------------------------------------------ raw kernels

def _r(dtype, x):
    return float(dtype.type(x))


def one_minus_pow(beta, t):
    """The bias correction ``1 - beta**t`` as fastopt's optimizers compute it (without
    cancellation, ``fastopt.optim.optimizer._one_minus_pow``), or plainly when this
    fastopt has no such helper."""
    try:
        helper = importlib.import_module("fastopt.optim.optimizer")._one_minus_pow
    except (ImportError, AttributeError):
        return 1.0 - beta ** t
    return helper(beta, t)


class KernelOptimizer:
    """Stand-in for the optimizer classes: scalars per step + one raw kernel call per param."""

    _STATE = {"sgd": ("momentum_buffer",), "adagrad": ("sum",),
              "adadelta": ("square_avg", "acc_delta"),
              "rmsprop": ("square_avg", "grad_avg", "momentum_buffer"),
              "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
              "adamax": ("exp_avg", "exp_inf"), "nadam": ("exp_avg", "exp_avg_sq"),
              "radam": ("exp_avg", "exp_avg_sq"), "lion": ("exp_avg",),
              "rprop": ("prev", "step_size"), "asgd": ("ax",),
              "sparse_adam": ("exp_avg", "exp_avg_sq"), "ftrl": ("accum", "linear"),
              "proximal_adagrad": ("accumulator",), "lamb": ("exp_avg", "exp_avg_sq", "update"),
              "adafactor": ("row_var", "col_var", "variance")}
    #: State that does not start at zero.
    _INIT = {"step_size": "lr", "accum": "initial_accumulator_value",
             "accumulator": "initial_accumulator_value"}

    def __init__(self, algorithm, backend, params, grads):
        self.algo, self.h = algorithm, dict(algorithm.hyper)
        self.fn = kernel(backend, algorithm)
        self.backend = backend
        self.params, self.grads = list(params), list(grads)
        self.t = 0
        self.mu_product = 1.0
        self.eta_mu = (self.h.get("lr"), 1.0)  # ASGD's eta and mu for the next step
        self._threads_for = _backend_module().threads_for
        self.states = []
        for p in self.params:
            st = {}
            for name in self._STATE[algorithm.kernel]:
                used = self._uses(name)
                st[name] = np.full_like(p, self.h.get(self._INIT.get(name), 0.0)) if used \
                    else np.empty(0, p.dtype)
            if algorithm.kernel == "adafactor":  # factored statistics of 2-D and up
                factored = p.ndim > 1
                st["row_var"] = np.zeros(p.shape[:-1] + (1,), p.dtype) if factored else \
                    np.empty(0, p.dtype)
                st["col_var"] = np.zeros(p.shape[:-2] + (1, p.shape[-1]), p.dtype) \
                    if factored else np.empty(0, p.dtype)
                st["variance"] = np.empty(0, p.dtype) if factored else np.zeros_like(p)
            self.states.append(st)
        self._calls = [[p, g, *st.values()] for p, g, st in zip(self.params, self.grads, self.states)]

    def _uses(self, name):
        h = self.h
        if name == "momentum_buffer":
            return h.get("momentum", 0.0) != 0.0
        if name == "grad_avg":
            return bool(h.get("centered", False))
        if name == "max_exp_avg_sq":
            return bool(h.get("amsgrad", False))
        return True

    def state(self, i=0):
        return {k: v for k, v in self.states[i].items() if v.size}

    def scalars(self, dtype):
        """The kernel's scalar arguments for step ``self.t`` (already incremented)."""
        h, t, k = self.h, self.t, self.algo.kernel
        r = functools.partial(_r, dtype)
        wd = h.get("weight_decay", 0.0)
        more = self._more_scalars(dtype)
        if more is not None:
            return more
        if k == "sgd":
            mu = h.get("momentum", 0.0)
            return (r(h["lr"]), r(wd), r(mu), r(1 - h.get("dampening", 0.0)),
                    bool(h.get("nesterov", False)), False, t == 1)
        if k == "adagrad":
            return (r(h["lr"] / (1 + (t - 1) * h["lr_decay"])), r(wd), r(h["eps"]), False)
        if k == "adadelta":
            return (r(h["lr"]), r(h["rho"]), r(1 - h["rho"]), r(h["eps"]), r(wd), False)
        if k == "rmsprop":
            return (r(h["lr"]), r(h["alpha"]), r(1 - h["alpha"]), r(h["eps"]), r(wd),
                    r(h.get("momentum", 0.0)), bool(h.get("centered", False)), False)
        b1, b2 = h["betas"]
        if k == "adam":
            decoupled = self.algo.cls == "AdamW"
            return (r(b1), r(1 - b1), r(b2), r(1 - b2), r(h["lr"] / one_minus_pow(b1, t)),
                    r(math.sqrt(one_minus_pow(b2, t))), r(h["eps"]), 0.0 if decoupled else r(wd),
                    r(1 - h["lr"] * wd) if decoupled else 1.0, bool(h.get("amsgrad", False)), False)
        if k == "adamax":
            return (r(b1), r(1 - b1), r(b2), r(h["lr"] / one_minus_pow(b1, t)), r(h["eps"]), r(wd),
                    False)
        if k == "nadam":
            mu, mu_next, self.mu_product = nadam_coefficients(t, self.mu_product, h)
            lr = h["lr"]
            return (r(b1), r(1 - b1), r(b2), r(1 - b2), r(one_minus_pow(b2, t)), r(h["eps"]),
                    r(lr * (1 - mu) / (1 - self.mu_product)),
                    r(lr * mu_next / (1 - self.mu_product * mu_next)), r(wd), 1.0, False)
        if k == "radam":
            rectify, c = radam_step_size(t, h, one_minus_pow)
            return (r(b1), r(1 - b1), r(b2), r(1 - b2), r(c), r(h["eps"]), r(wd), 1.0, rectify,
                    False)
        if k == "lion":
            return (r(h["lr"]), r(b1), r(1 - b1), r(b2), r(1 - b2), r(1 - h["lr"] * wd), False)
        if k == "lamb":  # the first pass; step() then applies the trust ratio
            return (r(b1), r(1 - b1), r(b2), r(1 - b2), r(one_minus_pow(b1, t)),
                    r(one_minus_pow(b2, t)), r(h["eps"]), r(wd), False)
        if k == "sparse_adam":
            return (r(1 - b1), r(1 - b2),
                    r(h["lr"] * math.sqrt(one_minus_pow(b2, t)) / one_minus_pow(b1, t)),
                    r(h["eps"]), False)
        raise KeyError(k)

    def _more_scalars(self, dtype):
        """The scalars of the rules without ``betas``."""
        h, t, k = self.h, self.t, self.algo.kernel
        r = functools.partial(_r, dtype)
        if k == "rprop":
            return (r(h["etas"][0]), r(h["etas"][1]), r(h["step_sizes"][0]),
                    r(h["step_sizes"][1]), False)
        if k == "asgd":
            eta, mu = self.eta_mu
            self.eta_mu = (h["lr"] / (1 + h["lambd"] * h["lr"] * t) ** h["alpha"],
                           1 / max(1, t - h["t0"]))
            return (r(eta), r(h.get("weight_decay", 0.0)), r(1 - h["lambd"] * eta), r(mu), False,
                    mu != 1)
        if k == "ftrl":
            return (r(h["lr"]), r(h["l1"]), r(2 * h["l2"]), 0.0, -0.5, False)
        if k == "proximal_adagrad":
            return (r(h["lr"]), r(h["l1"]), r(h["l2"]), False)
        if k == "adafactor":  # Python floats: the kernel rounds them
            eps1, eps2 = h["eps"]
            return (float(t) ** h["beta2_decay"], min(h["lr"], 1.0 / t ** 0.5),
                    float(np.finfo(dtype).eps) if eps1 is None else eps1, eps2, h["d"],
                    1.0 - h["lr"] * h["weight_decay"], False)
        return None

    def step(self):
        self.t += 1
        by_dtype = {}
        fn, threads_for = self.fn, self._threads_for
        for args in self._calls:
            dt = args[0].dtype
            sc = by_dtype.get(dt)
            if sc is None:
                sc = by_dtype[dt] = self.scalars(dt)
            fn(*args, *sc, threads_for(args[0].size))
            if self.algo.kernel == "lamb":
                self._lamb_step(args[0], args[-1], threads_for(args[0].size))

    def _lamb_step(self, p, r, n_threads):
        """LAMB's second pass, as ``fastopt.LAMB`` does it: the trust ratio from the two
        norms (NumPy, in double), then SGD's kernel ``p -= (lr * ratio) * r``."""
        p_norm = math.sqrt(float(np.dot(p.reshape(-1), p.reshape(-1))))
        r_norm = math.sqrt(float(np.dot(r.reshape(-1), r.reshape(-1))))
        ratio = p_norm / r_norm if p_norm > 0 and r_norm > 0 else 1.0
        sgd = _backend_module().kernel(self.backend, "sgd")
        sgd(p, r, np.empty(0, p.dtype), _r(p.dtype, self.h["lr"] * ratio), 0.0, 0.0, 1.0,
            False, False, False, n_threads)


def kernel_call(algorithm, backend, n, dtype, n_threads=1, seed=0):
    """``(fn, args)`` for one raw kernel call on fresh arrays of ``n`` elements (step 1 state)."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n).astype(dtype).reshape(algorithm.shape(n))
    g = rng.standard_normal(n).astype(dtype).reshape(algorithm.shape(n))
    ko = KernelOptimizer(algorithm, backend, [p], [g])
    ko.t = 1
    return ko.fn, (*ko._calls[0], *ko.scalars(np.dtype(dtype)), n_threads)
