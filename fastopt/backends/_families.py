"""The update-rule kernel families: one module of each name in every backend."""

#: The update rules whose kernels (``<rule>``, ``<rule>_sparse``) every backend has, in a
#: module of the same name.
ALGORITHMS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamax", "nadam", "radam", "lion",
              "rprop", "asgd", "sparse_adam", "ftrl", "proximal_adagrad", "lamb")

#: Update rules whose kernel ``<rule>`` (same module name in every backend, no sparse
#: kernel) is a whole step on an n-D array, reductions included: Adafactor's row and
#: column statistics and norms, summed in the order its reference defines.
WHOLE_ARRAY_RULES = ("adafactor",)
