// log and log1p as vector IR, for float and double at any width.
//
// On 512-bit AVX-512 vectors (log_table): x = 2^n m, m in [3/4, 3/2), by
// vgetexp and vgetmant; log m = log c_j + log1p(m / c_j - 1) from 16 rows
// c_j = 1 + (j - 5)/21 (two vpermps, or vpermi2pd in double, a table), the
// row from the low bits of 21 m - 16 + 1.5 * 2^p, log1p(r) = r + r^2 Q(r)
// (degree 3 in float, 7 in double: tools/fit_vmath.py log_table); no
// division, no exponent-field arithmetic, 0 / inf / NaN / subnormals right
// without selects. log1p's correction e / u as e 2^-n (1/c_j)(1 - r).
// Elsewhere, the method below (as fdlibm): x = 2^e m with m in [sqrt(1/2), sqrt(2)) read from the
// exponent field (subnormals scaled first); f = m - 1 exactly; with
// s = f / (2 + f), log(1 + f) = f - s (f - R(s^2)) where R is the Taylor
// series of 2 atanh(s) / s - 2 in s^2 (4 terms for float, 10 for double:
// truncation below 0.01 ULP); log x = e ln2_hi + (e ln2_lo + log m).
// log1p(x) = log(u) + (x - (u - 1)) / u with u = 1 + x, which corrects the
// rounding of u. Special values (0, negatives, inf, NaN) are selected last.
// log1p_unit(t) for t in [-1/2, 1] (softplus's log1p(exp(-|x|)),
// the shifted softplus's log1p(expm1(-|x|) / 2)):
// 2 atanh(s), s = t / (2 + t) in [-1/3, 1/3], with the rounding of 2 + t
// corrected, as 2s + s z P(z), z = s^2, P a degree-3 fit in float
// (tools/fit_vmath.py log1p_unit: 0.09 ULP), degree 9 in double
// (log1p_unit_f64: 0.01 ULP): one division, no exponent split, no
// correction quotient (the general log1p has two divisions).
// log1p_exp_table(w) = log1p(exp(w)) for w in [-16.625, 0] on AVX-512
// float (softplus's and logsigmoid's log1p(exp(-|x|)), no exp, no
// division): a = -w, j = a / h rounded (16 rows of width h = 1.0735, the
// low four bits of a / h + 1.5 * 2^23 picking the row by vpermps),
// r = a - j h (one FMA, rounded once), and a degree-6 polynomial in r
// whose coefficients are row j's (tools/fit_vmath.py softplus_table: 2.72
// ULP at most in its float evaluation, 0.45 on average). Past -16.625 the
// value is exp(w) to float's precision, which no table of this size
// holds: the emitter branches to log1p_unit(exp(w)) for registers with a
// lane there (Emitter::emit, Op::Log1p).
#include <array>
#include <cmath>
#include <limits>
#include <numbers>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

