// Row-wise functions: the built-ins against 50-digit references (checked
// against PyTorch when generated; tools/gen_rowwise_reference.py), the
// vector-Jacobian products against finite differences, the kernels against
// the row reference evaluator, the row-length rules, and the error messages.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cfloat>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "compiler/ir/row.hpp"
#include "compiler/lower/lower.hpp"
#include "support.hpp"

using namespace actjit;
using json = nlohmann::json;

namespace {

double parse(const std::string& s) {
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return INFINITY;
  if (s == "-inf") return -INFINITY;
  return std::strtod(s.c_str(), nullptr);  // subnormals too (stod throws on them)
}

std::vector<double> values(const json& a) {
  std::vector<double> out;
  for (const json& v : a) out.push_back(parse(v.get<std::string>()));
  return out;
}

/// Compares a row with a reference: special values exactly, finite ones
/// within rtol * (|value| + scale), where scale is the reference's condition
/// scale of each element when given (the magnitudes of the terms summed to
/// make it), else the row's largest magnitude (a sum over the row rounds at
/// the scale of the row).
template <class T>
bool close_rows(const std::vector<T>& got, const std::vector<double>& want, double rtol, std::string& why,
                const std::vector<double>& scales = {}) {
  if (got.size() != want.size()) {
    why = "length " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
    return false;
  }
  double row_scale = 0;
  for (double w : want)
    if (std::isfinite(w)) row_scale = std::max(row_scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i) {
    double g = double(got[i]), w = want[i];
    double scale = scales.empty() ? row_scale : scales[i];
    // Results in the subnormal range have fewer digits: 256 subnormal steps.
    double tiny = std::numeric_limits<T>::denorm_min() * 256;
    bool ok = std::isnan(w)   ? std::isnan(g)
              : std::isinf(w) ? g == w
                              : std::fabs(g - w) <= rtol * (std::fabs(w) + scale) + tiny;
    if (!ok) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "element %zu: got %.17g, want %.17g", i, g, w);
      why = buf;
      return false;
    }
  }
  return true;
}

template <class T>
void check_reference(DType dtype, double rtol) {
  std::ifstream in(std::string(ACTJIT_TEST_DATA) + "/data/rowwise_reference.json");
  REQUIRE(in);
  json data = json::parse(in);
  const Runtime& rt = test::shared_runtime();
  size_t checked = 0;
  for (const json& c : data["cases"]) {
    std::string f = c["f"];
    Kernel k = rt.compile(f, dtype);
    REQUIRE(k.rowwise());
    std::vector<double> xd = values(c["x"]), dyd = values(c["dy"]);
    std::vector<T> x(xd.begin(), xd.end()), dy(dyd.begin(), dyd.end());
    std::vector<T> y(k.output_cols(x.size())), dx(x.size());
    k.forward(std::span<const T>(x), std::span<T>(y));
    k.backward(std::span<const T>(x), std::span<const T>(dy), std::span<T>(dx));
    std::string why;
    INFO(f << " on a row of " << x.size() << (c.contains("special") ? " (special values)" : ""));
    std::vector<double> y_scale, dx_scale;
    if (c.contains("y_scale")) {
      y_scale = values(c["y_scale"]);
      dx_scale = values(c["dx_scale"]);
    } else {  // special values: PyTorch's results, rounding-level terms included
      y_scale.assign(c["y"].size(), 1.0);
      dx_scale.assign(c["dx"].size(), 1.0);
    }
    bool y_ok = close_rows(y, values(c["y"]), rtol, why, y_scale);
    INFO("forward: " << why);
    CHECK(y_ok);
    bool dx_ok = close_rows(dx, values(c["dx"]), rtol, why, dx_scale);
    INFO("backward: " << why);
    CHECK(dx_ok);
    ++checked;
  }
  CHECK(checked > 100);
}

/// g(x) = dy . f(x) (f64 kernel), for finite differences.
double weighted(const Kernel& k, const std::vector<double>& x, const std::vector<double>& dy,
                const std::vector<double>& params) {
  std::vector<double> y(k.output_cols(x.size()));
  k.forward(std::span<const double>(x), std::span<double>(y), params);
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += dy[i] * y[i];
  return s;
}

const char* const kCustom[] = {
    "softmax_t(x, t = 2) = exp(x / t - max(x / t)) / sum(exp(x / t - max(x / t)))",
    "layernorm(x, eps = 1e-5) = (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)",
    "logsumexp(x) = stop_gradient(max(x)) + log(sum(exp(x - stop_gradient(max(x)))))",
    "sum(x^2) / sum(abs(x) + 1)",
    "chunk(x, 2, 0) * tanh(chunk(x, 2, 1)) + mean(x)",
    "pick(x, 3, 1) * max(groups(x, 3)) - min(groups(x, 3))",
    "x * sum(chunk(x, 4, 1))",
    "glu(x) * 2",
    "maxout(x, 4)",
    "log_softmax(x)",
    "softmin(x)",
    "f(x, a = 0.7, b = 1.5) = softmax(a * x) * sum(x) + b * mean(sigmoid(b * x))",
    "mean(groups(x, 6)) * sum(groups(chunk(x, 2, 1), 3))",
    "sum(sum(groups(x, 4))) + sum(max(groups(x, 2)))",  // dx of groups' positions: row scalars and vectors
    "exp(x - max(x)) / sum(exp(x - max(x)))",  // max without stop_gradient: its gradient cancels
};

}  // namespace

TEST_CASE("Row-wise built-ins match 50-digit references (f64)") { check_reference<double>(DType::F64, 2e-14); }

TEST_CASE("Row-wise built-ins match 50-digit references (f32)") { check_reference<float>(DType::F32, 3e-6); }

TEST_CASE("Vector-Jacobian products match central differences") {
  const Runtime& rt = test::shared_runtime();
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-2, 2);
  for (const char* src : kCustom) {
    Kernel k = rt.compile(src, DType::F64);
    REQUIRE(k.rowwise());
    const size_t n = 24;  // a multiple of every row length rule above
    REQUIRE(k.output_cols(n) > 0);
    std::vector<double> x(n), dy(k.output_cols(n)), params = k.default_params();
    for (double& v : x) v = u(rng);
    for (double& v : dy) v = u(rng);
    std::vector<double> dx(n), dparams(params.size());
    k.backward(std::span<const double>(x), std::span<const double>(dy), std::span<double>(dx), params,
               std::span<double>(dparams));
    INFO(src);
    const double h = 1e-6;
    for (size_t i = 0; i < n; ++i) {
      std::vector<double> xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      double fd = (weighted(k, xp, dy, params) - weighted(k, xm, dy, params)) / (2 * h);
      INFO("dx[" << i << "] = " << dx[i] << ", central difference " << fd);
      CHECK(std::fabs(dx[i] - fd) <= 1e-6 * (1 + std::fabs(fd)));
    }
    for (size_t j = 0; j < params.size(); ++j) {
      std::vector<double> pp = params, pm = params;
      pp[j] += h;
      pm[j] -= h;
      double fd = (weighted(k, x, dy, pp) - weighted(k, x, dy, pm)) / (2 * h);
      INFO("d" << k.params()[j].name << " = " << dparams[j] << ", central difference " << fd);
      CHECK(std::fabs(dparams[j] - fd) <= 1e-6 * (1 + std::fabs(fd)));
    }
  }
}

