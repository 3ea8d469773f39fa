// The per-op emitter shared by the elementwise and row-wise kernels: turns
// the IR nodes reachable from some roots into <W x T> LLVM values. Leaves
// that depend on where the kernel is (the input's views, dy, reductions)
// come from a callback; values already computed (row scalars) from a map.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <llvm/IR/IRBuilder.h>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {
class Ranges;
struct Interval;
}

namespace actjit::lower {

/// The kernel's parameters as splat vectors: `value`, each rounded to T;
/// and in float kernels (empty in double ones) each double parameter split
/// as hi + lo, hi rounded toward zero and lo of the parameter's sign,
/// `inexact` where lo is not 0 (the parameter is not a float). A product
/// p * v + w then takes p's double value (fma(v, lo, fma(v, hi, w)), lo's
/// sign keeping v = inf from inf - inf): near a cancellation, as in
/// hardsigmoid's slope * x + offset at x = -3 with slope = 1/6, the float
/// rounding of p would be all the result has. Where p is a float it is the
/// one rounding of fma(v, p, w), as exact as the plain form.
struct ParamValues {
  std::vector<llvm::Value*> value, hi, lo, inexact;
};

/// Where exp's argument is at least this, its value is normal in float
/// and double: a * (e / (1 + e)) loses nothing that scaling would keep.
inline constexpr double kScaledProductBar = -80;

class Emitter {
 public:
  using Leaf = std::function<llvm::Value*(ir::NodeId)>;
  Emitter(const ir::Graph& g, llvm::IRBuilder<>& b, llvm::Type* vec, ParamValues params)
      : g_(g), b_(b), vec_(vec), params_(std::move(params)) {}

  /// Values of `roots`, then of `also` (nodes the roots reach, whose values
  /// a caller watches: they do not count as uses, so the code of the roots
  /// stays what it would be without them). `leaf(id)` gives Input,
  /// Cotangent and reduction nodes; nodes in `known` are taken from there
  /// (their operands are not visited). Reduction operands are never visited.
  /// `all`, if given, receives the value of every node emitted.
  /// Where the roots reach rare where()s (ir::rare_where) and neither
  /// `known` nor `all` is given, their conditions come first and the rest
  /// twice: with each rare branch for registers where some lane takes one
  /// (a branch, weighted unlikely), as the other branch alone for the rest.
  std::vector<llvm::Value*> emit(const std::vector<ir::NodeId>& roots, const Leaf& leaf,
                                 const std::unordered_map<ir::NodeId, llvm::Value*>* known = nullptr,
                                 const std::vector<ir::NodeId>& also = {},
                                 std::unordered_map<ir::NodeId, llvm::Value*>* all = nullptr);
  /// The rounding error of the value emit() gave `id` (`all`: its values,
  /// by emit's last argument), as exp takes an argument's tail, into
  /// `tail` (null where that value is exact); false where the error is not
  /// followed (rounding_error).
  bool argument_tail(ir::NodeId id, const std::unordered_map<ir::NodeId, llvm::Value*>& all, llvm::Value*& tail) const;

