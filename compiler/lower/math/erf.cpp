// erfc as vector IR: float, and in double erfc(y / sqrt 2) (gelu) with
// 512-bit registers (plain erfc in double is SLEEF's, u15).
//
// Method: for a = |x|, erfc(a) = exp(-a^2) erfcx(a), where the scaled
// function erfcx(a) = exp(a^2) erfc(a) is smooth and bounded on [0, inf)
// (erfcx(0) = 1, erfcx(a) ~ 1/(a sqrt(pi))): a degree-10 polynomial in
// q = (a - 3) / (a + 3), which maps [0, 12.03] onto [-1, 0.60] and on which
// erfcx is analytic (coefficients and the fit: tools/fit_erfc.py; relative
// error 7.7e-9 with the float coefficients). One division (q, correctly
// rounded) and one product after the polynomial. a^2 = s + e exactly
// (Dekker's product), and exp(-a^2) = exp(-s) (1 - e) to float precision, so the large argument of
// exp costs no accuracy. erfc(y / sqrt 2) (the normal distribution, as in
// gelu) takes the square from y itself, y^2 / 2, exactly: from the rounded
// argument it would be wrong by up to x^2 half-ULPs (150 ULP at gelu's
// x = -13), and the polynomial's variable from m = |y| itself (its own fit,
// erfcx_over_sqrt2). For x < 0, erfc(x) = 2 - erfc(|x|). Inputs past 12
// give 0 (erfc(10.06) is below the smallest subnormal); NaN passes through.
// On AVX-512 and AVX2+FMA float kernels, erfc(y / sqrt 2) instead takes
// erfcx from a table of 16 polynomials in the exact m - round(m)
// (kErfcxTable, one vpermps per coefficient, two and a blend with AVX2; no
// division) and exp(-y^2/2) as p 2^n with the
// square's error in the reduction, and applies 2^n last, after a product
// with x where there is one (erfc_sqrt1_2_times): 3.03 ULP over all
// floats instead of 7.9. gelu's c y erfc(-y / sqrt 2) is normal_cdf_scaled
// there: right for every y, so the catalogue's guards are not emitted.
// Forward kernels (Emitter::set_erfc_log_form) take erfc(m / sqrt 2) as one
// exp of log erfcx(m / sqrt 2) - m^2/2 instead, log erfcx from 16 rows of
// degree 5 (kLogErfcxTable): no erfcx product, gelu 1.62 ULP over all
// floats with AVX-512 (2.82 as p h), 4% faster; backward and fused kernels
// keep erfcx and exp(-m^2/2) apart for the density term that shares them.
// Double kernels with 512-bit registers take erfc(y / sqrt 2) the same way:
// erfcx from kErfcxTable64 (16 rows of degree 14, one vpermt2pd per
// coefficient; the asymptotic series past m = 15.5, in a branch taken only
// where some lane is that far out), exp(-y^2/2) as p 2^n with the square's
// error in the reduction, 2^n applied last: gelu 0.15 -> 0.80 e/ns (SLEEF's
// erfc was an out-of-line call), max 2.9 ULP (test_vmath).
// Measured (tests/test_vmath.cpp): see ACCURACY.md.
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/MDBuilder.h>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

