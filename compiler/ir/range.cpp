// The interval analysis (see range.hpp).
#include "compiler/ir/range.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "compiler/ir/row.hpp"
#include "compiler/ir/tanhshrink.hpp"

namespace actjit::ir {

namespace {

constexpr double kInf = Interval::kInf;
/// Nested `where` refinements followed; deeper ones take the plain union.
constexpr int kMaxDepth = 4;
/// Node evaluations spent on refinements per analysis (the global pass
/// itself is always done): bounds the work on hostile graphs.
constexpr size_t kBudget = 200'000;
/// Relative widening of transcendental results (their error is < 1e-6).
constexpr double kSlack = 1e-5;

Interval point(double v) { return {v, v, std::isnan(v), v == 0}; }
Interval everything() { return {}; }
Interval nothing() { return {kInf, -kInf, false, false}; }

Interval join(const Interval& a, const Interval& b) {
  return {std::min(a.lo, b.lo), std::max(a.hi, b.hi), a.nan || b.nan, a.zero || b.zero,
          (a.nan && a.lossy) || (b.nan && b.lossy)};
}

double widen_down(double v) { return std::isfinite(v) ? v - std::fabs(v) * kSlack : v; }
double widen_up(double v) { return std::isfinite(v) ? v + std::fabs(v) * kSlack : v; }

/// f monotone increasing on the interval, evaluated in double and widened.
template <class F>
Interval increasing(const Interval& a, F f) {
  return {widen_down(f(a.lo)), widen_up(f(a.hi)), a.nan};
}

double add_lo(double x, double y) { return x == -kInf || y == -kInf ? -kInf : x + y; }
double add_hi(double x, double y) { return x == kInf || y == kInf ? kInf : x + y; }
/// A product's endpoint: 0 * inf (which the NaN flag covers) counts as 0.
double product(double x, double y) { return x == 0 || y == 0 ? 0 : x * y; }

using Demand = std::unordered_map<NodeId, Interval>;

class Analysis {
 public:
  Analysis(const Graph& g, Precision p, Domain domain, std::span<const NodeId> as_else = {},
           std::span<const NodeId> else_taken = {})
      : g_(g),
        f32_(p == Precision::F32),
        as_else_(as_else.begin(), as_else.end()),
        else_taken_(else_taken.begin(), else_taken.end()) {
    double max = f32_ ? FLT_MAX : DBL_MAX;
    // Results beyond half the largest finite value may round to inf, and
    // nonzero ones below these may round to 0: generous margins for
    // roundings the double endpoints do not see.
    overflow_ = max / 2;
    underflow_ = f32_ ? 1e-30 : 1e-300;
    double reach = domain.finite ? max : kInf;
    finite_ = {-reach, reach, false, true};
    param_ = {-reach, reach, false, !domain.nonzero_params};
    input_ = {std::max(-reach, domain.input_lo), std::min(reach, domain.input_hi), false, true};
    input_.zero = input_.lo <= 0 && input_.hi >= 0;
  }

  std::vector<Interval> run(std::span<const NodeId> roots) {
    std::vector<NodeId> order = g_.reachable(roots);
    std::vector<Interval> of(order.empty() ? 0 : order.back() + 1, everything());
    Scope top{nullptr, {}, {}, 0, {}, {}};
    auto get = [&](NodeId a) { return of[a]; };
    for (NodeId id : order) of[id] = node(id, top, get);
    demand_.assign(of.size(), nothing());
    for (auto& [id, r] : mark(roots, top, get)) demand_[id] = r;
    return of;
  }

  /// For each node, its first operand's interval in the scopes that use
  /// the node (see Ranges::operand_where_used).
  std::vector<Interval> take_demand() { return std::move(demand_); }

 private:
  struct Scope {
    const Scope* parent;
    std::unordered_map<NodeId, Interval> fixed;  // refined by the conditions of enclosing wheres
    std::unordered_map<NodeId, Interval> memo;
    int depth;
    /// Branches of wheres in this scope that a scope of their own accounts
    /// for (key 2 * where + 1 for the first branch, 2 * where for the
    /// other), with what that scope's nodes' first operands are there.
    mutable std::unordered_map<uint64_t, Demand> handed_over;
    /// Conditions whose truth the enclosing wheres fix (the same node
    /// compared again: where(c, a, where(c, b, d)) never takes b).
    std::unordered_map<NodeId, bool> known;
  };

