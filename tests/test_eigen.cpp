// Eigen interop (actjit/eigen.hpp): arrays, matrices (elementwise), Map and
// Ref, parameter gradients, and the errors for non-contiguous or mistyped
// arguments.
#include <catch2/catch.hpp>

#include <actjit/eigen.hpp>

#include "support.hpp"

using namespace actjit;

namespace {
Runtime& runtime() { return actjit::test::shared_runtime(); }
}  // namespace

TEST_CASE("ArrayXf and ArrayXd in, same shape out", "[eigen]") {
  Kernel k = runtime().compile("x * 2 + 1", DType::F32);
  Eigen::ArrayXf x = Eigen::ArrayXf::LinSpaced(37, -3, 3);
  Eigen::ArrayXf y = forward(k, x);
  REQUIRE(y.size() == 37);
  CHECK(((y - (2 * x + 1)).abs() == 0).all());
  Kernel kd = runtime().compile("x * 2 + 1", DType::F64);
  Eigen::ArrayXd xd = x.cast<double>();
  Eigen::ArrayXd yd = forward(kd, xd);
  CHECK(yd(36) == 7.0);
}

TEST_CASE("matrices are treated elementwise, column- and row-major", "[eigen]") {
  Kernel k = runtime().compile("relu", DType::F64);
  Eigen::MatrixXd m(3, 4);
  m << 1, -2, 3, -4, -5, 6, -7, 8, 9, -10, 11, -12;
  Eigen::MatrixXd r = forward(k, m);
  CHECK(r(0, 1) == 0);
  CHECK(r(2, 2) == 11);
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm = m;
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rr(3, 4);
  forward(k, rm, rr);
  CHECK(rr(1, 1) == 6);
  CHECK(rr(1, 0) == 0);
}

TEST_CASE("Map and Ref with contiguous storage work; gaps are refused", "[eigen]") {
  Kernel k = runtime().compile("leaky_relu", DType::F32);
  std::vector<float> buffer{-1, 2, -3, 4};
  Eigen::Map<Eigen::ArrayXf> map(buffer.data(), 4);
  Eigen::ArrayXf out(4);
  forward(k, map, out);
  CHECK(out(0) == -0.01f);
  Eigen::ArrayXf big = Eigen::ArrayXf::Constant(10, -1);
  Eigen::Ref<Eigen::ArrayXf> ref = big.segment(2, 5);
  Eigen::ArrayXf out5(5);
  forward(k, ref, out5);
  CHECK(out5(4) == -0.01f);
  Eigen::MatrixXf m = Eigen::MatrixXf::Ones(4, 4);
  Eigen::Ref<Eigen::MatrixXf, 0, Eigen::OuterStride<>> block = m.block(0, 0, 2, 2);  // columns with gaps
  Eigen::MatrixXf o(2, 2);
  CHECK_THROWS_AS(forward(k, block, o), std::invalid_argument);
}

TEST_CASE("backward with parameter gradients, and dtype mismatches", "[eigen]") {
  Kernel k = runtime().compile("elu", DType::F64);
  Eigen::ArrayXd x(3), dy(3), dx(3);
  x << -1, 0.5, 2;
  dy << 1, 1, 2;
  double dalpha = 0;
  backward(k, x, dy, dx, std::vector<double>{1.5}, std::span<double>(&dalpha, 1));
  CHECK(dx(0) == Approx(1.5 * std::exp(-1.0)));
  CHECK(dx(2) == 2.0);
  CHECK(dalpha == Approx(std::expm1(-1.0)));
  Eigen::ArrayXf xf(3);
  Eigen::ArrayXf yf(3);
  CHECK_THROWS_AS(forward(k, xf, yf), std::invalid_argument);
}
