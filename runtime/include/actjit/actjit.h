/* actjit C ABI: compile activation functions written as text into
 * vectorized forward and backward kernels, and call them.
 *
 * Conventions
 * - Opaque handles, each with a create/destroy (or release) pair.
 * - Failure is reported the same way everywhere: a NULL handle or a
 *   non-zero status, plus, where a caller-supplied buffer is given, a
 *   NUL-terminated message "LINE:COL: message" truncated to its size.
 * - No C++ exception ever crosses this interface.
 * - Thread safety: every function may be called from several threads at
 *   once, on the same or different handles. A kernel stays valid until it
 *   is released, even after its runtime compiled other functions or was
 *   destroyed.
 */
#ifndef ACTJIT_H
#define ACTJIT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACTJIT_VERSION_MAJOR 0
#define ACTJIT_VERSION_MINOR 1
#define ACTJIT_VERSION_PATCH 0

typedef struct actjit_runtime actjit_runtime;
typedef struct actjit_kernel actjit_kernel;
typedef enum actjit_dtype { ACTJIT_F32 = 0, ACTJIT_F64 = 1 } actjit_dtype;

/* Creates a runtime: the JIT compiler and its kernel cache.
   Returns NULL if the JIT cannot start (for example, no vector math
   library); actjit_runtime_create_ex reports why. Destroy with
   actjit_runtime_destroy. */
actjit_runtime *actjit_runtime_create(void);

/* As actjit_runtime_create, writing the reason of a failure into ERR
   (ERRLEN bytes, NUL-terminated) when ERR is not NULL. */
actjit_runtime *actjit_runtime_create_ex(char *err, size_t errlen);

/* Destroys RT. Kernels compiled by it stay valid until released.
   RT may be NULL. */
void actjit_runtime_destroy(actjit_runtime *rt);

/* Limits on what one compilation may use; exceeding one is a compile error
   with a message, never a crash. Defaults in brackets. */
typedef enum actjit_limit {
  ACTJIT_LIMIT_SOURCE_BYTES = 0,     /* source text size [16 MiB] */
  ACTJIT_LIMIT_NESTING = 1,          /* nesting of (), calls, unary ops, powers [400] */
  ACTJIT_LIMIT_NODES = 2,            /* IR operations while inlining [1,000,000] */
  ACTJIT_LIMIT_KERNEL_NODES = 3,     /* weighted operations of f and its derivatives [20,000] */
  ACTJIT_LIMIT_COMPILE_SECONDS = 4,  /* time for one compilation [60] */
  ACTJIT_LIMIT_CACHED_KERNELS = 5    /* kernels kept in the cache (LRU) [4096] */
} actjit_limit;

/* Sets limit WHICH of RT to VALUE for compilations that start later.
   Returns 0, or non-zero for a NULL runtime, an unknown limit or a value
   that is not positive. */
int actjit_runtime_set_limit(actjit_runtime *rt, actjit_limit which, double value);

/* Current value of limit WHICH of RT (NaN for a NULL runtime or unknown limit). */
double actjit_runtime_get_limit(const actjit_runtime *rt, actjit_limit which);

/* Sets the directory of RT's on-disk object cache (machine code kept
   between processes; see Runtime::set_cache_dir in actjit.hpp). DIR NULL or
   "" turns the cache off. Default: $ACTJIT_CACHE_DIR, else
   $XDG_CACHE_HOME/actjit, else ~/.cache/actjit. Returns 0, or non-zero for a
   NULL runtime. */
int actjit_runtime_set_cache_dir(actjit_runtime *rt, const char *dir);

/* Compiles SRC (a bare expression in x, a call such as
   "leaky_relu(x, 0.2)", a catalogue name such as "mish", or one or more
   definitions, the last of which is the function) for DTYPE.
   On error returns NULL and writes "LINE:COL: message" (NUL-terminated,
   truncated to ERRLEN) into ERR when ERR is not NULL. Compiling the same
   function twice returns a new handle to the cached code.
   Release the kernel with actjit_kernel_release. */
actjit_kernel *actjit_compile(actjit_runtime *rt, const char *src,
                              actjit_dtype dtype, char *err, size_t errlen);

/* Number of parameters of K (0 for NULL). */
size_t actjit_param_count(const actjit_kernel *k);

/* Name of parameter I of K, valid as long as K is; NULL if out of range. */
const char *actjit_param_name(const actjit_kernel *k, size_t i);

/* Default value of parameter I of K; NaN if out of range. */
double actjit_param_default(const actjit_kernel *k, size_t i);