  /// For each node that `roots` use in `s` (`get` gives values in `s`),
  /// its first operand's interval; a branch handed over to a scope of its
  /// own contributes what that scope found, under its condition, and only
  /// where its `where` is used.
  template <class Get>
  Demand mark(std::span<const NodeId> roots, const Scope& s, Get get) {
    Demand d;
    std::vector<NodeId> order = g_.reachable(roots);
    std::unordered_set<NodeId> used(roots.begin(), roots.end());
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      if (!used.count(*it)) continue;
      const Node& n = g_[*it];
      if (n.arity > 0) add(d, *it, get(n.args[0]));
      for (unsigned k = 0; k < n.arity; ++k) {
        auto handed = n.op == Op::Where && k > 0 ? s.handed_over.find(2 * uint64_t(*it) + (k == 1))
                                                 : s.handed_over.end();
        if (handed == s.handed_over.end()) {
          used.insert(n.args[k]);
          continue;
        }
        for (auto& [id, r] : handed->second) add(d, id, r);
      }
    }
    return d;
  }

  static void add(Demand& d, NodeId id, const Interval& r) {
    auto [it, inserted] = d.try_emplace(id, r);
    if (!inserted) it->second = join(it->second, r);
  }

  static const bool* known_in(const Scope& s, NodeId id) {
    for (const Scope* t = &s; t; t = t->parent)
      if (auto it = t->known.find(id); it != t->known.end()) return &it->second;
    return nullptr;
  }

  /// Records in `known` what `cond` being `truth` says about conditions.
  void learn(NodeId cond, bool truth, std::unordered_map<NodeId, bool>& known) const {
    known[cond] = truth;
    const Node& c = g_[cond];
    if (c.op == Op::Not) learn(c.args[0], !truth, known);
    if ((c.op == Op::And && truth) || (c.op == Op::Or && !truth))
      learn(c.args[0], truth, known), learn(c.args[1], truth, known);
  }

  const Interval* fixed_in(const Scope& s, NodeId id) const {
    for (const Scope* t = &s; t; t = t->parent)
      if (auto it = t->fixed.find(id); it != t->fixed.end()) return &it->second;
    return nullptr;
  }

  /// The interval of `root` with `s`'s refinements (every node under it
  /// re-evaluated in `s`).
  Interval evaluate(NodeId root, Scope& s) {
    std::span<const NodeId> roots(&root, 1);
    std::vector<NodeId> order = g_.reachable(roots);
    auto get = [&](NodeId a) { return s.memo.at(a); };
    for (NodeId id : order) {
      if (spent_ < kBudget) ++spent_;
      s.memo[id] = node(id, s, get);
    }
    return s.memo.at(root);
  }

  /// Constant k as the kernel sees it (rounded to float in float kernels):
  /// both values, so that either way is covered.
  Interval constant(double v) const {
    if (!f32_ || !std::isfinite(v)) return point(v);
    double r = double(float(v));
    return {std::min(v, r), std::max(v, r), false, r == 0};  // 1e-52 is 0 in float
  }

  Interval snap(Interval r) const {
    if (r.empty()) return r;
    if (r.hi > overflow_) r.hi = kInf;
    if (r.lo < -overflow_) r.lo = -kInf;
    if (r.lo > 0 && r.lo < underflow_) r.lo = 0;
    if (r.hi < 0 && r.hi > -underflow_) r.hi = 0;
    r.zero = r.contains(0);
    return r;
  }

  /// u's interval as narrowed so far: by `out`, else by the enclosing scopes.
  template <class Get>
  Interval current(NodeId u, const std::unordered_map<NodeId, Interval>& out, const Scope& s, Get get) const {
    if (auto it = out.find(u); it != out.end()) return it->second;
    if (const Interval* f = fixed_in(s, u)) return *f;
    return get(u);
  }