namespace {

/// a * a = s + e exactly.
std::pair<llvm::Value*, llvm::Value*> exact_square(const Ctx& k, llvm::Value* a) {
  llvm::Value* s = k.mul(a, a);
  return {s, product_error(k, a, a, s)};
}

/// exp(-(s + e)) for s + e in [0, 170] exact: exp(-s) (1 - e), to float
/// precision (e is at most half an ULP of s). No clamping inside exp.
llvm::Value* exp_neg_exact(const Ctx& k, llvm::Value* s, llvm::Value* e) {
  llvm::Value* g = exp_bounded(k, k.b.CreateFNeg(s));
  return k.fma(k.b.CreateFNeg(g), e, g);
}


/// erfc(x) = g h for x >= 0, 2 - g h for x < 0 (`negative`), given
/// g = exp(-x^2) and h = erfcx(|x|). NaN comes through g (exp passes it on)
/// and through h.
llvm::Value* erfc_from(const Ctx& k, llvm::Value* g, llvm::Value* h, llvm::Value* negative) {
  llvm::Value* r = k.mul(g, h);  // erfc(|x|): one rounding after the polynomial
  return k.select(negative, k.sub(k.c(2), r), r);
}

/// erfcx(a) = exp(a^2) erfc(a) for a >= 0 (rounded; at most 12.03).
llvm::Value* erfcx(const Ctx& k, llvm::Value* a) {
  // q = (a - 3) / (a + 3) in [-1, 0.60], correctly rounded: erfcx(q) has slopes
  // up to 1.7 in q, and a q from a rounded reciprocal costs 2 ULP more near a = 0.
  llvm::Value* q = k.div(k.sub(a, k.c(3)), k.add(a, k.c(3)));
  // A polynomial in q, degree 10 (tools/fit_erfc.py: 7.7e-9 relative with
  // these float coefficients)
  return k.horner(q, {0.17900115251541138, -0.32623356580734253, 0.2456037551164627, -0.1501157432794571,
                      0.07166624814271927, -0.024394342675805092, 0.004267512354999781, 0.0007153617916628718,
                      -0.0005928863538429141, 3.013218338310253e-05, 5.606123886536807e-05});
}

/// erfcx(m / sqrt 2) for m = |y| (at most 17) itself: no multiplication by
/// 1/sqrt 2 (7% faster gelu than erfcx(a) of the rounded a = m / sqrt 2). A
/// polynomial in q = (m - c) / (m + c) in [-1, 0.61] with c = 4.125, a
/// centre with few bits: above c/2 both m - c and m + c are mostly exact
/// and q has one rounding. Below c/2 they round: gelu's maximum error near
/// x = 0 is 6.4 ULP (5.6 with the rounded a; a q taken as 2m / (m + c) - 1
/// there gets it back but costs the speed). tools/fit_erfc.py --normal 10
/// 4.125: 7.2e-9 relative with these float coefficients; centres 3-5 tried
/// (the others fit worse after the coefficients' rounding, or cost more
/// in gelu).
llvm::Value* erfcx_over_sqrt2(const Ctx& k, llvm::Value* m) {
  llvm::Value* c = k.c(4.125);
  llvm::Value* q = k.div(k.sub(m, c), k.add(m, c));
  return k.horner(q, {0.1836366355419159, -0.33316341042518616, 0.24723729491233826, -0.14708521962165833,
                      0.0669848844408989, -0.020783400163054466, 0.002587744500488043, 0.0010662468848749995,
                      -0.0004921052604913712, -3.639122951426543e-05, 4.3375042878324166e-05});
}

/// erfcx(m / sqrt 2) on [0, 15.5) for AVX-512 and AVX2 float kernels: row k (of
/// 16) is a degree-7 polynomial in t = m - k on [k - 1/2, k + 1/2], k =
/// round(m), so t is exact (Sterbenz; m itself for k = 0) where the
/// rational variable q rounded m's low bits away (the 2-3 ULP near x = 0
/// and in the tail that kept gelu over 4 ULP); the constant term is a
/// float pair. kErfcxTable[j] holds coefficient j of every row: hi, lo,
/// c1, ..., c7. tools/fit_erfc.py --table 7:
/// degree 7, max relative error 1.19e-08 (coefficients as stored, exact arithmetic)
constexpr int kErfcxDegree = 7;
constexpr double kErfcxTable[kErfcxDegree + 2][16] = {
    {// hi
     1.0, 0.5231565833091736, 0.33620399236679077, 0.24302789568901062,
     0.18882128596305847, 0.1538386046886444, 0.12955862283706665, 0.11178696155548096,
     0.09824509173631668, 0.08759757876396179, 0.0790133848786354, 0.0719497799873352,
     0.06603794544935226, 0.06101882830262184, 0.05670532211661339, 0.05295897647738457},
    {// lo
     -1.7177115285704758e-10, -5.022545490618313e-09, 9.51953360583957e-09, 9.427837399655914e-10,
     -3.3737437288294814e-09, 5.258029123211827e-09, 5.810919301296735e-09, 3.325315578450727e-09,
     6.884329217804463e-10, -1.022267159811463e-09, 3.3241203123424157e-09, -7.450739469838652e-10,
     -3.2949267758652923e-09, 6.87890577832917e-10, -1.0619284340762647e-09, 1.5210747106308986e-09},
    {// c1
     -0.7978845238685608, -0.274728000164032, -0.12547655403614044, -0.06880087405443192,
     -0.04259943217039108, -0.02869151160120964, -0.020532788708806038, -0.015375806950032711,
     -0.01192382164299488, -0.009506361559033394, -0.0077506788074970245, -0.006436989177018404,
     -0.005429254844784737, -0.004639783874154091, -0.004010065924376249, -0.003499890910461545},
    {// c2
     0.4999983608722687, 0.1242150068283081, 0.04262551665306091, 0.01831265166401863,
     0.009211782366037369, 0.005190527997910976, 0.003180947620421648, 0.0020781592465937138,
     0.0014272605767473578, 0.0010201637633144855, 0.0007533002062700689, 0.0005714493454433978,
     0.0004434413858689368, 0.00035081896930933, 0.0002821982780005783, 0.00023030780721455812},
    {// c3
     -0.26593396067619324, -0.05017070472240448, -0.013408605009317398, -0.004620900843292475,
     -0.001917393645271659, -0.0009129451354965568, -0.00048237256123684347, -0.0002762231742963195,
     -0.00016857315495144576, -0.00010828531958395615, -7.255806121975183e-05, -5.0347778596915305e-05,
     -3.598864350351505e-05, -2.6380326744401827e-05, -1.976613566512242e-05, -1.5089232874743175e-05},
    {// c4
     0.12477341294288635, 0.01849660649895668, 0.00395065126940608, 0.001112231519073248,
     0.0003854721144307405, 0.00015642309153918177, 7.168396405177191e-05, 3.613542139646597e-05,
     1.9657503798953258e-05, 1.1376096153981052e-05, 6.928160473762546e-06, 4.403558250487549e-06,
     2.901859033954679e-06, 1.972786776605062e-06, 1.377410853820038e-06, 9.847204864854575e-07},
    {// c5
     -0.05217456817626953, -0.006333648692816496, -0.0011003540130332112, -0.00025726857711561024,
     -7.536602061009035e-05, -2.6244853870593943e-05, -1.0418528290756512e-05, -4.707068910647649e-06,
     -2.303076371390489e-06, -1.2533679409898468e-06, -6.611887783947168e-07, -3.887450361617084e-07,
     -2.154222755734736e-07, -1.3824521261085465e-07, -7.711589944392472e-08, -7.779281219200129e-08},
    {// c6
     0.01824408955872059, 0.0021202191710472107, 0.0003008686762768775, 5.829854853800498e-05,
     1.4434556760534178e-05, 4.3355548768886365e-06, 1.5082013078426826e-06, 5.955049573458382e-07,
     2.5828745719991275e-07, 1.211930680256046e-07, 6.118852979852818e-08, 3.2533918670196726e-08,
     1.877889665991006e-08, 1.0704987118970166e-08, 6.958385867505967e-09, 4.231325512193962e-09},
    {// c7
     -0.003950165584683418, -0.0006273412145674229, -7.639267278136685e-05, -1.1313401955703739e-05,
     -2.0489690086833434e-06, -5.090617491987359e-07, -2.7934768809245725e-07, 3.192675634977604e-08,
     5.181723850000708e-08, 1.3340081750357058e-07, 5.30742427784503e-09, 1.0449983989246903e-08,
     -3.6895720256779896e-08, -1.83421473565204e-08, -3.8587728568018065e-08, 2.8243880123568488e-08},
};
/// m's cap: erfc(15.49 / sqrt 2) and exp(-15.49^2 / 2) are 0 in float.
constexpr double kErfcxTableCap = 15.49;

/// log erfcx(m / sqrt 2) on kErfcxTable's rows: row k (of 16) a degree-5
/// polynomial in t = m - k, the constant term a float pair (hi, lo), fitted
/// for absolute error, which is what exp's argument takes: the float
/// forward's erfc(m / sqrt 2) = exp(log erfcx - m^2/2) (exp_parts_log_sum)
/// is one exp without erfcx's product, and log erfcx is nearly linear
/// where erfcx bends (row 1 needs degree 7 for erfcx's 1.2e-8 relative):
/// two coefficients fewer a row. tools/fit_erfc.py --log-table 5:
// degree 5, max absolute error 1.5e-08 (coefficients as stored, exact arithmetic)
constexpr int kLogErfcxDegree = 5;
constexpr double kLogErfcxTable[kLogErfcxDegree + 2][16] = {
    {// hi
     9.352594254607993e-10, -0.6478744745254517, -1.0900371074676514, -1.4145790338516235,
     -1.6669542789459229, -1.8718512058258057, -2.043621778488159, -2.191160202026367,
     -2.3202900886535645, -2.435001850128174, -2.538137912750244, -2.631786823272705,
     -2.7175257205963135, -2.796572685241699, -2.869887113571167, -2.9382376670837402},
    {// lo
     -2.9484495178837742e-18, 1.514132641489141e-08, -3.1543283540713674e-08, 2.764219964035419e-10,
     -2.3745879929037983e-08, -6.1426939090836186e-09, 9.755953378487447e-09, -1.1588693382691417e-07,
     1.0947581330356115e-07, -8.254652783534766e-08, -5.7146031906540884e-08, -9.055726479800796e-08,
     -1.0039148179430413e-07, -1.0520734150532007e-07, -1.133098948002953e-07, 1.9380586024908553e-09},
    {// c1
     -0.7978847026824951, -0.5251352787017822, -0.37321552634239197, -0.28309866786003113,
     -0.22560714185237885, -0.18650396168231964, -0.1584826111793518, -0.1375456154346466,
     -0.12136811017990112, -0.10852310806512833, -0.09809323400259018, -0.08946502953767776,
     -0.08221417665481567, -0.07603856176137924, -0.07071763277053833, -0.06608682870864868},
    {// c2
     0.18169356882572174, 0.09954846650362015, 0.05713853985071182, 0.03527906537055969,
     0.02333618514239788, 0.016348112374544144, 0.01199376955628395, 0.009130931459367275,
     0.007162428926676512, 0.0057573881931602955, 0.0047226850874722, 0.003940338268876076,
     0.0033353616017848253, 0.002858423860743642, 0.0024760824162513018, 0.0021650614216923714},
    {// c3
     -0.03636636212468147, -0.019488876685500145, -0.009892669506371021, -0.005244892556220293,
     -0.002976064570248127, -0.0018043523887172341, -0.0011588336201384664, -0.0007813929696567357,
     -0.0005486712325364351, -0.00039841837133280933, -0.0002977325930260122, -0.000227908996748738,
     -0.0001780825259629637, -0.00014167116023600101, -0.0001144755951827392, -9.375411173095927e-05},
    {// c4
     0.00490773469209671, 0.003303001867607236, 0.0016533234156668186, 0.0007943722885102034,
     0.00039859104435890913, 0.0002131031797034666, 0.00012131819676142186, 7.306050974875689e-05,
     4.6188732085283846e-05, 3.0440181944868527e-05, 2.078571378660854e-05, 1.4635379557148553e-05,
     1.0579367881291546e-05, 7.824232852726709e-06, 5.904379122512182e-06, 4.535680091066752e-06},
    {// c5
     -0.00020992374629713595, -0.0004023302753921598, -0.00024290596775244921, -0.0001142478795372881,
     -5.230218812357634e-05, -2.5065408408408985e-05, -1.3174770174373407e-05, -7.107224519131705e-06,
     -3.954668500227854e-06, -2.5331946744699962e-06, -1.5193209037533961e-06, -9.79514652499347e-07,
     -7.115390872058924e-07, -4.972485498910828e-07, -3.426217460855696e-07, -2.875859479445353e-07},
};

/// y^2 / 2 = s + e exactly, from m = |y| (finite): (m / 2) m, halving exact.
std::pair<llvm::Value*, llvm::Value*> exact_half_square(const Ctx& k, llvm::Value* m) {
  llvm::Value* hm = k.mul(m, k.c(0.5));
  llvm::Value* s = k.mul(hm, m);
  return {s, product_error(k, hm, m, s)};
}

/// |y| capped where exp(-y^2/2) is 0: exp(-144.5) in float (exp(-120)
/// with the table), exp(-800) in double. (The caps keep the squares
/// finite: inf - inf would make their error terms NaN.)
llvm::Value* half_square_abs(const Ctx& k, llvm::Value* y) {
  return k.capped_abs(y, k.f64 ? 40 : table_erfc(k) ? kErfcxTableCap : 17);
}

/// exp(-m^2/2) = p 2^n for m = half_square_abs(y), the square's error e
/// taken into the reduction (table_erfc targets).
ExpParts exp_neg_half_square_parts(const Ctx& k, llvm::Value* m) {
  auto [s, e] = exact_half_square(k, m);
  return exp_parts(k, k.b.CreateFNeg(s), k.b.CreateFNeg(e));
}

/// exp(-m^2/2) for m = half_square_abs(y).
llvm::Value* exp_neg_half_square_of(const Ctx& k, llvm::Value* m) {
  // Where erfc(y / sqrt 2) is the table form, the same instructions as its
  // exp: a kernel needing both (gelu's backward) computes it once.
  if (table_erfc(k) || table_erfc_f64_target(*k.b.GetInsertBlock()->getParent(), k.vt)) {
    ExpParts g = exp_neg_half_square_parts(k, m);
    return k.ldexp(g.p, g.n);
  }
  auto [s, e] = exact_half_square(k, m);
  return exp_neg_exact(k, s, e);
}

/// Entry `index` (its low 4 bits) of a 16-entry float table (a
/// coefficient of kErfcxTable's or kLogErfcxTable's rows) for each lane:
/// one vpermps per 16 lanes with AVX-512; with AVX2, per 8 lanes one
/// vpermps on each half of the table and a blend by the index's bit 3.
llvm::Value* row_entry(const Ctx& k, llvm::Value* index, const double (&entries)[16]) {
  auto row = [&](unsigned from, unsigned n) {
    std::vector<llvm::Constant*> r;
    for (unsigned i = from; i < from + n; ++i) r.push_back(llvm::ConstantFP::get(k.b.getFloatTy(), entries[i]));
    return llvm::ConstantVector::get(r);
  };
  if (k.avx512) {
    llvm::Value* table = row(0, 16);
    return per_register(k.b, {index}, 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return k.b.CreateIntrinsic(llvm::Intrinsic::x86_avx512_permvar_sf_512, {}, {table, part[0]});
    });
  }
  llvm::Value *low = row(0, 8), *high = row(8, 8);
  return per_register(k.b, {index}, 8, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
    llvm::Value* from_low = k.b.CreateIntrinsic(llvm::Intrinsic::x86_avx2_permps, {}, {low, part[0]});
    llvm::Value* from_high = k.b.CreateIntrinsic(llvm::Intrinsic::x86_avx2_permps, {}, {high, part[0]});
    llvm::Value* eight = llvm::ConstantInt::get(part[0]->getType(), 8);
    llvm::Value* upper = k.b.CreateICmpNE(k.b.CreateAnd(part[0], eight), llvm::Constant::getNullValue(part[0]->getType()));
    return k.b.CreateSelect(upper, from_high, from_low);
  });
}

