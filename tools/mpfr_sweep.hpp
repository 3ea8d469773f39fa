// The float64 accuracy sweep (tools/accuracy_sweep.cpp --f64 and
// tests/test_accuracy.cpp): every elementwise built-in's float64 kernels,
// forward and backward, against its definition in LANGUAGE.md's catalogue
// table evaluated with MPFR.
//
// The reference is the table's formula (x - tanh(x), log(1 + exp(x)), ...,
// not the catalogue's stable rewrite of it), parsed by actjit's own front
// end and evaluated op by op in MPFR at increasing precision (128, 256, ...
// 4096 bits) until two precisions round to the same double: cancellation
// (x - tanh(x) near 0) only costs more bits. Where a formula as written
// would overflow MPFR's exponent range (exp(1e300)), the table's function
// is written with an exact identity instead (logsigmoid for x < 0). The
// derivative is the symbolic derivative of that formula (the same walk as
// the kernels', but from the formula, not from the catalogue's text).
#pragma once

#include <mpfr.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "actjit/actjit.hpp"
#include "compiler/pipeline.hpp"
#include "tools/accuracy_sweep.hpp"

namespace actjit::mpfr_sweep {

/// LANGUAGE.md's catalogue table, each function as `f(x, params) = formula`.
struct Spec {
  const char* name;
  const char* formula;
};

inline const std::vector<Spec>& specs() {
  static const std::vector<Spec> all = {
      {"identity", "f(x) = x"},
      {"relu", "f(x) = max(x, 0)"},
      {"relu6", "f(x) = min(max(x, 0), 6)"},
      {"leaky_relu", "f(x, alpha = 0.01) = where(x > 0, x, alpha * x)"},
      {"prelu", "f(x, alpha = 0.25) = where(x > 0, x, alpha * x)"},
      {"elu", "f(x, alpha = 1) = where(x > 0, x, alpha * (exp(x) - 1))"},
      // max(0, x) + min(0, alpha (exp(x / alpha) - 1)), written piecewise: the same function, whose
      // derivative at 0 is LANGUAGE.md's celu'(0) = 1 (the max/min rules read literally would give 2)
      {"celu", "f(x, alpha = 1) = where(x > 0, x, alpha * (exp(x / alpha) - 1))"},
      {"selu", "f(x) = 1.0507009873554804934193349852946 * where(x > 0, x, 1.6732632423543772848170429916717 * (exp(x) - 1))"},
      {"gelu", "f(x) = 0.5 * x * (1 + erf(x / sqrt(2)))"},
      {"gelu_tanh", "f(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))"},
      // 1 / (1 + exp(-x)); as exp(x) / (1 + exp(x)) for x < 0 (the same, without overflow of exp(-x))
      {"sigmoid", "f(x) = where(x < 0, exp(x) / (1 + exp(x)), 1 / (1 + exp(-x)))"},
      // log(sigmoid(x)); for x < 0 as x - log(1 + exp(x)) (exp(-x) would overflow MPFR at x = -1e300)
      {"logsigmoid", "f(x) = where(x < 0, x - log(1 + exp(x)), log(1 / (1 + exp(-x))))"},
      {"hardsigmoid", "f(x, slope = 1/6, offset = 0.5) = clamp(slope * x + offset, 0, 1)"},
      {"hardtanh", "f(x, min_val = -1, max_val = 1) = clamp(x, min_val, max_val)"},
      {"tanhshrink", "f(x) = x - tanh(x)"},
      // log(1 + exp(bx)) / b, as bx + log(1 + exp(-bx)) for bx > 0 (the same, without exp overflow)
      {"softplus",
       "f(x, beta = 1, threshold = 20) = where(beta * x > threshold, x, where(beta * x > 0, beta * x + log(1 + exp(-(beta * x))), log(1 + exp(beta * x))) / beta)"},
      {"softsign", "f(x) = x / (1 + abs(x))"},
      {"swish", "f(x, beta = 1) = x * where(beta * x < 0, exp(beta * x) / (1 + exp(beta * x)), 1 / (1 + exp(-(beta * x))))"},
      {"silu", "f(x) = x * where(x < 0, exp(x) / (1 + exp(x)), 1 / (1 + exp(-x)))"},
      {"hardswish", "f(x) = x * min(max(x + 3, 0), 6) / 6"},
      {"mish", "f(x) = x * tanh(where(x > 0, x + log(1 + exp(-x)), log(1 + exp(x))))"},
      {"hardshrink", "f(x, lambd = 0.5) = where(abs(x) > lambd, x, 0)"},
      {"softshrink", "f(x, lambd = 0.5) = where(x > lambd, x - lambd, where(x < -lambd, x + lambd, 0))"},
      {"threshold", "f(x, threshold = 0, value = 0) = where(x > threshold, x, value)"},
      // x tanh(exp(x)); above x = 40, tanh(exp(x)) is 1 to within 2^-(10^17) (and exp(x) overflows MPFR past 3e18)
      {"telu", "f(x) = where(x > 40, x, x * tanh(exp(x)))"},
      {"squareplus", "f(x, b = 4) = (x + sqrt(x^2 + b)) / 2"},
      {"tanh", "f(x) = tanh(x)"},
  };
  return all;
}

/// Evaluates IR nodes in MPFR at a given precision (elementwise ops only).
class Evaluator {
 public:
  Evaluator(const ir::Graph& g, std::vector<ir::NodeId> roots) : g_(g), roots_(std::move(roots)) {
    order_ = g_.reachable(roots_);  // every node a root may need (all get storage)
  }

