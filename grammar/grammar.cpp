// The Spirit X3 grammar of the actjit language (LANGUAGE.md sections 1-2) and
// parse(). This is the only translation unit that includes X3.
//
// Line joining: a newline inside parentheses or brackets, or after a binary
// operator, '=' or ',' at the end of a line, does not end a statement. A small
// pre-pass (join_lines) replaces such newlines by spaces in a copy of the
// source of the same length, so offsets stay valid; the grammar then treats
// every remaining newline (and ';') as a statement separator. Comments are
// blanked in the copy too.
#include <boost/spirit/home/x3.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>

#include "grammar/parse.hpp"

namespace actjit {

namespace x3 = boost::spirit::x3;
using ast::Index;
using ast::Kind;

namespace {

using Iter = const char*;

/// An error found while parsing; thrown from semantic actions, caught in parse().
struct ParseFailure {
  uint32_t offset;
  std::string message;
};

struct State {
  Iter begin;
  ast::Module* module;
  unsigned depth = 0;
  unsigned max_depth = 400;
  std::vector<uint32_t> open_parens;  // offsets of '(' not yet closed

  uint32_t offset(Iter it) const { return uint32_t(it - begin); }
  Index add(ast::Node n) {
    module->nodes.push_back(std::move(n));
    return Index(module->nodes.size() - 1);
  }
  ast::Node& node(Index i) { return module->nodes[i]; }
};
struct state_tag;

template <class Ctx>
State& state(const Ctx& ctx) {
  return x3::get<state_tag>(ctx).get();
}

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// ---------------------------------------------------------------- actions

auto const set_val = [](auto& ctx) { x3::_val(ctx) = x3::_attr(ctx); };

auto const make_number = [](auto& ctx) {
  auto& st = state(ctx);
  auto range = x3::_attr(ctx);
  std::string text(range.begin(), range.end());
  errno = 0;
  double v = std::strtod(text.c_str(), nullptr);
  if (std::isinf(v))
    throw ParseFailure{st.offset(range.begin()), "number out of range: " + text};
  ast::Node n;
  n.kind = Kind::Number;
  n.pos = st.offset(range.begin());
  n.number = v;
  n.text = std::move(text);
  x3::_val(ctx) = st.add(std::move(n));
};

auto const make_name = [](auto& ctx) {
  auto& st = state(ctx);
  auto range = x3::_attr(ctx);
  ast::Node n;
  n.kind = Kind::Name;
  n.pos = st.offset(range.begin());
  n.text.assign(range.begin(), range.end());
  x3::_val(ctx) = st.add(std::move(n));
};

auto const check_identifier = [](auto& ctx) {
  auto range = x3::_attr(ctx);
  x3::_pass(ctx) = !is_keyword(std::string_view(range.begin(), range.end() - range.begin()));
};

// Unary operators: `op` is the node kind; the operator's position is the node's.
auto make_unary(Kind kind) {
  return [kind](auto& ctx) {
    auto& st = state(ctx);
    ast::Node n;
    n.kind = kind;
    n.pos = st.offset(x3::_where(ctx).begin());
    n.kids = {x3::_attr(ctx)};
    x3::_val(ctx) = st.add(std::move(n));
  };
}

// Appends `op rhs` to the chain in _val (a new chain unless _val already is
// one of the same family: (a+b)+c and a+b+c are the same computation).
auto append_chain(char op) {
  return [op](auto& ctx) {
    auto& st = state(ctx);
    Index lhs = x3::_val(ctx);
    Index rhs = x3::_attr(ctx);
    auto family = [](char c) { return c == '+' || c == '-' ? 0 : c == '*' || c == '/' ? 1 : c == '&' ? 2 : 3; };
    ast::Node& l = st.node(lhs);
    if (l.kind == Kind::Chain && family(l.ops[0]) == family(op)) {
      l.kids.push_back(rhs);
      l.ops.push_back(op);
      return;
    }
    ast::Node n;
    n.kind = Kind::Chain;
    n.pos = l.where();
    n.kids = {lhs, rhs};
    n.ops = std::string(1, op);
    x3::_val(ctx) = st.add(std::move(n));
  };
}

auto const make_pow = [](auto& ctx) {
  auto& st = state(ctx);
  Index lhs = x3::_val(ctx);
  ast::Node n;
  n.kind = Kind::Pow;
  n.pos = st.node(lhs).where();
  n.kids = {lhs, x3::_attr(ctx)};
  x3::_val(ctx) = st.add(std::move(n));
};

auto const make_compare = [](auto& ctx) {
  auto& st = state(ctx);
  Index lhs = x3::_val(ctx);
  ast::Node n;
  n.kind = Kind::Compare;
  n.pos = st.node(lhs).where();
  auto op = boost::fusion::at_c<0>(x3::_attr(ctx));
  n.text.assign(op.begin(), op.end());
  n.kids = {lhs, boost::fusion::at_c<1>(x3::_attr(ctx))};
  x3::_val(ctx) = st.add(std::move(n));
};

auto const chained_comparison = [](auto& ctx) {
  auto& st = state(ctx);
  throw ParseFailure{st.offset(x3::_where(ctx).begin()),
                     "comparisons cannot be chained; write 'a < b and b < c'"};
};

// Nesting guard: every construct that recurses passes through enter/leave.
// Each is followed by an expectation, so a level that is entered is either
// left or the parse ends with an error.
auto const enter = [](auto& ctx) {
  auto& st = state(ctx);
  if (++st.depth > st.max_depth)
    throw ParseFailure{st.offset(x3::_where(ctx).begin()),
                       "expression nested deeper than " + std::to_string(st.max_depth) + " levels"};
};
auto const leave = [](auto& ctx) { --state(ctx).depth; };

auto const open_paren = [](auto& ctx) {
  auto& st = state(ctx);
  st.open_parens.push_back(st.offset(x3::_where(ctx).begin()));
};
auto const close_paren = [](auto& ctx) { state(ctx).open_parens.pop_back(); };

auto const mark_group = [](auto& ctx) {
  auto& st = state(ctx);
  Index i = x3::_attr(ctx);
  st.node(i).group_pos = st.open_parens.back();
  x3::_val(ctx) = i;
};

auto const start_call = [](auto& ctx) {
  auto& st = state(ctx);
  auto range = x3::_attr(ctx);
  ast::Node n;
  n.kind = Kind::Call;
  n.pos = st.offset(range.begin());
  n.text.assign(range.begin(), range.end());
  x3::_val(ctx) = st.add(std::move(n));
};

auto const call_positional = [](auto& ctx) {
  auto& st = state(ctx);
  ast::Node& call = st.node(x3::_val(ctx));
  call.kids.push_back(x3::_attr(ctx));
  call.keywords.emplace_back();
  call.keyword_pos.push_back(0);
};

auto const call_keyword = [](auto& ctx) {
  auto& st = state(ctx);
  auto range = boost::fusion::at_c<0>(x3::_attr(ctx));
  ast::Node& call = st.node(x3::_val(ctx));
  call.kids.push_back(boost::fusion::at_c<1>(x3::_attr(ctx)));
  call.keywords.emplace_back(range.begin(), range.end());
  call.keyword_pos.push_back(st.offset(range.begin()));
};

auto const start_list = [](auto& ctx) {
  auto& st = state(ctx);
  ast::Node n;
  n.kind = Kind::List;
  n.pos = st.offset(x3::_where(ctx).begin());
  x3::_val(ctx) = st.add(std::move(n));
};
auto const list_item = [](auto& ctx) {
  auto& st = state(ctx);
  st.node(x3::_val(ctx)).kids.push_back(x3::_attr(ctx));
};

auto const def_name = [](auto& ctx) {
  auto& st = state(ctx);
  auto range = x3::_attr(ctx);
  x3::_val(ctx).name.assign(range.begin(), range.end());
  x3::_val(ctx).pos = st.offset(range.begin());
};
auto const def_input = [](auto& ctx) {
  auto& st = state(ctx);
  auto range = x3::_attr(ctx);
  x3::_val(ctx).input.assign(range.begin(), range.end());
  x3::_val(ctx).input_pos = st.offset(range.begin());
};
auto const def_param = [](auto& ctx) { x3::_val(ctx).params.push_back(x3::_attr(ctx)); };
auto const def_body = [](auto& ctx) {
  x3::_val(ctx).body = x3::_attr(ctx);
  x3::_val(ctx).end = state(ctx).offset(x3::_where(ctx).end());
};
auto const param_name = [](auto& ctx) {
  auto& st = state(ctx);
  auto range = x3::_attr(ctx);
  x3::_val(ctx).name.assign(range.begin(), range.end());
  x3::_val(ctx).pos = st.offset(range.begin());
};
auto const param_default = [](auto& ctx) { x3::_val(ctx).default_value = x3::_attr(ctx); };

auto const push_definition = [](auto& ctx) {
  auto& st = state(ctx);
  ast::Statement s;
  s.is_definition = true;
  s.def = x3::_attr(ctx);
  s.pos = s.def.pos;
  s.end = s.def.end;
  st.module->statements.push_back(std::move(s));
};
auto const push_expression = [](auto& ctx) {
  auto& st = state(ctx);
  ast::Statement s;
  s.expr = x3::_attr(ctx);
  s.pos = st.offset(x3::_where(ctx).begin());
  s.end = st.offset(x3::_where(ctx).end());
  st.module->statements.push_back(std::move(s));
};

// ---------------------------------------------------------------- rules

auto kw(const char* word) { return x3::lexeme[x3::lit(word) >> !(x3::alnum | x3::lit('_'))]; }

auto const skipper = x3::lit(' ') | x3::lit('\t') | x3::lit('\r') |
                     x3::lexeme[x3::lit('#') >> *(x3::char_ - x3::lit('\n'))];

using Range = boost::iterator_range<Iter>;
auto const identifier_chars = x3::lexeme[(x3::alpha | x3::char_('_')) >> *(x3::alnum | x3::char_('_'))];
x3::rule<class ident_range_r, Range> const ident_range = "a name";
auto const ident_range_def = x3::raw[identifier_chars];
auto const identifier = ident_range[check_identifier];

auto const number_chars = x3::lexeme[(+x3::digit >> -(x3::lit('.') >> *x3::digit) | x3::lit('.') >> +x3::digit) >>
                                     -(x3::char_("eE") >> -x3::char_("+-") >> +x3::digit)];

// The name of a rule is the phrase used in "expected ..." messages.
x3::rule<class expr_r, Index> const expr = "an expression";
x3::rule<class or_r, Index> const or_expr = "an expression";
x3::rule<class and_r, Index> const and_expr = "an expression";
x3::rule<class not_r, Index> const not_expr = "an expression";
x3::rule<class cmp_r, Index> const cmp_expr = "an expression";
x3::rule<class add_r, Index> const add_expr = "an expression";
x3::rule<class mul_r, Index> const mul_expr = "an expression";
x3::rule<class unary_r, Index> const unary = "an expression";
x3::rule<class power_r, Index> const power = "an expression";
x3::rule<class primary_r, Index> const primary = "an expression";
x3::rule<class number_r, Index> const number = "a number";
x3::rule<class call_r, Index> const call = "a call";
x3::rule<class paren_r, Index> const paren = "an expression";
x3::rule<class list_r, Index> const list = "a list";
x3::rule<class close_r> const close = "')'";
x3::rule<class close_args_r> const close_args = "',' or ')'";
x3::rule<class close_list_r> const close_list = "',' or ']'";
x3::rule<class param_r, ast::Param> const param = "a parameter";
x3::rule<class def_r, ast::Definition> const definition = "a definition";
x3::rule<class end_r> const end_of_statement = "end of line or ';'";

x3::rule<class cmp_op_r, Range> const cmp_op = "a comparison";
auto const cmp_op_def = x3::raw[x3::lit("<=") | x3::lit(">=") | x3::lit("==") | x3::lit("!=") | x3::lit('<') | x3::lit('>')];
x3::rule<class number_range_r, Range> const number_range = "a number";
auto const number_range_def = x3::raw[number_chars];
auto const single_eq = x3::lit('=') >> !x3::lit('=');

auto const expr_def = or_expr[set_val];
auto const or_expr_def = and_expr[set_val] >> *((kw("or") >> x3::eps[enter] > and_expr > x3::eps[leave])[append_chain('|')]);
auto const and_expr_def = not_expr[set_val] >> *((kw("and") >> x3::eps[enter] > not_expr > x3::eps[leave])[append_chain('&')]);
auto const not_expr_def = (kw("not") >> x3::eps[enter] > not_expr > x3::eps[leave])[make_unary(Kind::Not)] |
                          cmp_expr[set_val];
auto const cmp_expr_def = add_expr[set_val] >>
                          -((cmp_op > add_expr)[make_compare] >> -(&cmp_op >> x3::eps[chained_comparison]));
auto const add_expr_def = mul_expr[set_val] >>
                          *((x3::lit('+') > mul_expr)[append_chain('+')] | (x3::lit('-') > mul_expr)[append_chain('-')]);
auto const mul_expr_def = unary[set_val] >>
                          *((x3::lit('*') >> !x3::lit('*') > unary)[append_chain('*')] |
                            (x3::lit('/') > unary)[append_chain('/')]);
auto const unary_def = (&x3::lit('-') >> x3::eps[enter] >> x3::lit('-') > unary > x3::eps[leave])[make_unary(Kind::Neg)] |
                       (&x3::lit('+') >> x3::eps[enter] >> x3::lit('+') > unary > x3::eps[leave])[make_unary(Kind::Plus)] |
                       power[set_val];
// '^' is right-associative and its exponent may carry a sign: 2^-x^2 = 2^(-(x^2)).
auto const power_def = primary[set_val] >>
                       -(((x3::lit('^') | x3::lit("**")) >> x3::eps[enter] > unary > x3::eps[leave])[make_pow]);
auto const primary_def = number[set_val] | call[set_val] | identifier[make_name] | paren[set_val] | list[set_val];
auto const number_def = number_range[make_number];
auto const close_def = x3::lit(')');
auto const close_args_def = x3::lit(')');
auto const close_list_def = x3::lit(']');
auto const paren_def = &x3::lit('(') >> x3::eps[open_paren] >> x3::eps[enter] >> x3::lit('(') > expr[mark_group] > close >
                       x3::eps[close_paren] > x3::eps[leave];
auto const argument = (ident_range >> single_eq >> expr)[call_keyword] | expr[call_positional];
auto const call_def = (identifier[start_call] >> &x3::lit('(')) >> x3::eps[open_paren] >> x3::eps[enter] >> x3::lit('(') >
                      -(argument % ',') > close_args > x3::eps[close_paren] > x3::eps[leave];
auto const list_def = x3::lit('[')[start_list] >> x3::eps[enter] > -(expr[list_item] % ',') > close_list > x3::eps[leave];
auto const param_def = identifier[param_name] >> -(single_eq > expr[param_default]);
auto const definition_def = (identifier[def_name] >> '(' >> identifier[def_input] >> *(',' >> param[def_param]) >>
                             ')' >> single_eq) > expr[def_body];
auto const end_of_statement_def = x3::eoi;

BOOST_SPIRIT_DEFINE(ident_range, cmp_op, number_range, expr, or_expr, and_expr, not_expr, cmp_expr, add_expr, mul_expr, unary, power, primary,
                    number, call, paren, list, close, close_args, close_list, param, definition, end_of_statement)

auto const separator = x3::lit(';') | x3::lit('\n');
auto const statement = definition[push_definition] | expr[push_expression];
auto const module_rule = *separator >> -(statement % +separator) >> *separator > end_of_statement;

// ---------------------------------------------------------------- helpers

bool is_operator_end(char c) {
  return c == '+' || c == '-' || c == '*' || c == '/' || c == '^' || c == '<' || c == '>' || c == '=' ||
         c == ',' || c == '!';
}

std::string join_lines(std::string_view s) {
  std::string out(s);
  int depth = 0;
  bool continues = false;  // the last token asks for more on the next line
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '#') {  // comments become blanks: the grammar never sees them
      while (i < s.size() && s[i] != '\n') out[i++] = ' ';
      continue;
    }
    if (c == '\n') {
      if (depth > 0 || continues) out[i] = ' ';
    } else if (c == ' ' || c == '\t' || c == '\r') {
      // whitespace does not change what came last
    } else if (is_ident_char(c)) {
      size_t j = i;
      while (j < s.size() && is_ident_char(s[j])) ++j;
      std::string_view word = s.substr(i, j - i);
      continues = word == "and" || word == "or" || word == "not";
      i = j;
      continue;
    } else {
      if (c == '(' || c == '[') ++depth;
      if ((c == ')' || c == ']') && depth > 0) --depth;
      continues = is_operator_end(c);
    }
    ++i;
  }
  return out;
}

