// The one public entry of the grammar: text -> position-tagged AST.
#pragma once

#include <string_view>

#include "grammar/ast.hpp"
#include "grammar/diagnostics.hpp"

namespace actjit {

struct ParseOptions {
  /// Deepest nesting of parentheses, calls, unary operators and powers.
  unsigned max_depth = 400;
  /// Largest source accepted, in bytes.
  size_t max_source_bytes = size_t(16) << 20;
};

/// Parses a whole source: definitions and/or expressions separated by
/// newlines or ';'. Errors carry the byte offset where they were found.
Result<ast::Module> parse(std::string_view source, const ParseOptions& options = {});

/// True when `name` is a reserved word (and, or, not).
bool is_keyword(std::string_view name);

}  // namespace actjit
