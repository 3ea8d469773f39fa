/* Example 4: the C ABI from plain C. */
#include <actjit/actjit.h>
#include <stdio.h>

int main(void) {
  char err[256];
  actjit_runtime *rt = actjit_runtime_create_ex(err, sizeof err);
  if (!rt) {
    fprintf(stderr, "cannot start actjit: %s\n", err);
    return 1;
  }
  /* A mistake first: errors come back as "LINE:COL: message". */
  if (!actjit_compile(rt, "x * sigmod(x)", ACTJIT_F32, err, sizeof err)) printf("error: %s\n", err);

  actjit_kernel *k = actjit_compile(rt, "pelu(x, a = 1.5, b = 2) = where(x > 0, (a / b) * x, a * expm1(x / b))",
                                    ACTJIT_F32, err, sizeof err);
  if (!k) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  for (size_t i = 0; i < actjit_param_count(k); ++i)
    printf("parameter %s = %g\n", actjit_param_name(k, i), actjit_param_default(k, i));

  float x[6] = {-2, -1, 0, 0.5f, 1, 2}, y[6], dy[6] = {1, 1, 1, 1, 1, 1}, dx[6];
  double params[2] = {1.0, 3.0}, dparams[2];
  if (actjit_forward(k, x, y, 6, params) || actjit_backward(k, x, dy, dx, 6, params, dparams)) return 1;
  for (int i = 0; i < 6; ++i) printf("x = %5.2f  f = %9.6f  df/dx = %9.6f\n", x[i], y[i], dx[i]);
  printf("sum df/da = %.6f, sum df/db = %.6f\n", dparams[0], dparams[1]);
  actjit_kernel_release(k);
  actjit_runtime_destroy(rt);
  return 0;
}