  /// The roots' values at x, rounded to long double (64-bit significand),
  /// at `bits` of working precision.
  std::vector<long double> at(double x, const std::vector<double>& params, mpfr_prec_t bits) const {
    size_t size = order_.empty() ? 0 : order_.back() + 1;
    State st{std::vector<mpfr_t>(size), std::vector<char>(size, 0), x, params};
    for (ir::NodeId id : order_) mpfr_init2(st.v[id], bits);
    std::vector<long double> out;
    for (ir::NodeId r : roots_) out.push_back(mpfr_get_ld(value(r, st), MPFR_RNDN));
    for (ir::NodeId id : order_) mpfr_clear(st.v[id]);
    return out;
  }

  /// The roots' values, refined until two precisions agree on the rounded
  /// double and are not both zero (complete cancellation at one precision
  /// gives 0 at the next too: 1 - (1 - 1e-80)), at most 4096 bits. Empty
  /// when an intermediate overflowed MPFR's exponent range (exp(1e300)):
  /// the formula cannot be evaluated there.
  std::vector<long double> exact(double x, const std::vector<double>& params) const {
    mpfr_clear_flags();
    std::vector<long double> prev = at(x, params, 160);
    for (mpfr_prec_t bits = 320; bits <= 4096; bits *= 2) {
      std::vector<long double> cur = at(x, params, bits);
      bool same = true;
      for (size_t i = 0; i < cur.size(); ++i) {
        double a = double(prev[i]), b = double(cur[i]);
        same = same && ((a == b && a != 0) || (std::isnan(a) && std::isnan(b)));
      }
      prev = cur;
      if (same) break;
    }
    if (mpfr_overflow_p()) return {};
    return prev;
  }

 private:
  struct State {
    std::vector<mpfr_t> v;
    std::vector<char> done;
    double x;
    const std::vector<double>& params;
  };

  /// Node `id`'s value, computing what it needs first. where() computes
  /// only the branch it takes: the other may overflow MPFR (elu's exp(x)
  /// at x = 1e100) without being part of the value.
  mpfr_srcptr value(ir::NodeId id, State& st) const {
    if (!st.done[id]) {
      compute(id, st);
      st.done[id] = 1;
    }
    return st.v[id];
  }

