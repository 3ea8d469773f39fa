// The REPL: golden scripts through standard input and `actjit run` (with an
// error in the middle), an interactive session on a pseudo-terminal (line
// editing, tab completion, Ctrl-C, Ctrl-D, history), and plot files (the SVG
// parsed as XML, the PNG decoded and checked for size and content).
#include <catch2/catch.hpp>

#include <cairo.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "process.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using actjit::test::run;
using actjit::test::TempDir;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

TEST_CASE("golden scripts through standard input and actjit run", "[repl]") {
  fs::path dir = fs::path(ACTJIT_TEST_DATA) / "golden" / "repl";
  TempDir scratch("repl");
  const fs::path& tmp = scratch.path;
  size_t cases = 0;
  for (auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".act") continue;
    fs::path base = entry.path();
    base.replace_extension();
    auto subst = [&](std::string s) {
      s = replace_all(s, "SAVE_FILE", (tmp / "saved.act").string());
      return replace_all(s, "MISSING_FILE", (tmp / "missing.act").string());
    };
    std::string script = subst(slurp(entry.path()));
    std::string want_out = subst(slurp(base.string() + ".out")), want_err = subst(slurp(base.string() + ".err"));
    int want_status = std::stoi(slurp(base.string() + ".status"));
    INFO("script " << entry.path().filename().string());
    auto piped = run({}, script);
    CHECK(piped.out == want_out);
    CHECK(piped.err == want_err);
    CHECK(piped.status == want_status);
    std::ofstream(tmp / "script.act") << script;
    auto file = run({"run", (tmp / "script.act").string()});
    CHECK(file.out == want_out);
    CHECK(file.status == want_status);
    ++cases;
  }
  CHECK(cases >= 3);
}

TEST_CASE("errors in derivative calls and lists point into the line as typed", "[repl]") {
  // f'(a) and f([a, b]) compile f(x); their errors are shown in the line typed.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mish'(1, 2)",
       "error: 1:10: too many arguments: 'mish' takes at most 1 (mish(x)), got 2\nmish'(1, 2)\n         ^\n"},
      {"swish'(1.5, beta = foo)",
       "error: 1:20: unknown name 'foo'; did you mean 'floor(x)'?\nswish'(1.5, beta = foo)\n                   ^\n"},
      {"swish([1, 2], bta = 2)",
       "error: 1:15: 'swish' has no parameter 'bta'; did you mean 'beta'?\nswish([1, 2], bta = 2)\n              ^\n"},
      {"mish'([1, foo])", "error: 1:11: unknown name 'foo'; did you mean 'floor(x)'?\nmish'([1, foo])\n          ^\n"},
      {"mish'(foo)", "error: 1:7: unknown name 'foo'; did you mean 'floor(x)'?\nmish'(foo)\n      ^\n"},
      {"mish'(2 * [1, 2])",
       "error: 1:11: the list must be the whole point, as in f'([1, 2])\nmish'(2 * [1, 2])\n          ^\n"},
  };
  for (auto& [line, want] : cases) {
    INFO(line);
    auto r = run({}, line + "\n");
    CHECK(r.status == 1);
    CHECK(r.err == want);
  }
  CHECK(run({}, "mish'( [1, 2] )\n").out == "[1.0490362200997922, 1.0693179342794896]\n");
  CHECK(run({}, "mish([])\nmish'([])\n").out == "[]\n[]\n");  // an empty list: an empty result
  CHECK(run({}, "softmax([])\n").err ==
        "error: a row-wise function takes a row of at least one value; the list is empty\n");
}

TEST_CASE(
    ":bench runs float32 kernels or - with a last word f64 - float64 ones; :help shows a command's continued lines",
    "[repl]") {
  auto r = run({}, ":bench x*x f64\n:bench x*x\n:bench mish f32\n");
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  std::regex header("(f32|f64), 16384 elements, 1 thread, best of 200 \\(elements/ns\\)");
  std::vector<std::string> types;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), header); it != std::sregex_iterator(); ++it)
    types.push_back((*it)[1]);
  CHECK(types == std::vector<std::string>{"f64", "f32", "f32"});
  std::regex x_row("\\| x\\*x +\\| +[0-9]+\\.[0-9]+ \\| +[0-9]+\\.[0-9]+ \\|");
  CHECK(std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), x_row), std::sregex_iterator()) == 2);
  // Another last word is part of the function (and an error there).
  auto bad = run({}, ":bench x*x f16\n");
  CHECK(bad.status == 1);
  CHECK(bad.err == "error: 1:5: expected end of line or ';', found 'f16'\nx*x f16\n    ^\n");
  CHECK(run({}, ":help bench\n").out ==
        "  :bench f [f32|f64]       throughput of f's kernels (elements/ns; float32 unless f64) next to\n"
        "                           relu and a plain loop\n");
  CHECK(run({}, ":help diff\n").out ==
        "  :diff f                  df/dx and df/dp for every parameter, as text\n"
        "                           (row-wise f: the vector-Jacobian product in terms of dy)\n");
}

