"""Beyond first-order rules: least squares, Newton, L-BFGS and a genetic algorithm, each on
the problem where the optimization survey's claims about it can be seen.

1. **Linear regression**: the closed-form least-squares solution (:func:`fastopt.lstsq`,
   SVD) against full-batch gradient descent on the same mean squared error.
2. **A smooth convex problem** (L2-regularized logistic regression): Newton's method
   (exact Hessian), L-BFGS (strong Wolfe), gradient descent and Adam -- iterations and
   wall time to reach ``f - f* <= 1e-8``.  Newton needs the fewest iterations, each the
   most expensive; L-BFGS gets most of the benefit at a gradient's cost per iteration.
3. **A saddle point**, ``f(x, y) = x^2 + y^4/4 - y^2/2`` (saddle at the origin, minima at
   ``(0, +-1)``): pure Newton converges to the saddle, gradient descent leaves it,
   Newton with a line search (descent fallback) reaches a minimum.
4. **Rastrigin** (multimodal): the genetic algorithm (compiled numba fitness, evaluated
   on threads) against gradient descent, Adam and L-BFGS from random starts, which stop
   in the nearest local minimum.
5. **A small training problem** (softmax regression on scikit-learn's digits if it is
   installed, else on generated Gaussian blobs): the genetic algorithm against Adam and
   L-BFGS -- in hundreds of dimensions random search is far behind the gradient.

Outputs (``--output-dir``, default ``examples/output``): ``solvers_regression.png``,
``solvers_convex.png``, ``solvers_saddle.png``, ``solvers_ga.png`` and
``solvers_results.md``.  Run ``python examples/solvers_showcase.py`` (well under a
minute) or with ``--quick`` (a few seconds, what the tests run).
"""
import argparse
import os
import time

# The problems are small: BLAS threads would cost more than they save (and on a busy
# machine their spinning makes a 2000 x 60 least-squares solve take a second instead of
# milliseconds), so this example runs BLAS on one thread unless told otherwise.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import fastopt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-8


# -- 1. least squares vs gradient descent ------------------------------------------------

def regression(quick, rng):
    n, d = (500, 20) if quick else (2000, 60)
    scales = np.logspace(0, -1.5, d)  # correlated, badly scaled features
    X = rng.standard_normal((n, d)) * scales + 0.3 * rng.standard_normal((n, 1))
    w_true = rng.standard_normal(d)
    y = X @ w_true + 0.1 * rng.standard_normal(n)
    fastopt.lstsq(X[:d + 1], y[:d + 1])  # warm-up: LAPACK's first call
    t0 = time.perf_counter()
    res = fastopt.lstsq(X, y)
    t_ls = time.perf_counter() - t0
    f_star = res.residuals / n
    lipschitz = 2 * res.singular_values[0] ** 2 / n
    w = np.zeros(d)
    opt = fastopt.SGD(w, lr=1.0 / lipschitz)
    gaps, t0, reached = [], time.perf_counter(), None
    for k in range(300 if quick else 20000):
        r = X @ w - y
        gaps.append(max(r @ r / n - f_star, 1e-300))
        if reached is None and gaps[-1] <= TOL * max(1.0, f_star):
            reached = (k, time.perf_counter() - t0)
            break
        opt.step(2.0 / n * (X.T @ r))
    rows = [("lstsq (SVD)", "1 solve", f"{t_ls * 1e3:.2f} ms", f"{f_star:.6g}"),
            ("gradient descent, lr = 1/L",
             f"{reached[0]} iterations" if reached else f"> {len(gaps)} iterations",
             f"{reached[1] * 1e3:.1f} ms" if reached else "--",
             f"{gaps[-1] + f_star:.6g}")]
    cond = res.singular_values[0] / res.singular_values[-1]
    return gaps, rows, cond


# -- 2. Newton vs L-BFGS vs GD vs Adam on a smooth convex problem ---------------------------

def logistic(quick, rng):
    n, d = (400, 20) if quick else (3000, 100)
    X = rng.standard_normal((n, d)) * np.linspace(1.0, 0.2, d)
    w_true = rng.standard_normal(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)
    lam = 1e-2

    def f(w):
        z = X @ w
        return float(np.mean(np.logaddexp(0, z) - y * z) + 0.5 * lam * w @ w)

    def g(w):
        p = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ (p - y) / n + lam * w

    def h(w):
        p = 1 / (1 + np.exp(-(X @ w)))
        return (X.T * (p * (1 - p))) @ X / n + lam * np.eye(d)

    return f, g, h, d


