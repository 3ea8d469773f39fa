// The IR printer: writes a node as text in the actjit language, with the
// fewest parentheses that keep the meaning, so the text parses back to the
// same DAG. Iterative, so deep graphs cannot overflow the stack.
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {

struct PrintNames {
  std::string input = "x";
  std::vector<std::string> params;  // by parameter index
};

/// `root` as an expression of the language.
std::string print(const Graph& g, NodeId root, const PrintNames& names = {});

/// About how many characters print() writes for `root`, counted over the
/// DAG (a shared node counts once per use, as the text repeats it) and
/// stopping at `cap` + 1: the text of a DAG can be exponentially longer
/// than the DAG (maxout(x, 16) as text is about 10^10 characters).
size_t printed_length(const Graph& g, NodeId root, size_t cap);

/// Shortest decimal text that reads back as exactly `v` ("inf"/"nan" for
/// non-finite values, which the language cannot spell as literals).
std::string format_number(double v);

}  // namespace actjit::ir
