// Node storage and interning for the IR DAG.
#include "compiler/ir/graph.hpp"

#include <bit>
#include <cmath>
#include <cstring>

#include "grammar/diagnostics.hpp"

namespace actjit::ir {

namespace {
constexpr OpInfo kInfo[] = {
#define ACTJIT_OP(name, spelling, arity, flags) {#name, spelling, arity, flags},
#include "compiler/ir/ops.def"
#undef ACTJIT_OP
};
}  // namespace

const OpInfo& info(Op op) { return kInfo[static_cast<size_t>(op)]; }

unsigned instruction_weight(Op op) {
  switch (op) {
    case Op::Exp: case Op::Expm1: case Op::ExpDiv: return 24;
    case Op::Tanh: case Op::TanhShrink: return 28;
    case Op::Log: case Op::Log1p: return 32;
    // erfc inline (the float table's erfcx, 2^n and exp(-m^2) parts): the gelu
    // forward's loop is 229 instructions for four registers; as 40 its forms
    // without the catalogue's guards (0.5*x*erfc(-x/sqrt(2)), erfc(x)) stayed
    // one register wide, 6-29% slower in float (twenty-sixth sitting)
    case Op::Erfc: return 56;
    case Op::Erf: case Op::Pow: case Op::Sin: case Op::Cos: case Op::Tan: case Op::Sinh:
    case Op::Cosh: case Op::Asinh: case Op::Atan: return 40;
    default: return 1;
  }
}

bool op_from_function_name(std::string_view name, Op& op) {
  for (size_t i = 0; i < std::size(kInfo); ++i) {
    const OpInfo& in = kInfo[i];
    bool is_function = std::isalpha(static_cast<unsigned char>(in.spelling[0])) && !(in.flags & Leaf) &&
                       !(in.flags & Condition) && !(in.flags & Reduction);
    if (is_function && name == in.spelling) {
      op = static_cast<Op>(i);
      return true;
    }
  }
  return false;
}

double View::encode() const {
  ACTJIT_ASSERT(parts >= 1 && parts <= kMaxField && group >= 1 && group <= kMaxField && index < parts &&
                offset < group);
  uint64_t bits = uint64_t(parts - 1) | uint64_t(index) << 16 | uint64_t(group - 1) << 32 | uint64_t(offset) << 48;
  return std::bit_cast<double>(bits);
}

bool View::chunk(uint32_t n_parts, uint32_t i, View& out) const {
  if (uint64_t(parts) * n_parts > kMaxField) return false;
  out = View{parts * n_parts, index * n_parts + i, group, offset};
  return true;
}

bool View::pick(uint32_t k, uint32_t t, View& out) const {
  if (uint64_t(group) * k > kMaxField) return false;
  out = View{parts, index, group * k, offset + t * group};
  return true;
}

View View::decode(double payload) {
  uint64_t bits = std::bit_cast<uint64_t>(payload);
  return View{uint32_t(bits & 0xffff) + 1, uint32_t(bits >> 16 & 0xffff), uint32_t(bits >> 32 & 0xffff) + 1,
              uint32_t(bits >> 48 & 0xffff)};
}

size_t Graph::KeyHash::operator()(const Key& k) const {
  uint64_t h = static_cast<uint64_t>(k.op) * 0x9E3779B97F4A7C15ull;
  for (NodeId a : k.args) h = (h ^ a) * 0x100000001B3ull + (h >> 29);
  h ^= k.bits + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h ^= k.lo_bits + (h << 6) + (h >> 2);
  return static_cast<size_t>(h);
}

NodeId Graph::make(Op op, std::span<const NodeId> args, double value, double lo) {
  const OpInfo& in = info(op);
  ACTJIT_ASSERT(args.size() == in.arity);
  if (op != Op::Const || !std::isfinite(lo)) lo = 0;
  Key key{op, {kNoNode, kNoNode, kNoNode}, std::bit_cast<uint64_t>(value), std::bit_cast<uint64_t>(lo + 0.0)};
  for (size_t i = 0; i < args.size(); ++i) {
    ACTJIT_ASSERT(args[i] < nodes_.size());
    key.args[i] = args[i];
  }
  auto [it, inserted] = index_.try_emplace(key, NodeId(nodes_.size()));
  if (inserted) nodes_.push_back(Node{op, uint8_t(in.arity), key.args, value, lo + 0.0});
  return it->second;
}

bool Graph::is_const(NodeId id, double v) const {
  const Node& n = nodes_[id];
  return n.op == Op::Const && std::bit_cast<uint64_t>(n.value) == std::bit_cast<uint64_t>(v);
}

std::vector<NodeId> Graph::reachable(std::span<const NodeId> roots) const {
  std::vector<char> mark(nodes_.size(), 0);
  NodeId top = 0;
  for (NodeId r : roots) {
    mark[r] = 1;
    top = std::max(top, r);
  }
  std::vector<NodeId> out;
  if (roots.empty()) return out;
  // Operands have smaller ids, so one downward sweep marks everything.
  for (NodeId id = top + 1; id-- > 0;) {
    if (!mark[id]) continue;
    const Node& n = nodes_[id];
    for (unsigned i = 0; i < n.arity; ++i) mark[n.args[i]] = 1;
  }
  for (NodeId id = 0; id <= top; ++id)
    if (mark[id]) out.push_back(id);
  return out;
}

size_t Graph::weight(std::span<const NodeId> roots) const {
  size_t w = 0;
  for (NodeId id : reachable(roots)) w += instruction_weight(nodes_[id].op);
  return w;
}

bool input_free(const Graph& g, NodeId n) {
  for (NodeId id : g.reachable(std::array{n}))
    if (g[id].op == Op::Input) return false;
  return true;
}

NodeId constant(Graph& g, double v, double lo) { return g.make(Op::Const, {}, v, lo); }
NodeId unary(Graph& g, Op op, NodeId a) { return g.make(op, std::array{a}); }
NodeId binary(Graph& g, Op op, NodeId a, NodeId b) { return g.make(op, std::array{a, b}); }
NodeId where(Graph& g, NodeId c, NodeId a, NodeId b, bool rare) {
  return g.make(Op::Where, std::array{c, a, b}, rare ? 1 : 0);
}

}  // namespace actjit::ir