TEST_CASE("Row-wise kernels equal the row reference evaluator over many rows and lengths") {
  const Runtime& rt = test::shared_runtime();
  std::mt19937 rng(11);
  std::normal_distribution<double> nd(0, 3);
  for (const char* src : kCustom) {
    Program p = test::program(src);
    REQUIRE(p.row.rowwise);
    Kernel k64 = rt.compile(src, DType::F64), k32 = rt.compile(src, DType::F32);
    for (size_t cols : {12u, 24u, 48u, 96u, 1200u}) {
      if (cols % p.row.multiple) continue;
      const size_t rows = 3, out = k64.output_cols(cols);
      std::vector<double> x(rows * cols), dy(rows * out);
      for (double& v : x) v = nd(rng);
      for (double& v : dy) v = nd(rng);
      std::vector<double> y(rows * out), dx(rows * cols), dparams(p.function.params.size());
      k64.forward_rows(std::span<const double>(x), std::span<double>(y), cols);
      k64.backward_rows(std::span<const double>(x), std::span<const double>(dy), std::span<double>(dx), cols, {},
                        std::span<double>(dparams));
      std::vector<float> xf(x.begin(), x.end()), dyf(dy.begin(), dy.end()), yf(y.size()), dxf(dx.size());
      k32.forward_rows(std::span<const float>(xf), std::span<float>(yf), cols);
      k32.backward_rows(std::span<const float>(xf), std::span<const float>(dyf), std::span<float>(dxf), cols);
      std::vector<long double> params;
      for (auto& q : p.function.params) params.push_back(q.default_value);
      std::vector<long double> dparams_ref(params.size(), 0);
      for (size_t r = 0; r < rows; ++r) {
        std::vector<long double> xr(x.begin() + long(r * cols), x.begin() + long((r + 1) * cols));
        std::vector<long double> dyr(dy.begin() + long(r * out), dy.begin() + long((r + 1) * out));
        std::vector<ir::NodeId> roots{p.value};
        for (auto& [view, e] : p.row.dx) roots.push_back(e);
        for (ir::NodeId e : p.row.dparams) roots.push_back(e);
        auto ref = ir::evaluate_row<long double>(p.graph, roots, xr, params, dyr);
        std::vector<double> want_y(ref[0].begin(), ref[0].end());
        if (want_y.size() == 1 && out > 1) want_y.assign(out, want_y[0]);
        std::vector<double> want_dx(cols, 0.0);
        for (size_t v = 0; v < p.row.dx.size(); ++v) {
          ir::View view = p.row.dx[v].first;
          const auto& g = ref[1 + v];
          size_t len = cols / view.divisor();
          for (size_t j = 0; j < len; ++j)
            want_dx[view.index * (cols / view.parts) + j * view.group + view.offset] += double(g[g.size() == 1 ? 0 : j]);
        }
        for (size_t j = 0; j < params.size(); ++j) dparams_ref[j] += ref[1 + p.row.dx.size() + j][0];
        std::string why;
        INFO(src << ", row " << r << " of " << cols);
        std::vector<double> yr(y.begin() + long(r * out), y.begin() + long((r + 1) * out));
        std::vector<double> dxr(dx.begin() + long(r * cols), dx.begin() + long((r + 1) * cols));
        bool ok = close_rows(yr, want_y, 1e-12, why) && close_rows(dxr, want_dx, 1e-11, why);
        INFO("f64: " << why);
        CHECK(ok);
        std::vector<float> yfr(yf.begin() + long(r * out), yf.begin() + long((r + 1) * out));
        std::vector<float> dxfr(dxf.begin() + long(r * cols), dxf.begin() + long((r + 1) * cols));
        ok = close_rows(yfr, want_y, 2e-5, why) && close_rows(dxfr, want_dx, 5e-5, why);
        INFO("f32: " << why);
        CHECK(ok);
      }
      for (size_t j = 0; j < params.size(); ++j)
        CHECK(std::fabs(dparams[j] - double(dparams_ref[j])) <= 1e-10 * (1 + std::fabs(double(dparams_ref[j]))));
    }
  }
}

TEST_CASE("Row lengths: output_cols and the rules of glu and maxout") {
  const Runtime& rt = test::shared_runtime();
  Kernel glu = rt.compile("glu"), maxout3 = rt.compile("maxout(x, 3)"), sm = rt.compile("softmax");
  Kernel lse = rt.compile("log(sum(exp(x)))"), relu = rt.compile("relu");
  CHECK(glu.output_cols(6) == 3);
  CHECK(glu.output_cols(5) == 0);
  CHECK(glu.row_multiple() == 2);
  CHECK(maxout3.output_cols(9) == 3);
  CHECK(maxout3.output_cols(8) == 0);
  CHECK(sm.output_cols(7) == 7);
  CHECK(lse.output_cols(7) == 1);
  CHECK(!relu.rowwise());
  CHECK(relu.output_cols(7) == 7);
  // maxout's k is a size, not a learnable parameter.
  CHECK(rt.compile("maxout").params().empty());
  CHECK(rt.compile("f(x, k = 4, a = 2) = a * max(groups(x, k))").params().size() == 1);
  std::vector<float> x(5, 1.0f), y(2);
  CHECK_THROWS_AS(glu.forward_rows(std::span<const float>(x), std::span<float>(y), 5), std::invalid_argument);
  CHECK(glu.forward_rows_raw(x.data(), y.data(), 1, 5, nullptr) != 0);
  std::vector<float> x6(6, 1.0f), y3(3);
  CHECK_NOTHROW(glu.forward_rows(std::span<const float>(x6), std::span<float>(y3), 6));
  std::vector<float> y4(4);
  CHECK_THROWS_AS(glu.forward_rows(std::span<const float>(x6), std::span<float>(y4), 6), std::invalid_argument);
  // Rows of length 1.
  std::vector<double> one{3.5}, out(1), dx(1), dy{2.0};
  Kernel sm64 = rt.compile("softmax", DType::F64);
  sm64.forward(std::span<const double>(one), std::span<double>(out));
  CHECK(out[0] == 1.0);
  sm64.backward(std::span<const double>(one), std::span<const double>(dy), std::span<double>(dx));
  CHECK(dx[0] == 0.0);
  // Elementwise kernels through the row entry points.
  std::vector<float> xr{-1, 2, -3, 4, -5, 6}, yr(6);
  relu.forward_rows(std::span<const float>(xr), std::span<float>(yr), 3);
  CHECK(yr == std::vector<float>{0, 2, 0, 4, 0, 6});
}