  /// tanh's derivative 4e / (1 + e)^2, e = exp(-2|a|) (diff.cpp), over a
  /// program (`all_roots`; `derivative_roots` its derivatives), decided
  /// alike for every kernel of it:
  /// - an e used in nothing but that form is flushed to 0 below exp's normal
  ///   range (math/exp.cpp; the derivative is then below 5e-38 in float):
  ///   subnormal intermediates cost a microcode assist per instruction
  ///   (telu's backward ran 2.5x slower on x in [3.8, 3.9]);
  /// - where the derivatives need tanh(a) too (telu, x * tanh(exp(x))),
  ///   that tanh is "paired": with set_pairing(true) it comes from e's
  ///   reduction, as -v r with v = expm1(-2|a|), r = 1 / (2 + v), and the
  ///   derivative's 4e / (1 + e)^2 as 4e r r: one exp and one division.
  ///   Forwards keep float's half-angle rational (no exp, math/tanh.cpp);
  ///   backward kernels pair; the fused kernel emits y unpaired and the
  ///   derivative paired, reusing what does not depend on a paired tanh
  ///   (reusable()), so it gives what the other two give, bit for bit;
  /// - a sum tanh(a) + z 4e / (1 + e)^2 of a paired tanh and its derivative
  ///   (the product rule's, f = z tanh(a)) is emitted as r (-v + z 4e r)
  ///   (tanh's sign on -v): one reciprocal rounding for both terms, which
  ///   cancel at telu's derivative zero;
  /// - an e not paired, in a kernel that has emitted exp(-|a|) before it
  ///   (sigmoid(a)'s or softplus(a)'s: x sigmoid(x) + 0.1 tanh(x)'s
  ///   backward), is that exp's square (emit_exp_neg2abs_square), flushed
  ///   alike: one product instead of a second exp. Only where that exp's
  ///   value is right for every a e is needed at (emit() decides it from
  ///   the ranges where each is used: not under softplus's x <= 20 guard),
  ///   so a fused kernel, whose exp(-|a|) may serve its y too, can decide
  ///   otherwise than the backward kernel (the derivative then differs
  ///   by the square's rounding, a few ULP).
  ///
  /// Also: the product rule's sum for z sigmoid(a), sigmoid(a) + (f1 * ...
  /// * e / (d d) * ...) with sigmoid's where(c, 1, e) / d, d = 1 + e, e =
  /// exp(-|a|) (the backwards of silu, swish, gelu_tanh, x sigmoid(k x)),
  /// is one quotient (w d + z e) / (d d), z = f1 * ...: one division where
  /// the terms took one each (silu's float backward +10-20%, gelu_tanh's
  /// +5-10%), about half a ULP more over all floats (silu 2.31 -> 2.78,
  /// gelu_tanh 2.55 -> 3.06; as r (w + z e r), r = 1 / d, 3.06 and 3.39).
  /// d is in [1, 2]: d d neither overflows nor underflows.
  ///
  /// Also: where(v >= 0, -v, v) (or v > 0) used only by exp becomes -|v|,
  /// one OR of the sign bit instead of a compare, a negation and a blend
  /// (sigmoid, swish, softplus: exp(-|v|)); its zero may have the other
  /// sign, which exp does not see.
  void plan(const std::vector<ir::NodeId>& all_roots, const std::vector<ir::NodeId>& derivative_roots);
  /// Products a * (where(c, 1, e) / (e + 1)) with e = exp(w), w <= 0
  /// (swish's x * sigmoid(x), glu's a * sigmoid(b)) among `roots`, emitted
  /// with e's exponent applied last: ldexp(a * (where(c, 1, p / 2) / (e +
  /// 1)), where(c, 0, n + 1)) for e = p 2^n. Where e is subnormal (or 0) the
  /// product, which need not be, then rounds once instead of carrying e's
  /// lost bits: float64 swish at x = -738 was 341 ULP off, glu's float
  /// rows 99. For kernels without the float32 kernels' recomputation of
  /// such lanes in float64 (float64 kernels, row-wise kernels); ldexp is
  /// vscalef on AVX-512, two exponent-field factors elsewhere (where p is
  /// 0 below exp(-170) in float: a * sigmoid(b) for |a| > 8e35 only). The halving keeps a * p finite for any finite a;
  /// where a is known to be far below T's largest value, p and n as they are.
  /// Also products a * g(e) that are a * slope * e (1 + c2 e) for small e
  /// (mish, telu: TinyProduct), by the same p and n where e < 2^-27.5.
  void plan_scaled_products(const std::vector<ir::NodeId>& roots);
  /// Off: the scaled products (not the tiny ones) are emitted as the plain
  /// products they replace, and their exps whole: exact where each exp's
  /// argument is at least kScaledProductBar (its value normal). On by default.
  void set_scaling(bool on) { scaling_ = on; }
  /// On: float erfc(+-y / sqrt 2) and its products as one exp of log
  /// erfcx - y^2/2 (emit_erfc_over_sqrt2's log_form): for the forward
  /// kernels. The backward and fused kernels keep erfcx and exp(-y^2/2)
  /// apart, which the derivative's density term shares. Off by default.
  void set_erfc_log_form(bool on) { erfc_log_form_ = on; }
  /// Products m * sigmoid(a) (ir::sigmoid_form, the product its only use)
  /// inside a float function whose kernel watches exp's underflow band and
  /// whose caller recomputes such lanes (KernelBuilder::forward), emitted
  /// as m / (1 + exp(-a)) with a's rounding error in exp's argument: one
  /// division, no select (as the quotient forward does for the whole
  /// function). Returns the exp operands (-|a|) the caller must watch.
  std::vector<ir::NodeId> plan_sigmoid_quotients(const std::vector<ir::NodeId>& roots);
  /// The arguments of the scaled products' exps, where the program has
  /// scaled products and no tiny ones (set_scaling serves such programs);
  /// else none.
  std::vector<ir::NodeId> scaled_exp_arguments() const;
  /// softmax's exp(u - max(u)) (the max under stop_gradient or not) where
  /// what `roots` compute does not change when every value of that exp is
  /// multiplied by the same positive number (e / sum(e), and the
  /// vector-Jacobian product from it: each root is of degree 0 in e,
  /// below): emitted as emit_exp_shifted, exp(u - c) for a c within ln2/2
  /// of the max, whose reduction of u itself is exact. Without it the
  /// subtraction's rounding joins exp's reduction (TwoSum and its guard, nine more
  /// instructions an element). Targets with vscalef and FMA only; not
  /// the exps in `exact` (those summed with the maxima counted apart). A
  /// sum in `normalized` is of degree 0 (its caller divides it by the
  /// factor: shift_factor).
  /// Degrees: e is 1; a product adds, a quotient subtracts, a sum,
  /// difference, min, max, where or comparison takes operands of one
  /// degree (a comparison is of degree 0), a negation, |.|, reduction or
  /// stop_gradient keeps it; any other operation must get degree 0.
  void plan_shifted_exps(const std::vector<ir::NodeId>& roots, const std::unordered_set<ir::NodeId>& exact,
                         const std::unordered_set<ir::NodeId>& normalized);
  /// The factor exp(max - c) by which exp node `e`'s values differ from
  /// exp(u - max), as a double scalar (m: the max's value); null where `e`
  /// is not shifted.
  llvm::Value* shift_factor(ir::NodeId e, llvm::Value* m);
  /// Emits, at the builder's place, what those exps take from their max
  /// alone (emit_exp_shift), for each whose max is in `known` (row
  /// scalars) and has none yet: before a row's loops, once.
  void prepare_shifted_exps(const std::unordered_map<ir::NodeId, llvm::Value*>& known);
  void set_pairing(bool on) { pairing_ = on; }
  bool has_paired_tanh() const { return !paired_tanh_.empty(); }
  /// The values of `values` that do not depend on a paired tanh.
  std::unordered_map<ir::NodeId, llvm::Value*> reusable(const std::unordered_map<ir::NodeId, llvm::Value*>& values) const;