TEST_CASE(":check measures in ULP of the reference as a double - folded constants at full precision", "[repl]") {
  // 2 x sigmoid(x / 2) underflows double below x = -1500 (0 is right there;
  // a relative error called it 4.5e15 "ulp"), and gelu's x / sqrt(2) has a
  // rounded constant whose rest the kernels keep (343 ulp against a
  // reference without it).
  for (const char* f : {"2 * x * sigmoid(0.5 * x)", "gelu", "gelu_tanh", "exp(x * (1/3 + 1/7))"}) {
    INFO(f);
    auto r = run({}, std::string(":check ") + f + "\n");
    REQUIRE(r.status == 0);
    CHECK(r.out.find("no overflow or NaN where the wider evaluation is finite") != std::string::npos);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex(R"(largest error of f: +([0-9.e+-]+) ulp)")));
    CHECK(std::stod(m[1]) < 4);
    REQUIRE(std::regex_search(r.out, m, std::regex(R"(largest error of f': +([0-9.e+-]+) ulp)")));
    CHECK(std::stod(m[1]) < 8);
  }
  // f' only where f is defined (the slope's formula is finite for x < 0, where log is NaN)
  CHECK(run({}, ":check log(exp(x) - exp(-x))\n").out.find("no overflow or NaN where") != std::string::npos);
  // and it still finds what is wrong: a form past the rewrites' reach (inf - inf)
  auto naive = run({}, ":check sinh(x)^2 - cosh(x)^2\n");
  CHECK(naive.out.find("f is not finite") != std::string::npos);
}

TEST_CASE("terminal plots - a pole does not flatten the rest and long labels keep the axis straight", "[repl]") {
  // log(x)'s slope 1/x near 0 set the range to +-220 on [-2, 2] (log(x) a flat line);
  // the middle 96% of the values decide it now, widened by half
  auto r = run({}, ":plot log(x) [-2, 2]\n");
  REQUIRE(r.status == 0);
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex(R"(^ *([-0-9.e+]+) \S)")));
  CHECK(std::stod(m[1]) < 30);
  CHECK(std::stod(m[1]) > 5);
  // "-4.49e+300" is 10 characters: every row's axis in one column
  r = run({}, ":plot exp(x) [-1, 800]\n");
  REQUIRE(r.status == 0);
  std::istringstream rows(r.out);
  std::string row;
  std::set<size_t> axis;
  while (std::getline(rows, row) && row.find("\u2514") == std::string::npos) {
    size_t at = std::min(row.find("\u2502"), row.find("\u2524"));  // the axis: a bar or a tick
    REQUIRE(at != std::string::npos);
    axis.insert(at);
  }
  CHECK(axis.size() == 1);
  // a '>' inside the functions is a comparison, not "> FILE" (it cut "where(x" off)
  r = run({}, ":plot where(x > 0, x, 0), leaky_relu(x, 0.2) [-1, 1]\n");
  CHECK(r.status == 0);
  CHECK(r.out.find("where(x > 0, x, 0)'") != std::string::npos);  // the legend
  // a value whose coordinate is infinite does not reach the drawing (NaN dots)
  CHECK(run({}, ":plot where(x > 0.97, 1e308, sigmoid(x)) [-1, 1]\n").status == 0);
}

namespace {

/// A child actjit on a pseudo-terminal.
struct Terminal {
  int fd = -1;
  pid_t pid = -1;
  std::string seen;

  explicit Terminal(const fs::path& home) {
    struct winsize ws {};
    ws.ws_col = 100;
    ws.ws_row = 40;
    pid = forkpty(&fd, nullptr, nullptr, &ws);
    if (pid == 0) {
      setenv("HOME", home.c_str(), 1);
      setenv("TERM", "xterm", 1);
      setenv("NO_COLOR", "1", 1);
      execl(ACTJIT_CLI, ACTJIT_CLI, (char*)nullptr);
      _exit(127);
    }
  }
  ~Terminal() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (fd >= 0) close(fd);
  }
  void send(const std::string& s) { REQUIRE(write(fd, s.data(), s.size()) == ssize_t(s.size())); }
  /// Sends a control character once the session has been quiet for 200 ms:
  /// the line editor switches the terminal's modes around each read, and a
  /// Ctrl-C or Ctrl-D that arrives in between (seen under load) is taken
  /// by the terminal's line discipline, not the editor.
  void send_control(char c) {
    auto quiet_since = std::chrono::steady_clock::now();
    auto deadline = quiet_since + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline &&
           std::chrono::steady_clock::now() - quiet_since < std::chrono::milliseconds(200)) {
      int got = read_some(20);
      if (got < 0) break;
      if (got > 0) quiet_since = std::chrono::steady_clock::now();
    }
    send(std::string(1, c));
  }
  /// Appends what the session wrote within `ms` milliseconds to `seen`:
  /// the byte count, 0 for nothing, -1 at the end of the session.
  int read_some(int ms) {
    struct pollfd p {fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return 0;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return -1;
    seen.append(buf, size_t(n));
    return int(n);
  }
  /// Reads until `text` appears after what was already consumed; returns whether it did (within 20 s).
  bool expect(const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      size_t at = seen.find(text);
      if (at != std::string::npos) {
        seen.erase(0, at + text.size());
        return true;
      }
      if (read_some(200) < 0) break;
    }
    return false;
  }
  int wait_exit() {
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      expect("\x01never");  // drain output while waiting
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }
};

}  // namespace