  /// Adds to `out` what `cond` being `truth` says about its operands.
  template <class Get>
  void narrow(NodeId cond, bool truth, std::unordered_map<NodeId, Interval>& out, const Scope& s, Get get) {
    const Node& c = g_[cond];
    switch (c.op) {
      case Op::Not: narrow(c.args[0], !truth, out, s, get); return;
      case Op::And:
        if (truth) narrow(c.args[0], true, out, s, get), narrow(c.args[1], true, out, s, get);
        return;
      case Op::Or:
        if (!truth) narrow(c.args[0], false, out, s, get), narrow(c.args[1], false, out, s, get);
        return;
      case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: break;
      default: return;
    }
    bool left = g_.is_const(c.args[1]) && !g_.is_const(c.args[0]);
    bool right = g_.is_const(c.args[0]) && !g_.is_const(c.args[1]);
    if (!left && !right) return;
    NodeId u = left ? c.args[0] : c.args[1];
    Interval k = constant(g_.const_value(left ? c.args[1] : c.args[0]));
    if (k.nan) return;
    // "u above k": u > k, u >= k, k < u, k <= u. A NaN u fails every
    // comparison: it can be in the false branch only.
    bool above = (c.op == Op::Gt || c.op == Op::Ge) == left;
    if (!truth) above = !above;
    Interval r = current(u, out, s, get);
    if (above)
      r.lo = std::max(r.lo, k.lo);
    else
      r.hi = std::min(r.hi, k.hi);
    if (truth) r.nan = false;
    r.zero = r.zero && r.contains(0);
    out[u] = r;  // lo > hi: no number (only NaN, or nothing: the branch is never taken)
    // |w| at most k bounds w itself to [-k, k] (at least k leaves two pieces).
    if (g_[u].op == Op::Abs && !above && !r.empty()) {
      NodeId w = g_[u].args[0];
      Interval rw = current(w, out, s, get);
      rw.lo = std::max(rw.lo, -r.hi);
      rw.hi = std::min(rw.hi, r.hi);
      rw.nan = rw.nan && r.nan;
      rw.zero = rw.zero && rw.contains(0);
      out[w] = rw;
    }
  }

  template <class Get>
  Interval where(NodeId id, const Node& n, const Scope& s, Get get) {
    if (as_else_.count(id)) {  // the second branch everywhere: the first is never used
      s.handed_over[2 * uint64_t(id) + 1] = Demand{};
      return get(n.args[2]);
    }
    // A condition false on every lane (else_taken): the first branch is never used.
    const bool else_taken = else_taken_.count(id) > 0;
    Interval b = else_taken ? nothing() : get(n.args[1]), c = get(n.args[2]);
    if (else_taken) s.handed_over[2 * uint64_t(id) + 1] = Demand{};
    // A condition known here leaves one branch: the other is never used.
    Interval cond = get(n.args[0]);
    for (bool truth : {true, false}) {
      if (cond.empty() || cond.nan || cond.lo != cond.hi || (cond.lo != 0) == truth) continue;
      (truth ? b : c) = nothing();
      s.handed_over[2 * uint64_t(id) + truth] = Demand{};
    }
    if (s.depth >= kMaxDepth || spent_ >= kBudget) return chosen(n, b, c);
    for (bool truth : {true, false}) {
      if (s.handed_over.count(2 * uint64_t(id) + truth)) continue;  // never taken (above)
      Scope branch{&s, {}, {}, s.depth + 1, {}, {}};
      narrow(n.args[0], truth, branch.fixed, s, get);
      if (branch.fixed.empty()) continue;
      learn(n.args[0], truth, branch.known);
      bool impossible = false;
      for (auto& [id, r] : branch.fixed) impossible = impossible || r.empty();
      Interval& side = truth ? b : c;
      NodeId root = truth ? n.args[1] : n.args[2];
      Demand found;
      if (impossible) {
        side = nothing();
      } else {
        side = evaluate(root, branch);
        found = mark(std::span<const NodeId>(&root, 1), branch, [&](NodeId a) { return branch.memo.at(a); });
      }
      s.handed_over[2 * uint64_t(id) + truth] = std::move(found);
    }
    return chosen(n, b, c);
  }

