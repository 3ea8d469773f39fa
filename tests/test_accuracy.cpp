// The float32 accuracy of the catalogue, sampled: every 4099th float bit
// pattern (about a million inputs per function, every binade), float32
// kernels against float64 kernels (tools/accuracy_sweep.hpp). ACCURACY.md
// has the full table (tools/accuracy_sweep.cpp over more inputs); this test
// keeps it from regressing. The targets of issue 3 are forward <= 4 ULP and
// backward <= 8 ULP or 1e-7 absolute; the functions below that miss them
// carry their measured value as the bound, with the reason.
#include <catch2/catch.hpp>

#include <map>

#include "support.hpp"
#include "tools/accuracy_sweep.hpp"
#ifdef ACTJIT_HAVE_MPFR
#include "tools/mpfr_sweep.hpp"
#endif

using namespace actjit;

namespace {

struct Bound {
  double forward_ulp = 4;        // the target
  uint64_t backward_over = 0;    // points over 8 ULP and over 1e-7 absolute
};

// Known gaps (ACCURACY.md, "float32 sweep"), bounds a little above what was
// measured. Every built-in meets both targets on AVX-512 hosts (ACCURACY.md's
// machine) and with AVX2 and FMA; with SSE's 128-bit vectors, gelu's erfc
// keeps the rational variable (7.9 ULP over all floats: its rounding near
// x = 0, a subnormal erfc at x = -13.1).
const std::map<std::string, Bound> kGaps = test::table_erfc_kernels()
                                               ? std::map<std::string, Bound>{}
                                               : std::map<std::string, Bound>{{"gelu", {8, 0}}};

/// fn(runtime, name, float32 kernel) for each elementwise built-in (with
/// `with_params`, those with parameters); how many. One thread per kernel
/// call (the sweeps split the range), no disk cache.
template <class Fn>
size_t each_elementwise(bool with_params, Fn fn) {
  set_threads(1);
  Runtime rt;
  rt.set_cache_dir("");
  size_t functions = 0;
  for (const std::string& name : sweep::catalogue_names()) {
    Kernel k32 = rt.compile(name, DType::F32);
    if (k32.rowwise() || (with_params && k32.params().empty())) continue;
    ++functions;
    fn(rt, name, k32);
  }
  return functions;
}

}  // namespace

TEST_CASE("float32 accuracy of the catalogue - sampled sweep against float64", "[accuracy]") {
  size_t functions = each_elementwise(false, [](Runtime& rt, const std::string& name, const Kernel& k32) {
    sweep::Result r = sweep::run(k32, rt.compile(name, DType::F64), 4099, 2);
    auto gap = kGaps.find(name);
    Bound bound = gap == kGaps.end() ? Bound{} : gap->second;
    INFO(name << ": forward " << r.forward.ulp << " ULP at x = " << r.forward.at << ", backward " << r.backward.ulp
              << " ULP at x = " << r.backward.at << " (" << r.backward.over << " points over 8 ULP and 1e-7)");
    CHECK(r.forward.inputs > 1'000'000);
    CHECK(r.forward.ulp <= bound.forward_ulp);
    CHECK(r.backward.over <= bound.backward_over);
  });
  CHECK(functions >= 25);
}

