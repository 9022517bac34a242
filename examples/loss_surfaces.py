"""Optimizer paths on loss surfaces: a long curved valley and a saddle point.

The classic picture: every fastopt optimizer starts from the same point of a 2-D
loss surface and follows its exact gradient; the paths are drawn over the
contour lines with matplotlib.

* **Rosenbrock** :math:`f(x, y) = (1 - x)^2 + 100\\,(y - x^2)^2`: a long, narrow,
  curved valley with its minimum at (1, 1); start (-1.5, 2).  Plain SGD needs a
  small rate to stay stable across the valley and then crawls along its floor;
  momentum and the adaptive rules travel along it.
* **Saddle** :math:`f(x, y) = x^2 - y^2`: start (1.4, 0.001), next to the ridge.
  The gradient along :math:`y` is tiny there, so SGD lingers near the saddle point
  before it escapes; rules that rescale each coordinate (Adagrad, RMSprop, Adam...)
  leave at once.  Paths stop when they leave the plotted square.

Each optimizer uses one learning rate per surface (below), chosen by hand for a
readable picture, not tuned for speed.  AdamW's decoupled weight decay (0.01) pulls
towards the origin, so it settles a little off the minimum of :math:`f`.  Outputs (``--output-dir``, default
``examples/output``): ``optimizer_paths_rosenbrock.png``,
``optimizer_paths_saddle.png``, and ``optimizer_paths_results.md`` (final loss and
distance to the minimum on Rosenbrock; steps to escape the saddle).  Run
``python examples/loss_surfaces.py`` (a few seconds) or with ``--quick``.
"""
import argparse
import os

import numpy as np

import fastopt

HERE = os.path.dirname(os.path.abspath(__file__))

#: name -> (constructor, lr on Rosenbrock, lr on the saddle)
OPTIMIZERS = {
    "SGD": (lambda p, lr: fastopt.SGD(p, lr=lr), 1e-3, 0.01),
    "SGD + momentum": (lambda p, lr: fastopt.SGD(p, lr=lr, momentum=0.9), 2e-4, 0.002),
    "SGD + Nesterov": (lambda p, lr: fastopt.SGD(p, lr=lr, momentum=0.9, nesterov=True),
                       2e-4, 0.002),
    "Adagrad": (lambda p, lr: fastopt.Adagrad(p, lr=lr), 0.5, 0.2),
    "Adadelta": (lambda p, lr: fastopt.Adadelta(p, lr=lr), 0.1, 10.0),
    "RMSprop": (lambda p, lr: fastopt.RMSprop(p, lr=lr), 3e-3, 0.01),
    "Adam": (lambda p, lr: fastopt.Adam(p, lr=lr), 0.02, 0.05),
    "AMSGrad": (lambda p, lr: fastopt.Adam(p, lr=lr, amsgrad=True), 0.02, 0.05),
    "AdamW": (lambda p, lr: fastopt.AdamW(p, lr=lr, weight_decay=1e-2), 0.02, 0.05),
    "Adamax": (lambda p, lr: fastopt.Adamax(p, lr=lr), 0.05, 0.05),
    "NAdam": (lambda p, lr: fastopt.NAdam(p, lr=lr), 0.01, 0.05),
}


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_grad(x, y):
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def saddle(x, y):
    return x * x - y * y


def saddle_grad(x, y):
    return np.array([2 * x, -2 * y])


SURFACES = {
    "rosenbrock": dict(f=rosenbrock, grad=rosenbrock_grad, start=(-1.5, 2.0), lr_index=1,
                       box=(-2.0, 2.0, -1.0, 3.0), steps=3000, minimum=(1.0, 1.0),
                       title="Rosenbrock valley  $(1-x)^2 + 100(y-x^2)^2$"),
    "saddle": dict(f=saddle, grad=saddle_grad, start=(1.4, 1e-3), lr_index=2,
                   box=(-1.5, 1.5, -1.5, 1.5), steps=400, minimum=None,
                   title="Saddle point  $x^2 - y^2$"),
}


