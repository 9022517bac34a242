/* OpenMP shim for the fastopt Cython kernels.
 *
 * The same .pyx files compile with and without OpenMP: Cython's prange already
 * degrades to a serial loop when _OPENMP is not defined, and this header supplies
 * serial stand-ins for the few omp_* runtime functions the kernels call.  It also
 * gives defaults to the build-description macros that setup.py normally defines.
 */
#ifndef FASTOPT_OMP_H
#define FASTOPT_OMP_H

#ifdef _OPENMP
#include <omp.h>
#define FASTOPT_OPENMP 1
#else
#define FASTOPT_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_procs(void) { return 1; }
static inline void omp_set_num_threads(int n) { (void)n; }
#endif

/* Set by setup.py: the compiler flags of the build, space-separated. */
#ifndef FASTOPT_COMPILE_ARGS
#define FASTOPT_COMPILE_ARGS ""
#endif

/* Set by setup.py: the version of Cython that generated the C sources. */
#ifndef FASTOPT_CYTHON_VERSION
#define FASTOPT_CYTHON_VERSION ""
#endif

/* Set by setup.py to 1 when built with FASTOPT_DEBUG_CHECKS=1. */
#ifndef FASTOPT_DEBUG_CHECKS
#define FASTOPT_DEBUG_CHECKS 0
#endif

#endif /* FASTOPT_OMP_H */