TEST_CASE("an interactive session on a terminal", "[repl]") {
  TempDir scratch("repl-terminal");
  fs::path home = scratch.path / "home";
  fs::create_directories(home);
  Terminal t(home);
  REQUIRE(t.expect("act> "));
  t.send("triple(x) = x * 3\r");
  CHECK(t.expect("defined triple(x)"));
  CHECK(t.expect("act> "));
  t.send("triple(2)\r");
  CHECK(t.expect("6"));
  CHECK(t.expect("act> "));
  t.send("mis\t(0.5)\r");  // tab completes "mish"
  CHECK(t.expect("0.3752452113"));
  CHECK(t.expect("act> "));
  t.send("foo(1)\r");  // an error does not end the session
  CHECK(t.expect("unknown function 'foo'"));
  CHECK(t.expect("act> "));
  t.send("quit\r");  // a command without its colon: an error and a pointer, not the end
  CHECK(t.expect("did you mean the command ':quit'?"));
  CHECK(t.expect("act> "));
  t.send("f(x) = (x +\r");  // continued on the next line
  CHECK(t.expect("...> "));
  t.send("1)\r");
  CHECK(t.expect("defined f(x)"));
  CHECK(t.expect("act> "));
  t.send("mish(");
  CHECK(t.expect("mish("));  // echoed: the line editor has it
  t.send_control('\x03');   // Ctrl-C drops the line
  CHECK(t.expect("act> "));
  t.send("1 + 1\r");
  CHECK(t.expect("2"));
  CHECK(t.expect("act> "));
  t.send(":plot mish [-3, 3]\r");
  CHECK(t.expect("mish'"));
  CHECK(t.expect("act> "));
  t.send_control('\x04');  // Ctrl-D quits
  CHECK(t.wait_exit() == 0);
  CHECK(slurp(home / ".actjit_history").find("triple(2)") != std::string::npos);
}

TEST_CASE("plot files: valid SVG and a decodable, non-blank PNG", "[repl]") {
  TempDir scratch("plot");
  const fs::path& tmp = scratch.path;
  std::string svg = (tmp / "p.svg").string(), png = (tmp / "p.png").string();
  auto r = run({"plot", "mish", "gelu", "x * tanh(exp(x))", "--range", "-4:3", "--out", svg});
  REQUIRE(r.status == 0);
  r = run({"plot", "mish", "--range=-4:3", "--out=" + png});
  REQUIRE(r.status == 0);
  // SVG: well-formed XML with an <svg> root and drawn paths (Python's XML parser).
  std::string check = "python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                      "assert r.tag.endswith('svg'); assert len([e for e in r.iter() if e.tag.endswith('path')]) >= 6\" " +
                      svg;
  CHECK(std::system(check.c_str()) == 0);
  // PNG: decoded by cairo; the expected size and more than a few colours.
  cairo_surface_t* s = cairo_image_surface_create_from_png(png.c_str());
  REQUIRE(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS);
  int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
  CHECK(w == 900);
  CHECK(h == 560);
  std::set<uint32_t> colours;
  unsigned char* data = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < h; y += 3)
    for (int x = 0; x < w; x += 3) colours.insert(*reinterpret_cast<uint32_t*>(data + y * stride + x * 4));
  CHECK(colours.size() > 20);
  cairo_surface_destroy(s);
  r = run({"plot", "mish", "--out", (tmp / "p.jpg").string()});
  CHECK(r.status == 1);
  CHECK(r.err.rfind("error: ", 0) == 0);
  for (const char* name : {"p.svg", "p.png"}) {  // the reason, not Cairo's "error while writing"
    std::string missing = (tmp / "no-such-dir" / name).string();
    r = run({"plot", "mish", "--out", missing});
    CHECK(r.status == 1);
    CHECK(r.err == "error: cannot create " + missing + ": No such file or directory\n");
  }
}
