"""The per-step checks of the optimizers' fast path, in C (``Optimizer._step_planned``).

They read each array's fields through NumPy's C API (a few loads) where Python
attributes build a tuple or a dict per access (``__array_interface__`` alone takes
~1 µs).  The answers are those of the Python checks in ``fastopt.optim.optimizer``
(``_grads_pass``), which run where this module was not built.
"""
cimport numpy as cnp
from cpython.dict cimport PyDict_Check, PyDict_SetItem
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from libc.math cimport expm1, sqrt

import math

cnp.import_array()


cdef inline bint _has_shape(cnp.ndarray a, tuple shape):
    cdef Py_ssize_t k, nd = cnp.PyArray_NDIM(a)
    if nd != len(shape):
        return False
    for k in range(nd):
        if cnp.PyArray_DIM(a, k) != <Py_ssize_t>shape[k]:
            return False
    return True


cdef inline Py_ssize_t _overlap(Py_ssize_t low, Py_ssize_t high, list starts, list ends):
    """The index of the range that ``[low, high)`` meets among the disjoint ranges
    ``[starts[j], ends[j])`` sorted by ``starts``, or -1."""
    cdef Py_ssize_t a = 0, b = len(starts), mid, j
    while a < b:  # the first range starting after low
        mid = (a + b) // 2
        if <Py_ssize_t>starts[mid] <= low:
            a = mid + 1
        else:
            b = mid
    for j in (a - 1, a):  # only these two can meet [low, high)
        if 0 <= j < len(starts) and <Py_ssize_t>starts[j] < high and <Py_ssize_t>ends[j] > low:
            return j
    return -1


def overlap_index(cnp.ndarray a not None, list starts, list ends):
    """The index ``j`` of the range ``[starts[j], ends[j])`` (disjoint, sorted) that the
    memory of ``a`` (C-contiguous) meets, or -1; -1 for an empty ``a``."""
    cdef Py_ssize_t low
    if not cnp.PyArray_SIZE(a):
        return -1
    low = <Py_ssize_t>cnp.PyArray_DATA(a)
    return _overlap(low, low + cnp.PyArray_NBYTES(a), starts, ends)


def grads_pass(tuple params, grads, list last, tuple dtypes, tuple shapes, list starts,
               list ends):
    """Whether every ``grads[i]`` passes the fast path's checks for ``params[i]``.

    ``params[i]`` must still have the dtype object ``dtypes[i]`` and the shape
    ``shapes[i]`` and be writeable; ``grads[i]`` must be a ``numpy.ndarray`` (exactly) of
    that dtype object and shape, C-contiguous, aligned and, unless it is ``last[i]`` (the
    array checked at the last step, whose memory cannot have moved), outside the address
    ranges ``[starts[j], ends[j])`` of the parameters and state.  Records each new gradient
    that passes in ``last``.  ``False`` as soon as one fails (the caller then runs the
    full checks, which name the problem).
    """
    if type(grads) is cnp.ndarray:  # (a sequence of its rows, as in Python)
        grads = tuple(grads)
    return _grads_pass(params, grads, last, dtypes, shapes, starts, ends)


cdef bint _grads_pass(tuple params, grads, list last, tuple dtypes, tuple shapes,
                      object starts, object ends, object opt=None) except -1:
    # grads_pass, called from C by ReplayOne: ``grads`` may also be one ndarray (one
    # parameter); ``starts`` None: ``opt``'s ranges, taken only if a gradient is new.
    cdef Py_ssize_t i, n = len(params)
    if type(grads) is cnp.ndarray:
        if n != 1:
            return False
        return _grad_pass(params[0], grads, last, 0, dtypes[0], shapes[0], starts, ends, opt)
    if len(grads) != n:
        return False
    for i in range(n):
        if not _grad_pass(params[i], grads[i], last, i, dtypes[i], shapes[i], starts, ends,
                          opt):
            return False
    return True


cdef inline bint _grad_pass(object po, object go, list last, Py_ssize_t i, object dtype,
                            tuple shape, object starts, object ends, object opt) except -1:
    cdef cnp.ndarray p = <cnp.ndarray>po
    cdef cnp.ndarray g
    cdef Py_ssize_t low
    cdef tuple occupied
    if (<void*>cnp.PyArray_DESCR(p) != <void*>dtype or not _has_shape(p, shape)
            or not cnp.PyArray_ISWRITEABLE(p)):
        return False
    if type(go) is not cnp.ndarray:
        return False
    g = <cnp.ndarray>go
    if (<void*>cnp.PyArray_DESCR(g) != <void*>dtype or not _has_shape(g, shape)
            or not cnp.PyArray_IS_C_CONTIGUOUS(g) or not cnp.PyArray_ISALIGNED(g)):
        return False
    if go is not last[i]:
        if cnp.PyArray_SIZE(g):
            if starts is None:
                occupied = opt._occupied or opt._occupied_ranges()
                starts, ends = occupied[0], occupied[1]
            low = <Py_ssize_t>cnp.PyArray_DATA(g)
            if _overlap(low, low + cnp.PyArray_NBYTES(g), <list>starts, <list>ends) >= 0:
                return False
        last[i] = go
    return True