/// hi and lo + sum_j>0 row_j t^j for t = m - round(m) and the row round(m) of a table
/// of polynomials whose constant term is a pair (rows 0 and 1 of `row`,
/// hi and lo; `degree` the highest power), for m in [0, 15.5) or NaN:
/// m + 2^(mantissa bits) holds round(m) in its low bits, the row index
/// (the permutes read the low 4 bits of each lane; NaN picks some row and
/// stays NaN). lo joins the polynomial before hi: one rounding at full
/// weight (lo added last cost float gelu 0.6 ULP: 3.63 over all floats).
template <class Row>
std::pair<llvm::Value*, llvm::Value*> table_polynomial_parts(const Ctx& k, llvm::Value* m, int degree, Row row) {
  double shift = std::ldexp(1.0, int(k.mantissa_bits()));
  llvm::Value* shifted = k.add(m, k.c(shift));
  llvm::Value* index = k.b.CreateBitCast(shifted, k.int_vec());
  llvm::Value* t = k.sub(m, k.sub(shifted, k.c(shift)));  // m - round(m), exact
  // lo + t (c1 + t R(t)), R by Estrin's scheme (Ctx::estrin): the longest
  // path one FMA shorter than Horner's in float (degree 5), nine in double
  // (degree 14); gelu's forwards +5% (float) and +15% (double), double's
  // backward +12%. c1's step stays Horner's: in row 0, where log erfcx's hi is
  // 0, c1 + t R carries the result's relative error undamped (R itself by
  // Estrin: float gelu 1.77 ULP over all floats, 1.62 so).
  std::vector<llvm::Value*> c;
  for (int j = 3; j <= degree + 1; ++j) c.push_back(row(index, j));
  llvm::Value* p = k.fma(k.estrin(t, std::move(c)), t, row(index, 2));
  llvm::Value* rest = k.fma(p, t, row(index, 1));
  return {row(index, 0), rest};  // (in this order: the machine code of the erfcx forms as before the split)
}
/// The same as one value, hi + (lo + t P(t)).
template <class Row>
llvm::Value* table_polynomial(const Ctx& k, llvm::Value* m, int degree, Row row) {
  auto [hi, rest] = table_polynomial_parts(k, m, degree, row);
  return k.add(hi, rest);
}