namespace {
// tools/fit_vmath.py log_table: rows j = 0..15 of m in [3/4, 3/2), centred
// on c_j = 1 + (j - 5)/21 (row 5 is c = 1, where log x is r alone): 1/c_j
// rounded, and -log of that rounding as hi + lo, hi a multiple of 2^-17
// (float) or 2^-32 (double), as ln2's high part is, so that k ln2_hi + hi
// is exact.
template <class T>
struct LogRows {
  std::array<T, 16> inv_c, log_c_hi, log_c_lo;
};
constexpr LogRows<float> kLogRowsFloat{
    {1.3125f, 1.2352941036224365f, 1.1666666269302368f, 1.105263113975525f, 1.0499999523162842f, 1.0f,
     0.9545454382896423f, 0.9130434989929199f, 0.875f, 0.8399999737739563f, 0.807692289352417f, 0.7777777910232544f,
     0.75f, 0.7241379022598267f, 0.699999988079071f, 0.6774193644523621f},
    {-0.27193450927734375f, -0.21131134033203125f, -0.15415191650390625f, -0.1000823974609375f, -0.04878997802734375f,
     0.0f, 0.04651641845703125f, 0.090972900390625f, 0.1335296630859375f, 0.17435455322265625f, 0.2135772705078125f,
     0.251312255859375f, 0.28768157958984375f, 0.32277679443359375f, 0.3566741943359375f, 0.38946533203125f},
    {7.937936743473983e-07f, 2.2580181848752545e-06f, 1.2707364476227667e-06f, -1.0213595942332176e-06f,
     -1.407290284305418e-07f, 0.0f, 3.614207798818825e-06f, -1.1448914847278502e-06f, 1.72953855326341e-06f,
     -1.1348563475621631e-06f, -3.147503321088152e-06f, 2.155391712221899e-06f, 4.928619432575942e-07f,
     -3.3624341995164286e-06f, 7.666326951039082e-07f, -5.794611297460506e-07f}};
constexpr LogRows<double> kLogRowsDouble{
    {1.3125, 1.2352941176470589, 1.1666666666666667, 1.105263157894737, 1.05, 1.0, 0.9545454545454546,
     0.9130434782608695, 0.875, 0.84, 0.8076923076923077, 0.7777777777777778, 0.75, 0.7241379310344828, 0.7,
     0.6774193548387096},
    {-0.27193371555767953, -0.21130909374915063, -0.1541506799403578, -0.10008345847018063, -0.04879016405902803, 0.0,
     0.0465200156904757, 0.09097177814692259, 0.13353139255195856, 0.17435338720679283, 0.2135741002857685,
     0.2513144281692803, 0.28768207249231637, 0.3227733923122287, 0.35667494405061007, 0.3894647667184472},
    {7.403777512676557e-11, 8.194367526667686e-11, 1.130994365642098e-10, -8.680200096964516e-11,
     -1.1040401591775137e-10, 0.0, -5.558288760139935e-11, 5.880416411230557e-11, 7.25640622027401e-11,
     -6.20150417125436e-11, 1.229051891188354e-11, 1.1162577122117111e-10, -4.053543780278539e-11,
     -4.917765426108468e-11, -1.1187762310625067e-10, 4.327610975211733e-11}};
// ln 2 = hi + lo with lo > 0 (so that the -inf of hi and of lo agree at x =
// 0) and k hi exact for every exponent k: fdlibm's float split; double's
// kLn2Double.
constexpr Ln2Split kLn2FloatPositive{6.9313812256e-01, 9.0580006145e-06};
}  // namespace

bool log_table_target(const Ctx& k) { return k.avx512 && k.has_fma; }

llvm::Value* log_table(const Ctx& k, llvm::Value* u, llvm::Value* e) {
  llvm::IRBuilderBase& b = k.b;
  llvm::Value* m = k.mantissa_3_4(u);
  llvm::Value* n = k.add(k.exponent_of(u), k.select(b.CreateFCmpOLT(m, k.c(1)), k.c(1), k.c(0)));
  // 21 m - 16 + 1.5 * 2^p rounds 21 (m - 1) + 5 to the row j in the low bits.
  const double shifter = k.f64 ? 6755399441055744.0 : 12582912.0;
  llvm::Value* row = b.CreateBitCast(k.fma(m, k.c(21), k.c(shifter - 16)), k.int_vec());
  auto rows = [&](auto& table) {
    return std::array<llvm::Value*, 3>{k.lookup16(row, table.inv_c), k.lookup16(row, table.log_c_hi),
                                       k.lookup16(row, table.log_c_lo)};
  };
  auto [invc, logc, logc_lo] = k.f64 ? rows(kLogRowsDouble) : rows(kLogRowsFloat);
  llvm::Value* r = k.fma(m, invc, k.c(-1));  // m / c_j - 1, rounded once
  llvm::Value* q =
      k.f64 ? k.horner(r, {-0.4999999999999975, 0.3333333333333991, -0.25000000003609846, 0.19999999950325353,
                           -0.16666652533563356, 0.14285816087717798, -0.12520562895890938, 0.11056166506718275})
            : k.horner(r, {-0.4999999403953552, 0.3333335518836975, -0.2502128481864929, 0.19971762597560883});
  const Ln2Split ln2 = k.f64 ? kLn2Double : kLn2FloatPositive;
  llvm::Value* lo = k.fma(n, k.c(ln2.lo), logc_lo);
  // e / u = e 2^-n invc / (1 + r), to first order in r (|r| < 1/32; e is
  // below half an ulp of u): log1p's correction without a division.
  if (e) lo = k.add(lo, k.mul(k.scalef(k.mul(e, invc), b.CreateFNeg(n)), k.sub(k.c(1), r)));
  llvm::Value* t = k.fma(k.mul(r, r), q, lo);
  return k.add(k.fma(n, k.c(ln2.hi), logc), k.add(r, t));
}

