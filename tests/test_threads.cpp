// Concurrency: 8 threads compiling (distinct and identical functions) and
// running kernels at once, on one runtime; kernels outliving their runtime.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "actjit/actjit.hpp"
#include "support.hpp"

using namespace actjit;

TEST_CASE("8 threads compile and run kernels at once", "[threads]") {
  Runtime rt;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int round = 0; round < 6; ++round) {
          // Half the sources are shared by all threads, half are distinct.
          std::string src = round % 2 ? "x * tanh(softplus(" + std::to_string(round) + " * x))"
                                      : "x * sigmoid(" + std::to_string(t + 1) + ".25 * x) + " + std::to_string(round);
          DType dtype = (t + round) % 2 ? DType::F64 : DType::F32;
          Kernel k = rt.compile(src, dtype);
          Program p = actjit::test::program(src);
          std::vector<double> x(257), y(257), dx(257), ones(257, 1.0);
          for (size_t i = 0; i < x.size(); ++i) x[i] = -8 + 16.0 * double(i) / 256;
          if (dtype == DType::F64) {
            k.forward(std::span<const double>(x), std::span<double>(y));
            k.backward(std::span<const double>(x), std::span<const double>(ones), std::span<double>(dx));
            for (size_t i = 0; i < x.size(); ++i) {
              double f = actjit::test::eval<double>(p, p.value, x[i]);
              double d = actjit::test::eval<double>(p, p.d_x, x[i]);
              if (std::fabs(f - y[i]) > 1e-12 * std::max(1.0, std::fabs(f)) ||
                  std::fabs(d - dx[i]) > 1e-12 * std::max(1.0, std::fabs(d)))
                ++failures;
            }
          } else {
            std::vector<float> xf(x.begin(), x.end()), yf(x.size());
            k.forward(std::span<const float>(xf), std::span<float>(yf));
            for (size_t i = 0; i < x.size(); ++i) {
              float f = actjit::test::eval<float>(p, p.value, xf[i]);
              if (std::fabs(f - yf[i]) > 1e-5f * std::max(1.0f, std::fabs(f))) ++failures;
            }
          }
        }
      } catch (...) {
        failures += 1000;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
}

TEST_CASE("kernels stay valid after their runtime is gone", "[threads]") {
  Kernel k;
  {
    Runtime rt;
    k = rt.compile("gelu", DType::F32);
    rt.compile("mish", DType::F32);
  }
  std::vector<float> x{-1.0f, 0.0f, 2.0f}, y(3);
  k.forward(std::span<const float>(x), std::span<float>(y));
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == Approx(1.9544997f));
}

TEST_CASE("large arrays split across the pool give the same results as one thread", "[threads]") {
  Runtime& rt = actjit::test::shared_runtime();
  Kernel k = rt.compile("f(x, a = 0.7) = a * x * tanh(softplus(x))", DType::F32);
  Kernel sm = rt.compile("softmax", DType::F32);
  const size_t n = (size_t(1) << 20) + 37;
  std::vector<float> x(n), dy(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = float(std::sin(double(i) * 0.37) * 6);
    dy[i] = float(std::cos(double(i) * 0.11));
  }
  auto run_all = [&](unsigned threads, std::vector<float>& y, std::vector<float>& dx, std::vector<double>& dp,
                     std::vector<float>& sy, std::vector<float>& sdx) {
    set_threads(threads);
    y.assign(n, 0);
    dx.assign(n, 0);
    dp.assign(1, 0);
    k.forward(std::span<const float>(x), std::span<float>(y));
    k.backward(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), {}, std::span<double>(dp));
    const size_t cols = 1000, rows = n / cols;
    sy.assign(rows * cols, 0);
    sdx.assign(rows * cols, 0);
    sm.forward_rows(std::span<const float>(x).first(rows * cols), std::span<float>(sy), cols);
    sm.backward_rows(std::span<const float>(x).first(rows * cols), std::span<const float>(dy).first(rows * cols),
                     std::span<float>(sdx), cols);
  };
  unsigned before = threads();
  std::vector<float> y1, dx1, sy1, sdx1, y2, dx2, sy2, sdx2;
  std::vector<double> dp1, dp2;
  run_all(1, y1, dx1, dp1, sy1, sdx1);
  run_all(4, y2, dx2, dp2, sy2, sdx2);
  set_threads(before);
  CHECK(y1 == y2);
  CHECK(dx1 == dx2);
  CHECK(sy1 == sy2);
  CHECK(sdx1 == sdx2);
  // The parameter gradient is summed per piece, then added: rounding only.
  CHECK(dp2[0] == Approx(dp1[0]).epsilon(1e-12));
}

TEST_CASE("concurrent large calls share the pool without waiting on each other", "[threads]") {
  Runtime& rt = actjit::test::shared_runtime();
  Kernel k = rt.compile("mish", DType::F64);
  const size_t n = size_t(1) << 18;
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = double(i % 1000) / 100 - 5;
  std::vector<double> want(n);
  k.forward(std::span<const double>(x), std::span<double>(want));
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      std::vector<double> y(n);
      for (int r = 0; r < 10; ++r) {
        k.forward(std::span<const double>(x), std::span<double>(y));
        if (y != want) ++bad;
      }
    });
  for (auto& c : callers) c.join();
  CHECK(bad == 0);
}
