// The actjit REPL (see repl.hpp).
#include "examples/actjit/repl.hpp"

#include <editline/readline.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <regex>
#include <sstream>

#include "compiler/ir/eval.hpp"
#include "compiler/pipeline.hpp"
#include "examples/actjit/plot.hpp"
#include "tools/accuracy_sweep.hpp"

namespace actjit::repl {

namespace {

const char* const kCommands[] = {":diff", ":vjp", ":plot", ":bench", ":check", ":ir",   ":asm",  ":list",
                                 ":help", ":save", ":load",  ":dtype", ":quit", ":exit"};

const char* const kHelp =
    "Type a definition to define it, an expression to evaluate it:\n"
    "  swish2(x, beta = 1) = x * sigmoid(beta * x)    define (a redefinition replaces it)\n"
    "  mish(0.5)                                       evaluate (mish's kernel at 0.5, in :dtype's type)\n"
    "  mish([-1, 0, 1])                                evaluate on a list\n"
    "  swish2(2, beta = 0.5)                           override a parameter\n"
    "  mish'(1.5)    swish2'([0, 1], 2)                the derivative d/dx at a point or a list\n"
    "  softmax([1, 2, 3])                              a row-wise function takes the list as one row\n"
    "Commands:\n"
    "  :diff f                  df/dx and df/dp for every parameter, as text\n"
    "                           (row-wise f: the vector-Jacobian product in terms of dy)\n"
    "  :vjp f [x...] [dy...]    a row-wise f's vector-Jacobian product dy^T J at the row x\n"
    "  :plot f, g [-5, 5]       f, g and their derivatives in the terminal\n"
    "  :plot f, g [-5, 5] > plot.svg   (or .png) to a file\n"
    "  :bench f [f32|f64]       throughput of f's kernels (elements/ns; float32 unless f64) next to\n"
    "                           relu and a plain loop\n"
    "  :check f                 where f or f' overflow, give NaN or lose accuracy\n"
    "  :ir f    :asm f          the generated LLVM IR / machine code\n"
    "  :list                    your definitions and the catalogue\n"
    "  :save FILE   :load FILE  definitions to / from a .act file\n"
    "  :dtype f32|f64           the kernels' type for evaluation (default f64)\n"
    "  :help [command]          this text, or one command's\n"
    "  :quit                    leave (also Ctrl-D); Ctrl-C cancels the current line\n";

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

/// Spans of the top-level, comma-separated items between the bracket at
/// `open` and its partner; `close` receives the partner's offset (npos if none).
std::vector<std::pair<size_t, size_t>> split_items(const std::string& s, size_t open, size_t& close) {
  std::vector<std::pair<size_t, size_t>> items;
  int depth = 0;
  size_t start = open + 1;
  close = std::string::npos;
  for (size_t i = open; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[') {
      ++depth;
    } else if (c == ')' || c == ']') {
      if (--depth == 0) {
        items.push_back({start, i});
        close = i;
        break;
      }
    } else if (c == ',' && depth == 1) {
      items.push_back({start, i});
      start = i + 1;
    }
  }
  if (items.size() == 1 && trim(s.substr(items[0].first, items[0].second - items[0].first)).empty()) items.clear();
  return items;
}

/// Splits at top-level commas (outside any brackets).
std::vector<std::string> split_top(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(' || s[i] == '[') ++depth;
    if (s[i] == ')' || s[i] == ']') --depth;
    if (s[i] == ',' && depth == 0) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

std::string format(double v, DType d) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", d == DType::F32 ? 9 : 17, v);
  return buf;
}

/// Byte offset of 1-based (line, column) in `text` (columns count characters).
uint32_t offset_of(const std::string& text, int line, int column) {
  size_t i = 0;
  for (int l = 1; l < line && i < text.size(); ++i)
    if (text[i] == '\n') ++l;
  for (int c = 1; c < column && i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++c;
  while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  return uint32_t(i);
}

size_t count_lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

/// A row the function cannot take (glu needs an even length, ...).
struct RowLengthError {
  std::string message;
};

size_t checked_output(const Kernel& k, size_t n) {
  if (n == 0) {
    if (!k.rowwise()) return 0;  // f([]) is []
    throw RowLengthError{"error: a row-wise function takes a row of at least one value; the list is empty"};
  }
  size_t out = k.output_cols(n);
  if (out == 0)
    throw RowLengthError{"error: " + (k.name().empty() ? std::string("the function") : "'" + k.name() + "'") +
                         " takes a row of a multiple of " + std::to_string(k.row_multiple()) + " values, got " +
                         std::to_string(n)};
  return out;
}

/// Runs `kernel` on values `x` (in the kernel's dtype) and returns f, or
/// the backward with incoming gradient `dy` (ones when empty: f' for an
/// elementwise function). A row-wise function takes `x` as one row.
std::vector<double> run_kernel(const Kernel& k, const std::vector<double>& x, bool derivative,
                               std::vector<double> dy = {}) {
  size_t out_n = checked_output(k, x.size());
  if (dy.empty()) dy.assign(out_n, 1.0);
  std::vector<double> out(derivative ? x.size() : out_n);
  if (k.dtype() == DType::F64) {
    if (derivative) k.backward(std::span<const double>(x), std::span<const double>(dy), std::span<double>(out));
    else k.forward(std::span<const double>(x), std::span<double>(out));
    return out;
  }
  std::vector<float> xf(x.begin(), x.end()), yf(out.size()), dyf(dy.begin(), dy.end());
  if (derivative) k.backward(std::span<const float>(xf), std::span<const float>(dyf), std::span<float>(yf));
  else k.forward(std::span<const float>(xf), std::span<float>(yf));
  return std::vector<double>(yf.begin(), yf.end());
}

}  // namespace

Session::Session(Runtime& rt, std::ostream& out, std::ostream& err) : rt_(rt), out_(out), err_(err) {}

std::string Session::source() const {
  std::string s;
  for (const Definition& d : defs_) s += d.text + "\n";
  return s;
}

std::string Session::with_definitions(const std::string& tail) const { return source() + tail; }

bool Session::fail(const std::string& rendered) {
  err_ << rendered;
  if (!rendered.empty() && rendered.back() != '\n') err_ << '\n';
  return false;
}

bool Session::error_in_input(const std::string& input, const Error& e, const Typed* typed) {
  size_t prefix_lines = count_lines(source());
  if (e.line() > int(prefix_lines)) {
    std::string what = e.what();
    size_t colon = what.find(": ");
    std::string message = colon == std::string::npos ? what : what.substr(colon + 2);
    uint32_t off = offset_of(input, e.line() - int(prefix_lines), e.column());
    if (typed) return fail(render(typed->text, Diagnostic{uint32_t(typed->offset_of(off)), message}));
    return fail(render(input, Diagnostic{off, message}));
  }
  return fail(e.rendered());
}

size_t Session::Typed::offset_of(size_t offset) const {
  // Edits in order; an offset inside a replacement maps to where it starts.
  long shift = 0;
  for (const Edit& e : edits) {
    size_t start = size_t(long(e.at) + shift);
    if (offset < start) break;
    if (offset < start + e.with.size()) return e.at;
    shift += long(e.with.size()) - long(e.length);
  }
  return size_t(long(offset) - shift);
}

std::string Session::Typed::edited() const {
  std::string out;
  size_t at = 0;
  for (const Edit& e : edits) {
    out += text.substr(at, e.at - at) + e.with;
    at = e.at + e.length;
  }
  return out + text.substr(at);
}

bool Session::incomplete(const std::string& input) const {
  // The language's own rule for newlines that do not end a statement: inside
  // brackets, or after a binary operator, '=' or ','.
  std::string t = trim(input);
  if (t.empty() || t[0] == ':') return false;
  int depth = 0;
  char last = 0;
  std::string word;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '#') {
      while (i < t.size() && t[i] != '\n') ++i;
      continue;
    }
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (!std::isspace(static_cast<unsigned char>(c))) last = c;
  }
  size_t end = t.find_last_not_of(" \t\r\n");
  size_t begin = end;
  while (begin > 0 && (std::isalnum(static_cast<unsigned char>(t[begin - 1])) || t[begin - 1] == '_')) --begin;
  word = t.substr(begin, end + 1 - begin);
  return depth > 0 || std::string("+-*/^<>=,!").find(last) != std::string::npos || word == "and" || word == "or" ||
         word == "not";
}

bool Session::handle(const std::string& raw) {
  std::string input = trim(raw);
  if (input.empty() || input[0] == '#') return true;
  if (input[0] == ':') return command(input);
  if (statement(input)) return true;
  // "help", "quit" or "plot mish" typed without the colon: an unknown name
  // or a syntax error above, and a pointer to the command here.
  std::smatch word;
  if (std::regex_search(input, word, std::regex(R"(^([a-z]+)\b)"))) {
    std::string command = ":" + word[1].str();
    for (const char* c : kCommands)
      if (command == c || (command == ":q" && std::string(c) == ":quit")) {
        err_ << "note: did you mean the command '" << command << "'? (REPL commands start with ':')\n";
        break;
      }
  }
  return false;
}

bool Session::statement(const std::string& input) {
  if (std::regex_search(input, std::regex(R"(^[A-Za-z_]\w*'\s*\()"))) return derivative_call(input);
  auto m = parse(input);
  if (!m) return fail(render(input, m.error()));
  bool any_definition = false, any_expression = false;
  for (auto& s : m->statements) (s.is_definition ? any_definition : any_expression) = true;
  if (!any_definition) return evaluate(input);
  // Definitions first, then a trailing expression, if any.
  std::string defs, expr;
  for (auto& s : m->statements) {
    std::string piece = input.substr(s.pos, s.end - s.pos);
    if (s.is_definition) defs += piece + "\n";
    else expr = piece;
  }
  if (!define(defs)) return false;
  return !any_expression || evaluate(expr);
}

bool Session::define(const std::string& input) {
  try {
    rt_.compile(with_definitions(input), DType::F64);  // checks against what exists, with positions
  } catch (const Error& e) {
    return error_in_input(input, e);
  }
  auto m = parse(input);
  std::vector<Definition> updated = defs_;
  std::vector<std::string> names;
  for (auto& s : m->statements) {
    Definition d{s.def.name, trim(input.substr(s.pos, s.end - s.pos))};
    auto it = std::find_if(updated.begin(), updated.end(), [&](const Definition& o) { return o.name == d.name; });
    if (it != updated.end()) *it = d;  // a redefinition replaces the old one where it stood
    else updated.push_back(d);
    names.push_back(d.name);
  }
  std::string full;
  for (const Definition& d : updated) full += d.text + "\n";
  try {
    // Everything that used a redefined function is checked (and later compiled) again.
    for (const Definition& d : updated) rt_.compile(full + d.name, DType::F64);
  } catch (const Error& e) {
    return fail(e.rendered());
  }
  defs_ = std::move(updated);
  for (const std::string& n : names) {
    Kernel k = rt_.compile(source() + n, DType::F64);
    std::string sig = n + "(" + k.input_name();
    for (auto& p : k.params()) sig += ", " + p.name + " = " + format(p.default_value, DType::F64);
    out_ << "defined " << sig << ")\n";
    for (const std::string& w : k.warnings())
      if (w.find("shadows") != std::string::npos) err_ << "warning: '" << n << "' shadows the catalogue function\n";
  }
  return true;
}

bool Session::constant(const std::string& text, double& value, bool quiet) {
  return constant_in(text, 0, text.size(), value, quiet);
}

bool Session::constant_in(const std::string& whole, size_t begin, size_t end, double& value, bool quiet) {
  std::string text = whole.substr(begin, end - begin);
  auto p = build_program(with_definitions(text), catalogue());
  if (!p) {
    if (quiet) return false;
    Diagnostic d = p.error();
    size_t shift = source().size();
    if (d.offset != Diagnostic::npos && d.offset >= shift) d.offset -= uint32_t(shift);
    if (d.offset != Diagnostic::npos) d.offset += uint32_t(begin);
    return fail(render(whole, d));
  }
  for (ir::NodeId id : p->graph.reachable(std::vector<ir::NodeId>{p->value}))
    if (p->graph[id].op == ir::Op::Input || p->graph[id].op == ir::Op::Param)
      return quiet ? false : fail("error: '" + text + "' is not a number (it depends on x)");
  value = ir::evaluate<double>(p->graph, std::vector<ir::NodeId>{p->value}, 0.0, {})[0];
  return true;
}

bool Session::call_at_point(const std::string& input, std::string& function_text, double& at) {
  // A definition's name (the user's or the catalogue's): a math function
  // such as log takes its argument's expression into the stability
  // rewrites (log(1 + exp(1000)) is 1000; its argument alone is inf).
  std::smatch m;
  if (!std::regex_search(input, m, std::regex(R"(^([A-Za-z_]\w*)\s*\()"))) return false;
  std::string name = m.str(1);
  bool defined = std::any_of(defs_.begin(), defs_.end(), [&](const Definition& d) { return d.name == name; });
  for (auto& d : catalogue().definitions()) defined = defined || d.def->name == name;
  if (!defined) return false;
  size_t open = size_t(m.length(0)) - 1, close;
  auto items = split_items(input, open, close);
  if (close == std::string::npos || items.empty() || !trim(input.substr(close + 1)).empty()) return false;
  std::string first = input.substr(items[0].first, items[0].second - items[0].first);
  if (std::regex_search(first, std::regex(R"(^\s*[A-Za-z_]\w*\s*=[^=])"))) return false;  // a named argument
  if (!constant(first, at, true)) return false;
  function_text = input.substr(0, items[0].first) + "x" + input.substr(items[0].second);
  return true;
}

bool Session::points(const std::string& text, size_t begin, size_t end, std::vector<double>& xs,
                     std::optional<Edit>& list) {
  list.reset();
  size_t open = text.find('[', begin);
  if (open >= end) return true;
  size_t close;
  auto items = split_items(text, open, close);
  if (close >= end) return fail(render(text, Diagnostic{uint32_t(open), "'[' is not closed"}));
  if (size_t next = text.find('[', close); next < end)
    return fail(render(text, Diagnostic{uint32_t(next), "only one list per expression"}));
  for (auto [a, b] : items) {
    double v;
    if (!constant_in(text, a, b, v)) return false;
    xs.push_back(v);
  }
  list = Edit{open, close + 1 - open, "x"};
  return true;
}

void Session::print_values(const std::vector<double>& v, bool list) {
  if (!list) {
    out_ << format(v.empty() ? NAN : v[0], dtype_) << '\n';
    return;
  }
  out_ << '[';
  for (size_t i = 0; i < v.size(); ++i) out_ << (i ? ", " : "") << format(v[i], dtype_);
  out_ << "]\n";
}

bool Session::evaluate(const std::string& input) {
  std::vector<double> xs;
  std::optional<Edit> list_edit;
  if (!points(input, 0, input.size(), xs, list_edit)) return false;
  bool list = list_edit.has_value();
  Typed typed{input, {}};
  if (list) typed.edits.push_back(*list_edit);
  std::string fn = typed.edited();
  if (list && std::regex_search(input, std::regex(R"((^|[^\w])x([^\w(]|$))")))
    return fail("error: use either x or a list in an expression, not both");
  // f(a, ...) with a constant a: f(x, ...)'s kernel at a, as f'(a) and lists
  // are evaluated (the constant expression would fold in double before the
  // stability rewrites: f(1000) of f(x) = log(1 + exp(x)) was inf, the
  // kernel's 1000).
  std::string call_fn;
  double at = 0;
  if (!list && call_at_point(input, call_fn, at)) {
    try {
      Kernel kc = rt_.compile(with_definitions(call_fn), dtype_);
      std::vector<double> point{at};
      print_values(run_kernel(kc, point, false), kc.output_cols(1) != 1);
      return true;
    } catch (const Error&) {
      // reported below, against the expression as typed
    } catch (const RowLengthError&) {
    }
  }
  Kernel k;
  try {
    k = rt_.compile(with_definitions(fn), dtype_);
  } catch (const Error& e) {
    return error_in_input(fn, e, &typed);
  }
  if (!list) {
    auto p = build_program(with_definitions(fn), catalogue());
    bool uses_x = false;
    for (ir::NodeId id : p->graph.reachable(std::vector<ir::NodeId>{p->value}))
      uses_x = uses_x || p->graph[id].op == ir::Op::Input;
    if (uses_x) {
      std::string text;
      try {
        text = ": " + rt_.simplified(with_definitions(fn));
      } catch (const Error&) {
        text = " (too large to print as text: its tree repeats shared operations; :ir shows it)";
      }
      out_ << "a function of " << k.input_name() << text << '\n'
           << "(evaluate it at a point, e.g. f(2) after defining f(x) = ..., or :plot it)\n";
      return true;
    }
    xs = {0.0};
  }
  try {
    print_values(run_kernel(k, xs, false), list || k.output_cols(xs.size()) != 1);
  } catch (const RowLengthError& e) {
    return fail(e.message);
  }
  return true;
}

bool Session::derivative_call(const std::string& input) {
  size_t quote = input.find('\'');
  size_t open = input.find('(', quote);
  size_t close;
  auto items = split_items(input, open, close);
  if (close == std::string::npos || items.empty())
    return fail(
        render(input, Diagnostic{uint32_t(input.size()), "expected the point to differentiate at, as in f'(1.5)"}));
  if (!trim(input.substr(close + 1)).empty())
    return fail(render(input, Diagnostic{uint32_t(close + 1), "f'(...) must be the whole expression"}));
  auto [point_begin, point_end] = items[0];
  // f'(a, ...) is f(x, ...)'s derivative at a (or at each value of a list a).
  Typed typed{input, {Edit{quote, 1, ""}, Edit{point_begin, point_end - point_begin, "x"}}};
  std::string fn = typed.edited();
  std::vector<double> xs;
  std::optional<Edit> list_edit;
  if (!points(input, point_begin, point_end, xs, list_edit)) return false;
  bool list = list_edit.has_value();
  if (list && trim(input.substr(point_begin, point_end - point_begin)) !=
                  input.substr(list_edit->at, list_edit->length))  // f'(2 * [1, 2]) would take 2 as a chain factor
    return fail(
        render(input, Diagnostic{uint32_t(list_edit->at), "the list must be the whole point, as in f'([1, 2])"}));
  if (!list) {
    double v;
    if (!constant_in(input, point_begin, point_end, v)) return false;
    xs = {v};
  }
  try {
    Kernel k = rt_.compile(with_definitions(fn), dtype_);
    if (k.rowwise())
      return fail("error: '" + input.substr(0, quote) +
                  "' is row-wise: its derivative is a vector-Jacobian product; use :vjp f [x1, x2, ...] [dy1, ...]");
    print_values(run_kernel(k, xs, true), list);
  } catch (const Error& e) {
    return error_in_input(fn, e, &typed);
  } catch (const RowLengthError& e) {
    return fail(e.message);
  }
  return true;
}

bool Session::cmd_vjp(const std::string& args) {
  // :vjp f [x...] [dy...]
  size_t open_x = args.find('[');
  if (open_x == std::string::npos) return fail("error: :vjp takes f [x1, x2, ...] [dy1, ...]");
  std::string f = trim(args.substr(0, open_x));
  size_t close_x;
  auto xi = split_items(args, open_x, close_x);
  if (close_x == std::string::npos) return fail(render(args, Diagnostic{uint32_t(open_x), "'[' is not closed"}));
  size_t open_dy = args.find('[', close_x);
  if (f.empty() || open_dy == std::string::npos || !trim(args.substr(close_x + 1, open_dy - close_x - 1)).empty())
    return fail("error: :vjp takes f [x1, x2, ...] [dy1, ...]");
  size_t close_dy;
  auto di = split_items(args, open_dy, close_dy);
  if (close_dy == std::string::npos) return fail(render(args, Diagnostic{uint32_t(open_dy), "'[' is not closed"}));
  std::vector<double> x, dy;
  for (auto [a, b] : xi) {
    double v;
    if (!constant(args.substr(a, b - a), v)) return false;
    x.push_back(v);
  }
  for (auto [a, b] : di) {
    double v;
    if (!constant(args.substr(a, b - a), v)) return false;
    dy.push_back(v);
  }
  Kernel k;
  try {
    k = rt_.compile(with_definitions(f), dtype_);
  } catch (const Error& e) {
    return error_in_input(f, e);
  }
  try {
    size_t out_n = checked_output(k, x.size());
    if (dy.size() != out_n)
      return fail("error: dy needs " + std::to_string(out_n) + " values (one per output value), got " +
                  std::to_string(dy.size()));
    out_ << "d" << k.input_name() << " = ";
    print_values(run_kernel(k, x, true, dy), true);
    if (!k.params().empty()) {
      std::vector<double> dparams(k.params().size());
      if (k.dtype() == DType::F64) {
        std::vector<double> dx(x.size());
        k.backward(std::span<const double>(x), std::span<const double>(dy), std::span<double>(dx), {},
                   std::span<double>(dparams));
      } else {
        std::vector<float> xf(x.begin(), x.end()), dyf(dy.begin(), dy.end()), dx(x.size());
        k.backward(std::span<const float>(xf), std::span<const float>(dyf), std::span<float>(dx), {},
                   std::span<double>(dparams));
      }
      for (size_t j = 0; j < dparams.size(); ++j) {
        out_ << "d" << k.params()[j].name << " = ";
        print_values({dparams[j]}, false);
      }
    }
  } catch (const RowLengthError& e) {
    return fail(e.message);
  }
  return true;
}

bool Session::command(const std::string& input) {
  size_t sp = input.find_first_of(" \t");
  std::string name = input.substr(0, sp);
  std::string args = sp == std::string::npos ? "" : trim(input.substr(sp));
  auto need_args = [&]() {
    if (args.empty()) fail("error: " + name + " needs an argument (see :help " + name.substr(1) + ")");
    return !args.empty();
  };
  try {
    if (name == ":quit" || name == ":q" || name == ":exit") {
      quit_ = true;
      return true;
    }
    if (name == ":help") {
      cmd_help(args);
      return true;
    }
    if (name == ":list") {
      cmd_list();
      return true;
    }
    if (name == ":dtype") {
      if (args != "f32" && args != "f64") return fail("error: :dtype takes f32 or f64");
      dtype_ = args == "f32" ? DType::F32 : DType::F64;
      out_ << "evaluating in " << args << '\n';
      return true;
    }
    if (name == ":diff") return need_args() && cmd_diff(args);
    if (name == ":plot") return need_args() && cmd_plot(args);
    if (name == ":bench") return need_args() && cmd_bench(args);
    if (name == ":check") return need_args() && cmd_check(args);
    if (name == ":vjp") return need_args() && cmd_vjp(args);
    if (name == ":save") return need_args() && cmd_save(args);
    if (name == ":load") return need_args() && cmd_load(args);
    if (name == ":ir" || name == ":asm") {
      if (!need_args()) return false;
      out_ << (name == ":ir" ? rt_.llvm_ir(with_definitions(args), dtype_) : rt_.assembly(with_definitions(args), dtype_));
      return true;
    }
  } catch (const Error& e) {
    return error_in_input(args, e);
  }
  std::vector<std::string> all(std::begin(kCommands), std::end(kCommands));
  std::string hint = sema::did_you_mean(name, all);
  return fail("error: unknown command '" + name + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
              " (:help lists them)");
}

bool Session::cmd_diff(const std::string& f) {
  Kernel k = rt_.compile(with_definitions(f), DType::F64);
  if (k.rowwise()) {
    // The vector-Jacobian product, in terms of the incoming gradient dy.
    out_ << rt_.derivative(with_definitions(f), k.input_name()) << '\n';
    for (auto& p : k.params()) out_ << rt_.derivative(with_definitions(f), p.name) << '\n';
    return true;
  }
  out_ << "d/d" << k.input_name() << " = " << rt_.derivative(with_definitions(f), k.input_name()) << '\n';
  for (auto& p : k.params()) out_ << "d/d" << p.name << " = " << rt_.derivative(with_definitions(f), p.name) << '\n';
  return true;
}

bool Session::cmd_plot(const std::string& args_in) {
  std::string args = args_in, file;
  // "> FILE" at the end: the last '>' outside brackets, followed by one word
  // (a '>' inside where(x > 0, ...) is a comparison)
  size_t gt = std::string::npos;
  for (size_t i = 0, depth = 0; i < args.size(); ++i) {
    if (args[i] == '(' || args[i] == '[') ++depth;
    if ((args[i] == ')' || args[i] == ']') && depth > 0) --depth;
    if (args[i] == '>' && depth == 0) gt = i;
  }
  if (gt != std::string::npos) {
    std::string rest = trim(args.substr(gt + 1));
    if (!rest.empty() && rest.find_first_of(" \t()[],=") == std::string::npos) {
      file = rest;
      args = trim(args.substr(0, gt));
    }
  }
  plot::Figure fig;
  if (!args.empty() && args.back() == ']') {
    size_t open = args.rfind('[');
    size_t close;
    auto items = split_items(args, open, close);
    if (items.size() != 2) return fail("error: the range is [from, to], as in :plot mish [-5, 5]");
    if (!constant(args.substr(items[0].first, items[0].second - items[0].first), fig.x0) ||
        !constant(args.substr(items[1].first, items[1].second - items[1].first), fig.x1))
      return false;
    if (!(fig.x1 > fig.x0)) return fail("error: the range must go from a smaller to a larger number");
    args = trim(args.substr(0, open));
  }
  fig.x = plot::grid(fig.x0, fig.x1, 801);
  int color = 0;
  for (const std::string& f : split_top(args)) {
    if (f.empty()) return fail("error: :plot needs functions, as in :plot mish, gelu [-5, 5]");
    Kernel k;
    try {
      k = rt_.compile(with_definitions(f), DType::F64);
    } catch (const Error& e) {
      return error_in_input(f, e);
    }
    if (k.rowwise())
      return fail("error: '" + f + "' is row-wise (a row in, a row out); :plot draws elementwise functions");
    fig.series.push_back({f, run_kernel(k, fig.x, false), false, color});
    fig.series.push_back({f + "'", run_kernel(k, fig.x, true), true, color});
    ++color;
  }
  if (!file.empty()) {
    std::string e = plot::to_file(fig, file);
    if (!e.empty()) return fail("error: " + e);
    out_ << "wrote " << file << '\n';
    return true;
  }
  out_ << plot::terminal(fig, width_, 18, color_);
  return true;
}

bool Session::cmd_bench(const std::string& args) {
  // A last word f32 or f64 picks the type (float32 by default).
  std::string f = args;
  bool f64 = false;
  if (size_t sp = f.find_last_of(" \t"); sp != std::string::npos) {
    std::string last = f.substr(sp + 1);
    if (last == "f32" || last == "f64") {
      f64 = last == "f64";
      f = trim(f.substr(0, sp));
    }
  }
  return f64 ? bench_as<double>(f) : bench_as<float>(f);
}

template <class T>
bool Session::bench_as(const std::string& f) {
  const DType dtype = sizeof(T) == 4 ? DType::F32 : DType::F64;
  const size_t n = 16384;
  std::vector<T> x(n), y(n), dy(n, T(1)), dx(n);
  for (size_t i = 0; i < n; ++i) x[i] = T(-8 + 16.0 * double(i) / double(n));
  auto best = [&](auto&& run) {
    double t = 1e30;
    for (int r = 0; r < 200; ++r) {
      auto a = std::chrono::steady_clock::now();
      run();
      t = std::min(t, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - a).count());
    }
    return double(n) / t;
  };
  // Row-wise functions: 16 rows of 1024 (elements counted on the input).
  const size_t cols = 1024;
  auto row = [&](const std::string& label, const Kernel& k) {
    double fw = best(
        [&] { k.forward_rows(std::span<const T>(x), std::span<T>(y).first(n / cols * k.output_cols(cols)), cols); });
    double bw = best([&] {
      k.backward_rows(std::span<const T>(x), std::span<const T>(dy).first(n / cols * k.output_cols(cols)),
                      std::span<T>(dx), cols);
    });
    char buf[160];
    std::snprintf(buf, sizeof buf, "| %-28s | %8.2f | %8.2f |\n", label.c_str(), fw, bw);
    out_ << buf;
  };
  Kernel k = rt_.compile(with_definitions(f), dtype);
  if (k.output_cols(cols) == 0) return fail("error: '" + f + "' does not take rows of 1024 values");
  out_ << (sizeof(T) == 4 ? "f32, " : "f64, ") << n << " elements" << (k.rowwise() ? " (16 rows of 1024)" : "")
       << ", 1 thread, best of 200 (elements/ns)\n";
  out_ << "| function                     | forward  | backward |\n|---|---|---|\n";
  row(f, k);
  row("relu", rt_.compile("relu", dtype));
  double loop = best([&] {
    for (size_t i = 0; i < n; ++i) y[i] = x[i] * T(0.5);
    asm volatile("" ::"r"(y.data()) : "memory");
  });
  char buf[160];
  std::snprintf(buf, sizeof buf, "| %-28s | %8.2f | %8s |\n", "plain loop y = x * 0.5", loop, "-");
  out_ << buf;
  return true;
}

bool Session::cmd_check(const std::string& f) {
  std::string src = with_definitions(f);
  Kernel k = rt_.compile(src, DType::F64);
  if (k.rowwise())
    return fail("error: '" + f + "' is row-wise; :check sweeps elementwise functions (row-wise built-ins are "
                "tested against 50-digit references: tests/test_rowwise.cpp)");
  auto p = build_program(src, catalogue());
  std::vector<double> xs{0.0, -0.0, INFINITY, -INFINITY};
  for (int e = -30; e <= 300; e += 1)
    for (double m : {1.0, 2.5, 5.0}) {
      xs.push_back(m * std::pow(10.0, e));
      xs.push_back(-m * std::pow(10.0, e));
    }
  std::sort(xs.begin(), xs.end());
  std::vector<double> y = run_kernel(k, xs, false), d = run_kernel(k, xs, true);
  std::vector<long double> params;
  for (auto& q : k.params()) params.push_back(q.default_value);
  int problems = 0;
  auto report = [&](const char* what, double x, double got, long double want) {
    if (problems++ < 12)
      out_ << "  " << what << " at x = " << format(x, DType::F64) << ": " << format(got, DType::F64)
           << " (a wider evaluation gives " << format(double(want), DType::F64) << ")\n";
  };
  // Errors in units in the last place of the reference as a double, where
  // that is a normal number (in the subnormal range a value that underflows,
  // x sigmoid(x) at -1e4, is right as 0, and the spacing is not its
  // precision); with the absolute error there (near a slope's zero a large
  // count of ULP can be a small absolute error).
  struct Worst {
    double ulp = 0, at = 0, absolute = 0;
    void add(double x, double got, long double want) {
      if (std::fabs(want) < std::numeric_limits<double>::min()) return;
      if (double err = sweep::ulp_error(got, want); err > ulp) {
        ulp = err;
        at = x;
        absolute = double(std::fabs((long double)got - want));
      }
    }
  } wf, wd;
  for (size_t i = 0; i < xs.size(); ++i) {
    long double x = xs[i];
    long double fy = ir::evaluate<long double>(p->graph, std::vector<ir::NodeId>{p->value}, x, params)[0];
    long double fd = ir::evaluate<long double>(p->graph, std::vector<ir::NodeId>{p->d_x}, x, params)[0];
    // (f' only where f is defined: the slope's formula may extend past f's domain)
    bool fy_ok = std::isfinite(double(fy)), fd_ok = !std::isnan(fy) && std::isfinite(double(fd));
    if (fy_ok && !std::isfinite(y[i])) report("f is not finite", xs[i], y[i], fy);
    if (fd_ok && !std::isfinite(d[i])) report("f' is not finite", xs[i], d[i], fd);
    if (fy_ok && std::isfinite(y[i])) wf.add(xs[i], y[i], fy);
    if (fd_ok && std::isfinite(d[i])) wd.add(xs[i], d[i], fd);
  }
  out_ << "checked f and f' (float64 kernels) at " << xs.size()
       << " points over +-[1e-30, 5e300] and +-inf, against a long double evaluation\n"
       << "  (errors in ULP of the reference as a double, where that is a normal number)\n";
  if (problems == 0) out_ << "  no overflow or NaN where the wider evaluation is finite\n";
  else if (problems > 12) out_ << "  ... " << problems - 12 << " more\n";
  char line[200];
  for (auto [name, w] : {std::pair{"f: ", wf}, std::pair{"f':", wd}}) {
    std::snprintf(line, sizeof line, "  largest error of %s %.3g ulp (at x = %s; %.2g absolute)\n", name, w.ulp,
                  format(w.at, DType::F64).c_str(), w.absolute);
    out_ << line;
  }
  return true;
}

bool Session::cmd_save(const std::string& path) {
  errno = 0;
  std::ofstream f(path);
  f << "# actjit definitions\n" << source();
  if (!f) return fail("error: cannot write " + path + (errno ? std::string(": ") + std::strerror(errno) : ""));
  out_ << "saved " << defs_.size() << " definition" << (defs_.size() == 1 ? "" : "s") << " to " << path << '\n';
  return true;
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {  // (an ifstream opens one, and reads nothing)
    error = std::strerror(EISDIR);
    return std::nullopt;
  }
  errno = 0;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = errno ? std::strerror(errno) : "cannot open";
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) {
    error = errno ? std::strerror(errno) : "read error";
    return std::nullopt;
  }
  return text;
}

