// The actjit command line (see cli.hpp). Argument handling is written out
// here rather than with an option library because the contract needs two
// things such libraries treat as options: SRC right after the subcommand
// even when it starts with '-' ("-x^2"), and option values that start with
// '-' ("--at -1,2").
#include "examples/actjit/cli.hpp"

#include <unistd.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "actjit/actjit.hpp"
#include "compiler/aot/aot.hpp"
#include "examples/actjit/plot.hpp"
#include "examples/actjit/repl.hpp"

namespace actjit::cli {

namespace {

constexpr int kOk = 0, kInputError = 1, kUsageError = 2, kInternalError = 3;

const char* const kUsage =
    "usage: actjit                 the REPL (on a terminal; with input piped in, runs it as a script)\n"
    "       actjit <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  run FILE.act                                          run a REPL script; stops at the first error\n"
    "  plot SRC... [--range A:B] [--size WxH] --out FILE.svg|FILE.png\n"
    "                                                        plot functions and their derivatives\n"
    "  eval SRC --at V1,V2,... [--dtype f32|f64]             f(v) for each value\n"
    "  grad SRC --at V1,V2,... [--wrt NAME] [--dtype f32|f64] df/dNAME (v); NAME is the input\n"
    "       [--dy D1,D2,...]                                 (default) or a parameter (a row-wise\n"
    "                                                        function: --at is one row and --dy the\n"
    "                                                        incoming gradient; prints dy^T J)\n"
    "  eval, grad ... --params NAME=V,...                    parameter values passed at run time, as a\n"
    "                                                        training loop passes them (others: defaults)\n"
    "  diff SRC [--wrt NAME] [--rewritten]                   the derivative as text (of the function after\n"
    "                                                        the stability rewrites; --rewritten shows\n"
    "                                                        the function before and after them)\n"
    "  simplify SRC                                          the function after simplification\n"
    "  list                                                  the catalogue, one definition a line\n"
    "  ir SRC [--dtype f32|f64] [--defaults]                 optimized LLVM IR of the kernels (--defaults:\n"
    "                                                        of those that calls with the default parameter\n"
    "                                                        values run, where they differ)\n"
    "  asm SRC [--dtype f32|f64] [--defaults]                machine code of the kernels\n"
    "  compile FILE.act -o LIB.a --header H.h [--cpu CPU] [--prefix P]\n"
    "                                                        every definition of FILE as f32/f64 kernels\n"
    "                                                        compiled ahead of time (CPU: native, x86-64-v2,\n"
    "                                                        x86-64-v3, x86-64-v4); link LIB.a with -lsleef\n"
    "  help, --help                                          this text\n"
    "  version, --version                                    the version\n"
    "\n"
    "SRC is an expression in x (\"x * sigmoid(1.702 * x)\"), a call (\"leaky_relu(x, 0.2)\"),\n"
    "a catalogue name (mish) or definitions (\"f(x, a = 1) = a * x\"; the last one is used).\n"
    "SRC '-' reads the source from standard input. f64 values print with 17 significant\n"
    "digits, f32 with 9. Exit status: 0 ok, 1 error in the input, 2 usage error.\n";

/// The usage's lines for one command (its own and their continuations, and
/// the lines shared with other commands: "eval, grad ..."), and the note on
/// SRC where the command takes one.
std::string command_usage(const std::string& command) {
  std::istringstream in(kUsage);
  std::string line, out = "usage:\n";
  bool take = false, commands = false;
  while (std::getline(in, line)) {
    if (line == "commands:") {
      commands = true;
      continue;
    }
    if (!commands) continue;
    if (line.empty()) break;
    if (line.size() > 2 && line[2] != ' ') {  // a command's line: "  eval SRC ...", "  eval, grad ..."
      std::string names = line.substr(2, line.find("  ", 2) - 2);
      take = false;
      std::istringstream words(names);
      for (std::string w; words >> w;) {  // the names before SRC, FILE.act, "..." or an option
        if (std::isupper(static_cast<unsigned char>(w[0])) || w[0] == '.' || w[0] == '-') break;
        if (w.back() == ',') w.pop_back();
        take = take || w == command;
      }
    }
    if (take) out += line + "\n";
  }
  if (command != "list" && command != "run" && command != "compile")
    out += "\n" + std::string(kUsage).substr(std::string(kUsage).find("SRC is "));
  return out;
}

struct UsageError {
  std::string message;
};

struct Options {
  std::string command;
  std::string source;
  std::optional<std::string> at;
  std::optional<std::string> dy;
  std::optional<std::string> params;  // eval, grad --params NAME=V,...
  std::string wrt;
  bool rewritten = false;  // diff --rewritten
  bool defaults = false;   // ir, asm --defaults
  DType dtype = DType::F32;
  std::string output, header, cpu = "native", prefix;  // compile
};

/// The options of the commands other than plot (which parses its own): the
/// names, the commands that take it, and what it sets (a flag's setter gets
/// an empty value). One table for the parser and for the check that SRC is
/// not an option.
struct OptionSpec {
  std::array<const char*, 2> names;  // the second may be null
  std::array<const char*, 4> commands;
  bool takes_value;
  void (*set)(Options&, const std::string&);

