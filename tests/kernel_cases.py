"""Random inputs for direct kernel calls: the table of algorithms and option flags.

``make_case(algorithm, options, n, dtype, rng)`` returns ``(arrays, scalars)`` such
that ``kernel(*arrays, *scalars, n_threads)`` is a valid call under the kernel
contract of :mod:`fastopt.backends`.  Hyperparameters are drawn at random and
rounded to ``dtype``, as the optimizers do.  ``make_special_case`` adds NaN, +-inf,
+-0, subnormals and near-overflow values to the arrays.
"""
import itertools
import zlib

import numpy as np

# Boolean options of each kernel: the grid runs over all their combinations.
OPTIONS = {
    "sgd": ("momentum", "dampening", "nesterov", "weight_decay", "maximize", "first_step"),
    "adagrad": ("weight_decay", "maximize"),
    "adadelta": ("weight_decay", "maximize"),
    "rmsprop": ("centered", "momentum", "weight_decay", "maximize"),
    "adam": ("amsgrad", "weight_decay", "decoupled", "maximize"),
    "adamax": ("weight_decay", "maximize"),
    "nadam": ("weight_decay", "decoupled", "maximize"),
    "radam": ("weight_decay", "decoupled", "rectify", "maximize"),
    "lion": ("weight_decay", "maximize"),
    "rprop": ("maximize",),
    "asgd": ("weight_decay", "average", "maximize"),
    "sparse_adam": ("maximize",),
    "ftrl": ("l1", "l2", "shrinkage", "general_power", "maximize"),
    "proximal_adagrad": ("l1", "l2", "maximize"),
    "lamb": ("weight_decay", "maximize"),
}


def option_grid(algorithm):
    names = OPTIONS[algorithm]
    for values in itertools.product((False, True), repeat=len(names)):
        options = dict(zip(names, values))
        if algorithm == "sgd" and options["nesterov"] and (
                not options["momentum"] or options["dampening"]):
            continue
        yield options


def _round(dtype, x):
    return float(np.dtype(dtype).type(x))