def next_step(state):
    """``state["step"] + 1``, stored in the dict ``state`` with ``dict``'s own item
    assignment (bypassing a subclass's ``__setitem__``, as ``Optimizer`` does for its own
    writes) and returned."""
    if not PyDict_Check(state):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    return _next_step(state)


cdef inline object _next_step(object state):
    # (a dict: checked by the caller)
    t = state["step"] + 1
    PyDict_SetItem(state, "step", t)
    return t


cdef tuple _dicts(states):
    """``states`` (a tuple or list) as a tuple, after checking that each is a dict."""
    cdef object state
    states = tuple(states)
    for state in <tuple>states:
        if not PyDict_Check(state):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
    return <tuple>states


def next_steps(states):
    """:func:`next_step` on every dict of ``states`` (a tuple or list: the states of a
    group stepped by one call), checked to be dicts first, so that nothing is written if
    one is not."""
    cdef object state
    for state in _dicts(states):
        _next_step(state)


def put_all(states, key, value):
    """``state[key] = value`` in every dict of ``states`` (a tuple or list), with
    ``dict``'s own item assignment (checked to be dicts first)."""
    cdef object state
    for state in _dicts(states):
        PyDict_SetItem(state, key, value)


def same_items(a, b):
    """Whether the lists or tuples ``a`` and ``b`` hold the same objects (``is``) in the
    same order: what a prepared call compares to know that the arrays whose addresses it
    keeps are still those it was given."""
    cdef Py_ssize_t i, n
    if (type(a) is not list and type(a) is not tuple) or (
            type(b) is not list and type(b) is not tuple):
        raise TypeError("same_items takes two lists or tuples")
    n = len(a)
    if len(b) != n:
        return False
    if type(a) is list and type(b) is tuple:  # (the common case: no per-item dispatch)
        for i in range(n):
            if <PyObject*>(<list>a)[i] is not <PyObject*>(<tuple>b)[i]:
                return False
        return True
    for i in range(n):
        if a[i] is not b[i]:
            return False
    return True


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf,
                               PyObject* kwnames)
    object PyObject_Call(object callable, object args, PyObject* kwargs)

from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM


ctypedef void (*c_entry)(void** data, cnp.int64_t* sizes, double* floats,
                        char* flags) noexcept nogil

cdef enum:
    # The most arrays, floats and flags a C entry takes (the rules have at most 5, 10, 3).
    MAX_ARRAYS = 8
    MAX_FLOATS = 16
    MAX_FLAGS = 8
    # At least this many elements: the C entry runs with the GIL released (the Cython
    # kernels' NOGIL_MIN).
    NOGIL_MIN = 8192
    REQ_WRITE = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED | cnp.NPY_ARRAY_WRITEABLE


cdef class StepScalars


