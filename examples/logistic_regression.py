"""Logistic regression on a real dataset, trained with every fastopt optimizer.

Multinomial logistic regression (softmax) on scikit-learn's bundled handwritten
digits (1797 images of 8x8 pixels, 10 classes; shipped with the package, no
download), or its breast-cancer data (binary).  The data is standardized and
split 60/20/20 into train, validation and test sets with a seeded permutation.

Every optimizer trains with :func:`fastopt.fit` on mini-batches of 32
(:class:`fastopt.BatchSampler`, reshuffled every epoch, seeded) for the same
number of epochs, at each learning rate of a small grid; the rate with the lowest
final validation loss is kept.  Outputs (in ``--output-dir``, default
``examples/output``):

* ``logistic_regression_loss.png`` -- training loss against epochs, every optimizer
  at its best rate;
* ``logistic_regression_results.md`` -- the "which optimizer" table: best rate,
  final training and validation loss, test accuracy, epochs to reach a target
  training loss, time per epoch.

Run ``python examples/logistic_regression.py`` (about a minute), or with ``--quick``
for the seconds-long smoke run the tests use.  Needs scikit-learn for the real data
(``pip install -e ".[examples]"``); ``--dataset synthetic`` runs without it.
"""
import argparse
import os
import time

import numpy as np

import fastopt

HERE = os.path.dirname(os.path.abspath(__file__))

#: name -> (constructor, learning-rate grid: six rates, steps of about 3x)
OPTIMIZERS = {
    "SGD": (lambda p, lr: fastopt.SGD(p, lr=lr), [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]),
    "SGD + momentum": (lambda p, lr: fastopt.SGD(p, lr=lr, momentum=0.9),
                       [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]),
    "SGD + Nesterov": (lambda p, lr: fastopt.SGD(p, lr=lr, momentum=0.9, nesterov=True),
                       [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]),
    "Adagrad": (lambda p, lr: fastopt.Adagrad(p, lr=lr), [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]),
    "Adadelta": (lambda p, lr: fastopt.Adadelta(p, lr=lr), [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]),
    "RMSprop": (lambda p, lr: fastopt.RMSprop(p, lr=lr), [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]),
    "Adam": (lambda p, lr: fastopt.Adam(p, lr=lr), [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]),
    "AMSGrad": (lambda p, lr: fastopt.Adam(p, lr=lr, amsgrad=True),
                [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]),
    "AdamW": (lambda p, lr: fastopt.AdamW(p, lr=lr), [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]),
    "Adamax": (lambda p, lr: fastopt.Adamax(p, lr=lr), [2e-3, 6e-3, 2e-2, 6e-2, 0.2, 0.6]),
    "NAdam": (lambda p, lr: fastopt.NAdam(p, lr=lr), [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]),
}


def load(dataset, quick, seed=0):
    """``(X_train, y_train, X_val, y_val, X_test, y_test, n_classes, description)``."""
    if dataset == "synthetic":
        rng = np.random.default_rng(seed)
        n, d, k = 600, 20, 3
        centers = rng.standard_normal((k, d)) * 1.5
        y = rng.integers(0, k, n)
        X = centers[y] + rng.standard_normal((n, d))
        description = f"synthetic: {n} samples, {d} features, {k} classes"
    else:
        try:
            from sklearn import datasets
        except ImportError:
            raise SystemExit("this example needs scikit-learn for its bundled datasets: "
                             "pip install scikit-learn (or pip install -e \".[examples]\"), "
                             "or run it with --dataset synthetic") from None
        loader = {"digits": datasets.load_digits,
                  "breast_cancer": datasets.load_breast_cancer}[dataset]
        X, y = loader(return_X_y=True)
        k = int(y.max()) + 1
        description = f"scikit-learn {dataset}: {X.shape[0]} samples, {X.shape[1]} features, " \
                      f"{k} classes"
    order = np.random.default_rng(seed).permutation(len(X))
    if quick:
        order = order[:300]
        description += f" (--quick: {order.size} of them)"
    X, y = X[order].astype(np.float64), y[order].astype(np.int64)
    n_train, n_val = int(0.6 * len(X)), int(0.2 * len(X))
    mean, std = X[:n_train].mean(0), X[:n_train].std(0) + 1e-8
    X = (X - mean) / std
    parts = (X[:n_train], y[:n_train], X[n_train:n_train + n_val], y[n_train:n_train + n_val],
             X[n_train + n_val:], y[n_train + n_val:])
    return (*parts, k, description)


def softmax_loss(W, b, X, y):
    """Mean cross-entropy of softmax(X W + b), and its gradients."""
    z = X @ W + b
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(len(y)), y].mean()
    delta = np.exp(log_p)
    delta[np.arange(len(y)), y] -= 1.0
    delta /= len(y)
    return float(loss), X.T @ delta, delta.sum(axis=0)