def make_case(algorithm, options, n, dtype, rng):
    r = lambda x: _round(dtype, x)  # noqa: E731
    empty = np.empty(0, dtype)
    param = rng.standard_normal(n).astype(dtype)
    grad = rng.standard_normal(n).astype(dtype)
    pos = lambda scale=1.0: (scale * rng.random(n) + 1e-3).astype(dtype)  # noqa: E731
    normal = lambda: (0.1 * rng.standard_normal(n)).astype(dtype)  # noqa: E731
    o = options
    wd = r(rng.uniform(1e-3, 0.1)) if o.get("weight_decay") else 0.0
    maximize = bool(o.get("maximize"))
    if algorithm == "sgd":
        momentum = r(rng.uniform(0.5, 0.99)) if o["momentum"] else 0.0
        buf = normal() if o["momentum"] else empty
        omd = r(1.0 - rng.uniform(0.1, 0.9)) if o["dampening"] else 1.0
        return [param, grad, buf], (r(rng.uniform(1e-3, 0.1)), wd, momentum, omd,
                                    bool(o["nesterov"]), maximize, bool(o["first_step"]))
    if algorithm == "adagrad":
        return [param, grad, pos()], (r(rng.uniform(1e-3, 0.1)), wd, r(1e-10), maximize)
    if algorithm == "adadelta":
        rho = rng.uniform(0.8, 0.99)
        return [param, grad, pos(), pos(0.01)], (r(rng.uniform(0.1, 1.0)), r(rho), r(1 - rho),
                                                 r(1e-6), wd, maximize)
    if algorithm == "rmsprop":
        alpha = rng.uniform(0.9, 0.999)
        square_avg = pos()
        grad_avg = (0.1 * rng.standard_normal(n)).astype(dtype) if o["centered"] else empty
        if o["centered"]:  # keep v - g_avg^2 positive, as it is in a real run
            square_avg += grad_avg * grad_avg
        momentum = r(rng.uniform(0.5, 0.99)) if o["momentum"] else 0.0
        buf = normal() if o["momentum"] else empty
        return [param, grad, square_avg, grad_avg, buf], (
            r(rng.uniform(1e-3, 0.1)), r(alpha), r(1 - alpha), r(1e-8), wd, momentum,
            bool(o["centered"]), maximize)
    if algorithm == "adam":
        b1, b2, t = rng.uniform(0.8, 0.95), rng.uniform(0.99, 0.9999), int(rng.integers(1, 100))
        lr = rng.uniform(1e-4, 1e-2)
        decay = r(1 - lr * 0.01) if o["decoupled"] else 1.0
        max_sq = pos(0.01) if o["amsgrad"] else empty
        return [param, grad, normal(), pos(0.01), max_sq], (
            r(b1), r(1 - b1), r(b2), r(1 - b2), r(lr / (1 - b1 ** t)), r(np.sqrt(1 - b2 ** t)),
            r(1e-8), wd, decay, bool(o["amsgrad"]), maximize)
    if algorithm == "adamax":
        b1, b2, t = rng.uniform(0.8, 0.95), rng.uniform(0.99, 0.9999), int(rng.integers(1, 100))
        return [param, grad, normal(), pos()], (
            r(b1), r(1 - b1), r(b2), r(2e-3 / (1 - b1 ** t)), r(1e-8), wd, maximize)
    if algorithm == "nadam":
        b1, b2, t = rng.uniform(0.8, 0.95), rng.uniform(0.99, 0.9999), int(rng.integers(1, 100))
        lr = rng.uniform(1e-4, 1e-2)
        decay = r(1 - lr * 0.01) if o["decoupled"] else 1.0
        return [param, grad, normal(), pos(0.01)], (
            r(b1), r(1 - b1), r(b2), r(1 - b2), r(1 - b2 ** t), r(1e-8),
            r(lr * 0.1), r(lr * 0.85), wd, decay, maximize)
    if algorithm == "radam":
        b1, b2, t = rng.uniform(0.8, 0.95), rng.uniform(0.99, 0.9999), int(rng.integers(1, 100))
        lr = rng.uniform(1e-4, 1e-2)
        decay = r(1 - lr * 0.01) if o["decoupled"] else 1.0
        return [param, grad, normal(), pos(0.01)], (
            r(b1), r(1 - b1), r(b2), r(1 - b2), r(lr * rng.uniform(0.5, 2.0)), r(1e-8), wd,
            decay, bool(o["rectify"]), maximize)
    if algorithm == "lion":
        b1, b2, lr = rng.uniform(0.8, 0.95), rng.uniform(0.95, 0.999), rng.uniform(1e-4, 1e-2)
        decay = r(1 - lr * rng.uniform(0.01, 1.0)) if o["weight_decay"] else 1.0
        m = normal()
        m[::5] = 0.0  # sign(c) of an exact zero, with g = 0 below
        grad[::5] = 0.0
        return [param, grad, m], (r(lr), r(b1), r(1 - b1), r(b2), r(1 - b2), decay, maximize)
    if algorithm == "rprop":
        # prev: the same sign as grad, the opposite sign, or zero (the three branches);
        # step sizes around the clamp bounds.
        prev = rng.standard_normal(n).astype(dtype)
        prev[::3] = 0.0
        steps = (10.0 ** rng.uniform(-7, 2, n)).astype(dtype)
        return [param, grad, prev, steps], (r(rng.uniform(0.3, 0.7)), r(rng.uniform(1.1, 1.5)),
                                            r(1e-6), r(50.0), maximize)
    if algorithm == "asgd":
        eta, lambd = rng.uniform(1e-3, 0.1), rng.uniform(1e-5, 1e-2)
        mu = r(1.0 / rng.integers(2, 100)) if o["average"] else 1.0
        return [param, grad, rng.standard_normal(n).astype(dtype)], (
            r(eta), wd, r(1 - lambd * eta), mu, maximize, bool(o["average"]))
    if algorithm == "sparse_adam":
        b1, b2, t = rng.uniform(0.8, 0.95), rng.uniform(0.99, 0.9999), int(rng.integers(1, 100))
        lr = rng.uniform(1e-4, 1e-2)
        return [param, grad, normal(), pos(0.01)], (
            r(1 - b1), r(1 - b2), r(lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)), r(1e-8), maximize)
    if algorithm == "ftrl":
        lr = rng.uniform(1e-3, 0.5)
        # |linear| on both sides of l1 (the sparsity threshold)
        l1 = r(rng.uniform(0.1, 1.0)) if o["l1"] else 0.0
        linear = (2.0 * rng.standard_normal(n)).astype(dtype)
        # lr_power: -0.5 takes sqrt; 0 (constant rate), -1 and a random one take pow
        lr_power = (r([0.0, -1.0, -0.25, -rng.uniform(0.0, 2.0)][rng.integers(4)])
                    if o["general_power"] else -0.5)
        return [param, grad, pos() + dtype(0.1), linear], (
            r(lr), l1, r(rng.uniform(0.01, 1.0)) if o["l2"] else 0.0,
            r(rng.uniform(0.01, 0.5)) if o["shrinkage"] else 0.0, lr_power, maximize)
    if algorithm == "proximal_adagrad":
        l1 = r(rng.uniform(0.1, 5.0)) if o["l1"] else 0.0
        return [param, grad, pos() + dtype(0.1)], (
            r(rng.uniform(1e-3, 0.5)), l1, r(rng.uniform(0.01, 1.0)) if o["l2"] else 0.0, maximize)
    if algorithm == "lamb":
        b1, b2, t = rng.uniform(0.8, 0.95), rng.uniform(0.99, 0.9999), int(rng.integers(1, 100))
        return [param, grad, normal(), pos(0.01), normal()], (
            r(b1), r(1 - b1), r(b2), r(1 - b2), r(1 - b1 ** t), r(1 - b2 ** t), r(1e-6), wd,
            maximize)
    raise KeyError(algorithm)