  bool named(std::string_view n) const { return n == names[0] || (names[1] && n == names[1]); }
  bool for_command(std::string_view c) const {
    return std::any_of(commands.begin(), commands.end(), [&](const char* k) { return k && c == k; });
  }
};

const OptionSpec kOptions[] = {
    {{"--at"}, {"eval", "grad"}, true, [](Options& o, const std::string& v) { o.at = v; }},
    {{"--dy"}, {"grad"}, true, [](Options& o, const std::string& v) { o.dy = v; }},
    {{"--params"}, {"eval", "grad"}, true, [](Options& o, const std::string& v) { o.params = v; }},
    {{"--wrt"}, {"grad", "diff"}, true, [](Options& o, const std::string& v) { o.wrt = v; }},
    {{"--rewritten"}, {"diff"}, false, [](Options& o, const std::string&) { o.rewritten = true; }},
    {{"--defaults"}, {"ir", "asm"}, false, [](Options& o, const std::string&) { o.defaults = true; }},
    {{"--dtype"},
     {"eval", "grad", "ir", "asm"},
     true,
     [](Options& o, const std::string& d) {
       if (d == "f32" || d == "float32") {
         o.dtype = DType::F32;
       } else if (d == "f64" || d == "float64") {
         o.dtype = DType::F64;
       } else {
         throw UsageError{"unknown dtype '" + d + "' (use f32 or f64)"};
       }
     }},
    {{"-o", "--output"}, {"compile"}, true, [](Options& o, const std::string& v) { o.output = v; }},
    {{"--header"}, {"compile"}, true, [](Options& o, const std::string& v) { o.header = v; }},
    {{"--cpu"}, {"compile"}, true, [](Options& o, const std::string& v) { o.cpu = v; }},
    {{"--prefix"}, {"compile"}, true, [](Options& o, const std::string& v) { o.prefix = v; }},
};

Options parse_args(int argc, char** argv) {
  Options o;
  o.command = argv[1];
  bool needs_src = o.command != "list";
  int i = 2;
  if (needs_src) {
    if (argc < 3)
      throw UsageError{"'" + o.command + "' needs " + (o.command == "compile" ? "a file" : "a source (SRC)") +
                       " argument"};
    o.source = argv[2];
    // SRC is always the argument right after the command, even when it starts
    // with '-' ("-x^2"); one of the options there is a misplaced option.
    std::string first = o.source.substr(0, o.source.find('='));
    if (first == "--help" || first == "-h" ||
        std::any_of(std::begin(kOptions), std::end(kOptions), [&](const OptionSpec& k) { return k.named(first); }))
      throw UsageError{"'" + o.command + "' takes " + (o.command == "compile" ? "FILE" : "SRC") +
                       " right after it, before the options (found '" + o.source + "' there)"};
    if (o.command == "compile" && o.source != "-") {
      std::string why;
      std::optional<std::string> text = repl::read_file(o.source, why);
      if (!text) throw UsageError{"cannot read '" + o.source + "': " + why};
      o.source = std::move(*text);
    } else if (o.source == "-") {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      o.source = ss.str();
    }
    i = 3;
  }
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto spec =
        std::find_if(std::begin(kOptions), std::end(kOptions), [&](const OptionSpec& k) { return k.named(name); });
    if (spec == std::end(kOptions)) {
      if (!arg.empty() && arg[0] == '-') throw UsageError{"unknown option '" + arg + "' for '" + o.command + "'"};
      throw UsageError{"unexpected argument '" + arg + "'"};
    }
    if (!spec->for_command(o.command)) {
      std::string takers;
      for (const char* k : spec->commands)
        if (k) takers += std::string(takers.empty() ? "" : ", ") + k;
      throw UsageError{"option '" + name + "' is not for '" + o.command + "' (it is for " + takers + ")"};
    }
    if (!spec->takes_value) {
      if (has_value) throw UsageError{"option '" + name + "' takes no value (found '" + arg + "')"};
    } else if (!has_value) {
      if (i + 1 >= argc) throw UsageError{"option '" + name + "' needs a value"};
      value = argv[++i];
    }
    spec->set(o, value);
  }
  bool takes_at = o.command == "eval" || o.command == "grad";
  if (takes_at && !o.at) throw UsageError{"'" + o.command + "' needs --at V1,V2,..."};
  if (o.command == "compile" && (o.output.empty() || o.header.empty()))
    throw UsageError{"'compile' needs -o LIB.a and --header H.h"};
  return o;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t k = s.find(sep, start);
    out.push_back(s.substr(start, k == std::string::npos ? std::string::npos : k - start));
    if (k == std::string::npos) break;
    start = k + 1;
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

/// Reads the --at list: decimal numbers, inf, -inf, nan; each correctly
/// rounded to the dtype (strtof for f32, so there is no double rounding).
template <class T>
std::vector<T> parse_points(const std::string& list, const std::string& option) {
  std::vector<T> out;
  for (const std::string& raw : split(list, ',')) {
    std::string item = trim(raw);
    if (item.empty()) throw UsageError{option + ": empty value in '" + list + "'"};
    const char* begin = item.c_str();
    char* end = nullptr;
    errno = 0;
    T v;
    if constexpr (sizeof(T) == 4) {
      v = std::strtof(begin, &end);
    } else {
      v = std::strtod(begin, &end);
    }
    if (end != begin + item.size()) throw UsageError{option + ": '" + item + "' is not a number"};
    out.push_back(v);
  }
  return out;
}

template <class T>
void print_value(T v) {
  if (std::isnan(v)) {
    std::puts("nan");
  } else if (std::isinf(v)) {
    std::puts(v > 0 ? "inf" : "-inf");
  } else {
    std::printf("%.*g\n", sizeof(T) == 4 ? 9 : 17, double(v));
  }
}

void print_warnings(const Kernel& k) {
  for (const std::string& w : k.warnings()) std::fputs(w.c_str(), stderr);
}

/// The parameter values of --params NAME=V,... (the defaults for the others).
std::vector<double> parse_params(const Kernel& k, const std::optional<std::string>& list) {
  std::vector<double> values = k.default_params();
  if (!list) return values;
  for (const std::string& raw : split(*list, ',')) {
    std::string item = trim(raw);
    size_t eq = item.find('=');
    if (eq == std::string::npos) throw UsageError{"--params: expected NAME=VALUE, got '" + item + "'"};
    std::string name = trim(item.substr(0, eq));
    size_t j = 0;
    while (j < k.params().size() && k.params()[j].name != name) ++j;
    if (j == k.params().size()) {
      std::string known;
      for (auto& p : k.params()) known += (known.empty() ? "'" : ", '") + p.name + "'";
      throw UsageError{"--params: the function has no parameter '" + name + "'" +
                       (known.empty() ? std::string("; it has none") : "; its parameters are " + known)};
    }
    values[j] = parse_points<double>(trim(item.substr(eq + 1)), "--params " + name)[0];
  }
  return values;
}

template <class T>
int eval_or_grad(const Runtime& rt, const Options& o) {
  Kernel k = rt.compile(o.source, o.dtype);
  print_warnings(k);
  std::vector<T> x = parse_points<T>(*o.at, "--at");
  std::vector<double> params = parse_params(k, o.params);
  // A row-wise function takes --at as one row (LANGUAGE.md section 5).
  size_t out_n = k.output_cols(x.size());
  if (out_n == 0)
    throw UsageError{"--at: '" + (k.name().empty() ? std::string("the function") : k.name()) + "' takes a row of a multiple of " +
                     std::to_string(k.row_multiple()) + " values, got " + std::to_string(x.size())};
  if (o.command == "eval") {
    std::vector<T> out(out_n);
    k.forward(std::span<const T>(x), std::span<T>(out), params);
    for (T v : out) print_value(v);
    return kOk;
  }
  size_t j = k.params().size();
  if (!o.wrt.empty() && o.wrt != k.input_name()) {
    for (size_t q = 0; q < k.params().size(); ++q)
      if (k.params()[q].name == o.wrt) j = q;
    if (j == k.params().size()) {
      std::string known = "'" + k.input_name() + "'";
      for (auto& p : k.params()) known += ", '" + p.name + "'";
      throw UsageError{"--wrt: the function has no variable '" + o.wrt + "'; its variables are " + known};
    }
  }
  // The incoming gradient: --dy, or ones for an elementwise function (the
  // derivative itself) and for a row-wise function with one output value.
  std::vector<T> dy;
  if (o.dy) {
    dy = parse_points<T>(*o.dy, "--dy");
  } else if (!k.rowwise() || out_n == 1) {
    dy.assign(out_n, T(1));
  } else {
    throw UsageError{"'grad' of a row-wise function needs --dy with " + std::to_string(out_n) +
                     " values (the incoming gradient, one per output value)"};
  }
  if (dy.size() != out_n)
    throw UsageError{"--dy: expected " + std::to_string(out_n) + " values (one per output value), got " +
                     std::to_string(dy.size())};
  std::vector<T> dx(x.size());
  if (j == k.params().size()) {
    k.backward(std::span<const T>(x), std::span<const T>(dy), std::span<T>(dx), params);
    for (T v : dx) print_value(v);
    return kOk;
  }
  std::vector<double> dparams(k.params().size());
  if (k.rowwise()) {
    // One row: the parameter's gradient is one number.
    k.backward(std::span<const T>(x), std::span<const T>(dy), std::span<T>(dx), params, std::span<double>(dparams));
    print_value(T(dparams[j]));
    return kOk;
  }
  // Elementwise: one element at a time (dparams is a sum over the array).
  for (size_t i = 0; i < x.size(); ++i) {
    T d;
    k.backward(std::span<const T>(&x[i], 1), std::span<const T>(&dy[i], 1), std::span<T>(&d, 1), params,
               std::span<double>(dparams));
    print_value(T(dparams[j]));
  }
  return kOk;
}

int list() {
  std::istringstream in{std::string(Runtime::catalogue())};
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == '_') continue;
    std::cout << t << '\n';
  }
  std::cout << "tanh(x) = tanh(x)\n";
  return kOk;
}

