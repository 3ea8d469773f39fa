// The C ABI (actjit.h): compile, errors in the caller's buffer, parameter
// queries, forward/backward with parameter gradients, misuse, lifetimes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "actjit/actjit.h"

TEST_CASE("compile - query parameters - run forward and backward", "[c_api]") {
  actjit_runtime* rt = actjit_runtime_create();
  REQUIRE(rt);
  char err[256] = "untouched";
  actjit_kernel* k = actjit_compile(rt, "leaky_relu", ACTJIT_F32, err, sizeof err);
  REQUIRE(k);
  CHECK(actjit_kernel_dtype(k) == ACTJIT_F32);
  REQUIRE(actjit_param_count(k) == 1);
  CHECK(std::string(actjit_param_name(k, 0)) == "alpha");
  CHECK(actjit_param_default(k, 0) == 0.01);
  CHECK(actjit_param_name(k, 1) == nullptr);
  CHECK(std::isnan(actjit_param_default(k, 1)));

  float x[5] = {-2, -1, 0, 1, 2}, y[5], dy[5] = {1, 1, 1, 1, 1}, dx[5];
  REQUIRE(actjit_forward(k, x, y, 5, nullptr) == 0);
  CHECK(y[0] == -0.02f);
  CHECK(y[4] == 2.0f);
  double alpha = 0.5;
  REQUIRE(actjit_forward(k, x, y, 5, &alpha) == 0);
  CHECK(y[0] == -1.0f);
  double dalpha = -1;
  REQUIRE(actjit_backward(k, x, dy, dx, 5, &alpha, &dalpha) == 0);
  CHECK(dx[0] == 0.5f);
  CHECK(dx[3] == 1.0f);
  CHECK(dalpha == -3.0);  // sum of x over x <= 0
  REQUIRE(actjit_backward(k, x, dy, dy, 5, nullptr, nullptr) == 0);  // dx aliases dy
  CHECK(dy[0] == 0.01f);
  actjit_kernel_release(k);
  actjit_runtime_destroy(rt);
}

TEST_CASE("errors are written as LINE:COL: message - truncated to the buffer", "[c_api]") {
  actjit_runtime* rt = actjit_runtime_create();
  char err[256];
  CHECK(actjit_compile(rt, "(x + 1", ACTJIT_F64, err, sizeof err) == nullptr);
  CHECK(std::string(err) == "1:7: expected ')' to close '(' at 1:1, found end of input");
  char small[8];
  CHECK(actjit_compile(rt, "foo(x)", ACTJIT_F64, small, sizeof small) == nullptr);
  CHECK(std::string(small) == "1:1: un");
  CHECK(actjit_compile(rt, "foo(x)", ACTJIT_F64, nullptr, 0) == nullptr);  // no buffer: fine
  CHECK(actjit_compile(rt, nullptr, ACTJIT_F64, err, sizeof err) == nullptr);
  CHECK(actjit_compile(nullptr, "x", ACTJIT_F64, err, sizeof err) == nullptr);
  CHECK(actjit_compile(rt, "x", (actjit_dtype)7, err, sizeof err) == nullptr);
  actjit_runtime_destroy(rt);
}

TEST_CASE("misuse returns non-zero instead of crashing", "[c_api]") {
  double x = 1, y;
  CHECK(actjit_forward(nullptr, &x, &y, 1, nullptr) != 0);
  CHECK(actjit_backward(nullptr, &x, &x, &y, 1, nullptr, nullptr) != 0);
  CHECK(actjit_param_count(nullptr) == 0);
  actjit_kernel_release(nullptr);
  actjit_runtime_destroy(nullptr);
  actjit_runtime* rt = actjit_runtime_create();
  actjit_kernel* k = actjit_compile(rt, "x * 2", ACTJIT_F64, nullptr, 0);
  CHECK(actjit_forward(k, nullptr, &y, 1, nullptr) != 0);
  CHECK(actjit_forward(k, nullptr, nullptr, 0, nullptr) == 0);  // nothing to do
  actjit_kernel_release(k);
  actjit_runtime_destroy(rt);
  CHECK(std::string(actjit_version()) == "0.1.0");
  CHECK(actjit_version_number() == ACTJIT_VERSION);
  CHECK(ACTJIT_VERSION == 100);
}