  void compute(ir::NodeId id, State& st) const {
    const ir::Node& n = g_[id];
    mpfr_ptr r = st.v[id];
    const double x = st.x;
    const std::vector<double>& params = st.params;
    auto A = [&](int k) -> mpfr_srcptr { return value(n.args[k], st); };
    constexpr mpfr_rnd_t N = MPFR_RNDN;
    auto truth = [&](bool t) { mpfr_set_ui(r, t ? 1 : 0, N); };
    switch (n.op) {
      case ir::Op::Const: mpfr_set_d(r, n.value, N); break;  // the double the kernels round to T too
      case ir::Op::CondConst: truth(n.value != 0); break;
      case ir::Op::Input: mpfr_set_d(r, x, N); break;
      case ir::Op::Param: mpfr_set_d(r, params[size_t(n.value)], N); break;
      case ir::Op::StopGrad: mpfr_set(r, A(0), N); break;
      case ir::Op::Neg: mpfr_neg(r, A(0), N); break;
      case ir::Op::Add: mpfr_add(r, A(0), A(1), N); break;
      case ir::Op::Sub: mpfr_sub(r, A(0), A(1), N); break;
      case ir::Op::Mul: mpfr_mul(r, A(0), A(1), N); break;
      case ir::Op::Div: mpfr_div(r, A(0), A(1), N); break;
      case ir::Op::Pow: mpfr_pow(r, A(0), A(1), N); break;
      case ir::Op::Exp: mpfr_exp(r, A(0), N); break;
      case ir::Op::Expm1: mpfr_expm1(r, A(0), N); break;
      case ir::Op::ExpDiv: mpfr_exp(r, A(0), N), mpfr_div(r, r, A(1), N); break;
      case ir::Op::Log: mpfr_log(r, A(0), N); break;
      case ir::Op::Log1p: mpfr_log1p(r, A(0), N); break;
      case ir::Op::Sqrt: mpfr_sqrt(r, A(0), N); break;
      case ir::Op::Abs: mpfr_abs(r, A(0), N); break;
      case ir::Op::Sign:
        if (mpfr_zero_p(A(0)) || mpfr_nan_p(A(0))) mpfr_set(r, A(0), N);
        else mpfr_set_si(r, mpfr_sgn(A(0)), N);
        break;
      case ir::Op::Min:
      case ir::Op::Max:
        if (mpfr_nan_p(A(0)) || mpfr_nan_p(A(1))) mpfr_set_nan(r);
        else if (n.op == ir::Op::Min) mpfr_set(r, mpfr_less_p(A(0), A(1)) ? A(0) : A(1), N);
        else mpfr_set(r, mpfr_greater_p(A(0), A(1)) ? A(0) : A(1), N);
        break;
      case ir::Op::Sin: mpfr_sin(r, A(0), N); break;
      case ir::Op::Cos: mpfr_cos(r, A(0), N); break;
      case ir::Op::Tan: mpfr_tan(r, A(0), N); break;
      case ir::Op::Sinh: mpfr_sinh(r, A(0), N); break;
      case ir::Op::Cosh: mpfr_cosh(r, A(0), N); break;
      case ir::Op::Tanh: mpfr_tanh(r, A(0), N); break;
      case ir::Op::TanhShrink:  // a - tanh(a); a^3/3 (1 - 2a^2/5) where the difference would cancel past the precision
        if (mpfr_get_exp(A(0)) < -int(mpfr_get_prec(r)) / 2) {
          mpfr_sqr(r, A(0), N);
          mpfr_mul_d(r, r, -0.4, N);
          mpfr_add_ui(r, r, 1, N);
          mpfr_mul(r, r, A(0), N);
          mpfr_mul(r, r, A(0), N);
          mpfr_mul(r, r, A(0), N);
          mpfr_div_ui(r, r, 3, N);
        } else {
          mpfr_tanh(r, A(0), N);
          mpfr_sub(r, A(0), r, N);
        }
        break;
      case ir::Op::Asinh: mpfr_asinh(r, A(0), N); break;
      case ir::Op::Atan: mpfr_atan(r, A(0), N); break;
      case ir::Op::Erf: mpfr_erf(r, A(0), N); break;
      case ir::Op::Erfc: mpfr_erfc(r, A(0), N); break;
      case ir::Op::Floor: mpfr_floor(r, A(0)); break;
      case ir::Op::Ceil: mpfr_ceil(r, A(0)); break;
      case ir::Op::Round: mpfr_roundeven(r, A(0)); break;
      case ir::Op::Where: mpfr_set(r, mpfr_zero_p(A(0)) ? A(2) : A(1), N); break;  // A(1) or A(2), not both
      case ir::Op::Lt: truth(mpfr_less_p(A(0), A(1))); break;
      case ir::Op::Le: truth(mpfr_lessequal_p(A(0), A(1))); break;
      case ir::Op::Gt: truth(mpfr_greater_p(A(0), A(1))); break;
      case ir::Op::Ge: truth(mpfr_greaterequal_p(A(0), A(1))); break;
      case ir::Op::Eq: truth(mpfr_equal_p(A(0), A(1))); break;
      case ir::Op::Ne: truth(!mpfr_equal_p(A(0), A(1))); break;
      case ir::Op::And: truth(!mpfr_zero_p(A(0)) && !mpfr_zero_p(A(1))); break;
      case ir::Op::Or: truth(!mpfr_zero_p(A(0)) || !mpfr_zero_p(A(1))); break;
      case ir::Op::Not: truth(mpfr_zero_p(A(0))); break;
      default: mpfr_set_nan(r); break;  // row-wise ops: not elementwise, not swept
    }
  }