  /// A where's interval from its branches'. A NaN that both precisions
  /// share in a branch is shared by the where's value only where both
  /// choose that branch: where its condition compares exact values.
  Interval chosen(const Node& n, const Interval& b, const Interval& c) const {
    Interval r = join(b, c);
    if (r.nan && !r.lossy && !exact_condition(n.args[0])) r.lossy = true;
    return r;
  }

  /// x, dy, a constant that float holds exactly, and their negations and
  /// magnitudes: the same value in a float32 kernel and a float64 one.
  bool exact_value(NodeId v) const {
    const Node& n = g_[v];
    switch (n.op) {
      case Op::Input: case Op::Cotangent: return true;
      case Op::Const: return std::isnan(n.value) || double(float(n.value)) == n.value;
      case Op::Neg: case Op::Abs: return exact_value(n.args[0]);
      default: return false;
    }
  }

  /// A condition that a float32 kernel and a float64 one decide alike.
  bool exact_condition(NodeId c) const {
    const Node& n = g_[c];
    switch (n.op) {
      case Op::CondConst: return true;
      case Op::Not: return exact_condition(n.args[0]);
      case Op::And: case Op::Or: return exact_condition(n.args[0]) && exact_condition(n.args[1]);
      case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Eq: case Op::Ne:
        return exact_value(n.args[0]) && exact_value(n.args[1]);
      default: return false;
    }
  }

  /// A value rounded at most once from exact ones (any constant is one
  /// rounding of itself): on the same side of a float in both precisions,
  /// or at it (see may_lose_nan).
  bool rounded_once(NodeId v) const {
    const Node& n = g_[v];
    switch (n.op) {
      case Op::Const: return true;
      case Op::Neg: case Op::Abs: return rounded_once(n.args[0]);
      case Op::Add: case Op::Sub: case Op::Mul: case Op::Div:
        return exact_value(n.args[0]) && exact_value(n.args[1]);
      default: return exact_value(v);
    }
  }

  /// Whether `n`'s NaN, from operands a and b, may be lost (Interval::
  /// lossy): carried from an operand, or made here other than at the edge
  /// of the op's own domain by an operand rounded at most once.
  bool lossy(NodeId id, const Node& n, const Interval& a, const Interval& b, const Scope& s) {
    if ((n.arity > 0 && a.nan && a.lossy) || (n.arity > 1 && b.nan && b.lossy)) return true;
    Interval a0 = a, b0 = b;
    a0.nan = b0.nan = false;
    if (!value(id, n, a0, b0, s).nan) return false;  // only the operands' NaN, shared by float64
    // (a^b with a non-constant b: NaN for a < 0 and b not an integer, where
    // b is exact the same b in both precisions: x^x.)
    bool own_domain = n.op == Op::Log || n.op == Op::Log1p || n.op == Op::Sqrt ||
                      (n.op == Op::Pow && (g_.is_const(n.args[1]) || exact_value(n.args[1])));
    if (own_domain && rounded_once(n.args[0])) return false;
    // 0 * inf, 0 / 0 and inf / inf (x * log(x) and its slope's x / x at 0):
    // where both operands are 0 and inf at the same inputs in both precisions.
    return !((n.op == Op::Mul || n.op == Op::Div) && same_zeros_and_infinities(n.args[0]) &&
             same_zeros_and_infinities(n.args[1]));
  }

  /// A value that is 0, and +-inf, at the same inputs in a float32 kernel
  /// and a float64 one: an exact value, or log or log1p of one (inf only at
  /// their operand's 0, -1 or inf).
  bool same_zeros_and_infinities(NodeId v) const {
    const Node& n = g_[v];
    if (n.op == Op::Log || n.op == Op::Log1p) return exact_value(n.args[0]);
    return exact_value(v);
  }

