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
