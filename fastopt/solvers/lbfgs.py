r"""L-BFGS with ``torch.optim.LBFGS``'s interface and semantics, on NumPy parameter arrays.

Limited-memory BFGS (Liu & Nocedal, 1989; Nocedal & Wright, *Numerical Optimization*,
Algorithm 7.4/7.5) keeps the last ``history_size`` pairs

.. math::

    s_k = x_{k+1} - x_k, \qquad y_k = g_{k+1} - g_k, \qquad \rho_k = 1 / (y_k^\top s_k)

(a pair is stored only if :math:`y_k^\top s_k > 10^{-10}`) and computes the direction
:math:`d = -H_k g_k` with the two-loop recursion, the initial inverse Hessian being
:math:`\gamma I`, :math:`\gamma = y^\top s / y^\top y` of the newest pair.  The step is
:math:`x \leftarrow x + t\,d` with :math:`t` = ``lr`` (the first iteration
:math:`\min(1, 1/\|g\|_1)\cdot` ``lr``), or the step found by a strong-Wolfe line search
(``line_search_fn="strong_wolfe"``: bracketing and cubic-interpolation zoom, Nocedal &
Wright Algorithm 3.5/3.6, as minFunc and torch).

This is a line-by-line port of ``torch/optim/lbfgs.py`` (PyTorch 2.x): the same
hyperparameters, defaults, stopping rules, function-evaluation accounting, state names
and return value.  The differences:

* **the closure** takes no argument and returns ``(loss, grads)`` -- the loss (a real
  number) and the gradient at the current parameters (one array per parameter, or one
  array for a single parameter) -- since NumPy has no ``.grad``;
* **precision**: the dot products are computed in float64 in a fixed blocked order
  (:mod:`fastopt.backends.python.lbfgs`), so the scalars :math:`\rho, \alpha, \beta,
  \gamma` are doubles; vectors stay in the parameters' dtype.  Results are the same
  bits in every backend and on any number of threads;
* **bad input** (a closure returning something else than ``(loss, grads)``, gradients of
  the wrong shape or dtype, a non-finite loss or gradient) raises ``TypeError`` /
  ``ValueError`` naming it.  On any error in a step (also one raised by the closure
  itself) the parameters are restored to their values at the start of the step and the
  state is left unchanged.

Example::

    x = np.array([-1.5, 2.0])
    def closure():
        loss = (1 - x[0])**2 + 100 * (x[1] - x[0]**2)**2
        grad = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0]**2),
                         200 * (x[1] - x[0]**2)])
        return loss, grad
    opt = fastopt.LBFGS(x, line_search_fn="strong_wolfe", max_iter=100)
    opt.step(closure)           # x is now close to (1, 1)
"""
import math

import numpy as np

from ..backends import _dispatch
from .._internal import validation as check
from ..train import _args

__all__ = ["LBFGS"]

