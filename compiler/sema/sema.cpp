// Name resolution, parameter binding, inlining and type checking (sema.hpp).
#include "compiler/sema/sema.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "compiler/ir/eval.hpp"
#include "compiler/ir/print.hpp"
#include "compiler/ir/row.hpp"
#include "grammar/parse.hpp"

namespace actjit::sema {

using ir::NodeId;
using ir::Op;

long Library::find(std::string_view name, size_t end) const {
  for (size_t i = std::min(end, defs_.size()); i-- > 0;)
    if (defs_[i].def->name == name) return long(i);
  return -1;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  auto common_prefix = [](std::string_view a, std::string_view b) {
    size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    return k;
  };
  std::string best;
  if (name.size() > 64) return best;  // no suggestions for absurd names (and no quadratic work)
  const size_t threshold = std::max<size_t>(2, name.size() / 3);
  size_t best_d = SIZE_MAX, best_p = 0;
  for (const std::string& c : candidates) {
    if (c.empty() || c[0] == '_' || c == name || c.size() > 64) continue;
    size_t d = distance(name, c), p = common_prefix(name, c);
    if (d > threshold) continue;
    if (d < best_d || (d == best_d && p > best_p) || (d == best_d && p == best_p && c < best)) {
      best = c;
      best_d = d;
      best_p = p;
    }
  }
  return best;
}

namespace {

/// A user error found while analysing; caught at the module boundary.
struct SemaError {
  const ParsedSource* source;
  uint32_t offset;
  std::string message;
};

const char* const kMathFunctions[] = {"exp",  "expm1", "log",  "log1p", "sqrt", "abs",  "sign",
                                      "min",  "max",   "clamp", "pow",  "sin",  "cos",  "tan",
                                      "sinh", "cosh",  "tanh", "asinh", "atan", "erf",  "erfc",
                                      "floor", "ceil", "round", "where", "sum", "mean", "chunk",
                                      "pick", "groups", "stop_gradient"};

bool is_math_function(std::string_view name) {
  return std::find(std::begin(kMathFunctions), std::end(kMathFunctions), name) != std::end(kMathFunctions);
}

struct Typed {
  NodeId id;
  bool condition;
};

/// What names mean inside one body (or a top-level expression).
struct Env {
  const ParsedSource* source;
  const ast::Definition* def;  // null for a top-level expression
  size_t visible_end;          // definitions [0, visible_end) are visible
  std::string_view input_name;
  NodeId input;
  std::vector<std::pair<std::string_view, NodeId>> params;
  bool constant_only = false;  // parameter defaults: no input, no parameters
};

class Analyzer {
 public:
  Analyzer(const Library& lib, ir::Graph& g, const Limits& limits) : lib_(lib), g_(g), limits_(limits) {}

  Typed expr(const Env& env, ast::Index i);
  /// expr() with the row-length check of number().
  Typed number_or_condition(const Env& env, ast::Index i) {
    Typed t = expr(env, i);
    return t.condition ? t : Typed{number(env, i, "a number", t), false};
  }
  NodeId number(const Env& env, ast::Index i, const char* what);
  NodeId number(const Env& env, ast::Index i, const char* what, Typed t);
  NodeId condition(const Env& env, ast::Index i);
  /// The body of definition `d` with its input and parameters bound.
  NodeId inline_definition(size_t d, NodeId input, const std::vector<NodeId>& params, uint32_t call_pos,
                           const ParsedSource* call_source);
  /// Validates definition `d` and evaluates its defaults (into `defaults`).
  void check_definition(size_t d, std::vector<double>& defaults, std::vector<Diagnostic>* warnings);
  /// Defaults of the Param nodes of the function being analysed; a
  /// parameter used as a size (chunk, groups) is fixed to its value and
  /// flagged here (it is then not learnable).
  void set_param_defaults(std::vector<double> defaults) {
    param_defaults_ = std::move(defaults);
    shape_params_.assign(param_defaults_.size(), false);
  }
  const std::vector<bool>& shape_params() const { return shape_params_; }

