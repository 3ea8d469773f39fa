// Concurrency: 8 threads compiling (distinct and identical functions) and
// running kernels at once, on one runtime; kernels outliving their runtime.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
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

TEST_CASE("row-wise parameter gradients split across the pool match one thread", "[threads]") {
  Runtime& rt = actjit::test::shared_runtime();
  Kernel k = rt.compile("g(x, t = 1.5) = softmax(x / t)", DType::F32);
  // 5 rows in 4 pieces (1, 1, 1 and 2 rows), each piece its own dparams, summed.
  const size_t cols = 32768, rows = 5, n = rows * cols;
  std::vector<float> x(n), dy(n), dx(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = float(std::sin(double(i) * 0.37) * 6);
    dy[i] = float(std::cos(double(i) * 0.11));
  }
  auto grad = [&](unsigned threads) {
    set_threads(threads);
    std::vector<double> dp(1, -7);  // written, not accumulated
    k.backward_rows(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), cols, {},
                    std::span<double>(dp));
    return dp[0];
  };
  unsigned before = threads();
  double one = grad(1);
  std::vector<float> dx1 = dx;
  double four = grad(4);
  set_threads(before);
  CHECK(dx == dx1);
  CHECK(std::isfinite(one));
  CHECK(four == Approx(one).epsilon(1e-12));
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

TEST_CASE("outputs of 16 MiB or more take streaming stores - the same values at any alignment", "[threads][streaming]") {
  // Above Kernel's kStreamingBytes the runtime calls kernels whose full
  // vectors are non-temporal stores (compiled on the first such call: one
  // LLVM compile each for the general and the defaults' program), from the
  // output's first 64-byte boundary on. Their results must equal the usual
  // kernels' (computed here in pieces of 1Mi, below the threshold), for
  // outputs at every offset within a cache line, in place too, with one
  // and two threads, with and without parameter gradients.
  // On AMD Zen swish's backward streams and its forward does not (lower::
  // streaming_stores_pay), which takes its build one register wide
  // instead (lower::narrow_forward_pays; two more compiles); elsewhere
  // both stream. leaky_relu's both stream everywhere.
  Runtime rt;
  rt.set_cache_dir("");
  const size_t n = (size_t(4) << 20) + 37, piece = size_t(1) << 20;
  for (const char* src : {"swish", "leaky_relu"}) {
    INFO(src);
    Kernel k = rt.compile(src, DType::F32);
    std::vector<float> x(n + 16), dy(n + 16);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = float(std::sin(double(i) * 0.37) * 6);
      dy[i] = float(std::cos(double(i) * 0.11));
    }
    unsigned before = threads();
    {  // the defaults' own (usual) kernels, compiled on their first call
      std::vector<float> small(64);
      k.forward(std::span<const float>(x).first(64), std::span<float>(small));
    }
    uint64_t compiles = rt.cache_stats().llvm_compiles;
    for (unsigned th : {1u, 2u}) {
      set_threads(th);
      for (size_t off : {0, 1, 3, 15}) {
        for (std::vector<double> params : {std::vector<double>{}, std::vector<double>{1.3}}) {
          INFO("threads " << th << ", output offset " << off << ", params " << params.size());
          std::span<const float> xs(x.data() + off, n), dys(dy.data() + off, n);
          std::vector<float> y(n + 16, -123.0f), want(n), dx(n + 16, -123.0f), dx_want(n);
          std::vector<double> dp(1), dp_want(1), dp_piece(1);
          k.forward(xs, std::span<float>(y.data() + off, n), params);
          k.backward(xs, dys, std::span<float>(dx.data() + off, n), params, std::span<double>(dp));
          for (size_t b = 0; b < n; b += piece) {
            size_t m = std::min(piece, n - b);
            k.forward(xs.subspan(b, m), std::span<float>(want.data() + b, m), params);
            k.backward(xs.subspan(b, m), dys.subspan(b, m), std::span<float>(dx_want.data() + b, m), params,
                       std::span<double>(dp_piece));
            dp_want[0] += dp_piece[0];
          }
          CHECK(std::equal(want.begin(), want.end(), y.begin() + long(off)));
          CHECK(std::equal(dx_want.begin(), dx_want.end(), dx.begin() + long(off)));
          CHECK(dp[0] == Approx(dp_want[0]).epsilon(1e-12));
          bool untouched = true;  // outside the output: its first `off` elements and the last 16 - off
          for (size_t i = 0; i < y.size(); ++i)
            if ((i < off || i >= off + n) && (y[i] != -123.0f || dx[i] != -123.0f)) untouched = false;
          CHECK(untouched);
          // dx only (no parameter gradient asked for: at the defaults, their
          // own kernels), and in place.
          std::fill(dx.begin(), dx.end(), 0.0f);
          k.backward(xs, dys, std::span<float>(dx.data() + off, n), params);
          for (size_t b = 0; b < n; b += piece) {
            size_t m = std::min(piece, n - b);
            k.backward(xs.subspan(b, m), dys.subspan(b, m), std::span<float>(dx_want.data() + b, m), params);
          }
          CHECK(std::equal(dx_want.begin(), dx_want.end(), dx.begin() + long(off)));
          std::vector<float> inplace(x);
          k.forward(std::span<const float>(inplace.data() + off, n), std::span<float>(inplace.data() + off, n), params);
          CHECK(std::equal(want.begin(), want.end(), inplace.begin() + long(off)));
        }
      }
    }
    set_threads(before);
    // The general and the defaults' streaming builds, once each (swish's
    // defaults' program, beta = 1, is its own; leaky_relu has none: alpha
    // costs the same as a constant), on AMD Zen swish's forward builds one
    // register wide likewise, and those that keep x in place (swish's
    // forward may leave lanes to the float64 pass; Program::keep_input).
    const uint64_t swish_builds = test::every_kernel_streams() ? 4 : 6;
    CHECK(rt.cache_stats().llvm_compiles - compiles == (std::string(src) == "swish" ? swish_builds : 1));
  }
  // Float64 too (8 bytes an element: 2Mi of them).
  Kernel s = rt.compile("sigmoid", DType::F64);
  const size_t n64 = (size_t(2) << 20) + 3;
  std::vector<double> x64(n64 + 1), y64(n64 + 1), want64(n64);
  for (size_t i = 0; i < x64.size(); ++i) x64[i] = std::sin(double(i) * 0.37) * 20;
  s.forward(std::span<const double>(x64.data() + 1, n64), std::span<double>(y64.data() + 1, n64));
  for (size_t b = 0; b < n64; b += piece)
    s.forward(std::span<const double>(x64.data() + 1 + b, std::min(piece, n64 - b)),
              std::span<double>(want64.data() + b, std::min(piece, n64 - b)));
  CHECK(std::equal(want64.begin(), want64.end(), y64.begin() + 1));
}