def path(name, surface, steps):
    """The iterates of optimizer ``name`` on ``surface`` (stops outside the box)."""
    entry = OPTIMIZERS[name]
    theta = np.array(surface["start"], dtype=np.float64)
    opt = entry[0](theta, entry[surface["lr_index"]])
    x0, x1, y0, y1 = surface["box"]
    points = [theta.copy()]
    for _ in range(steps):
        opt.step(surface["grad"](*theta))
        points.append(theta.copy())
        if not (x0 <= theta[0] <= x1 and y0 <= theta[1] <= y1) or not np.all(np.isfinite(theta)):
            break
    return np.array(points)


def plot(surface_name, paths, steps, out, quick=False):
    """One panel per optimizer (its path over the contours), plus all paths together."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = SURFACES[surface_name]
    x0, x1, y0, y1 = s["box"]
    grid = 60 if quick else 200
    xs, ys = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
    zs = s["f"](xs, ys)
    levels = np.log10(zs + 1e-3) if surface_name == "rosenbrock" else zs
    colors = [plt.cm.tab10(i) for i in range(10)]
    fig, axes = plt.subplots(3, 4, figsize=(15, 11), dpi=20 if quick else 56,
                             sharex=True, sharey=True)
    axes = axes.ravel()
    panels = [("all optimizers", None)] + list(paths.items())
    for k, (ax, (name, points)) in enumerate(zip(axes, panels)):
        ax.contour(xs, ys, levels, levels=16, colors="0.75", linewidths=0.5)
        shown = paths.items() if points is None else [(name, points)]
        for i, (label, pts) in enumerate(shown):
            color = colors[(list(paths).index(label)) % 10]
            ax.plot(pts[:, 0], pts[:, 1], "-", color=color, lw=1.5 if points is None else 1.8,
                    label=label if points is None else None)
            ax.plot(pts[-1, 0], pts[-1, 1], "o", color=color, ms=4)
        ax.plot(*s["start"], "k^", ms=7)
        if s["minimum"] is not None:
            ax.plot(*s["minimum"], "k*", ms=10)
        if points is None:
            ax.set_title("all optimizers", fontsize=11)
            ax.legend(fontsize=6.5, loc="lower right" if surface_name == "rosenbrock"
                      else "lower left", ncol=2)
        else:
            lr = OPTIMIZERS[name][s["lr_index"]]
            if surface_name == "rosenbrock":
                detail = f"f = {s['f'](*points[-1]):.1e} after {len(points) - 1} steps"
            elif len(points) - 1 < steps:
                detail = f"leaves the square after {len(points) - 1} steps"
            else:
                detail = f"still inside after {steps} steps"
            ax.set_title(f"{name} (lr={lr:g})\n{detail}", fontsize=10)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    for ax in axes[len(panels):]:
        ax.axis("off")
    fig.suptitle(s["title"] + f": start {s['start']}", fontsize=14)
    if not quick:  # the layout pass is the slow part of a quick run
        fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def results(paths_by_surface, steps):
    lines = ["| optimizer | lr (Rosenbrock) | f after "
             f"{steps['rosenbrock']} steps | distance to (1, 1) | lr (saddle) | "
             "steps to escape the saddle (leave the square) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in OPTIMIZERS:
        r = paths_by_surface["rosenbrock"][name][-1]
        s = paths_by_surface["saddle"][name]
        escaped = len(s) - 1 if len(s) - 1 < steps["saddle"] else f"> {steps['saddle']}"
        lines.append(f"| {name} | {OPTIMIZERS[name][1]:g} | {rosenbrock(*r):.2e} | "
                     f"{np.hypot(r[0] - 1, r[1] - 1):.3f} | {OPTIMIZERS[name][2]:g} | {escaped} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 steps per path")
    parser.add_argument("--output-dir", default=os.path.join(HERE, "output"))
    args = parser.parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    paths_by_surface, steps = {}, {}
    for surface_name, surface in SURFACES.items():
        steps[surface_name] = 50 if args.quick else surface["steps"]
        paths = {name: path(name, surface, steps[surface_name]) for name in OPTIMIZERS}
        paths_by_surface[surface_name] = paths
        out = os.path.join(args.output_dir, f"optimizer_paths_{surface_name}.png")
        plot(surface_name, paths, steps[surface_name], out, args.quick)
        print(f"wrote {out}")
    table = results(paths_by_surface, steps)
    with open(os.path.join(args.output_dir, "optimizer_paths_results.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