 private:
  /// x^n as multiplications when `pow`'s exponent is an integer constant
  /// in [2, kMaxUnrolledPower] (x^2 never gets here: the simplifier makes it
  /// x * x), else null (the caller calls pow).
  /// With `tail` (x's rounding error, or null where x is exact) it also
  /// sets *tail_out to the power's: the rounding errors of its products
  /// (rounding_error).
  llvm::Value* small_integer_power(const ir::Node& pow, llvm::Value* x, llvm::Value* tail = nullptr,
                                   llvm::Value** tail_out = nullptr) const;
  static constexpr double kMaxUnrolledPower = 16;

  /// a + b or a - b (`n`) as fma(v, lo, fma(v, hi, w)) when one side is a
  /// parameter times v and the target has FMA (float kernels), else null.
  llvm::Value* param_product_sum(const ir::Node& n, const std::vector<llvm::Value*>& v) const;

  /// a*a + a*2^j (either order; tanh(softplus(b))'s n = e e + 2 e, stabilize.cpp
  /// tanh_of) as fmuladd(a, a, a 2^j): one rounding where the sum had two;
  /// else null.
  llvm::Value* square_plus_double(const ir::Node& n, const std::vector<llvm::Value*>& v) const;
  /// A float kernel's kWideSum Add (a Horner step h v + c): the chain below
  /// it in double (multiply-adds; constants at their double value, other
  /// leaves extended), rounded once to float. `wide` holds the chain's
  /// double values for the steps above.
  llvm::Value* wide_sum(ir::NodeId id, const std::vector<llvm::Value*>& v,
                        std::unordered_map<ir::NodeId, llvm::Value*>& wide);