cdef class PreparedCall:
    """A compiled kernel's call prepared for one parameter and its state arrays (numba's
    elementwise kernels: ``fastopt.backends.numba._jit.prepare``), with the kernel's
    signature ``(param, grad, *states, *scalars, *flags, n_threads)``.

    A call with the bound ``param`` and state arrays (the same objects, still of
    ``param``'s dtype, C-contiguous, aligned and writeable), ``n_threads == 1`` and a
    gradient that is an ``ndarray`` of ``param``'s dtype object and size,
    C-contiguous and aligned, goes to the compiled loop without the dispatcher.
    ``resolve`` (called instead for the first such call, with the same arguments
    without ``n_threads``) runs it and returns ``(result, entry, n_flags)``: ``entry`` is
    the address (an int) of a C function ``void f(void** data, int64* sizes, double*
    floats, char* flags)`` (``fastopt.backends.numba._jit.c_function``), which later
    calls get with the arrays' data and sizes, the scalars (Python floats) and the last
    ``n_flags`` arguments (bools) -- or a Python callable (the overload's entry point),
    which gets the arguments.  A call whose scalars are not floats and bools there is
    ``kernel``'s, as is any other call.  It holds no reference to itself (no cycle: the
    arrays are freed with the last reference to it).  :func:`call_kernel` makes the call
    without building an argument list for it.

    ``resolve_pooled`` (optional) does the same for ``n_threads > 1``: called instead for the
    first such call (an int ``n_threads``, the bound arrays and a gradient as above), with
    all the arguments, it runs the kernel and returns ``(result, entry, n_flags, run)``:
    ``entry`` the address (an int, 0: none) of a C function of the same signature that runs
    the loop on fastopt's pool (the kernel's ``pooled`` twin called from C), ``run`` the
    pool's address; later such calls get, after the sizes, the chunk count of
    ``fastopt.backends.numba._jit.n_chunks`` and ``run`` (see :meth:`_pooled`).
    """
    cdef readonly object kernel, resolve, param
    cdef readonly tuple states
    cdef public object entry
    cdef readonly size_t address  # of the C entry (0: none)
    cdef c_entry fn
    cdef Py_ssize_t n_args, n_floats, n_flags
    cdef cnp.dtype dtype  # param's, when prepared
    # n_threads > 1 (see _pooled): the resolver, the C entry on the pool and its scalars
    cdef readonly object resolve_pooled
    cdef readonly size_t pooled_address  # (0: none, or not resolved yet)
    cdef readonly cnp.int64_t run  # the pool's parallel_range
    cdef c_entry pooled_fn
    cdef Py_ssize_t pooled_floats, pooled_flags
    cdef int pooled_state  # 0: not resolved, 1: pooled_fn, -1: none (the kernel)

    def __init__(self, kernel, resolve, cnp.ndarray param not None, tuple states, n_args,
                 resolve_pooled=None):
        self.resolve_pooled = resolve_pooled
        self.pooled_state = 0 if resolve_pooled is not None else -1
        self.pooled_address = self.run = 0
        self.pooled_fn = NULL
        self.kernel, self.resolve, self.param, self.states = kernel, resolve, param, states
        self.dtype = param.dtype
        self.entry = None
        self.address = 0
        self.fn = NULL
        self.n_args = n_args  # the kernel's, n_threads included
        if 2 + len(states) > MAX_ARRAYS:
            raise ValueError(f"{len(states)} state arrays: at most {MAX_ARRAYS - 2}")

    cdef inline bint _bound(self, object param, object grad, tuple states, Py_ssize_t first,
                            object n_threads):
        """Whether the call may go to the compiled loop."""
        cdef Py_ssize_t j, k = len(self.states)
        cdef cnp.ndarray g, p
        cdef object a
        if param is not self.param or type(grad) is not cnp.ndarray:
            return False
        if type(n_threads) is not int or n_threads != 1:  # (any int: no C long cast)
            return False
        for j in range(k):
            a = states[first + j]
            if a is not self.states[j] or not _carray(<cnp.ndarray>a, self.dtype):
                return False
        g, p = <cnp.ndarray>grad, <cnp.ndarray>param
        return (_carray(p, self.dtype)
                and <void*>cnp.PyArray_DESCR(g) == <void*>cnp.PyArray_DESCR(p)
                and cnp.PyArray_NDIM(g) == 1 and cnp.PyArray_SIZE(g) == cnp.PyArray_SIZE(p)
                and cnp.PyArray_IS_C_CONTIGUOUS(g) and cnp.PyArray_ISALIGNED(g))

    def __call__(self, *args):
        cdef Py_ssize_t n = len(args), k = 2 + len(self.states)
        if n == self.n_args and self.pooled_state >= 0 and _threads_over_one(args[n - 1]):
            return self._pooled(args)  # (n_threads > 1: see _pooled)
        if n != self.n_args or not self._bound(args[0], args[1], args, 2, args[n - 1]):
            return self.kernel(*args)
        if self.fn != NULL:
            if self._run(args[0], args[1], args[2:k], args[k:n - 1 - self.n_flags],
                         args[n - 1 - self.n_flags:n - 1]):
                return None
            return self.kernel(*args)
        if self.entry is None:
            return self._resolve(args[:n - 1])
        return self.entry(*args[:n - 1])

    cdef object _resolve(self, tuple args):
        cdef Py_ssize_t n_floats
        result, entry, n_flags = self.resolve(*args)
        n_floats = len(args) - 2 - len(self.states) - n_flags
        if type(entry) is int:
            if n_floats > MAX_FLOATS or n_flags > MAX_FLAGS or n_floats < 0 or n_flags < 0:
                raise ValueError(f"{n_floats} floats and {n_flags} flags: at most "
                                 f"{MAX_FLOATS} and {MAX_FLAGS}")
            self.address = entry
            self.n_floats, self.n_flags = n_floats, n_flags
            self.fn = <c_entry><size_t>entry
        self.entry = entry
        return result

    cdef bint _run(self, cnp.ndarray param, cnp.ndarray grad, tuple states, tuple floats,
                   tuple flags) except -1:
        """The C entry on these arguments (the bound ones, checked): False, having run
        nothing, if a scalar is not a float or a flag not a bool."""
        cdef double fl[MAX_FLOATS]
        cdef char fg[MAX_FLAGS]
        if not _c_scalars(floats, flags, self.n_floats, self.n_flags, fl, fg):
            return False
        self._run_c(param, grad, states, fl, fg)
        return True

    cdef void _run_c(self, cnp.ndarray param, cnp.ndarray grad, tuple states, double* fl,
                     char* fg) noexcept:
        """The C entry on these arrays (checked) and these scalars and flags."""
        cdef void* data[MAX_ARRAYS]
        cdef cnp.int64_t sizes[MAX_ARRAYS]
        cdef Py_ssize_t j
        cdef cnp.ndarray a
        data[0], sizes[0] = cnp.PyArray_DATA(param), cnp.PyArray_SIZE(param)
        data[1], sizes[1] = cnp.PyArray_DATA(grad), cnp.PyArray_SIZE(grad)
        for j in range(len(states)):
            a = <cnp.ndarray>states[j]
            data[2 + j], sizes[2 + j] = cnp.PyArray_DATA(a), cnp.PyArray_SIZE(a)
        if sizes[0] >= NOGIL_MIN:
            with nogil:
                self.fn(data, sizes, fl, fg)
        else:
            self.fn(data, sizes, fl, fg)

    cdef bint _run_scalars(self, param, grad, tuple states, StepScalars scalars,
                           long long t) except -1:
        """The C entry with ``scalars`` at step ``t`` computed into it (no float made),
        if the call is one :meth:`__call__` would make there with one thread; False,
        having run nothing, otherwise."""
        cdef double fl[MAX_FLOATS]
        if (self.fn == NULL or scalars.n_floats != self.n_floats
                or scalars.n_flags != self.n_flags or not scalars.exact
                or not self._bound(param, grad, states, 0, 1)):
            return False
        if not scalars.fill(t, fl):
            return False
        self._run_c(<cnp.ndarray>param, <cnp.ndarray>grad, states, fl, scalars.fg)
        return True

    cdef object call(self, param, grad, tuple states, tuple floats, tuple flags, n_threads):
        """The call of :func:`call_kernel` (``states``, ``floats``, ``flags`` tuples)."""
        cdef Py_ssize_t k, j, n
        cdef tuple args
        cdef object item
        if self.pooled_state >= 0 and _threads_over_one(n_threads):  # (see _pooled)
            if (self.pooled_state == 1 and len(states) == len(self.states)
                    and 3 + len(states) + len(floats) + len(flags) == self.n_args):
                if (self._bound(param, grad, states, 0, 1)
                        and self._run_pooled(param, grad, states, floats, flags, n_threads)):
                    return None
                return self.kernel(param, grad, *states, *floats, *flags, n_threads)
            return self._pooled((param, grad) + states + floats + flags + (n_threads,))
        if (len(states) != len(self.states)
                or 3 + len(states) + len(floats) + len(flags) != self.n_args
                or not self._bound(param, grad, states, 0, n_threads)):
            return self.kernel(param, grad, *states, *floats, *flags, n_threads)
        if self.fn != NULL:
            if self._run(param, grad, states, floats, flags):
                return None
            return self.kernel(param, grad, *states, *floats, *flags, n_threads)
        n = self.n_args - 1
        args = PyTuple_New(n)
        k = 0
        for item in (param, grad):
            Py_INCREF(item)
            PyTuple_SET_ITEM(args, k, item)
            k += 1
        for part in (states, floats, flags):
            for j in range(len(<tuple>part)):
                item = (<tuple>part)[j]
                Py_INCREF(item)
                PyTuple_SET_ITEM(args, k, item)
                k += 1
        if self.entry is None:
            return self._resolve(args)
        return PyObject_Call(self.entry, args, NULL)

    # --- n_threads > 1: the C entry on fastopt's pool (the kernel's pooled twin from C) ---

    cdef object _pooled(self, tuple args):
        """The call of the kernel's arguments ``args``, whose ``n_threads`` is an int
        above 1: with the bound arrays and a gradient that ``_bound`` passes (as for one
        thread) and Python floats and bools, the C entry on the pool, given
        ``fastopt.backends.numba._jit.n_chunks`` threads as the kernel gives its twin (the
        first such call resolves it and is the kernel's); any other call the kernel's."""
        cdef Py_ssize_t n = len(args), k = 2 + len(self.states), m
        if n != self.n_args or not self._bound(args[0], args[1], args, 2, 1):
            return self.kernel(*args)
        if self.pooled_state == 0:
            return self._resolve_pooled(args, k)
        m = n - 1 - self.pooled_flags
        if (self.pooled_state == 1 and m >= k
                and self._run_pooled(args[0], args[1], args[2:k], args[k:m], args[m:n - 1],
                                     args[n - 1])):
            return None
        return self.kernel(*args)

    cdef object _resolve_pooled(self, tuple args, Py_ssize_t k):
        cdef Py_ssize_t n_floats
        result, entry, n_flags, run = self.resolve_pooled(*args)
        n_floats = len(args) - 1 - k - n_flags
        if entry:
            if n_floats > MAX_FLOATS or n_flags > MAX_FLAGS or n_floats < 0 or n_flags < 0:
                raise ValueError(f"{n_floats} floats and {n_flags} flags: at most "
                                 f"{MAX_FLOATS} and {MAX_FLAGS}")
            self.pooled_floats, self.pooled_flags = n_floats, n_flags
            self.pooled_address, self.run = entry, run
            self.pooled_fn = <c_entry><size_t>entry
            self.pooled_state = 1
        else:
            self.pooled_state = -1
        return result

    cdef bint _run_pooled(self, cnp.ndarray param, cnp.ndarray grad, tuple states,
                          tuple floats, tuple flags, object n_threads) except -1:
        """The C entry on the pool on these arguments (the bound ones, checked): False,
        having run nothing, if a scalar is not a float or a flag not a bool, or if
        ``n_chunks`` is 1 (the kernel's serial call)."""
        cdef void* data[MAX_ARRAYS]
        cdef cnp.int64_t ints[MAX_ARRAYS + 2]
        cdef double fl[MAX_FLOATS]
        cdef char fg[MAX_FLAGS]
        cdef Py_ssize_t j, k = 2 + len(states), size = cnp.PyArray_SIZE(param), n_chunks
        cdef cnp.ndarray a
        if not _c_scalars(floats, flags, self.pooled_floats, self.pooled_flags, fl, fg):
            return False
        n_chunks = _n_chunks(n_threads, size)
        if n_chunks == 1:
            return False
        data[0], ints[0] = cnp.PyArray_DATA(param), size
        data[1], ints[1] = cnp.PyArray_DATA(grad), cnp.PyArray_SIZE(grad)
        for j in range(k - 2):
            a = <cnp.ndarray>states[j]
            data[2 + j], ints[2 + j] = cnp.PyArray_DATA(a), cnp.PyArray_SIZE(a)
        ints[k], ints[k + 1] = n_chunks, self.run
        with nogil:
            self.pooled_fn(data, ints, fl, fg)
        return True


