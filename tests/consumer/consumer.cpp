// Consumer (C++): compiles a custom activation at run time through the
// installed actjit package and checks forward, backward and the parameter
// gradient against values computed here by hand.
#include <actjit/actjit.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  actjit::Runtime rt;
  actjit::Kernel k = rt.compile("scaled_tanh(x, a = 2) = a * tanh(x / a)", actjit::DType::F64);
  std::vector<double> x{-1.5, 0.25, 3.0}, y(3), dy{1, 1, 1}, dx(3), da(1);
  k.forward(x, y);
  k.backward(x, dy, dx, {}, da);
  double want_da = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double t = std::tanh(x[i] / 2);
    if (std::fabs(y[i] - 2 * t) > 1e-14 || std::fabs(dx[i] - (1 - t * t)) > 1e-14) {
      std::printf("mismatch at x = %g\n", x[i]);
      return 1;
    }
    want_da += t - (x[i] / 2) * (1 - t * t);
  }
  if (std::fabs(da[0] - want_da) > 1e-13) return 1;
  std::printf("consumer (C++): ok, d/da = %.15g\n", da[0]);
  return 0;
}
