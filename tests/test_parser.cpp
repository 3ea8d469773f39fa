// Parser tests: every valid form of LANGUAGE.md sections 1-2 parses to the
// expected tree; line joining; limits; linear behaviour on large input.
#include <catch2/catch.hpp>

#include <cmath>

#include "grammar/parse.hpp"

using namespace actjit;

namespace {

// A compact S-expression of an AST node, for comparisons.
std::string sexpr(const ast::Module& m, ast::Index i) {
  const ast::Node& n = m.nodes[i];
  auto kids = [&](std::string head) {
    for (ast::Index k : n.kids) head += " " + sexpr(m, k);
    return "(" + head + ")";
  };
  switch (n.kind) {
    case ast::Kind::Number: return n.text;
    case ast::Kind::Name: return n.text;
    case ast::Kind::Neg: return kids("neg");
    case ast::Kind::Plus: return kids("plus");
    case ast::Kind::Not: return kids("not");
    case ast::Kind::Pow: return kids("^");
    case ast::Kind::Compare: return kids(n.text);
    case ast::Kind::List: return kids("list");
    case ast::Kind::Chain: {
      std::string s = "(" + sexpr(m, n.kids[0]);
      for (size_t k = 1; k < n.kids.size(); ++k) s += std::string(" ") + n.ops[k - 1] + " " + sexpr(m, n.kids[k]);
      return s + ")";
    }
    case ast::Kind::Call: {
      std::string s = "(call " + n.text;
      for (size_t k = 0; k < n.kids.size(); ++k)
        s += " " + (n.keywords[k].empty() ? "" : n.keywords[k] + "=") + sexpr(m, n.kids[k]);
      return s + ")";
    }
  }
  return "?";
}

std::string expr(const std::string& src) {
  auto m = parse(src);
  if (!m) return "error: " + m.error().message;
  REQUIRE(m->statements.size() == 1);
  REQUIRE_FALSE(m->statements[0].is_definition);
  return sexpr(*m, m->statements[0].expr);
}

}  // namespace

TEST_CASE("numbers", "[parser]") {
  CHECK(expr("1") == "1");
  CHECK(expr("0.5") == "0.5");
  CHECK(expr("1e-3") == "1e-3");
  CHECK(expr(".5") == ".5");
  CHECK(expr("2.") == "2.");
  CHECK(expr("1E+3") == "1E+3");
  auto m = parse("1e-999");
  REQUIRE(m);
  CHECK(m->nodes[m->statements[0].expr].number == 0.0);  // underflow is 0
  m = parse("0.1");
  CHECK(m->nodes[m->statements[0].expr].number == 0.1);   // the nearest double
  CHECK_FALSE(parse("1e999"));                             // overflow is an error
}

TEST_CASE("operator precedence and associativity", "[parser]") {
  CHECK(expr("1 + 2 * 3") == "(1 + (2 * 3))");
  CHECK(expr("(1 + 2) * 3") == "((1 + 2) * 3)");
  CHECK(expr("a - b - c") == "(a - b - c)");
  CHECK(expr("a / b * c") == "(a / b * c)");
  CHECK(expr("-x^2") == "(neg (^ x 2))");
  CHECK(expr("2^-x") == "(^ 2 (neg x))");
  CHECK(expr("2^-x^2") == "(^ 2 (neg (^ x 2)))");
  CHECK(expr("a^b^c") == "(^ a (^ b c))");
  CHECK(expr("x ** 2") == "(^ x 2)");
  CHECK(expr("x * * 2").rfind("error", 0) == 0);
  CHECK(expr("+x") == "(plus x)");
  CHECK(expr("- -x") == "(neg (neg x))");
  CHECK(expr("x - -1") == "(x - (neg 1))");
}

TEST_CASE("conditions and logic", "[parser]") {
  CHECK(expr("x > 0 and x < 1 or not x == 2") == "(((> x 0) & (< x 1)) | (not (== x 2)))");
  CHECK(expr("x <= 1") == "(<= x 1)");
  CHECK(expr("x >= 1") == "(>= x 1)");
  CHECK(expr("x != 1") == "(!= x 1)");
  CHECK(expr("where(x > 0, x, 0)") == "(call where (> x 0) x 0)");
  CHECK(expr("0 < x < 1").rfind("error: comparisons cannot be chained", 0) == 0);
  CHECK(expr("android + orchid") == "(android + orchid)");  // keywords only as whole words
}