  /// A Horner chain c0 + z (c1 + z (c2 + ... + z cn)) of six or more
  /// terms (the stability rewrites' series, stabilize.cpp polynomial, are
  /// sized for double at their widest argument) with the terms past the
  /// precision's need left out, where the ranges bound |z| over the lanes
  /// that use the chain by Z: those k > m with sum |ck| Z^k below 2^-(p+3)
  /// (p: the precision's bits) of a lower bound of the chain's magnitude,
  /// |c0| - sum |ck| Z^k (none where that is not positive). Else null.
  llvm::Value* cut_series(ir::NodeId id, const std::vector<llvm::Value*>& v, const ir::Ranges& ranges) const;

  /// Max (Min) where `n` is where(l > e or (l != l and e == e), l, e)
  /// (with <: Min), maxout's step, whose value is the language's max(l, e);
  /// else nothing.
  std::optional<ir::Op> first_nan_extreme(const ir::Node& n) const;

  /// u / (sqrt(u + 1) + 1), the stabilizer's sqrt(u + 1) - 1, as
  /// emit_sqrt1p_minus1 (no division); else null.
  llvm::Value* sqrt1p_minus1(const ir::Node& n, const std::vector<llvm::Value*>& v) const;

  /// c * x in float kernels, for a constant c > 1 in magnitude that float
  /// does not hold and an x the product may overflow with, as
  /// fma(x, hi, x * lo) (c = hi + lo, hi rounded toward zero): where c
  /// rounded up would overflow a product whose exact value is finite (selu
  /// at the last floats of the range). Else null.
  llvm::Value* constant_product(ir::NodeId id, const std::vector<llvm::Value*>& v, const ir::Ranges& ranges) const;

  /// The rounding error of node `id`'s emitted value v[id]: v[id] + t is
  /// the node's exact value (to about twice T's precision) for inputs and
  /// parameters as given. `t` is null where v[id] is exact; `ok` is false
  /// where some node on the way is not + - * / (by a constant or any
  /// value), a small integer power, a negation, |.|, where, a constant, a
  /// parameter or an input. For exp's argument (the relative error of exp
  /// is the absolute error of its argument: up to 88 ULP per rounding of
  /// an argument near -88 in float): gelu_tanh's cubic, x * sigmoid(c x),
  /// swish's beta x. Float constants and parameters count with their double
  /// values; double kernels take the IR's doubles as exact.
  struct Tail {
    bool ok = false;
    llvm::Value* t = nullptr;
  };
  /// t times the sign of `by` (negated with `negate`): the rounding error
  /// of |a| or -|a| from a's, by = a.
  llvm::Value* flip_sign(llvm::Value* t, llvm::Value* by, bool negate) const;
  /// The rounding error of p = a * b where a and b carry errors ta and tb
  /// (null: exact): fma(a, b, -p) + a tb + ta b, the first term only where
  /// the product `rounds` (not by a power of two). Null where all is exact.
  llvm::Value* product_tail(llvm::Value* a, llvm::Value* ta, llvm::Value* b, llvm::Value* tb, llvm::Value* p,
                            bool rounds) const;
  /// a * b + c (fused where the target has FMA), or a * b where c is null.
  llvm::Value* mul_add(llvm::Value* a, llvm::Value* b, llvm::Value* c) const;
  Tail rounding_error(ir::NodeId id, const std::vector<llvm::Value*>& v, std::unordered_map<ir::NodeId, Tail>& memo) const;