llvm::Value* log(const Ctx& k, llvm::Value* x) {
  llvm::IRBuilderBase& b = k.b;
  if (log_table_target(k)) {
    // 0 gives -inf (exponent -inf), inf inf, NaN NaN; negatives NaN.
    llvm::Value* y = log_table(k, x, nullptr);
    return k.select(b.CreateFCmpOLT(x, k.c(0)), k.c(std::numeric_limits<double>::quiet_NaN()), y);
  }
  const unsigned mb = k.mantissa_bits();
  // Subnormal inputs: scale into the normal range, remember the exponent.
  double min_normal = k.f64 ? std::numeric_limits<double>::min() : std::numeric_limits<float>::min();
  double scale_bits = k.f64 ? 54 : 24;
  llvm::Value* tiny = b.CreateFCmpOLT(x, k.c(min_normal));
  llvm::Value* xs = k.select(tiny, k.mul(x, k.c(std::ldexp(1.0, int(scale_bits)))), x);
  llvm::Value* bits = b.CreateBitCast(xs, k.int_vec());
  llvm::Value* e_int = b.CreateSub(b.CreateLShr(bits, k.ci(mb)), k.ci(k.exponent_bias()));
  llvm::Value* mant_mask = k.ci((1ll << mb) - 1);
  llvm::Value* m = b.CreateBitCast(b.CreateOr(b.CreateAnd(bits, mant_mask), k.ci((long long)k.exponent_bias() << mb)),
                                   k.vt);  // in [1, 2)
  llvm::Value* e = b.CreateSIToFP(e_int, k.vt);
  llvm::Value* big = b.CreateFCmpOGT(m, k.c(1.4142135623730951));
  m = k.select(big, k.mul(m, k.c(0.5)), m);
  e = k.add(e, k.select(big, k.c(1), k.c(0)));
  e = k.sub(e, k.select(tiny, k.c(scale_bits), k.c(0)));

  llvm::Value* f = k.sub(m, k.c(1));
  llvm::Value* s = k.div(f, k.add(f, k.c(2)));
  llvm::Value* z = k.mul(s, s);
  llvm::Value* R =
      k.f64 ? k.horner(z, {2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13, 2.0 / 15, 2.0 / 17, 2.0 / 19, 2.0 / 21})
            : k.horner(z, {2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9});
  R = k.mul(z, R);
  llvm::Value* logm = k.sub(f, k.mul(s, k.sub(f, R)));
  double ln2_hi = (k.f64 ? kLn2Double : kLn2Float).hi;
  double ln2_lo = (k.f64 ? kLn2Double : kLn2Float).lo;
  llvm::Value* y = k.fma(e, k.c(ln2_hi), k.fma(e, k.c(ln2_lo), logm));

  double inf = std::numeric_limits<double>::infinity();
  y = k.select(b.CreateFCmpOEQ(x, k.c(inf)), k.c(inf), y);
  y = k.select(b.CreateFCmpOEQ(x, k.c(0)), k.c(-inf), y);
  y = k.select(b.CreateFCmpOLT(x, k.c(0)), k.c(std::numeric_limits<double>::quiet_NaN()), y);
  return k.select(k.is_nan(x), x, y);
}

llvm::Value* log1p(const Ctx& k, llvm::Value* x) {
  llvm::IRBuilderBase& b = k.b;
  llvm::Value* u = k.add(x, k.c(1));
  llvm::Value* rounding = k.sub(x, k.sub(u, k.c(1)));
  llvm::Value* y;
  if (log_table_target(k)) {
    y = k.select(b.CreateFCmpOLT(u, k.c(0)), k.c(std::numeric_limits<double>::quiet_NaN()), log_table(k, u, rounding));
  } else {
    y = k.add(log(k, u), k.div(rounding, u));
  }
  double inf = std::numeric_limits<double>::infinity();
  y = k.select(b.CreateFCmpOEQ(x, k.c(inf)), k.c(inf), y);
  y = k.select(b.CreateFCmpOEQ(u, k.c(0)), k.c(-inf), y);
  return k.copysign(y, x);  // x's sign: -0 at -0 (log(1) is +0), as IEEE's log1p
}