def convex(quick, rng):
    f, g, h, d = logistic(quick, rng)
    f_star = fastopt.newton(f, np.zeros(d), g, h, gtol=1e-13, max_iter=50).fun
    runs = {}

    t0 = time.perf_counter()
    times = []
    res = fastopt.newton(f, np.zeros(d), g, h, gtol=0.0, max_iter=12,
                         callback=lambda x: times.append(time.perf_counter() - t0))
    runs["Newton"] = (res.losses - f_star, [0.0] + times)

    def first_order(make, max_iter):
        w = np.zeros(d)
        opt = make(w)
        gaps, times, t0 = [f(w) - f_star], [0.0], time.perf_counter()
        for _ in range(max_iter):
            opt.step(g(w))
            gaps.append(f(w) - f_star)
            times.append(time.perf_counter() - t0)
            if gaps[-1] <= TOL:
                break
        return np.array(gaps), times

    w = np.zeros(d)
    # one iteration per step (to record each); max_eval leaves the line search its 25
    # evaluations (the default max_iter * 5 // 4 = 1 would leave it none)
    opt = fastopt.LBFGS(w, max_iter=1, max_eval=26, history_size=10,
                        line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)
    gaps, times, t0 = [f(w) - f_star], [0.0], time.perf_counter()
    for _ in range(200):
        opt.step(lambda: (f(w), g(w)))
        gaps.append(f(w) - f_star)
        times.append(time.perf_counter() - t0)
        if gaps[-1] <= TOL:
            break
    runs["L-BFGS"] = (np.array(gaps), times)
    lipschitz = np.linalg.eigvalsh(h(np.zeros(d)))[-1] * 1.0  # sigma(z)' <= 1/4 < 1: bound
    n_max = 500 if quick else 6000
    runs["gradient descent"] = first_order(lambda w: fastopt.SGD(w, lr=1.0 / lipschitz), n_max)
    runs["Adam (lr 0.01)"] = first_order(lambda w: fastopt.Adam(w, lr=0.01), n_max)
    rows = []
    for name, (gaps, times) in runs.items():
        hit = np.flatnonzero(np.asarray(gaps) <= TOL)
        if hit.size:
            k = int(hit[0])
            rows.append((name, str(k), f"{times[k] * 1e3:.1f} ms"))
        else:
            rows.append((name, f"> {len(gaps) - 1} (gap {gaps[-1]:.1e})", "--"))
    return runs, rows


# -- 3. the saddle ---------------------------------------------------------------------------

def saddle_problem():
    f = lambda z: z[0] ** 2 + z[1] ** 4 / 4 - z[1] ** 2 / 2  # noqa: E731
    g = lambda z: np.array([2 * z[0], z[1] ** 3 - z[1]])  # noqa: E731
    h = lambda z: np.array([[2.0, 0.0], [0.0, 3 * z[1] ** 2 - 1]])  # noqa: E731
    return f, g, h


def saddle():
    f, g, h = saddle_problem()
    start = np.array([0.9, 0.02])
    paths = {}
    paths["Newton (pure)"] = fastopt.newton(f, start, g, h, line_search=None).path
    paths["Newton + line search"] = fastopt.newton(f, start, g, h).path
    x = start.copy()
    opt = fastopt.SGD(x, lr=0.2)
    path = [x.copy()]
    for _ in range(60):
        opt.step(g(x))
        path.append(x.copy())
    paths["gradient descent"] = np.array(path)
    rows = [(name, f"({p[-1][0]:.3g}, {p[-1][1]:.3g})", f"{f(p[-1]):.4f}", str(len(p) - 1))
            for name, p in paths.items()]
    return paths, rows


# -- 4. GA vs gradient methods on Rastrigin ------------------------------------------------

def rastrigin_parts():
    import numba

    @numba.njit(nogil=True)
    def rastrigin(x):
        s = 10.0 * x.size
        for v in x:
            s += v * v - 10.0 * np.cos(2.0 * np.pi * v)
        return s

    def grad(x):
        return 2 * x + 20 * np.pi * np.sin(2 * np.pi * x)

    return rastrigin, grad


