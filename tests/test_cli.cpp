// The command line (LANGUAGE.md section 5): output format, options, exit
// statuses, errors with positions, and every bad input of the corpus.
#include <catch2/catch.hpp>

#include "process.hpp"
#include "support.hpp"
#include "temp_dir.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
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

TEST_CASE("diff --rewritten shows the function before and after the stability rewrites", "[cli]") {
  Run r = run({"diff", "log(1 + exp(x))", "--rewritten"});
  CHECK(r.status == 0);
  CHECK(r.out ==
        "# as written: log(exp(x) + 1)\n"
        "# rewritten:  where(x > 0, x, 0) + log1p(exp(where(x > 0, -x, x)))\n"
        "where(x > 0, 1, exp(where(x > 0, -x, x))) / (exp(where(x > 0, -x, x)) + 1)\n");
  r = run({"diff", "x * x", "--rewritten"});
  CHECK(r.out == "# as written: x * x\n# no stability rewrite applies\nx * 2\n");
  r = run({"diff", "exp(x) - 1", "--rewritten"});
  CHECK(r.out.find("# rewritten:  expm1(x)\n") != std::string::npos);
  // log of the catalogue's sigmoid too (it gave -inf below x = -104 in float)
  r = run({"diff", "log(sigmoid(x))", "--rewritten"});
  CHECK(r.out.find("# rewritten:  -(where(-x > 0, -x, 0) + log1p(exp(") != std::string::npos);
  r = run({"eval", "log(sigmoid(x))", "--at", "-200,0", "--dtype", "f32"});
  CHECK(r.out == "-200\n-0.693147182\n");
  r = run({"diff", "x - tanh(x)", "--rewritten"});
  CHECK(r.out == "# as written: x - tanh(x)\n# rewritten:  tanhshrink(x)\ntanh(x) * tanh(x)\n");
  r = run({"eval", "x", "--rewritten"});  // only diff takes it
  CHECK(r.status == 2);
}