bool Session::cmd_load(const std::string& path) {
  std::string why;
  std::optional<std::string> contents = read_file(path, why);
  if (!contents) return fail("error: cannot read " + path + ": " + why);
  const std::string& text = *contents;
  auto m = parse(text);
  if (!m) return fail(render(text, m.error()));
  for (auto& s : m->statements)
    if (!s.is_definition)
      return fail(render(text, Diagnostic{s.pos, "a .act file for :load holds definitions only"}));
  return define(text);
}

void Session::cmd_help(const std::string& topic) {
  if (topic.empty()) {
    out_ << kHelp;
    return;
  }
  std::string key = topic[0] == ':' ? topic : ":" + topic;
  std::istringstream in(kHelp);
  std::string line;
  bool found = false, continued = false;
  while (std::getline(in, line)) {
    // A command's line, and the deeper-indented lines that continue it.
    if (line.find("  " + key + " ") == 0 || line.find(" " + key + " ") != std::string::npos) {
      out_ << line << '\n';
      found = continued = true;
    } else if (continued && line.find_first_not_of(' ') >= 8 && line.find_first_not_of(' ') != std::string::npos) {
      out_ << line << '\n';
    } else {
      continued = false;
    }
  }
  if (!found) out_ << "no help for '" << topic << "'; :help lists everything\n";
}