def multimodal(quick, rng):
    rastrigin, grad = rastrigin_parts()
    d = 4
    ga = fastopt.GeneticAlgorithm(rastrigin, d, bounds=(-5.12, 5.12), population_size=200,
                                  mutation_rate=0.25, minimize=True, seed=1)
    t0 = time.perf_counter()
    res = ga.run(40 if quick else 150, target=1e-3)
    t_ga = time.perf_counter() - t0
    starts = rng.uniform(-5.12, 5.12, (10 if quick else 30, d))
    finals = {"gradient descent": [], "Adam": [], "L-BFGS": []}
    for s in starts:
        for name in finals:
            x = s.copy()
            if name == "L-BFGS":
                fastopt.LBFGS(x, max_iter=200, line_search_fn="strong_wolfe").step(
                    lambda: (rastrigin(x), grad(x)))
            else:
                opt = fastopt.SGD(x, lr=1e-3) if name == "gradient descent" else \
                    fastopt.Adam(x, lr=0.05)
                for _ in range(1000):
                    opt.step(grad(x))
            finals[name].append(rastrigin(x))
    rows = [("genetic algorithm", f"{res.fitness:.2e}", "--",
             f"{res.n_evaluations} evaluations, {t_ga:.2f} s")]
    rows += [(name, f"{min(v):.3g}", f"{np.median(v):.3g}", f"{len(v)} random starts")
             for name, v in finals.items()]
    return res, finals, rows


# -- 5. GA vs gradient methods on a small training problem -----------------------------------

def dataset(rng):
    try:
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        X = (X - X.mean(0)) / (X.std(0) + 1e-8)
        return X, y.astype(np.int64), "scikit-learn digits (1797 x 64, 10 classes)"
    except ImportError:
        k, d, n = 3, 10, 900
        centers = 1.5 * rng.standard_normal((k, d))
        y = rng.integers(0, k, n)
        return centers[y] + rng.standard_normal((n, d)), y, \
            f"generated Gaussian blobs ({n} x {d}, {k} classes; scikit-learn not installed)"


def training(quick, rng):
    X, y, description = dataset(rng)
    m = 300 if quick else 600
    if len(X) > m:
        X, y, description = X[:m], y[:m], description + f", the first {m} samples"
    n, d = X.shape
    k = int(y.max()) + 1
    onehot = np.eye(k)[y]

    def loss_of(P):  # P: (population, (d + 1) k) -> mean cross-entropy of each
        W = P[:, :d * k].reshape(-1, d, k)
        b = P[:, d * k:]
        z = X @ W + b[:, None, :]
        z -= z.max(axis=2, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
        return -(logp * onehot).sum(axis=2).mean(axis=1)

    def loss_grad(theta):
        W, b = theta[:d * k].reshape(d, k), theta[d * k:]
        z = X @ W + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(n), y]))
        p -= onehot
        return loss, np.concatenate([(X.T @ p).ravel(), p.sum(0)]) / n

    def accuracy(theta):
        return float(np.mean(np.argmax(X @ theta[:d * k].reshape(d, k) + theta[d * k:], 1)
                             == y))

    n_params = (d + 1) * k
    curves, rows = {}, []
    ga = fastopt.GeneticAlgorithm(loss_of, n_params, bounds=(-3.0, 3.0), vectorized=True,
                                  population_size=60, minimize=True, mutation_scale=0.05,
                                  seed=2)
    t0 = time.perf_counter()
    res = ga.run(20 if quick else 200)
    curves["genetic algorithm"] = (np.arange(len(res.best)) * ga.population_size, res.best)
    rows.append(("genetic algorithm", f"{res.fitness:.4f}", f"{accuracy(res.x):.3f}",
                 str(res.n_evaluations), f"{time.perf_counter() - t0:.2f} s"))
    for name in ("Adam", "L-BFGS"):
        theta = np.zeros(n_params)
        losses, t0 = [loss_grad(theta)[0]], time.perf_counter()
        if name == "Adam":
            opt = fastopt.Adam(theta, lr=0.05)
            for _ in range(50 if quick else 300):
                opt.step(loss_grad(theta)[1])
                losses.append(loss_grad(theta)[0])
            evals = len(losses) - 1
        else:
            opt = fastopt.LBFGS(theta, max_iter=1, max_eval=26, line_search_fn="strong_wolfe")
            for _ in range(20 if quick else 100):
                opt.step(lambda: loss_grad(theta))
                losses.append(loss_grad(theta)[0])
            evals = opt.state["func_evals"]
        curves[name] = (np.linspace(0, evals, len(losses)), np.array(losses))
        rows.append((name, f"{losses[-1]:.4f}", f"{accuracy(theta):.3f}", str(evals),
                     f"{time.perf_counter() - t0:.2f} s"))
    return curves, rows, description, n_params


