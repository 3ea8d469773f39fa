// Scalar semantics of the IR ops (see eval.hpp).
#include "compiler/ir/eval.hpp"

#include <cmath>
#include <limits>

#include "compiler/ir/exact.hpp"
#include "compiler/ir/tanhshrink.hpp"
#include "grammar/diagnostics.hpp"

namespace actjit::ir {

template <class T>
T apply(Op op, T a, T b, T c) {
  switch (op) {
    case Op::Const:
    case Op::Input:
    case Op::Param:
    case Op::CondConst:
    case Op::Cotangent:
    case Op::Sum:
    case Op::Mean:
    case Op::RowMax:
    case Op::RowMin:
      break;  // leaves and reductions: evaluate_row (row.hpp)
    case Op::StopGrad: return a;
    case Op::Neg: return -a;
    case Op::Add: return a + b;
    case Op::Sub: return a - b;
    case Op::Mul: return a * b;
    case Op::Div: return a / b;
    case Op::Pow: return std::pow(a, b);
    case Op::Exp: return std::exp(a);
    case Op::Expm1: return std::expm1(a);
    case Op::ExpDiv:  // b overflowed: the ratio is lost (NaN, as inf / inf)
      if (!(a > T(kExpDivSplit))) return std::exp(a) / b;
      return std::isinf(b) ? std::numeric_limits<T>::quiet_NaN() : std::exp(a / 2) * (std::exp(a / 2) / b);
    case Op::Log: return std::log(a);
    case Op::Log1p: return std::log1p(a);
    case Op::Sqrt: return std::sqrt(a);
    case Op::Abs: return std::fabs(a);
    case Op::Sign: return a > 0 ? T(1) : a < 0 ? T(-1) : a;  // keeps +-0 and NaN
    case Op::Min: return std::isnan(a) || std::isnan(b) ? a + b : (a < b ? a : b);
    case Op::Max: return std::isnan(a) || std::isnan(b) ? a + b : (a > b ? a : b);
    case Op::Sin: return std::sin(a);
    case Op::Cos: return std::cos(a);
    case Op::Tan: return std::tan(a);
    case Op::Sinh: return std::sinh(a);
    case Op::Cosh: return std::cosh(a);
    case Op::Tanh: return std::tanh(a);
    case Op::TanhShrink: return tanhshrink_form::value(a);
    case Op::Asinh: return std::asinh(a);
    case Op::Atan: return std::atan(a);
    case Op::Erf: return std::erf(a);
    case Op::Erfc: return std::erfc(a);
    case Op::Floor: return std::floor(a);
    case Op::Ceil: return std::ceil(a);
    case Op::Round: return std::nearbyint(a);  // ties to even in the default mode
    case Op::Where: return a != 0 ? b : c;
    case Op::Lt: return a < b;
    case Op::Le: return a <= b;
    case Op::Gt: return a > b;
    case Op::Ge: return a >= b;
    case Op::Eq: return a == b;
    case Op::Ne: return a != b;
    case Op::And: return (a != 0) && (b != 0);
    case Op::Or: return (a != 0) || (b != 0);
    case Op::Not: return a == 0;
  }
  ACTJIT_ASSERT(false && "apply() on a leaf op");
}

template <class T>
std::vector<T> evaluate(const Graph& g, std::span<const NodeId> roots, T x, std::span<const T> params) {
  std::vector<NodeId> order = g.reachable(roots);
  std::vector<T> value(order.empty() ? 0 : order.back() + 1);
  for (NodeId id : order) {
    const Node& n = g[id];
    switch (n.op) {
      // Wider than double, a folded constant keeps the rest its double lost
      // (2 sqrt(2/pi), x / sqrt(2)'s 1/sqrt(2)): the kernels use it where it
      // matters, and a reference without it blames them for its rounding.
      case Op::Const:
        value[id] = sizeof(T) > sizeof(double) ? T(n.value) + T(n.lo) : T(n.value);
        break;
      case Op::CondConst: value[id] = T(n.value); break;
      case Op::Input: value[id] = x; break;
      case Op::Param: value[id] = params[size_t(n.value)]; break;
      case Op::Pow:
        value[id] = apply<T>(n.op, value[n.args[0]], value[n.args[1]], T(0));
        // in double, a constant exponent's rest as the double kernels take it (emitter.cpp):
        // a^hi (1 + lo log(a)) (x^(1/3) at 1e-300)
        if (const Node& e = g[n.args[1]]; sizeof(T) == sizeof(double) && e.op == Op::Const && e.lo != 0)
          if (T t = T(e.lo) * std::log(value[n.args[0]]); std::isfinite(t)) value[id] += value[id] * t;
        break;
      case Op::Exp: {
        value[id] = std::exp(value[n.args[0]]);
        // in double, exp(u + c)'s argument as the kernels take it, a double-float: the
        // sum's rounding and a folded c's rest (k exp(x) is exp(x + log k): stabilize.cpp)
        const Node& s = g[n.args[0]];
        if (sizeof(T) != sizeof(double) || s.op != Op::Add) break;
        for (int k = 0; k < 2; ++k)
          if (const Node& c = g[s.args[k]]; c.op == Op::Const) {
            T err = T(two_sum(double(value[s.args[1 - k]]), double(value[s.args[k]])).lo + c.lo);
            if (std::isfinite(err) && std::isfinite(value[id])) value[id] += value[id] * err;
            break;
          }
        break;
      }
      default:
        value[id] = apply<T>(n.op, value[n.args[0]], n.arity > 1 ? value[n.args[1]] : T(0),
                             n.arity > 2 ? value[n.args[2]] : T(0));
    }
  }
  std::vector<T> out;
  for (NodeId r : roots) out.push_back(value[r]);
  return out;
}

template float apply<float>(Op, float, float, float);
template double apply<double>(Op, double, double, double);
template std::vector<float> evaluate<float>(const Graph&, std::span<const NodeId>, float, std::span<const float>);
template std::vector<double> evaluate<double>(const Graph&, std::span<const NodeId>, double,
                                              std::span<const double>);
// long double: a wider reference (64-bit significand, 15-bit exponent), used
// by the REPL's :check to find where double kernels overflow or lose digits.
template long double apply<long double>(Op, long double, long double, long double);
template std::vector<long double> evaluate<long double>(const Graph&, std::span<const NodeId>, long double,
                                                        std::span<const long double>);

}  // namespace actjit::ir