cdef inline bint _threads_over_one(object n_threads):
    """Whether ``n_threads`` is an int above 1 (the pooled branch of ``PreparedCall``)."""
    return type(n_threads) is int and n_threads > 1


cdef inline Py_ssize_t _n_chunks(object n_threads, Py_ssize_t n):
    """``fastopt.backends.numba._jit.n_chunks(n_threads, n)`` (the chunk count the kernel
    gives its twin): ``n_threads`` if at most ``n``, else ``max(n, 1)``."""
    if n_threads <= n:
        return <Py_ssize_t>n_threads
    return n if n > 1 else 1


def n_chunks(n_threads, Py_ssize_t n):
    """:func:`_n_chunks` (what ``PreparedCall`` passes the pooled C entry), for the tests."""
    return _n_chunks(n_threads, n)


cdef inline bint _c_scalars(tuple floats, tuple flags, Py_ssize_t n_floats,
                            Py_ssize_t n_flags, double* fl, char* fg) except -1:
    """``floats`` (Python floats) into ``fl`` and ``flags`` (True/False) into ``fg``:
    False if their counts are not ``n_floats`` and ``n_flags`` or one has another type."""
    cdef Py_ssize_t j
    cdef object x
    if len(floats) != n_floats or len(flags) != n_flags:
        return False
    for j in range(n_floats):
        x = floats[j]
        if not PyFloat_Check(x):
            return False
        fl[j] = PyFloat_AS_DOUBLE(x)
    for j in range(n_flags):
        x = flags[j]
        if x is True:
            fg[j] = 1
        elif x is False:
            fg[j] = 0
        else:
            return False
    return True

