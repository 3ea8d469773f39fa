// The float32 accuracy sweep of elementwise functions (tools/accuracy_sweep.cpp
// and tests/test_accuracy.cpp): a float32 kernel against the same
// function's float64 kernel over every stride-th float bit pattern. The
// catalogue is written in stable form, so the float64 kernel is a float64
// reference in stable form (its own error, ~1e-16, is far below a float
// ULP).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actjit/actjit.hpp"

namespace actjit::sweep {

/// |got - exact| in ULP of exact rounded to T (0 when both are the same
/// infinity or both NaN; inf when only one is non-finite). `exact` is in a
/// wider type: double for float, long double (or MPFR's value) for double.
template <class T, class Wide>
double ulp_error(T got, Wide exact) {
  if (std::isnan(exact)) return std::isnan(got) ? 0 : INFINITY;
  T rounded = T(exact);
  if (std::isinf(rounded) || std::isinf(got)) return got == rounded ? 0 : INFINITY;
  if (std::isnan(got)) return INFINITY;
  int e;
  std::frexp(rounded != 0 ? rounded : std::numeric_limits<T>::min(), &e);
  Wide ulp = std::ldexp(Wide(1), std::max(e, std::numeric_limits<T>::min_exponent) - std::numeric_limits<T>::digits);
  return double(std::fabs(Wide(got) - exact) / ulp);
}

struct Worst {
  double ulp = 0;
  double at = 0;      // the input
  uint64_t over = 0;  // backward: points over 8 ULP and over the absolute allowance (1e-7 in float)
  uint64_t inputs = 0;
  // backward: the largest error among the points off by more than that
  // allowance (the ones the bound of 8 ULP holds for), and its input
  double counted = 0, counted_at = 0;
  void merge(const Worst& o) {
    if (o.ulp > ulp) ulp = o.ulp, at = o.at;
    if (o.counted > counted) counted = o.counted, counted_at = o.counted_at;
    over += o.over;
    inputs += o.inputs;
  }
};

struct Result {
  Worst forward, backward;  // backward with dy = 1
};

/// The catalogue's public definitions, in order (helpers start with '_').
inline std::vector<std::string> catalogue_names() {
  std::vector<std::string> names;
  std::stringstream ss{std::string(Runtime::catalogue())};
  for (std::string line; std::getline(ss, line);) {
    size_t paren = line.find('(');
    if (line.empty() || !std::isalpha(static_cast<unsigned char>(line[0])) || paren == std::string::npos) continue;
    std::string name = line.substr(0, paren);
    if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) continue;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  // LANGUAGE.md's catalogue lists tanh(x) = tanh(x): the math function, not
  // a definition in the catalogue's text.
  if (std::find(names.begin(), names.end(), "tanh") == names.end()) names.push_back("tanh");
  return names;
}

/// Sweeps every stride-th float bit pattern (NaNs skipped) on `threads`
/// threads; call with actjit::set_threads(1) so kernels do not split again.
inline Result run(const Kernel& k32, const Kernel& k64, uint64_t stride, unsigned threads) {
  Result res;
  std::mutex mu;
  std::vector<std::thread> pool;
  const uint64_t total = uint64_t(1) << 32;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      constexpr size_t kChunk = size_t(1) << 16;
      std::vector<float> x, y, one, dx;
      std::vector<double> xd, yd, oned, dxd;
      Result mine;
      for (uint64_t start = uint64_t(t) * kChunk * stride; start < total; start += uint64_t(threads) * kChunk * stride) {
        x.clear();
        for (uint64_t bits = start; bits < std::min(total, start + kChunk * stride); bits += stride) {
          uint32_t u = uint32_t(bits);
          float v;
          std::memcpy(&v, &u, 4);
          if (!std::isnan(v)) x.push_back(v);
        }
        size_t n = x.size();
        y.resize(n), dx.resize(n), one.assign(n, 1.0f);
        xd.assign(x.begin(), x.end()), yd.resize(n), dxd.resize(n), oned.assign(n, 1.0);
        k32.forward(std::span<const float>(x), std::span<float>(y));
        k32.backward(std::span<const float>(x), std::span<const float>(one), std::span<float>(dx));
        k64.forward(std::span<const double>(xd), std::span<double>(yd));
        k64.backward(std::span<const double>(xd), std::span<const double>(oned), std::span<double>(dxd));
        Worst& f = mine.forward;
        Worst& b = mine.backward;
        for (size_t i = 0; i < n; ++i) {
          double ef = ulp_error(y[i], yd[i]);
          if (ef > f.ulp) f.ulp = ef, f.at = x[i];
          double eb = ulp_error(dx[i], dxd[i]);
          if (eb > b.ulp) b.ulp = eb, b.at = x[i];
          bool counted = !(std::fabs(double(dx[i]) - dxd[i]) <= 1e-7);
          if (counted && eb > b.counted) b.counted = eb, b.counted_at = x[i];
          if (eb > 8 && counted) ++b.over;
        }
        f.inputs += n;
        b.inputs += n;
      }
      std::lock_guard<std::mutex> lock(mu);
      res.forward.merge(mine.forward);
      res.backward.merge(mine.backward);
    });
  for (auto& th : pool) th.join();
  return res;
}

