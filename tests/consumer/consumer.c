/* Consumer (C): the installed C ABI, compiling a custom activation at run
 * time and calling forward and backward. */
#include <actjit/actjit.h>
#include <math.h>
#include <stdio.h>

int main(void) {
  char err[256];
  actjit_runtime *rt = actjit_runtime_create_ex(err, sizeof err);
  if (!rt) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  actjit_kernel *k = actjit_compile(rt, "x * sigmoid(1.702 * x)", ACTJIT_F32, err, sizeof err);
  if (!k) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  float x[3] = {-1.0f, 0.0f, 2.0f}, y[3], dy[3] = {1, 1, 1}, dx[3];
  if (actjit_forward(k, x, y, 3, NULL) || actjit_backward(k, x, dy, dx, 3, NULL, NULL)) return 1;
  for (int i = 0; i < 3; ++i) {
    double s = 1 / (1 + exp(-1.702 * x[i]));
    if (fabs(y[i] - x[i] * s) > 1e-6 || fabs(dx[i] - (s + 1.702 * x[i] * s * (1 - s))) > 1e-5) return 1;
  }
  if (actjit_compile(rt, "x +", ACTJIT_F32, err, sizeof err) != NULL) return 1;
  printf("consumer (C): ok; version %s; error reported as \"%s\"\n", actjit_version(), err);
  actjit_kernel_release(k);
  actjit_runtime_destroy(rt);
  return 0;
}