# --- (end of PreparedCall's pooled branch) ---------------------------------------------



# The steps computed in C: |t| < 2**62 (t - 1 and the conversion to double are then those
# of Python).
cdef long long STEP_MAX = 4611686018427387904

cdef enum:
    MAX_TERMS = 4
    # The kinds of StepScalars' terms.
    OVER_ONE_MINUS_POW = 0
    SQRT_ONE_MINUS_POW = 1
    OVER_DECAY = 2

_TERM_KINDS = {"over_one_minus_pow": OVER_ONE_MINUS_POW,
               "sqrt_one_minus_pow": SQRT_ONE_MINUS_POW, "over_decay": OVER_DECAY}


cdef class StepScalars:
    """``scalars(state) -> (floats, flags)``: a rule's step scalars at step ``t =
    state["step"]`` (``Optimizer._scalars_for``), computed in C.

    ``floats`` are the constants, except the entries that ``terms`` computes from ``t``:
    a term ``(j, kind, a, b)`` sets ``floats[j]`` to

    * ``a / -expm1(t * b)`` (``"over_one_minus_pow"``: a step size over ``1 - beta**t``,
      ``b = log(beta)``: ``fastopt._internal.numerics.one_minus_pow``),
    * ``sqrt(-expm1(t * b))`` (``"sqrt_one_minus_pow"``),
    * ``a / (1.0 + (t - 1) * b)`` (``"over_decay"``: Adagrad's decayed learning rate);

    the doubles of those Python expressions (the same libm functions, the same order;
    for an int ``t``, as ``math.expm1`` etc. on floats compute them).  ``flags`` are
    returned as given.  ``ReplayOne`` has them computed straight into a prepared call's
    C arguments, without making a Python float.
    """
    cdef readonly tuple floats, flags, terms
    cdef double base[MAX_FLOATS]
    cdef char fg[MAX_FLAGS]
    cdef int pos[MAX_TERMS]
    cdef int kind[MAX_TERMS]
    cdef double ta[MAX_TERMS]
    cdef double tb[MAX_TERMS]
    cdef Py_ssize_t n_floats, n_flags, n_terms
    cdef bint exact  # every constant a float, every flag a bool: the C path applies

    def __init__(self, tuple floats, tuple flags, tuple terms=()):
        cdef Py_ssize_t j
        if len(floats) > MAX_FLOATS or len(flags) > MAX_FLAGS or len(terms) > MAX_TERMS:
            raise ValueError(f"{len(floats)} floats, {len(flags)} flags, {len(terms)} terms: "
                             f"at most {MAX_FLOATS}, {MAX_FLAGS}, {MAX_TERMS}")
        self.floats, self.flags, self.terms = floats, flags, terms
        self.n_floats, self.n_flags, self.n_terms = len(floats), len(flags), len(terms)
        self.exact = True
        for j in range(self.n_floats):
            self.base[j] = floats[j] if type(floats[j]) is float else 0.0
            self.exact = self.exact and type(floats[j]) is float
        for j in range(self.n_flags):
            self.fg[j] = flags[j] is True
            self.exact = self.exact and (flags[j] is True or flags[j] is False)
        for j in range(self.n_terms):
            at, kind, a, b = terms[j]
            if not 0 <= at < self.n_floats or kind not in _TERM_KINDS:
                raise ValueError(f"bad term {terms[j]!r}")
            self.pos[j], self.kind[j] = at, _TERM_KINDS[kind]
            self.ta[j], self.tb[j] = a, b
            self.exact = self.exact and type(a) is float and type(b) is float

    cdef bint fill(self, long long t, double* out) noexcept:
        """``floats`` at step ``t`` into ``out``; False if a term would raise in Python
        (a zero divisor, a positive exponent: then the Python expressions run)."""
        cdef Py_ssize_t j
        cdef double x, d
        for j in range(self.n_floats):
            out[j] = self.base[j]
        for j in range(self.n_terms):
            if self.kind[j] == OVER_DECAY:
                d = 1.0 + <double>(t - 1) * self.tb[j]
                if d == 0.0:
                    return False
                out[self.pos[j]] = self.ta[j] / d
                continue
            x = <double>t * self.tb[j]
            if not x <= 0.0:  # (math.expm1 would overflow; a NaN b)
                return False
            d = -expm1(x)
            if self.kind[j] == SQRT_ONE_MINUS_POW:
                out[self.pos[j]] = sqrt(d)
            elif d == 0.0:
                return False
            else:
                out[self.pos[j]] = self.ta[j] / d
        return True

    def __call__(self, state):
        cdef double out[MAX_FLOATS]
        cdef Py_ssize_t j
        t = state["step"]
        if type(t) is int and self.exact and -STEP_MAX < t < STEP_MAX and self.fill(t, out):
            return tuple([out[j] for j in range(self.n_floats)]), self.flags
        floats = list(self.floats)
        for at, kind, a, b in self.terms:
            if kind == "over_decay":
                floats[at] = a / (1.0 + (t - 1) * b)
            elif kind == "sqrt_one_minus_pow":
                floats[at] = math.sqrt(-math.expm1(t * b))
            else:
                floats[at] = a / -math.expm1(t * b)
        return tuple(floats), self.flags