int diff(const Runtime& rt, const Options& o) {
  Kernel k = rt.compile(o.source, DType::F64);
  print_warnings(k);
  std::string wrt = o.wrt.empty() ? k.input_name() : o.wrt;
  bool known = wrt == k.input_name();
  for (auto& p : k.params()) known = known || p.name == wrt;
  if (!known) {
    std::string names = "'" + k.input_name() + "'";
    for (auto& p : k.params()) names += ", '" + p.name + "'";
    throw UsageError{"--wrt: the function has no variable '" + wrt + "'; its variables are " + names};
  }
  std::string text = rt.derivative(o.source, wrt);
  if (o.rewritten) {
    // What the stability rewrites did, as comments: the text still parses.
    std::string naive = rt.naive_form(o.source), stable = rt.simplified(o.source);
    std::cout << "# as written: " << naive << '\n';
    if (stable == naive)
      std::cout << "# no stability rewrite applies\n";
    else
      std::cout << "# rewritten:  " << stable << '\n';
  }
  if (k.params().empty() || k.rowwise()) {
    std::cout << text << '\n';
    return kOk;
  }
  // With parameters, print a definition so that the text parses back alone.
  std::string name = (k.name().empty() ? std::string("f") : k.name());
  std::cout << "d" << name << "_d" << wrt << "(" << k.input_name();
  char buf[40];
  for (auto& p : k.params()) {
    std::snprintf(buf, sizeof buf, "%.17g", p.default_value);
    std::cout << ", " << p.name << " = " << buf;
  }
  std::cout << ") = " << text << '\n';
  return kOk;
}