  /// (y, negate) when erfc node `erfc` is erfc(y / sqrt 2) or erfc(-y / sqrt 2)
  /// (negate), y emitted; else (kNoNode, _).
  std::pair<ir::NodeId, bool> normal_cdf_operand(ir::NodeId erfc, const std::vector<llvm::Value*>& v) const;
  /// Product `id` of x and erfc(+-y / sqrt 2) (erfc_products_) as one, with
  /// erfc's exponent applied last (emit_erfc_over_sqrt2_times), where x is
  /// finite and the target has it; else null. Where x = c y (c > 0) and
  /// the erfc is erfc(-y / sqrt 2) (gelu), emit_normal_cdf_scaled's form,
  /// recorded in `complete`.
  /// The nodes emitted in a form right for every y (emit_normal_cdf_scaled's
  /// c y erfc(-y / sqrt 2), emit_normal_cdf_pdf_sum's sums) in one emit
  /// call, with their values where |y| is past erfc's cap: `below` for
  /// y < -cap, above + slope y for y > cap.
  struct Saturation {
    ir::NodeId y;
    double below, above, slope;
  };
  using NormalCdfMap = std::unordered_map<ir::NodeId, Saturation>;
  llvm::Value* erfc_product(ir::NodeId id, const std::vector<llvm::Value*>& v, const ir::Ranges& ranges,
                            NormalCdfMap& complete) const;
  /// Sum or difference `id` of a erfc(+-y / sqrt 2) and b y exp(-(y / sqrt
  /// 2)^2) (gelu's derivative), a and b constants (the products of the
  /// constant factors each side has), as emit_normal_cdf_pdf_sum, recorded
  /// in `complete`; else null.
  llvm::Value* normal_cdf_pdf_sum(ir::NodeId id, const std::vector<llvm::Value*>& v, NormalCdfMap& complete) const;
  /// For where(y > T, A, b) and where(y < -T, B, b) (also >=, <=), T at
  /// least 40, whose b is one of `complete` for y (or another of these
  /// wheres of one), A and B its values there (A a constant or a constant
  /// times y, B a constant): that node, whose value the where's branch is
  /// already (erfc's tail is 0 past its cap, 15.49 in float and 40 in
  /// double); else kNoNode. gelu's guards cost four instructions a register.
  ir::NodeId saturated_where(ir::NodeId id, const NormalCdfMap& complete) const;
  /// y where exp node `exp` is exp(-(y / sqrt 2)^2) with y emitted, the
  /// normal density's (over_sqrt2); else kNoNode.
  ir::NodeId half_square_exp_operand(ir::NodeId exp, const std::vector<llvm::Value*>& v) const;

  /// y when `id` is y / sqrt(2) or y * (+-1 / sqrt(2)) with y already emitted
  /// (in `v`), else kNoNode; `negated` tells y * (-1 / sqrt(2)).
  ir::NodeId over_sqrt2(ir::NodeId id, const std::vector<llvm::Value*>& v, bool* negated = nullptr) const;

  /// v where `id` is where(v >= 0, -v, v) or where(v > 0, -v, v) (-|v| up
  /// to the sign of a zero); else kNoNode.
  ir::NodeId neg_abs_operand(ir::NodeId id) const;

  /// a where `id` is exp(-2|a|) (or exp(-2a) for a = exp(w)): tanh's
  /// derivative; else kNoNode.
  ir::NodeId neg2abs_operand(ir::NodeId id) const;

  /// Sum node `n` as t + (f1 * ... * s * ...) (either order), t an operand
  /// is_term(t) takes and s one of the other operand's product leaves (at
  /// most five) is_slope(t, s) takes: t and the other leaves (the product
  /// rule's sums, plan); else nullopt.
  template <class Term, class Slope>
  std::optional<std::pair<ir::NodeId, std::vector<ir::NodeId>>> term_plus_slope(const ir::Node& n, Term is_term,
                                                                                Slope is_slope) const;

  /// emit() without its split at rare where()s; those in `rare_as_else_`
  /// are emitted as their second branch.
  std::vector<llvm::Value*> emit_values(const std::vector<ir::NodeId>& roots, const Leaf& leaf,
                                        const std::unordered_map<ir::NodeId, llvm::Value*>* known,
                                        const std::vector<ir::NodeId>& also,
                                        std::unordered_map<ir::NodeId, llvm::Value*>* all);
  std::unordered_set<ir::NodeId> rare_as_else_;

  /// a where `id` is exp(-|a|): of where(a >= 0, -a, a) (sigmoid's,
  /// softplus's) or of -|a|; else kNoNode.
  ir::NodeId neg1abs_operand(ir::NodeId id) const;

