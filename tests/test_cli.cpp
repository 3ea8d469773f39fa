// The command line (LANGUAGE.md section 5): output format, options, exit
// statuses, errors with positions, and every bad input of the corpus.
#include <catch2/catch.hpp>

#include "process.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

using actjit::test::Run;
using actjit::test::run;


TEST_CASE("eval prints one value a line: 9 digits in f32 - 17 in f64", "[cli]") {
  Run r = run({"eval", "x * 2", "--at", "0.1,1e300,-inf,nan", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(r.out == "0.20000000000000001\n2.0000000000000001e+300\n-inf\nnan\n");
  r = run({"eval", "x * 2", "--at", "0.1,1e300,1e-50"});
  CHECK(r.status == 0);
  CHECK(r.out == "0.200000003\ninf\n0\n");
  r = run({"eval", "x / 4", "--at=1"});
  CHECK(r.out == "0.25\n");
}

TEST_CASE("grad by the input and by parameters", "[cli]") {
  Run r = run({"grad", "leaky_relu", "--at", "-2,3", "--wrt", "alpha", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(r.out == "-2\n0\n");
  r = run({"grad", "leaky_relu(x, 0.2)", "--at", "-2,0,3", "--dtype", "f64"});
  CHECK(r.out == "0.20000000000000001\n0.20000000000000001\n1\n");
  r = run({"grad", "f(t, a = 2) = a * t^2", "--at", "3", "--wrt", "t", "--dtype", "f64"});
  CHECK(r.out == "12\n");
}

TEST_CASE("SRC may start with '-' and may come from standard input", "[cli]") {
  Run r = run({"eval", "-x^2", "--at", "3", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(r.out == "-9\n");
  r = run({"eval", "-", "--at", "-1,2", "--dtype", "f64"}, "# a file of definitions\nf(x) = x + 1\ng(x) = f(x) * 2\n");
  CHECK(r.status == 0);
  CHECK(r.out == "0\n6\n");
}

TEST_CASE("diff prints parseable text and list prints the catalogue", "[cli]") {
  Run r = run({"diff", "x^3"});
  CHECK(r.status == 0);
  CHECK(r.out == "x * x * 3\n");
  r = run({"diff", "leaky_relu", "--wrt", "alpha"});
  CHECK(r.out == "dleaky_relu_dalpha(x, alpha = 0.01) = where(x > 0, 0, x)\n");
  r = run({"list"});
  CHECK(r.status == 0);
  for (const char* name : {"relu(x)", "gelu(x)", "softplus(x, beta = 1, threshold = 20)", "squareplus(x, b = 4)",
                           "tanh(x)"})
    CHECK(r.out.find(std::string("\n") + name) != std::string::npos);
  CHECK(r.out.find("\n_") == std::string::npos);  // helpers are not listed
}

TEST_CASE("ir and asm show vectorized kernels with no scalar math calls", "[cli]") {
  // mish's exp, log1p and tanh are inline vector code: no calls at all.
  Run r = run({"asm", "mish"});
  CHECK(r.status == 0);
  CHECK(r.out.find("call") == std::string::npos);
  CHECK((r.out.find("%zmm") != std::string::npos || r.out.find("%ymm") != std::string::npos));
  // gelu's erfc is SLEEF's vector function, never scalar libm.
  r = run({"asm", "gelu"});
  CHECK(r.out.find("Sleef_erfc") != std::string::npos);
  for (const char* scalar : {"call\terfcf", "callq\terfcf", "call\texpf", "callq\texpf"})
    CHECK(r.out.find(scalar) == std::string::npos);
  r = run({"ir", "gelu", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(r.out.find("define void @actjit_forward") != std::string::npos);
  CHECK(r.out.find("x double>") != std::string::npos);
  CHECK(r.out.find("@llvm.masked.store") != std::string::npos);
}

TEST_CASE("usage errors exit with 2", "[cli]") {
  for (auto args : std::vector<std::vector<std::string>>{{"eval", "x"},
                                                         {"eval", "x", "--at", "1,abc"},
                                                         {"eval", "x", "--at", "1,,2"},
                                                         {"eval", "x", "--at", "1", "--dtype", "f16"},
                                                         {"eval", "x", "--at", "1", "--bogus"},
                                                         {"grad", "relu", "--at", "1", "--wrt", "beta"},
                                                         {"frobnicate"},
                                                         {"eval"}}) {
    Run r = run(args);
    INFO(args[0] << " " << (args.size() > 1 ? args[1] : ""));
    CHECK(r.status == 2);
    CHECK(r.err.rfind("error: ", 0) == 0);
  }
}

TEST_CASE("input errors exit with 1 and show LINE:COL - the line and a caret", "[cli]") {
  Run r = run({"eval", "x +\n  * 2", "--at", "1"});
  CHECK(r.status == 1);
  CHECK(r.err == "error: 2:3: expected an expression, found '*'\n  * 2\n  ^\n");
}

TEST_CASE("every bad input of the corpus: clean error - right position - no crash", "[cli]") {
  std::ifstream in(std::string(ACTJIT_TEST_DATA) + "/reference/bad_input.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  for (const auto& c : doc["cases"]) {
    std::string src;
    if (c.contains("src")) {
      src = c["src"];
    } else if (c.contains("src_parts")) {
      for (const auto& part : c["src_parts"])
        for (int i = 0; i < part[1].get<int>(); ++i) src += part[0].get<std::string>();
    }
    std::vector<std::string> args{c["cmd"].get<std::string>(), "-"};
    for (const auto& a : c["args"]) args.push_back(a);
    Run r = run(args, src);  // SRC on standard input: no argument-length limit
    INFO(c["id"].get<std::string>() << ": " << r.err.substr(0, 200));
    CHECK(r.status < 128);
    bool exit_ok = false;
    for (const auto& e : c["exit"]) exit_ok = exit_ok || e.get<int>() == r.status;
    CHECK(exit_ok);
    CHECK(r.err.rfind("error: ", 0) == 0);
    if (c.contains("pos") && !c["pos"].is_null()) {
      bool pos_ok = false;
      for (const auto& p : c["pos"]) pos_ok = pos_ok || r.err.rfind("error: " + p.get<std::string>() + ":", 0) == 0;
      CHECK(pos_ok);
    }
  }
}
