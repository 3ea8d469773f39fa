// Printing IR as parseable language text (see print.hpp).
#include "compiler/ir/print.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

namespace actjit::ir {

namespace {

// Binding strength of what a node prints as; an operand printed where a
// stronger form is needed gets parentheses.
enum Level : int { kOr = 1, kAnd, kNot, kCompare, kAdd, kMul, kUnary, kPow, kAtom };

int level_of(const Graph& g, NodeId id) {
  const Node& n = g[id];
  switch (n.op) {
    case Op::Const: return std::signbit(n.value) && !std::isnan(n.value) ? kUnary : kAtom;
    case Op::Neg: return kUnary;
    case Op::Add:
    case Op::Sub: return kAdd;
    case Op::Mul:
    case Op::Div:
    case Op::ExpDiv: return kMul;
    case Op::Pow: return kPow;
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge:
    case Op::Eq:
    case Op::Ne: return kCompare;
    case Op::And: return kAnd;
    case Op::Or: return kOr;
    case Op::Not: return kNot;
    default: return kAtom;
  }
}

struct Task {
  NodeId id;
  int level;
  const char* text;  // non-null: emit this text
};

}  // namespace

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  return std::string(buf, r.ptr);
}

size_t printed_length(const Graph& g, NodeId root, size_t cap) {
  std::vector<NodeId> order = g.reachable(std::array{root});
  std::unordered_map<NodeId, size_t> length;
  for (NodeId id : order) {  // operands first
    const Node& n = g[id];
    size_t total = n.arity == 0 ? 8 : 6;  // a leaf's text; an operation's name, parentheses and commas
    for (unsigned i = 0; i < n.arity; ++i) total = std::min(cap + 1, total + length[n.args[i]]);
    length[id] = total;
  }
  return length[root];
}

std::string print(const Graph& g, NodeId root, const PrintNames& names) {
  std::string out;
  std::vector<Task> stack{{root, 0, nullptr}};
  while (!stack.empty()) {
    Task t = stack.back();
    stack.pop_back();
    if (t.text) {
      out += t.text;
      continue;
    }
    const Node& n = g[t.id];
    bool parens = level_of(g, t.id) < t.level;
    // Tasks are pushed in reverse order of output.
    std::vector<Task> parts;
    auto text = [&](const char* s) { parts.push_back({0, 0, s}); };
    auto node = [&](NodeId id, int level) { parts.push_back({id, level, nullptr}); };
    switch (n.op) {
      case Op::Const: {
        if (std::isnan(n.value)) {
          text("(0 / 0)");
        } else if (std::isinf(n.value)) {
          text(n.value > 0 ? "(1 / 0)" : "(-1 / 0)");
        } else {
          out += parens ? "(" + format_number(n.value) + ")" : format_number(n.value);
          continue;
        }
        break;
      }
      case Op::CondConst: text(n.value != 0 ? "(0 < 1)" : "(1 < 0)"); break;
      case Op::Input: {
        View v = View::decode(n.value);
        std::string base = names.input;
        if (v.group > 1)
          base = "pick(" + base + ", " + std::to_string(v.group) + ", " + std::to_string(v.offset) + ")";
        if (v.parts > 1)
          base = "chunk(" + base + ", " + std::to_string(v.parts) + ", " + std::to_string(v.index) + ")";
        out += base;
        continue;
      }
      case Op::Cotangent: out += "dy"; continue;
      case Op::Param: {
        size_t i = size_t(n.value);
        out += i < names.params.size() ? names.params[i] : "p" + std::to_string(i);
        continue;
      }
      case Op::Neg: text("-"); node(n.args[0], kPow); break;
      case Op::Add:
      case Op::Sub:
        node(n.args[0], kAdd);
        text(n.op == Op::Add ? " + " : " - ");
        node(n.args[1], kMul);
        break;
      case Op::Mul:
      case Op::Div:
        node(n.args[0], kMul);
        text(n.op == Op::Mul ? " * " : " / ");
        node(n.args[1], kUnary);
        break;
      case Op::TanhShrink:  // as the catalogue's tanhshrink(a), which is a - tanh(a) and comes back as this op
        text("tanhshrink(");
        node(n.args[0], 0);
        text(")");
        break;
      case Op::ExpDiv:  // printed as what it computes: exp(a) / b
        text("exp(");
        node(n.args[0], 0);
        text(") / ");
        node(n.args[1], kUnary);
        break;
      case Op::Pow:
        node(n.args[0], kAtom);
        text(" ^ ");
        node(n.args[1], kUnary);
        break;
      case Op::Lt:
      case Op::Le:
      case Op::Gt:
      case Op::Ge:
      case Op::Eq:
      case Op::Ne: {
        static const char* const spell[] = {" < ", " <= ", " > ", " >= ", " == ", " != "};
        node(n.args[0], kAdd);
        text(spell[int(n.op) - int(Op::Lt)]);
        node(n.args[1], kAdd);
        break;
      }
      case Op::And:
        node(n.args[0], kAnd);
        text(" and ");
        node(n.args[1], kNot);
        break;
      case Op::Or:
        node(n.args[0], kOr);
        text(" or ");
        node(n.args[1], kAnd);
        break;
      case Op::Not: text("not "); node(n.args[0], kNot); break;
      case Op::Exp: case Op::Expm1: case Op::Log: case Op::Log1p: case Op::Sqrt: case Op::Abs:
      case Op::Sign: case Op::Min: case Op::Max: case Op::Sin: case Op::Cos: case Op::Tan:
      case Op::Sinh: case Op::Cosh: case Op::Tanh: case Op::Asinh: case Op::Atan: case Op::Erf:
      case Op::Erfc: case Op::Floor: case Op::Ceil: case Op::Round: case Op::Where: case Op::Sum:
      case Op::Mean: case Op::RowMax: case Op::RowMin: case Op::StopGrad:
        text(info(n.op).spelling);
        text("(");
        for (unsigned i = 0; i < n.arity; ++i) {
          if (i) text(", ");
          node(n.args[i], 0);
        }
        text(")");
        break;
    }
    if (parens) stack.push_back({0, 0, ")"});
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) stack.push_back(*it);
    if (parens) stack.push_back({0, 0, "("});
  }
  return out;
}

}  // namespace actjit::ir