/// erfcx(m / sqrt 2) for m in [0, kErfcxTableCap] or NaN, from kErfcxTable.
llvm::Value* erfcx_over_sqrt2_table(const Ctx& k, llvm::Value* m) {
  return table_polynomial(k, m, kErfcxDegree, [&](llvm::Value* index, int j) { return row_entry(k, index, kErfcxTable[j]); });
}

/// erfcx(m / sqrt 2) for double kernels on AVX-512 (`table_erfc_f64_target`):
/// the float table's scheme with 16 rows of degree 14 in t = m - k, k =
/// round(m), on [k - 1/2, k + 1/2] (k = 0: [0, 1/2]); a row's coefficient j
/// by one vpermt2pd (16 entries in two registers) per 8 lanes; the constant
/// term is a double pair. tools/fit_erfc.py --table-f64 14: max relative
/// error 3.8e-17 (coefficients as stored, exact arithmetic; row 1, the
/// others below 2.4e-18).
constexpr int kErfcxDegree64 = 14;
constexpr double kErfcxTable64[kErfcxDegree64 + 2][16] = {
    {// hi
     1.0, 0.5231565837302468, 0.3362040024463412, 0.24302789671112435,
     0.18882128260393788, 0.15383860995001258, 0.1295586286488937, 0.11178696488108107,
     0.09824509242484987, 0.08759757774173359, 0.07901338820277201, 0.0719497792422687,
     0.06603794215442907, 0.06101882899051433, 0.056705321054685884, 0.05295897799845978},
    {// lo
     -1.061253006081683e-20, -1.3109163519026805e-17, 2.4925144364206708e-17, -1.2860437392450172e-17,
     -5.543542584118383e-18, 8.279900589704037e-18, 8.641625343784385e-19, -3.98056734560139e-18,
     -5.475393868460656e-18, -4.939871948105989e-18, -5.47040619382642e-18, 2.7666895219227044e-18,
     4.48005349807089e-19, 1.2867149328532526e-18, -3.3544279744207424e-18, -5.006751673593603e-19},
    {// c1
     -0.7978845608028653, -0.27472797707261915, -0.12547655591018295, -0.06880087066949235,
     -0.04259943038711386, -0.028691511052802397, -0.020532788909503163, -0.01537580663529788,
     -0.011923821404066443, -0.009506361127263116, -0.007750678775145297, -0.006436989137909663,
     -0.005429254949716522, -0.004639783926179082, -0.00401006603726303, -0.003499890825968701},
    {// c2
     0.49999999999999256, 0.12421430332881266, 0.04262544531298764, 0.018312642351323634,
     0.009211780527741211, 0.005190527343000306, 0.003180947595937357, 0.0020781592169979487,
     0.0014272605961591642, 0.0010201637981827685, 0.000753300225659518, 0.0005714493626312033,
     0.00044344137891540023, 0.0003508189750931302, 0.00028219826650173246, 0.00023030780446463089},
    {// c3
     -0.26596152026727093, -0.05017122458118701, -0.013408555094733087, -0.004620981205173932,
     -0.0019174360920496721, -0.0009129581126002092, -0.00048236777795970993, -0.0002762307054374564,
     -0.0001685788782643123, -0.00010829564787271948, -7.255883951667904e-05, -5.0348716322171656e-05,
     -3.598613424392844e-05, -2.6379083322812886e-05, -1.9763435412903487e-05, -1.5091252999758354e-05},
    {// c4
     0.12499999999114256, 0.018510769686967004, 0.003952083780880977, 0.0011124246839507841,
     0.0003855090398856638, 0.000156434194999696, 7.168523204485008e-05, 3.6136069734039345e-05,
     1.9657392511019037e-05, 1.137574183203316e-05, 6.927957623112674e-06, 4.403370771912738e-06,
     2.9019419971359855e-06, 1.972722974195431e-06, 1.377542680192812e-06, 9.847523671137332e-07},
    {// c5
     -0.05319230391583874, -0.006332090982423725, -0.0011008775067219798, -0.000256741430664385,
     -7.50799865016516e-05, -2.6157427522440952e-05, -1.045127713719536e-05, -4.6556434587368965e-06,
     -2.263947636874036e-06, -1.1827942772344518e-06, -6.55852657795592e-07, -3.8232756546673497e-07,
     -2.3256605509603388e-07, -1.4673693123448444e-07, -9.556757859708496e-08, -6.399349829088041e-08},
    {// c6
     0.020833331909705915, 0.002029779783073688, 0.00029172146124442795, 5.703339865419104e-05,
     1.4198182312599376e-05, 4.274509566841568e-06, 1.49626153550453e-06, 5.910942519152537e-07,
     2.576352386821208e-07, 1.217655568960715e-07, 6.157184207868223e-08, 3.2961257157368106e-08,
     1.8524888071889003e-08, 1.0857143735352884e-08, 6.599431333218876e-09, 4.141647918483762e-09},
    {// c7
     -0.007598890322431032, -0.0006146158168223216, -7.391922381171243e-05, -1.2234462045087564e-05,
     -2.6124653145102503e-06, -6.835542159704033e-07, -2.1052971430427746e-07, -7.39976836682208e-08,
     -2.898079883135963e-08, -1.2414890928435188e-08, -5.733454320334389e-09, -2.8219713798919167e-09,
     -1.466777815046505e-09, -7.991567773980443e-10, -4.5364198581730294e-10, -2.6697226384089566e-10},
    {// c8
     0.002604113711318552, 0.0001768954998034172, 1.798537631560458e-05, 2.541251598900982e-06,
     4.685401358196576e-07, 1.0709228862694807e-07, 2.913542025418219e-08, 9.138826591044183e-09,
     3.2235808647899004e-09, 1.2539352634350645e-09, 5.29651217338832e-10, 2.399598952007803e-10,
     1.1545580474618463e-10, 5.852185781522416e-11, 3.104314109342401e-11, 1.7140922220417594e-11},
    {// c9
     -0.0008441233513706146, -4.863626810714617e-05, -4.216521789431439e-06, -5.123016807810532e-07,
     -8.203394755369753e-08, -1.6454907468023275e-08, -3.968513107825964e-09, -1.1139123186535281e-09,
     -3.5479893598622234e-10, -1.2552113470295193e-10, -4.8597679971104995e-11, -2.0214251052843456e-11,
     -8.994749301723852e-12, -4.233924863252595e-12, -2.154634692427777e-12, -1.0730457250127675e-12},
    {// c10
     0.00025987038012827715, 1.2825974458346805e-05, 9.552387688063068e-07, 1.0043468190783429e-07,
     1.404043136719049e-08, 2.481893737969627e-09, 5.32361023329902e-10, 1.3404931815489073e-10,
     3.864610526916298e-11, 1.2460522179238559e-11, 4.422445979203205e-12, 1.6944556644552796e-12,
     6.949986770089067e-13, 3.0576027780910385e-13, 1.478714624622725e-13, 6.568094245711978e-14},
    {// c11
     -7.566614678457914e-05, -3.2519150493598065e-06, -2.0950774413790985e-07, -1.917579839103025e-08,
     -2.3515267467208967e-09, -3.6728782948547363e-10, -7.057659841651465e-11, -1.6179404251523495e-11,
     -3.8121241726990066e-12, -1.1477879920682798e-12, -2.5474455889092303e-13, -3.0143456777147545e-13,
     -1.7422493940312106e-13, -1.1071850921563107e-13, 1.0754105705584735e-13, -7.262411096808802e-14},
    {// c12
     2.0146394584068158e-05, 7.972514772947273e-07, 4.4650531170629804e-08, 3.5743250343573426e-09,
     3.8609856918821614e-10, 5.34586406631401e-11, 9.268775362530238e-12, 1.9831028922613356e-12,
     3.493974933973282e-13, 8.341663120156757e-14, 1.6909215167035027e-14, 3.1010834866699565e-14,
     2.778374656688388e-14, 1.1738251977944754e-14, -1.260845270988702e-14, 1.232651534783371e-14},
    {// c13
     -4.3705842166629105e-06, -1.9837298799235183e-07, -9.603950331110617e-09, -6.68089515934657e-10,
     -6.350683195919229e-11, -8.32074513258603e-12, -9.66387265748122e-13, 5.3342201913595785e-14,
     -4.502505531568889e-13, -9.966205838330669e-14, -1.6961147177420654e-13, 1.8351396150142176e-13,
     1.3815391312543582e-13, 1.020644453861371e-13, -1.3551672230122853e-13, 7.87876773697887e-14},
    {// c14
     5.572454964892787e-07, 4.495140603855098e-08, 1.921357078313186e-09, 1.1759772497377213e-10,
     9.880158623534072e-12, 1.241374037810364e-12, 4.380958686827569e-14, -9.893533844628825e-14,
     1.1357085554357182e-13, 4.1499364531675855e-14, 2.2584996919284304e-14, -2.2715960401270225e-14,
     -2.7019951772129655e-14, -1.1896434654088709e-14, 1.5516615821728117e-14, -1.3744791063456898e-14},
};
/// Past m = 15.5 the rows end: the asymptotic series there.
constexpr double kErfcxTable64End = 15.5;