  /// Whether where node `where`, where(c, a, b) with c a comparison of x
  /// with a constant, may be b: b gives a's value, bit for bit in this
  /// kernel's precision, wherever c holds (same_value, over the ranges of
  /// x restricted to c's lanes). softplus's guards in float: x + log1p(exp(-x))
  /// rounds to x past 20, and its value below -800 is +0. emit() takes
  /// such wheres as b in float kernels, and its ranges with them (b's
  /// operands are then not bounded by the guard: exp keeps its clamps).
  bool guard_gives_branch(ir::NodeId where) const;
  /// Whether node `b` gives node `a`'s value (the input or a constant),
  /// bit for bit in the precision (`f64`), for every x in the lanes
  /// `ranges` describes: the same node; a where whose condition the ranges
  /// decide (emitted as a select), by its branch; b = p + q with p giving
  /// a and q too small to move it (at most a quarter of a's ULP at a's
  /// least magnitude, which holds across a power of two, ties going to a's
  /// even mantissa there), or with a a +0 constant and q exactly 0 (+0 + q
  /// is +0 for either zero).
  bool same_value(ir::NodeId b, ir::NodeId a, const ir::Ranges& ranges, bool f64) const;
  /// The exp node of log1p(exp(w)) node `log1p` where the table form
  /// (log1p_exp) may apply: w <= 0, the exp in the general form; else
  /// kNoNode. emit() takes the table where w also has no rounding error
  /// for exp to take (rounding_error: softplus's -|x|, not a run-time
  /// beta's -|beta x|).
  ir::NodeId table_exp_operand(ir::NodeId log1p, const ir::Ranges& ranges) const;
  /// log1p(exp(w)) from the table (emit_log1p_exp_table) for the lanes
  /// where w is at least -kLog1pExpTableBound, as e (1 - e/2), e = exp(w),
  /// for the others: a branch on the whole vector, whose rare side (some
  /// lane past the table) computes both and selects, so that a lane's
  /// value never depends on its neighbours. e is `e` where the caller
  /// emitted it, else emitted on that side (`used`: exp's argument range).
  /// softplus's forward 2.3 -> 3.0 e/ns here (float, 16Ki, inputs in
  /// [-8, 8]; 4.3 with its guards left out: guard_gives_branch).
  llvm::Value* log1p_exp(llvm::Value* w, llvm::Value* e, const ir::Interval& used);