  template <class Get>
  Interval node(NodeId id, const Scope& s, Get get) {
    if (const Interval* f = fixed_in(s, id)) return *f;
    const Node& n = g_[id];
    if (n.op == Op::Where) return where(id, n, s, get);
    Interval a = n.arity > 0 ? get(n.args[0]) : Interval{}, b = n.arity > 1 ? get(n.args[1]) : Interval{};
    if ((n.arity > 0 && a.empty()) || (n.arity > 1 && b.empty())) return nothing();
    Interval r = value(id, n, a, b, s);
    r.lossy = r.nan && lossy(id, n, a, b, s);
    return r;
  }

  /// `n`'s interval from its operands' (not a where).
  Interval value(NodeId id, const Node& n, const Interval& a, const Interval& b, const Scope& s) const {
    bool nan_in = a.nan || (n.arity > 1 && b.nan);
    switch (n.op) {
      case Op::Const: return constant(n.value);
      case Op::Input: return input_;
      case Op::Cotangent: return finite_;
      case Op::Param: return param_;
      case Op::CondConst: return truth(n.value != 0);
      case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Eq: case Op::Ne:
      case Op::And: case Op::Or: case Op::Not:
        if (const bool* k = known_in(s, id)) return truth(*k);
        return condition(n.op, a, b);
      case Op::StopGrad: return a;
      case Op::Neg: return {-a.hi, -a.lo, a.nan, a.zero};
      case Op::Abs: return magnitude(a);
      case Op::Sign: return {a.lo > 0 ? 1.0 : -1.0, a.hi < 0 ? -1.0 : 1.0, a.nan};
      case Op::Floor: return {std::floor(a.lo), std::floor(a.hi), a.nan};
      case Op::Ceil: return {std::ceil(a.lo), std::ceil(a.hi), a.nan};
      case Op::Round: return {std::round(a.lo), std::round(a.hi), a.nan};
      case Op::Min: return {std::min(a.lo, b.lo), std::min(a.hi, b.hi), nan_in};
      case Op::Max: return {std::max(a.lo, b.lo), std::max(a.hi, b.hi), nan_in};
      case Op::Add: return add(a, b);
      case Op::Sub: {
        Interval d = add(a, {-b.hi, -b.lo, b.nan});
        // v - max(v) (softmax's shift; under stop_gradient or not) is at most 0.
        NodeId m = g_[n.args[1]].op == Op::StopGrad ? g_[n.args[1]].args[0] : n.args[1];
        if (g_[m].op == Op::RowMax && g_[m].args[0] == n.args[0]) d.hi = std::min(d.hi, 0.0);
        return d;
      }
      case Op::Mul:
        if (n.args[0] == n.args[1]) {  // a square: not negative
          Interval m = magnitude(a);
          return snap({product(m.lo, m.lo), product(m.hi, m.hi), a.nan});
        }
        return mul(a, b);
      case Op::Div: {
        // u / (u + c), c nonzero in float: u + c rounds to 0 only where u =
        // -c exactly, so no 0 / 0 (x / (x + 1), the slope of x - log1p(x)).
        // For c > 0 it is 1 - c / (u + c), increasing in u above -c, so its
        // ends are the ends' (which intervals of the numerator and the
        // denominator taken apart are not: [-0.5, 1.5] / [1.5, 3.5] would
        // reach 1; x / (x + 2) is log1p's atanh argument). Widened for the
        // roundings.
        const Node& d = g_[n.args[1]];
        if (d.op == Op::Add && !a.empty())
          for (int k = 0; k < 2; ++k)
            if (d.args[k] == n.args[0] && g_.is_const(d.args[1 - k])) {
              double c = g_.const_value(d.args[1 - k]);
              if (!(std::fabs(c) < kInf) || float(c) == 0) break;
              if (c > 0 && a.lo > -c / 2 && a.hi < kInf) {
                auto ratio = [c](double u) { return u / (u + c); };
                double lo = ratio(a.lo), hi = ratio(a.hi);
                return snap({lo - std::fabs(lo) * 0x1p-20, hi + std::fabs(hi) * 0x1p-20, a.nan, a.zero});
              }
              Interval r = div(a, b);
              r.nan = a.nan || a.may_be_inf();  // inf / inf
              return r;
            }
        return div(a, b);
      }
      case Op::Pow: return pow(n, a);
      case Op::Exp: return exp(a);
      case Op::Expm1: {
        Interval r = snap(increasing(a, [](double v) { return std::expm1(v); }));
        r.lo = std::max(r.lo, -1 - kSlack);
        return r;
      }
      case Op::ExpDiv: {  // exp(a) / b, or exp(a/2) (exp(a/2) / b) for large a
        Interval half = exp(mul(a, point(0.5)));
        Interval r = join(div(exp(a), b), mul(half, div(half, b)));
        r.nan = r.nan || (b.may_be_inf() && a.hi > kExpDivSplit);  // the emitter's NaN where b overflowed
        return r;
      }
      case Op::Log: case Op::Log1p: {
        double edge = n.op == Op::Log ? 0 : -1;
        auto f = [&](double v) { return n.op == Op::Log ? std::log(v) : std::log1p(v); };
        Interval r{a.lo <= edge ? -kInf : widen_down(f(a.lo)), a.hi <= edge ? -kInf : widen_up(f(a.hi)),
                   a.nan || a.lo < edge};
        return snap(r);
      }
      case Op::Sqrt:  // (snap: whether 0 is in it; sqrt(x^2 + 1) is not 0, so x / sqrt(...) is no 0 / 0)
        return snap({std::sqrt(std::max(a.lo, 0.0)), std::sqrt(std::max(a.hi, 0.0)), a.nan || a.lo < 0});
      case Op::Sin: case Op::Cos: return {-1 - kSlack, 1 + kSlack, a.nan || a.may_be_inf()};
      case Op::Tan: return {-kInf, kInf, a.nan || a.may_be_inf()};
      case Op::Sinh: return snap(increasing(a, [](double v) { return std::sinh(v); }));
      case Op::Cosh: {
        double small = a.contains(0) ? 0 : std::min(std::fabs(a.lo), std::fabs(a.hi));
        double large = std::max(std::fabs(a.lo), std::fabs(a.hi));
        return snap({widen_down(std::cosh(small)), widen_up(std::cosh(large)), a.nan});
      }
      case Op::Tanh: return snap(increasing(a, [](double v) { return std::tanh(v); }));
      case Op::TanhShrink: return snap(increasing(a, tanhshrink_form::value<double>));
      case Op::Asinh: return snap(increasing(a, [](double v) { return std::asinh(v); }));
      case Op::Atan: return snap(increasing(a, [](double v) { return std::atan(v); }));
      case Op::Erf: return snap(increasing(a, [](double v) { return std::erf(v); }));
      case Op::Erfc: {
        Interval r = snap({widen_down(std::erfc(a.hi)), widen_up(std::erfc(a.lo)), a.nan});
        r.lo = std::max(r.lo, 0.0);
        return r;
      }
      case Op::RowMax: case Op::RowMin: return a;
      case Op::Sum: case Op::Mean:
        // Partial sums may overflow either way when signs mix.
        return {a.lo >= 0 ? 0 : -kInf, a.hi <= 0 ? 0 : kInf, a.nan || (a.lo < 0 && a.hi > 0)};
      default: return everything();
    }
  }

