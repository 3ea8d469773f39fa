// The actjit REPL: define activations, evaluate them on numbers and lists,
// differentiate, plot, benchmark and inspect them. The Session holds the
// state and handles one input at a time (usable from tests and scripts);
// run_interactive adds line editing (libedit), history and completion.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "actjit/actjit.hpp"

namespace actjit::repl {

class Session {
 public:
  Session(Runtime& rt, std::ostream& out, std::ostream& err);

  /// Handles one complete input (a definition, an expression, a command).
  /// Returns false when it reported an error.
  bool handle(const std::string& input);
  /// True when `input` is unfinished (open parenthesis, trailing operator)
  /// and the next line should be appended to it.
  bool incomplete(const std::string& input) const;
  bool quit_requested() const { return quit_; }

  /// Names for completion: commands, functions, parameters.
  std::vector<std::string> completions() const;
  /// All user definitions, in order, as a source text.
  std::string source() const;
  /// Terminal width used by :plot (columns).
  void set_width(int columns) { width_ = columns; }
  void set_color(bool color) { color_ = color; }

 private:
  struct Definition {
    std::string name;
    std::string text;
  };
  /// A span of the input replaced (a list or a point by "x", f' by f).
  struct Edit {
    size_t at, length;
    std::string with;
  };
  /// The input as typed and the edits that made the compiled text, so that
  /// errors point into what was typed.
  struct Typed {
    std::string text;
    std::vector<Edit> edits;  // in order, not overlapping
    std::string edited() const;
    size_t offset_of(size_t edited_offset) const;
  };
  /// A definition or an expression (handle() without commands).
  bool statement(const std::string& input);
  bool define(const std::string& input);
  bool evaluate(const std::string& input);
  bool derivative_call(const std::string& input);
  bool command(const std::string& input);
  bool fail(const std::string& rendered);
  bool error_in_input(const std::string& input, const Error& e, const Typed* typed = nullptr);
  std::string with_definitions(const std::string& tail) const;
  /// The value of a constant expression; false (with a message unless
  /// `quiet`) where it is not one.
  bool constant(const std::string& text, double& value, bool quiet = false);
  /// The same for whole[begin, end), with errors shown in `whole`.
  bool constant_in(const std::string& whole, size_t begin, size_t end, double& value, bool quiet = false);
  /// For "f(a, ...)" with a constant a: "f(x, ...)" and a.
  bool call_at_point(const std::string& input, std::string& function_text, double& at);
  /// The values of the list in text[begin, end), if there is one, and its span.
  bool points(const std::string& text, size_t begin, size_t end, std::vector<double>& xs, std::optional<Edit>& list);
  void print_values(const std::vector<double>& v, bool list);
  bool cmd_plot(const std::string& args);
  bool cmd_bench(const std::string& args);
  template <class T>
  bool bench_as(const std::string& f);  // :bench in float (T = float) or double
  bool cmd_check(const std::string& args);
  bool cmd_diff(const std::string& args);
  bool cmd_vjp(const std::string& args);
  bool cmd_save(const std::string& path);
  bool cmd_load(const std::string& path);
  void cmd_help(const std::string& topic);
  void cmd_list();

  Runtime& rt_;
  std::ostream& out_;
  std::ostream& err_;
  std::vector<Definition> defs_;
  DType dtype_ = DType::F64;
  int width_ = 80;
  bool color_ = false;
  bool quit_ = false;
};

/// The contents of the file at `path`, or nothing with `error` set to the
/// system's reason ("No such file or directory", "Is a directory", ...).
std::optional<std::string> read_file(const std::string& path, std::string& error);

/// The interactive loop on a terminal. Returns the exit status.
int run_interactive(Runtime& rt);

/// Runs a script (file contents or standard input): every line as if typed,
/// stopping at the first error. Returns the exit status (0 or 1).
int run_script(Runtime& rt, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace actjit::repl