/// The row of kErfcxTable64 for each lane (index's low 4 bits).
llvm::Value* erfcx_row_f64(const Ctx& k, llvm::Value* index, int j) {
  auto half = [&](unsigned from) {
    std::vector<llvm::Constant*> r;
    for (unsigned i = from; i < from + 8; ++i) r.push_back(llvm::ConstantFP::get(k.b.getDoubleTy(), kErfcxTable64[j][i]));
    return llvm::ConstantVector::get(r);
  };
  llvm::Value *low = half(0), *high = half(8);
  return per_register(k.b, {index}, 8, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
    return k.b.CreateIntrinsic(llvm::Intrinsic::x86_avx512_vpermi2var_pd_512, {}, {low, part[0], high});
  });
}

/// erfcx(m / sqrt 2) for m in [0, 15.5) or NaN, from kErfcxTable64.
llvm::Value* erfcx_over_sqrt2_table_f64(const Ctx& k, llvm::Value* m) {
  return table_polynomial(k, m, kErfcxDegree64, [&](llvm::Value* index, int j) { return erfcx_row_f64(k, index, j); });
}

/// erfcx(m / sqrt 2) for m >= 15.5 by the asymptotic series
///   erfcx(z) = 1 / (z sqrt(pi)) S(1 / (2 z^2)), S(t) = sum_j (-1)^j (2j - 1)!! t^j,
/// with z = m / sqrt 2: Q S(t), Q = sqrt(2 / pi) / m, t = 1 / m^2, taken as
/// q + (d + (q t) (S(t) - 1) / t), q = fl(c_hi / m), d = (c_hi - q m + c_lo) / m
/// (the division's remainder, exact by an FMA, and the constant's low
/// part): one rounding at full weight, the last addition (the correction
/// is below 0.5%). To t^14 (the next term is below 1.3e-20 for t <= 1 /
/// 15.5^2; the coefficients are exact).
llvm::Value* erfcx_over_sqrt2_asymptotic(const Ctx& k, llvm::Value* m) {
  const double c_hi = 0.7978845608028654, c_lo = -4.98465440455546e-17;  // sqrt(2 / pi) = c_hi + c_lo
  llvm::Value* t = k.div(k.c(1), k.mul(m, m));
  std::vector<double> c{-1};  // (S(t) - 1) / t
  for (int j = 2; j <= 14; ++j) c.push_back(-c.back() * (2 * j - 1));
  llvm::Value* rest = k.horner(t, std::span<const double>(c));
  llvm::Value* q = k.div(k.c(c_hi), m);
  llvm::Value* d = k.div(k.add(k.fma(k.b.CreateFNeg(q), m, k.c(c_hi)), k.c(c_lo)), m);
  return k.add(q, k.fma(k.mul(q, t), rest, d));
}

}  // namespace