  /// A condition's value: [0, 0] false, [1, 1] true, [0, 1] either (never
  /// NaN: a comparison with NaN is false).
  static Interval truth(bool t) { return {t ? 1.0 : 0.0, t ? 1.0 : 0.0, false, !t}; }

  /// A comparison decided by the operands' intervals, with a margin: the
  /// endpoints are exact math in double, and the kernel's own roundings of
  /// sums and products (not in the intervals) may cross a boundary that
  /// the exact values only touch. Widened by 2^-20 relative (16 float
  /// roundings) and 1e-30 absolute, a decision holds for the kernel too.
  static Interval condition(Op op, Interval a, Interval b) {
    auto widen = [](Interval& r) {
      if (r.lo <= r.hi) r.lo -= std::fabs(r.lo) * 0x1p-20 + 1e-30, r.hi += std::fabs(r.hi) * 0x1p-20 + 1e-30;
    };
    bool logical = op == Op::Not || op == Op::And || op == Op::Or;
    if (!logical) widen(a), widen(b);
    Interval either{0, 1, false, true};
    auto known = [&](bool t, bool f) { return t ? truth(true) : f ? truth(false) : either; };
    bool numbers = !a.nan && !b.nan;  // true only without NaN; false with NaN too
    switch (op) {
      case Op::Lt: return known(numbers && a.hi < b.lo, a.lo >= b.hi);
      case Op::Le: return known(numbers && a.hi <= b.lo, a.lo > b.hi);
      case Op::Gt: return known(numbers && a.lo > b.hi, a.hi <= b.lo);
      case Op::Ge: return known(numbers && a.lo >= b.hi, a.hi < b.lo);
      case Op::Not: return known(a.hi == 0, a.lo == 1);
      case Op::And: return known(a.lo == 1 && b.lo == 1, a.hi == 0 || b.hi == 0);
      case Op::Or: return known(a.lo == 1 || b.lo == 1, a.hi == 0 && b.hi == 0);
      default: return either;
    }
  }