llvm::Value* asinh(const Ctx& k, llvm::Value* x) {
  // Below |x| = 3/4: x + x Q(x^2), Q of degree 7 (tools/fit_vmath.py odd
  // asinh 7 0.75: 7e-10 relative with these float coefficients; the log form
  // was 2.1 ULP near 0.125 and 1.8 at 0.5, v's roundings barely damped), its
  // sign x's (Q(0) < 0 would make -0 +0). a = |x| from 3/4 to 2^12:
  // log1p(a + a^2 / (1 + sqrt(1 + a^2))), whose terms are all nonnegative;
  // beyond, log(a) + log 2 (asinh(a) - log(2a) = 1 / (4 a^2), below 2^-26
  // there). The sign comes back last (NaN passes through).
  llvm::Value* z0 = k.mul(x, x);
  llvm::Value* q =
      k.horner(z0, {-4.658317620531705e-10, -0.16666652262210846, 0.07499421387910843, -0.04455544427037239,
                    0.02972419001162052, -0.01958693563938141, 0.010308321565389633, -0.0029106868896633387});
  llvm::Value* near = k.copysign(k.fma(x, q, x), x);
  llvm::Value* a = k.abs(x);
  llvm::Value* small = k.b.CreateFCmpOLT(a, k.c(0x1p12));
  llvm::Value* as = k.select(small, a, k.c(1));  // (no a^2 overflow in the lanes not taken)
  llvm::Value* z = k.mul(as, as);
  llvm::Value* v =
      k.add(as, k.div(z, k.add(k.c(1), k.b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, k.add(z, k.c(1))))));
  // One log for both: log1p(v) = log(u) + (v - (u - 1)) / u with u = 1 + v
  // (log1p's correction), and log(a) + log 2 beyond.
  llvm::Value* u = k.add(v, k.c(1));
  llvm::Value* correction = k.select(small, k.div(k.sub(v, k.sub(u, k.c(1))), u), k.c(std::numbers::ln2));
  llvm::Value* mid = k.copysign(k.add(log(k, k.select(small, u, a)), correction), x);
  return k.select(k.b.CreateFCmpOLT(a, k.c(0.75)), near, mid);
}

llvm::Value* log1p_unit(const Ctx& k, llvm::Value* t) {
  llvm::Value* d = k.add(t, k.c(2));
  llvm::Value* err = k.sub(t, k.sub(d, k.c(2)));  // d + err = 2 + t exactly (d - 2 is exact)
  llvm::Value* s0 = k.div(t, d);
  // t / (d + err) = s0 (1 - err / d) to first order, and 1 / d = (1 - s0) / 2.
  llvm::Value* s = k.fma(k.b.CreateFNeg(k.mul(s0, err)), k.mul(k.sub(k.c(1), s0), k.c(0.5)), s0);
  llvm::Value* z = k.mul(s, s);
  llvm::Value* P =
      k.f64 ? k.horner(z, {0.666666666666663, 0.40000000000158886, 0.28571428547702765, 0.22222223977503422,
                           0.18181743673307, 0.1538656523519035, 0.13300901095668527, 0.12106698132044535,
                           0.08337213439776045, 0.1702438103803798})
            : k.horner(z, {0.666664183139801, 0.4002152681350708, 0.2800179421901703, 0.28012046217918396});
  return k.fma(k.mul(s, z), P, k.add(s, s));
}

