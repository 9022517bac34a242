"""The table of optimizers and option combinations that drives the equivalence tests.

Every optimizer appears with every combination of its options (the values below
are the grid); each case lists the backends that must reproduce the reference
and, where a backend cannot be bitwise, the ULP bound it is allowed and why
(no such case today: every kernel is elementwise in one dtype, so every backend
is exact).
"""
import itertools

import fastopt

GRIDS = {
    fastopt.SGD: dict(lr=[0.01], momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                      weight_decay=[0.0, 1e-2], maximize=[False, True]),
    fastopt.Adagrad: dict(lr=[0.05], lr_decay=[0.0, 0.01], weight_decay=[0.0, 1e-2],
                          initial_accumulator_value=[0.0, 0.1], maximize=[False, True],
                          rowwise=[False, True]),
    fastopt.Adadelta: dict(rho=[0.9, 0.5], weight_decay=[0.0, 1e-2], maximize=[False, True]),
    fastopt.RMSprop: dict(centered=[False, True], momentum=[0.0, 0.9], weight_decay=[0.0, 1e-2],
                          maximize=[False, True]),
    fastopt.Adam: dict(lr=[0.01], amsgrad=[False, True], weight_decay=[0.0, 1e-2],
                       decoupled_weight_decay=[False, True], maximize=[False, True]),
    fastopt.AdamW: dict(amsgrad=[False, True], weight_decay=[0.0, 0.1]),
    fastopt.Adamax: dict(betas=[(0.9, 0.999), (0.5, 0.9)], weight_decay=[0.0, 1e-2],
                         maximize=[False, True]),
    fastopt.NAdam: dict(weight_decay=[0.0, 1e-2], decoupled_weight_decay=[False, True],
                        momentum_decay=[4e-3, 0.1], maximize=[False, True]),
    # betas[1]=0.9: rho_t > 5 from step 6 on, so both branches run in 40 steps.
    fastopt.RAdam: dict(lr=[0.01], betas=[(0.9, 0.999), (0.8, 0.9)], weight_decay=[0.0, 1e-2],
                        decoupled_weight_decay=[False, True], maximize=[False, True]),
    fastopt.Lion: dict(lr=[1e-3], betas=[(0.9, 0.99), (0.5, 0.9)], weight_decay=[0.0, 0.5],
                       maximize=[False, True]),
    # lr=0.02 with step_sizes (1e-3, 0.05): both clamps bind within the run.
    fastopt.Rprop: dict(lr=[0.02], etas=[(0.5, 1.2), (0.3, 2.0)],
                        step_sizes=[(1e-6, 50.0), (1e-3, 0.05)], maximize=[False, True]),
    # t0=10: averaging starts within the run.
    fastopt.ASGD: dict(lr=[0.01], lambd=[0.1], alpha=[0.75], t0=[1e6, 10.0],
                       weight_decay=[0.0, 1e-2], maximize=[False, True]),
    fastopt.SparseAdam: dict(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], eps=[1e-8],
                             maximize=[False, True], per_row_step=[False, True]),
    # l1=0.3: |linear| crosses it, so some elements are exactly zero and others not.
    # (beta only changes a scalar: tested against TensorFlow's equations in test_rule_oracles)
    # lr_power=-0.25: the pow path (-0.5 takes sqrt), in 2 of the combinations (see valid:
    # the reference's pow is C's, element by element, slow on the large shapes; the kernel
    # tables run every combination); 0 and -1 in test_exact's EXTRA_CASES.
    fastopt.Ftrl: dict(lr=[0.1], l1=[0.0, 0.3], l2=[0.0, 0.1], l2_shrinkage=[0.0, 0.05],
                       beta=[0.5], lr_power=[-0.5, -0.25], maximize=[False, True]),
    fastopt.LAMB: dict(lr=[0.01], weight_decay=[0.0, 0.01], maximize=[False, True]),
    fastopt.ProximalAdagrad: dict(lr=[0.1], l1=[0.0, 0.05], l2=[0.0, 0.1],
                                  maximize=[False, True]),
}

#: Rules whose kernel is a whole step on an n-D array (reductions over rows, columns and
#: the whole array): the same equivalence tests, on shapes of every rank (``SHAPED``),
#: outside ``GRIDS`` because they take no sparse gradient nor float16 parameters.
SHAPED_GRIDS = {
    # eps=(1e-30, ...): the other floor of V (the kernel tables vary d too).
    fastopt.Adafactor: dict(lr=[0.05], weight_decay=[0.0, 0.1], maximize=[False, True],
                            eps=[(None, 1e-3), (1e-30, 1e-3)]),
}

#: Allowed ULP differences per (optimizer, backend); absent means bitwise.
ULP_BOUNDS = {}


def valid(cls, kwargs):
    if cls is fastopt.SGD and kwargs["nesterov"]:
        return kwargs["momentum"] > 0 and kwargs["dampening"] == 0
    if cls is fastopt.Ftrl and kwargs["lr_power"] != -0.5:  # every option off, or all on
        return (kwargs["l1"] > 0) == (kwargs["l2"] > 0) == (kwargs["l2_shrinkage"] > 0) \
            == kwargs["maximize"]
    return True


def cases(grids=GRIDS):
    for cls, grid in grids.items():
        names = list(grid)
        for values in itertools.product(*(grid[n] for n in names)):
            kwargs = dict(zip(names, values))
            if valid(cls, kwargs):
                yield cls, kwargs


def case_id(cls, kwargs):
    return cls.__name__ + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