/* The dtype K was compiled for. */
actjit_dtype actjit_kernel_dtype(const actjit_kernel *k);

/* y[i] = f(x[i]; p). X and Y point to N elements of the kernel's dtype
   (they may be the same array: the same values either way; float32
   kernels that leave some lanes to be recomputed in float64 from x then
   keep a copy of x, 4 KiB at a time, by a build of theirs that stores it
   as it goes, compiled on the first such call). PARAMS holds param_count
   values, or is
   NULL for the defaults. Returns 0 on success, non-zero on misuse (NULL
   kernel, NULL arrays with N > 0). */
int actjit_forward(const actjit_kernel *k, const void *x, void *y, size_t n,
                   const double *params);

/* dx[i] = dy[i] * df/dx(x[i]; p); when DPARAMS is not NULL,
   dparams[j] = sum over i of dy[i] * df/dp_j(x[i]; p) (accumulated in
   double; 0 for a parameter f does not depend on, whatever dy holds).
   DX may alias DY (as actjit_forward's Y may alias X). Returns 0 on
   success, non-zero on misuse. */
int actjit_backward(const actjit_kernel *k, const void *x, const void *dy,
                    void *dx, size_t n, const double *params, double *dparams);

/* y[i] = f(x[i]) and dydx[i] = f'(x[i]) in one pass (elementwise
   functions; the derivative reuses the forward's work). Y or DYDX may be
   X (as actjit_forward's Y may). The fused kernel is compiled on first
   use. Returns 0 on success, non-zero on misuse (NULL kernel or arrays, a
   row-wise function). */
int actjit_forward_with_derivative(const actjit_kernel *k, const void *x, void *y,
                                   void *dydx, size_t n, const double *params);

/* Row-wise functions (softmax, log_softmax, softmin, glu, maxout, and any
   function that reduces over the row or cuts it with chunk/pick): a row of
   COLS values in, a row of actjit_output_cols(k, COLS) values out. For
   these, actjit_forward/actjit_backward take X as one row of N values.
   Non-zero for a row-wise kernel. */
int actjit_is_rowwise(const actjit_kernel *k);

/* Output values per row for rows of COLS values: 0 when COLS is not
   allowed (glu needs an even length, maxout(x, k) a multiple of k).
   COLS for an elementwise kernel. */
size_t actjit_output_cols(const actjit_kernel *k, size_t cols);

/* Y (ROWS x output_cols, row-major) = f of each row of X (ROWS x COLS).
   X and Y may be the same array. Elementwise kernels take ROWS * COLS
   values. Returns 0 on success, non-zero on misuse (also a COLS the
   function does not allow). */
int actjit_forward_rows(const actjit_kernel *k, const void *x, void *y,
                        size_t rows, size_t cols, const double *params);

/* The vector-Jacobian product of each row: DX (ROWS x COLS) = DY^T J(x)
   with DY of ROWS x output_cols values; when DPARAMS is not NULL, it gets
   the sum over rows of DY^T df/dp_j. DX may alias DY. */
int actjit_backward_rows(const actjit_kernel *k, const void *x, const void *dy,
                         void *dx, size_t rows, size_t cols,
                         const double *params, double *dparams);

/* Non-zero when the vector-Jacobian product can take the output Y of
   actjit_forward_rows instead of X (softmax, softmin). */
int actjit_backward_from_output(const actjit_kernel *k);

/* DX = DY^T J of each row from Y = f(X) (ROWS x COLS, the output of
   actjit_forward_rows) instead of X; compiled on first use. DX may alias
   DY or Y. Non-zero where actjit_backward_from_output(K) is 0. */
int actjit_backward_rows_from_output(const actjit_kernel *k, const void *y,
                                     const void *dy, void *dx, size_t rows,
                                     size_t cols);

/* Threads one kernel call on a large array may use (process-wide; default:
   ACTJIT_NUM_THREADS, else the hardware threads). 0 is taken as 1. */
void actjit_set_threads(unsigned n);
unsigned actjit_get_threads(void);

/* Releases K. K may be NULL. */
void actjit_kernel_release(actjit_kernel *k);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *actjit_version(void);

/* The library's version as MAJOR * 10000 + MINOR * 100 + PATCH, to compare
   with ACTJIT_VERSION (the version of the header a program was built with). */
int actjit_version_number(void);

#define ACTJIT_VERSION \
  (ACTJIT_VERSION_MAJOR * 10000 + ACTJIT_VERSION_MINOR * 100 + ACTJIT_VERSION_PATCH)

#ifdef __cplusplus
}
#endif

#endif /* ACTJIT_H */