cdef inline bint _carray(cnp.ndarray a, cnp.dtype dtype):
    """Whether ``a`` is C-contiguous, aligned, writeable and of the dtype ``dtype`` (the
    same object, or an equivalent one)."""
    if cnp.PyArray_FLAGS(a) & REQ_WRITE != REQ_WRITE:
        return False
    return (<void*>cnp.PyArray_DESCR(a) == <void*>dtype
            or cnp.PyArray_EquivTypes(<cnp.dtype>cnp.PyArray_DESCR(a), dtype))


def call_kernel(kernel, param, grad, states, floats, flags, n_threads):
    """``kernel(param, grad, *states, *floats, *flags, n_threads)``, its arguments passed
    from a C array (no argument list is built: the fast path's calls), or for a
    :class:`PreparedCall`, in one tuple to its entry point."""
    return _call_kernel(kernel, param, grad, states if type(states) is tuple else tuple(states),
                        floats if type(floats) is tuple else tuple(floats),
                        flags if type(flags) is tuple else tuple(flags), n_threads)


cdef object _call_kernel(kernel, param, grad, tuple states, tuple floats, tuple flags,
                         n_threads):
    cdef PyObject* args[40]
    cdef Py_ssize_t k = 2, j
    cdef tuple part
    if type(kernel) is PreparedCall:
        return (<PreparedCall>kernel).call(param, grad, states, floats, flags, n_threads)
    if len(states) + len(floats) + len(flags) > 37:
        return kernel(param, grad, *states, *floats, *flags, n_threads)
    args[0] = <PyObject*>param
    args[1] = <PyObject*>grad
    for part in (states, floats, flags):
        for j in range(len(part)):
            args[k] = <PyObject*>part[j]
            k += 1
    args[k] = <PyObject*>n_threads
    return PyObject_Vectorcall(kernel, args, k + 1, NULL)