namespace {
/// maxout through the row kernels against a loop over each group: the
/// value is the group's max (NaN if any is NaN), dx puts dy on the first
/// maximum or the first NaN and 0 elsewhere.
template <class T>
void check_maxout(size_t k, DType dt) {
  const Runtime& rt = test::shared_runtime();
  Kernel m = rt.compile("maxout(x, " + std::to_string(k) + ")", dt);
  const size_t groups = 37, cols = groups * k;  // 37 outputs: two full vectors of floats and a tail
  REQUIRE(m.output_cols(cols) == groups);
  std::vector<T> x(cols), dy(groups), y(groups), dx(cols);
  for (size_t i = 0; i < cols; ++i) x[i] = T(int((i * 2654435761u) % 13) - 6);  // ties in every group
  for (size_t g = 0; g < groups; ++g) dy[g] = T(g + 1);
  x[3 * k + k / 2] = std::numeric_limits<T>::quiet_NaN();  // one NaN, then two later in a group
  x[5 * k + k - 1] = std::numeric_limits<T>::quiet_NaN();
  x[5 * k + k / 3] = std::numeric_limits<T>::quiet_NaN();
  x[7 * k] = std::numeric_limits<T>::infinity();
  m.forward_rows(std::span<const T>(x), std::span<T>(y), cols);
  m.backward_rows(std::span<const T>(x), std::span<const T>(dy), std::span<T>(dx), cols);
  for (size_t g = 0; g < groups; ++g) {
    size_t at = g * k;
    for (size_t j = g * k + 1; j < (g + 1) * k; ++j)
      if (!std::isnan(x[at]) && (x[j] > x[at] || std::isnan(x[j]))) at = j;
    INFO("k = " << k << ", group " << g);
    if (std::isnan(x[at]))
      CHECK(std::isnan(y[g]));
    else
      CHECK(y[g] == x[at]);
    for (size_t j = g * k; j < (g + 1) * k; ++j) {
      INFO("element " << j - g * k << " of the group, the first max at " << at - g * k);
      CHECK(dx[j] == (j == at ? dy[g] : T(0)));
    }
  }
}
}  // namespace

TEST_CASE("maxout with large and odd groups: the first maximum or NaN - its value and gradient") {
  // Groups of up to 256 (the largest allowed). Their max is a tree of
  // neighbouring pairs; as a chain over the group, each member's derivative
  // was a where() chain to the end of the group (k^2/2 selects: k = 128
  // compiled for ~20 s, 256 was over the kernel size limit).
  // Groups up to 32 are read as consecutive vectors and shuffled, and
  // written so where the size is a power of two (dx of every position);
  // larger ones gathered and scattered.
  for (size_t k : {1, 2, 3, 4, 5, 7, 8, 16, 32, 33, 100, 256}) {
    check_maxout<float>(k, DType::F32);
    check_maxout<double>(k, DType::F64);
  }
}

TEST_CASE("dx may be the same array as dy") {
  const Runtime& rt = test::shared_runtime();
  for (const char* src : {"softmax", "x * sum(chunk(x, 4, 1))", "log_softmax(x) + mean(x)"}) {
    Kernel k = rt.compile(src, DType::F64);
    const size_t rows = 3, cols = 16;
    REQUIRE(k.output_cols(cols) == cols);
    std::vector<double> x(rows * cols), dy(rows * cols);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = std::sin(double(i));
      dy[i] = std::cos(3.0 * double(i));
    }
    std::vector<double> dx(x.size());
    k.backward_rows(std::span<const double>(x), std::span<const double>(dy), std::span<double>(dx), cols);
    std::vector<double> inplace = dy;
    REQUIRE(k.backward_rows_raw(x.data(), inplace.data(), inplace.data(), rows, cols, nullptr, nullptr) == 0);
    INFO(src);
    CHECK(inplace == dx);
  }
}