/// A short description of what stands at `offset`, for "found ..." messages.
std::string describe(std::string_view s, uint32_t offset) {
  if (offset >= s.size()) return "end of input";
  char c = s[offset];
  if (c == '\n') return "end of line";
  size_t j = offset;
  if (is_ident_char(c) || c == '.') {
    while (j < s.size() && (is_ident_char(s[j]) || s[j] == '.')) ++j;
  } else {
    ++j;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;  // whole UTF-8 character
  }
  std::string tok(s.substr(offset, std::min<size_t>(j - offset, 40)));
  for (char& ch : tok)
    if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
  return "'" + tok + "'";
}

/// The offset of the next token: X3 reports failures before skipping.
uint32_t skip_blanks(std::string_view s, uint32_t offset) {
  while (offset < s.size()) {
    if (s[offset] == ' ' || s[offset] == '\t' || s[offset] == '\r') {
      ++offset;
    } else if (s[offset] == '#') {
      while (offset < s.size() && s[offset] != '\n') ++offset;
    } else {
      break;
    }
  }
  return offset;
}

}  // namespace

bool is_keyword(std::string_view name) { return name == "and" || name == "or" || name == "not"; }

Result<ast::Module> parse(std::string_view source, const ParseOptions& options) {
  if (source.size() > options.max_source_bytes)
    return Diagnostic{0, "source is " + std::to_string(source.size()) + " bytes; the limit is " +
                             std::to_string(options.max_source_bytes)};
  if (source.find('\0') != std::string_view::npos)
    return Diagnostic{uint32_t(source.find('\0')), "unexpected NUL byte in the source"};
  std::string joined = join_lines(source);
  ast::Module module;
  State st;
  st.begin = joined.data();
  st.module = &module;
  st.max_depth = options.max_depth;
  Iter first = joined.data();
  Iter last = joined.data() + joined.size();
  try {
    auto const parser = x3::with<state_tag>(std::ref(st))[module_rule];
    bool ok = x3::phrase_parse(first, last, parser, skipper);
    if (!ok) {
      uint32_t at = skip_blanks(joined, st.offset(first));
      return Diagnostic{at, "expected an expression or a definition, found " + describe(source, at)};
    }
  } catch (const x3::expectation_failure<Iter>& e) {
    uint32_t at = skip_blanks(joined, st.offset(e.where()));
    std::string what = e.which();
    if (what == "end of line or ';'") {
      // Nothing parsed since the last separator: a statement was expected.
      size_t k = at;
      while (k > 0 && (joined[k - 1] == ' ' || joined[k - 1] == '\t' || joined[k - 1] == '\r')) --k;
      if (k == 0 || joined[k - 1] == ';' || joined[k - 1] == '\n') what = "an expression or a definition";
    }
    std::string message = "expected " + what;
    if ((what == "')'" || what == "',' or ')'") && !st.open_parens.empty()) {
      LineCol lc = line_col(source, st.open_parens.back());
      message += " to close '(' at " + std::to_string(lc.line) + ":" + std::to_string(lc.column);
    }
    message += ", found " + describe(source, at);
    size_t word_end = at;
    while (word_end < source.size() && is_ident_char(source[word_end])) ++word_end;
    if (is_keyword(source.substr(at, word_end - at))) message += " (a reserved word)";
    return Diagnostic{at, message};
  } catch (const ParseFailure& f) {
    return Diagnostic{f.offset, f.message};
  }
  if (module.statements.empty())
    return Diagnostic{0, "empty input: expected an expression or a definition"};
  return module;
}

}  // namespace actjit