llvm::Value* erfc(const Ctx& k, llvm::Value* x) {
  llvm::Value* a = k.capped_abs(x, 12);  // erfc(12) = 1.4e-64; exp(-144) is 0 in float
  auto [s, e] = exact_square(k, a);
  return erfc_from(k, exp_neg_exact(k, s, e), erfcx(k, a), k.b.CreateFCmpOLT(x, k.c(0)));
}

llvm::Value* erf(const Ctx& k, llvm::Value* x) {
  // Below |x| = 1: x + x Q(x^2), Q = erf(x) / x - 1 of degree 6
  // (tools/fit_vmath.py odd erf 6 1: 1.5e-9 relative with these float
  // coefficients; 2/sqrt(pi) as 1 + Q(0), whose float is 0.9 ULP off
  // alone). Beyond: 1 - erfc(|x|) with x's sign, erfc(|x|) = exp(-a^2)
  // erfcx(a) as erfc's (below 0.16 there: its error counts a sixth or less;
  // past a = 4 erfc is below half an ULP of 1 and the difference rounds to 1).
  llvm::Value* z = k.mul(x, x);
  llvm::Value* q = k.horner(z, {0.12837916612625122, -0.3761262595653534, 0.11283581703901291, -0.02685358375310898,
                                0.00518780155107379, -0.0008004995761439204, 7.835179712856188e-05});
  llvm::Value* near = k.fma(x, q, x);
  llvm::Value* a = k.capped_abs(x, 4);
  auto [s, e] = exact_square(k, a);
  llvm::Value* far = k.copysign(k.sub(k.c(1), k.mul(exp_neg_exact(k, s, e), erfcx(k, a))), x);
  // (NaN: |x| < 1 is false, and the far form's erfcx passes it on)
  return k.select(k.b.CreateFCmpOLT(k.abs(x), k.c(1)), near, far);
}

llvm::Value* exp_neg_half_square(const Ctx& k, llvm::Value* y) { return exp_neg_half_square_of(k, half_square_abs(k, y)); }

bool table_erfc_target(const llvm::Function& f, llvm::Type* vec) {
  auto* v = llvm::cast<llvm::FixedVectorType>(vec);
  if (!v->getElementType()->isFloatTy()) return false;
  if (v->getNumElements() % 16 == 0 && has_vscalef(f, v)) return true;
  // AVX2 with FMA (x86-64-v3): vpermps on 8 lanes, the table in two halves.
  return register_bits(f) == 256 && v->getNumElements() % 8 == 0 && has_feature(f, "avx2") && has_feature(f, "fma");
}

bool table_erfc(const Ctx& k) { return table_erfc_target(*k.b.GetInsertBlock()->getParent(), k.vt); }

