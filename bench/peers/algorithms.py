"""The benchmarked update rules: hyperparameters, memory traffic, names in each library.

A *bench algorithm* is an optimizer with fixed options.  Each one runs with
torch.optim's default hyperparameters (``lr`` made explicit, since
``torch.optim.SGD`` has none worth relying on), except ``sgd_momentum`` which
adds ``momentum=0.9`` because plain SGD is a trivially different traffic
pattern.  Every implementation in the benchmark (fastopt, the NumPy versions,
torch.optim) receives exactly these hyperparameters.

``reads``/``writes`` count the arrays streamed per element by one step in the
steady state (after the first step), which is what a fused kernel must move and
what the roof kernel in :mod:`bench.suites.roof` moves: e.g. Adam reads param, grad,
exp_avg, exp_avg_sq and writes param, exp_avg, exp_avg_sq.

Two rules need more than one pass, whatever the implementation, because a whole-array
reduction stands between reading an element and writing it; their counts are what the
fewest passes move (fastopt's kernels move more, which their "% of roof" shows):

* **LAMB** (7 reads, 3 writes): the trust ratio needs ``||r||`` of the whole update
  direction before any parameter moves.  Pass 1 reads param, grad, exp_avg, exp_avg_sq
  and writes the two moments (and the norms on the fly); pass 2 reads param and the two
  moments again (recomputing ``r``) and writes param.  (fastopt stores ``r`` as the
  ``update`` state and applies it with SGD's kernel: 8 reads, 4 writes.)
* **Adafactor** (5 reads, 1 write), benchmarked on a matrix (:meth:`Algorithm.shape`),
  where its statistics are factored: the row and column statistics are
  ``rows + cols`` elements, negligible next to the ``rows * cols`` of param and grad, so
  they are not counted.  What is counted: ``RMS(param)`` and the statistics (param and
  grad, one pass), then ``RMS(u)`` of the whole update direction (grad again), then the
  update (param, grad; param written).  fastopt's kernel reads param once more (its RMS
  has a pass of its own): 6 reads, 1 write.
"""
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Algorithm:
    name: str            # bench name, used on the command line and in every output
    cls: str             # class name in fastopt and in torch.optim
    kernel: str          # fastopt kernel module (fastopt.backends.<backend>.<kernel>)
    hyper: dict = field(default_factory=dict)  # keyword arguments, torch names
    reads: int = 0
    writes: int = 0
    label: str = ""
    matrix: bool = False  # benchmarked on a matrix (see shape), not a vector
    multi_pass: bool = False  # a whole-array reduction forces several passes (no roof target)

    @property
    def traffic(self):
        return (self.reads, self.writes)

    def shape(self, n):
        """The parameter's shape for ``n`` elements: ``(n,)``, or for a ``matrix`` rule
        ``(n // c, c)`` with ``c`` the largest power of ten <= sqrt(n) (1e6: 1000 x 1000;
        1.6e7: 16000 x 1000), when it divides ``n``."""
        if self.matrix and n >= 4:
            cols = 10 ** int(math.log10(math.isqrt(n)))
            if n % cols == 0:
                return (n // cols, cols)
        return (n,)

    def bytes_per_element(self, itemsize):
        return (self.reads + self.writes) * itemsize


_ALGORITHMS = [
    Algorithm("sgd", "SGD", "sgd", dict(lr=1e-3), 2, 1, "SGD"),
    Algorithm("sgd_momentum", "SGD", "sgd", dict(lr=1e-3, momentum=0.9), 3, 2, "SGD momentum=0.9"),
    Algorithm("adagrad", "Adagrad", "adagrad",
              dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10), 3, 2, "Adagrad"),
    Algorithm("adadelta", "Adadelta", "adadelta",
              dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0), 4, 3, "Adadelta"),
    Algorithm("rmsprop", "RMSprop", "rmsprop",
              dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                   centered=False), 3, 2, "RMSprop"),
    Algorithm("adam", "Adam", "adam",
              dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0), 4, 3, "Adam"),
    Algorithm("adamw", "AdamW", "adam",
              dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2), 4, 3, "AdamW"),
    Algorithm("adamax", "Adamax", "adamax",
              dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0), 4, 3, "Adamax"),
    Algorithm("nadam", "NAdam", "nadam",
              dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   momentum_decay=4e-3), 4, 3, "NAdam"),
    Algorithm("radam", "RAdam", "radam",
              dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0), 4, 3, "RAdam"),
    Algorithm("lion", "Lion", "lion", dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0), 3, 2,
              "Lion"),
    Algorithm("rprop", "Rprop", "rprop", dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)),
              4, 3, "Rprop"),
    Algorithm("asgd", "ASGD", "asgd", dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6), 3, 2,
              "ASGD"),
    Algorithm("sparse_adam", "SparseAdam", "sparse_adam", dict(lr=1e-3, betas=(0.9, 0.999),
                                                               eps=1e-8), 4, 3, "SparseAdam"),
    Algorithm("ftrl", "Ftrl", "ftrl", dict(lr=1e-3, initial_accumulator_value=0.1, l1=1e-3,
                                           l2=0.0), 4, 3, "FTRL-Proximal"),
    Algorithm("proximal_adagrad", "ProximalAdagrad", "proximal_adagrad",
              dict(lr=1e-2, initial_accumulator_value=0.1, l1=1e-3, l2=0.0), 3, 2,
              "proximal Adagrad"),
    # The paper's eps; no torch.optim.LAMB.  Traffic: two passes (see the module docstring).
    # lr 1e-5: LAMB's step is lr * ||p|| long, so under a fixed gradient ||p|| grows by up
    # to (1 + lr) a step; at 1e-3 float32 overflowed after ~50,000 steps (a small case
    # takes more than that), at 1e-5 it grows less than 3x in 100,000 steps.
    Algorithm("lamb", "LAMB", "lamb", dict(lr=1e-5, betas=(0.9, 0.999), eps=1e-6,
                                           weight_decay=0.0), 7, 3, "LAMB",
              multi_pass=True),
    # lr 1e-5 for the same reason as LAMB's (the step is relative to the parameters' RMS):
    # at 1e-2 float32 overflowed after fewer than 20,000 steps.
    Algorithm("adafactor", "Adafactor", "adafactor",
              dict(lr=1e-5, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0), 5, 1,
              "Adafactor", matrix=True, multi_pass=True),
]

ALGORITHMS = {a.name: a for a in _ALGORITHMS}
NAMES = tuple(ALGORITHMS)


def get(name):
    return ALGORITHMS[name]


def traffic_patterns(names):
    """The distinct (reads, writes) patterns of the given bench algorithms, sorted."""
    return sorted({ALGORITHMS[n].traffic for n in names})