cdef class ReplayOne:
    """The replayed step of a plan of one group and one elementwise call (a model with
    one parameter): ``Optimizer._replay_one``'s ``replay`` in C, with the same checks in
    the same order, all before anything is written.  ``replay(grads)`` makes the step and
    returns True, or returns False having done nothing (the caller then takes the full
    path, whose checks name any problem).  It holds the optimizer weakly (the optimizer
    keeps the plan: no cycle)."""
    cdef object optimizer, version, backend, group_list, group, plan
    cdef dict dispatch  # the module's namespace
    cdef tuple params, dtypes, shapes, states
    cdef list validated, scalars_of, check_finite
    cdef object kernel, param, state, size, dtype, rounded
    cdef Py_ssize_t i
    cdef bint rounding, flat

    def __init__(self, optimizer_ref, dispatch, tuple plan, list validated, list check_finite,
                 rounded):
        """``plan``: ``Optimizer._make_plan``'s tuple (one group, one ``_ONE`` call);
        ``dispatch`` the module ``fastopt.backends._dispatch``; ``check_finite`` the
        global switch's list (``optimizer._CHECK_FINITE``); ``rounded`` the function
        ``optimizer._rounded``."""
        cdef tuple call
        (self.version, self.backend, self.group_list, groups, self.params, self.shapes,
         self.dtypes, calls, _, self.scalars_of) = plan[:10]
        call = calls[0]
        self.i, self.kernel, self.param = call[1], call[2], call[3]
        self.states = tuple(call[4])
        self.state, self.size, self.dtype, self.rounding = call[6], call[7], call[8], call[9]
        self.group = groups[0]
        self.flat = len(<tuple>self.shapes[self.i]) == 1
        self.optimizer, self.dispatch, self.plan = optimizer_ref, vars(dispatch), plan
        self.validated, self.check_finite, self.rounded = validated, check_finite, rounded

    def __call__(self, grads):
        cdef object opt = self.optimizer()
        cdef list group_list
        cdef tuple scalars
        cdef object gs, g, floats, n_threads
        cdef long long step = 0
        cdef int overflow = 1
        if opt is None or self.dispatch["selection_version"] != self.version:
            return False
        if opt.backend is not self.backend or opt.param_groups is not self.group_list:
            return False
        group_list = <list>self.group_list
        if len(group_list) != 1 or group_list[0] is not self.group:
            return False
        if self.group.edited and not opt._replan_edited_groups(self.plan):
            return False
        if (type(grads) is not cnp.ndarray and type(grads) is not list
                and type(grads) is not tuple):
            return False
        if not _grads_pass(self.params, grads, self.validated, self.dtypes, self.shapes,
                           None, None, opt):
            return False
        gs = (grads,) if type(grads) is cnp.ndarray else grads
        finite = opt.check_finite
        if finite or (finite is None and self.check_finite[0]):
            opt._refuse_non_finite(gs)
        g = gs[self.i]
        t = _next_step(self.state)
        if self.size < self.dispatch["PARALLEL_THRESHOLD"]:
            n_threads = 1
        else:
            n_threads = self.dispatch["get_num_threads"]()
        if not self.flat:
            g = g.reshape(-1)
        sc = self.scalars_of[0]
        if type(t) is int:
            step = PyLong_AsLongLongAndOverflow(t, &overflow)
        if (overflow == 0 and -STEP_MAX < step < STEP_MAX
                and type(n_threads) is int and n_threads == 1
                and type(sc) is StepScalars and type(self.kernel) is PreparedCall
                and not self.rounding):
            if (<PreparedCall>self.kernel)._run_scalars(self.param, g, self.states,
                                                        <StepScalars>sc, step):
                return True
        scalars = tuple(sc(self.state))
        floats = scalars[0]
        if self.rounding:
            floats = self.rounded(floats, self.dtype)
        _call_kernel(self.kernel, self.param, g, self.states,
                     floats if type(floats) is tuple else tuple(floats),
                     scalars[1] if type(scalars[1]) is tuple else tuple(scalars[1]), n_threads)
        return True


