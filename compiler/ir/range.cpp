// The NaN range analysis (see range.hpp).
#include "compiler/ir/range.hpp"

#include <cmath>
#include <unordered_map>

namespace actjit::ir {

bool may_make_nan(const Graph& g, std::span<const NodeId> roots) {
  struct Range {
    bool inf = false, nan = false;
  };
  std::unordered_map<NodeId, Range> r;
  auto small_const = [&](NodeId id, double limit) {
    return g.is_const(id) && std::fabs(g.const_value(id)) <= limit;
  };
  auto nonzero_const = [&](NodeId id) { return g.is_const(id) && g.const_value(id) != 0; };
  bool any = false;
  for (NodeId id : g.reachable(roots)) {
    const Node& n = g[id];
    Range a = n.arity > 0 ? r[n.args[0]] : Range{}, b = n.arity > 1 ? r[n.args[1]] : Range{},
          c = n.arity > 2 ? r[n.args[2]] : Range{};
    bool nan_in = a.nan || b.nan || c.nan, inf_in = a.inf || b.inf;
    Range out{inf_in, nan_in};
    switch (n.op) {
      case Op::Const: out = {std::isinf(n.value), std::isnan(n.value)}; break;
      case Op::Input: case Op::Param: case Op::CondConst: out = {}; break;
      case Op::Neg: case Op::Abs: case Op::Floor: case Op::Ceil: case Op::Round: case Op::StopGrad:
      case Op::Min: case Op::Max: case Op::Asinh: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      case Op::Eq: case Op::Ne: case Op::And: case Op::Or: case Op::Not:
        break;  // no new infinity, no new NaN
      case Op::Sign: case Op::Atan: case Op::Tanh: case Op::Erf: case Op::Erfc: out.inf = false; break;
      case Op::Where: out = {b.inf || c.inf, nan_in}; break;
      case Op::Add: case Op::Sub:
        out.nan = nan_in || (a.inf && b.inf);
        out.inf = inf_in || !(small_const(n.args[0], 1e30) || small_const(n.args[1], 1e30));
        break;
      case Op::Mul:
        out.nan = nan_in || inf_in;  // the other operand may be 0
        out.inf = inf_in || !(small_const(n.args[0], 1) || small_const(n.args[1], 1));
        break;
      case Op::Div:
        out.nan = nan_in || (a.inf && b.inf) || !nonzero_const(n.args[1]);
        out.inf = inf_in || !(g.is_const(n.args[1]) && std::fabs(g.const_value(n.args[1])) >= 1);
        break;
      case Op::Exp: case Op::Expm1: case Op::Sinh: case Op::Cosh: out.inf = true; break;
      default: out = {true, true}; break;  // log, sqrt, pow, trig, ExpDiv, reductions: assume the worst
    }
    r[id] = out;
  }
  for (NodeId root : roots) any = any || r[root].nan;
  return any;
}

}  // namespace actjit::ir