int compile_aot(const Options& o) {
  aot::Options ao;
  ao.library = o.output;
  ao.header = o.header;
  ao.cpu = o.cpu;
  ao.prefix = o.prefix;
  auto names = aot::compile(o.source, ao);
  if (!names) {
    if (names.error().offset == Diagnostic::npos) {
      std::fprintf(stderr, "error: %s\n", names.error().message.c_str());
      return names.error().message.rfind("unknown cpu", 0) == 0 ? kUsageError : kInternalError;
    }
    std::fputs(render(o.source, names.error()).c_str(), stderr);
    return kInputError;
  }
  std::fprintf(stderr, "compiled %zu definition%s into %s and %s\n", names->size(), names->size() == 1 ? "" : "s",
               o.output.c_str(), o.header.c_str());
  return kOk;
}

}  // namespace

int plot_command(int argc, char** argv) {
  std::vector<std::string> sources;
  std::string out, range = "-5:5";
  int width = 900, height = 560;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--out" || a == "-o") && i + 1 < argc) {
      out = argv[++i];
    } else if (a.rfind("--out=", 0) == 0) {
      out = a.substr(6);
    } else if (a == "--size" && i + 1 < argc) {
      std::string size = argv[++i];
      size_t xpos = size.find('x');
      width = xpos == std::string::npos ? 0 : std::atoi(size.substr(0, xpos).c_str());
      height = xpos == std::string::npos ? 0 : std::atoi(size.substr(xpos + 1).c_str());
      if (width < 200 || height < 150 || width > 8000 || height > 8000)
        throw UsageError{"--size: expected WIDTHxHEIGHT in pixels (200x150 to 8000x8000), got '" + size + "'"};
    } else if (a == "--range" && i + 1 < argc) {
      range = argv[++i];
    } else if (a.rfind("--range=", 0) == 0) {
      range = a.substr(8);
    } else if (a.rfind("--", 0) == 0) {
      throw UsageError{"unknown option '" + a + "' for 'plot'"};
    } else {
      sources.push_back(a);
    }
  }
  if (sources.empty() || out.empty()) throw UsageError{"'plot' needs functions and --out FILE.svg|FILE.png"};
  size_t colon = range.find(':', 1);
  char* end = nullptr;
  plot::Figure fig;
  fig.x0 = colon == std::string::npos ? NAN : std::strtod(range.substr(0, colon).c_str(), &end);
  fig.x1 = colon == std::string::npos ? NAN : std::strtod(range.substr(colon + 1).c_str(), &end);
  if (!(fig.x1 > fig.x0)) throw UsageError{"--range: expected A:B with A < B, got '" + range + "'"};
  fig.x = plot::grid(fig.x0, fig.x1, 801);
  fig.width = width;
  fig.height = height;
  Runtime rt;
  int color = 0;
  for (const std::string& src : sources) {
    Kernel k = rt.compile(src, DType::F64);
    std::vector<double> y(fig.x.size()), dx(fig.x.size()), ones(fig.x.size(), 1.0);
    k.forward(std::span<const double>(fig.x), std::span<double>(y));
    k.backward(std::span<const double>(fig.x), std::span<const double>(ones), std::span<double>(dx));
    std::string label = k.name().empty() ? src : k.name();
    fig.series.push_back({label, y, false, color});
    fig.series.push_back({label + "'", dx, true, color});
    ++color;
  }
  std::string e = plot::to_file(fig, out);
  if (!e.empty()) {
    std::fprintf(stderr, "error: %s\n", e.c_str());
    return kInputError;
  }
  return kOk;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    try {
      Runtime rt;
      if (isatty(STDIN_FILENO)) return repl::run_interactive(rt);
      return repl::run_script(rt, std::cin, std::cout, std::cerr);
    } catch (const Error& e) {
      std::fputs(e.rendered().c_str(), stderr);
      return kInternalError;
    }
  }
  std::string command = argv[1];
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return kOk;
  }
  if (command == "version" || command == "--version") {
    std::printf("actjit %s\n", Runtime::version());
    return kOk;
  }
  static const char* const commands[] = {"eval", "grad", "diff", "simplify", "list", "ir", "asm", "compile", "run", "plot"};
  if (std::find(std::begin(commands), std::end(commands), command) == std::end(commands)) {
    std::fprintf(stderr, "error: unknown command '%s'\n%s", command.c_str(), kUsage);
    return kUsageError;
  }
  // actjit CMD --help: CMD's lines of the usage (the argument after the command
  // is SRC otherwise, and "--help" is no expression)
  if (argc == 3 && (std::strcmp(argv[2], "--help") == 0 || std::strcmp(argv[2], "-h") == 0)) {
    std::fputs(command_usage(command).c_str(), stdout);
    return kOk;
  }
  try {
    if (command == "plot") return plot_command(argc, argv);
    if (command == "run") {
      if (argc != 3) throw UsageError{"'run' takes one file: actjit run script.act"};
      std::string why;
      std::optional<std::string> text = repl::read_file(argv[2], why);
      if (!text) throw UsageError{std::string("cannot read '") + argv[2] + "': " + why};
      std::istringstream in(*text);
      Runtime rt;
      return repl::run_script(rt, in, std::cout, std::cerr);
    }
    Options o = parse_args(argc, argv);
    if (o.command == "list") return list();
    if (o.command == "compile") return compile_aot(o);
    Runtime rt;
    if (o.command == "eval" || o.command == "grad")
      return o.dtype == DType::F64 ? eval_or_grad<double>(rt, o) : eval_or_grad<float>(rt, o);
    if (o.command == "diff") return diff(rt, o);
    if (o.command == "simplify") {
      std::cout << rt.simplified(o.source) << '\n';
      return kOk;
    }
    if (o.command == "ir") {
      std::cout << rt.llvm_ir(o.source, o.dtype, o.defaults);
      return kOk;
    }
    std::cout << rt.assembly(o.source, o.dtype, o.defaults);
    return kOk;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.message.c_str());
    return kUsageError;
  } catch (const Error& e) {
    std::fputs(e.rendered().c_str(), stderr);
    return e.line() > 0 ? kInputError : kInternalError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kInternalError;
  }
}

}  // namespace actjit::cli