TEST_CASE("costly elementwise bodies are two or four registers wide - SLEEF and x86 intrinsics per register", "[cli]") {
  // Double tan is SLEEF's function of one register, max the x86 MAXPD of one
  // register, exp's scaling AVX-512's vscalef of one register: each called
  // once per register of the body. Row-wise kernels stay one register wide.
  // Bodies above kForwardInterleave.four are four registers wide on
  // 512-bit registers, two on narrower ones, and two where they call
  // SLEEF out of line (double tan here; in float every function is inline
  // since sin, cos, tan and pow are: sincos.cpp, math.cpp float_pow).
  const std::string src = "tan(x) + max(x, 0) + exp(x)";
  if (__builtin_cpu_supports("avx")) {
    setenv("ACTJIT_VECTOR_BITS", "256", 1);
    Run r = run({"ir", src, "--dtype", "f64"});
    Run telu = run({"ir", "telu"});
    unsetenv("ACTJIT_VECTOR_BITS");
    CHECK(r.status == 0);
    CHECK(r.out.find("load <8 x double>") != std::string::npos);
    CHECK(r.out.find("@Sleef_tand4_u10(<4 x double>") != std::string::npos);
    CHECK(r.out.find("@llvm.x86.avx.max.pd.256") != std::string::npos);
    CHECK(r.out.find("Sleef_tand8") == std::string::npos);
    CHECK(r.out.find("scalef") == std::string::npos);  // not on 256-bit registers
    CHECK(telu.out.find("load <16 x float>") != std::string::npos);
    CHECK(telu.out.find("<32 x float>") == std::string::npos);
  }
  if (__builtin_cpu_supports("avx512f")) {
    Run r = run({"ir", src, "--dtype", "f64"});
    CHECK(r.out.find("load <16 x double>") != std::string::npos);
    CHECK(r.out.find("<32 x double>") == std::string::npos);
    CHECK(r.out.find("@Sleef_tand8_u10(<8 x double>") != std::string::npos);
    CHECK(r.out.find("@llvm.x86.avx512.max.pd.512") != std::string::npos);
    CHECK(r.out.find("@llvm.x86.avx512.mask.scalef.pd.512") != std::string::npos);
    // float sin is inline (SLEEF's call only in a rare branch): four wide
    r = run({"ir", "sin(x) + max(x, 0) + exp(x)"});
    CHECK(r.out.find("load <64 x float>") != std::string::npos);
    r = run({"ir", "softmax"});
    CHECK(r.out.find("<16 x float>") != std::string::npos);
    CHECK(r.out.find("<32 x float>") == std::string::npos);
    // Cheap bodies stay one register (relu, softsign), as do forwards
    // below kForwardInterleave.two; elu's forward (28) is four wide; mish's
    // forward and backward are two wide (kCompileCapFrom: its forward one
    // wide in its build for large outputs: test_threads).
    r = run({"ir", "relu"});
    CHECK(r.out.find("<32 x float>") == std::string::npos);
    r = run({"ir", "softsign"});
    CHECK(r.out.find("<32 x float>") == std::string::npos);
    r = run({"ir", "elu"});
    size_t backward = r.out.find("define i64 @actjit_backward");
    REQUIRE(backward != std::string::npos);
    CHECK(r.out.substr(0, backward).find("load <64 x float>") != std::string::npos);
    r = run({"ir", "mish"});
    backward = r.out.find("define i64 @actjit_backward");
    REQUIRE(backward != std::string::npos);
    CHECK(r.out.substr(0, backward).find("load <32 x float>") != std::string::npos);
    CHECK(r.out.substr(0, backward).find("<64 x float>") == std::string::npos);
    CHECK(r.out.find("<32 x float>", backward) != std::string::npos);
    CHECK(r.out.find("<64 x float>", backward) == std::string::npos);
    // exp's argument correction counts in the cost (lower.cpp
    // correction_cost): gelu_tanh's forward, whose plain body is below the
    // bar, is four registers wide with it, as is its backward.
    r = run({"ir", "gelu_tanh"});
    backward = r.out.find("define i64 @actjit_backward");
    REQUIRE(backward != std::string::npos);
    CHECK(r.out.substr(0, backward).find("load <64 x float>") != std::string::npos);
    CHECK(r.out.find("load <64 x float>", backward) != std::string::npos);
    // erfc weighs its inline size (56): the textbook gelu's forward without
    // the catalogue's guards is four registers wide like gelu's (it was one)
    r = run({"ir", "0.5 * x * erfc(-x / sqrt(2))"});
    backward = r.out.find("define i64 @actjit_backward");
    REQUIRE(backward != std::string::npos);
    CHECK(r.out.substr(0, backward).find("load <64 x float>") != std::string::npos);
    // tanh's backward, 4e / (1 + e)^2 with e = exp(-2|x|), takes no product
    // -2|x|: the factor is folded into exp's reduction and polynomial
    // (vmath::exp_neg2abs; the same bits over all floats, one multiplication
    // a register fewer).
    r = run({"ir", "tanh"});
    backward = r.out.find("define i64 @actjit_backward");
    REQUIRE(backward != std::string::npos);
    {
      std::istringstream lines(r.out.substr(backward));
      int doublings = 0;
      for (std::string line; std::getline(lines, line);)
        doublings += line.find("= fmul") != std::string::npos && line.find("float -2.000000e+00") != std::string::npos;
      CHECK(doublings == 0);
    }
    CHECK(r.out.find("@llvm.x86.avx512.mask.scalef.ps.512", backward) != std::string::npos);
    // float64 gelu calls SLEEF's erfc: two registers wide; float64 telu four.
    r = run({"ir", "gelu", "--dtype", "f64"});
    CHECK(r.out.find("load <16 x double>") != std::string::npos);
    CHECK(r.out.find("<32 x double>") == std::string::npos);
    r = run({"ir", "telu", "--dtype", "f64"});
    CHECK(r.out.find("load <32 x double>") != std::string::npos);
  }
}

namespace {
/// The most fused multiply-adds on one dependency path through the first
/// function's "vector.body" block of an `actjit ir` listing.
int fma_depth(const std::string& ir) {
  size_t from = ir.find("\nvector.body:");
  if (from == std::string::npos) return -1;
  size_t to = ir.find("\n\n", from + 1);
  std::istringstream body(ir.substr(from, to - from));
  std::map<std::string, int> depth;
  std::regex def("^\\s*(%[\\w.]+) = (.*)$"), name("%[\\w.]+");
  int most = 0;
  for (std::string line; std::getline(body, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, def)) continue;
    std::string rest = m[2];
    int d = 0;
    for (std::sregex_iterator it(rest.begin(), rest.end(), name), end; it != end; ++it)
      if (auto found = depth.find(it->str()); found != depth.end()) d = std::max(d, found->second);
    if (rest.find("@llvm.fma.") != std::string::npos || rest.find("@llvm.fmuladd.") != std::string::npos) ++d;
    depth[m[1]] = d;
    most = std::max(most, d);
  }
  return most;
}
}  // namespace

