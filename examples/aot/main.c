/* Example: activations compiled ahead of time with
 *   actjit compile defs.act -o libmyacts.a --header myacts.h
 * called from C with no LLVM and no actjit runtime at run time. */
#include <stdio.h>

#include "myacts.h"

int main(void) {
  float x[8] = {-4, -2, -1, -0.5f, 0, 0.5f, 1, 3}, y[8], dy[8], dx[8];
  for (int i = 0; i < 8; ++i) dy[i] = 1;
  double beta[1] = {1.5}, dbeta[1];

  myacts_my_swish_f32_forward(x, y, 8, beta);
  myacts_my_swish_f32_backward(x, dy, dx, 8, beta, dbeta);
  printf("my_swish(x, beta = %g)\n", beta[0]);
  for (int i = 0; i < 8; ++i) printf("  x = %5.2f  f = %10.6f  df/dx = %9.6f\n", x[i], y[i], dx[i]);
  printf("  sum df/dbeta = %.6f\n", dbeta[0]);

  myacts_soft_clip_f32_forward(x, y, 8, myacts_soft_clip_defaults);
  printf("soft_clip(x, c = %g):", myacts_soft_clip_defaults[0]);
  for (int i = 0; i < 8; ++i) printf(" %.4f", y[i]);
  printf("\n");

  double xd[3] = {-1, 0, 1}, yd[3];
  myacts_telu_like_f64_forward(xd, yd, 3, NULL); /* no parameters: NULL is fine */
  printf("telu_like(-1, 0, 1) = %.17g %.17g %.17g\n", yd[0], yd[1], yd[2]);
  return 0;
}