namespace {

/// For the table targets: m = |y| capped, exp(-m^2/2) = p 2^n and h =
/// erfcx(m / sqrt 2), so that erfc(m / sqrt 2) = (h p) 2^n.
struct TableErfc {
  llvm::Value* m;
  ExpParts g;
  llvm::Value* h;
};

/// erfcx(m / sqrt 2) for double kernels: the table to m = 15.5 and beyond
/// (to the cap, 40: exp(-800) is 0) the asymptotic series, computed only
/// where some lane is that far out (a branch taken about never).
llvm::Value* erfcx_over_sqrt2_f64(const Ctx& k, llvm::Value* m) {
  llvm::Value* near = erfcx_over_sqrt2_table_f64(k, m);
  llvm::Value* far = k.b.CreateFCmpOGE(m, k.c(kErfcxTable64End));
  return unless_rare(k, far, near, "erfcx", [&] { return k.select(far, erfcx_over_sqrt2_asymptotic(k, m), near); });
}

TableErfc table_erfc_parts(const Ctx& k, llvm::Value* y) {
  llvm::Value* m = half_square_abs(k, y);
  ExpParts g = exp_neg_half_square_parts(k, m);
  return {m, g, k.f64 ? erfcx_over_sqrt2_f64(k, m) : erfcx_over_sqrt2_table(k, m)};
}

/// For the float table targets' forwards: m = |y| capped and erfc(m /
/// sqrt 2) = p 2^n in one exp, exp(log erfcx(m / sqrt 2) - m^2/2) with
/// log erfcx from kLogErfcxTable (exp_parts_log_sum): no erfcx and no
/// product with it (two permutes and three FMA-unit instructions fewer a
/// register in gelu's forward).
struct LogErfc {
  llvm::Value* m;
  ExpParts g;
};
LogErfc log_erfc_parts(const Ctx& k, llvm::Value* y) {
  llvm::Value* m = half_square_abs(k, y);
  auto [s, e] = exact_half_square(k, m);
  auto [hi, rest] = table_polynomial_parts(k, m, kLogErfcxDegree,
                                           [&](llvm::Value* index, int j) { return row_entry(k, index, kLogErfcxTable[j]); });
  return {m, exp_parts_log_sum(k, s, e, hi, rest)};
}

/// x erfc(+-y / sqrt 2) = (x h p) 2^n for |y| on the positive side: one
/// rounding of the product, then 2^n (vscalef, or Ctx::ldexp's two
/// factors), which rounds once more only where the result is subnormal
/// (the old order, (p 2^n) h x, rounded a subnormal erfc and then
/// multiplied it by x: 7.9 ULP at gelu's x = -13.1). The other sign:
/// 2x - (x h p) 2^n.
llvm::Value* table_erfc_times(const Ctx& k, llvm::Value* y, llvm::Value* x, bool negate, bool log_form) {
  llvm::Value* tail = nullptr;
  if (log_form && !k.f64) {
    LogErfc e = log_erfc_parts(k, y);
    tail = k.ldexp(x ? k.mul(e.g.p, x) : e.g.p, e.g.n);
  } else {
    TableErfc e = table_erfc_parts(k, y);
    tail = k.ldexp(k.mul(e.g.p, x ? k.mul(x, e.h) : e.h), e.g.n);
  }
  llvm::Value* negative = negate ? k.b.CreateFCmpOGT(y, k.c(0)) : k.b.CreateFCmpOLT(y, k.c(0));
  return k.select(negative, k.sub(x ? k.add(x, x) : k.c(2), tail), tail);
}

}  // namespace

llvm::Value* erfc_sqrt1_2_times(const Ctx& k, llvm::Value* y, llvm::Value* x, bool negate, bool log_form) {
  return table_erfc_times(k, y, x, negate, log_form);
}

llvm::Value* normal_cdf_scaled(const Ctx& k, llvm::Value* y, double c, bool log_form) {
  // c y erfc(-y / sqrt 2) = max(2c y, 0) - c |y| erfc(|y| / sqrt 2), with
  // c |y| = c m (where m is capped, the tail is 0 whatever factor it has):
  // the tail as table_erfc_times' for the negative side, the positive side
  // one subtraction from 2c y, the same roundings (gelu's 0.5 m exact,
  // shared with the square). The side is select(y < 0, -0, 2c y) (with
  // AVX-512 one MAXPS, 2c y second: -0 and NaN pass through; LLVM made the
  // select a compare and a blend), so that a negative
  // result that underflows is -0, as the product's rounding gives it.
  // Complete over every y: the tail is 0 past the cap, +-inf give inf and
  // -0, no guard needed. (For subnormal y > 0, c m rounds where 2c y does
  // not: within 1 ULP there, where 2 (c y) - tail was exact.)
  llvm::Value* tail = nullptr;
  if (log_form && !k.f64) {
    LogErfc e = log_erfc_parts(k, y);
    tail = k.ldexp(k.mul(e.g.p, k.mul(e.m, k.c(c))), e.g.n);
  } else {
    TableErfc e = table_erfc_parts(k, y);
    tail = k.ldexp(k.mul(e.g.p, k.mul(k.mul(e.m, k.c(c)), e.h)), e.g.n);
  }
  llvm::Value* scaled = k.mul(y, k.c(2 * c));
  llvm::Value* side = nullptr;
  if (k.avx512) {  // MAXPS(-0, 2c y): 2c y where it is NaN or +-0 (the second operand), -0 below
    auto id = k.f64 ? llvm::Intrinsic::x86_avx512_max_pd_512 : llvm::Intrinsic::x86_avx512_max_ps_512;
    side = per_register(k.b, {k.c(-0.0), scaled}, k.f64 ? 8 : 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return k.b.CreateIntrinsic(id, {}, {part[0], part[1], k.b.getInt32(4 /* current rounding */)});
    });
  } else {
    side = k.select(k.b.CreateFCmpOLT(y, k.c(0)), k.c(-0.0), scaled);
  }
  return k.sub(side, tail);
}