TEST_CASE("heavy kernels keep plain stores out of cache on AMD Zen - light ones stream everywhere",
          "[threads][streaming]") {
  // Streaming stores slowed the heavier bodies down out of cache on AMD
  // Zen and ran them faster on Intel (lower::streaming_stores_pay): relu's
  // forward and backward take them (one streaming build), gelu's neither
  // (none) on Zen, both (one build) elsewhere; the values are the same.
  Runtime rt;
  rt.set_cache_dir("");
  const size_t n = size_t(5) << 20, piece = size_t(1) << 20;
  std::vector<float> x(n), dy(n), y(n), dx(n), want(n), dx_want(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = float(std::sin(double(i) * 0.37) * 6);
    dy[i] = float(std::cos(double(i) * 0.11));
  }
  for (const char* src : {"gelu", "relu"}) {
    INFO(src);
    Kernel k = rt.compile(src, DType::F32);
    for (size_t b = 0; b < n; b += piece) {
      k.forward(std::span<const float>(x).subspan(b, piece), std::span<float>(want).subspan(b, piece));
      k.backward(std::span<const float>(x).subspan(b, piece), std::span<const float>(dy).subspan(b, piece),
                 std::span<float>(dx_want).subspan(b, piece));
    }
    uint64_t compiles = rt.cache_stats().llvm_compiles;
    k.forward(std::span<const float>(x), std::span<float>(y));
    k.backward(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx));
    const bool streams = std::string(src) == "relu" || test::every_kernel_streams();
    CHECK(rt.cache_stats().llvm_compiles == compiles + (streams ? 1 : 0));
    CHECK(want == y);
    CHECK(dx_want == dx);
  }
}

