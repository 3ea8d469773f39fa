// Ahead-of-time kernels (actjit compile) against the JIT's, for each --cpu
// level: bit-identical for native, within a few ULP for the others (SLEEF's
// per-ISA variants may round differently). Also where float32 loses lanes
// (subnormal results, NaN from an overflow): the AOT entry points recompute
// them with the float64 kernels as the runtime does after a JIT call, in
// place too.
#include <catch2/catch.hpp>

#include <cmath>
#include <iomanip>
#include <vector>

#include "actjit/actjit.hpp"
#include "aot_native.h"
#include "aot_v2.h"
#include "aot_v3.h"
#include "aot_v4.h"
#include "support.hpp"

namespace {

using Fwd32 = void (*)(const float*, float*, int64_t, const double*);
using Bwd32 = void (*)(const float*, const float*, float*, int64_t, const double*, double*);
using Fwd64 = void (*)(const double*, double*, int64_t, const double*);
using Bwd64 = void (*)(const double*, const double*, double*, int64_t, const double*, double*);

struct Entry {
  const char* name;
  Fwd32 f32;
  Bwd32 b32;
  Fwd64 f64;
  Bwd64 b64;
};

#define ENTRIES(P)                                                                                          \
  std::vector<Entry> {                                                                                      \
    {"g", P##_g_f32_forward, P##_g_f32_backward, P##_g_f64_forward, P##_g_f64_backward},                    \
        {"m", P##_m_f32_forward, P##_m_f32_backward, P##_m_f64_forward, P##_m_f64_backward},                \
        {"lr", P##_lr_f32_forward, P##_lr_f32_backward, P##_lr_f64_forward, P##_lr_f64_backward},           \
        {"pelu", P##_pelu_f32_forward, P##_pelu_f32_backward, P##_pelu_f64_forward, P##_pelu_f64_backward}, \
        {"ts", P##_ts_f32_forward, P##_ts_f32_backward, P##_ts_f64_forward, P##_ts_f64_backward},           \
        {"sq", P##_sq_f32_forward, P##_sq_f32_backward, P##_sq_f64_forward, P##_sq_f64_backward},           \
        {"sw", P##_sw_f32_forward, P##_sw_f32_backward, P##_sw_f64_forward, P##_sw_f64_backward},           \
        {"xxe", P##_xxe_f32_forward, P##_xxe_f32_backward, P##_xxe_f64_forward, P##_xxe_f64_backward}, {    \
      "spl", P##_spl_f32_forward, P##_spl_f32_backward, P##_spl_f64_forward, P##_spl_f64_backward           \
    }                                                                                                       \
  }

std::string defs() {
  return "g(x) = gelu(x)\nm(x) = mish(x)\nlr(x, alpha = 0.2) = leaky_relu(x, alpha = alpha)\n"
         "pelu(x, a = 1.5, b = 2) = where(x > 0, (a / b) * x, a * expm1(x / b))\nts(x) = tanhshrink(x)\n"
         "sq(x) = sqrt(x*x + 1) - 1\n"  // sqrt(u + 1) - 1: fmas where the CPU has them, a division on v2
         "sw(x, beta = 1) = swish(x, beta)\nxxe(x) = x*x*exp(x)\nspl(x) = softplus(x)\n";
}

template <class T>
bool near(T a, T b, double max_ulps) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return actjit::test::ulp_distance(a, b) <= max_ulps || std::fabs(double(a) - double(b)) < 1e-300;
}

/// Evenly spaced inputs on [-15, 15].
std::vector<double> grid() {
  std::vector<double> xd(1003);
  for (size_t i = 0; i < xd.size(); ++i) xd[i] = -15 + 30.0 * double(i) / double(xd.size());
  return xd;
}

/// Inputs where float32 loses lanes: results near and below the smallest
/// normal float (x in [-104, -86], where exp underflows), NaN from 0 * inf
/// (x*x*exp(x) at -1e30), and a sprinkle of ordinary values between them.
std::vector<double> lossy() {
  std::vector<double> xd;
  for (double v = -104; v < -86; v += 0.0371) xd.push_back(v);
  for (double v : {-1e30, -1e10, -800.0, -200.0, -120.0, -1.0, -1e-30, 0.0, 1e-40, 1.0, 88.0, 89.0, 100.0, 1e30})
    xd.push_back(v);
  for (size_t i = 0; i < 200; ++i) xd.push_back(-8 + 0.08 * double(i));
  return xd;
}

void compare(const std::vector<Entry>& entries, double max_ulps, const std::vector<double>& inputs = grid()) {
  actjit::Runtime rt;
  const size_t n = inputs.size();
  for (const Entry& e : entries) {
    INFO("definition " << e.name);
    actjit::Kernel k32 = rt.compile(defs() + e.name, actjit::DType::F32);
    actjit::Kernel k64 = rt.compile(defs() + e.name, actjit::DType::F64);
    std::vector<double> params = k32.default_params();
    for (double& p : params) p *= 1.25;  // not the defaults: parameters are run-time values
    const double* pp = params.empty() ? nullptr : params.data();
    std::vector<float> x(n), y(n), dy(n), dx(n), jy(n), jdx(n);
    std::vector<double> xd(n), yd(n), dyd(n), dxd(n), jyd(n), jdxd(n);
    for (size_t i = 0; i < n; ++i) {
      xd[i] = inputs[i];
      x[i] = float(xd[i]);
      dy[i] = float(dyd[i] = 0.5 + double(i % 3));
    }
    std::vector<double> dp(params.size()), jdp(params.size()), dpd(params.size()), jdpd(params.size());
    e.f32(x.data(), y.data(), int64_t(n), pp);
    e.b32(x.data(), dy.data(), dx.data(), int64_t(n), pp, dp.data());
    e.f64(xd.data(), yd.data(), int64_t(n), pp);
    e.b64(xd.data(), dyd.data(), dxd.data(), int64_t(n), pp, dpd.data());
    k32.forward(std::span<const float>(x), std::span<float>(jy), params);
    k32.backward(std::span<const float>(x), std::span<const float>(dy), std::span<float>(jdx), params, jdp);
    k64.forward(std::span<const double>(xd), std::span<double>(jyd), params);
    k64.backward(std::span<const double>(xd), std::span<const double>(dyd), std::span<double>(jdxd), params, jdpd);
    // float32 may differ from the JIT by more than max_ulps where the
    // function cancels (other instruction sets round differently: no FMA on
    // v2, two-factor scaling instead of vscalef); then it must be no
    // further from the float64 value than the JIT is, plus max_ulps, or
    // within 1e-7 of it (the absolute bound ACCURACY.md allows near zeros).
    // (For dx = dy f'(x) the allowance is 1e-7 |dy|: it bounds f'.)
    auto near32 = [&](float a, float jit, double exact, double scale = 1) {
      if (near(a, jit, max_ulps)) return true;
      if (!std::isfinite(a) || !std::isfinite(jit)) return false;
      double ulp = std::ldexp(1.0, std::ilogb(float(exact)) - 23);
      return std::fabs(a - exact) / ulp <= std::fabs(jit - exact) / ulp + max_ulps || std::fabs(a - exact) <= 1e-7 * scale;
    };
    // float64 derivatives likewise, within the float64 absolute bound
    // (1e-15): mish's at x = -1.69, a sum of terms that cancel to 0.088,
    // differs by 6 ULP without FMA (1.4 ULP from the exact value; the JIT's 4.6).
    // (The host's AOT kernels stay bit for bit: max_ulps 0.)
    auto near64 = [&](double a, double jit) { return near(a, jit, max_ulps) || (max_ulps > 0 && std::fabs(a - jit) <= 1e-15); };
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
      bool b = !near32(y[i], jy[i], jyd[i]) || !near32(dx[i], jdx[i], jdxd[i], dy[i]) || !near(yd[i], jyd[i], max_ulps) ||
               !near64(dxd[i], jdxd[i]);
      if (b)
        UNSCOPED_INFO(std::setprecision(17) << "x = " << xd[i] << ": f32 y " << y[i] << " vs " << jy[i] << ", dx "
                                            << dx[i] << " vs " << jdx[i] << "; f64 y " << yd[i] << " vs " << jyd[i]
                                            << ", dx " << dxd[i] << " vs " << jdxd[i]);
      bad += b;
    }
    CHECK(bad == 0);
    // In place (y over x, dx over dy): the same values; bit for bit on
    // the host, where the out-of-place ones are.
    if (max_ulps == 0) {
      std::vector<float> yin(x), dxin(dy);
      std::vector<double> dpin(params.size());
      e.f32(yin.data(), yin.data(), int64_t(n), pp);
      e.b32(x.data(), dxin.data(), dxin.data(), int64_t(n), pp, dpin.data());
      size_t differ = 0;
      for (size_t i = 0; i < n; ++i) differ += !near(yin[i], y[i], 0) || !near(dxin[i], dx[i], 0);
      CHECK(differ == 0);
      for (size_t j = 0; j < params.size(); ++j) CHECK(dpin[j] == Approx(dp[j]).epsilon(1e-12));
    }
    for (size_t j = 0; j < params.size(); ++j) {
      CHECK(dp[j] == Approx(jdp[j]).epsilon(1e-6));
      CHECK(dpd[j] == Approx(jdpd[j]).epsilon(1e-12));
    }
  }
}

}  // namespace

TEST_CASE("AOT kernels for the host match the JIT bit for bit", "[aot]") { compare(ENTRIES(aot_native), 0); }

TEST_CASE("AOT kernels for x86-64-v2 and v3 match the JIT", "[aot]") {
  compare(ENTRIES(aot_v2), 4);
  compare(ENTRIES(aot_v3), 4);
}

TEST_CASE("AOT kernels for x86-64-v4 match the JIT where AVX-512 exists", "[aot]") {
  if (!__builtin_cpu_supports("avx512f")) {
    WARN("no AVX-512 on this machine: x86-64-v4 kernels not run");
    return;
  }
  compare(ENTRIES(aot_v4), 4);
}

TEST_CASE("AOT float32 kernels recompute the lanes float32 loses as the JIT does", "[aot]") {
  compare(ENTRIES(aot_native), 0, lossy());
  compare(ENTRIES(aot_v3), 4, lossy());
}
