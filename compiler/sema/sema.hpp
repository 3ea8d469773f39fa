// Name resolution and inlining: AST -> IR. Resolves names against the math
// functions, the catalogue and the user's definitions, binds parameters
// (defaults, positional and keyword overrides), inlines every call, and
// type-checks numbers against conditions. All user errors carry positions.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/graph.hpp"
#include "grammar/ast.hpp"
#include "grammar/diagnostics.hpp"

namespace actjit::sema {

/// A source text and its syntax tree, kept together so that diagnostics can
/// point into the text the definition came from.
struct ParsedSource {
  std::string name;  // "<catalogue>", "<source>", a file name...
  std::string text;
  ast::Module module;
};

/// One definition made visible by a source, in order of appearance.
struct DefinitionRef {
  std::shared_ptr<const ParsedSource> source;
  const ast::Definition* def = nullptr;
  std::vector<double> defaults;  // evaluated parameter defaults
};

/// An ordered set of definitions: later ones shadow earlier ones.
class Library {
 public:
  const std::vector<DefinitionRef>& definitions() const { return defs_; }
  /// Index of the last definition named `name` among the first `end`, or -1.
  long find(std::string_view name, size_t end) const;
  std::vector<DefinitionRef>& mutable_definitions() { return defs_; }

 private:
  std::vector<DefinitionRef> defs_;
};

struct ParamInfo {
  std::string name;
  double default_value = 0;
};

/// An elementwise function of one input with named parameters, as IR.
struct Function {
  std::string name;  // the definition's name; empty for a bare expression
  std::string input = "x";
  std::vector<ParamInfo> params;
  ir::NodeId value = ir::kNoNode;
};

struct Limits {
  size_t max_nodes = 1'000'000;        // IR nodes in one compilation
  size_t max_work = 4'000'000;         // AST nodes visited while inlining
  unsigned max_inline_depth = 256;     // nested calls of definitions
  /// Analysis stops with an error past this point in time (default: never).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

/// What analysing a source produced: the function, plus warnings.
struct Analysis {
  Function function;
  std::vector<Diagnostic> warnings;  // offsets into the analysed source
};

/// Loads a source of definitions only (the catalogue) on top of `base`.
/// Errors point into `source->text`.
Result<Library> load_definitions(std::shared_ptr<const ParsedSource> source, const Library& base,
                                 const Limits& limits = {});

/// Analyses a user source on top of `library` into `graph`: the function is
/// the last statement (a bare expression in x, a call, a function name, or a
/// definition, whose parameters it then exposes).
Result<Analysis> analyze(std::shared_ptr<const ParsedSource> source, const Library& library, ir::Graph& graph,
                         const Limits& limits = {});

/// The closest known name to `name` among `candidates` (empty if none is close).
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace actjit::sema