cdef inline bint _row_numbers_below(cnp.ndarray indices, cnp.npy_uint64 n_rows) noexcept:
    """Whether every entry of the 1-D contiguous int32/int64 ``indices`` is in [0, n_rows).

    int64: read as unsigned (a negative entry is larger than any row number), four
    entries a round, their compares or-ed without a branch (one chain of maxima ran at
    ~1.5 entries per ns, slower than NumPy's ``max``).  int32, with ``n_rows`` below
    2**31: neither ``x`` nor ``~(x - n_rows)`` is negative (``x >= 0`` makes ``x - n_rows``
    exact), so the sign bit of their or, or-ed over all entries, says it: only integer
    or and subtract, which compilers vectorize (twice as fast here; for int64 it was
    slower, SSE2 having no 64-bit compare to build it from)."""
    cdef Py_ssize_t i, k = cnp.PyArray_DIM(indices, 0), k4 = k - k % 4
    cdef const cnp.npy_uint32* i32
    cdef const cnp.npy_uint64* i64
    cdef int bad = 0
    cdef cnp.npy_uint32 n32
    cdef cnp.npy_int32 acc32 = 0
    if cnp.PyArray_ITEMSIZE(indices) == 4:
        i32 = <const cnp.npy_uint32*>cnp.PyArray_DATA(indices)
        n32 = <cnp.npy_uint32>n_rows if n_rows <= 0x7FFFFFFF else 0
        if n32 == 0 and n_rows:  # every non-negative int32 is a row
            for i in range(k):
                acc32 = acc32 | <cnp.npy_int32>i32[i]
        else:
            for i in range(k):  # (the subtraction wraps only below 0, already refused)
                acc32 = acc32 | <cnp.npy_int32>i32[i] | ~<cnp.npy_int32>(i32[i] - n32)
        return acc32 >= 0
    i64 = <const cnp.npy_uint64*>cnp.PyArray_DATA(indices)
    for i in range(0, k4, 4):
        bad |= ((i64[i] >= n_rows) | (i64[i + 1] >= n_rows) | (i64[i + 2] >= n_rows)
                | (i64[i + 3] >= n_rows))
    for i in range(k4, k):
        bad |= i64[i] >= n_rows
    return not bad


def sparse_pass(cnp.ndarray p not None, g, list starts, list ends):
    """Whether the :class:`~fastopt.SparseGrad` ``g`` passes the checks of a sparse step
    for the parameter ``p`` (``fastopt._internal.validation.sparse_gradient``, and
    ``Optimizer._refuse_alias`` of its two arrays against the sorted, disjoint address
    ranges ``[starts[j], ends[j])``).  ``False`` also where those checks might pass (a
    ``values`` dtype equal to but not ``p``'s dtype object, 16-bit parameters); the caller
    then runs them, and they name the problem.  The Python twin is
    ``fastopt.optim.optimizer._sparse_pass_py``."""
    cdef cnp.ndarray indices, values
    cdef Py_ssize_t nd = cnp.PyArray_NDIM(p), j, low
    indices_o, values_o = g.indices, g.values
    if nd == 0 or type(indices_o) is not cnp.ndarray or type(values_o) is not cnp.ndarray:
        return False
    indices, values = <cnp.ndarray>indices_o, <cnp.ndarray>values_o
    if (cnp.PyArray_NDIM(indices) != 1 or not cnp.PyArray_ISINTEGER(indices)
            or not cnp.PyArray_ISSIGNED(indices) or not cnp.PyArray_ISNOTSWAPPED(indices)
            or (cnp.PyArray_ITEMSIZE(indices) != 4 and cnp.PyArray_ITEMSIZE(indices) != 8)
            or not cnp.PyArray_IS_C_CONTIGUOUS(indices) or not cnp.PyArray_ISALIGNED(indices)):
        return False
    if (<void*>cnp.PyArray_DESCR(values) != <void*>cnp.PyArray_DESCR(p)
            or cnp.PyArray_NDIM(values) != nd or not cnp.PyArray_IS_C_CONTIGUOUS(values)
            or not cnp.PyArray_ISALIGNED(values)
            or cnp.PyArray_DIM(values, 0) != cnp.PyArray_DIM(indices, 0)):
        return False
    for j in range(1, nd):
        if cnp.PyArray_DIM(values, j) != cnp.PyArray_DIM(p, j):
            return False
    if not _row_numbers_below(indices, <cnp.npy_uint64>cnp.PyArray_DIM(p, 0)):
        return False
    for a in (values, indices):
        if cnp.PyArray_SIZE(<cnp.ndarray>a):
            low = <Py_ssize_t>cnp.PyArray_DATA(<cnp.ndarray>a)
            if _overlap(low, low + cnp.PyArray_NBYTES(<cnp.ndarray>a), starts, ends) >= 0:
                return False
    return True