namespace {
/// The vector-Jacobian product from y = f(x), against long double from x:
/// softmax/softmin p (dy - sum(p dy)), log_softmax dy - p sum(dy), with
/// p = exp(+-x - max) / S.
template <class T>
void check_from_output(const char* src, DType dt, double tol) {
  const Runtime& rt = test::shared_runtime();
  Kernel k = rt.compile(src, dt);
  REQUIRE(k.backward_from_output());
  const bool negate = std::string(src) == "softmin", log = std::string(src) == "log_softmax";
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  for (size_t cols : {1, 2, 7, 16, 33, 128, 1000}) {
    const size_t rows = 5;
    std::vector<T> x(rows * cols), dy(x.size()), y(x.size()), dx(x.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = T(20 * u(rng)), dy[i] = T(u(rng));
    k.forward_rows(std::span<const T>(x), std::span<T>(y), cols);
    k.backward_rows_from_output(std::span<const T>(y), std::span<const T>(dy), std::span<T>(dx), cols);
    for (size_t r = 0; r < rows; ++r) {
      const T* xr = &x[r * cols];
      const T* dyr = &dy[r * cols];
      long double m = -INFINITY, s = 0, pdy = 0, sdy = 0;
      for (size_t j = 0; j < cols; ++j) m = std::max(m, (long double)(negate ? -xr[j] : xr[j]));
      for (size_t j = 0; j < cols; ++j) s += std::exp((negate ? -xr[j] : xr[j]) - m);
      auto p = [&](size_t j) { return std::exp((negate ? -xr[j] : xr[j]) - m) / s; };
      for (size_t j = 0; j < cols; ++j) pdy += p(j) * dyr[j], sdy += dyr[j];
      for (size_t j = 0; j < cols; ++j) {
        long double want = log ? dyr[j] - p(j) * sdy : p(j) * (dyr[j] - pdy);
        if (negate) want = -want;
        INFO(src << " cols " << cols << " row " << r << " j " << j);
        CHECK(std::fabs(dx[r * cols + j] - want) <= tol * (1 + std::fabs(sdy)));
      }
    }
    // dx over dy, and over y: the same values.
    std::vector<T> over_dy = dy, over_y = y;
    REQUIRE(k.backward_rows_from_output_raw(y.data(), over_dy.data(), over_dy.data(), rows, cols) == 0);
    REQUIRE(k.backward_rows_from_output_raw(over_y.data(), dy.data(), over_y.data(), rows, cols) == 0);
    CHECK(over_dy == dx);
    CHECK(over_y == dx);
  }
}
}  // namespace

namespace {
/// softmax's backward from y into dx at every element offset of a cache
/// line: the same values as into an aligned dx, in place over dy too, and
/// nothing written outside dx.
template <class T>
void check_from_output_offsets(DType dt) {
  const Runtime& rt = test::shared_runtime();
  Kernel k = rt.compile("softmax", dt);
  const size_t line = 64 / sizeof(T);
  for (size_t cols : {line * 32 - 1, line * 32, line * 32 + 5, size_t(1000), size_t(40)}) {
    const size_t rows = 4, n = rows * cols;
    std::vector<T> x(n), y(n), dy(n), want(n);
    for (size_t i = 0; i < n; ++i) x[i] = T(std::sin(double(i) * 0.7) * 5), dy[i] = T(std::cos(double(i) * 0.3));
    k.forward_rows(std::span<const T>(x), std::span<T>(y), cols);
    const size_t bytes = ((n + 2 * line) * sizeof(T) + 63) / 64 * 64;  // a multiple of the alignment
    T* aligned = static_cast<T*>(std::aligned_alloc(64, bytes));
    REQUIRE(aligned);
    REQUIRE(k.backward_rows_from_output_raw(y.data(), dy.data(), aligned, rows, cols) == 0);
    want.assign(aligned, aligned + n);
    for (size_t off = 0; off < line; ++off) {
      INFO("cols " << cols << ", dx " << off << " elements past a cache line");
      std::fill(aligned, aligned + n + 2 * line, T(-123));
      REQUIRE(k.backward_rows_from_output_raw(y.data(), dy.data(), aligned + off, rows, cols) == 0);
      CHECK(std::equal(want.begin(), want.end(), aligned + off));
      bool untouched = true;
      for (size_t i = 0; i < n + 2 * line; ++i)
        if ((i < off || i >= off + n) && aligned[i] != T(-123)) untouched = false;
      CHECK(untouched);
      std::copy(dy.begin(), dy.end(), aligned + off);  // in place over dy
      REQUIRE(k.backward_rows_from_output_raw(y.data(), aligned + off, aligned + off, rows, cols) == 0);
      CHECK(std::equal(want.begin(), want.end(), aligned + off));
    }
    std::free(aligned);
  }
}
}  // namespace

TEST_CASE("a light row loop stores from the row's first aligned address - the same values at any offset", "[aligned-rows]") {
  // Row loops that only load and store (softmax's backward from y) store
  // each row of 2 KiB or more from its first 64-byte boundary on, a
  // masked vector before it: the values do not depend on where dx starts.
  check_from_output_offsets<float>(DType::F32);
  check_from_output_offsets<double>(DType::F64);
}

TEST_CASE("the backward from the output y - softmax, softmin, log_softmax") {
  // Training keeps y from the forward pass; the product written with y
  // needs no exp (softmax: y (dy - sum(y dy)); log_softmax: dy - exp(y) sum(dy)).
  for (const char* src : {"softmax", "softmin", "log_softmax"}) {
    check_from_output<float>(src, DType::F32, 2e-6);
    check_from_output<double>(src, DType::F64, 1e-14);
  }
  const Runtime& rt = test::shared_runtime();
  // A NaN in y: NaN across its row, as from x.
  Kernel sm = rt.compile("softmax", DType::F32);
  std::vector<float> y{0.25f, NAN, 0.5f, 0.25f}, dy{1, 2, 3, 4}, dx(4);
  sm.backward_rows_from_output(std::span<const float>(y), std::span<const float>(dy), std::span<float>(dx), 4);
  for (float v : dx) CHECK(std::isnan(v));
  // Functions whose product needs x (or that have parameters, or another
  // output length) have none: the call is refused.
  for (const char* src : {"glu", "maxout(x, 2)", "x * sum(x)", "softmax(x * 2) * x"}) {
    Kernel k = rt.compile(src, DType::F32);
    INFO(src);
    CHECK_FALSE(k.backward_from_output());
    std::vector<float> a(4, 1.0f), b(4), c(4);
    CHECK_THROWS_AS(k.backward_rows_from_output(std::span<const float>(a), std::span<const float>(b), std::span<float>(c), 4),
                    std::invalid_argument);
    CHECK(k.backward_rows_from_output_raw(a.data(), b.data(), c.data(), 1, 4) != 0);
  }
  CHECK_FALSE(rt.compile("relu", DType::F32).backward_from_output());
  // Sizes are checked.
  std::vector<float> three(3), four(4);
  CHECK_THROWS_AS(sm.backward_rows_from_output(std::span<const float>(four), std::span<const float>(three),
                                               std::span<float>(four), 4),
                  std::invalid_argument);
}

TEST_CASE("long rows take kernels two registers wide - compiled on the first such call and as accurate") {
  // softmax and softmin (their forward keeps exp in the output row): rows
  // of 256 values or more run two registers per iteration; log_softmax
  // from rows of 4096.
  Runtime rt;
  rt.set_cache_dir("");
  for (const char* src : {"softmax", "softmin", "log_softmax"}) {
    Kernel k = rt.compile(src, DType::F32);
    const bool negate = std::string(src) == "softmin", log = std::string(src) == "log_softmax";
    const size_t long_row = log ? 4096 : 256;
    uint64_t before = rt.cache_stats().llvm_compiles;
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(-1, 1);
    for (size_t cols : {100, 255, 256, 257, 1000, 4095, 4096, 4099}) {
      const size_t rows = 3;
      std::vector<float> x(rows * cols), dy(x.size()), y(x.size()), dx(x.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = float(30 * u(rng)), dy[i] = float(u(rng));
      k.forward_rows(std::span<const float>(x), std::span<float>(y), cols);
      k.backward_rows(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), cols);
      // Only the first call with a long row compiles (the wide kernels).
      CHECK(rt.cache_stats().llvm_compiles - before == (cols < long_row ? 0u : 1u));
      for (size_t r = 0; r < rows; ++r) {
        const float* xr = &x[r * cols];
        long double m = -INFINITY, s = 0, pdy = 0, sdy = 0;
        auto v = [&](size_t j) { return (long double)(negate ? -xr[j] : xr[j]); };
        for (size_t j = 0; j < cols; ++j) m = std::max(m, v(j));
        for (size_t j = 0; j < cols; ++j) s += std::exp(v(j) - m);
        for (size_t j = 0; j < cols; ++j) pdy += std::exp(v(j) - m) / s * dy[r * cols + j], sdy += dy[r * cols + j];
        for (size_t j = 0; j < cols; ++j) {
          long double p = std::exp(v(j) - m) / s;
          long double want_y = log ? v(j) - m - std::log(s) : p;
          long double want_dx = log ? dy[r * cols + j] - p * sdy : p * (dy[r * cols + j] - pdy) * (negate ? -1 : 1);
          INFO(src << " cols " << cols << " j " << j);
          if (std::fabs(want_y) >= FLT_MIN) CHECK(test::ulp_error(y[r * cols + j], want_y) <= 4);
          CHECK(std::fabs(dx[r * cols + j] - want_dx) <= 2e-7 * (1 + std::fabs(sdy)));
        }
      }
      // In place (y over x, dx over dy): the same values.
      std::vector<float> yy = x, dd = dy;
      REQUIRE(k.forward_rows_raw(yy.data(), yy.data(), rows, cols, nullptr) == 0);
      REQUIRE(k.backward_rows_raw(x.data(), dd.data(), dd.data(), rows, cols, nullptr, nullptr) == 0);
      CHECK(yy == y);
      CHECK(dd == dx);
    }
  }
}

TEST_CASE("softmax's last pass stores exp(x - max) for the output loop - one exp per element") {
  // The planner: softmax's and softmin's exp, forward and backward; nothing
  // where the output loop would still read x or no exp is summed last.
  // (A max without stop_gradient has a derivative: that backward's output
  // loop compares x with the max, so it stores nothing.)
  for (auto [src, backward_too] : {std::pair{"softmax", true}, {"softmin", true},
                                   {"exp(x - max(x)) / sum(exp(x - max(x))) * 2 + 1", false}}) {
    Program p = test::program(src);
    INFO(src);
    for (bool backward : {false, true}) {
      ir::NodeId s = lower::row_stored_operand(p, backward);
      if (backward && !backward_too) {
        CHECK(s == ir::kNoNode);
        continue;
      }
      REQUIRE(s != ir::kNoNode);
      CHECK(p.graph[s].op == ir::Op::Exp);
    }
  }
  for (const char* src : {"log_softmax", "x * softmax(x)", "glu", "exp(x) / sum(exp(x)) + x", "x - max(x)",
                          "exp(chunk(x, 2, 0)) / sum(exp(chunk(x, 2, 1)))"}) {
    Program p = test::program(src);
    INFO(src);
    CHECK(lower::row_stored_operand(p, false) == ir::kNoNode);
  }
  // y over x and dx over x give what separate arrays give (each pass reads
  // x[i] before the stored exp overwrites it), tails included.
  const Runtime& rt = test::shared_runtime();
  for (DType dt : {DType::F32, DType::F64}) {
    Kernel k = rt.compile("softmax", dt);
    for (size_t cols : {1, 5, 16, 37, 100}) {
      const size_t rows = 3;
      std::vector<double> x(rows * cols), dy(rows * cols);
      for (size_t i = 0; i < x.size(); ++i) {
        x[i] = 4 * std::sin(double(i));
        dy[i] = std::cos(3.0 * double(i));
      }
      std::vector<double> y(x.size()), dx(x.size());
      auto as = [&](std::vector<double>& v) {
        if (dt == DType::F64) return std::vector<char>(reinterpret_cast<char*>(v.data()), reinterpret_cast<char*>(v.data() + v.size()));
        std::vector<float> f(v.begin(), v.end());
        return std::vector<char>(reinterpret_cast<char*>(f.data()), reinterpret_cast<char*>(f.data() + f.size()));
      };
      std::vector<char> bx = as(x), bdy = as(dy), by = as(y), bdx = as(dx);
      REQUIRE(k.forward_rows_raw(bx.data(), by.data(), rows, cols, nullptr) == 0);
      REQUIRE(k.backward_rows_raw(bx.data(), bdy.data(), bdx.data(), rows, cols, nullptr, nullptr) == 0);
      std::vector<char> inplace = bx;
      REQUIRE(k.forward_rows_raw(inplace.data(), inplace.data(), rows, cols, nullptr) == 0);
      INFO(cols);
      CHECK(inplace == by);
      inplace = bx;
      REQUIRE(k.backward_rows_raw(inplace.data(), bdy.data(), inplace.data(), rows, cols, nullptr, nullptr) == 0);
      CHECK(inplace == bdx);
    }
  }
}

TEST_CASE("Row max and min: NaN wherever a NaN is in the row - the loop and the final tree") {
  // The loop's accumulator takes max(x, acc) (NaN test on x) and the last
  // step a NaN test of the accumulator beside a tree of plain max: a NaN
  // in any lane, in the full vectors or in the tail, gives NaN.
  const Runtime& rt = test::shared_runtime();
  for (DType dt : {DType::F32, DType::F64}) {
    Kernel kmax = rt.compile("max(x)", dt), kmin = rt.compile("min(x)", dt), ks = rt.compile("x - max(x)", dt);
    for (size_t cols : {1, 3, 16, 17, 40}) {
      for (size_t at = 0; at < cols; ++at) {
        std::vector<double> x(cols);
        for (size_t i = 0; i < cols; ++i) x[i] = double(i % 7) - 3;
        x[at] = std::numeric_limits<double>::quiet_NaN();
        std::vector<double> ymax(1), ymin(1), ys(cols);
        if (dt == DType::F64) {
          kmax.forward_rows(std::span<const double>(x), std::span<double>(ymax), cols);
          kmin.forward_rows(std::span<const double>(x), std::span<double>(ymin), cols);
          ks.forward_rows(std::span<const double>(x), std::span<double>(ys), cols);
        } else {
          std::vector<float> xf(x.begin(), x.end()), a(1), c(1), d(cols);
          kmax.forward_rows(std::span<const float>(xf), std::span<float>(a), cols);
          kmin.forward_rows(std::span<const float>(xf), std::span<float>(c), cols);
          ks.forward_rows(std::span<const float>(xf), std::span<float>(d), cols);
          ymax.assign(a.begin(), a.end()), ymin.assign(c.begin(), c.end()), ys.assign(d.begin(), d.end());
        }
        INFO(cols << " columns, NaN at " << at);
        CHECK(std::isnan(ymax[0]));
        CHECK(std::isnan(ymin[0]));
        for (double v : ys) CHECK(std::isnan(v));
      }
      // Without NaN: the extremes, infinities included.
      std::vector<double> x(cols);
      for (size_t i = 0; i < cols; ++i) x[i] = double(i % 5) - 2;
      x[cols / 2] = -INFINITY;
      std::vector<double> ymax(1), ymin(1);
      if (dt == DType::F64) {
        kmax.forward_rows(std::span<const double>(x), std::span<double>(ymax), cols);
        kmin.forward_rows(std::span<const double>(x), std::span<double>(ymin), cols);
      } else {
        std::vector<float> xf(x.begin(), x.end()), a(1), c(1);
        kmax.forward_rows(std::span<const float>(xf), std::span<float>(a), cols);
        kmin.forward_rows(std::span<const float>(xf), std::span<float>(c), cols);
        ymax[0] = a[0], ymin[0] = c[0];
      }
      INFO(cols << " columns");
      CHECK(ymax[0] == (cols == 1 ? -INFINITY : *std::max_element(x.begin(), x.end())));
      CHECK(ymin[0] == -INFINITY);
    }
  }
}

TEST_CASE("glu's a * sigmoid(b) applies exp's exponent last - accurate where sigmoid(b) is subnormal") {
  // Float rows: sigmoid(b) below FLT_MIN kept only its leading bits, which
  // a product with a large a carried into a result that need not be small
  // (99 ULP on rows spread over [-200, 200]). Row-wise kernels have no
  // float64 recomputation of such lanes; the exponent now goes last.
  const Runtime& rt = test::shared_runtime();
  Kernel k = rt.compile("glu", DType::F32);
  std::vector<float> as{1.0f, 37.5f, 1e30f, 3e38f}, bs;
  for (float b = -104.5f; b <= -80.0f; b += 1.0f / 32) bs.push_back(b);
  const size_t cols = 2 * bs.size();
  double worst = 0;
  for (float a : as) {
    std::vector<float> x(cols), y(bs.size());
    for (size_t i = 0; i < bs.size(); ++i) x[i] = a, x[bs.size() + i] = bs[i];
    k.forward_rows(std::span<const float>(x), std::span<float>(y), cols);
    for (size_t i = 0; i < bs.size(); ++i) {
      long double want = (long double)a / (1 + std::exp(-(long double)bs[i]));
      worst = std::max(worst, test::ulp_error(y[i], want));
    }
  }
  CHECK(worst <= 4);
  // The scaled product is taken only in registers where some b is below
  // kScaledProductBar (-80); others take the plain product, exact there:
  // b in [-80, 40] alone, and rows where each register mixes both kinds.
  CHECK(rt.llvm_ir("glu", DType::F32).find("\nplain:") != std::string::npos);
  for (bool mixed : {false, true}) {
    std::vector<float> bs2;
    for (float b = -80.0f; b <= 40.0f; b += 1.0f / 64) bs2.push_back(mixed && bs2.size() % 5 == 0 ? -95.0f - b / 8 : b);
    const size_t cols2 = 2 * bs2.size();
    double worst2 = 0;
    for (float a : as) {
      std::vector<float> x(cols2), y(bs2.size());
      for (size_t i = 0; i < bs2.size(); ++i) x[i] = i % 2 ? -a : a, x[bs2.size() + i] = bs2[i];
      k.forward_rows(std::span<const float>(x), std::span<float>(y), cols2);
      for (size_t i = 0; i < bs2.size(); ++i) {
        long double want = (long double)x[i] / (1 + std::exp(-(long double)bs2[i]));
        worst2 = std::max(worst2, test::ulp_error(y[i], want));
      }
    }
    INFO((mixed ? "mixed registers" : "b >= -80"));
    CHECK(worst2 <= 4);
  }
  // Infinite and NaN operands keep the formula's values.
  std::vector<float> x{INFINITY, INFINITY, 2.0f, NAN, -INFINITY, -1e30f, -1e30f, 5.0f}, y(4);
  k.forward_rows(std::span<const float>(x), std::span<float>(y), 8);
  CHECK(std::isnan(y[0]));  // inf * sigmoid(-inf) = inf * 0
  CHECK(std::isnan(y[1]));  // inf * 0: sigmoid(-1e30) is 0
  CHECK(y[2] == 0);
  CHECK(std::isnan(y[3]));
}

TEST_CASE("Row-wise errors point at the expression") {
  CHECK(test::error_of("chunk(x, 2, 0) + x") ==
        "error: 1:1: this combines rows of different lengths (n/2 and n); chunk() and groups() change the length "
        "of a row\nchunk(x, 2, 0) + x\n^\n");
  CHECK(test::error_of("groups(x, 2)").find("1:1: groups(e, k) is only allowed as the argument of sum") !=
        std::string::npos);
  CHECK(test::error_of("chunk(x, x, 0)").find("1:10: the number of chunks must be a constant integer") !=
        std::string::npos);
  CHECK(test::error_of("chunk(x, 2, 2)").find("1:13: the chunk index must be an integer from 0 to 1, got 2") !=
        std::string::npos);
  CHECK(test::error_of("max(groups(x, 0))").find("the group size must be an integer from 1 to 256") !=
        std::string::npos);
  CHECK(test::error_of("max(groups(x, 2.5))").find("got 2.5") != std::string::npos);
  CHECK(test::error_of("sum(x, 2)").find("'sum' takes 1 argument (sum(e)), got 2") != std::string::npos);
  CHECK(test::error_of("softmax(x) * relu(chunk(x, 2, 1))").find("rows of different lengths (n and n/2)") !=
        std::string::npos);
  CHECK(test::error_of("sum(x) = x").find("'sum' is a built-in math function and cannot be redefined") !=
        std::string::npos);
  // Reductions of row scalars are fine: sum(1) is the row length.
  Program p = test::program("x / sum(1)");
  auto v = ir::evaluate_row<double>(p.graph, std::vector<ir::NodeId>{p.value}, std::vector<double>{2, 4, 6, 8},
                                    std::vector<double>{});
  CHECK(v[0] == std::vector<double>{0.5, 1, 1.5, 2});
}

TEST_CASE("Softmax's backward is y * (dy - sum(dy * y)) in three passes and log_softmax never takes log(softmax)") {
  Program sm = test::program("softmax");
  REQUIRE(sm.row.dx.size() == 1);
  std::string text = sm.print(sm.row.dx[0].second);
  // No argmax term: the max is a stopped shift.
  CHECK(text.find("==") == std::string::npos);
  // One reduction of dy, taken out of the per-element division.
  CHECK(text.find("sum(exp(x - stop_gradient(max(x))) * dy)") != std::string::npos);
  Program ls = test::program("log_softmax");
  CHECK(ls.print(ls.value) == "x - stop_gradient(max(x)) - log(sum(exp(x - stop_gradient(max(x)))))");
}

TEST_CASE("softmax's exp(x - max) takes the subtraction's rounding error - float within 4 ULP on wide rows") {
  // x - max rounds where x is far below the max, and exp's relative error
  // is that absolute error: 64 ULP of the small outputs of rows spread over
  // [-200, 200] before; x - max's error (TwoSum; the max is one of the
  // row's values, exact) now joins exp's reduction.
  Runtime rt;
  std::mt19937 rng(7);
  for (const char* name : {"softmax", "softmin"}) {
    Kernel k = rt.compile(name, DType::F32);
    for (double spread : {3.0, 30.0, 200.0}) {
      for (size_t cols : {16, 1000}) {
        size_t rows = 20000 / cols;
        std::uniform_real_distribution<double> u(-spread, spread);
        std::vector<float> x(rows * cols), y(x.size());
        for (float& v : x) v = float(u(rng));
        k.forward_rows(std::span<const float>(x), std::span<float>(y), cols);
        double worst = 0;
        const double sign = std::string(name) == "softmin" ? -1 : 1;
        for (size_t r = 0; r < rows; ++r) {
          const float* xr = &x[r * cols];
          long double m = -INFINITY, s = 0;
          for (size_t i = 0; i < cols; ++i) m = std::max(m, (long double)(sign * xr[i]));
          for (size_t i = 0; i < cols; ++i) s += std::exp((long double)(sign * xr[i]) - m);
          for (size_t i = 0; i < cols; ++i) {
            long double want = std::exp((long double)(sign * xr[i]) - m) / s;
            int e;
            std::frexp(double(std::max(want, 0x1p-126L)), &e);
            worst = std::max(worst, double(std::fabs(y[r * cols + i] - want) / std::ldexp(1.0L, e - 24)));
          }
        }
        INFO(name << " spread " << spread << " cols " << cols);
        CHECK(worst <= 4);
      }
    }
  }
}

TEST_CASE("softmax's exp from x's own exact reduction - rows far from 0 and special values") {
  // On AVX-512 the float kernels take exp(x - max) as exp(x - c) for a c
  // within ln2/2 of the max (the ratios do not change): x is reduced
  // itself, exactly, where |max| < 2^16, and x - max is exact (Sterbenz)
  // past it. These rows sit on both sides of 2^16, far out (where float's
  // spacing is 64 and more, exp(-64) = 1.6e-28 is an output), and mix in
  // -inf, NaN, +inf and float's extremes. Forward within 4 ULP, the
  // backward from x within 8 ULP or 1e-7 of a long double reference.
  // log_softmax's sum of exp counts the maxima apart and divides the
  // others' sum by the shift's factor (in double): its forward too.
  Runtime rt;
  std::mt19937 rng(5);
  const std::vector<double> offsets{0.0, 1e3, 65000.0, -65000.0, 65536.0, 70000.0, -70000.0, 1e6, 3e7, -3e7, 1e9, 1e30, -1e30};
  {
    Kernel k = rt.compile("log_softmax", DType::F32);
    for (double offset : offsets) {
      for (size_t cols : {3, 16, 1000}) {
        const size_t rows = 8000 / cols;
        std::uniform_real_distribution<double> u(-30, 30);
        std::vector<float> x(rows * cols), y(x.size());
        for (float& v : x) v = float(offset + u(rng) * std::max(1.0, std::fabs(offset) * 0x1p-24));
        k.forward_rows(std::span<const float>(x), std::span<float>(y), cols);
        double worst = 0;
        for (size_t r = 0; r < rows; ++r) {
          const float* xr = &x[r * cols];
          // The sum less 1 (the first maximum's term) summed apart: S - 1
          // may be far below long double's 2^-64.
          long double m = -INFINITY, s1 = -1;
          for (size_t i = 0; i < cols; ++i) m = std::max(m, (long double)xr[i]);
          for (size_t i = 0; i < cols; ++i) s1 += xr[i] == m ? 1 : 0;
          for (size_t i = 0; i < cols; ++i) s1 += xr[i] == m ? 0 : std::exp(xr[i] - m);
          for (size_t i = 0; i < cols; ++i)
            worst = std::max(worst, test::ulp_error(y[r * cols + i], xr[i] - m - std::log1p(s1)));
        }
        INFO("log_softmax offset " << offset << " cols " << cols);
        CHECK(worst <= 4);
      }
    }
  }
  for (const char* name : {"softmax", "softmin"}) {
    Kernel k = rt.compile(name, DType::F32);
    const long double sign = std::string(name) == "softmin" ? -1 : 1;
    for (double offset : offsets) {
      for (size_t cols : {3, 16, 1000}) {
        const size_t rows = 8000 / cols;
        std::uniform_real_distribution<double> u(-30, 30), ud(-1, 1);
        std::vector<float> x(rows * cols), dy(x.size()), y(x.size()), dx(x.size());
        for (float& v : x) v = float(offset + u(rng) * std::max(1.0, std::fabs(offset) * 0x1p-24));
        for (float& v : dy) v = float(ud(rng));
        k.forward_rows(std::span<const float>(x), std::span<float>(y), cols);
        k.backward_rows(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), cols);
        double worst = 0;
        size_t over = 0;
        for (size_t r = 0; r < rows; ++r) {
          const float* xr = &x[r * cols];
          long double m = -INFINITY, s = 0, sdy = 0;
          for (size_t i = 0; i < cols; ++i) m = std::max(m, sign * xr[i]);
          std::vector<long double> want(cols);
          for (size_t i = 0; i < cols; ++i) s += want[i] = std::exp(sign * xr[i] - m);
          for (size_t i = 0; i < cols; ++i) sdy += (want[i] /= s) * dy[r * cols + i];
          for (size_t i = 0; i < cols; ++i) {
            worst = std::max(worst, test::ulp_error(y[r * cols + i], want[i]));
            long double d = sign * want[i] * (dy[r * cols + i] - sdy);
            over += !(test::ulp_error(dx[r * cols + i], d) <= 8 || std::fabs(dx[r * cols + i] - d) <= 1e-7);
          }
        }
        INFO(name << " offset " << offset << " cols " << cols);
        CHECK(worst <= 4);
        CHECK(over == 0);
      }
    }
    // Special values: -inf gives 0 beside finite values; NaN, +inf and a
    // row of -inf give NaN throughout (inf - inf); float's extremes.
    const float inf = INFINITY, nan = NAN, big = FLT_MAX;
    struct Case {
      std::vector<float> x, y;  // y for softmax (softmin: of -x)
    };
    const float h = 0.26894142f, l = 0.73105858f;  // 1 / (1 + e), e / (1 + e)
    for (const Case& c : std::vector<Case>{{{-inf, 0, 1}, {0, h, l}},
                                           {{big, -big, 0}, {1, 0, 0}},
                                           {{1e30f, -1e30f, 0}, {1, 0, 0}},
                                           {{-3e38f, -3e38f, -2.9e38f}, {0, 0, 1}},
                                           {{nan, 0, 1}, {nan, nan, nan}},
                                           {{inf, 0, 1}, {nan, nan, nan}},
                                           {{-inf, -inf, -inf}, {nan, nan, nan}}}) {
      std::vector<float> x = c.x, y(3);
      if (sign < 0)
        for (float& v : x) v = -v;
      k.forward_rows(std::span<const float>(x), std::span<float>(y), 3);
      for (size_t i = 0; i < 3; ++i) {
        INFO(name << " x = " << c.x[0] << ", " << c.x[1] << ", " << c.x[2] << ": y[" << i << "] = " << y[i]);
        if (std::isnan(c.y[i])) CHECK(std::isnan(y[i]));
        else CHECK(std::fabs(y[i] - c.y[i]) <= 1e-7f);
      }
    }
  }
}