  Interval exp(const Interval& a) const {
    Interval r = snap(increasing(a, [](double v) { return std::exp(v); }));
    r.lo = std::max(r.lo, 0.0);
    return r;
  }

  Interval add(const Interval& a, const Interval& b) const {
    bool nan = a.nan || b.nan || (a.hi == kInf && b.lo == -kInf) || (a.lo == -kInf && b.hi == kInf);
    return snap({add_lo(a.lo, b.lo), add_hi(a.hi, b.hi), nan});
  }

  Interval mul(const Interval& a, const Interval& b) const {
    bool nan = a.nan || b.nan || (a.zero && b.may_be_inf()) || (b.zero && a.may_be_inf());
    double p[] = {product(a.lo, b.lo), product(a.lo, b.hi), product(a.hi, b.lo), product(a.hi, b.hi)};
    return snap({*std::min_element(p, p + 4), *std::max_element(p, p + 4), nan});
  }

  Interval div(const Interval& a, const Interval& b) const {
    bool nan = a.nan || b.nan || (a.zero && b.zero) || (a.may_be_inf() && b.may_be_inf());
    if (b.zero || (a.may_be_inf() && b.may_be_inf())) return {-kInf, kInf, nan};
    if (b.contains(0)) return {-kInf, kInf, nan};  // b nonzero on both sides of 0 (a parameter): no 0 / 0
    double q[] = {a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi};
    return snap({*std::min_element(q, q + 4), *std::max_element(q, q + 4), nan});
  }

  Interval pow(const Node& n, const Interval& a) const {
    if (!g_.is_const(n.args[1])) return everything();
    double e = g_.const_value(n.args[1]);
    if (e == 0) return point(1);  // pow(anything, 0) = 1, NaN included
    if (e == std::floor(e)) {  // (every double beyond 2^53 is an even integer)
      if (e < 0) return {-kInf, kInf, a.nan};  // 1 / x^n: no NaN
      Interval m = std::fmod(e, 2) == 0 ? magnitude(a) : a;  // even powers of |x|; odd ones keep x's sign
      // Widened beyond the powers the kernel multiplies out (pow's error).
      if (e > 64) return snap({widen_down(std::pow(m.lo, e)), widen_up(std::pow(m.hi, e)), a.nan});
      return snap({std::pow(m.lo, e), std::pow(m.hi, e), a.nan});
    }
    return {0, kInf, a.nan || a.lo < 0};  // non-integer powers: NaN below 0
  }

  static Interval magnitude(const Interval& a) {
    if (a.lo >= 0) return a;
    if (a.hi <= 0) return {-a.hi, -a.lo, a.nan, a.zero};
    return {0, std::max(-a.lo, a.hi), a.nan, a.zero};
  }

  const Graph& g_;
  bool f32_;
  double overflow_, underflow_;
  Interval finite_, param_, input_;
  std::unordered_set<NodeId> as_else_;     // wheres taken as their second branch (Ranges' as_else)
  std::unordered_set<NodeId> else_taken_;  // wheres whose condition is false (Ranges' else_taken)
  size_t spent_ = 0;
  std::vector<Interval> demand_;
};

}  // namespace