def train(name, lr, data, epochs, backend):
    X_train, y_train, X_val, y_val, X_test, y_test, k = data
    W = np.zeros((X_train.shape[1], k))
    b = np.zeros(k)
    make, _ = OPTIMIZERS[name]
    opt = make([W, b], lr)

    def objective(batch):
        loss, grad_W, grad_b = softmax_loss(W, b, X_train[batch], y_train[batch])
        return loss, [grad_W, grad_b]

    start = time.perf_counter()
    with fastopt.use_backend(backend or fastopt.get_backend()):
        history = fastopt.fit(objective, opt, fastopt.BatchSampler(len(X_train), 32, seed=0),
                              epochs=epochs,
                              validation=lambda: softmax_loss(W, b, X_val, y_val)[0],
                              progress=False)
    elapsed = time.perf_counter() - start
    accuracy = float(((X_test @ W + b).argmax(axis=1) == y_test).mean())
    val = np.array(history["val"])
    best_epoch = int(np.nanargmin(val)) + 1 if np.any(val == val) else len(val)
    return dict(optimizer=name, lr=lr, loss=history["loss"], val_curve=history["val"],
                val=float(np.nanmin(val)) if np.any(val == val) else np.nan, best_epoch=best_epoch,
                final_train=softmax_loss(W, b, X_train, y_train)[0], accuracy=accuracy,
                seconds_per_epoch=elapsed / epochs)


def epochs_to(losses, target):
    for epoch, loss in enumerate(losses, start=1):
        if loss <= target:
            return epoch
    return None


def results_table(best, target, description, epochs):
    lines = [f"Data: {description}; {epochs} epochs of mini-batches of 32; each optimizer at "
             f"the learning rate of its grid with the lowest validation loss (at any epoch).",
             "",
             "| optimizer | best lr | lowest val loss (epoch) | final train loss | "
             f"epochs to train loss ≤ {target:g} | final test accuracy | ms / epoch |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(best, key=lambda r: r["val"]):
        reached = epochs_to(r["loss"], target)
        lines.append(f"| {r['optimizer']} | {r['lr']:g} | {r['val']:.4f} ({r['best_epoch']}) | "
                     f"{r['final_train']:.4f} | {reached if reached else f'> {epochs}'} | "
                     f"{100 * r['accuracy']:.1f}% | {1000 * r['seconds_per_epoch']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(best, path, description, quick=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_val) = plt.subplots(1, 2, figsize=(12, 5), dpi=30 if quick else 90)
    styles = ["-", "--", "-.", ":"]
    colors = [plt.cm.tab10(i) for i in range(10)] + ["black"]
    for i, r in enumerate(sorted(best, key=lambda r: r["val"])):
        epochs = np.arange(1, len(r["loss"]) + 1)
        label = f"{r['optimizer']} (lr={r['lr']:g})"
        style = dict(ls=styles[i % 4], color=colors[i % len(colors)], lw=1.5, label=label)
        ax.plot(epochs, r["loss"], **style)
        ax_val.plot(epochs, r["val_curve"], **style)
    for axis, what in ((ax, "training loss (epoch mean)"), (ax_val, "validation loss")):
        axis.set_yscale("log")
        axis.set_xlabel("epoch")
        axis.set_ylabel(f"{what}, cross-entropy")
        axis.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.suptitle(f"Softmax regression, {description.split(':')[0]}: every optimizer at its best "
                 f"learning rate")
    if not quick:  # the layout pass is the slow part of a quick run
        fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["digits", "breast_cancer", "synthetic"],
                        default="digits")
    parser.add_argument("--epochs", type=int, default=None, help="default 60 (3 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300 samples, 3 epochs, one rate per optimizer")
    parser.add_argument("--backend", choices=["python", "numba", "cython"], default=None)
    parser.add_argument("--output-dir", default=os.path.join(HERE, "output"))
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 60)
    *data, description = load(args.dataset, args.quick)
    os.makedirs(args.output_dir, exist_ok=True)

    best = []
    for name, (_, grid) in OPTIMIZERS.items():
        rates = grid[2:3] if args.quick else grid
        runs = [train(name, lr, data, epochs, args.backend) for lr in rates]
        winner = min(runs, key=lambda r: r["val"] if r["val"] == r["val"] else np.inf)
        best.append(winner)
        print(f"{name:>15}: lr={winner['lr']:<6g} val loss {winner['val']:.4f}  "
              f"test accuracy {100 * winner['accuracy']:.1f}%", flush=True)
    target = 0.1 if args.dataset != "synthetic" else 0.2
    table = results_table(best, target, description, epochs)
    with open(os.path.join(args.output_dir, "logistic_regression_results.md"), "w") as f:
        f.write(table)
    plot(best, os.path.join(args.output_dir, "logistic_regression_loss.png"), description,
         args.quick)
    print()
    print(table)
    print(f"wrote {args.output_dir}/logistic_regression_loss.png and "
          f"logistic_regression_results.md")


if __name__ == "__main__":
    main()
