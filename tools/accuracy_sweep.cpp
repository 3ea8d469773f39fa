// The float32 accuracy of every elementwise built-in, forward and backward,
// over every float (all 2^32 bit patterns but NaNs, or every STRIDE-th),
// against the function's float64 kernel (see accuracy_sweep.hpp). Prints a
// markdown table for ACCURACY.md: the maximum error in ULP of the correctly
// rounded float64 value, where it occurs, and for the backward how many
// points exceed 8 ULP by more than 1e-7 absolute (the issue's "or 1e-7
// absolute near zero").
//
//   build/tools/actjit_accuracy [--stride N] [--only NAME,...] [--threads T]
//
// With --expr SRC (repeatable): the same sweep of those sources (a user's
// expression or definitions, as `actjit eval` takes them) instead of the
// catalogue.
//
//   build/tools/actjit_accuracy --expr "x*sigmoid(x)+0.1*tanh(x)" [--stride N] [--threads T]
//
// With --f64: the float64 kernels against LANGUAGE.md's definitions
// evaluated in MPFR (mpfr_sweep.hpp) over N sampled doubles (default 2^20).
//
//   build/tools/actjit_accuracy --f64 [--points N] [--only NAME,...] [--threads T]
//
// With --params: the gradients of the built-ins' parameters, float32
// against float64, one input at a time, at the defaults and at 1.7 and 0.3
// times them (every 257th float unless --stride says otherwise).
//
//   build/tools/actjit_accuracy --params [--stride N] [--only NAME,...] [--threads T]
//
// With --f64 --params: the float64 kernels that take the parameters at run
// time against MPFR, at those three scales, the parameters' gradients too.
//
//   build/tools/actjit_accuracy --f64 --params [--points N] [--only NAME,...] [--threads T]
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "tools/accuracy_sweep.hpp"
#include "tools/cli_args.hpp"
#ifdef ACTJIT_HAVE_MPFR
#include "tools/mpfr_sweep.hpp"
#endif

