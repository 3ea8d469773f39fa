// Vectorized math functions for the kernels. exp, expm1, log, log1p and tanh,
// sin and cos, and in float erfc, erf, asinh, sinh, cosh, atan and tan, are
// emitted inline as polynomial approximations (sin, cos and tan with FMA and
// below |x| = 2^17, double 2^30: SLEEF's beyond, in a rare branch); float
// pow is exp(y log|a|) by the inline double log and exp
// (math/*.cpp); the other transcendentals call SLEEF's vector functions
// (Debian libsleef3; 1.0 ULP "u10" variants, erfc 1.5 ULP) at the kernel's
// own width, e.g. Sleef_sinf16_u10 for <16 x float>; the rest are LLVM
// intrinsics or a few instructions. Never a scalar libm call.
#pragma once

#include <array>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace llvm {
class Module;
class Value;
class Type;
class IRBuilderBase;
class Function;
}  // namespace llvm

namespace actjit::lower {

/// True when `op` is computed by emit_math (the unary/binary math functions).
bool is_math_op(ir::Op op);

/// True when emit_math computes `op` by a call out of line (SLEEF's
/// function, once per register), which clobbers every vector register.
bool calls_out_of_line(ir::Op op, bool is_double);

/// Emits op(a) or op(a, b) on vectors of float or double.
llvm::Value* emit_math(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* a, llvm::Value* second = nullptr);

/// erfc(y / sqrt 2), or erfc(-y / sqrt 2) with `negate` (the normal
/// distribution: gelu), accurate although y / sqrt 2 rounds: in float with
/// the square in the exponent taken from y exactly (inline erfc); in
/// double SLEEF's erfc of the rounded argument plus the first-order
/// correction for its rounding error.
/// `log_form`: float erfc as one exp of log erfcx - y^2/2 (the forward
/// kernels; vmath::erfc_sqrt1_2_times). Double ignores it.
llvm::Value* emit_erfc_over_sqrt2(llvm::IRBuilderBase& b, llvm::Value* y, bool negate, bool log_form);

/// exp(x) for x known to be NaN or in [lo, hi] (a range analysis says so):
/// without the clamps that range makes dead. With a `tail` t, exp(x + t)
/// (vmath::exp_tail: t the rounding error of a computed x).
llvm::Value* emit_exp(llvm::IRBuilderBase& b, llvm::Value* x, double lo, double hi, llvm::Value* tail = nullptr);
/// m / (1 + exp(-(a + tail))): m sigmoid(a) in one division (a's rounding
/// error `tail`, or null), exp clamped on both sides (0 and inf give m and
/// 0) unless |a| <= `bound` (a range analysis says so where the quotient
/// is used; NaN aside) within vmath::kExpUnclampedReach on a target with
/// vscalef: then exp_tail_unclamped (gelu_tanh's forward, |x| <= 30 under
/// its guards, +21%; x sigmoid(1.702 x), whose x sigmoid_times clamps to
/// |1.702 x| <= 120, +10%). The quotient forwards and softplus's backward
/// (lower.cpp sigmoid_times, Emitter's inner sigmoid products).
llvm::Value* emit_sigmoid_quotient(llvm::IRBuilderBase& b, llvm::Value* m, llvm::Value* a, llvm::Value* tail,
                                   double bound = std::numeric_limits<double>::infinity());

/// exp(u - m) times a factor the same for every u (vmath::exp_shifted),
/// for u <= m, where the target has AVX-512's vscalef at this width and FMA
/// (can_exp_shifted). emit_exp_shift(m) emits what depends on m only (the
/// row's part, before its loops); emit_exp_shifted the rest, per element.
using ExpShiftValues = std::array<llvm::Value*, 3>;
ExpShiftValues emit_exp_shift(llvm::IRBuilderBase& b, llvm::Value* m);
llvm::Value* emit_exp_shifted(llvm::IRBuilderBase& b, llvm::Value* u, const ExpShiftValues& shift);
bool can_exp_shifted(const llvm::Function& f, const llvm::Type* vec);
/// The factor exp(m - c) of those values (c = M + j ln2), as a double
/// scalar to double's precision (not emit_exp_shifted's float at u = m).
llvm::Value* emit_exp_shift_factor(llvm::IRBuilderBase& b, llvm::Value* m, const ExpShiftValues& shift);

/// exp(x + tail) = p 2^n unscaled (vmath::exp_parts_guarded), for x known
/// to be NaN or in [lo, hi]; tail may be null. p is 0 below exp_bounds'
/// lo: -1e6 (double) and -2e4 (float) with vscalef, else -1400 and -170.
/// emit_ldexp(v, n) = v 2^n applies n, rounding once: AVX-512's vscalef,
/// else two factors in the normal range (n >= 2 emin, which those bounds keep).
std::pair<llvm::Value*, llvm::Value*> emit_exp_parts(llvm::IRBuilderBase& b, llvm::Value* x, double lo, double hi,
                                                     llvm::Value* tail);
llvm::Value* emit_ldexp(llvm::IRBuilderBase& b, llvm::Value* v, llvm::Value* n);

/// The rounding errors of p = fl(x * y) and s = fl(x + y), exactly
/// (vmath::product_error, vmath::sum_error), emitted in place.
llvm::Value* emit_product_error(llvm::IRBuilderBase& b, llvm::Value* x, llvm::Value* y, llvm::Value* p);
llvm::Value* emit_sum_error(llvm::IRBuilderBase& b, llvm::Value* x, llvm::Value* y, llvm::Value* s);

/// expm1(x) for x known to be NaN or <= hi: a shorter form where hi <= 0.
llvm::Value* emit_expm1(llvm::IRBuilderBase& b, llvm::Value* x, double hi);
/// expm1(x) and exp(x) of the same x in a program with both (elu's y and
/// dy/dx): one reduction and polynomial (vmath::expm1_paired,
/// exp_paired_expm1); `hi` and `expm1_hi` bound expm1's operand where it is
/// used, as emit_expm1's hi (the same in both: then they share instructions).
llvm::Value* emit_expm1_paired(llvm::IRBuilderBase& b, llvm::Value* x, double hi);
llvm::Value* emit_exp_paired_expm1(llvm::IRBuilderBase& b, llvm::Value* x, double expm1_hi);

/// tanh(a), exp(-2|a|) and 4e / (1 + e)^2 from one exp reduction (Emitter::plan): each
/// call computes the shared part, which the optimizer's CSE then merges.
llvm::Value* emit_tanh_paired(llvm::IRBuilderBase& b, llvm::Value* a);
llvm::Value* emit_exp_neg2abs_paired(llvm::IRBuilderBase& b, llvm::Value* a);
llvm::Value* emit_sech2_paired(llvm::IRBuilderBase& b, llvm::Value* a);
/// tanh(a) + z (m 4e / (1 + e)^2) (m: 1 where null), paired as the three
/// above, with their reciprocal factored out (vmath::tanh_plus_sech2_times).
llvm::Value* emit_tanh_plus_sech2_times(llvm::IRBuilderBase& b, llvm::Value* a, llvm::Value* z, llvm::Value* m = nullptr);
/// exp(-2|a|), 0 below exp's normal range, not shared with a tanh.
llvm::Value* emit_exp_neg2abs(llvm::IRBuilderBase& b, llvm::Value* a);
/// The same from e = exp(-|a|), as e * e (vmath::exp_neg2abs_square).
llvm::Value* emit_exp_neg2abs_square(llvm::IRBuilderBase& b, llvm::Value* e);

/// x * erfc(+-y / sqrt 2) with the exponent applied last (one rounding
/// into the subnormals: gelu's x = -13 in float, -37.6 in double): in
/// double everywhere, in float on AVX-512 (the table); null elsewhere (the
/// caller multiplies). x NaN or at most 1e37 in magnitude.
llvm::Value* emit_erfc_over_sqrt2_times(llvm::IRBuilderBase& b, llvm::Value* y, llvm::Value* x, bool negate,
                                        bool log_form);
/// c y erfc(-y / sqrt 2) for a constant c > 0, right for every y (gelu's
/// 0.5 x erfc(-x / sqrt 2) needs no guard for large |x|), where the target
/// has the erfcx table; else null.
llvm::Value* emit_normal_cdf_scaled(llvm::IRBuilderBase& b, llvm::Value* y, double c, bool log_form);
/// a erfc(+-y / sqrt 2) + b y exp(-y^2 / 2) (`negate`: erfc(-y / sqrt 2);
/// gelu's derivative) for constants a and b, as one (vmath::normal_cdf_pdf_sum), right
/// for every y, where the target has the erfcx table; else null.
llvm::Value* emit_normal_cdf_pdf_sum(llvm::IRBuilderBase& b, llvm::Value* y, double a, double c, bool negate);
/// exp(-y^2 / 2) with the square exact (gelu's derivative).
llvm::Value* emit_exp_neg_half_square(llvm::IRBuilderBase& b, llvm::Value* y);

/// log1p(t) for t known to be in [0, 1] or NaN (as exp of a non-positive
/// value: softplus): one division and no exponent split in float; the
/// general log1p in double.
llvm::Value* emit_log1p_unit(llvm::IRBuilderBase& b, llvm::Value* t);

/// log1p(exp(w)) for w in [-kLog1pExpTableBound, 0] (or NaN) from a table
/// of polynomials, no exp (vmath::log1p_exp_table); for functions with
/// 512-bit float vectors on AVX-512F (log1p_exp_table_target) only.
llvm::Value* emit_log1p_exp_table(llvm::IRBuilderBase& b, llvm::Value* w);
bool log1p_exp_table_target(const llvm::Function& f, llvm::Type* vec);
inline constexpr double kLog1pExpTableBound = 16.625;  // the rows' reach (log.cpp)

/// 1 / sqrt(x) for x known to be in the normal range of float and finite,
/// by AVX-512's estimate refined once (vmath::rsqrt), where the function has
/// 512-bit vectors on AVX-512F; else null (take sqrt and divide).
llvm::Value* emit_rsqrt_normal(llvm::IRBuilderBase& b, llvm::Value* x);

/// sqrt(1 + u) - 1 without a division (the stabilizer writes it
/// u / (sqrt(u + 1) + 1), whose square root and division share one unit):
/// s - 1 plus the first-order correction (e - (s^2 - t)) / (2 s), with
/// t = 1 + u rounded, e its rounding error, s = sqrt(t) and 1 / (2 s) taken
/// as max(1 - (s - 1), 0) / 2 (the correction is all of the result only
/// for s near 1, where that is 1/(2s) to (s - 1)^2; past s = 2 it is under
/// an ULP and left out). With `a` (u = a * a) t and e come from
/// fma(a, a, 1) and fma(a, a, 1 - t), exact for a^2 too. Float within 1.94
/// ULP over all u (1.70 for u = a * a; the quotient 3.19), the same maxima
/// as with 1/(2s) to (s - 1)^4; double alike. Null without FMA.
llvm::Value* emit_sqrt1p_minus1(llvm::IRBuilderBase& b, llvm::Value* u, llvm::Value* a);

/// Rewrites each multiplication of a float or double vector by a splat
/// constant 2^k (k other than 0 and 1) in `m`'s functions as AVX-512's
/// vscalef by k, where the vector is whole 512-bit registers on an
/// AVX-512F target that is an AMD Zen (target-cpu znver*). The result is the same in every case (NaN,
/// infinities, zeros, subnormals: vscalef rounds once, as the product
/// does), but it runs beside the multiply units, which bound the
/// transcendental kernels, instead of in them (Zen 4: four vscalefps
/// beside eight FMAs cost nothing, four vmulps four cycles). A product by
/// 2 is the code generator's x + x already; by -2^k it is left alone (a
/// negation would flip a NaN's sign). Run after the optimizer, so that
/// InstCombine's folds of constant products come first.
void scale_by_powers_of_two(llvm::Module& m);

/// Gives the code generator the splat vector constants of `m`'s functions
/// as loads of whole registers from private constants, where the function
/// targets an AMD Zen (target-cpu znver*) with 512-bit registers: the
/// floating-point operands of arithmetic, comparisons, selects, min/max,
/// fma, vscalef and vrange, the integer ones of add, sub, compares and
/// min/max, and the masks of |x| and copysign(a, b) (which become those
/// bitwise operations). -C beside a + or - or in an fma becomes C with the
/// operation's sign turned (a + -C is a - C), so that C and -C share one
/// register, as the code generator's own folds had them.
/// Left as they are, where the code generator's view of the constant makes
/// better code: zeros and all-ones (idioms that load nothing), x * 2
/// (x + x), select(c, 1, 0) (y * select(c, 1, 0) is select(c, y, 0)),
/// shift amounts, other bitwise operations (a loaded operand turns them
/// into vpternlogd, a multiply-unit instruction on Zen 4), |x| where -|x|
/// is used too (x | sign, or a negation folded into an FMA), copysign of a
/// constant, and other intrinsics' arguments. The kernels' results are the
/// same, bit for bit (NaN signs included; checked for the forward and
/// backward kernels of the catalogue and the composites, 4M inputs each).
/// Why: LLVM keeps a splat in the constant pool, loads it again inside a
/// loop whose values do not fit the 32 registers (10-15 such loads in a
/// loop of four registers of gelu's or gelu_tanh's), and its
/// X86FixupVectorConstants pass makes every such load a vbroadcastss. On
/// Zen 4 a broadcast from memory takes a floating-point pipe slot (16 added
/// to gelu's loop cost 0.85 cycles each) where a whole register's load
/// costs nothing beside the FMAs (BENCHMARKS.md, forty-fifth sitting).
/// Run on the optimized IR just before code generation: `actjit ir` shows
/// the IR without it.
void load_splat_constants(llvm::Module& m);

/// Whether the function being emitted into targets a CPU with FMA.
bool has_fma(llvm::IRBuilderBase& b);
/// x with its magnitude capped at `cap` (sign kept, NaN made +-cap) in one
/// vrange a register where the target has AVX-512DQ on 512-bit registers;
/// else null.
llvm::Value* emit_clamp_magnitude(llvm::IRBuilderBase& b, llvm::Value* x, double cap);

/// Every external symbol the emitted code may call (the vetted list the JIT
/// resolves, and nothing else).
std::vector<std::string> external_math_symbols();

}  // namespace actjit::lower