TEST_CASE("float64 softmax sums exp compensated - within 4 ULP on rows up to 32768") {
  // A plain double sum rounds once per element in each lane's chain: 4.3
  // ULP on rows of 200, 16.7 on rows of 32768 (spread 30) before. Rows
  // shorter than 256 add the lanes up plainly (up to 4.1 ULP on rows of 16,
  // as before: ACCURACY.md). The reference sums in long double with
  // Kahan's compensation.
  Runtime rt;
  std::mt19937 rng(11);
  for (const char* name : {"softmax", "softmin"}) {
    Kernel k = rt.compile(name, DType::F64);
    const double sign = std::string(name) == "softmin" ? -1 : 1;
    for (double spread : {1.0, 30.0}) {
      for (size_t cols : {200, 256, 1000, 4096, 32768}) {
        size_t rows = std::max<size_t>(400000 / cols, 8);
        std::uniform_real_distribution<double> u(-spread, spread);
        std::vector<double> x(rows * cols), y(x.size());
        for (double& v : x) v = u(rng);
        k.forward_rows(std::span<const double>(x), std::span<double>(y), cols);
        double worst = 0;
        for (size_t r = 0; r < rows; ++r) {
          const double* xr = &x[r * cols];
          long double m = -INFINITY, s = 0, c = 0;
          for (size_t i = 0; i < cols; ++i) m = std::max(m, (long double)(sign * xr[i]));
          for (size_t i = 0; i < cols; ++i) {
            long double t = std::exp((long double)(sign * xr[i]) - m) - c, n = s + t;
            c = (n - s) - t;
            s = n;
          }
          for (size_t i = 0; i < cols; ++i)
            worst = std::max(worst, test::ulp_error(y[r * cols + i], std::exp((long double)(sign * xr[i]) - m) / s));
        }
        INFO(name << " spread " << spread << " cols " << cols);
        CHECK(worst <= 4);
      }
    }
  }
}

