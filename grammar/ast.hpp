// The position-tagged syntax tree produced by the grammar. Plain data, no
// logic. Nodes live in one arena (Module::nodes) and refer to each other by
// index; left-associative operator chains are flat lists so that long inputs
// (`x + x + ... + x`) never make a deep tree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace actjit::ast {

using Index = uint32_t;
constexpr Index kNone = UINT32_MAX;

enum class Kind : uint8_t {
  Number,   // text: the literal as written; number: its value
  Name,     // text: the identifier
  Neg,      // -kids[0]
  Plus,     // +kids[0]
  Not,      // not kids[0]
  Chain,    // kids[0] ops[0] kids[1] ops[1] kids[2] ... (+ - * / and or)
  Compare,  // kids[0] text kids[1]  (text: < <= > >= == !=)
  Pow,      // kids[0] ^ kids[1]
  Call,     // text(kids...), keywords[i] non-empty for keyword arguments
  List,     // [kids...] (REPL only)
};

struct Node {
  Kind kind = Kind::Number;
  uint32_t pos = 0;                 // byte offset where the node starts
  uint32_t group_pos = UINT32_MAX;  // offset of an enclosing '(' if parenthesised
  double number = 0;
  std::string text;
  std::vector<Index> kids;
  std::string ops;                    // Chain operators: + - * / & (and) | (or)
  std::vector<std::string> keywords;  // Call: keyword per argument ("" = positional)
  std::vector<uint32_t> keyword_pos;  // Call: offset of each keyword

  /// Where an error about this node as an operand should point.
  uint32_t where() const { return group_pos != UINT32_MAX ? group_pos : pos; }
};

struct Param {
  std::string name;
  uint32_t pos = 0;
  Index default_value = kNone;  // kNone: no default given (an error in sema)
};

struct Definition {
  std::string name;
  uint32_t pos = 0;
  std::string input;
  uint32_t input_pos = 0;
  std::vector<Param> params;
  Index body = kNone;
  uint32_t end = 0;  // offset just past the body
};

struct Statement {
  bool is_definition = false;
  Definition def;          // when is_definition
  Index expr = kNone;      // otherwise
  uint32_t pos = 0;
  uint32_t end = 0;
};

struct Module {
  std::vector<Node> nodes;
  std::vector<Statement> statements;
};

}  // namespace actjit::ast
