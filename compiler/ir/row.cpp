// Shapes, view rewriting and the row reference evaluator (see row.hpp).
#include "compiler/ir/row.hpp"

#include <cmath>
#include <limits>
#include <numeric>

#include "compiler/ir/eval.hpp"
#include "grammar/diagnostics.hpp"

namespace actjit::ir {

uint64_t Shapes::of(NodeId id) {
  while (d_.size() <= id) {
    NodeId k = NodeId(d_.size());
    const Node& n = g_[k];
    uint64_t d = kScalar;
    if (n.op == Op::Input) {
      d = View::decode(n.value).divisor();
    } else if (n.op == Op::Cotangent) {
      d = uint64_t(n.value);
    } else if (!(info(n.op).flags & Reduction)) {
      for (unsigned i = 0; i < n.arity; ++i) {
        uint64_t a = d_[n.args[i]];
        if (a == kScalar) continue;
        if (a == kMixed || (d != kScalar && d != a)) {
          d = kMixed;
          break;
        }
        d = a;
      }
    }
    d_.push_back(d);
  }
  return d_[id];
}

std::vector<NodeId> reachable_elementwise(const Graph& g, std::span<const NodeId> roots,
                                          const std::function<bool(NodeId)>& stop) {
  std::vector<NodeId> out;
  if (roots.empty()) return out;
  NodeId top = 0;
  for (NodeId r : roots) top = std::max(top, r);
  std::vector<char> mark(top + 1, 0);
  for (NodeId r : roots) mark[r] = 1;
  for (NodeId id = top + 1; id-- > 0;) {
    if (!mark[id]) continue;
    const Node& n = g[id];
    if ((info(n.op).flags & Reduction) || (stop && stop(id))) continue;
    for (unsigned i = 0; i < n.arity; ++i) mark[n.args[i]] = 1;
  }
  for (NodeId id = 0; id <= top; ++id)
    if (mark[id]) out.push_back(id);
  return out;
}

bool is_rowwise(const Graph& g, std::span<const NodeId> roots) {
  for (NodeId id : g.reachable(roots)) {
    const Node& n = g[id];
    if (info(n.op).flags & Reduction) return true;
    if (n.op == Op::Input && !View::decode(n.value).identity()) return true;
    if (n.op == Op::Cotangent) return true;
  }
  return false;
}

NodeId reindex(Graph& g, NodeId e, const std::function<bool(View, View&)>& f) {
  std::vector<NodeId> order = reachable_elementwise(g, std::array{e});
  std::vector<NodeId> map(e + 1, kNoNode);
  for (NodeId id : order) {
    const Node n = g[id];  // a copy: the graph grows
    if (n.op == Op::Input) {
      View v;
      if (!f(View::decode(n.value), v)) return kNoNode;
      map[id] = g.make(Op::Input, {}, v.encode());
    } else if ((info(n.op).flags & Reduction) || n.arity == 0) {
      map[id] = id;
    } else {
      std::array<NodeId, 3> args{};
      for (unsigned i = 0; i < n.arity; ++i) args[i] = map[n.args[i]];
      map[id] = g.remake(n, std::span<const NodeId>(args.data(), n.arity));
    }
  }
  return map[e];
}

uint64_t row_multiple(const Graph& g, std::span<const NodeId> roots) {
  uint64_t m = 1;
  for (NodeId id : g.reachable(roots)) {
    const Node& n = g[id];
    uint64_t d = 1;
    if (n.op == Op::Input) d = View::decode(n.value).divisor();
    else if ((info(n.op).flags & Reduction) || n.op == Op::Cotangent) d = std::max<uint64_t>(1, uint64_t(n.value));
    m = std::lcm(m, d);
  }
  return m;
}

template <class T>
std::vector<std::vector<T>> evaluate_row(const Graph& g, std::span<const NodeId> roots, std::span<const T> x,
                                         std::span<const T> params, std::span<const T> dy) {
  const size_t n = x.size();
  Shapes shapes(g);
  std::vector<NodeId> order = g.reachable(roots);
  std::vector<std::vector<T>> value(order.empty() ? 0 : order.back() + 1);
  auto length = [&](uint64_t d) { return d == kScalar ? size_t(1) : size_t(n / d); };
  for (NodeId id : order) {
    const Node& nd = g[id];
    std::vector<T>& out = value[id];
    const size_t len = length(shapes.of(id));
    switch (nd.op) {
      case Op::Const:
      case Op::CondConst: out.assign(1, T(nd.value)); break;
      case Op::Param: out.assign(1, params[size_t(nd.value)]); break;
      case Op::Input: {
        View v = View::decode(nd.value);
        out.resize(len);
        for (size_t j = 0; j < len; ++j) out[j] = x[v.index * (n / v.parts) + j * v.group + v.offset];
        break;
      }
      case Op::Cotangent: out.assign(dy.begin(), dy.begin() + std::min(dy.size(), len)); break;
      case Op::Sum:
      case Op::Mean:
      case Op::RowMax:
      case Op::RowMin: {
        const std::vector<T>& a = value[nd.args[0]];
        const size_t m = length(uint64_t(nd.value));
        long double acc = nd.op == Op::RowMax ? -INFINITY : nd.op == Op::RowMin ? INFINITY : 0;
        bool nan = false;
        for (size_t j = 0; j < m; ++j) {
          T v = a[a.size() == 1 ? 0 : j];
          if (std::isnan(v)) nan = true;
          if (nd.op == Op::RowMax) acc = std::max<long double>(acc, v);
          else if (nd.op == Op::RowMin) acc = std::min<long double>(acc, v);
          else acc += v;
        }
        if (nd.op == Op::Mean) acc /= (long double)m;
        out.assign(1, nan ? std::numeric_limits<T>::quiet_NaN() : T(acc));
        break;
      }
      default: {
        out.resize(len);
        auto at = [&](unsigned k, size_t j) {
          const std::vector<T>& a = value[nd.args[k]];
          return a.size() == 1 ? a[0] : a[j];
        };
        for (size_t j = 0; j < len; ++j)
          out[j] = apply<T>(nd.op, at(0, j), nd.arity > 1 ? at(1, j) : T(0), nd.arity > 2 ? at(2, j) : T(0));
      }
    }
  }
  std::vector<std::vector<T>> result;
  for (NodeId r : roots) result.push_back(value[r]);
  return result;
}

template std::vector<std::vector<float>> evaluate_row<float>(const Graph&, std::span<const NodeId>,
                                                             std::span<const float>, std::span<const float>,
                                                             std::span<const float>);
template std::vector<std::vector<double>> evaluate_row<double>(const Graph&, std::span<const NodeId>,
                                                               std::span<const double>, std::span<const double>,
                                                               std::span<const double>);
template std::vector<std::vector<long double>> evaluate_row<long double>(const Graph&, std::span<const NodeId>,
                                                                         std::span<const long double>,
                                                                         std::span<const long double>,
                                                                         std::span<const long double>);

ExpMinusMax exp_minus_row_max(const Graph& g, NodeId e) {
  if (g[e].op != Op::Exp || g[g[e].args[0]].op != Op::Sub) return {};
  const Node& d = g[g[e].args[0]];
  NodeId m = g[d.args[1]].op == Op::StopGrad ? g[d.args[1]].args[0] : d.args[1];
  if (g[m].op != Op::RowMax || g[m].args[0] != d.args[0]) return {};
  return {d.args[0], d.args[1], m};
}

}  // namespace actjit::ir