// The kernels a call with parameters other than the defaults runs (the
// parameters passed at run time), float32 against float64, one input at a
// time over every 65537th float bit pattern, at the defaults and at 1.7 and
// 0.3 times them: forward <= 4 ULP, and the backward and each parameter's
// gradient with no point over 8 ULP and 1e-7. (Before the twenty-first
// sitting softplus's beta gradient cancelled for beta x in (3, 20), and
// hardsigmoid's forward lost its offset's double value near x = -3: 409
// ULP; ACCURACY.md has the sweep over more inputs.)
TEST_CASE("float32 kernels with parameters at run time - sampled sweep against float64", "[accuracy]") {
  size_t functions = each_elementwise(true, [](Runtime& rt, const std::string& name, const Kernel& k32) {
    Kernel k64 = rt.compile(name, DType::F64);
    for (double scale : sweep::kParamScales) {
      std::vector<double> params = k32.default_params();
      for (double& p : params) p *= scale;
      sweep::ParamResult r = sweep::run_params(k32, k64, params, 65537, 2);
      INFO(name << " at " << scale << " x the defaults: forward " << r.forward.ulp << " ULP at x = " << r.forward.at
                << ", backward " << r.backward.ulp << " ULP at x = " << r.backward.at << " (" << r.backward.over
                << " points over 8 ULP and 1e-7)");
      CHECK(r.forward.inputs > 60'000);
      CHECK(r.forward.ulp <= 4);
      CHECK(r.backward.over == 0);
      for (size_t j = 0; j < r.params.size(); ++j) {
        INFO("d/d" << k32.params()[j].name << ": " << r.params[j].ulp << " ULP at x = " << r.params[j].at << " ("
                   << r.params[j].over << " points over 8 ULP and 1e-7)");
        CHECK(r.params[j].over == 0);
      }
    }
  });
  CHECK(functions >= 11);
}

#ifdef ACTJIT_HAVE_MPFR
// The float64 kernels against LANGUAGE.md's definitions in MPFR
// (tools/mpfr_sweep.hpp), over 4,000 sampled doubles per function (the
// full sweep in ACCURACY.md uses a million). Targets as for float32, with
// the absolute allowance scaled to double (1e-15); known gaps carry their
// measured value as the bound.
TEST_CASE("float64 accuracy of the catalogue - sampled sweep against MPFR", "[accuracy]") {
  std::map<std::string, Bound> gaps = {
      {"hardsigmoid", {600, 0}},   // near x = -3 (slope * x + offset cancels): the product's rounding, which puts the kink at -3 (test_kernels.cpp)
  };
  set_threads(1);
  Runtime rt;
  rt.set_cache_dir("");
  std::vector<double> x = mpfr_sweep::inputs(4000);
  for (const auto& spec : mpfr_sweep::specs()) {
    mpfr_sweep::Result r = mpfr_sweep::run(rt, spec, x, 2);
    auto gap = gaps.find(spec.name);
    Bound bound = gap == gaps.end() ? Bound{} : gap->second;
    INFO(spec.name << ": forward " << r.forward.ulp << " ULP at x = " << r.forward.at << ", backward "
                   << r.backward.ulp << " ULP at x = " << r.backward.at << " (" << r.backward.over
                   << " points over 8 ULP and 1e-15), " << r.skipped << " skipped");
    CHECK(r.skipped == 0);
    CHECK(r.forward.ulp <= bound.forward_ulp);
    CHECK(r.backward.over <= bound.backward_over);
  }
  CHECK(mpfr_sweep::specs().size() >= 27);
}

// The float64 kernels that take the parameters at run time, against MPFR
// at the defaults and at 1.7 and 0.3 times them (4,000 sampled doubles
// each): forward, backward and each parameter's gradient, with the targets
// above. hardsigmoid carries its float64 gap (slope * x's rounding near the
// kink; 64-85 ULP measured at these scales).
TEST_CASE("float64 kernels with parameters at run time - sampled sweep against MPFR", "[accuracy]") {
  set_threads(1);
  Runtime rt;
  rt.set_cache_dir("");
  std::vector<double> x = mpfr_sweep::inputs(4000);
  size_t functions = 0;
  for (const auto& spec : mpfr_sweep::specs()) {
    Kernel k = rt.compile(spec.name, DType::F64);
    if (k.params().empty()) continue;
    ++functions;
    for (double scale : sweep::kParamScales) {
      std::vector<double> params = k.default_params();
      for (double& p : params) p *= scale;
      mpfr_sweep::Result r = mpfr_sweep::run_params(rt, spec, x, params, 2);
      INFO(spec.name << " at " << scale << " x the defaults: forward " << r.forward.ulp << " ULP at x = "
                     << r.forward.at << ", backward " << r.backward.ulp << " ULP at x = " << r.backward.at << " ("
                     << r.backward.over << " points over 8 ULP and 1e-15), " << r.skipped << " skipped");
      CHECK(r.skipped == 0);
      CHECK(r.forward.inputs == x.size());
      CHECK(r.forward.ulp <= (std::string(spec.name) == "hardsigmoid" ? 600 : 4));
      CHECK(r.backward.over == 0);
      REQUIRE(r.params.size() == params.size());
      for (size_t j = 0; j < r.params.size(); ++j) {
        INFO("d/d" << k.params()[j].name << ": " << r.params[j].ulp << " ULP at x = " << r.params[j].at << " ("
                   << r.params[j].over << " points over 8 ULP and 1e-15)");
        CHECK(r.params[j].inputs == x.size());
        CHECK(r.params[j].over == 0);
      }
    }
  }
  CHECK(functions >= 11);
}
#endif
