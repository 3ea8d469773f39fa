// Driver of the target-independent stages (see pipeline.hpp).
#include "compiler/pipeline.hpp"

#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "compiler/diff/diff.hpp"
#include "compiler/diff/vjp.hpp"
#include "compiler/ir/row.hpp"
#include "compiler/ir/print.hpp"
#include "compiler/simplify/simplify.hpp"
#include "compiler/simplify/stabilize.hpp"

extern const char actjit_catalogue_source[];

namespace actjit {

std::string_view catalogue_source() { return actjit_catalogue_source; }

const sema::Library& catalogue() {
  static const sema::Library lib = [] {
    auto src = std::make_shared<sema::ParsedSource>();
    src->name = "<catalogue>";
    src->text = actjit_catalogue_source;
    auto parsed = parse(src->text);
    if (!parsed) {
      std::fputs(render(src->text, parsed.error(), "internal error in the catalogue").c_str(), stderr);
      std::abort();
    }
    src->module = std::move(*parsed);
    auto lib = sema::load_definitions(src, sema::Library{});
    if (!lib) {
      std::fputs(render(src->text, lib.error(), "internal error in the catalogue").c_str(), stderr);
      std::abort();
    }
    return std::move(*lib);
  }();
  return lib;
}

std::string Program::canonical_key() const {
  // Nodes are numbered in a depth-first post-order from the roots (operands
  // in order), so the key depends only on the structure, not on the order
  // in which a graph happened to create its nodes. Iterative: no recursion.
  std::vector<ir::NodeId> roots = all_roots();
  std::unordered_map<ir::NodeId, uint32_t> number;
  std::string key;
  char buf[64];
  auto emit = [&](ir::NodeId id) {
    const ir::Node& n = graph[id];
    uint32_t k = uint32_t(number.size());
    number[id] = k;
    int len = std::snprintf(buf, sizeof buf, "%u", unsigned(n.op));
    key.append(buf, size_t(len));
    for (unsigned i = 0; i < n.arity; ++i) {
      len = std::snprintf(buf, sizeof buf, ",%u", number.at(n.args[i]));
      key.append(buf, size_t(len));
    }
    if (n.op == ir::Op::Const || n.op == ir::Op::Param || n.op == ir::Op::CondConst) {
      len = std::snprintf(buf, sizeof buf, "#%llx", (unsigned long long)std::bit_cast<uint64_t>(n.value));
      key.append(buf, size_t(len));
    }
    if (ir::rare_where(graph, id)) key += 'r';  // a rare branch: emitted apart (Emitter::emit)
    if (n.lo != 0) {  // a folded constant's rest: float64 kernels use it
      len = std::snprintf(buf, sizeof buf, "+%llx", (unsigned long long)std::bit_cast<uint64_t>(n.lo));
      key.append(buf, size_t(len));
    }
    key += ';';
  };
  for (ir::NodeId root : roots) {
    std::vector<std::pair<ir::NodeId, unsigned>> stack{{root, 0}};
    while (!stack.empty()) {
      auto& [id, next] = stack.back();
      if (number.count(id)) {
        stack.pop_back();
        continue;
      }
      const ir::Node& n = graph[id];
      if (next < n.arity) {
        ir::NodeId child = n.args[next++];
        if (!number.count(child)) stack.push_back({child, 0});
        continue;
      }
      emit(id);
      stack.pop_back();
    }
  }
  key += "roots";
  for (ir::NodeId r : roots) key += "," + std::to_string(number.at(r));
  key += ";params=" + std::to_string(function.params.size());
  if (row.rowwise) {
    key += ";row=" + std::to_string(row.out_divisor) + "," + std::to_string(row.multiple);
    for (auto& [view, e] : row.dx)
      key += ";dx@" + std::to_string(std::bit_cast<uint64_t>(view.encode())) + "=" + std::to_string(number.at(e));
    if (row.wide) key += ";wide";
  }
  if (streaming_stores) key += ";nt";
  if (narrow_forward) key += ";narrow";
  if (keep_input) key += ";keep";
  return key;
}

std::vector<ir::NodeId> Program::derivative_roots() const {
  std::vector<ir::NodeId> roots = all_roots();
  roots.erase(roots.begin());
  return roots;
}

std::optional<Program> output_vjp_program(const Program& p) {
  const ir::View plain{};
  if (!p.row.rowwise || !p.function.params.empty() || p.row.out_divisor != 1 || p.row.multiple != 1 ||
      p.row.dx.size() != 1 || !(p.row.dx[0].first == plain) || !p.row.dparams.empty())
    return std::nullopt;
  Program q = p;
  ir::Graph& g = q.graph;
  // y stands in as a parameter no function has until x is known to be gone.
  const ir::NodeId y = g.make(ir::Op::Param, {}, double(UINT32_MAX));
  auto with_y = ir::transform(g, std::array{p.row.dx[0].second}, [&](const ir::Node& n, const std::array<ir::NodeId, 3>& a) {
    ir::NodeId made = g.remake(n, std::span<const ir::NodeId>(a.data(), n.arity));
    if (made == p.value) return y;
    // sum(a b) / c = sum((a / c) b) where a / c is y (softmax's sum(e dy) / S).
    if (n.op == ir::Op::Div && g[a[0]].op == ir::Op::Sum && g[g[a[0]].args[0]].op == ir::Op::Mul) {
      const ir::Node& m = g[g[a[0]].args[0]];
      for (int k = 0; k < 2; ++k)
        if (g.make(ir::Op::Div, std::array{m.args[k], a[1]}) == p.value) {
          ir::NodeId yb = g.make(ir::Op::Mul, std::array{y, m.args[1 - k]});
          return g.make(ir::Op::Sum, std::array{yb}, g[a[0]].value);
        }
    }
    // exp(u) (1 / S r) = exp(y) r where y = u - log(S) (log_softmax's e / S).
    if (n.op == ir::Op::Mul)
      for (int k = 0; k < 2; ++k) {
        const ir::Node& e = g[a[k]];
        const ir::Node& m = g[a[1 - k]];
        if (e.op != ir::Op::Exp || m.op != ir::Op::Mul) continue;
        for (int j = 0; j < 2; ++j) {
          const ir::Node& inv = g[m.args[j]];
          if (inv.op != ir::Op::Div || !g.is_const(inv.args[0], 1.0)) continue;
          ir::NodeId log_s = g.make(ir::Op::Log, std::array{inv.args[1]});
          if (g.make(ir::Op::Sub, std::array{e.args[0], log_s}) == p.value)
            return g.make(ir::Op::Mul, std::array{g.make(ir::Op::Exp, std::array{y}), m.args[1 - j]});
        }
      }
    return made;
  });
  for (ir::NodeId id : g.reachable(with_y))
    if (g[id].op == ir::Op::Input) return std::nullopt;
  const ir::NodeId input = g.make(ir::Op::Input, {}, plain.encode());
  auto dx = ir::transform(g, with_y, [&](const ir::Node& n, const std::array<ir::NodeId, 3>& a) {
    ir::NodeId made = g.remake(n, std::span<const ir::NodeId>(a.data(), n.arity));
    return made == y ? input : made;
  });
  q.row.dx[0].second = simplify::simplify(g, dx)[0];
  return q;
}

std::vector<ir::NodeId> Program::all_roots() const {
  std::vector<ir::NodeId> roots{value};
  if (!row.rowwise) {
    roots.push_back(d_x);
    roots.insert(roots.end(), d_params.begin(), d_params.end());
  } else {
    for (auto& [view, e] : row.dx) roots.push_back(e);
    roots.insert(roots.end(), row.dparams.begin(), row.dparams.end());
  }
  return roots;
}

std::string Program::print(ir::NodeId id) const {
  ir::PrintNames names;
  names.input = function.input;
  for (auto& p : function.params) names.params.push_back(p.name);
  // The text repeats shared nodes: a DAG of a few hundred nodes can print
  // as gigabytes (maxout(x, 16)), which used to run for minutes and end in
  // bad_alloc. Refused past kMaxPrintedChars, with the sizes.
  size_t length = ir::printed_length(graph, id, kMaxPrintedChars);
  if (length > kMaxPrintedChars)
    throw PrintTooLarge("the expression is too large to print as text: more than " +
                        std::to_string(kMaxPrintedChars >> 20) + " MiB as a tree of its " +
                        std::to_string(graph.reachable(std::array{id}).size()) +
                        " distinct operations, which the text repeats (`ir` and `asm` show the kernels)");
  return ir::print(graph, id, names);
}

Result<Program> build_program(std::string_view text, const sema::Library& library, const CompileOptions& options) {
  auto src = std::make_shared<sema::ParsedSource>();
  src->name = "<source>";
  src->text = std::string(text);
  auto parsed = parse(src->text, options.parse);
  if (!parsed) return parsed.error();
  src->module = std::move(*parsed);
  Program p;
  auto analysis = sema::analyze(src, library, p.graph, options.limits);
  if (!analysis) return analysis.error();
  p.function = std::move(analysis->function);
  p.warnings = std::move(analysis->warnings);
  if (options.specialize_defaults && !p.function.params.empty()) {
    std::vector<ir::NodeId> value = ir::transform(p.graph, std::array{p.function.value}, [&](const ir::Node& n, const std::array<ir::NodeId, 3>& args) {
      if (n.op == ir::Op::Param) return ir::constant(p.graph, p.function.params[size_t(n.value)].default_value);
      return p.graph.remake(n, std::span<const ir::NodeId>(args.data(), n.arity));
    });
    p.function.value = value[0];
  }
  p.unsimplified = p.function.value;
  p.naive = simplify::simplify(p.graph, std::array{p.function.value})[0];
  p.value = simplify::bounded_factors_first(p.graph, simplify::stabilize(p.graph, std::array{p.naive}))[0];
  if (ir::is_rowwise(p.graph, std::array{p.value})) {
    p.row.rowwise = true;
    ir::Shapes shapes(p.graph);
    p.row.out_divisor = shapes.of(p.value);
    diff::RowGradient grad = diff::vjp(p.graph, p.value, p.row.out_divisor, p.function.params.size());
    std::vector<ir::NodeId> raw;
    for (auto& [view, e] : grad.views) raw.push_back(e);
    raw.insert(raw.end(), grad.params.begin(), grad.params.end());
    std::vector<ir::NodeId> simplified = simplify::simplify(p.graph, raw);
    simplified = simplify::simplify(p.graph, diff::factor_sums(p.graph, simplified));
    simplified = diff::share_normalizer(p.graph, simplified);
    for (size_t k = 0; k < grad.views.size(); ++k) p.row.dx.emplace_back(grad.views[k].first, simplified[k]);
    p.row.dparams.assign(simplified.begin() + long(grad.views.size()), simplified.end());
    p.row.multiple = ir::row_multiple(p.graph, p.all_roots());
  } else {
    std::vector<ir::NodeId> vars{p.graph.make(ir::Op::Input)};
    if (!options.specialize_defaults)  // else no parameter is left to differentiate by
      for (size_t j = 0; j < p.function.params.size(); ++j) vars.push_back(p.graph.make(ir::Op::Param, {}, double(j)));
    std::vector<ir::NodeId> raw;
    for (ir::NodeId v : vars) raw.push_back(diff::derivative(p.graph, p.value, v));
    std::vector<ir::NodeId> simplified = simplify::bounded_factors_first(
        p.graph, simplify::cancel_parameters(p.graph, simplify::simplify(p.graph, raw)));
    p.d_x = simplified[0];
    p.d_params.assign(simplified.begin() + 1, simplified.end());
  }
  std::vector<ir::NodeId> roots = p.all_roots();
  // Operations weighted by the instructions they become: code generation
  // time grows faster than linearly with the size of the loop body.
  size_t cost = p.graph.weight(roots);
  if (cost > options.max_kernel_nodes)
    return Diagnostic{0, "the function and its derivatives need about " + std::to_string(cost) +
                             " machine operations; the limit is " + std::to_string(options.max_kernel_nodes)};
  if (std::chrono::steady_clock::now() > options.limits.deadline)
    return Diagnostic{0, "compilation took longer than the time limit"};
  return p;
}

}  // namespace actjit