#: Adafactor's kernel (a whole step on an n-D array, see ``make_adafactor_case``): its options.
ADAFACTOR_OPTIONS = ("weight_decay", "maximize", "eps2_floor")


def adafactor_option_grid():
    for values in itertools.product((False, True), repeat=len(ADAFACTOR_OPTIONS)):
        yield dict(zip(ADAFACTOR_OPTIONS, values))


def make_adafactor_case(options, shape, dtype, rng):
    """``(arrays, scalars)`` of a valid Adafactor kernel call on a parameter of ``shape``.

    Statistics around the mean square of the gradient in half of the calls (RMS(u) near 1:
    clipped or not, depending on d), 50 times smaller in the other half (RMS(u) > d: the
    update is clipped, so RMS(u) -- a whole-array sum -- reaches the parameter);
    ``eps2_floor``: a parameter so small that eps2 is the relative step size's floor.
    """
    dtype = np.dtype(dtype).type
    factored = len(shape) > 1
    scale = 1e-6 if options.get("eps2_floor") else 1.0
    param = np.array(scale * rng.standard_normal(shape), dtype)  # (0-d arrays stay arrays)
    grad = np.array(rng.standard_normal(shape), dtype)
    empty = np.empty(0, dtype)
    level = 1.0 if rng.random() < 0.5 else 0.02
    positive = lambda s: np.array(level * rng.uniform(0.3, 1.7, s), dtype)  # noqa: E731
    row_var = positive(shape[:-1] + (1,)) if factored else empty
    col_var = positive(shape[:-2] + (1, shape[-1])) if factored else empty
    variance = empty if factored else positive(shape)
    t = int(rng.integers(1, 50))
    lr = rng.uniform(1e-3, 0.1)
    decay = 1.0 - lr * rng.uniform(0.01, 0.5) if options.get("weight_decay") else 1.0
    eps1 = float(np.finfo(dtype).eps) if rng.random() < 0.5 else 1e-30
    return [param, grad, row_var, col_var, variance], (
        float(t) ** rng.uniform(-1.0, -0.5), min(lr, 1.0 / t ** 0.5), eps1, 1e-3,
        float(rng.choice([1.0, 1.5])), decay, bool(options.get("maximize")))


def special_values(dtype):
    """IEEE special and extreme values of ``dtype``: NaN, +-inf, +-0, subnormals, the
    smallest normal, values near the largest finite one and one whose square overflows."""
    f = np.finfo(dtype)
    return np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, f.smallest_subnormal,
                     -f.smallest_subnormal, f.smallest_normal / 3, -f.smallest_normal,
                     f.max, -f.max, f.max / 3, np.sqrt(f.max) * 4], dtype)


def sprinkle(a, rng, fraction=0.3):
    """Overwrite about ``fraction`` of the elements of ``a`` (in place) with special values.

    Positions are drawn independently for every array, so an element often holds a
    special value in one array (say the state) and an ordinary one in the others: that
    is what exercises each clause (a NaN running maximum next to a finite new value).
    """
    flat = a.reshape(-1)
    if flat.size:
        where = rng.random(flat.size) < fraction
        flat[where] = rng.choice(special_values(a.dtype), int(where.sum()))
    return a


def make_special_case(algorithm, options, n, dtype, rng):
    """``make_case`` with special values sprinkled into the parameter, the gradient and
    every state array (hyperparameters stay ordinary)."""
    arrays, scalars = make_case(algorithm, options, n, dtype, rng)
    for a in arrays:
        sprinkle(a, rng)
    return arrays, scalars


def stable_seed(*parts):
    """A seed from a test's identity that is the same in every process (``hash()`` of a
    string is randomized per process, see PYTHONHASHSEED)."""
    return zlib.crc32(repr(parts).encode())