void Session::cmd_list() {
  if (defs_.empty()) out_ << "no definitions yet\n";
  for (const Definition& d : defs_) out_ << d.text << '\n';
  out_ << "catalogue:";
  for (auto& d : catalogue().definitions())
    if (d.def->name[0] != '_') out_ << ' ' << d.def->name;
  out_ << " tanh\n";
}

std::vector<std::string> Session::completions() const {
  std::vector<std::string> out(std::begin(kCommands), std::end(kCommands));
  for (auto& d : catalogue().definitions()) {
    out.push_back(d.def->name);
    for (auto& p : d.def->params) out.push_back(p.name);
  }
  for (const char* f : {"exp", "expm1", "log", "log1p", "sqrt", "abs", "sign", "min", "max", "clamp", "pow", "sin",
                        "cos", "tan", "sinh", "cosh", "tanh", "asinh", "atan", "erf", "erfc", "floor", "ceil",
                        "round", "where", "and", "or", "not", "pi"})
    out.push_back(f);
  for (const Definition& d : defs_) {
    out.push_back(d.name);
    auto m = parse(d.text);
    if (m)
      for (auto& p : m->statements[0].def.params) out.push_back(p.name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---------------------------------------------------------------- drivers

int run_script(Runtime& rt, std::istream& in, std::ostream& out, std::ostream& err) {
  Session s(rt, out, err);
  std::string line, pending;
  while (std::getline(in, line)) {
    pending += pending.empty() ? line : "\n" + line;
    if (s.incomplete(pending)) continue;
    if (!s.handle(pending)) return 1;
    pending.clear();
    if (s.quit_requested()) return 0;
  }
  if (!trim(pending).empty() && !s.handle(pending)) return 1;
  return 0;
}

namespace {

Session* g_session = nullptr;
sigjmp_buf g_interrupt;

char* completion_generator(const char* text, int state) {
  static std::vector<std::string> matches;
  static size_t next;
  if (state == 0) {
    matches.clear();
    next = 0;
    std::string prefix = text;
    for (const std::string& c : g_session->completions())
      if (c.rfind(prefix, 0) == 0) matches.push_back(c);
  }
  return next < matches.size() ? strdup(matches[next++].c_str()) : nullptr;
}

char** complete(const char* text, int, int) {
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, completion_generator);
}

void on_interrupt(int) { siglongjmp(g_interrupt, 1); }

}  // namespace

int run_interactive(Runtime& rt) {
  Session s(rt, std::cout, std::cerr);
  g_session = &s;
  struct winsize ws {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) s.set_width(ws.ws_col);
  s.set_color(std::getenv("NO_COLOR") == nullptr);
  const char* home = std::getenv("HOME");
  std::string history = std::getenv("ACTJIT_HISTORY") ? std::getenv("ACTJIT_HISTORY")
                                                      : std::string(home ? home : ".") + "/.actjit_history";
  using_history();
  read_history(history.c_str());
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = const_cast<char*>(" \t\n()[],+-*/^<>=!;");
  std::cout << "actjit " << Runtime::version() << " — :help for help, :quit or Ctrl-D to leave\n";
  std::string pending;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  while (!s.quit_requested()) {
    if (sigsetjmp(g_interrupt, 1)) {  // Ctrl-C: drop the current line
      std::cout << "\n";
      pending.clear();
    }
    char* raw = readline(pending.empty() ? "act> " : "...> ");
    if (!raw) {  // Ctrl-D
      std::cout << "\n";
      break;
    }
    std::string line = raw;
    free(raw);
    pending += pending.empty() ? line : "\n" + line;
    if (s.incomplete(pending)) continue;
    if (!trim(pending).empty()) add_history(pending.c_str());
    s.handle(pending);  // errors are reported and never end the session
    pending.clear();
  }
  signal(SIGINT, SIG_DFL);
  write_history(history.c_str());
  return 0;
}

}  // namespace actjit::repl