/// The parameter values the sweeps take, as multiples of the defaults.
inline constexpr double kParamScales[] = {1.0, 1.7, 0.3};

/// A float32 kernel against its float64 kernel with the parameters passed
/// at run time (the kernels a call with other than the defaults runs): the
/// forward, the backward (dy = 1) and each parameter's gradient.
struct ParamResult {
  Worst forward, backward;
  std::vector<Worst> params;
};

/// ParamResult at `params`, one input at a time (a kernel sums the
/// parameters' gradients over its inputs), over every stride-th float bit
/// pattern (NaNs skipped); `over` counts points over 8 ULP and 1e-7
/// absolute. Call with actjit::set_threads(1).
inline ParamResult run_params(const Kernel& k32, const Kernel& k64, const std::vector<double>& params,
                              uint64_t stride, unsigned threads) {
  const size_t np = params.size();
  ParamResult res{{}, {}, std::vector<Worst>(np)};
  std::mutex mu;
  std::vector<std::thread> pool;
  const uint64_t total = uint64_t(1) << 32;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ParamResult mine{{}, {}, std::vector<Worst>(np)};
      std::vector<double> dp32(np), dp64(np);
      for (uint64_t bits = uint64_t(t) * stride; bits < total; bits += uint64_t(threads) * stride) {
        uint32_t u = uint32_t(bits);
        float x;
        std::memcpy(&x, &u, 4);
        if (std::isnan(x)) continue;
        float one = 1, dx = 0, y = 0;
        double xd = x, oned = 1, dxd = 0, yd = 0;
        std::fill(dp32.begin(), dp32.end(), 0.0);
        std::fill(dp64.begin(), dp64.end(), 0.0);
        k32.forward(std::span<const float>(&x, 1), std::span<float>(&y, 1), params);
        k64.forward(std::span<const double>(&xd, 1), std::span<double>(&yd, 1), params);
        k32.backward(std::span<const float>(&x, 1), std::span<const float>(&one, 1), std::span<float>(&dx, 1), params, dp32);
        k64.backward(std::span<const double>(&xd, 1), std::span<const double>(&oned, 1), std::span<double>(&dxd, 1), params, dp64);
        double ef = ulp_error(y, yd), eb = ulp_error(dx, dxd);
        if (ef > mine.forward.ulp) mine.forward.ulp = ef, mine.forward.at = x;
        if (eb > mine.backward.ulp) mine.backward.ulp = eb, mine.backward.at = x;
        if (eb > 8 && !(std::fabs(double(dx) - dxd) <= 1e-7)) ++mine.backward.over;
        ++mine.forward.inputs, ++mine.backward.inputs;
        for (size_t j = 0; j < np; ++j) {
          Worst& w = mine.params[j];
          float got = float(dp32[j]);
          double e = ulp_error(got, dp64[j]);
          if (e > w.ulp) w.ulp = e, w.at = x;
          if (e > 8 && !(std::fabs(double(got) - dp64[j]) <= 1e-7)) ++w.over;
          ++w.inputs;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      res.forward.merge(mine.forward);
      res.backward.merge(mine.backward);
      for (size_t j = 0; j < np; ++j) res.params[j].merge(mine.params[j]);
    });
  for (auto& th : pool) th.join();
  return res;
}

}  // namespace actjit::sweep