namespace {

/// The kernel's default parameter values times `scale`, and them as text
/// ("1.7, 34") for the tables.
std::pair<std::vector<double>, std::string> scaled_params(const actjit::Kernel& k, double scale) {
  std::vector<double> params = k.default_params();
  std::string shown;
  for (double& p : params) {
    p *= scale;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.6g", shown.empty() ? "" : ", ", p);
    shown += buf;
  }
  return {params, shown};
}

/// The float64 kernels against MPFR: the default kernels (forward and
/// backward) or, with `params`, the kernels that take the parameters at run
/// time, at sweep::kParamScales times the defaults, each parameter's
/// gradient too.
int sweep_f64(size_t points, const std::vector<std::string>& only, unsigned threads, bool params) {
#ifdef ACTJIT_HAVE_MPFR
  actjit::Runtime rt;
  std::vector<double> x = actjit::mpfr_sweep::inputs(points);
  if (params) {
    std::printf("| function | parameters | forward max ULP | at x | backward max ULP | at x | backward points over | "
                "gradient of | max ULP | at x | points over | inputs | skipped |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
  } else {
    std::printf("| function | f64 forward max ULP | at x | f64 backward max ULP | at x | backward points > 8 ULP and > 1e-15 abs | inputs | skipped |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  }
  for (const auto& spec : actjit::mpfr_sweep::specs()) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
    if (!params) {
      actjit::mpfr_sweep::Result r = actjit::mpfr_sweep::run(rt, spec, x, threads);
      std::printf("| %s | %.2f | %.17g | %.2f | %.17g | %llu | %llu | %llu |\n", spec.name, r.forward.ulp, r.forward.at,
                  r.backward.ulp, r.backward.at, (unsigned long long)r.backward.over,
                  (unsigned long long)r.forward.inputs, (unsigned long long)r.skipped);
      std::fflush(stdout);
      continue;
    }
    actjit::Kernel k = rt.compile(spec.name, actjit::DType::F64);
    if (k.params().empty()) continue;
    for (double scale : actjit::sweep::kParamScales) {
      auto [values, shown] = scaled_params(k, scale);
      actjit::mpfr_sweep::Result r = actjit::mpfr_sweep::run_params(rt, spec, x, values, threads);
      for (size_t j = 0; j < r.params.size(); ++j) {
        const actjit::sweep::Worst& g = r.params[j];
        std::printf("| %s | %s | %.3g | %.17g | %.3g | %.17g | %llu | %s | %.3g | %.17g | %llu | %llu | %llu |\n",
                    spec.name, shown.c_str(), r.forward.ulp, r.forward.at, r.backward.ulp, r.backward.at,
                    (unsigned long long)r.backward.over, k.params()[j].name.c_str(), g.ulp, g.at,
                    (unsigned long long)g.over, (unsigned long long)g.inputs, (unsigned long long)r.skipped);
      }
      std::fflush(stdout);
    }
  }
  return 0;
#else
  (void)points, (void)only, (void)threads, (void)params;
  std::fputs("error: --f64 needs MPFR (apt-get install libmpfr-dev, then rebuild)\n", stderr);
  return 2;
#endif
}

/// The row-wise built-ins in float32 against their float64 kernels, on
/// random rows (uniform in [-spread, spread], dy uniform in [-1, 1]) of
/// several lengths: max ULP forward and backward, and backward points over
/// 8 ULP and 1e-7 absolute; for functions with a backward from the output,
/// the same for it, given the float32 y.
int sweep_rowwise(const std::vector<std::string>& only) {
  actjit::Runtime rt;
  std::printf("| function | spread | cols | rows | f32 forward max ULP | f32 backward max ULP | backward points > 8 ULP and > 1e-7 abs | from y: max ULP | from y: points over |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& name : actjit::sweep::catalogue_names()) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    actjit::Kernel k32 = rt.compile(name, actjit::DType::F32);
    if (!k32.rowwise()) continue;
    actjit::Kernel k64 = rt.compile(name, actjit::DType::F64);
    std::mt19937 rng(1);
    for (double spread : {3.0, 30.0, 200.0}) {
      for (size_t want_cols : {16, 1000}) {
        size_t multiple = k32.row_multiple(), cols = (want_cols + multiple - 1) / multiple * multiple;
        size_t rows = 200000 / cols, out = k32.output_cols(cols);
        std::uniform_real_distribution<double> u(-spread, spread), ud(-1, 1);
        std::vector<float> x(rows * cols), y(rows * out), dy(rows * out), dx(rows * cols);
        for (float& v : x) v = float(u(rng));
        for (float& v : dy) v = float(ud(rng));
        std::vector<double> xd(x.begin(), x.end()), dyd(dy.begin(), dy.end()), yd(y.size()), dxd(dx.size());
        k32.forward_rows(std::span<const float>(x), std::span<float>(y), cols);
        k32.backward_rows(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), cols);
        k64.forward_rows(std::span<const double>(xd), std::span<double>(yd), cols);
        k64.backward_rows(std::span<const double>(xd), std::span<const double>(dyd), std::span<double>(dxd), cols);
        double fw = 0;
        for (size_t i = 0; i < y.size(); ++i) fw = std::max(fw, actjit::sweep::ulp_error(y[i], yd[i]));
        // The largest error of dx against dxd and the points over both thresholds.
        auto backward_error = [&](const std::vector<float>& got) {
          std::pair<double, unsigned long long> r{0, 0};
          for (size_t i = 0; i < got.size(); ++i) {
            double e = actjit::sweep::ulp_error(got[i], dxd[i]);
            r.first = std::max(r.first, e);
            r.second += e > 8 && !(std::fabs(double(got[i]) - dxd[i]) <= 1e-7);
          }
          return r;
        };
        auto [bw, over] = backward_error(dx);
        std::string from_y = "| — | —";
        if (k32.backward_from_output()) {
          std::vector<float> dxy(dx.size());
          k32.backward_rows_from_output(std::span<const float>(y), std::span<const float>(dy), std::span<float>(dxy), cols);
          auto [bwy, overy] = backward_error(dxy);
          char buf[64];
          std::snprintf(buf, sizeof buf, "| %.3g | %llu", bwy, overy);
          from_y = buf;
        }
        std::printf("| %s | %g | %zu | %zu | %.2f | %.3g | %llu %s |\n", name.c_str(), spread, cols, rows, fw, bw, over,
                    from_y.c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

/// Every elementwise built-in with parameters through the kernels that take
/// them at run time, at sweep::kParamScales times the defaults: forward,
/// backward and the parameters' gradients, float32 against float64.
int sweep_params(uint64_t stride, const std::vector<std::string>& only, unsigned threads) {
  actjit::Runtime rt;
  std::printf("| function | parameters | forward max ULP | at x | backward max ULP | at x | backward points over | "
              "gradient of | max ULP | at x | points over | inputs |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
  for (const std::string& name : actjit::sweep::catalogue_names()) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    actjit::Kernel k32 = rt.compile(name, actjit::DType::F32);
    if (k32.rowwise() || k32.params().empty()) continue;
    actjit::Kernel k64 = rt.compile(name, actjit::DType::F64);
    for (double scale : actjit::sweep::kParamScales) {
      auto [params, shown] = scaled_params(k32, scale);
      actjit::sweep::ParamResult r = actjit::sweep::run_params(k32, k64, params, stride, threads);
      for (size_t j = 0; j < r.params.size(); ++j) {
        const actjit::sweep::Worst& g = r.params[j];
        std::printf("| %s | %s | %.3g | %.9g | %.3g | %.9g | %llu | %s | %.3g | %.9g | %llu | %llu |\n", name.c_str(),
                    shown.c_str(), r.forward.ulp, r.forward.at, r.backward.ulp, r.backward.at,
                    (unsigned long long)r.backward.over, k32.params()[j].name.c_str(), g.ulp, g.at,
                    (unsigned long long)g.over, (unsigned long long)g.inputs);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t stride = 1;
  size_t points = size_t(1) << 20;
  bool f64 = false, rowwise = false, params = false;
  bool stride_given = false;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> only, exprs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] { return actjit::cli::option_value(argc, argv, i); };
    if (a == "--stride") {
      stride = std::max<uint64_t>(1, std::stoull(value()));
      stride_given = true;
    } else if (a == "--f64") {
      f64 = true;
    } else if (a == "--rowwise") {
      rowwise = true;
    } else if (a == "--params") {
      params = true;
    } else if (a == "--points") {
      points = std::max<size_t>(1, std::stoull(value()));
    } else if (a == "--only") {
      only = actjit::cli::split_list(value());
    } else if (a == "--expr") {
      exprs.push_back(value());
    } else if (a == "--threads") {
      threads = std::max(1u, unsigned(std::stoul(value())));
    } else if (a == "--help" || a == "-h") {
      std::puts("usage: actjit_accuracy [--stride N] [--only NAME,...] [--threads T]\n"
                "       actjit_accuracy --expr SRC [--expr SRC ...] [--stride N] [--threads T]\n"
                "       actjit_accuracy --f64 [--points N] [--only NAME,...] [--threads T]\n"
                "       actjit_accuracy --rowwise [--only NAME,...]\n"
                "       actjit_accuracy --params [--stride N] [--only NAME,...] [--threads T]\n"
                "       actjit_accuracy --f64 --params [--points N] [--only NAME,...] [--threads T]\n"
                "Max ULP error of every elementwise built-in in float32 (forward and backward, dy = 1)\n"
                "over every N-th float bit pattern (default: all), against its float64 kernel\n"
                "(with --expr, of each SRC instead: an expression or definitions, as eval takes them);\n"
                "with --f64, of the float64 kernels over N sampled doubles (default 2^20) against\n"
                "the definitions of LANGUAGE.md's catalogue evaluated in MPFR; with --rowwise, of the\n"
                "row-wise built-ins in float32 on random rows against their float64 kernels; with\n"
                "--params, of the parameters' gradients of the built-ins that have parameters, one\n"
                "input at a time over every N-th float bit pattern (default 257), at the defaults\n"
                "and at 1.7 and 0.3 times them; with --f64 --params, the same for the float64\n"
                "kernels against MPFR over N sampled doubles (default 2^20).");
      return 0;
    } else {
      std::fprintf(stderr, "error: unknown option '%s' (--help lists them)\n", a.c_str());
      return 2;
    }
  }
  if (!exprs.empty() && (f64 || rowwise || params || !only.empty())) {
    std::fprintf(stderr, "error: --expr sweeps float32 against float64 only (not with --f64, --rowwise, --params or --only)\n");
    return 2;
  }
  actjit::set_threads(1);  // the sweep splits the range itself
  if (f64) return sweep_f64(points, only, threads, params);
  if (rowwise) return sweep_rowwise(only);
  if (params) return sweep_params(stride_given ? stride : 257, only, threads);
  actjit::Runtime rt;
  // The sources' kernels first (--expr): an error in one is reported
  // before any table.
  const bool custom = !exprs.empty();
  std::vector<std::string> names;
  for (const std::string& name : custom ? exprs : actjit::sweep::catalogue_names())
    if (only.empty() || std::find(only.begin(), only.end(), name) != only.end()) names.push_back(name);
  if (custom)
    for (const std::string& name : exprs) {
      try {
        rt.compile(name, actjit::DType::F32);
      } catch (const actjit::Error& e) {
        std::fputs(e.rendered().c_str(), stderr);
        return 1;
      }
    }
  std::printf("| function | f32 forward max ULP | at x | f32 backward max ULP | at x | backward max ULP off by > 1e-7 abs | at x "
              "| backward points > 8 ULP and > 1e-7 abs | inputs |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& name : names) {
    actjit::Kernel k32 = rt.compile(name, actjit::DType::F32);
    if (k32.rowwise()) {
      if (custom) std::fprintf(stderr, "skipped '%s': row-wise (use --rowwise for the built-ins)\n", name.c_str());
      continue;
    }
    actjit::sweep::Result r = actjit::sweep::run(k32, rt.compile(name, actjit::DType::F64), stride, threads);
    std::printf("| %s | %.2f | %.9g | %.2f | %.9g | %.2f | %.9g | %llu | %llu |\n", name.c_str(), r.forward.ulp,
                double(r.forward.at), r.backward.ulp, double(r.backward.at), r.backward.counted,
                double(r.backward.counted_at), (unsigned long long)r.backward.over,
                (unsigned long long)r.forward.inputs);
    std::fflush(stdout);
  }
  return 0;
}