TEST_CASE("softmax's vector-Jacobian product is y (dy - sum(e dy) / S) - no two products cancelling") {
  // The quotient rule's e/S dy - e (sum(e dy) / S^2) rounded its two O(y dy)
  // terms apart (diff::share_normalizer): on 16-column rows spread over
  // [-30, 30], 100 of 200,000 float32 values were over 8 ULP and 1e-7 from
  // the float64 kernel's; then 1 (softmax; softmin 0), where one term dominates and dy -
  // sum(e dy) / S cancels: the product e dy rounded to float before the
  // double sum, and both sums rounded to float before the quotient. Now
  // the product is taken in double (exact) and the quotient from the
  // double sums (one rounding): none.
  Runtime rt;
  for (const char* name : {"softmax", "softmin"}) {
    INFO(name);
    Kernel k32 = rt.compile(name, DType::F32), k64 = rt.compile(name, DType::F64);
    const size_t cols = 16, rows = 12500;
    std::mt19937 rng(1);
    std::uniform_real_distribution<double> u(-30, 30), ud(-1, 1);
    std::vector<float> x(rows * cols), dy(x.size()), dx(x.size());
    for (float& v : x) v = float(u(rng));
    for (float& v : dy) v = float(ud(rng));
    std::vector<double> xd(x.begin(), x.end()), dyd(dy.begin(), dy.end()), dxd(x.size());
    k32.backward_rows(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), cols);
    k64.backward_rows(std::span<const double>(xd), std::span<const double>(dyd), std::span<double>(dxd), cols);
    size_t over = 0;
    for (size_t i = 0; i < dx.size(); ++i) {
      double err = std::fabs(double(dx[i]) - dxd[i]);
      int e;
      std::frexp(std::max(std::fabs(dxd[i]), 0x1p-126), &e);
      over += err > 1e-7 && err > 8 * std::ldexp(1.0, e - 24);
    }
    CHECK(over == 0);
  }
}

