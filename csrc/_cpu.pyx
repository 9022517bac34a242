"""Which instruction-set level this CPU supports, for the dispatch of the Cython kernels."""

cdef extern from *:
    """
    static int fastopt_cpu_supports_x86_64_v3(void) {
    #if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && \
        (__GNUC__ >= 12 || (defined(__clang__) && __clang_major__ >= 16))
        __builtin_cpu_init();
        return __builtin_cpu_supports("x86-64-v3") != 0;
    #else
        return 0;
    #endif
    }
    """
    int fastopt_cpu_supports_x86_64_v3()


def supports_x86_64_v3():
    """Whether this CPU (and OS) runs x86-64-v3 code: AVX2, FMA, BMI1/2, F16C, MOVBE..."""
    return bool(fastopt_cpu_supports_x86_64_v3())