TEST_CASE("forwards two registers wide in cache run one register wide on large outputs on AMD Zen",
          "[threads][streaming]") {
  // Two registers a loop ran 6-13% slower out of cache with plain stores
  // on AMD Zen (lower::narrow_forward_pays): sigmoid's and mish's forwards
  // take a build one register wide (one compile, its forward alone) for
  // outputs of 16 MiB or more; gelu's (four wide) and relu's (one) none.
  // Elsewhere every forward streams (one streaming build each) and none
  // narrows. The same values as the usual kernel's, with one and two
  // threads, in place too.
  Runtime rt;
  rt.set_cache_dir("");
  const size_t n = (size_t(4) << 20) + 21, piece = size_t(1) << 20;
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = float(std::sin(double(i) * 0.37) * 9);
  unsigned before = threads();
  for (const char* src : {"sigmoid", "mish", "gelu"}) {
    INFO(src);
    Kernel k = rt.compile(src, DType::F32);
    std::vector<float> want(n);
    for (size_t b = 0; b < n; b += piece) {
      size_t m = std::min(piece, n - b);
      k.forward(std::span<const float>(x).subspan(b, m), std::span<float>(want).subspan(b, m));
    }
    uint64_t compiles = rt.cache_stats().llvm_compiles;
    for (unsigned th : {1u, 2u}) {
      set_threads(th);
      std::vector<float> y(n), inplace(x);
      k.forward(std::span<const float>(x), std::span<float>(y));
      CHECK(want == y);
      k.forward(std::span<const float>(inplace), std::span<float>(inplace));
      CHECK(want == inplace);
    }
    // (and sigmoid's and mish's builds that keep x for the in-place calls)
    const uint64_t large_builds = test::every_kernel_streams() ? 1 : std::string(src) == "gelu" ? 0 : 1;
    CHECK(rt.cache_stats().llvm_compiles - compiles == large_builds + (std::string(src) == "gelu" ? 0 : 1));
  }
  set_threads(before);
}

TEST_CASE("calls whose arrays together pass the L3 size stream a smaller output", "[threads][streaming]") {
  // A backward reads two arrays and writes a third: at 3Mi floats (12 MiB
  // each, 36 MiB in all) its output would not stay in the caches, and it
  // streams; a forward of the same size (24 MiB in all) does not.
  Runtime rt;
  rt.set_cache_dir("");
  Kernel k = rt.compile("sigmoid", DType::F32);
  const size_t n = size_t(3) << 20, piece = size_t(1) << 20;
  std::vector<float> x(n), dy(n), y(n), dx(n), want(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = float(std::sin(double(i) * 0.37) * 6);
    dy[i] = float(std::cos(double(i) * 0.11));
  }
  uint64_t compiles = rt.cache_stats().llvm_compiles;
  k.forward(std::span<const float>(x), std::span<float>(y));
  CHECK(rt.cache_stats().llvm_compiles == compiles);  // no streaming build
  k.backward(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx));
  CHECK(rt.cache_stats().llvm_compiles == compiles + 1);  // the streaming build
  for (size_t b = 0; b < n; b += piece)
    k.backward(std::span<const float>(x).subspan(b, piece), std::span<const float>(dy).subspan(b, piece),
               std::span<float>(want).subspan(b, piece));
  CHECK(want == dx);
  // Row-wise: softmax's backward from y on 4194 rows of 1000 floats
  // (16,776,000 bytes an array, under 16 MiB; 50 MB in all).
  Kernel sm = rt.compile("softmax", DType::F32);
  const size_t rows = 4194, cols = 1000;
  std::vector<float> ys(rows * cols), g(rows * cols), dxs(rows * cols), dxs_want(rows * cols);
  for (size_t i = 0; i < ys.size(); ++i) {
    ys[i] = float(1e-3 * (1 + std::sin(double(i) * 0.37)));
    g[i] = float(std::cos(double(i) * 0.11));
  }
  sm.backward_rows_from_output(std::span<const float>(ys).first(cols), std::span<const float>(g).first(cols),
                               std::span<float>(dxs).first(cols), cols);  // compiles the usual kernel
  compiles = rt.cache_stats().llvm_compiles;
  sm.backward_rows_from_output(std::span<const float>(ys), std::span<const float>(g), std::span<float>(dxs), cols);
  CHECK(rt.cache_stats().llvm_compiles == compiles + 1);
  for (size_t r = 0; r < rows; r += 1000) {
    size_t m = std::min<size_t>(1000, rows - r) * cols;
    sm.backward_rows_from_output(std::span<const float>(ys).subspan(r * cols, m), std::span<const float>(g).subspan(r * cols, m),
                                 std::span<float>(dxs_want).subspan(r * cols, m), cols);
  }
  CHECK(dxs_want == dxs);
}

