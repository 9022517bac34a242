"""A small neural network trained with the whole toolkit, on scikit-learn's digits.

The model is ``softmax(W2 · dropout(relu(batchnorm(X W1))) + b2)`` (64 -> 128 -> 10; no
bias before batch normalization, whose beta plays that part),
written with NumPy and fastopt's layers (:class:`fastopt.BatchNorm`,
:class:`fastopt.Dropout`).  What it shows:

* the backward pass is verified first with :func:`fastopt.check_gradient`
  (central differences, float64, dropout switched off);
* training with :func:`fastopt.fit`: Adam, a cosine schedule with warm-up,
  decoupled weight decay, early stopping that restores the best weights, and
  mini-batches -- either reshuffled every epoch (:class:`fastopt.BatchSampler`) or
  in a "mixed" curriculum (:class:`fastopt.CurriculumSampler`) whose difficulty is
  a sample's distance to its class mean (half of each batch is drawn at random, so
  an epoch of the curriculum -- one pass over its order -- takes twice as many steps);
* ``mlp_training.png``: training and validation loss and the learning rate against
  epochs, for both orderings.

Run ``python examples/mlp_toolkit.py`` (about half a minute) or with ``--quick``.
Needs scikit-learn (``--dataset synthetic`` runs without it).
"""
import argparse
import os
import sys

import numpy as np

import fastopt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from logistic_regression import load  # noqa: E402


class MLP:
    """Linear -> BatchNorm -> ReLU -> Dropout -> Linear -> softmax cross-entropy."""

    def __init__(self, n_in, n_hidden, n_out, dropout, seed):
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / n_in)
        self.W2 = rng.standard_normal((n_hidden, n_out)) * np.sqrt(1.0 / n_hidden)
        self.b2 = np.zeros(n_out)
        self.bn = fastopt.BatchNorm(n_hidden)
        self.drop = fastopt.Dropout(dropout, seed=rng)

    def parameters(self):
        return [self.W1, self.W2, self.b2] + self.bn.parameters()

    def loss_and_grads(self, X, y, training=True):
        """Mean cross-entropy and the gradients of :meth:`parameters`, in order."""
        h = self.bn.forward(X @ self.W1, training=training)
        r = np.maximum(h, 0.0)
        d = self.drop.forward(r, training=training)
        z = d @ self.W2 + self.b2
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = float(-log_p[np.arange(len(y)), y].mean())
        if not training:
            return loss, None
        dz = np.exp(log_p)
        dz[np.arange(len(y)), y] -= 1.0
        dz /= len(y)
        grad_W2, grad_b2 = d.T @ dz, dz.sum(axis=0)
        dd = dz @ self.W2.T
        dr = self.drop.backward(dd)
        dh = dr * (h > 0)
        da1 = self.bn.backward(dh)
        return loss, [X.T @ da1, grad_W2, grad_b2, self.bn.grad_weight.copy(),
                      self.bn.grad_bias.copy()]

    def accuracy(self, X, y):
        h = np.maximum(self.bn.forward(X @ self.W1, training=False), 0.0)
        return float(((h @ self.W2 + self.b2).argmax(axis=1) == y).mean())


def gradient_check(X, y, k):
    model = MLP(X.shape[1], 16, k, dropout=0.0, seed=1)
    batch = slice(0, 20)
    loss, grads = model.loss_and_grads(X[batch], y[batch])
    result = fastopt.check_gradient(lambda: model.loss_and_grads(X[batch], y[batch])[0],
                                    model.parameters(), grads, max_elements=40, seed=0)
    print("gradient check of the backward pass (relative error per parameter):")
    print(result)
    if not result.ok:
        raise SystemExit("the analytic gradient does not match central differences")


def train(data, k, curriculum, epochs, quick):
    X_train, y_train, X_val, y_val, X_test, y_test = data
    model = MLP(X_train.shape[1], 32 if quick else 128, k, dropout=0.2, seed=0)
    opt = fastopt.Adam(model.parameters(), lr=3e-3)
    if curriculum:
        centers = np.array([X_train[y_train == c].mean(0) for c in range(k)])
        difficulty = np.linalg.norm(X_train - centers[y_train], axis=1)
        sampler = fastopt.CurriculumSampler(difficulty, 32, strategy="mixed",
                                            random_fraction=0.5, seed=0)
    else:
        sampler = fastopt.BatchSampler(len(X_train), 32, seed=0)

    def objective(batch):
        return model.loss_and_grads(X_train[batch], y_train[batch])

    history = fastopt.fit(
        objective, opt, sampler, epochs=epochs,
        schedule=fastopt.CosineAnnealing(opt, total_steps=epochs, warmup_steps=min(3, epochs - 1)),
        regularizers=[fastopt.DecoupledWeightDecay(opt, 1e-2, params=[model.W1, model.W2])],
        early_stopping=fastopt.EarlyStopping(patience=8, params=opt),
        validation=lambda: model.loss_and_grads(X_val, y_val, training=False)[0],
        progress=not quick, desc="curriculum" if curriculum else "shuffled")
    accuracy = model.accuracy(X_test, y_test)
    return history, accuracy


def plot(runs, path, quick=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=30 if quick else 80)
    for (name, (history, accuracy)), color in zip(runs.items(), ["tab:blue", "tab:orange"]):
        label = f"{name} (test accuracy {100 * accuracy:.1f}%, best epoch {history.best_epoch})"
        ax.plot(history["epoch"], history["loss"], "-", color=color, label=f"train, {label}")
        ax.plot(history["epoch"], history["val"], "--", color=color, label="validation")
        ax.axvline(history.best_epoch, color=color, lw=0.8, alpha=0.5)
        ax_lr.plot(history["epoch"], history["lr"], "-", color=color, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel("learning rate (cosine with warm-up)")
    ax_lr.grid(True, alpha=0.3)
    fig.suptitle("MLP with batch norm and dropout on digits: Adam, cosine schedule, "
                 "decoupled weight decay, early stopping")
    if not quick:  # the layout pass is the slow part of a quick run
        fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["digits", "breast_cancer", "synthetic"],
                        default="digits")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 samples, 3 epochs")
    parser.add_argument("--epochs", type=int, default=None, help="default 60 (3 with --quick)")
    parser.add_argument("--output-dir", default=os.path.join(HERE, "output"))
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 60)
    *data, k, description = load(args.dataset, args.quick)
    print(description)
    gradient_check(data[0], data[1], k)
    runs = {name: train(data, k, curriculum, epochs, args.quick)
            for name, curriculum in (("shuffled", False), ("mixed curriculum", True))}
    for name, (history, accuracy) in runs.items():
        print(f"{name:>17}: {history.epochs} epochs (best {history.best_epoch}), "
              f"validation loss {history.best:.4f}, test accuracy {100 * accuracy:.1f}%")
    os.makedirs(args.output_dir, exist_ok=True)
    out = os.path.join(args.output_dir, "mlp_training.png")
    plot(runs, out, args.quick)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