namespace {
// tools/fit_vmath.py softplus_table: row j's coefficient of r^k.
constexpr float kSoftplusRowWidth = 1.073548436164856f;
constexpr float kSoftplusRowsPerUnit = 0.9314903616905212f;
constexpr std::array<std::array<float, 16>, 7> kSoftplusRows{{
    {0.693147182f, 0.294007182f, 0.110487878f, 0.0391527154f, 0.0135552818f, 0.00465380587f, 0.00159307802f,
     0.000544789305f, 0.000186238845f, 6.36591358e-05f, 2.17587367e-05f, 7.43704868e-06f, 2.54194129e-06f,
     8.68819825e-07f, 2.96957069e-07f, 1.01498017e-07f},
    {-0.49999997f, -0.254728973f, -0.104602769f, -0.0383961387f, -0.0134638241f, -0.00464299507f, -0.00159181049f,
     -0.000544641167f, -0.000186221587f, -6.36571349e-05f, -2.17585093e-05f, -7.43702412e-06f, -2.54193924e-06f,
     -8.68819825e-07f, -2.96957154e-07f, -1.0149806e-07f},
    {0.124999538f, 0.094920896f, 0.0468306616f, 0.0184609629f, 0.00664126826f, 0.00231071422f, 0.000794636377f,
     0.000272171572f, 9.30932147e-05f, 3.18264574e-05f, 1.08789891e-05f, 3.71847477e-06f, 1.27096303e-06f,
     4.34408406e-07f, 1.48478151e-07f, 5.07488913e-08f},
    {4.74832632e-06f, -0.0155175729f, -0.0123458961f, -0.00568144675f, -0.00215410208f, -0.000763040967f,
     -0.000264016213f, -9.06179339e-05f, -3.1017029e-05f, -1.06066127e-05f, -3.62587843e-06f, -1.23937275e-06f,
     -4.23617848e-07f, -1.44790818e-07f, -4.94886763e-08f, -1.69149228e-08f},
    {-0.00523142703f, -0.00109933771f, 0.00170827587f, 0.00119750446f, 0.000509391015f, 0.000187254176f,
     6.56016637e-05f, 2.26116845e-05f, 7.75076569e-06f, 2.65176391e-06f, 9.0665992e-07f, 3.09926037e-07f,
     1.05934866e-07f, 3.62083377e-08f, 1.23758319e-08f, 4.2299857e-09f},
    {5.51107478e-05f, 0.000968186592f, 8.69422729e-05f, -0.000155722053f, -9.08659349e-05f, -3.63665422e-05f,
     -1.30914368e-05f, -4.55358395e-06f, -1.56568638e-06f, -5.362308e-07f, -1.83407593e-07f, -6.27024122e-08f,
     -2.14330189e-08f, -7.32587013e-09f, -2.50395882e-09f, -8.55839677e-10f},
    {0.000291737844f, -9.41826511e-05f, -9.58960445e-05f, 2.60722686e-06f, 1.13077904e-05f, 5.48376693e-06f,
     2.08240863e-06f, 7.36866355e-07f, 2.54822567e-07f, 8.74445689e-08f, 2.99286782e-08f, 1.02341842e-08f,
     3.49853346e-09f, 1.19584109e-09f, 4.08738321e-10f, 1.39704998e-10f},
}};
}  // namespace

llvm::Value* log1p_exp_table(const Ctx& k, llvm::Value* w) {
  llvm::IRBuilderBase& b = k.b;
  llvm::Value* a = b.CreateFNeg(w);
  // a / h + 1.5 * 2^23 rounds a / h to an integer j held in the low mantissa
  // bits (a <= 16.625 keeps j <= 15); t - 1.5 * 2^23 is j exactly.
  const double shifter = 12582912.0;
  llvm::Value* t = k.fma(a, k.c(kSoftplusRowsPerUnit), k.c(shifter));
  llvm::Value* j = k.sub(t, k.c(shifter));
  llvm::Value* r = b.CreateIntrinsic(llvm::Intrinsic::fma, {k.vt}, {j, k.c(-double(kSoftplusRowWidth)), a});
  llvm::Value* row = b.CreateBitCast(t, k.int_vec());
  llvm::Value* p = k.lookup16(row, kSoftplusRows[6]);
  for (int c = 5; c >= 0; --c) p = k.fma(p, r, k.lookup16(row, kSoftplusRows[size_t(c)]));
  return p;
}

}  // namespace actjit::lower::vmath