llvm::Value* normal_cdf_pdf_sum(const Ctx& k, llvm::Value* y, double a, double b, bool negate) {
  // With m = |y| and erfc(m / sqrt 2) = p 2^n h, exp(-y^2/2) = p 2^n: on
  // the side where erfc's argument is +m (y < 0 for erfc(-y / sqrt 2)),
  // a erfc + b y exp(-y^2/2) = (p (a h -+ b m)) 2^n = d; on the other,
  // a (2 - p 2^n h) + b y p 2^n = 2a - d, the same d. One product with p
  // and one 2^n for both terms: the two terms' own products, exponents
  // and sum were gelu's backward's last ~10 instructions a register.
  // Where the two terms cancel (gelu's derivative's zero at x = -0.75) d
  // keeps the absolute error the sum had. Past m's cap p 2^n is 0: d is
  // 0 and the sum is 0 or 2a, its limits (no guard needed).
  TableErfc e = table_erfc_parts(k, y);
  llvm::Value* beta = k.c(negate ? -b : b);
  // a h -+ b m with one rounding where a is a power of 2 (a h exact);
  // else b m's rounding error added back (both terms' roundings would
  // show where they cancel).
  int exponent = 0;
  llvm::Value* q = nullptr;
  if (std::fabs(std::frexp(a, &exponent)) == 0.5) {
    q = k.fma(e.m, beta, k.mul(e.h, k.c(a)));
  } else {
    llvm::Value* t = k.mul(e.m, beta);
    q = k.add(k.fma(e.h, k.c(a), t), product_error(k, e.m, beta, t));
  }
  llvm::Value* d = k.ldexp(k.mul(e.g.p, q), e.g.n);
  llvm::Value* other = negate ? k.b.CreateFCmpOGT(y, k.c(0)) : k.b.CreateFCmpOLT(y, k.c(0));
  return k.select(other, k.sub(k.c(2 * a), d), d);
}

bool table_erfc_f64_target(const llvm::Function& f, llvm::Type* vec) {
  auto* v = llvm::cast<llvm::FixedVectorType>(vec);
  return v->getElementType()->isDoubleTy() && v->getNumElements() % 8 == 0 && has_vscalef(f, v);
}

llvm::Value* erfc_sqrt1_2_times_table_f64(const Ctx& k, llvm::Value* y, llvm::Value* x, bool negate) {
  return table_erfc_times(k, y, x, negate, false);
}

llvm::Value* erfc_scaled_sqrt1_2(const Ctx& k, llvm::Value* y, bool negate, bool log_form) {
  if (table_erfc(k)) return erfc_sqrt1_2_times(k, y, nullptr, negate, log_form);
  // One capped |y| serves the exp and the polynomial; the exp is the same
  // instructions as exp(-y^2/2) alone, so that a kernel needing both
  // (gelu's backward) computes it once (EarlyCSE).
  llvm::Value* m = half_square_abs(k, y);
  llvm::Value* negative = negate ? k.b.CreateFCmpOGT(y, k.c(0)) : k.b.CreateFCmpOLT(y, k.c(0));
  return erfc_from(k, exp_neg_half_square_of(k, m), erfcx_over_sqrt2(k, m), negative);
}

llvm::Value* erfc_sqrt1_2_f64(const Ctx& k, llvm::Value* y, bool negate,
                             llvm::Value* (*erfc_of)(llvm::IRBuilderBase&, llvm::Value*)) {
  // a = fl(+-y / sqrt 2) is off by delta (up to half an ULP), and erfc's
  // slope -2/sqrt(pi) exp(-a^2) makes that a relative error of ~2 a^2 ULP
  // (1400 ULP at gelu's x = -37): add the first-order term back,
  // erfc(a + delta) = erfc(a) - delta 2/sqrt(pi) exp(-y^2 / 2).
  const double c_hi = 0.70710678118654757, c_lo = -4.8336466567264567e-17;  // 1/sqrt(2) = c_hi + c_lo
  double sign = negate ? -1 : 1;
  llvm::Value* a = k.mul(y, k.c(sign * c_hi));
  llvm::Value* r = erfc_of(k.b, a);
  llvm::Value* delta = k.fma(y, k.c(sign * c_lo), product_error(k, y, k.c(sign * c_hi), a));
  // y infinite: delta is inf - inf = NaN, and erfc is exactly 0 or 2 there
  delta = k.select(k.b.CreateFCmpOEQ(k.abs(y), k.c(std::numeric_limits<double>::infinity())), k.c(0), delta);
  llvm::Value* slope = k.mul(exp_neg_half_square(k, y), k.c(1.1283791670955126));  // 2/sqrt(pi) exp(-a^2)
  return k.b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {k.vt}, {k.b.CreateFNeg(delta), slope, r});
}

llvm::Value* erfc_sqrt1_2_times_f64(const Ctx& k, llvm::Value* y, llvm::Value* x, bool negate,
                                   llvm::Value* (*erfc_of)(llvm::IRBuilderBase&, llvm::Value*)) {
  llvm::Value* plain = k.mul(x, erfc_sqrt1_2_f64(k, y, negate, erfc_of));
  // Past z = +-y / sqrt 2 = 26 erfc(z) is below 6e-296 (subnormal from
  // 26.55), and the plain product multiplied its lost bits by x (gelu: 22
  // ULP at x = -37.6). There, to m = |y| = 40 (exp(-800) is 0 in double),
  // the asymptotic series with exp's exponent applied last:
  //   erfc(z) = exp(-z^2) / (z sqrt(pi)) S(1 / (2 z^2)),
  //   S(t) = sum_j (-1)^j (2j - 1)!! t^j (to t^7: below 2e-19 for t <= 7.4e-4),
  //   x erfc(z) = (x (sqrt(2 / pi) S(1 / m^2) / m) p) 2^n, exp(-m^2 / 2) = p 2^n,
  // the square exact in the reduction. Computed only where some lane is
  // that far out (a branch taken about never).
  llvm::Value* signed_y = negate ? k.b.CreateFNeg(y) : y;
  llvm::Value* far = k.b.CreateAnd(k.b.CreateFCmpOGT(signed_y, k.c(36.77)), k.b.CreateFCmpOLE(signed_y, k.c(40)));
  return unless_rare(k, far, plain, "erfc", [&] {
    llvm::Value* m = half_square_abs(k, y);
    ExpParts g = exp_neg_half_square_parts(k, m);
    llvm::Value* t = k.div(k.c(1), k.mul(m, m));
    llvm::Value* series = k.c(-135135);
    for (double c : {10395.0, -945.0, 105.0, -15.0, 3.0, -1.0, 1.0}) series = k.fma(series, t, k.c(c));
    llvm::Value* h = k.div(k.mul(series, k.c(0.79788456080286541)), m);  // sqrt(2 / pi)
    llvm::Value* tail = k.ldexp(k.mul(k.mul(x, h), g.p), g.n);
    return k.select(far, tail, plain);
  });
}

}  // namespace actjit::lower::vmath