  const ir::Graph& g_;
  std::vector<ir::NodeId> roots_;
  std::vector<ir::NodeId> order_;
};

/// The worst errors (sweep::Worst; the backward's absolute allowance is
/// 1e-15, float32's 1e-7 scaled to double), and the inputs skipped.
struct Result : sweep::Result {
  uint64_t skipped = 0;            // inputs where the formula overflows MPFR
  std::vector<sweep::Worst> params;  // run_params: each parameter's gradient
};

/// `count` inputs: a quarter uniform on [-40, 40] (where the functions
/// bend), a quarter on [-1, 1], half log-uniform in magnitude over the
/// whole double range (subnormals to 1e308), random signs; fixed seed.
inline std::vector<double> inputs(size_t count) {
  std::mt19937_64 rng(20261201);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> x;
  x.reserve(count + 8);
  for (double special : {0.0, -0.0, 1.0, -1.0, 40.0, -40.0}) x.push_back(special);
  for (size_t i = 0; x.size() < count; ++i) {
    double s = u(rng) < 0.5 ? -1 : 1;
    switch (i % 4) {
      case 0: x.push_back(-40 + 80 * u(rng)); break;
      case 1: x.push_back(-1 + 2 * u(rng)); break;
      default: x.push_back(s * std::exp2(-1074 + (1024 + 1074) * u(rng))); break;
    }
  }
  return x;
}

namespace detail {

/// The float64 kernels of `spec` against MPFR over `x`: with `params`
/// null, the kernels a call with the defaults runs (whole arrays); else the
/// kernels that take parameters at run time, at *params, one input at a
/// time (their gradients are summed over the inputs), with each
/// parameter's gradient checked too.
inline Result run(Runtime& rt, const Spec& spec, const std::vector<double>& x, const std::vector<double>* params,
                  unsigned threads) {
  auto built = build_program(spec.formula, catalogue());
  if (!built) throw std::runtime_error(std::string("reference formula of ") + spec.name + " does not compile");
  const Program& p = *built;
  Kernel k = rt.compile(spec.name, DType::F64);
  std::vector<double> values;
  for (auto& q : p.function.params) values.push_back(q.default_value);
  if (params) {
    // The formula's parameters must be the kernel's, in the same order.
    bool same = k.params().size() == p.function.params.size() && params->size() == values.size();
    for (size_t j = 0; same && j < values.size(); ++j) same = k.params()[j].name == p.function.params[j].name;
    if (!same) throw std::runtime_error(std::string("reference formula of ") + spec.name + " has other parameters");
    values = *params;
  }
  const size_t np = params ? values.size() : 0;
  std::vector<ir::NodeId> roots{p.unsimplified, p.d_x};
  for (size_t j = 0; j < np; ++j) roots.push_back(p.d_params[j]);
  Evaluator eval(p.graph, roots);
  mpfr_set_emax(mpfr_get_emax_max());  // exp overflows MPFR only past x ~ 3e18
  mpfr_set_emin(mpfr_get_emin_min());
  std::vector<double> y(x.size()), dx(x.size()), one(x.size(), 1.0);
  if (!params) {
    k.forward(std::span<const double>(x), std::span<double>(y));
    k.backward(std::span<const double>(x), std::span<const double>(one), std::span<double>(dx));
  }
  auto note = [](sweep::Worst& w, double got, long double exact, double at, bool gradient) {
    double e = sweep::ulp_error(got, exact);
    if (e > w.ulp) w.ulp = e, w.at = at;
    if (gradient && e > 8 && !(std::fabs((long double)got - exact) <= 1e-15L)) ++w.over;
    ++w.inputs;
  };
  Result res;
  res.params.resize(np);
  std::mutex mu;
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      Result mine;
      mine.params.resize(np);
      std::vector<double> dp(np);
      for (size_t i = t; i < x.size(); i += threads) {
        std::vector<long double> e = eval.exact(x[i], values);
        if (e.empty()) {
          ++mine.skipped;
          continue;
        }
        if (params) {
          std::fill(dp.begin(), dp.end(), 0.0);
          k.forward(std::span<const double>(&x[i], 1), std::span<double>(&y[i], 1), values);
          k.backward(std::span<const double>(&x[i], 1), std::span<const double>(&one[i], 1), std::span<double>(&dx[i], 1),
                     values, dp);
          for (size_t j = 0; j < np; ++j) note(mine.params[j], dp[j], e[2 + j], x[i], true);
        }
        note(mine.forward, y[i], e[0], x[i], false);
        note(mine.backward, dx[i], e[1], x[i], true);
      }
      mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE);  // this thread's constants (log 2, pi, ...)
      std::lock_guard<std::mutex> lock(mu);
      res.forward.merge(mine.forward);
      res.backward.merge(mine.backward);
      for (size_t j = 0; j < np; ++j) res.params[j].merge(mine.params[j]);
      res.skipped += mine.skipped;
    });
  for (auto& th : pool) th.join();
  mpfr_free_cache();  // and any the calling thread holds (LeakSanitizer counts them)
  return res;
}

}  // namespace detail

/// Sweeps the float64 kernels of catalogue function `spec` (compiled by
/// `rt`) against MPFR over `x`, on `threads` threads (call with
/// actjit::set_threads(1)). Throws when the formula does not compile.
inline Result run(Runtime& rt, const Spec& spec, const std::vector<double>& x, unsigned threads) {
  return detail::run(rt, spec, x, nullptr, threads);
}

/// The same for the kernels that take the parameters at run time, at
/// `params` (in the catalogue's order): forward, backward (dy = 1) and each
/// parameter's gradient (Result::params) against MPFR. Throws when the
/// formula's parameters are not the kernel's.
inline Result run_params(Runtime& rt, const Spec& spec, const std::vector<double>& x, const std::vector<double>& params,
                         unsigned threads) {
  return detail::run(rt, spec, x, &params, threads);
}

}  // namespace actjit::mpfr_sweep