TEST_CASE("log_softmax's largest output keeps its relative accuracy - the log of a sum near 1") {
  // -log(1 + the others' sum): the row sum is accumulated in double; its
  // float value rounds a sum near 1 to 1 (log_softmax([30, 0, ...]) gave 0
  // for -1.4e-12). The log of a sum takes the double's remainder: log(hi)
  // + lo / hi.
  Runtime rt;
  Kernel k = rt.compile("log_softmax", DType::F32);
  for (float top : {3.0f, 10.0f, 20.0f, 30.0f, 50.0f}) {
    INFO("top = " << top);
    std::vector<float> x(16, 0.0f), y(16);
    x[5] = top;
    k.forward_rows(std::span<const float>(x), std::span<float>(y), 16);
    long double others = 15 * std::exp(-(long double)top), want = -std::log1p(others);
    int e;
    std::frexp(double(want), &e);
    CHECK(std::fabs(y[5] - want) <= 4 * std::ldexp(1.0L, e - 24));
    CHECK(std::fabs(y[0] - (-(long double)top - std::log1p(others))) <= 4 * std::ldexp(1.0L, std::ilogb(double(top)) - 23));
  }
  // Double kernels count the maxima apart too (-log1p(15 e^-50) = -2.9e-21),
  // and a row with two maxima has -log(2 + ...).
  Kernel k64 = rt.compile("log_softmax", DType::F64);
  std::vector<double> xd(16, 0.0), yd(16);
  xd[3] = 50;
  k64.forward_rows(std::span<const double>(xd), std::span<double>(yd), 16);
  long double others = 15 * std::exp(-50.0L);
  CHECK(std::fabs(yd[3] + std::log1p(others)) <= 4 * 0x1p-52L * std::fabs(std::log1p(others)));
  std::vector<float> two{7.0f, 1.0f, 7.0f, -3.0f}, y2(4);
  k.forward_rows(std::span<const float>(two), std::span<float>(y2), 4);
  long double s2 = 2 + std::exp(-6.0L) + std::exp(-10.0L);
  CHECK(y2[0] == Approx(double(-std::log(s2))).epsilon(3e-7));
  CHECK(y2[2] == y2[0]);
  // Infinite and NaN inputs keep IEEE's answers (NaN through exp(inf - inf)).
  std::vector<float> special{INFINITY, 1.0f, 2.0f, 3.0f, NAN, 1.0f, 2.0f, 3.0f}, ys(8);
  k.forward_rows(std::span<const float>(special), std::span<float>(ys), 4);
  for (float v : ys) CHECK(std::isnan(v));
}