TEST_CASE("row-wise outputs of 16 MiB or more take streaming stores - the same values at any alignment", "[threads][streaming]") {
  // Row-wise kernels that write what they do not read back (log_softmax's
  // forward, glu's, the backward from the output y; not softmax's forward,
  // which keeps exp(x - max) in y) stream their rows from each row's first
  // 64-byte boundary, a masked head before it (rows not all aligned: from
  // 512 bytes a row). The same values as the usual kernels (in pieces
  // below the threshold), rows of any length and alignment, 1 and 2
  // threads; nothing written outside the output (the head vector's
  // masked-off lanes lie before the row, and before the array for the
  // first).
  Runtime rt;
  rt.set_cache_dir("");
  Kernel ls = rt.compile("log_softmax", DType::F32);
  Kernel sm = rt.compile("softmax", DType::F32);
  Kernel glu = rt.compile("glu", DType::F32);
  unsigned before = threads();
  uint64_t compiles = rt.cache_stats().llvm_compiles;
  for (unsigned th : {1u, 2u}) {
    set_threads(th);
    for (size_t cols : {128, 1000, 34, 4096, 6}) {
      const size_t rows = ((size_t(4) << 20) + cols - 1) / cols + 1, n = rows * cols, piece_rows = rows / 5 + 1;
      std::vector<float> x(n + 16), dy(n + 16);
      for (size_t i = 0; i < x.size(); ++i) {
        x[i] = float(std::sin(double(i) * 0.37) * 6);
        dy[i] = float(std::cos(double(i) * 0.11));
      }
      // Outside the output (its first `off` elements and the last 16 - off).
      auto untouched = [&](const std::vector<float>& out, size_t off, size_t len) {
        for (size_t i = 0; i < out.size(); ++i)
          if ((i < off || i >= off + len) && out[i] != -123.0f) return false;
        return true;
      };
      for (size_t off : {0, 1, 7}) {
        INFO("threads " << th << ", cols " << cols << ", output offset " << off);
        std::span<const float> xs(x.data() + off, n), dys(dy.data() + off, n);
        auto pieces = [&](auto call, size_t out_cols, std::vector<float>& want) {
          for (size_t r = 0; r < rows; r += piece_rows) {
            size_t m = std::min(piece_rows, rows - r);
            call(r * cols, m * cols, std::span<float>(want.data() + r * out_cols, m * out_cols));
          }
        };
        // log_softmax forward and backward from y, softmax's backward from y.
        std::vector<float> y(n + 16, -123.0f), want(n), dx(n + 16, -123.0f), dx_want(n);
        ls.forward_rows(xs, std::span<float>(y.data() + off, n), cols);
        pieces([&](size_t b, size_t m, std::span<float> w) { ls.forward_rows(xs.subspan(b, m), w, cols); }, cols, want);
        CHECK(std::equal(want.begin(), want.end(), y.begin() + long(off)));
        std::span<const float> ys(want.data(), n);
        ls.backward_rows_from_output(ys, dys, std::span<float>(dx.data() + off, n), cols);
        pieces([&](size_t b, size_t m, std::span<float> w) { ls.backward_rows_from_output(ys.subspan(b, m), dys.subspan(b, m), w, cols); },
               cols, dx_want);
        CHECK(std::equal(dx_want.begin(), dx_want.end(), dx.begin() + long(off)));
        ls.backward_rows(xs, dys, std::span<float>(dx.data() + off, n), cols);
        pieces([&](size_t b, size_t m, std::span<float> w) { ls.backward_rows(xs.subspan(b, m), dys.subspan(b, m), w, cols); },
               cols, dx_want);
        CHECK(std::equal(dx_want.begin(), dx_want.end(), dx.begin() + long(off)));
        sm.forward_rows(xs, std::span<float>(y.data() + off, n), cols);
        pieces([&](size_t b, size_t m, std::span<float> w) { sm.forward_rows(xs.subspan(b, m), w, cols); }, cols, want);
        CHECK(std::equal(want.begin(), want.end(), y.begin() + long(off)));
        sm.backward_rows_from_output(ys, dys, std::span<float>(dx.data() + off, n), cols);
        pieces([&](size_t b, size_t m, std::span<float> w) { sm.backward_rows_from_output(ys.subspan(b, m), dys.subspan(b, m), w, cols); },
               cols, dx_want);
        CHECK(std::equal(dx_want.begin(), dx_want.end(), dx.begin() + long(off)));
        // glu: half rows out (rows of cols / 2 values).
        std::vector<float> g(n / 2 + 16, -123.0f), g_want(n / 2);
        glu.forward_rows(xs, std::span<float>(g.data() + off, n / 2), cols);
        pieces([&](size_t b, size_t m, std::span<float> w) { glu.forward_rows(xs.subspan(b, m), w, cols); }, cols / 2, g_want);
        CHECK(std::equal(g_want.begin(), g_want.end(), g.begin() + long(off)));
        CHECK(untouched(y, off, n));
        CHECK(untouched(dx, off, n));
        CHECK(untouched(g, off, n / 2));
      }
    }
  }
  set_threads(before);
  // Streaming builds were made (some of them: which depends on the row
  // lengths' wide kernels), and not for softmax's forward.
  CHECK(rt.cache_stats().llvm_compiles - compiles >= 3);
}