TEST_CASE("the erfcx tables' polynomials by Estrin's scheme - float64 gelu's forward 8 FMAs deep where Horner's was 14",
          "[cli]") {
  // table_polynomial_parts: lo + t (c1 + t R(t)) with R by Ctx::estrin.
  // The longest path through the loop's first block (the asymptotic series
  // past 15.5 is a rare branch of its own).
  if (!__builtin_cpu_supports("avx512f")) {
    SUCCEED("the float64 erfcx table is AVX-512's");
    return;
  }
  Run r = run({"ir", "gelu", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(fma_depth(r.out) > 0);
  CHECK(fma_depth(r.out) <= 9);
  r = run({"ir", "gelu"});
  CHECK(fma_depth(r.out) <= 9);
}

TEST_CASE("long elementwise bodies run as two loops through a buffer - short ones as one", "[cli]") {
  // lower::split_long_bodies, on the paths of the AVX-512 kernels: double
  // x tanh(exp(x))'s kernels and softplus's forward are split (one
  // buffered register a register of the body); relu's short body, and
  // gelu_tanh's, which would buffer more, are not.
  if (!__builtin_cpu_supports("avx512f")) {
    SUCCEED("the split kernels measured are AVX-512's");
    return;
  }
  for (const char* src : {"x * tanh(exp(x))", "softplus"}) {
    INFO(src);
    Run r = run({"ir", src, "--dtype", "f64"});
    CHECK(r.status == 0);
    CHECK(r.out.find("split.first:") != std::string::npos);
    CHECK(r.out.find("split.second:") != std::string::npos);
  }
  for (const char* src : {"relu", "gelu_tanh"}) {
    INFO(src);
    Run r = run({"ir", src, "--dtype", "f64"});
    CHECK(r.status == 0);
    CHECK(r.out.find("split.") == std::string::npos);
  }
  // Float x tanh(exp(x)): the forward too, whose lane watch (the tiny
  // results' least distance, carried across iterations) each half's loop
  // carries where it is updated.
  Run r = run({"ir", "x * tanh(exp(x))"});
  size_t splits = 0;
  for (size_t at = r.out.find("split.first:"); at != std::string::npos; at = r.out.find("split.first:", at + 1))
    ++splits;
  CHECK(splits == 2);
  CHECK(r.out.find("split.carried") != std::string::npos);
}

TEST_CASE("exp(where(x >= 0, -x, x)) takes -|x| - one sign-bit OR instead of a negation and a blend", "[cli]") {
  // sigmoid's forward: selects only for exp's clamp and the numerator.
  Run r = run({"ir", "sigmoid"});
  size_t backward = r.out.find("define i64 @actjit_backward");
  REQUIRE(backward != std::string::npos);
  std::string forward = r.out.substr(0, backward);
  CHECK(forward.find("@llvm.fabs") != std::string::npos);
  size_t selects = 0;
  for (size_t at = forward.find(" = select "); at != std::string::npos; at = forward.find(" = select ", at + 1)) ++selects;
  CHECK(selects == 2);
  // Not where the where has another use (its zero's sign could show).
  // (The forward: the backward's watch of dy f'(x) for inf tests |dx|.)
  r = run({"ir", "exp(where(x >= 0, -x, x)) + 1 / where(x >= 0, -x, x)"});
  CHECK(r.out.substr(0, r.out.find("define i64 @actjit_backward")).find("@llvm.fabs") == std::string::npos);
}

TEST_CASE("min and max against a nonzero constant are one MAXPS or MINPS - NaN still propagates", "[cli]") {
  // MAXPS(c, a) is a when a is NaN; only max(x, 0) keeps the NaN select (the
  // sign of a zero result).
  Run r = run({"ir", "clamp(x, -2, 3)"});
  CHECK(r.status == 0);
  CHECK(r.out.find("fcmp uno") == std::string::npos);
  CHECK(r.out.find("@llvm.x86.avx512.max.ps.512") != std::string::npos);
  r = run({"ir", "max(x, 0)"});
  CHECK(r.out.find("fcmp uno") != std::string::npos);
  for (const char* dtype : {"f32", "f64"}) {
    r = run({"eval", "clamp(x, -2, 3)", "--at", "nan,-inf,-5,-2,0.5,3,7,inf", "--dtype", dtype});
    CHECK(r.out == "nan\n-2\n-2\n-2\n0.5\n3\n3\n3\n");
    r = run({"eval", "min(x, -1) + max(x, 2)", "--at", "nan,0", "--dtype", dtype});
    CHECK(r.out == "nan\n1\n");
  }
}

TEST_CASE("sign is copysign(1 - x) but at 0 and NaN - a / sqrt(s) uses vrsqrt14 where s is bounded", "[cli]") {
  for (const char* dtype : {"f32", "f64"}) {
    Run r = run({"eval", "sign(x)", "--at", "nan,-inf,-2,-1e-45,-0,0,1e-45,3,inf", "--dtype", dtype});
    CHECK(r.out == "nan\n-1\n-1\n-1\n-0\n0\n1\n1\n1\n");
  }
  if (__builtin_cpu_supports("avx512f")) {
    Run r = run({"ir", "sqrt(x * x + 1) - 1"});  // the derivative below the guard of x^2
    CHECK(r.out.find("rsqrt14.ps") != std::string::npos);
    // A backward with a square root is two registers wide below the
    // backward's cost bar (InterleaveBars::root_two); the forward one.
    size_t backward = r.out.find("define i64 @actjit_backward");
    REQUIRE(backward != std::string::npos);
    CHECK(r.out.substr(0, backward).find("<32 x float>") == std::string::npos);
    CHECK(r.out.find("load <32 x float>", backward) != std::string::npos);
    r = run({"ir", "sqrt(x * x + 1) - 1", "--dtype", "f64"});  // double: the estimate refined once too
    CHECK(r.out.find("rsqrt14.pd") != std::string::npos);
    r = run({"ir", "x / sqrt(abs(x) + 1)"});  // s may be inf
    CHECK(r.out.find("rsqrt14") == std::string::npos);
  }
}

TEST_CASE("ir and asm --defaults show the kernels that calls with the default parameters run", "[cli]") {
  // softplus's: beta * x and / beta folded away, no parameter gradients
  // (no backward_x); leaky_relu has one set of kernels.
  Run general = run({"ir", "softplus"});
  Run defaults = run({"ir", "softplus", "--defaults"});
  CHECK(defaults.status == 0);
  CHECK(general.out.find("@actjit_backward_x") != std::string::npos);
  CHECK(defaults.out.find("@actjit_backward_x") == std::string::npos);
  CHECK(defaults.out.find("fdiv") != std::string::npos);  // log1p's, not beta's
  // log1p(exp(-|x|)) from the table only where its argument is exact (beta folded).
  CHECK(defaults.out.find("log1p_exp.table") != std::string::npos);
  CHECK(general.out.find("log1p_exp.table") == std::string::npos);
  CHECK(run({"asm", "softplus", "--defaults"}).out.find("actjit_forward:") != std::string::npos);
  CHECK(run({"ir", "leaky_relu", "--defaults"}).out == run({"ir", "leaky_relu"}).out);
  CHECK(run({"eval", "softplus", "--defaults", "--at", "1"}).status == 2);  // ir and asm only
}

TEST_CASE("tanh is a rational without exp - and shares one exp with its derivative where both are needed", "[cli]") {
  if (!__builtin_cpu_supports("avx512f")) return;
  auto count = [](const std::string& s, const std::string& what, size_t from, size_t to) {
    size_t n = 0;
    for (size_t at = s.find(what, from); at < to && at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  };
  // Exp reductions between two places of the IR: the Horner form's rounding
  // (expm1's and the paired forms' too), or the table form's subtraction of
  // its shift (1.5 2^19: float exp on AVX-512), once per exp.
  auto reductions = [&](const std::string& s, size_t from, size_t to) {
    size_t n = count(s, "<float -7.864320e+05", from, to);
    for (const char* width : {"16", "32", "64"})
      n += count(s, std::string("call <") + width + " x float> @llvm.roundeven", from, to);
    return n;
  };
  // tanh's forward: the half-angle rational (two divisions per register,
  // or one and a refined reciprocal: test::damped_divisions; no exp); its
  // backward 4e / (1 + e)^2 with e = exp(-2|x|): one exp.
  const size_t tanh_divisions = actjit::test::damped_divisions() ? 1 : 2;
  Run r = run({"ir", "tanh"});
  size_t backward = r.out.find("define i64 @actjit_backward");
  REQUIRE(backward != std::string::npos);
  CHECK(reductions(r.out, 0, backward) == 0);
  CHECK(count(r.out, "fdiv <", 0, backward) == tanh_divisions);
  // The backward's 4e / (1 + e)^2 as e / h^2 with h = e/2 + 1/2 (the same
  // value: the scalings are exact), no multiplication by 4.
  CHECK(count(r.out, "4.000000e+00", backward, r.out.size()) == 0);
  CHECK(count(r.out, "fdiv <", backward, r.out.size()) == 1);
  // x * tanh(exp(x)): its derivative needs tanh(e) and exp(-2e); in the
  // backward one reduction serves both, the forward keeps the rational.
  r = run({"ir", "x * tanh(exp(x))"});
  backward = r.out.find("define i64 @actjit_backward");
  REQUIRE(backward != std::string::npos);
  size_t end = r.out.find("define", backward + 1);
  // exp(x) (the table form) and the pair (the Horner form's expm1), four registers wide
  CHECK(count(r.out, "call <64 x float> @llvm.roundeven", backward, end) == 1);
  CHECK(count(r.out, "fadd <64 x float> %", backward, end) > 0);
  CHECK(reductions(r.out, backward, end) == 2);
  CHECK(count(r.out, "fdiv <", backward, end) == 1);  // 1 / (1 + e), for tanh(e) and 4e / (1 + e)^2
  CHECK(reductions(r.out, 0, backward) == 1);  // exp(x)
  CHECK(count(r.out, "fdiv <", 0, backward) == tanh_divisions);
}

TEST_CASE("exp on AVX-512 takes the table form - two lookups and no rounding instruction", "[cli]") {
  if (!actjit::test::table_exp_kernels()) return;
  Run r = run({"ir", "sigmoid"});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("@llvm.x86.avx512.permvar.sf.512") != std::string::npos);
  CHECK(r.out.find("call <32 x float> @llvm.roundeven") == std::string::npos);
  CHECK(r.out.find("call <16 x float> @llvm.roundeven") == std::string::npos);
  // float64 too (since the fifty-fifth sitting): 2^(j/16) and its rounding
  // error from two registers each (vpermi2pd).
  r = run({"ir", "sigmoid", "--dtype", "f64"});
  CHECK(r.out.find("@llvm.x86.avx512.vpermi2var.pd.512") != std::string::npos);
  CHECK(r.out.find("@llvm.roundeven") == std::string::npos);
  // expm1 keeps the Horner form in both types (elu's exp and expm1 share it).
  r = run({"ir", "expm1(x)", "--dtype", "f64"});
  CHECK(r.out.find("vpermi2var") == std::string::npos);
  CHECK(r.out.find("@llvm.roundeven") != std::string::npos);
}

TEST_CASE("squareplus at its default b takes one sqrt and one division", "[cli]") {
  Run r = run({"ir", "squareplus", "--defaults"});
  REQUIRE(r.status == 0);
  size_t backward = r.out.find("define i64 @actjit_backward");
  REQUIRE(backward != std::string::npos);
  size_t start = r.out.find("define i64 @actjit_forward");
  REQUIRE(start < backward);
  std::string forward = r.out.substr(start, backward - start);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = forward.find(what); at != std::string::npos; at = forward.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count("fdiv <") == 1);
  CHECK(count("call <16 x float> @llvm.sqrt") + count("call <32 x float> @llvm.sqrt") == 1);
  // With b a parameter the overflow guard (past |x| = 1e15) shares the one
  // square root and adds one division (1/x).
  r = run({"ir", "squareplus"});
  REQUIRE(r.status == 0);
  backward = r.out.find("define i64 @actjit_backward");
  REQUIRE(backward != std::string::npos);
  start = r.out.find("define i64 @actjit_forward");
  REQUIRE(start < backward);
  forward = r.out.substr(start, backward - start);
  CHECK(count("fdiv <") == 2);
  CHECK(count("call <16 x float> @llvm.sqrt") + count("call <32 x float> @llvm.sqrt") +
            count("call <64 x float> @llvm.sqrt") ==
        1);
}

TEST_CASE("simplify and diff refuse text too large to print", "[cli]") {
  // maxout(x, 256)'s DAG has ~1800 operations, but its text repeats shared
  // ones (each level of its tree uses the one below eight times: ~10^9
  // characters; maxout(x, 16) as a chain ran for minutes and ended in
  // bad_alloc).
  for (const char* cmd : {"simplify", "diff"}) {
    Run r = run({cmd, "maxout(x, 256)"});
    INFO(cmd);
    CHECK(r.status == 1);
    CHECK(r.err.find("error: 1:1: the expression is too large to print as text") != std::string::npos);
    CHECK(r.out.empty());
  }
  // Below the limit it prints, and the kernels compile either way.
  CHECK(run({"simplify", "maxout(x, 16)"}).status == 0);
  Run e = run({"eval", "maxout(x, 16)", "--at", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"});
  CHECK(e.status == 0);
  CHECK(e.out == "16\n");
}

TEST_CASE("eval and grad take parameter values at run time with --params", "[cli]") {
  // The kernels a call with other than the default values runs (the C and
  // C++ APIs' params), next to the same values written into the source.
  for (const char* dtype : {"f32", "f64"}) {
    INFO(dtype);
    Run given = run({"eval", "softplus", "--at", "-3,0.5,12", "--params", "beta=2", "--dtype", dtype});
    Run written = run({"eval", "softplus(x, 2)", "--at", "-3,0.5,12", "--dtype", dtype});
    REQUIRE(given.status == 0);
    REQUIRE(written.status == 0);
    std::istringstream a(given.out), b(written.out);
    for (double u, v; a >> u && b >> v;) CHECK(u == Approx(v).epsilon(dtype[1] == '3' ? 1e-6 : 1e-14));
    Run g = run({"grad", "softplus", "--at", "15", "--wrt", "beta", "--params", "beta=0.5", "--dtype", dtype});
    REQUIRE(g.status == 0);
    // d/dbeta at beta = 0.5, x = 15: -(softplus(7.5) - 7.5 sigmoid(7.5)) / 0.25 (mpmath)
    CHECK(std::stod(g.out) == Approx(-0.0046987712522877928 / 0.25).epsilon(1e-5));
  }
  Run sq = run({"eval", "f(x, c = 1) = sqrt(x*x + c) - sqrt(c)", "--at", "1e-9", "--params", "c=2", "--dtype", "f64"});
  CHECK(std::stod(sq.out) == Approx(3.5355339059327378e-19).epsilon(1e-15));
  Run bad = run({"eval", "softplus", "--at", "1", "--params", "bta=2"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("no parameter 'bta'; its parameters are 'beta', 'threshold'") != std::string::npos);
  CHECK(run({"eval", "softplus", "--at", "1", "--params", "beta"}).status == 2);
  CHECK(run({"eval", "softplus", "--at", "1", "--params", "beta=x"}).status == 2);
  CHECK(run({"eval", "relu", "--at", "1", "--params", "a=1"}).status == 2);
}

TEST_CASE("elu's exp and expm1 share one reduction with AVX-512", "[cli]") {
  // The parametric elu's backward takes expm1(x) (d/dalpha) and exp(x)
  // (d/dx): with vscalef both come from expm1's reduction and polynomial
  // (exp = 2^n (expm1(r) + 1)), one rounding of x log2(e) per register
  // instead of two; the forward kernel's expm1 is unchanged.
  if (!__builtin_cpu_supports("avx512f")) return;
  Run r = run({"ir", "elu"});
  REQUIRE(r.status == 0);
  size_t start = r.out.find("define i64 @actjit_backward(");
  size_t end = r.out.find("define i64 @actjit_backward_x(");
  REQUIRE(start < end);
  std::string backward = r.out.substr(start, end - start);
  size_t n = 0;  // calls (the declaration may follow the function)
  std::istringstream lines(backward);
  for (std::string line; std::getline(lines, line);)
    n += line.find("call ") != std::string::npos && line.find("@llvm.roundeven") != std::string::npos;
  CHECK(n == 1);
}

TEST_CASE("ir and asm show vectorized kernels with no scalar math calls", "[cli]") {
  // mish's exp, log1p and tanh are inline vector code: no calls at all.
  Run r = run({"asm", "mish"});
  CHECK(r.status == 0);
  CHECK(r.out.find("call") == std::string::npos);
  CHECK((r.out.find("%zmm") != std::string::npos || r.out.find("%ymm") != std::string::npos));
  // gelu's erfc is inline vector code in float, and in double with
  // 512-bit registers (elsewhere SLEEF's vector function), never scalar libm.
  r = run({"asm", "gelu"});
  CHECK(r.out.find("Sleef_erfc") == std::string::npos);
  CHECK(r.out.find("call") == std::string::npos);
  if (actjit::test::table_erfc_kernels()) {
    // Where erfcx is a table, gelu's forward and backward are right for
    // every x by themselves: their where(x > 40, ...) guards are not
    // emitted (the backward's Phi(x) + x phi(x) is one sum, right at the
    // infinities).
    Run ir = run({"ir", "gelu"});
    size_t fwd = ir.out.find("define i64 @actjit_forward"), bwd = ir.out.find("define i64 @actjit_backward");
    REQUIRE(fwd != std::string::npos);
    REQUIRE(bwd != std::string::npos);
    std::string forward = ir.out.substr(fwd, bwd > fwd ? bwd - fwd : std::string::npos);
    std::string backward = ir.out.substr(bwd);
    CHECK(forward.find("4.000000e+01") == std::string::npos);
    CHECK(backward.find("4.000000e+01") == std::string::npos);
  }
  // float erf, asinh, sinh, cosh, atan and pow are inline too (test_vmath)
  for (const char* src : {"x * erf(x)", "asinh(x)", "sinh(x) + cosh(x)", "atan(x)", "abs(x)^1.5", "x^x", "2^x"}) {
    r = run({"asm", src});
    CHECK(r.status == 0);
    CHECK(r.out.find("Sleef_") == std::string::npos);
    CHECK(r.out.find("call") == std::string::npos);
  }
  // sin, cos and (float) tan inline with FMA: SLEEF's call only in the branch
  // past |x| = 2^17 (double: 2^30; sincos.cpp), after the fast path in the loop
  if (__builtin_cpu_supports("fma")) {
    for (auto [src, dtype] :
         {std::pair{"sin(x)", "f32"}, {"cos(x)", "f32"}, {"tan(x)", "f32"}, {"sin(x)", "f64"}, {"cos(x)", "f64"}}) {
      INFO(src << " " << dtype);
      r = run({"ir", src, "--dtype", dtype});
      CHECK(r.status == 0);
      size_t far = r.out.find("trig.far");
      REQUIRE(far != std::string::npos);
      CHECK(r.out.find("@Sleef_") > far);
      CHECK(r.out.find("@llvm.fma.v") < far);
    }
  }
  r = run({"asm", "gelu", "--dtype", "f64"});
  if (actjit::test::table_erfc_f64_kernels()) {
    CHECK(r.out.find("call") == std::string::npos);
    CHECK(r.out.find("vpermt2pd") != std::string::npos);
  } else {
    CHECK(r.out.find("Sleef_erfcd") != std::string::npos);
  }
  for (const char* scalar : {"call\terfcf", "callq\terfcf", "call\texpf", "callq\texpf"})
    CHECK(r.out.find(scalar) == std::string::npos);
  r = run({"ir", "gelu", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(r.out.find("define i64 @actjit_forward") != std::string::npos);
  CHECK(r.out.find("x double>") != std::string::npos);
  CHECK(r.out.find("@llvm.masked.store") != std::string::npos);
}

TEST_CASE("row-wise functions: --at is one row and grad takes --dy", "[cli]") {
  Run r = run({"eval", "softmax", "--at", "1,2,3", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(r.out == "0.090030573170380462\n0.24472847105479764\n0.66524095577482178\n");
  r = run({"eval", "glu", "--at", "1,2,3,4", "--dtype", "f64"});
  CHECK(r.out == "0.95257412682243336\n1.9640275800758169\n");
  // dx = y * (dy - sum(dy * y)) with dy = (1, 0, 0)
  r = run({"grad", "softmax", "--at", "1,2,3", "--dy", "1,0,0", "--dtype", "f64"});
  CHECK(r.status == 0);
  CHECK(r.out == "0.081925069064993236\n-0.022033044520174298\n-0.059892024544818928\n");
  r = run({"grad", "maxout(x, 3)", "--at", "1,5,2,2,-1,0", "--dy", "10,20"});
  CHECK(r.out == "0\n10\n0\n20\n0\n0\n");
  // One output value per row: dy defaults to 1; a parameter's gradient is one number.
  r = run({"grad", "log(sum(exp(x)))", "--at", "0,0", "--dtype", "f64"});
  CHECK(r.out == "0.5\n0.5\n");
  r = run({"grad", "f(x, t = 1) = sum(x * t)", "--at", "1,2,3", "--wrt", "t", "--dtype", "f64"});
  CHECK(r.out == "6\n");
  r = run({"diff", "softmax"});
  CHECK(r.status == 0);
  CHECK(r.out.rfind("dx = ", 0) == 0);
  r = run({"diff", "softmax(1) + 2"});  // row-wise, yet x is not read: dx is zero
  CHECK(r.out == "dx = 0\n");
  for (auto args : std::vector<std::vector<std::string>>{{"grad", "softmax", "--at", "1,2,3"},
                                                         {"grad", "softmax", "--at", "1,2,3", "--dy", "1,2"},
                                                         {"eval", "glu", "--at", "1,2,3"},
                                                         {"grad", "softmax", "--at", "1,2", "--dy", "x"}}) {
    Run e = run(args);
    INFO(args[1] << " " << args[3]);
    CHECK(e.status == 2);
    CHECK(e.err.rfind("error: ", 0) == 0);
  }
  CHECK(run({"grad", "softmax", "--at", "1,2,3"}).err.find("needs --dy with 3 values") != std::string::npos);
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
  // SRC is the argument right after the command; an option there says so.
  Run early = run({"eval", "--at", "1", "mish"});
  CHECK(early.status == 2);
  CHECK(early.err == "error: 'eval' takes SRC right after it, before the options (found '--at' there)\n");
  CHECK(run({"grad", "--dtype=f64", "mish", "--at", "1"}).err.find("found '--dtype=f64' there") != std::string::npos);
  CHECK(run({"compile", "-o", "a.a", "f.act"}).err.find("'compile' takes FILE right after it") != std::string::npos);
  CHECK(run({"eval", "-x^2", "--at", "2"}).out == "-4\n");  // a SRC starting with '-' stays one
  // An option of another command says which commands take it; a flag takes no value.
  Run other = run({"eval", "mish", "--at", "1", "--wrt", "x"});
  CHECK(other.status == 2);
  CHECK(other.err == "error: option '--wrt' is not for 'eval' (it is for grad, diff)\n");
  CHECK(run({"diff", "mish", "--rewritten=yes"}).err == "error: option '--rewritten' takes no value (found '--rewritten=yes')\n");
  CHECK(run({"eval", "mish", "--at", "1", "--bogus"}).err == "error: unknown option '--bogus' for 'eval'\n");
  CHECK(run({"compile", "-"}).err == "error: 'compile' needs -o LIB.a and --header H.h\n");
  CHECK(run({"eval", "mish", "--at=1", "--dtype=f64"}).out == "0.86509838826731034\n");
  // CMD --help: that command's usage, exit status 0
  Run help = run({"eval", "--help"});
  CHECK(help.status == 0);
  CHECK(help.out.rfind("usage:\n  eval SRC --at", 0) == 0);
  CHECK(help.out.find("--params") != std::string::npos);    // the line eval shares with grad
  CHECK(help.out.find("  grad SRC") == std::string::npos);  // not grad's own
  CHECK(help.out.find("SRC is an expression") != std::string::npos);
  Run compile_help = run({"compile", "-h"});
  CHECK(compile_help.status == 0);
  CHECK(compile_help.out.find("compile FILE.act -o LIB.a") != std::string::npos);
  CHECK(compile_help.out.find("SRC is") == std::string::npos);
  CHECK(run({"plot", "--help"}).out.find("plot SRC...") != std::string::npos);
  // files that cannot be read or written: the system's reason
  CHECK(run({"compile", "/nonexistent/defs.act", "-o", "a.a", "--header", "a.h"}).err ==
        "error: cannot read '/nonexistent/defs.act': No such file or directory\n");
  actjit::test::TempDir scratch("cli");
  // a directory opens as a file and reads as nothing: 'run DIR' was a script without
  // lines (exit status 0)
  for (const char* cmd : {"run", "compile"}) {
    Run dir = cmd == std::string("run") ? run({cmd, scratch.path.string()})
                                        : run({cmd, scratch.path.string(), "-o", "a.a", "--header", "a.h"});
    INFO(cmd);
    CHECK(dir.status == 2);
    CHECK(dir.err == "error: cannot read '" + scratch.path.string() + "': Is a directory\n");
  }
  Run header =
      run({"compile", "-", "-o", (scratch.path / "a.a").string(), "--header", "/nonexistent/a.h"}, "f(x) = x\n");
  CHECK(header.err.find("cannot write /nonexistent/a.h: No such file or directory") != std::string::npos);
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