TEST_CASE("log_softmax's float backward divides by a plain sum - it counts no maxima") {
  // The forward counts the row's maxima apart from the others' sum for
  // log1p(S - 1); the backward, dy - (e / S) sum(dy), only divides by S,
  // which the double accumulator holds as well without the count (about
  // seven instructions a register less in its exp pass).
  Runtime rt;
  std::string text = rt.llvm_ir("log_softmax", DType::F32);
  size_t bwd = text.find("define void @actjit_backward");
  REQUIRE(bwd != std::string::npos);
  size_t bwd_end = text.find("\n}\n", bwd);
  std::string forward = text.substr(0, bwd), backward = text.substr(bwd, bwd_end - bwd);
  CHECK(forward.find("@llvm.ctpop") != std::string::npos);
  CHECK(backward.find("@llvm.ctpop") == std::string::npos);
  // Rows with tied maxima (where the count was) within 8 ULP or 1e-7 of
  // dy - softmax(x) sum(dy) in long double.
  Kernel k = rt.compile("log_softmax", DType::F32);
  for (std::vector<float> x : {std::vector<float>{7, 1, 7, -3, 7, 0.5f, 6.9f}, std::vector<float>(33, 2.5f),
                               std::vector<float>{-1e30f, 40, 40, -40, 39.99f, 0, 40}}) {
    const size_t n = x.size();
    std::vector<float> dy(n), dx(n);
    for (size_t i = 0; i < n; ++i) dy[i] = float(std::cos(1.7 * double(i)));
    REQUIRE(k.backward_rows_raw(x.data(), dy.data(), dx.data(), 1, n, nullptr, nullptr) == 0);
    long double mx = *std::max_element(x.begin(), x.end()), s = 0, sdy = 0;
    for (size_t i = 0; i < n; ++i) {
      s += std::exp((long double)x[i] - mx);
      sdy += dy[i];
    }
    for (size_t i = 0; i < n; ++i) {
      long double want = dy[i] - std::exp((long double)x[i] - mx) / s * sdy;
      INFO("n = " << n << ", i = " << i);
      CHECK(std::fabs(dx[i] - want) <= std::max(8 * std::ldexp(1.0L, std::ilogb(double(want)) - 23), 1e-7L));
    }
  }
}
