// Example 2: define a new activation with a learnable parameter from text,
// and fit the parameter by gradient descent using the parameter gradient the
// backward kernel returns (no hand-written derivative anywhere).
#include <actjit/actjit.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  actjit::Runtime rt;
  // A swish with a learnable slope, written by the user.
  actjit::Kernel k = rt.compile("my_swish(x, beta = 1) = x * sigmoid(beta * x)", actjit::DType::F64);
  std::printf("parameters: %s = %g\n", k.params()[0].name.c_str(), k.params()[0].default_value);

  // Targets made with beta = 2.5; start from the default and recover it.
  const size_t n = 256;
  std::vector<double> x(n), target(n), y(n), dy(n), dx(n);
  for (size_t i = 0; i < n; ++i) x[i] = -4 + 8.0 * double(i) / double(n - 1);
  k.forward(x, target, std::vector<double>{2.5});

  std::vector<double> beta{1.0}, dbeta(1);
  for (int step = 0; step <= 400; ++step) {
    k.forward(x, y, beta);
    double loss = 0;
    for (size_t i = 0; i < n; ++i) {
      dy[i] = 2 * (y[i] - target[i]) / double(n);  // d(mean squared error)/dy
      loss += (y[i] - target[i]) * (y[i] - target[i]) / double(n);
    }
    k.backward(x, dy, dx, beta, dbeta);
    if (step % 80 == 0) std::printf("step %3d  loss %.3e  beta %.6f\n", step, loss, beta[0]);
    beta[0] -= 40.0 * dbeta[0];
  }
  std::printf("recovered beta = %.6f (true 2.5)\n", beta[0]);
  return std::fabs(beta[0] - 2.5) < 1e-3 ? 0 : 1;
}