TEST_CASE("kernels outlive the runtime and other compilations", "[c_api]") {
  actjit_runtime* rt = actjit_runtime_create();
  actjit_kernel* k = actjit_compile(rt, "swish(x, beta = 2) = x * sigmoid(beta * x)", ACTJIT_F64, nullptr, 0);
  REQUIRE(k);
  for (int i = 0; i < 20; ++i) actjit_kernel_release(actjit_compile(rt, ("x + " + std::to_string(i)).c_str(), ACTJIT_F32, nullptr, 0));
  actjit_runtime_destroy(rt);
  double x = 1, y, dy = 1, dx, dbeta;
  REQUIRE(actjit_forward(k, &x, &y, 1, nullptr) == 0);
  CHECK(y == Approx(1 / (1 + std::exp(-2.0))));
  REQUIRE(actjit_backward(k, &x, &dy, &dx, 1, nullptr, &dbeta) == 0);
  double s = 1 / (1 + std::exp(-2.0));
  CHECK(dbeta == Approx(s * (1 - s)));  // d/dbeta x*sigmoid(beta x) at x = 1
  actjit_kernel_release(k);
}

TEST_CASE("the C ABI is safe from several threads", "[c_api]") {
  actjit_runtime* rt = actjit_runtime_create();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::string src = "x * " + std::to_string(t % 3 + 1) + " + tanh(x)";
        actjit_kernel* k = actjit_compile(rt, src.c_str(), ACTJIT_F64, nullptr, 0);
        double x = 0.5, y = 0;
        if (!k || actjit_forward(k, &x, &y, 1, nullptr) != 0 || std::fabs(y - (0.5 * (t % 3 + 1) + std::tanh(0.5))) > 1e-15)
          ++bad;
        actjit_kernel_release(k);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  actjit_runtime_destroy(rt);
}

TEST_CASE("softmax's backward from its output y", "[c_api]") {
  actjit_runtime* rt = actjit_runtime_create();
  REQUIRE(rt);
  actjit_kernel* sm = actjit_compile(rt, "softmax", ACTJIT_F64, nullptr, 0);
  REQUIRE(sm);
  CHECK(actjit_backward_from_output(sm) == 1);
  CHECK(actjit_backward_from_output(nullptr) == 0);
  double x[6] = {1, 2, 3, -1, 0, 1}, y[6], dy[6] = {1, 0, 0, 0, 1, -1}, from_x[6], from_y[6];
  REQUIRE(actjit_forward_rows(sm, x, y, 2, 3, nullptr) == 0);
  REQUIRE(actjit_backward_rows(sm, x, dy, from_x, 2, 3, nullptr, nullptr) == 0);
  REQUIRE(actjit_backward_rows_from_output(sm, y, dy, from_y, 2, 3) == 0);
  for (int i = 0; i < 6; ++i) CHECK(from_y[i] == Approx(from_x[i]).margin(1e-15));
  CHECK(actjit_backward_rows_from_output(nullptr, y, dy, from_y, 2, 3) != 0);
  CHECK(actjit_backward_rows_from_output(sm, nullptr, dy, from_y, 2, 3) != 0);
  actjit_kernel_release(sm);
  actjit_runtime_destroy(rt);
}

