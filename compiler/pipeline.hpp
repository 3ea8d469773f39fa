// The front half of the pipeline as one call: text -> AST -> IR ->
// simplified -> stabilized -> derivatives (d/dx and d/dparam) -> simplified. Each stage is
// its own pass; this file only strings them together and owns the catalogue.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/graph.hpp"
#include "compiler/sema/sema.hpp"
#include "grammar/parse.hpp"

namespace actjit {

/// A compiled-to-IR function with its derivatives, ready for lowering.
struct Program {
  ir::Graph graph;
  sema::Function function;
  ir::NodeId value = ir::kNoNode;       // f(x; p), simplified and stabilized
  ir::NodeId d_x = ir::kNoNode;         // df/dx
  std::vector<ir::NodeId> d_params;     // df/dp_j
  std::vector<Diagnostic> warnings;     // offsets into the source
  ir::NodeId unsimplified = ir::kNoNode;  // f as sema built it (for --emit and tests)

  /// A canonical text of the final graph (value and derivatives): equal
  /// programs give equal keys. Linear in the size of the graph.
  std::string canonical_key() const;
  /// Printed forms in the language (parseable).
  std::string print(ir::NodeId id) const;
};

struct CompileOptions {
  ParseOptions parse;
  sema::Limits limits;  // includes the deadline, checked between stages too
  /// Operations in the final function and all its derivatives together,
  /// weighted by the instructions they become (an inline exp counts ~24);
  /// bounds the work (and time: ~4 s at the default) of code generation.
  size_t max_kernel_nodes = 20'000;
};

/// The built-in catalogue, parsed and checked once (thread-safe).
const sema::Library& catalogue();
/// The catalogue's source text (embedded at build time).
std::string_view catalogue_source();

/// Parses and analyses `source` on top of `library` (usually the catalogue)
/// and differentiates the result. Errors point into `source`.
Result<Program> build_program(std::string_view source, const sema::Library& library,
                              const CompileOptions& options = {});

}  // namespace actjit