_MODULE = "lbfgs"
_HYPER = ("lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size",
          "line_search_fn")


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through two points with values and slopes (torch's port
    of minFunc's ``polyinterp``), clipped to ``bounds``; the midpoint if it has none."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, dot, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Strong-Wolfe line search along ``d`` from ``x`` (torch's ``_strong_wolfe``, a port of
    minFunc's ``WolfeLineSearch``): returns ``(f_new, g_new, t, evaluations)``."""
    d_norm = float(np.max(np.abs(d)))
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = dot(g_new, d)

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = dot(g_new, d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
        bracket_gtd = [gtd, gtd_new]

    # zoom: refine the bracket until a point satisfies the strong Wolfe conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t at least 10% of the bracket away from its ends when progress stalls
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = dot(g_new, d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _positive_int(name, value):
    return _args.integer(name, value, minimum=1)


def _check_hyper(h, prefix=""):
    """Validated hyperparameters (a new dict); raises naming the entry."""
    lr = h["lr"]
    out = {"lr": check.nonnegative(prefix + "lr", lr)}
    out["max_iter"] = _positive_int(prefix + "max_iter", h["max_iter"])
    out["max_eval"] = _positive_int(prefix + "max_eval", h["max_eval"])
    out["tolerance_grad"] = check.nonnegative(prefix + "tolerance_grad", h["tolerance_grad"])
    out["tolerance_change"] = check.nonnegative(prefix + "tolerance_change",
                                                h["tolerance_change"])
    out["history_size"] = _positive_int(prefix + "history_size", h["history_size"])
    out["line_search_fn"] = _args.choice(prefix + "line_search_fn", h["line_search_fn"],
                                         (None, "strong_wolfe"))
    return out


class LBFGS:
    """L-BFGS on NumPy arrays, with ``torch.optim.LBFGS``'s interface (see the module docstring).

    Source: J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed., Algorithm 7.4
    (the two-loop recursion); defaults and semantics of ``torch.optim.LBFGS``.

    Args:
        params: ndarray or list of ndarray, updated in place: float32 or float64 (all of
            one dtype), C-contiguous, writeable, not sharing memory; at least one
            element in all.  Only one parameter group (as in torch).
        lr: step length (default 1; the initial step of the line search with
            ``"strong_wolfe"``).
        max_iter: iterations per :meth:`step` (default 20).
        max_eval: closure evaluations per :meth:`step` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ‖g‖_∞ <= ``tolerance_grad`` (default 1e-7).
        tolerance_change: stop when the step (‖t·d‖_∞), the loss change or the
            directional derivative falls below it (default 1e-9).
        history_size: pairs (s, y) kept (default 100).
        line_search_fn: None or ``"strong_wolfe"``.
        backend: backend of the two-loop kernels (default: :func:`fastopt.get_backend`
            at each step).

    Raises:
        TypeError: parameters that are not float arrays of one dtype, a closure that
            does not return ``(loss, grads)``, gradients of the wrong type.
        ValueError: invalid hyperparameters, parameters that are empty, read-only or
            share memory, gradients of the wrong shape or aliasing a parameter, a
            non-finite loss or gradient (the parameters are then restored).

    Attributes ``param_groups`` (one dict, as in torch) and ``state`` (``func_evals``,
    ``n_iter``, ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``,
    ``prev_flat_grad``, ``prev_loss``: torch's names).
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None, *, backend=None):
        if isinstance(params, dict) or (isinstance(params, (list, tuple)) and params and
                                        isinstance(params[0], dict)):
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        params = _args.param_list("params", params)
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1:
            raise TypeError(f"params must all have one dtype (the flat vector of L-BFGS), got "
                            f"{sorted(map(str, dtypes))}")
        check.no_overlaps("params", params)
        self._numel = sum(p.size for p in params)
        if self._numel == 0:
            raise ValueError("params have no element to optimize")
        if max_eval is None:
            max_iter = _positive_int("max_iter", max_iter)
            max_eval = max_iter * 5 // 4
        hyper = _check_hyper(dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                  tolerance_grad=tolerance_grad,
                                  tolerance_change=tolerance_change, history_size=history_size,
                                  line_search_fn=line_search_fn))
        self.defaults = dict(hyper)
        self.param_groups = [dict(hyper, params=params)]
        self._params = params
        self.dtype = params[0].dtype
        self.backend = None if backend is None else _dispatch.check_backend(backend)
        self.state = {}

    # -- flat vectors -----------------------------------------------------------------

    def _kernels(self):
        backend = self.backend or _dispatch.get_backend()
        k = {name: _dispatch.kernel(backend, name, _MODULE) for name in ("dot", "axpy", "axpy_dot")}
        k["scale"] = _dispatch.kernel(backend, "weight_decay", "regularization")  # x *= c
        n_threads = _dispatch.threads_for(self._numel)
        return k, n_threads

    def _evaluate(self, closure):
        """``closure()`` checked: ``(loss as float, flat gradient)``."""
        result = closure()
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"closure must return a pair (loss, grads), got "
                            f"{type(result).__name__}")
        loss, grads = result
        loss = _args.metric("the loss returned by closure", loss)
        if not math.isfinite(loss):
            raise ValueError(f"the loss returned by closure is not finite: {loss}")
        if isinstance(grads, np.ndarray):
            grads = [grads]
        if not isinstance(grads, (list, tuple)):
            raise TypeError(f"closure must return grads as an array or a list of arrays, got "
                            f"{type(grads).__name__}")
        if len(grads) != len(self._params):
            raise ValueError(f"closure returned {len(grads)} gradients for "
                             f"{len(self._params)} parameters")
        flat = np.empty(self._numel, self.dtype)
        offset = 0
        for i, (g, p) in enumerate(zip(grads, self._params)):
            check.gradient(g, p, i)
            flat[offset:offset + p.size] = g.reshape(-1)
            offset += p.size
        if not np.isfinite(flat).all():
            raise ValueError("the gradient returned by closure has non-finite entries")
        return loss, flat

    def _add_grad(self, kernels, n_threads, step_size, update):
        """Every parameter ``p += step_size * update[slice of p]``."""
        offset = 0
        for p in self._params:
            kernels["axpy"](p.reshape(-1), step_size, update[offset:offset + p.size], n_threads)
            offset += p.size

    def _clone_param(self):
        return [p.copy() for p in self._params]

    def _set_param(self, values):
        for p, v in zip(self._params, values):
            np.copyto(p, v)

    def _directional_evaluate(self, kernels, n_threads, closure, x, t, d):
        self._add_grad(kernels, n_threads, t, d)
        try:
            return self._evaluate(closure)
        finally:
            self._set_param(x)

    # -- the step ---------------------------------------------------------------------

    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss of the first evaluation.

        ``closure()`` must evaluate the objective at the current parameters and return
        ``(loss, grads)``.
        """
        if not callable(closure):
            raise TypeError(f"closure must be callable, got {type(closure).__name__}")
        group = self.param_groups[0]
        hyper = _check_hyper(group, "param_groups[0].")
        lr, max_iter, max_eval = hyper["lr"], hyper["max_iter"], hyper["max_eval"]
        tolerance_grad, tolerance_change = hyper["tolerance_grad"], hyper["tolerance_change"]
        line_search_fn, history_size = hyper["line_search_fn"], hyper["history_size"]
        kernels, n_threads = self._kernels()
        dot = lambda a, b: kernels["dot"](a, b, n_threads)  # noqa: E731

        start = self._clone_param()
        try:
            return self._step(closure, kernels, n_threads, dot, lr, max_iter, max_eval,
                              tolerance_grad, tolerance_change, line_search_fn, history_size)
        except BaseException:  # a bad closure result, or the closure's own error
            self._set_param(start)
            raise

    def _step(self, closure, kernels, n_threads, dot, lr, max_iter, max_eval, tolerance_grad,
              tolerance_change, line_search_fn, history_size):
        state = self.state
        func_evals = state.get("func_evals", 0)
        total_iter = state.get("n_iter", 0)
        t_dtype = self.dtype.type

        orig_loss, flat_grad = self._evaluate(closure)
        loss = orig_loss
        current_evals = 1
        func_evals += 1
        opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
        if opt_cond:
            state["func_evals"], state["n_iter"] = func_evals, total_iter
            return orig_loss

        d = state.get("d")
        t = state.get("t")
        old_dirs = list(state.get("old_dirs", []))
        old_stps = list(state.get("old_stps", []))
        ro = list(state.get("ro", []))
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_flat_grad = None if prev_flat_grad is None else prev_flat_grad.copy()
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            total_iter += 1

            # -- the direction d = -H g -------------------------------------------------
            if total_iter == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t_dtype(t)
                ys = dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / dot(y, y)
                d = self._two_loop(kernels, n_threads, dot, flat_grad, old_dirs, old_stps, ro,
                                   H_diag)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                np.copyto(prev_flat_grad, flat_grad)
            prev_loss = loss

            # -- the step length --------------------------------------------------------
            if total_iter == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum(dtype=np.float64))) * lr
            else:
                t = lr
            gtd = dot(flat_grad, d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(kernels, n_threads, closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, dot, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_grad(kernels, n_threads, t, d)
                opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
            else:
                self._add_grad(kernels, n_threads, t, d)
                if n_iter != max_iter:
                    # re-evaluated only if not the last iteration (as torch: in a stochastic
                    # setting the evaluation would be wasted)
                    loss, flat_grad = self._evaluate(closure)
                    opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            func_evals += ls_func_evals

            # -- the stopping rules -----------------------------------------------------
            if n_iter == max_iter:
                break
            if current_evals >= max_eval:
                break
            if opt_cond:
                break
            if float(np.max(np.abs(d * t_dtype(t)))) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(func_evals=func_evals, n_iter=total_iter, d=d, t=t, old_dirs=old_dirs,
                     old_stps=old_stps, ro=ro, H_diag=H_diag, prev_flat_grad=prev_flat_grad,
                     prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _two_loop(kernels, n_threads, dot, flat_grad, old_dirs, old_stps, ro, H_diag):
        r"""The direction :math:`-H g` by the two-loop recursion, each ``axpy`` fused with the
        dot product of the next iteration."""
        num_old = len(old_dirs)
        axpy, axpy_dot = kernels["axpy"], kernels["axpy_dot"]
        q = -flat_grad
        al = [0.0] * num_old
        if num_old:
            al[-1] = dot(old_stps[-1], q) * ro[-1]
            for i in range(num_old - 1, 0, -1):
                # q -= al[i] y_i, and al[i-1] = ro[i-1] s_{i-1}.q from the same pass
                al[i - 1] = axpy_dot(q, -al[i], old_dirs[i], old_stps[i - 1], n_threads) \
                    * ro[i - 1]
            axpy(q, -al[0], old_dirs[0], n_threads)
        kernels["scale"](q, H_diag, n_threads)
        r = q
        if num_old:
            be = dot(old_dirs[0], r) * ro[0]
            for i in range(num_old - 1):
                # r += (al[i] - be_i) s_i, and be_{i+1} = ro[i+1] y_{i+1}.r from the same pass
                be = axpy_dot(r, al[i] - be, old_stps[i], old_dirs[i + 1], n_threads) \
                    * ro[i + 1]
            axpy(r, al[-1] - be, old_stps[-1], n_threads)
        return r

    # -- checkpoints ------------------------------------------------------------------

    _ARRAYS = ("d", "prev_flat_grad")
    _LISTS = ("old_dirs", "old_stps")
    _SCALARS = ("t", "H_diag", "prev_loss")

    def state_dict(self):
        """The state as plain data (copies): ``{"state": {...}, "param_groups": [...]}``."""
        state = {}
        for k, v in self.state.items():
            if isinstance(v, np.ndarray):
                v = v.copy()
            elif isinstance(v, list):
                v = [a.copy() if isinstance(a, np.ndarray) else a for a in v]
            state[k] = v
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self._params)))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict):
        """Restore :meth:`state_dict`'s output, checked in full before anything changes."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("state_dict must be a dict with exactly the keys 'state' and "
                             "'param_groups'")
        groups = state_dict["param_groups"]
        if not isinstance(groups, (list, tuple)) or len(groups) != 1 or \
                not isinstance(groups[0], dict):
            raise ValueError("state_dict['param_groups'] must be a list of one dict")
        saved = groups[0]
        if len(saved.get("params", ())) != len(self._params):
            raise ValueError(f"state_dict has {len(saved.get('params', ()))} parameters, the "
                             f"optimizer {len(self._params)}")
        missing, unknown = set(_HYPER) - set(saved), set(saved) - set(_HYPER) - {"params"}
        if missing or unknown:
            raise ValueError(f"state_dict param_groups[0]: missing {sorted(missing)}, unknown "
                             f"{sorted(unknown)}")
        hyper = _check_hyper(saved, "state_dict param_groups[0].")
        src = state_dict["state"]
        if not isinstance(src, dict):
            raise ValueError("state_dict['state'] must be a dict")
        known = {"func_evals", "n_iter", *self._ARRAYS, *self._LISTS, *self._SCALARS, "ro"}
        if set(src) - known:
            raise ValueError(f"state_dict['state'] has unknown entries {sorted(set(src) - known)}")
        n, state = self._numel, {}
        for k in ("func_evals", "n_iter"):
            if k in src:
                state[k] = _args.integer(f"state_dict['state'][{k!r}]", src[k], minimum=0)

        def vector(name, a):
            if not isinstance(a, np.ndarray) or a.shape != (n,) or a.dtype != self.dtype:
                raise ValueError(f"state_dict['state'][{name}] must be a {self.dtype} array of "
                                 f"shape ({n},)")
            return np.array(a, order="C", copy=True)

        for k in self._ARRAYS:
            if src.get(k) is not None:
                state[k] = vector(repr(k), src[k])
        for k in self._SCALARS:
            if k in src and src[k] is not None:
                state[k] = check.real(f"state_dict['state'][{k!r}]", src[k])
        lengths = set()
        for k in (*self._LISTS, "ro"):
            if k in src:
                if not isinstance(src[k], (list, tuple)):
                    raise ValueError(f"state_dict['state'][{k!r}] must be a list")
                lengths.add(len(src[k]))
        if len(lengths) > 1 or (lengths and max(lengths) > hyper["history_size"]):
            raise ValueError("state_dict['state']: old_dirs, old_stps and ro must have one "
                             "length, at most history_size")
        for k in self._LISTS:
            if k in src:
                state[k] = [vector(f"{k!r}][{i}", a) for i, a in enumerate(src[k])]
        if "ro" in src:
            state["ro"] = [check.real(f"state_dict['state']['ro'][{i}]", r)
                           for i, r in enumerate(src["ro"])]
        if state.get("n_iter", 0) > 0 and any(k not in state for k in
                                               ("d", "t", "prev_flat_grad", "H_diag")):
            raise ValueError("state_dict['state'] lacks d, t, prev_flat_grad or H_diag after "
                             "iterations were made")
        self.param_groups[0].update(hyper)
        self.state = state

    def __repr__(self):
        h = ", ".join(f"{k}={self.param_groups[0][k]!r}" for k in _HYPER)
        return f"LBFGS({h}, {len(self._params)} params, backend={self.backend!r})"