TEST_CASE("calls with positional and keyword arguments", "[parser]") {
  CHECK(expr("softplus(x, beta = 2)") == "(call softplus x beta=2)");
  CHECK(expr("f(x, 1, b = 2)") == "(call f x 1 b=2)");
  CHECK(expr("f(x, b == 2)") == "(call f x (== b 2))");
  CHECK(expr("f()") == "(call f)");
  CHECK(expr("[1, -2, 3]") == "(list 1 (neg 2) 3)");
}

TEST_CASE("definitions", "[parser]") {
  auto m = parse("f(x, a = 1, b = -2) = a * x + b");
  REQUIRE(m);
  REQUIRE(m->statements.size() == 1);
  const auto& s = m->statements[0];
  REQUIRE(s.is_definition);
  CHECK(s.def.name == "f");
  CHECK(s.def.input == "x");
  REQUIRE(s.def.params.size() == 2);
  CHECK(s.def.params[0].name == "a");
  CHECK(s.def.params[1].name == "b");
  CHECK(sexpr(*m, s.def.params[1].default_value) == "(neg 2)");
  CHECK(sexpr(*m, s.def.body) == "((a * x) + b)");
  m = parse("g(t) = t^2");
  REQUIRE(m);
  CHECK(m->statements[0].def.input == "t");
  m = parse("f(x, a) = a * x");  // a missing default is sema's error, with a position
  REQUIRE(m);
  CHECK(m->statements[0].def.params[0].default_value == ast::kNone);
  m = parse("f(x, a = 1) + 2");  // not a definition: a call in an expression
  REQUIRE(m);
  CHECK_FALSE(m->statements[0].is_definition);
}

TEST_CASE("statements - separators - comments and line joining", "[parser]") {
  auto m = parse("# leading comment\n\nf(x) = x  # trailing\ng(x) = f(x); h(x) = g(x)\n\n");
  REQUIRE(m);
  CHECK(m->statements.size() == 3);
  m = parse("f(x) =\n  x +\n  1\ng(x) = where(x > 0,\n   x,\n   0)");
  REQUIRE(m);
  CHECK(m->statements.size() == 2);
  m = parse("x > 0 and\n x < 1");
  REQUIRE(m);
  CHECK(m->statements.size() == 1);
  m = parse("x + # comment ends the line\n 1");
  REQUIRE(m);
  CHECK(m->statements.size() == 1);
  m = parse("f(x) = x\r\ng(x) = x\r\n");
  REQUIRE(m);
  CHECK(m->statements.size() == 2);
  m = parse("x\n+ 1");  // a newline before an operator ends the statement
  REQUIRE(m);
  CHECK(m->statements.size() == 2);
}

TEST_CASE("errors carry the position where they were found", "[parser]") {
  auto m = parse("(x + 1");
  REQUIRE_FALSE(m);
  CHECK(m.error().offset == 6);
  m = parse("x +\n  * 2");
  REQUIRE_FALSE(m);
  CHECK(line_col("x +\n  * 2", m.error().offset).line == 2);
  CHECK(line_col("x +\n  * 2", m.error().offset).column == 3);
  m = parse("");
  REQUIRE_FALSE(m);
  CHECK(m.error().offset == 0);
  m = parse("# only a comment\n");
  REQUIRE_FALSE(m);
}

TEST_CASE("nesting is capped - just past the limit", "[parser]") {
  std::string ok(400, '('), bad(401, '(');
  ok += "x" + std::string(400, ')');
  bad += "x" + std::string(401, ')');
  CHECK(parse(ok));
  auto m = parse(bad);
  REQUIRE_FALSE(m);
  CHECK(m.error().offset == 400);
  ParseOptions small;
  small.max_depth = 10;
  CHECK_FALSE(parse("((((((((((((x))))))))))))", small));
}

TEST_CASE("a 1 MB source parses (flat chains - no deep recursion)", "[parser]") {
  std::string s;
  while (s.size() < (1u << 20)) s += "x * 0.5 + ";
  s += "x";
  auto m = parse(s);
  REQUIRE(m);
  CHECK(m->statements.size() == 1);
  std::string defs;
  for (int i = 0; defs.size() < (1u << 20); ++i) defs += "f" + std::to_string(i) + "(x, a = 1) = a * x + " + std::to_string(i) + "\n";
  m = parse(defs);
  REQUIRE(m);
  CHECK(m->statements.size() > 20000);
}