 private:
  [[noreturn]] void fail(const Env& env, uint32_t offset, std::string message) {
    throw SemaError{env.source, offset, std::move(message)};
  }
  NodeId make(Op op, std::initializer_list<NodeId> args) {
    if (g_.size() >= limits_.max_nodes)
      throw SemaError{nullptr, 0, "function too large: more than " + std::to_string(limits_.max_nodes) +
                                      " distinct operations"};
    return g_.make(op, std::span<const NodeId>(args.begin(), args.size()));
  }
  Typed call(const Env& env, const ast::Node& n);
  Typed row_call(const Env& env, const ast::Node& n);
  /// A size argument (chunk's count and index, groups' size): a constant
  /// integer in [lo, hi], known when the function is compiled.
  uint32_t size_argument(const Env& env, ast::Index i, const char* what, uint64_t lo, uint64_t hi);
  Typed name(const Env& env, const ast::Node& n);
  std::vector<std::string> function_names(const Env& env) const;

  const Library& lib_;
  ir::Graph& g_;
  const Limits& limits_;
  size_t work_ = 0;
  unsigned inline_depth_ = 0;
  ir::Shapes shapes_{g_};
  std::vector<double> param_defaults_;
  std::vector<bool> shape_params_;
};

std::string length_text(uint64_t d) { return d == 1 ? "n" : "n/" + std::to_string(d); }

const ast::Node& node_of(const Env& env, ast::Index i) { return env.source->module.nodes[i]; }

NodeId Analyzer::number(const Env& env, ast::Index i, const char* what) { return number(env, i, what, expr(env, i)); }

NodeId Analyzer::number(const Env& env, ast::Index i, const char* what, Typed t) {
  if (t.condition)
    fail(env, node_of(env, i).where(),
         std::string("a condition cannot be used as ") + what + "; use where(condition, a, b)");
  if (shapes_.of(t.id) == ir::kMixed) {
    const ir::Node& n = g_[t.id];
    std::vector<std::string> lengths;
    for (unsigned k = 0; k < n.arity; ++k) {
      uint64_t d = shapes_.of(n.args[k]);
      if (d != ir::kScalar && d != ir::kMixed) lengths.push_back(length_text(d));
    }
    std::string detail = lengths.size() >= 2 ? " (" + lengths[0] + " and " + lengths[1] + ")" : "";
    fail(env, node_of(env, i).where(),
         "this combines rows of different lengths" + detail + "; chunk() and groups() change the length of a row");
  }
  return t.id;
}

NodeId Analyzer::condition(const Env& env, ast::Index i) {
  Typed t = expr(env, i);
  if (!t.condition) fail(env, node_of(env, i).where(), "expected a condition (a comparison such as x > 0)");
  return t.id;
}

std::vector<std::string> Analyzer::function_names(const Env& env) const {
  std::vector<std::string> names(std::begin(kMathFunctions), std::end(kMathFunctions));
  for (size_t d = 0; d < env.visible_end && d < lib_.definitions().size(); ++d)
    names.push_back(lib_.definitions()[d].def->name);
  return names;
}

Typed Analyzer::expr(const Env& env, ast::Index i) {
  if (++work_ > limits_.max_work)
    throw SemaError{nullptr, 0, "function too large after inlining definitions (more than " +
                                    std::to_string(limits_.max_work) + " operations)"};
  if ((work_ & 4095) == 0 && std::chrono::steady_clock::now() > limits_.deadline)
    throw SemaError{nullptr, 0, "compilation took longer than the time limit"};
  const ast::Node& n = node_of(env, i);
  switch (n.kind) {
    case ast::Kind::Number: return {ir::constant(g_, n.number), false};
    case ast::Kind::Name: return name(env, n);
    case ast::Kind::Neg: return {make(Op::Neg, {number(env, n.kids[0], "a number")}), false};
    case ast::Kind::Plus: return {number(env, n.kids[0], "a number"), false};
    case ast::Kind::Not: return {make(Op::Not, {condition(env, n.kids[0])}), true};
    case ast::Kind::Chain: {
      bool logic = n.ops[0] == '&' || n.ops[0] == '|';
      NodeId acc = logic ? condition(env, n.kids[0]) : number(env, n.kids[0], "a number");
      for (size_t k = 1; k < n.kids.size(); ++k) {
        char op = n.ops[k - 1];
        NodeId rhs = logic ? condition(env, n.kids[k]) : number(env, n.kids[k], "a number");
        Op irop = op == '+' ? Op::Add : op == '-' ? Op::Sub : op == '*' ? Op::Mul : op == '/' ? Op::Div
                  : op == '&' ? Op::And : Op::Or;
        acc = make(irop, {acc, rhs});
      }
      return {acc, logic};
    }
    case ast::Kind::Compare: {
      NodeId a = number(env, n.kids[0], "a number"), b = number(env, n.kids[1], "a number");
      Op op = n.text == "<" ? Op::Lt : n.text == "<=" ? Op::Le : n.text == ">" ? Op::Gt
              : n.text == ">=" ? Op::Ge : n.text == "==" ? Op::Eq : Op::Ne;
      return {make(op, {a, b}), true};
    }
    case ast::Kind::Pow:
      return {make(Op::Pow, {number(env, n.kids[0], "a number"), number(env, n.kids[1], "a number")}), false};
    case ast::Kind::Call: return call(env, n);
    case ast::Kind::List:
      fail(env, n.pos, "a list is not an expression of x; lists are for evaluating in the REPL");
  }
  fail(env, n.pos, "unsupported expression");
}

Typed Analyzer::name(const Env& env, const ast::Node& n) {
  std::string_view s = n.text;
  if (!env.constant_only && s == env.input_name) return {env.input, false};
  if (!env.constant_only)
    for (auto& [pname, id] : env.params)
      if (pname == s) return {id, false};
  if (s == "pi") return {ir::constant(g_, std::numbers::pi), false};
  if (s == "e") return {ir::constant(g_, std::numbers::e), false};
  if (env.constant_only && (s == "x" || s == env.input_name))
    fail(env, n.pos, "a parameter default must be a constant; it cannot use the input '" + std::string(s) + "'");
  bool is_function = is_math_function(s) || lib_.find(s, env.visible_end) >= 0;
  if (is_function)
    fail(env, n.pos, "'" + std::string(s) + "' is a function; call it, as in " + std::string(s) + "(x)");
  std::vector<std::string> candidates{"pi", "e"};
  if (!env.constant_only) {
    candidates.emplace_back(env.input_name);
    for (auto& p : env.params) candidates.emplace_back(p.first);
  }
  std::string message = "unknown name '" + std::string(s) + "'";
  std::string hint = did_you_mean(s, candidates);
  if (hint.empty()) {
    auto fns = function_names(env);
    hint = did_you_mean(s, fns);
    if (!hint.empty()) hint += "(x)";
  }
  if (!hint.empty()) {
    message += "; did you mean '" + hint + "'?";
  } else if (!env.constant_only) {
    message += "; the input is '" + std::string(env.input_name) + "'";
  }
  fail(env, n.pos, message);
}

Typed Analyzer::call(const Env& env, const ast::Node& n) {
  const std::string& fname = n.text;
  auto positional_only = [&](size_t want_min, size_t want_max) {
    for (size_t k = 0; k < n.kids.size(); ++k)
      if (!n.keywords[k].empty())
        fail(env, n.keyword_pos[k], "'" + fname + "' takes no keyword arguments");
    if (n.kids.size() < want_min || n.kids.size() > want_max) {
      std::string want = want_min == want_max ? std::to_string(want_min)
                                              : std::to_string(want_min) + " to " + std::to_string(want_max);
      fail(env, n.pos, "'" + fname + "' takes " + want + " argument" + (want_max == 1 ? "" : "s") + ", got " +
                           std::to_string(n.kids.size()));
    }
  };
  if (fname == "sum" || fname == "mean" || fname == "chunk" || fname == "pick" || fname == "groups" ||
      ((fname == "max" || fname == "min") && n.kids.size() == 1))
    return row_call(env, n);
  if (fname == "where") {
    positional_only(3, 3);
    NodeId c = condition(env, n.kids[0]);
    NodeId a = number(env, n.kids[1], "a number"), b = number(env, n.kids[2], "a number");
    return {make(Op::Where, {c, a, b}), false};
  }
  if (fname == "clamp") {
    positional_only(3, 3);
    NodeId v = number(env, n.kids[0], "a number"), lo = number(env, n.kids[1], "a number"),
           hi = number(env, n.kids[2], "a number");
    return {make(Op::Min, {make(Op::Max, {v, lo}), hi}), false};
  }
  Op op;
  if (ir::op_from_function_name(fname, op)) {
    unsigned arity = ir::info(op).arity;
    positional_only(arity, arity);
    if (arity == 1) return {make(op, {number(env, n.kids[0], "a number")}), false};
    return {make(op, {number(env, n.kids[0], "a number"), number(env, n.kids[1], "a number")}), false};
  }
  long d = lib_.find(fname, env.visible_end);
  if (d < 0) {
    if (env.def && env.def->name == fname)
      fail(env, n.pos, "'" + fname + "' calls itself; recursion is not allowed");
    std::string message = "unknown function '" + fname + "'";
    auto fns = function_names(env);
    std::string hint = did_you_mean(fname, fns);
    if (!hint.empty()) message += "; did you mean '" + hint + "'?";
    fail(env, n.pos, message);
  }
  const DefinitionRef& ref = lib_.definitions()[size_t(d)];
  const ast::Definition& def = *ref.def;
  // Bind arguments: the first positional one is the input, then parameters.
  std::vector<NodeId> bound(def.params.size(), ir::kNoNode);
  NodeId input = ir::kNoNode;
  size_t positional = 0;
  auto signature = [&] {
    std::string s = fname + "(" + def.input;
    for (auto& p : def.params) s += ", " + p.name;
    return s + ")";
  };
  for (size_t k = 0; k < n.kids.size(); ++k) {
    const std::string& kw = n.keywords[k];
    if (kw.empty()) {
      if (positional > def.params.size())
        fail(env, node_of(env, n.kids[k]).where(),
             "too many arguments: '" + fname + "' takes at most " + std::to_string(def.params.size() + 1) +
                 " (" + signature() + "), got " + std::to_string(n.kids.size()));
      NodeId v = number(env, n.kids[k], "an argument");
      if (positional == 0) {
        input = v;
      } else {
        if (bound[positional - 1] != ir::kNoNode)
          fail(env, node_of(env, n.kids[k]).where(), "parameter '" + def.params[positional - 1].name + "' given twice");
        bound[positional - 1] = v;
      }
      ++positional;
      continue;
    }
    if (kw == def.input)
      fail(env, n.keyword_pos[k], "the input of '" + fname + "' is passed by position, not as '" + kw + " = ...'");
    size_t p = 0;
    while (p < def.params.size() && def.params[p].name != kw) ++p;
    if (p == def.params.size()) {
      std::string message = "'" + fname + "' has no parameter '" + kw + "'";
      std::vector<std::string> names;
      for (auto& q : def.params) names.push_back(q.name);
      std::string hint = did_you_mean(kw, names);
      if (!hint.empty()) {
        message += "; did you mean '" + hint + "'?";
      } else {
        message += def.params.empty() ? "; it has no parameters" : "; its parameters: " + signature();
      }
      fail(env, n.keyword_pos[k], message);
    }
    if (bound[p] != ir::kNoNode) fail(env, n.keyword_pos[k], "parameter '" + kw + "' given twice");
    bound[p] = number(env, n.kids[k], "an argument");
  }
  if (input == ir::kNoNode)
    fail(env, n.pos, "'" + fname + "' needs its input as the first argument, as in " + fname + "(x)");
  for (size_t p = 0; p < bound.size(); ++p)
    if (bound[p] == ir::kNoNode) bound[p] = ir::constant(g_, ref.defaults[p]);
  return {inline_definition(size_t(d), input, bound, n.pos, env.source), false};
}

uint32_t Analyzer::size_argument(const Env& env, ast::Index i, const char* what, uint64_t lo, uint64_t hi) {
  NodeId v = number(env, i, what);
  double value = 0;
  if (g_[v].op == Op::Const) {
    value = g_.const_value(v);
  } else if (g_[v].op == Op::Param && size_t(g_[v].value) < param_defaults_.size()) {
    value = param_defaults_[size_t(g_[v].value)];
    shape_params_[size_t(g_[v].value)] = true;
  } else {
    fail(env, node_of(env, i).where(),
         std::string(what) + " must be a constant integer (a number, or a parameter fixed when compiling)");
  }
  if (!(value >= double(lo) && value <= double(hi)) || value != std::floor(value))
    fail(env, node_of(env, i).where(),
         std::string(what) + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
             ", got " + ir::format_number(value));
  return uint32_t(value);
}

Typed Analyzer::row_call(const Env& env, const ast::Node& n) {
  const std::string& fname = n.text;
  for (size_t k = 0; k < n.kids.size(); ++k)
    if (!n.keywords[k].empty()) fail(env, n.keyword_pos[k], "'" + fname + "' takes no keyword arguments");
  auto arity = [&](size_t want, const char* form) {
    if (n.kids.size() != want)
      fail(env, n.pos, "'" + fname + "' takes " + std::to_string(want) + " argument" + (want == 1 ? "" : "s") +
                           " (" + form + "), got " + std::to_string(n.kids.size()));
  };
  if (fname == "groups")
    fail(env, n.pos, "groups(e, k) is only allowed as the argument of sum, mean, max or min, as in max(groups(x, 2))");
  if (fname == "chunk") {
    arity(3, "chunk(e, parts, index)");
    NodeId e = number(env, n.kids[0], "a number");
    uint32_t parts = size_argument(env, n.kids[1], "the number of chunks", 1, ir::View::kMaxField);
    uint32_t index = size_argument(env, n.kids[2], "the chunk index", 0, parts - 1);
    NodeId out = ir::reindex(g_, e, [&](ir::View v, ir::View& o) { return v.chunk(parts, index, o); });
    if (out == ir::kNoNode) fail(env, n.pos, "chunks nested too finely (more than 65536 parts of the row)");
    return {out, false};
  }
  if (fname == "pick") {
    arity(3, "pick(e, k, t)");
    NodeId e = number(env, n.kids[0], "a number");
    uint32_t k = size_argument(env, n.kids[1], "the group size", 1, ir::View::kMaxField);
    uint32_t t = size_argument(env, n.kids[2], "the position in the group", 0, k - 1);
    NodeId out = ir::reindex(g_, e, [&](ir::View v, ir::View& o) { return v.pick(k, t, o); });
    if (out == ir::kNoNode) fail(env, n.pos, "groups nested too finely (more than 65536 elements in a group)");
    return {out, false};
  }
  Op op = fname == "sum" ? Op::Sum : fname == "mean" ? Op::Mean : fname == "max" ? Op::RowMax : Op::RowMin;
  arity(1, (fname + "(e)").c_str());
  const ast::Node& arg = node_of(env, n.kids[0]);
  if (arg.kind == ast::Kind::Call && arg.text == "groups") {
    // A reduction over consecutive groups of k: a row of n/k values, one
    // per group, as k strided views of the operand combined elementwise.
    for (size_t k = 0; k < arg.kids.size(); ++k)
      if (!arg.keywords[k].empty()) fail(env, arg.keyword_pos[k], "'groups' takes no keyword arguments");
    if (arg.kids.size() != 2)
      fail(env, arg.pos, "'groups' takes 2 arguments (groups(e, k)), got " + std::to_string(arg.kids.size()));
    NodeId e = number(env, arg.kids[0], "a number");
    constexpr uint32_t kMaxGroup = 256;
    uint32_t k = size_argument(env, arg.kids[1], "the group size", 1, kMaxGroup);
    std::vector<NodeId> members;
    for (uint32_t t = 0; t < k; ++t) {
      members.push_back(ir::reindex(g_, e, [&](ir::View v, ir::View& o) { return v.pick(k, t, o); }));
      if (members.back() == ir::kNoNode)
        fail(env, arg.pos, "groups nested too finely (more than 65536 elements in a group)");
    }
    if (shapes_.of(e) == ir::kScalar)
      fail(env, arg.pos, "groups(e, k) needs an expression of the row (the input)");
    if (op == Op::Sum || op == Op::Mean) {
      NodeId acc = members[0];
      for (uint32_t t = 1; t < k; ++t) acc = make(Op::Add, {acc, members[t]});
      if (op == Op::Mean) acc = make(Op::Div, {acc, ir::constant(g_, double(k))});
      return {acc, false};
    }
    // max: of two neighbouring runs of members, the later one replaces the
    // earlier only if strictly greater, or if it is NaN and the earlier is
    // not: the value is the max (NaN if any is NaN) and the gradient goes to
    // the first maximum, or to the first NaN (as PyTorch's max over a
    // dimension). Pairs of neighbours, level by level, keep that order and
    // make the tree log2(k) deep: each member's derivative is a where()
    // chain of that length (a chain over the k members made it k - t long
    // for member t, k^2/2 selects for the backward).
    for (size_t width = members.size(); width > 1; width = (width + 1) / 2) {
      for (size_t i = 0; i + 1 < width; i += 2) {
        NodeId earlier = members[i], later = members[i + 1];
        NodeId better = make(op == Op::RowMax ? Op::Gt : Op::Lt, {later, earlier});
        NodeId first_nan = make(Op::And, {make(Op::Ne, {later, later}), make(Op::Eq, {earlier, earlier})});
        members[i / 2] = make(Op::Where, {make(Op::Or, {better, first_nan}), later, earlier});
      }
      if (width % 2) members[width / 2] = members[width - 1];
    }
    return {members[0], false};
  }
  NodeId e = number(env, n.kids[0], "a number");
  uint64_t d = shapes_.of(e);
  if (d == ir::kScalar) d = 1;
  if (g_.size() >= limits_.max_nodes)
    throw SemaError{nullptr, 0, "function too large: more than " + std::to_string(limits_.max_nodes) +
                                    " distinct operations"};
  return {g_.make(op, std::array{e}, double(d)), false};
}

NodeId Analyzer::inline_definition(size_t d, NodeId input, const std::vector<NodeId>& params, uint32_t call_pos,
                                   const ParsedSource* call_source) {
  const DefinitionRef& ref = lib_.definitions()[d];
  if (++inline_depth_ > limits_.max_inline_depth)
    throw SemaError{call_source, call_pos,
                    "definitions call each other more than " + std::to_string(limits_.max_inline_depth) +
                        " levels deep"};
  Env env{ref.source.get(), ref.def, d, ref.def->input, input, {}, false};
  for (size_t p = 0; p < params.size(); ++p) env.params.emplace_back(ref.def->params[p].name, params[p]);
  NodeId out = number(env, ref.def->body, "a number");
  --inline_depth_;
  return out;
}

void Analyzer::check_definition(size_t d, std::vector<double>& defaults, std::vector<Diagnostic>* warnings) {
  const DefinitionRef& ref = lib_.definitions()[d];
  const ast::Definition& def = *ref.def;
  Env env{ref.source.get(), &def, d, def.input, ir::kNoNode, {}, true};
  if (is_math_function(def.name) || def.name == "pi" || def.name == "e")
    fail(env, def.pos, "'" + def.name + "' is a built-in math " + (is_math_function(def.name) ? "function" : "constant") +
                           " and cannot be redefined");
  if (warnings && lib_.find(def.name, d) >= 0) {
    const DefinitionRef& old = lib_.definitions()[size_t(lib_.find(def.name, d))];
    if (old.source.get() != ref.source.get())
      warnings->push_back(Diagnostic{def.pos, "'" + def.name + "' shadows the catalogue function of that name"});
    else
      warnings->push_back(Diagnostic{def.pos, "'" + def.name + "' is redefined; later uses see this definition"});
  }
  for (size_t p = 0; p < def.params.size(); ++p) {
    const ast::Param& param = def.params[p];
    if (param.name == def.input)
      fail(env, param.pos, "duplicate parameter '" + param.name + "' in definition of '" + def.name + "'");
    for (size_t q = 0; q < p; ++q)
      if (def.params[q].name == param.name)
        fail(env, param.pos, "duplicate parameter '" + param.name + "' in definition of '" + def.name + "'");
    if (param.default_value == ast::kNone)
      fail(env, param.pos, "parameter '" + param.name + "' of '" + def.name +
                               "' needs a default value, as in " + param.name + " = 1");
  }
  defaults.clear();
  for (const ast::Param& param : def.params) {
    NodeId v = number(env, param.default_value, "a parameter default");
    for (NodeId id : g_.reachable(std::array{v})) {
      Op op = g_[id].op;
      if (op == Op::Input || op == Op::Param)
        fail(env, ref.source->module.nodes[param.default_value].where(), "a parameter default must be a constant");
    }
    double value = ir::evaluate<double>(g_, std::array{v}, 0.0, {})[0];
    if (!std::isfinite(value))
      fail(env, ref.source->module.nodes[param.default_value].where(),
           "the default of parameter '" + param.name + "' is not a finite number");
    defaults.push_back(value);
  }
}

Diagnostic to_diagnostic(const SemaError& e, const ParsedSource* expected) {
  if (e.source && e.source != expected) {
    // An error inside a definition of another source (the catalogue): cite it.
    LineCol lc = line_col(e.source->text, e.offset);
    return Diagnostic{0, "in " + e.source->name + " at " + std::to_string(lc.line) + ":" +
                             std::to_string(lc.column) + ": " + e.message};
  }
  return Diagnostic{e.source ? e.offset : 0, e.message};
}

/// Appends the definitions of `source` to `lib`, checking each one.
void add_definitions(const std::shared_ptr<const ParsedSource>& source, Library& lib, Analyzer& an,
                     std::vector<Diagnostic>* warnings, ir::Graph& g) {
  for (const ast::Statement& s : source->module.statements) {
    if (!s.is_definition) continue;
    lib.mutable_definitions().push_back(DefinitionRef{source, &s.def, {}});
    size_t d = lib.definitions().size() - 1;
    std::vector<double> defaults;
    an.check_definition(d, defaults, warnings);
    lib.mutable_definitions()[d].defaults = std::move(defaults);
    // Type-check the body once with symbolic parameters.
    std::vector<NodeId> params;
    for (size_t p = 0; p < s.def.params.size(); ++p) params.push_back(g.make(Op::Param, {}, double(p)));
    an.set_param_defaults(lib.definitions()[d].defaults);
    an.inline_definition(d, g.make(Op::Input), params, s.def.pos, source.get());
  }
}

/// Parameters used as sizes become constants (their defaults) and leave the
/// parameter list; the others are renumbered.
void fix_shape_params(ir::Graph& g, Function& fn, const std::vector<bool>& shape) {
  if (std::find(shape.begin(), shape.end(), true) == shape.end()) return;
  std::vector<NodeId> replacement(shape.size());
  std::vector<ParamInfo> kept;
  for (size_t p = 0; p < shape.size(); ++p) {
    if (shape[p]) {
      replacement[p] = ir::constant(g, fn.params[p].default_value);
    } else {
      replacement[p] = g.make(Op::Param, {}, double(kept.size()));
      kept.push_back(fn.params[p]);
    }
  }
  fn.value = ir::transform(g, std::array{fn.value}, [&](const ir::Node& n, const std::array<NodeId, 3>& args) {
    if (n.op == Op::Param) return replacement[size_t(n.value)];
    return g.remake(n, std::span<const NodeId>(args.data(), n.arity));
  })[0];
  fn.params = std::move(kept);
}

}  // namespace

Result<Library> load_definitions(std::shared_ptr<const ParsedSource> source, const Library& base,
                                 const Limits& limits) {
  Library lib = base;
  ir::Graph scratch;
  Analyzer an(lib, scratch, limits);
  try {
    for (const ast::Statement& s : source->module.statements)
      if (!s.is_definition) return Diagnostic{s.pos, "expected only definitions in " + source->name};
    add_definitions(source, lib, an, nullptr, scratch);
  } catch (const SemaError& e) {
    return Diagnostic{e.offset, e.message};
  }
  return lib;
}

Result<Analysis> analyze(std::shared_ptr<const ParsedSource> source, const Library& library, ir::Graph& graph,
                         const Limits& limits) {
  Library lib = library;
  Analyzer an(lib, graph, limits);
  Analysis out;
  try {
    add_definitions(source, lib, an, &out.warnings, graph);
    const ast::Statement& last = source->module.statements.back();
    Function& fn = out.function;
    size_t def_index = SIZE_MAX;
    if (last.is_definition) {
      def_index = lib.definitions().size() - 1;
    } else {
      const ast::Node& n = source->module.nodes[last.expr];
      if (n.kind == ast::Kind::Name && n.text != "x" && n.text != "pi" && n.text != "e") {
        long d = lib.find(n.text, lib.definitions().size());
        Op op;
        if (d >= 0) {
          def_index = size_t(d);
        } else if (ir::op_from_function_name(n.text, op) && ir::info(op).arity == 1) {
          fn.name = n.text;
          fn.value = graph.make(op, std::array{graph.make(Op::Input)});
          return out;
        }
      }
    }
    if (def_index != SIZE_MAX) {
      const DefinitionRef& ref = lib.definitions()[def_index];
      fn.name = ref.def->name;
      fn.input = ref.def->input;
      std::vector<NodeId> params;
      for (size_t p = 0; p < ref.def->params.size(); ++p) {
        fn.params.push_back(ParamInfo{ref.def->params[p].name, ref.defaults[p]});
        params.push_back(graph.make(Op::Param, {}, double(p)));
      }
      an.set_param_defaults(ref.defaults);
      fn.value = an.inline_definition(def_index, graph.make(Op::Input), params, last.pos, source.get());
      fix_shape_params(graph, fn, an.shape_params());
      return out;
    }
    Env env{source.get(), nullptr, lib.definitions().size(), "x", graph.make(Op::Input), {}, false};
    an.set_param_defaults({});
    Typed t = an.number_or_condition(env, last.expr);
    if (t.condition)
      return Diagnostic{source->module.nodes[last.expr].where(),
                        "the expression is a condition, not a number; use where(condition, a, b)"};
    fn.value = t.id;
  } catch (const SemaError& e) {
    return to_diagnostic(e, source.get());
  }
  return out;
}

}  // namespace actjit::sema
