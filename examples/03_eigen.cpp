// Example 3: actjit kernels on Eigen arrays and matrices (elementwise).
#include <Eigen/Core>
#include <actjit/eigen.hpp>
#include <cstdio>
#include <iostream>

int main() {
  actjit::Runtime rt;
  actjit::Kernel gelu = rt.compile("gelu", actjit::DType::F32);

  Eigen::ArrayXf x = Eigen::ArrayXf::LinSpaced(5, -2, 2);
  Eigen::ArrayXf y = actjit::forward(gelu, x);
  std::cout << "x       = " << x.transpose() << "\ngelu(x) = " << y.transpose() << "\n";

  // A matrix is treated elementwise; gradients flow back through dy.
  Eigen::MatrixXd h = Eigen::MatrixXd::Random(3, 4);
  actjit::Kernel k = rt.compile("lrelu(x, alpha = 0.1) = leaky_relu(x, alpha = alpha)", actjit::DType::F64);
  Eigen::MatrixXd out(3, 4), grad_in(3, 4);
  actjit::forward(k, h, out);
  Eigen::MatrixXd grad_out = Eigen::MatrixXd::Ones(3, 4);
  double dalpha = 0;
  actjit::backward(k, h, grad_out, grad_in, {}, std::span<double>(&dalpha, 1));
  std::cout << "leaky_relu(h) =\n" << out << "\nd/dh =\n" << grad_in << "\nd/dalpha (summed) = " << dalpha << "\n";
  double want = (h.array() < 0).select(h.array(), 0.0).sum();
  return std::abs(dalpha - want) < 1e-12 ? 0 : 1;
}