  /// plan's choice: the paired tanh nodes, and the a of each flushed
  /// exp(-2|a|) node (lowered by exp_neg2abs_paired).
  std::unordered_set<ir::NodeId> paired_tanh_;
  std::unordered_map<ir::NodeId, ir::NodeId> flushed_exp_;
  std::unordered_set<ir::NodeId> paired_args_;  // the a of each paired tanh
  std::unordered_set<ir::NodeId> neg_abs_where_;  // where(v >= 0, -v, v) used only by exp: -|v|
  std::unordered_map<ir::NodeId, ir::NodeId> paired_sech2_;  // 4e / (1 + e)^2 nodes -> a
  /// Every 4e / (1 + e)^2 node (tanh's derivative) -> its e: emitted, where
  /// not paired, as e / h^2 with h = e/2 + 1/2 (one FMA; the 4 and the
  /// halves are exact scalings: the same value, one multiplication fewer).
  std::unordered_map<ir::NodeId, ir::NodeId> sech2_quotients_;
  /// a -> expm1(a) where the program also takes exp(a) (emit_expm1_paired).
  std::unordered_map<ir::NodeId, ir::NodeId> expm1_of_;
  /// tanh(a) + f1 * ... * 4e / (1 + e)^2 * ... sums (of a paired tanh and
  /// its 4e / (1 + e)^2): emit_tanh_plus_sech2_times(a, f2 * ..., f1).
  struct TanhSum {
    ir::NodeId a;
    std::vector<ir::NodeId> factors;
  };
  std::unordered_map<ir::NodeId, TanhSum> tanh_sums_;
  /// sigmoid(a) + f1 * ... * e / (1 + e)^2 * ... sums (sigmoid_form's
  /// where(c, 1, e) / d, d = e + 1, and its derivative's e / (d d)):
  /// (w d + z e) / (d d), z the other factors: one division for both.
  struct SigmoidSum {
    ir::NodeId w, d, e;
    std::vector<ir::NodeId> factors;
  };
  std::unordered_map<ir::NodeId, SigmoidSum> sigmoid_sums_;
  /// Whether every value a SigmoidSum takes is emitted (in `v`).
  static bool sigmoid_sum_ready(const SigmoidSum& s, const std::vector<llvm::Value*>& v);
  std::unordered_map<ir::NodeId, ir::NodeId> erfc_products_;  // x * erfc(...) -> the erfc
  bool has_erfc_ = false;  // plan saw an erfc node (normal_cdf_pdf_sum looks only then)
  /// The p and n of each split exp node emitted so far (emit's).
  using ExpPartsMap = std::unordered_map<ir::NodeId, std::pair<llvm::Value*, llvm::Value*>>;
  /// Product `id` as scaled_products_ (tiny_products_) has it, where the
  /// parts of its exp and its operands are emitted; else null.
  llvm::Value* scaled_product(ir::NodeId id, const std::vector<llvm::Value*>& v, const ExpPartsMap& exp_parts) const;
  llvm::Value* tiny_product(ir::NodeId id, const std::vector<llvm::Value*>& v, const ExpPartsMap& exp_parts) const;
  /// An ExpDiv's parts as emitted: its exp e (of a, or of a/2 past the
  /// split), e / b, where a is past the split, and where b overflowed.
  struct ExpDivParts {
    llvm::Value *e, *q, *big, *lost;
  };
  using ExpDivMap = std::unordered_map<ir::NodeId, ExpDivParts>;
  /// exp(a) / b * m with an ExpDiv operand: past the split e * (q * m), so
  /// that the product overflows only where it does, not where exp(a) / b
  /// does (expm1(x) / x's derivative, exp(x) / x * (1 - 1/x), is finite up
  /// to 1% past where exp(x) / x is not); else null.
  llvm::Value* exp_div_product(const ir::Node& n, const std::vector<llvm::Value*>& v, const ExpDivMap& exp_divs) const;
  /// (e, slope, c2) when g is tanh(e) or mish's rational of e
  /// (TinyProduct), e an exp node; else e = kNoNode.
  struct TinySeries {
    ir::NodeId e = ir::kNoNode;
    double slope = 0, c2 = 0;
  };
  TinySeries tiny_series(ir::NodeId g) const;
  /// plan_scaled_products' products: a, the where (its condition), e, e + 1,
  /// and whether p is halved (a may be near T's largest value).
  struct ScaledProduct {
    ir::NodeId a, where, e, den;
    bool halve;
  };
  std::unordered_map<ir::NodeId, ScaledProduct> scaled_products_;
  /// Products a * g(e) whose g(e) is slope * e * (1 + c2 e) to double's
  /// precision for e = p 2^n < 2^-27.5 (n < -28): tanh(e) (slope 1, c2 0;
  /// telu), (e e + k1 e) / (e e + k1 e + k2) (k1 / k2 and 1/k1 - k1/k2;
  /// mish's rational), either possibly as where(c, 1, g). There (and where
  /// c is false) scalef(a * (h + h c2 e), n + 1) with h = p slope / 2 (or
  /// scalef(a * (h + h c2 e), n), h = p slope, where a is bounded), else
  /// the product as it was: mish and telu in double at x < -708 (341 ULP)
  /// and mish's 4.1 ULP at x = -27 (the rational's four roundings).
  struct TinyProduct {
    ir::NodeId a, g, e, cond;  // cond: kNoNode, or the where's condition
    double slope, c2;
    bool halve;  // as ScaledProduct's: a may be near T's largest value
  };
  std::unordered_map<ir::NodeId, TinyProduct> tiny_products_;
  /// plan_shifted_exps' exp nodes -> (u, the node subtracted: the max of u)
  std::unordered_map<ir::NodeId, std::pair<ir::NodeId, ir::NodeId>> shifted_exps_;
  /// prepare_shifted_exps' values, by the max's value
  std::unordered_map<llvm::Value*, std::array<llvm::Value*, 3>> exp_shifts_;
  /// Those of max value m (emitted here where not prepared).
  std::array<llvm::Value*, 3> shift_values(llvm::Value* m);
  std::unordered_set<ir::NodeId> split_exps_;  // their e nodes: emitted as p 2^n, p and n kept
  /// Whether exp node `id` is lowered paired: with pairing on, a flushed
  /// exp(-2|a|) whose tanh(a) is paired.
  bool paired_exp(ir::NodeId id) const;
  bool pairing_ = false;
  bool scaling_ = true;
  bool erfc_log_form_ = false;
  /// plan_sigmoid_quotients' products -> (m, a)
  std::unordered_map<ir::NodeId, std::pair<ir::NodeId, ir::NodeId>> sigmoid_quotients_;
  llvm::Value* sigmoid_quotient(ir::NodeId id, const std::vector<llvm::Value*>& v) const;

  const ir::Graph& g_;
  llvm::IRBuilder<>& b_;
  llvm::Type* vec_;
  ParamValues params_;
};

}  // namespace actjit::lower