Ranges::Ranges(const Graph& g, std::span<const NodeId> roots, Precision precision, Domain domain,
               std::span<const NodeId> as_else, std::span<const NodeId> else_taken) {
  Analysis a(g, precision, domain, as_else, else_taken);
  of_ = a.run(roots);
  demand_ = a.take_demand();
}

bool may_make_nan(const Graph& g, std::span<const NodeId> roots, bool nonzero_params) {
  Ranges r(g, roots, Precision::F32, Domain{true, nonzero_params});
  for (NodeId root : roots)
    if (r[root].nan) return true;
  return false;
}

bool may_lose_nan(const Graph& g, std::span<const NodeId> roots, bool nonzero_params) {
  Ranges r(g, roots, Precision::F32, Domain{true, nonzero_params});
  for (NodeId root : roots)
    if (r[root].nan && r[root].lossy) return true;
  return false;
}

std::vector<UnderflowSource> underflow_sources(const Graph& g, std::span<const NodeId> roots) {
  Ranges r(g, roots, Precision::F32);
  // Whether v may be nonzero and below `bound` in magnitude.
  auto may_be_below = [&](NodeId v, double bound) {
    Interval i = r[v];
    return !i.empty() && i.lo < bound && i.hi > -bound && !(i.lo == 0 && i.hi == 0);
  };
  auto may_exceed = [&](NodeId v, double bound) { return r[v].lo < -bound || r[v].hi > bound; };
  // Per node: carries an underflowed subnormal's rounding (lossy), and
  // that rounding enlarged (amplified). Nodes come in id order, operands first.
  enum : uint8_t { kLossy = 1, kAmplified = 2 };
  std::unordered_map<NodeId, uint8_t> flags;
  auto of = [&](NodeId v) {
    auto it = flags.find(v);
    return it == flags.end() ? uint8_t(0) : it->second;
  };
  std::vector<UnderflowSource> sources;  // the exps' operands, each once
  auto add = [&](NodeId a, bool above) {
    auto it = std::find_if(sources.begin(), sources.end(), [&](const UnderflowSource& s) { return s.a == a; });
    if (it == sources.end()) it = sources.insert(sources.end(), {a});
    (above ? it->above : it->below) = true;
  };
  for (NodeId id : reachable_elementwise(g, roots)) {
    const Node& n = g[id];
    if (g.is_condition(id)) continue;
    uint8_t f = 0;
    switch (n.op) {
      case Op::Exp:
      case Op::ExpDiv:
        if (may_be_below(id, FLT_MIN)) {
          // exp(a) / b with b that may be below 1 enlarges exp's rounding itself.
          f = kLossy | (n.op == Op::ExpDiv && may_be_below(n.args[1], 1) ? kAmplified : 0);
          add(n.args[0], false);
        }
        break;
      case Op::Where: f = of(n.args[1]) | of(n.args[2]); break;
      case Op::Mul:
        for (int k = 0; k < 2; ++k)
          if (of(n.args[k])) f |= of(n.args[k]) | (may_exceed(n.args[1 - k], 1) ? kAmplified : 0);
        break;
      case Op::Div:
        if (of(n.args[0])) f |= of(n.args[0]) | (may_be_below(n.args[1], 1) ? kAmplified : 0);
        if (of(n.args[1])) f |= kAmplified;
        // u / exp(a): 0 past a = 88.7, where exp(a) overflows and the quotient need not
        if (const Node& d = g[n.args[1]]; d.op == Op::Exp && r[d.args[0]].hi > -kExpUnderflowBand.hi) {
          f |= kLossy | kAmplified;
          add(d.args[0], true);
        }
        break;
      default:
        for (unsigned k = 0; k < n.arity; ++k) f |= of(n.args[k]);
        break;
    }
    if (f && may_be_below(id, kTinyFloat)) flags[id] = f;
  }
  for (NodeId root : roots)
    if ((of(root) & kAmplified) && may_be_below(root, kTinyFloat)) return sources;
  return {};
}

}  // namespace actjit::ir
