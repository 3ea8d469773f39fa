// Example 1: compile a catalogue activation and run its forward and backward
// kernels on a std::vector.
#include <actjit/actjit.hpp>
#include <cstdio>
#include <vector>

int main() {
  actjit::Runtime rt;
  actjit::Kernel mish = rt.compile("mish", actjit::DType::F32);

  std::vector<float> x = {-3, -1, -0.5f, 0, 0.5f, 1, 3};
  std::vector<float> y(x.size()), dy(x.size(), 1.0f), dx(x.size());
  mish.forward(x, y);
  mish.backward(x, dy, dx);

  std::printf("%8s %12s %12s\n", "x", "mish(x)", "mish'(x)");
  for (size_t i = 0; i < x.size(); ++i) std::printf("%8.2f %12.6f %12.6f\n", x[i], y[i], dx[i]);
  return 0;
}