# -- plots and the report ------------------------------------------------------------------

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small problems")
    parser.add_argument("--output-dir", default=os.path.join(HERE, "output"))
    args = parser.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.output_dir, exist_ok=True)
    out = lambda name: os.path.join(args.output_dir, name)  # noqa: E731
    rng = np.random.default_rng(0)
    start = time.perf_counter()

    gaps, reg_rows, cond = regression(args.quick, rng)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(gaps, label="gradient descent (lr = 1/L)")
    ax.axhline(TOL, color="k", ls=":", label=f"tolerance {TOL:g}")
    ax.set(xlabel="iteration", ylabel="MSE - MSE(lstsq)",
           title=f"Linear regression: GD vs the closed form (cond(X) = {cond:.0f})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out("solvers_regression.png"), dpi=110)
    plt.close(fig)

    runs, convex_rows = convex(args.quick, rng)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, (g, t) in runs.items():
        g = np.maximum(np.asarray(g), 1e-16)
        axes[0].semilogy(g, label=name)
        axes[1].semilogy(np.asarray(t) * 1e3, g, label=name)
    for ax, xlabel in zip(axes, ("iteration", "wall time (ms)")):
        ax.axhline(TOL, color="k", ls=":")
        ax.set(xlabel=xlabel, ylabel="f - f*")
        ax.set_xscale("log" if xlabel == "iteration" else "linear")
    axes[0].legend()
    fig.suptitle("L2-regularized logistic regression (smooth, strongly convex)")
    fig.tight_layout()
    fig.savefig(out("solvers_convex.png"), dpi=110)
    plt.close(fig)

    paths, saddle_rows = saddle()
    f, _, _ = saddle_problem()
    u = np.linspace(-1.2, 1.2, 200)
    U, V = np.meshgrid(u, np.linspace(-1.4, 1.4, 200))
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.contour(U, V, f(np.array([U, V])), levels=30, cmap="Greys", linewidths=0.6)
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], "o-", ms=3, label=name)
    ax.plot([0], [0], "kx", ms=10, label="saddle (0, 0)")
    ax.set(xlabel="x", ylabel="y", title="f = x² + y⁴/4 − y²/2 from (0.9, 0.02)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out("solvers_saddle.png"), dpi=110)
    plt.close(fig)

    ga_res, finals, ga_rows = multimodal(args.quick, rng)
    curves, train_rows, description, n_params = training(args.quick, rng)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].semilogy(np.arange(len(ga_res.best)) * 200, np.maximum(ga_res.best, 1e-6),
                     label="genetic algorithm (best)")
    for name, v in finals.items():
        axes[0].axhline(np.median(v), ls="--", color={"gradient descent": "C1", "Adam": "C2",
                                                      "L-BFGS": "C3"}[name],
                        label=f"{name}: median of random starts")
    axes[0].set(xlabel="fitness evaluations", ylabel="Rastrigin (4-D)",
                title="Multimodal: GA vs gradient methods")
    axes[0].legend(fontsize=8)
    for name, (x, loss) in curves.items():
        axes[1].plot(x, loss, label=name)
    axes[1].set(xscale="symlog", xlabel="loss evaluations (GA: individuals)",
                ylabel="training cross-entropy",
                title=f"Softmax regression, {n_params} parameters")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out("solvers_ga.png"), dpi=110)
    plt.close(fig)

    total = time.perf_counter() - start
    report = f"""# Solvers showcase{' (--quick)' if args.quick else ''}

Produced by `examples/solvers_showcase.py` in {total:.1f} s (backend {fastopt.get_backend()}).
Tolerance: `f - f* <= {TOL:g}`.  Wall times are of this run on this machine.

## 1. Linear regression: closed form vs gradient descent

{table(("method", "work", "wall time", "final MSE"), reg_rows)}

![GD vs least squares](solvers_regression.png)

## 2. Smooth convex problem: iterations and time to the tolerance

{table(("method", "iterations to tolerance", "wall time"), convex_rows)}

![Newton, L-BFGS, GD, Adam](solvers_convex.png)

## 3. At a saddle point

{table(("method", "end point", "f there", "iterations"), saddle_rows)}

Pure Newton solves grad f = 0 and converges to the saddle (0, 0); gradient descent
and Newton with a line search (steepest-descent fallback where the Hessian is
indefinite) reach a minimum, f = -0.25.

![saddle](solvers_saddle.png)

## 4. Multimodal (Rastrigin, 4-D; global minimum 0 at the origin)

{table(("method", "best final value", "median final value", "budget"), ga_rows)}

## 5. Training ({description})

{table(("method", "final loss", "training accuracy", "loss evaluations", "wall time"),
       train_rows)}

![GA vs gradient methods](solvers_ga.png)
"""
    with open(out("solvers_results.md"), "w") as fh:
        fh.write(report)
    print(report)


if __name__ == "__main__":
    main()