TEST_CASE("row-wise entry points: rows x cols - output_cols - vector-Jacobian products", "[c_api]") {
  actjit_runtime* rt = actjit_runtime_create();
  REQUIRE(rt);
  actjit_kernel* glu = actjit_compile(rt, "glu", ACTJIT_F64, nullptr, 0);
  actjit_kernel* relu = actjit_compile(rt, "relu", ACTJIT_F64, nullptr, 0);
  REQUIRE(glu);
  REQUIRE(relu);
  CHECK(actjit_is_rowwise(glu) == 1);
  CHECK(actjit_is_rowwise(relu) == 0);
  CHECK(actjit_is_rowwise(nullptr) == 0);
  CHECK(actjit_output_cols(glu, 4) == 2);
  CHECK(actjit_output_cols(glu, 3) == 0);
  CHECK(actjit_output_cols(relu, 3) == 3);
  // Two rows of 4: y[r][j] = x[r][j] * sigmoid(x[r][j + 2]).
  double x[8] = {1, 2, 0, 0, -1, 3, 100, -100}, y[4], dy[4] = {1, 1, 2, 2}, dx[8];
  REQUIRE(actjit_forward_rows(glu, x, y, 2, 4, nullptr) == 0);
  CHECK(y[0] == 0.5);
  CHECK(y[1] == 1.0);
  CHECK(y[2] == -1.0);
  CHECK(y[3] == Approx(3.0 / (1.0 + std::exp(100.0))));
  REQUIRE(actjit_backward_rows(glu, x, dy, dx, 2, 4, nullptr, nullptr) == 0);
  CHECK(dx[0] == 0.5);   // dy * sigmoid(0)
  CHECK(dx[2] == 0.25);  // dy * a * sigmoid'(0) = 1 * 1 * 0.25
  CHECK(dx[4] == 2.0);   // 2 * sigmoid(100)
  CHECK(actjit_forward_rows(glu, x, y, 1, 3, nullptr) != 0);  // odd row length
  CHECK(actjit_forward_rows(nullptr, x, y, 1, 4, nullptr) != 0);
  CHECK(actjit_forward_rows(glu, nullptr, y, 1, 4, nullptr) != 0);
  // actjit_forward takes a row-wise function's x as one row.
  REQUIRE(actjit_forward(glu, x, y, 4, nullptr) == 0);
  CHECK(y[0] == 0.5);
  // glu's product needs x: no backward from the output.
  CHECK(actjit_backward_from_output(glu) == 0);
  CHECK(actjit_backward_rows_from_output(glu, y, dy, dx, 2, 4) != 0);
  actjit_kernel_release(glu);
  actjit_kernel_release(relu);
  actjit_runtime_destroy(rt);
}

TEST_CASE("C ABI: actjit_forward_with_derivative", "[c_api]") {
  actjit_runtime* rt = actjit_runtime_create();
  REQUIRE(rt);
  char err[256];
  actjit_kernel* k = actjit_compile(rt, "leaky_relu", ACTJIT_F64, err, sizeof err);
  REQUIRE(k);
  double x[3] = {-2, 0.5, 3}, y[3], d[3], alpha = 0.25;
  REQUIRE(actjit_forward_with_derivative(k, x, y, d, 3, &alpha) == 0);
  CHECK(y[0] == -0.5);
  CHECK(d[0] == 0.25);
  CHECK(y[2] == 3);
  CHECK(d[2] == 1);
  CHECK(actjit_forward_with_derivative(nullptr, x, y, d, 3, nullptr) != 0);
  CHECK(actjit_forward_with_derivative(k, x, y, nullptr, 3, nullptr) != 0);
  CHECK(actjit_forward_with_derivative(k, x, y, d, 0, nullptr) == 0);
  actjit_kernel* glu = actjit_compile(rt, "glu", ACTJIT_F64, err, sizeof err);
  REQUIRE(glu);
  CHECK(actjit_forward_with_derivative(glu, x, y, d, 2, nullptr) != 0);  // row-wise: none
  actjit_kernel_release(glu);
  actjit_kernel_release(k);
  actjit_runtime_destroy(rt);
}
