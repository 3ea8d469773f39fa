// The per-op emitter (see emitter.hpp).
#include "compiler/lower/emitter.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "compiler/ir/forms.hpp"
#include "compiler/ir/range.hpp"
#include "compiler/ir/row.hpp"
#include "compiler/lower/math.hpp"

namespace actjit::lower {

using ir::NodeId;
using ir::Op;

NodeId Emitter::over_sqrt2(NodeId id, const std::vector<llvm::Value*>& v, bool* negated) const {
  // y / sqrt(2), or y * (+-1 / sqrt(2)) as the textbook gelu may write it (the
  // constants rounded to double: the same y / sqrt(2) to within 2^-53);
  // `negated`: y * (-1 / sqrt(2)), -y / sqrt(2)
  const ir::Node& q = g_[id];
  if ((q.op != Op::Div && q.op != Op::Mul) || !g_.is_const(q.args[1]) || q.args[0] >= v.size() || v[q.args[0]] == nullptr)
    return ir::kNoNode;
  double c = g_.const_value(q.args[1]);
  bool div = q.op == Op::Div && c == std::sqrt(2.0), mul = q.op == Op::Mul && std::fabs(c) == std::sqrt(0.5);
  if (negated) *negated = mul && c < 0;
  return div || mul ? q.args[0] : ir::kNoNode;
}

std::pair<NodeId, bool> Emitter::normal_cdf_operand(NodeId erfc, const std::vector<llvm::Value*>& v) const {
  NodeId arg = g_[erfc].args[0];
  bool negate = g_[arg].op == Op::Neg, negated = false;
  if (negate) arg = g_[arg].args[0];
  NodeId y = over_sqrt2(arg, v, &negated);
  return {y, negate != negated};
}

llvm::Value* Emitter::erfc_product(NodeId id, const std::vector<llvm::Value*>& v, const ir::Ranges& ranges,
                                   NormalCdfMap& complete) const {
  auto found = erfc_products_.find(id);
  if (found == erfc_products_.end()) return nullptr;
  const ir::Node& n = g_[id];
  int side = n.args[0] == found->second ? 0 : 1;  // the erfc's
  NodeId x = n.args[1 - side];
  auto [y, negate] = normal_cdf_operand(found->second, v);
  if (y == ir::kNoNode || !v[x]) return nullptr;
  // x = c y (gelu's 0.5 x) with erfc(-y / sqrt 2): c y Phi(y) as one, right
  // for every y (c at most 1e6: c |y| h p stays finite).
  if (negate) {
    double c = x == y ? 1 : 0;
    const ir::Node& f = g_[x];
    if (f.op == Op::Mul)
      for (int k = 0; k < 2; ++k)
        if (f.args[k] == y && g_.is_const(f.args[1 - k])) c = g_.const_value(f.args[1 - k]);
    if (c > 0 && c <= 1e6)
      if (llvm::Value* r = emit_normal_cdf_scaled(b_, v[y], c, erfc_log_form_)) {
        complete[id] = Saturation{y, 0, 0, 2 * c};
        return r;
      }
  }
  // The product form applies erfc's 2^n after multiplying by x: where |y|
  // is past erfc's cap (15.49 in float, 40 in double) x p 2^n must still
  // underflow to the 0 that erfc is there, so |x| at most 1e6 (float) /
  // 1e20 (double) where the product is used (the first operand's). Past
  // that, where x may be larger: the plain product x erfc there, which
  // is exact where erfc saturates (and inf * 0 = NaN as written).
  ir::Interval r = side == 1 ? ranges.operand_where_used(id) : ranges[x];
  double small = vec_->getScalarType()->isDoubleTy() ? 1e20 : 1e6;
  llvm::Value* product = emit_erfc_over_sqrt2_times(b_, v[y], v[x], negate, erfc_log_form_);
  if (!product || std::max(std::fabs(r.lo), std::fabs(r.hi)) <= small) return product;
  llvm::Value* within = b_.CreateFCmpOLE(b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, v[x]), llvm::ConstantFP::get(vec_, small));
  return b_.CreateSelect(within, product, b_.CreateFMul(v[x], emit_erfc_over_sqrt2(b_, v[y], negate, erfc_log_form_)));
}

llvm::Value* Emitter::normal_cdf_pdf_sum(NodeId id, const std::vector<llvm::Value*>& v, NormalCdfMap& complete) const {
  if (!has_erfc_) return nullptr;  // every sum of every kernel comes here, on the compile path
  const ir::Node& n = g_[id];
  // `root` as c times at most two factors, through products, negations
  // and quotients by constants (gelu's derivative: x * 0.5 * (exp(..) *
  // c1 * c2) and erfc(..) * 0.5); false for anything else.
  auto split = [&](NodeId root, double& c, std::vector<NodeId>& factors) {
    std::vector<NodeId> stack{root};
    c = 1;
    for (int visits = 0; !stack.empty(); ++visits) {
      NodeId x = stack.back();
      stack.pop_back();
      const ir::Node& f = g_[x];
      if (visits == 16) return false;
      if (g_.is_const(x)) {
        c *= g_.const_value(x);
      } else if (f.op == Op::Mul) {
        stack.push_back(f.args[0]);
        stack.push_back(f.args[1]);
      } else if (f.op == Op::Neg) {
        c = -c;
        stack.push_back(f.args[0]);
      } else if (f.op == Op::Div && g_.is_const(f.args[1])) {
        c /= g_.const_value(f.args[1]);
        stack.push_back(f.args[0]);
      } else if (factors.size() < 2) {
        factors.push_back(x);
      } else {
        return false;
      }
    }
    return std::isfinite(c) && c != 0 && std::fabs(c) <= 1e6;
  };
  for (int k = 0; k < 2; ++k) {
    double a = 0, b = 0;
    std::vector<NodeId> erfc, pdf;
    if (!split(n.args[k], a, erfc) || erfc.size() != 1 || g_[erfc[0]].op != Op::Erfc) continue;
    auto [y, negate] = normal_cdf_operand(erfc[0], v);
    if (y == ir::kNoNode || !split(n.args[1 - k], b, pdf) || pdf.size() != 2) return nullptr;
    int at = pdf[0] == y ? 1 : pdf[1] == y ? 0 : -1;
    if (at < 0 || g_[pdf[at]].op != Op::Exp || half_square_exp_operand(pdf[at], v) != y) return nullptr;
    if (n.op == Op::Sub) (k == 0 ? b : a) *= -1;
    llvm::Value* r = emit_normal_cdf_pdf_sum(b_, v[y], a, b, negate);
    if (r) complete[id] = negate ? Saturation{y, 0, 2 * a, 0} : Saturation{y, 2 * a, 0, 0};
    return r;
  }
  return nullptr;
}

NodeId Emitter::half_square_exp_operand(NodeId exp, const std::vector<llvm::Value*>& v) const {
  const ir::Node& neg = g_[g_[exp].args[0]];
  if (neg.op != Op::Neg) return ir::kNoNode;
  const ir::Node& sq = g_[neg.args[0]];
  return sq.op == Op::Mul && sq.args[0] == sq.args[1] ? over_sqrt2(sq.args[0], v) : ir::kNoNode;
}

NodeId Emitter::saturated_where(NodeId id, const NormalCdfMap& complete) const {
  // Nothing to look for in most kernels; and a chain of k wheres would be
  // walked k times over (the else-branches first), on the compile path.
  if (complete.empty()) return ir::kNoNode;
  const ir::Node& w = g_[id];
  NodeId b = w.args[2];
  if (g_[b].op == Op::Where) b = saturated_where(b, complete);
  auto p = complete.find(b);
  if (p == complete.end()) return ir::kNoNode;
  const Saturation& s = p->second;
  const ir::Node& cond = g_[w.args[0]];
  if (cond.arity != 2 || cond.args[0] != s.y || !g_.is_const(cond.args[1])) return ir::kNoNode;
  double t = g_.const_value(cond.args[1]);
  NodeId a = w.args[1];
  auto is = [&](NodeId x, double c) { return g_.is_const(x) && g_.const_value(x) == c; };
  // Below: a constant (c y Phi(y) is 0 there: -0, the product underflowed
  // from below).
  if (cond.op == Op::Lt || cond.op == Op::Le) return t <= -40 && is(a, s.below) ? b : ir::kNoNode;
  if ((cond.op != Op::Gt && cond.op != Op::Ge) || t < 40) return ir::kNoNode;
  // Above: a constant, or the product's 2c y (c = 1/2: y itself).
  if (s.slope == 0) return is(a, s.above) ? b : ir::kNoNode;
  if (s.above != 0) return ir::kNoNode;
  if (a == s.y) return s.slope == 1 ? b : ir::kNoNode;
  const ir::Node& m = g_[a];
  if (m.op != Op::Mul) return ir::kNoNode;
  for (int k = 0; k < 2; ++k)
    if (m.args[k] == s.y && is(m.args[1 - k], s.slope)) return b;
  return ir::kNoNode;
}

llvm::Value* Emitter::square_plus_double(const ir::Node& n, const std::vector<llvm::Value*>& v) const {
  for (int k = 0; k < 2; ++k) {
    const ir::Node &sq = g_[n.args[k]], &lin = g_[n.args[1 - k]];
    if (sq.op != Op::Mul || sq.args[0] != sq.args[1] || lin.op != Op::Mul) continue;
    NodeId a = sq.args[0];
    for (int j = 0; j < 2; ++j) {
      if (lin.args[1 - j] != a || !g_.is_const(lin.args[j])) continue;
      int e = 0;
      double c = g_.const_value(lin.args[j]);
      if (!(std::isfinite(c) && std::fabs(std::frexp(c, &e)) == 0.5) || a >= v.size() || !v[a]) continue;
      return b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vec_}, {v[a], v[a], v[n.args[1 - k]]});
    }
  }
  return nullptr;
}

llvm::Value* Emitter::wide_sum(NodeId id, const std::vector<llvm::Value*>& v,
                               std::unordered_map<NodeId, llvm::Value*>& wide) {
  auto* wide_type = llvm::VectorType::get(b_.getDoubleTy(), llvm::cast<llvm::VectorType>(vec_)->getElementCount());
  auto marked = [&](NodeId n) { return g_[n].op == Op::Add && g_[n].value == ir::kWideSum; };
  // A step, or a product with a step or a constant among its factors (a zero
  // coefficient's h v; the top coefficient's k v, k at its double value).
  std::function<bool(NodeId)> in_chain = [&](NodeId n) {
    if (marked(n)) return true;
    if (g_[n].op != Op::Mul) return false;
    NodeId a = g_[n].args[0], b = g_[n].args[1];
    return g_.is_const(a) || g_.is_const(b) || in_chain(a) || in_chain(b);
  };
  std::function<llvm::Value*(NodeId)> of = [&](NodeId n) -> llvm::Value* {
    if (auto it = wide.find(n); it != wide.end()) return it->second;
    const ir::Node& m = g_[n];
    llvm::Value* r = nullptr;
    if (m.op == Op::Const) {
      r = llvm::ConstantFP::get(wide_type, m.value);
    } else if (marked(n)) {
      NodeId p = m.args[0], c = m.args[1];
      if (g_[p].op != Op::Mul && g_[c].op == Op::Mul) std::swap(p, c);
      r = g_[p].op == Op::Mul
              ? b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {wide_type}, {of(g_[p].args[0]), of(g_[p].args[1]), of(c)})
              : b_.CreateFAdd(of(p), of(c));
    } else if (m.op == Op::Mul && in_chain(n)) {
      r = b_.CreateFMul(of(m.args[0]), of(m.args[1]));
    } else {
      r = b_.CreateFPExt(v[n], wide_type);
    }
    return wide[n] = r;
  };
  return b_.CreateFPTrunc(of(id), vec_);
}

llvm::Value* Emitter::cut_series(NodeId id, const std::vector<llvm::Value*>& v, const ir::Ranges& ranges) const {
  constexpr size_t kShortest = 6;
  auto chain = ir::horner_chain(g_, id, kShortest);
  if (!chain || chain->z >= v.size() || !v[chain->z]) return nullptr;
  const NodeId z = chain->z;
  const std::vector<double>& c = chain->c;
  // z's interval where the chain is used: the top product's operand 0 (the
  // ranges keep the first operand's).
  if (g_[chain->top_product].args[0] != z) return nullptr;
  ir::Interval r = ranges.operand_where_used(chain->top_product);
  double Z = std::max(std::fabs(r.lo), std::fabs(r.hi));
  if (r.empty() || !std::isfinite(Z)) return nullptr;
  std::vector<double> term(c.size());
  double power = 1, rest = 0;
  for (size_t k = 0; k < c.size(); ++k, power *= Z) {
    term[k] = std::fabs(c[k]) * power;
    if (k > 0) rest += term[k];
  }
  double least = std::fabs(c[0]) - rest;
  if (!(least > 0)) return nullptr;
  const bool f64 = vec_->getScalarType()->isDoubleTy();
  const double tolerance = least * std::ldexp(1.0, f64 ? -56 : -27);
  size_t m = c.size() - 1;
  for (double dropped = term[m]; m > 0 && dropped <= tolerance; dropped += term[m]) --m;
  if (m + 1 == c.size()) return nullptr;
  llvm::Value* p = llvm::ConstantFP::get(vec_, c[m]);
  for (size_t k = m; k-- > 0;) p = b_.CreateFAdd(b_.CreateFMul(v[z], p), llvm::ConstantFP::get(vec_, c[k]));
  return p;
}

llvm::Value* Emitter::param_product_sum(const ir::Node& n, const std::vector<llvm::Value*>& v) const {
  if (params_.hi.empty() || !has_fma(b_)) return nullptr;
  // p * v (either order) as side k of n, its other side w.
  for (int k = 0; k < 2; ++k) {
    const ir::Node& m = g_[n.args[k]];
    if (m.op != Op::Mul) continue;
    for (int j = 0; j < 2; ++j) {
      if (g_[m.args[j]].op != Op::Param) continue;
      auto index = size_t(g_[m.args[j]].value);
      NodeId other = m.args[1 - j], rest = n.args[1 - k];
      if (other >= v.size() || rest >= v.size() || !v[other] || !v[rest]) return nullptr;  // row scalars
      llvm::Value* factor = v[other];
      // w a parameter too (hardsigmoid's offset + slope x): its double value,
      // hi + lo, as p's (near the zero of p v + w, w's float rounding was
      // all the result had: 409 ULP at x = -2.996 for slope 0.05, offset 0.15)
      bool w_param = g_[rest].op == Op::Param;
      auto ri = w_param ? size_t(g_[rest].value) : 0;
      llvm::Value* w = w_param ? params_.hi[ri] : v[rest];
      llvm::Value* w_lo = w_param ? params_.lo[ri] : nullptr;
      if (n.op == Op::Sub) {  // p v - w, w - p v
        if (k == 0) {
          w = b_.CreateFNeg(w);
          if (w_lo) w_lo = b_.CreateFNeg(w_lo);
        } else {
          factor = b_.CreateFNeg(factor);
        }
      }
      auto* fma = llvm::Intrinsic::getDeclaration(b_.GetInsertBlock()->getModule(), llvm::Intrinsic::fma, {vec_});
      llvm::Value* high = b_.CreateCall(fma, {factor, params_.hi[index], w});
      if (!w_param)
        return b_.CreateSelect(params_.inexact[index], b_.CreateCall(fma, {factor, params_.lo[index], high}), high);
      // the small terms v p_lo (where p is no float) and w_lo (where w is no
      // float) summed first, then added to high once; lo's sign keeps v = inf
      // from inf - inf, and an exact p's lo (0) never meets an infinite v
      llvm::Value* zero = llvm::ConstantFP::get(vec_, 0.0);
      llvm::Value* wl = b_.CreateSelect(params_.inexact[ri], w_lo, zero);
      llvm::Value* small = b_.CreateSelect(params_.inexact[index], b_.CreateCall(fma, {factor, params_.lo[index], wl}), wl);
      llvm::Value* any = b_.CreateOr(params_.inexact[index], params_.inexact[ri]);
      return b_.CreateSelect(any, b_.CreateFAdd(high, small), high);
    }
  }
  return nullptr;
}

std::optional<Op> Emitter::first_nan_extreme(const ir::Node& n) const {
  // where(l > e or (l != l and e == e), l, e): e unless l is greater, or
  // NaN where e is not (maxout's step, which keeps the first maximum and
  // the first NaN for the gradient). Its value is max(l, e) as the language
  // has it (l where l > e, else e; NaN where either is: only a NaN's
  // payload may differ), which x86 does in three instructions, not six.
  NodeId l = n.args[1], e = n.args[2];
  const ir::Node& c = g_[n.args[0]];
  if (c.op != Op::Or) return std::nullopt;
  const ir::Node& better = g_[c.args[0]];
  const ir::Node& nan = g_[c.args[1]];
  if ((better.op != Op::Gt && better.op != Op::Lt) || better.args[0] != l || better.args[1] != e) return std::nullopt;
  if (nan.op != Op::And) return std::nullopt;
  const ir::Node& l_nan = g_[nan.args[0]];
  const ir::Node& e_num = g_[nan.args[1]];
  if (l_nan.op != Op::Ne || l_nan.args[0] != l || l_nan.args[1] != l) return std::nullopt;
  if (e_num.op != Op::Eq || e_num.args[0] != e || e_num.args[1] != e) return std::nullopt;
  return better.op == Op::Gt ? Op::Max : Op::Min;
}

llvm::Value* Emitter::sqrt1p_minus1(const ir::Node& n, const std::vector<llvm::Value*>& v) const {
  // u / (r + 1), r = sqrt(u + 1) or sqrt(1 + u), and 1 + r alike
  const ir::Node& den = g_[n.args[1]];
  if (den.op != Op::Add) return nullptr;
  int k = g_.is_const(den.args[1], 1.0) ? 0 : g_.is_const(den.args[0], 1.0) ? 1 : -1;  // the root's side
  if (k < 0 || g_[den.args[k]].op != Op::Sqrt) return nullptr;
  const ir::Node& sum = g_[g_[den.args[k]].args[0]];
  if (sum.op != Op::Add || !((sum.args[0] == n.args[0] && g_.is_const(sum.args[1], 1.0)) ||
                             (sum.args[1] == n.args[0] && g_.is_const(sum.args[0], 1.0))))
    return nullptr;
  const ir::Node& u = g_[n.args[0]];
  llvm::Value* a = u.op == Op::Mul && u.args[0] == u.args[1] ? v[u.args[0]] : nullptr;
  return emit_sqrt1p_minus1(b_, v[n.args[0]], a);
}

llvm::Value* Emitter::constant_product(NodeId id, const std::vector<llvm::Value*>& v, const ir::Ranges& ranges) const {
  if (!vec_->getScalarType()->isFloatTy() || !has_fma(b_)) return nullptr;
  const ir::Node& n = g_[id];
  for (int k = 0; k < 2; ++k) {
    if (!g_.is_const(n.args[k])) continue;
    double c = g_.const_value(n.args[k]);
    NodeId other = n.args[1 - k];
    if (!std::isfinite(c) || std::fabs(c) <= 1 || double(float(c)) == c || other >= v.size() || !v[other]) return nullptr;
    // Only where the product may overflow: there the float rounding of c
    // (up) can make a finite exact product inf (selu near the largest float).
    // The other operand's interval where the product is used, if it is the
    // first (selu's expm1(x) matters only where x <= 0).
    ir::Interval r = k == 1 ? ranges.operand_where_used(id) : ranges[other];
    if (std::max(std::fabs(r.lo), std::fabs(r.hi)) <= double(FLT_MAX) / std::fabs(c)) return nullptr;
    // c = hi + lo, hi rounded toward zero (so |x hi| never overflows where
    // |x c| does not), lo of c's sign: fma(x, hi, x lo) rounds once.
    auto hi = float(c);
    if (std::fabs(double(hi)) > std::fabs(c)) hi = std::nextafter(hi, 0.0f);
    auto lo = float(c - double(hi));
    llvm::Value* x = v[other];
    auto* fma = llvm::Intrinsic::getDeclaration(b_.GetInsertBlock()->getModule(), llvm::Intrinsic::fma, {vec_});
    return b_.CreateCall(fma, {x, llvm::ConstantFP::get(vec_, double(hi)),
                               b_.CreateFMul(x, llvm::ConstantFP::get(vec_, double(lo)))});
  }
  return nullptr;
}

llvm::Value* Emitter::small_integer_power(const ir::Node& pow, llvm::Value* x, llvm::Value* tail,
                                          llvm::Value** tail_out) const {
  if (!g_.is_const(pow.args[1])) return nullptr;
  double e = g_.const_value(pow.args[1]);
  if (!(e >= 2 && e <= kMaxUnrolledPower) || e != std::floor(e)) return nullptr;
  // x^n by binary powering: at most 2 log2(n) roundings (x^3: two, within
  // 1 ULP, as SLEEF's pow), the same signs, zeros, infinities and NaN as
  // pow; intermediate powers of |x| > 1 never overflow before x^n does.
  auto n = unsigned(e);
  llvm::Value* result = nullptr;
  llvm::Value* square = x;
  llvm::Value *result_tail = nullptr, *square_tail = tail;
  auto times = [&](llvm::Value* a, llvm::Value* ta, llvm::Value* b, llvm::Value* tb, llvm::Value*& tp) {
    llvm::Value* p = b_.CreateFMul(a, b);
    if (tail_out) tp = product_tail(a, ta, b, tb, p, true);
    return p;
  };
  for (; n != 0; n >>= 1) {
    if (n & 1) {
      if (result) result = times(result, result_tail, square, square_tail, result_tail);
      else result = square, result_tail = square_tail;
    }
    if (n > 1) square = times(square, square_tail, square, square_tail, square_tail);
  }
  if (tail_out) *tail_out = result_tail;
  return result;
}

llvm::Value* Emitter::mul_add(llvm::Value* a, llvm::Value* b, llvm::Value* c) const {
  if (!c) return b_.CreateFMul(a, b);
  return b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vec_}, {a, b, c});
}

llvm::Value* Emitter::product_tail(llvm::Value* a, llvm::Value* ta, llvm::Value* b, llvm::Value* tb, llvm::Value* p,
                                   bool rounds) const {
  llvm::Value* t = rounds ? emit_product_error(b_, a, b, p) : nullptr;
  if (tb) t = mul_add(a, tb, t);
  if (ta) t = mul_add(ta, b, t);
  return t;
}

llvm::Value* Emitter::flip_sign(llvm::Value* t, llvm::Value* by, bool negate) const {
  // Integer operations on the sign bits (one ternary-logic instruction on
  // AVX-512), not a compare and a blend.
  auto* ivec = llvm::VectorType::getInteger(llvm::cast<llvm::VectorType>(vec_));
  unsigned bits = ivec->getScalarSizeInBits();
  llvm::Value* sign = llvm::ConstantInt::get(ivec, llvm::APInt::getSignMask(bits));
  llvm::Value* s = b_.CreateAnd(b_.CreateBitCast(by, ivec), sign);
  if (negate) s = b_.CreateXor(s, sign);
  return b_.CreateBitCast(b_.CreateXor(b_.CreateBitCast(t, ivec), s), vec_);
}

Emitter::Tail Emitter::rounding_error(NodeId id, const std::vector<llvm::Value*>& v,
                                      std::unordered_map<NodeId, Tail>& memo) const {
  if (auto it = memo.find(id); it != memo.end()) return it->second;
  const ir::Node& n = g_[id];
  llvm::Value* h = id < v.size() ? v[id] : nullptr;
  Tail out;  // not ok
  auto arg = [&](int i) { return rounding_error(n.args[size_t(i)], v, memo); };
  auto value = [&](int i) { return v[n.args[size_t(i)]]; };
  // Whether v[id] is opcode(a, b) of the operands' values (not a variant:
  // param_product_sum's, constant_product's, the reciprocal square root).
  auto plain = [&](llvm::Instruction::BinaryOps opcode) {
    auto* bo = llvm::dyn_cast_or_null<llvm::BinaryOperator>(h);
    return bo && bo->getOpcode() == opcode && bo->getOperand(0) == value(0) && bo->getOperand(1) == value(1);
  };
  auto plus = [&](llvm::Value* a, llvm::Value* b) { return !a ? b : !b ? a : b_.CreateFAdd(a, b); };
  auto negated = [&](llvm::Value* a) { return a ? b_.CreateFNeg(a) : nullptr; };
  auto zero = llvm::ConstantFP::get(vec_, 0.0);
  bool f32 = vec_->getScalarType()->isFloatTy();
  if (!h) return memo[id] = out;  // a row scalar (row-wise kernels keep their plain exp)
  switch (n.op) {
    case Op::Input:
    case Op::Cotangent:
    case Op::RowMax:  // one of the row's values: exact (softmax's exp(x - max))
    case Op::RowMin: out = {true, nullptr}; break;
    case Op::Const: {  // the value rounded to T, and a folded constant's rest (Node::lo)
      double c = n.value, lo = (f32 && std::isfinite(float(c)) ? c - double(float(c)) : 0) + n.lo;
      out = {true, lo != 0 ? llvm::ConstantFP::get(vec_, lo) : nullptr};
      break;
    }
    case Op::Param: {
      if (params_.hi.empty()) {
        out = {true, nullptr};
        break;
      }
      auto i = size_t(n.value);  // p = hi + lo; the kernel's value is p rounded to nearest
      out = {true, b_.CreateFAdd(b_.CreateFSub(params_.hi[i], params_.value[i]), params_.lo[i])};
      break;
    }
    case Op::StopGrad: out = arg(0); break;
    case Op::Neg: {
      Tail a = arg(0);
      out = {a.ok, negated(a.t)};
      break;
    }
    case Op::Abs: {  // |a + t| = |a| + t sign(a)
      Tail a = arg(0);
      out = {a.ok, a.t ? flip_sign(a.t, value(0), false) : nullptr};
      break;
    }
    case Op::Where: {
      if (neg_abs_where_.count(id)) {  // -|v|: -t sign(v)
        NodeId vn = g_[n.args[0]].args[0];
        Tail a = rounding_error(vn, v, memo);
        out = {a.ok, a.t ? flip_sign(a.t, v[vn], true) : nullptr};
        break;
      }
      Tail a = arg(1), b = arg(2);
      if (!a.ok || !b.ok) break;
      if (h == value(1)) out = a;
      else if (h == value(2)) out = b;
      else if (!a.t && !b.t) out = {true, nullptr};
      else out = {true, b_.CreateSelect(value(0), a.t ? a.t : zero, b.t ? b.t : zero)};
      break;
    }
    case Op::Add:
    case Op::Sub: {
      bool add = n.op == Op::Add;
      if (!plain(add ? llvm::Instruction::FAdd : llvm::Instruction::FSub)) break;
      Tail a = arg(0), b = arg(1);
      if (!a.ok || !b.ok) break;
      llvm::Value* other = add ? value(1) : b_.CreateFNeg(value(1));
      out = {true, plus(plus(emit_sum_error(b_, value(0), other, h), a.t), add ? b.t : negated(b.t))};
      break;
    }
    case Op::Mul: {
      Tail a = arg(0), b = arg(1);
      if (!a.ok || !b.ok) break;
      // constant_product's fma(x, hi, x lo) for c x: c x = h + fma(x, hi, -h) + x lo (+ c tx).
      auto* call = llvm::dyn_cast_or_null<llvm::IntrinsicInst>(h);
      if (call && call->getIntrinsicID() == llvm::Intrinsic::fma) {
        for (int k = 0; k < 2 && !out.ok; ++k) {
          if (!g_.is_const(n.args[size_t(k)]) || call->getArgOperand(0) != value(1 - k)) continue;
          llvm::Value* x = value(1 - k);
          llvm::Value* t = b_.CreateFAdd(emit_product_error(b_, x, call->getArgOperand(1), h), call->getArgOperand(2));
          Tail tx = k == 0 ? b : a;
          if (tx.t) t = mul_add(value(k), tx.t, t);
          out = {true, t};
        }
        break;
      }
      if (!plain(llvm::Instruction::FMul)) break;
      // By a power of two the product is exact (barring underflow).
      auto power_of_two = [&](int i) {
        int e = 0;
        return g_.is_const(n.args[size_t(i)]) && std::fabs(std::frexp(g_.const_value(n.args[size_t(i)]), &e)) == 0.5;
      };
      out = {true, product_tail(value(0), a.t, value(1), b.t, h, !power_of_two(0) && !power_of_two(1))};
      break;
    }
    case Op::Div: {  // q = a / b: a + ta = (q + t)(b + tb) gives t = (a - q b + ta - q tb) / b
      if (!plain(llvm::Instruction::FDiv)) break;
      Tail a = arg(0), b = arg(1);
      if (!a.ok || !b.ok) break;
      llvm::Value* qb = b_.CreateFMul(h, value(1));
      llvm::Value* rem = b_.CreateFSub(b_.CreateFSub(value(0), qb), emit_product_error(b_, h, value(1), qb));
      rem = plus(rem, a.t);
      if (b.t) rem = mul_add(b_.CreateFNeg(h), b.t, rem);
      // 1 / b: a constant, or hoisted out of the loop where b is a parameter.
      out = {true, b_.CreateFMul(rem, b_.CreateFDiv(llvm::ConstantFP::get(vec_, 1.0), value(1)))};
      break;
    }
    case Op::Pow: {
      Tail a = arg(0);
      llvm::Value* t = nullptr;
      if (!a.ok || !small_integer_power(n, value(0), a.t, &t)) break;
      out = {true, t};
      break;
    }
    default: break;
  }
  return memo[id] = out;
}

bool Emitter::argument_tail(NodeId id, const std::unordered_map<NodeId, llvm::Value*>& all, llvm::Value*& tail) const {
  std::vector<llvm::Value*> v(id + 1, nullptr);
  for (auto& [node, value] : all)
    if (node < v.size()) v[node] = value;
  std::unordered_map<NodeId, Tail> memo;
  Tail t = rounding_error(id, v, memo);
  tail = t.t;
  return t.ok;
}

template <class Term, class Slope>
std::optional<std::pair<NodeId, std::vector<NodeId>>> Emitter::term_plus_slope(const ir::Node& n, Term is_term,
                                                                                Slope is_slope) const {
  for (int i = 0; i < 2; ++i) {
    NodeId t = n.args[i];
    if (!is_term(t)) continue;
    auto factors = ir::product_leaves(g_, n.args[1 - i], 5);
    if (!factors) continue;
    std::vector<NodeId>& leaves = *factors;
    auto slope = std::find_if(leaves.begin(), leaves.end(), [&](NodeId f) { return is_slope(t, f); });
    if (slope == leaves.end()) continue;
    leaves.erase(slope);
    return std::make_pair(t, std::move(leaves));
  }
  return std::nullopt;
}

void Emitter::plan(const std::vector<NodeId>& all_roots, const std::vector<NodeId>& derivative_roots) {
  auto live = [](const std::vector<NodeId>& roots) {
    std::vector<NodeId> out;
    for (NodeId r : roots)
      if (r != ir::kNoNode) out.push_back(r);
    return out;
  };
  std::vector<NodeId> everything = g_.reachable(live(all_roots));
  std::unordered_map<NodeId, std::unordered_set<NodeId>> users;
  for (NodeId id : everything)
    for (NodeId a : g_[id].args) users[a].insert(id);
  // Whether `id`'s only user is `user`.
  auto only_user = [&](NodeId id, NodeId user) { return users[id].size() == 1 && *users[id].begin() == user; };
  // where(v >= 0, -v, v) used only by exp (and the underflow watch, which
  // reads exp's operand): -|v|, whose zero may have the other sign.
  for (NodeId id : everything) {
    if (neg_abs_operand(id) == ir::kNoNode) continue;
    bool only_exp = true;
    for (NodeId u : users[id]) only_exp = only_exp && g_[u].op == Op::Exp;
    if (only_exp) neg_abs_where_.insert(id);
  }
  // The quotient 4e / ((1 + e)(1 + e)) when it is e's only use (tanh's
  // derivative), else kNoNode.
  auto sech2_of = [&](NodeId e) -> NodeId {
    if (users[e].size() != 2) return ir::kNoNode;
    NodeId four = ir::kNoNode, one_plus = ir::kNoNode;
    for (NodeId u : users[e]) {
      const ir::Node& n = g_[u];
      NodeId other = n.args[0] == e ? n.args[1] : n.args[0];
      if (!g_.is_const(other)) return ir::kNoNode;
      if (n.op == Op::Mul && g_.const_value(other) == 4) four = u;
      if (n.op == Op::Add && g_.const_value(other) == 1) one_plus = u;
    }
    if (four == ir::kNoNode || one_plus == ir::kNoNode || users[one_plus].size() != 1) return ir::kNoNode;
    NodeId square = *users[one_plus].begin();
    const ir::Node& sq = g_[square];
    if (sq.op != Op::Mul || sq.args[0] != one_plus || sq.args[1] != one_plus || users[four].size() != 1) return ir::kNoNode;
    NodeId quotient = *users[four].begin();
    const ir::Node& q = g_[quotient];
    bool form = q.op == Op::Div && q.args[0] == four && q.args[1] == square && only_user(square, quotient);
    return form ? quotient : ir::kNoNode;
  };
  // exp(a) and expm1(a) both in the program (elu: y and dy/dx): one
  // reduction for both, in every kernel (emit_expm1_paired).
  std::unordered_map<NodeId, NodeId> exp_of;
  for (NodeId id : everything)
    if (g_[id].op == Op::Exp) exp_of[g_[id].args[0]] = id;
  for (NodeId id : everything)
    if (g_[id].op == Op::Expm1 && exp_of.count(g_[id].args[0])) expm1_of_[g_[id].args[0]] = id;
  std::unordered_map<NodeId, NodeId> tanh_of;  // a -> tanh(a), in the derivatives
  for (NodeId id : g_.reachable(live(derivative_roots)))
    if (g_[id].op == Op::Tanh) tanh_of[g_[id].args[0]] = id;
  for (NodeId id : everything) {
    NodeId a = neg2abs_operand(id);
    NodeId quotient = a == ir::kNoNode ? ir::kNoNode : sech2_of(id);
    if (quotient == ir::kNoNode) continue;
    sech2_quotients_[quotient] = id;
    flushed_exp_[id] = a;
    auto t = tanh_of.find(a);
    if (t == tanh_of.end()) continue;
    paired_tanh_.insert(t->second);
    paired_args_.insert(a);
    paired_sech2_[quotient] = a;  // tanh's reciprocal 1 / (1 + e) serves it
  }
  // x * erfc(+-y / sqrt 2) (gelu): emitted as one (erfc_product). Other
  // uses of the erfc (gelu's derivative has 0.5 erfc, the fused kernel
  // both) share its exp and polynomial through CSE.
  for (NodeId id : everything) {
    const ir::Node& n = g_[id];
    has_erfc_ = has_erfc_ || n.op == Op::Erfc;
    if (n.op != Op::Mul) continue;
    if (g_[n.args[1]].op == Op::Erfc) erfc_products_[id] = n.args[1];
    else if (g_[n.args[0]].op == Op::Erfc) erfc_products_[id] = n.args[0];
  }
  // The product rule's sums for f = z sigmoid(a) (swish's derivative) and
  // f = z tanh(a) (telu's): sigmoid(a) + (... * e / (1 + e)^2 * ...) as one
  // quotient, tanh(a) + (... * 4e / (1 + e)^2 * ...) as one
  // (vmath::tanh_plus_sech2_times).
  for (NodeId id : everything) {
    const ir::Node& n = g_[id];
    if (n.op != Op::Add) continue;
    auto is_sigmoid = [&](NodeId t) { return ir::sigmoid_form(g_, t).has_value(); };
    auto is_sigmoid_slope = [&](NodeId t, NodeId f) {  // e / (d d), d = e + 1, sigmoid's e and d
      const ir::Node& q = g_[f];
      NodeId d = g_[t].args[1];
      if (q.op != Op::Div || q.args[0] != ir::sigmoid_form(g_, t)->e) return false;
      const ir::Node& dd = g_[q.args[1]];
      return dd.op == Op::Mul && dd.args[0] == d && dd.args[1] == d;
    };
    if (auto sum = term_plus_slope(n, is_sigmoid, is_sigmoid_slope)) {
      const ir::Node& q = g_[sum->first];
      sigmoid_sums_[id] = {q.args[0], q.args[1], ir::sigmoid_form(g_, sum->first)->e, sum->second};
      continue;
    }
    auto is_paired_tanh = [&](NodeId t) { return paired_tanh_.count(t) != 0; };
    auto is_sech2 = [&](NodeId t, NodeId f) {
      auto s2 = paired_sech2_.find(f);
      return s2 != paired_sech2_.end() && s2->second == g_[t].args[0];
    };
    if (auto sum = term_plus_slope(n, is_paired_tanh, is_sech2)) tanh_sums_[id] = {g_[sum->first].args[0], sum->second};
  }
}

void Emitter::plan_shifted_exps(const std::vector<NodeId>& roots, const std::unordered_set<NodeId>& exact,
                                const std::unordered_set<NodeId>& normalized) {
  if (!can_exp_shifted(*b_.GetInsertBlock()->getParent(), vec_)) return;
  std::vector<NodeId> order = g_.reachable(roots);
  constexpr int kBad = std::numeric_limits<int>::min();
  for (NodeId e : order) {
    ir::ExpMinusMax form = ir::exp_minus_row_max(g_, e);
    if (form.v == ir::kNoNode || exact.count(e)) continue;
    // Each node's degree in e, where it depends on e.
    std::unordered_map<NodeId, int> deg;
    auto of = [&](NodeId a) { auto it = deg.find(a); return it == deg.end() ? 0 : it->second; };
    for (NodeId id : order) {
      if (id < e) continue;
      if (id == e) {
        deg[id] = 1;
        continue;
      }
      const ir::Node& m = g_[id];
      bool depends = false, bad = false;
      for (NodeId a : m.args) {
        depends = depends || deg.count(a);
        bad = bad || of(a) == kBad;
      }
      if (!depends) continue;
      int d = kBad;
      auto same = [&] { return of(m.args[0]) == of(m.args[1]); };
      if (!bad && normalized.count(id)) {
        if (m.args[0] == e) d = 0;
      } else if (!bad) switch (m.op) {
        case Op::Neg: case Op::Abs: case Op::StopGrad: case Op::Sum: case Op::Mean: case Op::RowMax: case Op::RowMin:
          d = of(m.args[0]);
          break;
        case Op::Mul: d = of(m.args[0]) + of(m.args[1]); break;
        case Op::Div: d = of(m.args[0]) - of(m.args[1]); break;
        case Op::Add: case Op::Sub: case Op::Min: case Op::Max:
          if (same()) d = of(m.args[0]);
          break;
        case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Eq: case Op::Ne:
          if (same()) d = 0;
          break;
        case Op::Where:
          if (of(m.args[0]) == 0 && of(m.args[1]) == of(m.args[2])) d = of(m.args[1]);
          break;
        default:
          if (std::all_of(m.args.begin(), m.args.end(), [&](NodeId a) { return of(a) == 0; })) d = 0;
          break;
      }
      deg[id] = d;
    }
    if (std::all_of(roots.begin(), roots.end(), [&](NodeId r) { return of(r) == 0; })) shifted_exps_[e] = {form.v, form.shift};
  }
}

ExpShiftValues Emitter::shift_values(llvm::Value* m) {
  auto values = exp_shifts_.find(m);
  return values != exp_shifts_.end() ? values->second : emit_exp_shift(b_, m);
}

llvm::Value* Emitter::shift_factor(NodeId e, llvm::Value* m) {
  return shifted_exps_.count(e) ? emit_exp_shift_factor(b_, m, shift_values(m)) : nullptr;
}

void Emitter::prepare_shifted_exps(const std::unordered_map<NodeId, llvm::Value*>& known) {
  for (auto& [e, operands] : shifted_exps_) {
    auto m = known.find(operands.second);
    if (m != known.end() && !exp_shifts_.count(m->second)) exp_shifts_[m->second] = emit_exp_shift(b_, m->second);
  }
}

void Emitter::plan_scaled_products(const std::vector<NodeId>& roots) {
  const ir::Ranges ranges(g_, roots, vec_->getScalarType()->isDoubleTy() ? ir::Precision::F64 : ir::Precision::F32,
                          ir::Domain{false, false});
  auto is_one = [&](NodeId id) { return g_.is_const(id) && g_.const_value(id) == 1; };
  // a * p stays finite without halving p where a is product `id`'s first
  // operand (other side k = 1) and, over the lanes where the product
  // matters, below T's largest value over sqrt 2 (swish's x, under its
  // where(x < -800, 0, ...)).
  auto halve = [&](NodeId id, int k) {
    ir::Interval used = ranges.operand_where_used(id);
    double limit = vec_->getScalarType()->isDoubleTy() ? 1e300 : 1e37;
    return !(k == 1 && std::max(std::fabs(used.lo), std::fabs(used.hi)) <= limit);
  };
  for (NodeId id : ir::reachable_elementwise(g_, roots)) {
    const ir::Node& m = g_[id];
    if (m.op != Op::Mul) continue;
    for (int k = 0; k < 2; ++k) {
      const ir::Node& q = g_[m.args[k]];
      if (q.op != Op::Div) continue;
      const ir::Node& w = g_[q.args[0]];
      const ir::Node& d = g_[q.args[1]];
      if (w.op != Op::Where || !is_one(w.args[1]) || g_[w.args[2]].op != Op::Exp || d.op != Op::Add) continue;
      NodeId e = w.args[2];
      bool den = (d.args[0] == e && is_one(d.args[1])) || (d.args[1] == e && is_one(d.args[0]));
      if (!den || !(ranges[g_[e].args[0]].hi <= 0)) continue;
      scaled_products_[id] = {m.args[1 - k], q.args[0], e, q.args[1], halve(id, k)};
      split_exps_.insert(e);
      break;
    }
    if (scaled_products_.count(id)) continue;
    for (int k = 0; k < 2; ++k) {
      NodeId g = m.args[k], inner = g, cond = ir::kNoNode;
      if (g_[g].op == Op::Where && is_one(g_[g].args[1])) cond = g_[g].args[0], inner = g_[g].args[2];
      TinySeries ts = tiny_series(inner);
      if (ts.e == ir::kNoNode) continue;
      tiny_products_[id] = {m.args[1 - k], g, ts.e, cond, ts.slope, ts.c2, halve(id, k)};
      split_exps_.insert(ts.e);
      break;
    }
  }
}

llvm::Value* Emitter::scaled_product(NodeId id, const std::vector<llvm::Value*>& v, const ExpPartsMap& exp_parts) const {
  auto sp = scaled_products_.find(id);
  if (!scaling_ || sp == scaled_products_.end()) return nullptr;
  const ScaledProduct& s = sp->second;
  auto parts = exp_parts.find(s.e);
  llvm::Value* c = v[g_[s.where].args[0]];
  if (parts == exp_parts.end() || !v[s.a] || !c || !v[s.den]) return nullptr;
  auto [pe, ne] = parts->second;  // copies: halved below
  llvm::Value* one = llvm::ConstantFP::get(vec_, 1.0);
  if (s.halve) {
    pe = b_.CreateFMul(pe, llvm::ConstantFP::get(vec_, 0.5));
    ne = b_.CreateFAdd(ne, one);
  }
  llvm::Value* wp = b_.CreateSelect(c, one, pe);
  llvm::Value* wn = b_.CreateSelect(c, llvm::ConstantFP::get(vec_, 0.0), ne);
  return emit_ldexp(b_, b_.CreateFMul(v[s.a], b_.CreateFDiv(wp, v[s.den])), wn);
}

llvm::Value* Emitter::exp_div_product(const ir::Node& n, const std::vector<llvm::Value*>& v,
                                      const ExpDivMap& exp_divs) const {
  for (int k = 0; k < 2; ++k) {
    auto d = exp_divs.find(n.args[k]);
    if (d == exp_divs.end()) continue;
    const ExpDivParts& p = d->second;
    llvm::Value* qm = b_.CreateFMul(p.q, v[n.args[1 - k]]);
    llvm::Value* large = b_.CreateSelect(p.lost, llvm::ConstantFP::getNaN(vec_), b_.CreateFMul(p.e, qm));
    return b_.CreateSelect(p.big, large, qm);
  }
  return nullptr;
}

std::vector<NodeId> Emitter::plan_sigmoid_quotients(const std::vector<NodeId>& roots) {
  std::vector<NodeId> watched;
  if (!vec_->getScalarType()->isFloatTy()) return watched;
  std::vector<NodeId> everything = g_.reachable(roots);
  std::unordered_map<NodeId, unsigned> uses;
  for (NodeId id : everything)
    for (NodeId a : g_[id].args) ++uses[a];
  for (NodeId id : everything) {
    const ir::Node& n = g_[id];
    if (n.op != Op::Mul || std::find(roots.begin(), roots.end(), id) != roots.end()) continue;
    for (int k = 0; k < 2; ++k) {
      auto s = ir::sigmoid_form(g_, n.args[k]);
      if (!s || uses[n.args[k]] != 1 || uses[s->e] != 2) continue;  // e: the numerator's where and 1 + e
      sigmoid_quotients_[id] = {n.args[1 - k], s->a};
      watched.push_back(g_[s->e].args[0]);
      break;
    }
  }
  return watched;
}

llvm::Value* Emitter::sigmoid_quotient(NodeId id, const std::vector<llvm::Value*>& v) const {
  auto q = sigmoid_quotients_.find(id);
  if (q == sigmoid_quotients_.end()) return nullptr;
  auto [m, a] = q->second;
  if (!v[m] || !v[a]) return nullptr;
  std::unordered_map<NodeId, Tail> memo;
  Tail t = rounding_error(a, v, memo);
  if (!t.ok) return nullptr;
  return emit_sigmoid_quotient(b_, v[m], v[a], t.t);
}

std::vector<NodeId> Emitter::scaled_exp_arguments() const {
  std::vector<NodeId> out;
  if (!tiny_products_.empty()) return out;
  for (auto& [id, s] : scaled_products_) out.push_back(g_[s.e].args[0]);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

llvm::Value* Emitter::tiny_product(NodeId id, const std::vector<llvm::Value*>& v, const ExpPartsMap& exp_parts) const {
  auto tp = tiny_products_.find(id);
  if (tp == tiny_products_.end()) return nullptr;
  const TinyProduct& t = tp->second;
  auto parts = exp_parts.find(t.e);
  if (parts == exp_parts.end() || !v[t.a] || !v[t.g] || (t.cond != ir::kNoNode && !v[t.cond])) return nullptr;
  auto [pe, ne] = parts->second;
  // The product as it was where e >= 2^-28 (or NaN), or c holds: the
  // select's first arm, which the back end then merges into that product's
  // instruction, after the division it waits for.
  llvm::Value* usual = b_.CreateFCmpUGE(ne, llvm::ConstantFP::get(vec_, -28.0));
  if (t.cond != ir::kNoNode) usual = b_.CreateOr(usual, v[t.cond]);
  double h = t.halve ? t.slope / 2 : t.slope;
  llvm::Value* factor = h == 1 ? pe : b_.CreateFMul(pe, llvm::ConstantFP::get(vec_, h));
  if (t.c2 != 0)  // h p (1 + c2 e), e = v[t.e]
    factor = mul_add(factor, b_.CreateFMul(v[t.e], llvm::ConstantFP::get(vec_, t.c2)), factor);
  if (t.halve) ne = b_.CreateFAdd(ne, llvm::ConstantFP::get(vec_, 1.0));
  llvm::Value* scaled = emit_ldexp(b_, b_.CreateFMul(v[t.a], factor), ne);
  const ir::Node& n = g_[id];
  return b_.CreateSelect(usual, b_.CreateFMul(v[n.args[0]], v[n.args[1]]), scaled);
}

Emitter::TinySeries Emitter::tiny_series(NodeId g) const {
  const ir::Node& n = g_[g];
  // tanh(e) = e - e^3/3 + ...
  if (n.op == Op::Tanh && g_[n.args[0]].op == Op::Exp) return {n.args[0], 1.0, 0.0};
  if (n.op != Op::Div) return {};
  // (e e + k1 e) / ((e e + k1 e) + k2) = (k1/k2) e (1 + (1/k1 - k1/k2) e + O(e^2)).
  NodeId num = n.args[0];
  const ir::Node& d = g_[n.args[1]];
  const ir::Node& a = g_[num];
  if (d.op != Op::Add || a.op != Op::Add) return {};
  int nk = d.args[0] == num ? 1 : d.args[1] == num ? 0 : -1;
  if (nk < 0 || !g_.is_const(d.args[size_t(nk)]) || g_.const_value(d.args[size_t(nk)]) == 0) return {};
  double k2 = g_.const_value(d.args[size_t(nk)]);
  for (int i = 0; i < 2; ++i) {
    const ir::Node& sq = g_[a.args[size_t(i)]];
    const ir::Node& lin = g_[a.args[size_t(1 - i)]];
    if (sq.op != Op::Mul || sq.args[0] != sq.args[1] || g_[sq.args[0]].op != Op::Exp || lin.op != Op::Mul) continue;
    NodeId e = sq.args[0];
    for (int j = 0; j < 2; ++j) {
      if (lin.args[size_t(j)] != e || !g_.is_const(lin.args[size_t(1 - j)])) continue;
      double k1 = g_.const_value(lin.args[size_t(1 - j)]);
      if (k1 == 0 || !std::isfinite(k1 / k2)) return {};
      return {e, k1 / k2, 1 / k1 - k1 / k2};
    }
  }
  return {};
}

NodeId Emitter::neg_abs_operand(NodeId id) const {
  const ir::Node& w = g_[id];
  if (w.op != Op::Where) return ir::kNoNode;
  const ir::Node& c = g_[w.args[0]];
  if ((c.op != Op::Ge && c.op != Op::Gt) || !g_.is_const(c.args[1]) || g_.const_value(c.args[1]) != 0) return ir::kNoNode;
  NodeId v = c.args[0];
  const ir::Node& neg = g_[w.args[1]];
  if (neg.op != Op::Neg || neg.args[0] != v || w.args[2] != v) return ir::kNoNode;
  return v;
}

NodeId Emitter::neg2abs_operand(NodeId id) const {
  if (g_[id].op != Op::Exp || g_[g_[id].args[0]].op != Op::Mul) return ir::kNoNode;
  const ir::Node& m = g_[g_[id].args[0]];
  for (int k = 0; k < 2; ++k) {
    if (!g_.is_const(m.args[k]) || g_.const_value(m.args[k]) != -2) continue;
    // exp(-2 |a|), or exp(-2 a) for a = exp(w) (|exp(w)| simplifies to exp(w)).
    const ir::Node& o = g_[m.args[1 - k]];
    return o.op == Op::Abs ? o.args[0] : o.op == Op::Exp ? m.args[1 - k] : ir::kNoNode;
  }
  return ir::kNoNode;
}

bool Emitter::sigmoid_sum_ready(const SigmoidSum& s, const std::vector<llvm::Value*>& v) {
  auto has = [&](NodeId id) { return id < v.size() && v[id] != nullptr; };
  return has(s.w) && has(s.d) && has(s.e) && std::all_of(s.factors.begin(), s.factors.end(), has);
}

NodeId Emitter::neg1abs_operand(NodeId id) const {
  if (g_[id].op != Op::Exp) return ir::kNoNode;
  NodeId w = g_[id].args[0];
  if (NodeId a = neg_abs_operand(w); a != ir::kNoNode) return a;
  const ir::Node& neg = g_[w];
  if (neg.op != Op::Neg || g_[neg.args[0]].op != Op::Abs) return ir::kNoNode;
  return g_[neg.args[0]].args[0];
}

std::vector<llvm::Value*> Emitter::emit(const std::vector<NodeId>& roots, const Leaf& leaf,
                                        const std::unordered_map<NodeId, llvm::Value*>* known,
                                        const std::vector<NodeId>& also,
                                        std::unordered_map<NodeId, llvm::Value*>* all) {
  std::vector<NodeId> split;  // the rare where()s to split at
  if (!known && !all) {
    const bool f32 = !vec_->getScalarType()->isDoubleTy();
    std::vector<NodeId> reached(roots);
    reached.insert(reached.end(), also.begin(), also.end());
    for (NodeId id : ir::reachable_elementwise(g_, reached, [](NodeId) { return false; }))
      // (not float's guards whose other branch gives their lanes alike: those cost nothing)
      if (ir::rare_where(g_, id) && !(f32 && guard_gives_branch(id))) split.push_back(id);
  }
  if (split.empty()) return emit_values(roots, leaf, known, also, all);
  std::vector<NodeId> conditions;
  for (NodeId w : split)
    if (std::find(conditions.begin(), conditions.end(), g_[w].args[0]) == conditions.end())
      conditions.push_back(g_[w].args[0]);
  // Some lane of the register takes a rare branch: the where()s as they
  // are; else each as its other branch (the rare branches' nodes unused).
  std::vector<llvm::Value*> taken = emit_values(conditions, leaf, nullptr, {}, nullptr);
  std::unordered_map<NodeId, llvm::Value*> given;
  llvm::Value* any = nullptr;
  for (size_t i = 0; i < conditions.size(); ++i) {
    given[conditions[i]] = taken[i];
    llvm::Value* some = b_.CreateOrReduce(taken[i]);
    any = any ? b_.CreateOr(any, some) : some;
  }
  llvm::LLVMContext& ctx = b_.getContext();
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  auto* rare_bb = llvm::BasicBlock::Create(ctx, "rare", f);
  auto* usual_bb = llvm::BasicBlock::Create(ctx, "usual", f);
  auto* join = llvm::BasicBlock::Create(ctx, "rare.join", f);
  b_.CreateCondBr(any, rare_bb, usual_bb, llvm::MDBuilder(ctx).createBranchWeights(1, 1 << 20));
  b_.SetInsertPoint(usual_bb);
  rare_as_else_.insert(split.begin(), split.end());
  std::vector<llvm::Value*> usual = emit_values(roots, leaf, &given, also, nullptr);
  rare_as_else_.clear();
  b_.CreateBr(join);
  llvm::BasicBlock* usual_end = b_.GetInsertBlock();
  b_.SetInsertPoint(rare_bb);
  std::vector<llvm::Value*> rare = emit_values(roots, leaf, &given, also, nullptr);
  b_.CreateBr(join);
  llvm::BasicBlock* rare_end = b_.GetInsertBlock();
  b_.SetInsertPoint(join);
  std::vector<llvm::Value*> out;
  for (size_t i = 0; i < usual.size(); ++i) {
    llvm::PHINode* phi = b_.CreatePHI(usual[i]->getType(), 2);
    phi->addIncoming(usual[i], usual_end);
    phi->addIncoming(rare[i], rare_end);
    out.push_back(phi);
  }
  return out;
}

std::vector<llvm::Value*> Emitter::emit_values(const std::vector<NodeId>& roots, const Leaf& leaf,
                                               const std::unordered_map<NodeId, llvm::Value*>* known,
                                               const std::vector<NodeId>& also,
                                               std::unordered_map<NodeId, llvm::Value*>* all) {
  std::vector<llvm::Value*> out;
  if (roots.empty()) return out;
  // The nodes to emit: the elementwise part of the roots, stopping at
  // known nodes.
  std::vector<NodeId> order = ir::reachable_elementwise(g_, roots, [&](NodeId id) { return known && known->count(id); });
  NodeId top = 0;
  for (NodeId r : roots) top = std::max(top, r);
  std::vector<llvm::Value*> v(top + 1, nullptr);
  auto* cond_vec = llvm::VectorType::get(b_.getInt1Ty(), llvm::cast<llvm::VectorType>(vec_)->getElementCount());
  // What the values can be, for any x, dy and parameters (infinities
  // included): exp without the clamps its argument cannot reach, log1p of
  // [0, 1].
  // Guards whose lanes their other branch gives alike (guard_gives_branch)
  // are emitted as that branch, which the ranges then take on every lane.
  // Float kernels only: the float64 plans (plan_scaled_products) read the
  // guards' bounds.
  const bool f64 = vec_->getScalarType()->isDoubleTy();
  std::vector<NodeId> as_else;
  if (!f64)
    for (NodeId id : order)
      if (g_[id].op == Op::Where && !(known && known->count(id)) && !rare_as_else_.count(id) && guard_gives_branch(id))
        as_else.push_back(id);
  std::vector<NodeId> else_taken;  // the usual block's rare where()s: their conditions are false on every lane
  for (NodeId id : order)
    if (rare_as_else_.count(id) && !(known && known->count(id))) else_taken.push_back(id);
  std::unordered_set<NodeId> else_wheres(as_else.begin(), as_else.end());
  else_wheres.insert(else_taken.begin(), else_taken.end());
  const ir::Ranges ranges(g_, roots, f64 ? ir::Precision::F64 : ir::Precision::F32, ir::Domain{false, false}, as_else,
                          else_taken);
  // Known values are visible to the patterns that look at operands (y in
  // y / sqrt 2), as if this call had emitted them.
  if (known)
    for (auto& [id, value] : *known)
      if (id < v.size()) v[id] = value;
  ExpPartsMap exp_parts;  // split_exps_' p and n
  NormalCdfMap normal_cdf;  // erfc_product's complete ones
  ExpDivMap exp_divs;
  std::unordered_map<NodeId, llvm::Value*> wide;  // wide_sum's double values
  // Series are cut from their top only (cut_series).
  const std::unordered_set<NodeId> inner_levels = ir::horner_inner_levels(g_, order);
  // log1p(exp(w)) from the table (table_exp_operand) where w carries no
  // rounding error (decided at the exp, exact_table_exps), and of those
  // exps the ones nothing else here takes: emitted only on log1p_exp's
  // branch past the table (not where a caller keeps every value, `all`).
  const bool log1p_table = log1p_exp_table_target(*b_.GetInsertBlock()->getParent(), vec_);
  std::unordered_set<NodeId> table_exps, deferrable_exps, exact_table_exps;
  if (log1p_table) {
    std::unordered_map<NodeId, unsigned> uses;
    for (NodeId id : order)
      for (NodeId a : g_[id].args) ++uses[a];
    for (NodeId r : roots) ++uses[r];
    for (NodeId a : also) ++uses[a];
    for (NodeId id : order) {
      NodeId e = g_[id].op == Op::Log1p ? table_exp_operand(id, ranges) : ir::kNoNode;
      if (e == ir::kNoNode || (known && known->count(e))) continue;
      table_exps.insert(e);
      if (!all && uses[e] == 1) deferrable_exps.insert(e);
    }
  }
  // a -> an exp(-|a|) node, whose square serves a flushed exp(-2|a|)
  // emitted after it (plan).
  std::unordered_map<NodeId, NodeId> half_exps;
  for (NodeId id : order)
    if (NodeId a = neg1abs_operand(id); a != ir::kNoNode) half_exps.emplace(a, id);
  for (NodeId id : order) {
    if (known) {
      auto it = known->find(id);
      if (it != known->end()) {
        v[id] = it->second;
        continue;
      }
    }
    const ir::Node& n = g_[id];
    auto A = [&](int k) { return v[n.args[k]]; };
    llvm::Value* r = nullptr;
    switch (n.op) {
      case Op::Const: r = llvm::ConstantFP::get(vec_, n.value); break;  // rounded once to T
      case Op::CondConst: r = llvm::ConstantInt::get(cond_vec, n.value != 0 ? 1 : 0); break;
      case Op::Input:
      case Op::Cotangent:
      case Op::Sum:
      case Op::Mean:
      case Op::RowMax:
      case Op::RowMin: r = leaf(id); break;
      case Op::Param: r = params_.value[size_t(n.value)]; break;
      case Op::StopGrad: r = A(0); break;
      case Op::Neg: r = b_.CreateFNeg(A(0)); break;
      case Op::Add:
        if (auto ts = tanh_sums_.find(id); pairing_ && ts != tanh_sums_.end()) {
          // The first factor scales 4e / (1 + e)^2 itself, the others make z: where
          // that is 0 a factor past float's range cannot make 0 * inf (the chain
          // factor min(exp(x), 1e4) times x, x tanh(exp(x)) at x = 3e38).
          const std::vector<NodeId>& f = ts->second.factors;
          llvm::Value* z = f.size() < 2 ? llvm::ConstantFP::get(vec_, 1.0) : nullptr;
          for (size_t i = 1; i < f.size(); ++i) z = z ? b_.CreateFMul(z, v[f[i]]) : v[f[i]];
          r = emit_tanh_plus_sech2_times(b_, v[ts->second.a], z, f.empty() ? nullptr : v[f[0]]);
          break;
        }
        // (Where the sum's sigmoid came known, from y, its operands may not
        // have: then the sum as it is.)
        if (auto ss = sigmoid_sums_.find(id); ss != sigmoid_sums_.end() && sigmoid_sum_ready(ss->second, v)) {
          const SigmoidSum& s = ss->second;
          llvm::Value* ze = v[s.e];
          for (NodeId f : s.factors) ze = b_.CreateFMul(v[f], ze);
          llvm::Value* d = v[s.d];
          llvm::Value* num = b_.CreateIntrinsic(llvm::Intrinsic::fma, {vec_}, {v[s.w], d, ze});
          r = b_.CreateFDiv(num, b_.CreateFMul(d, d));
          break;
        }
        if (n.value == ir::kWideSum && !f64) {
          r = wide_sum(id, v, wide);
          break;
        }
        r = normal_cdf_pdf_sum(id, v, normal_cdf);
        if (!r) r = param_product_sum(n, v);
        if (!r) r = square_plus_double(n, v);
        if (!r && !inner_levels.count(id)) r = cut_series(id, v, ranges);
        if (!r) r = b_.CreateFAdd(A(0), A(1));
        break;
      case Op::Sub:
        r = normal_cdf_pdf_sum(id, v, normal_cdf);
        if (!r) r = param_product_sum(n, v);
        if (!r) r = b_.CreateFSub(A(0), A(1));
        break;
      case Op::Mul:
        r = sigmoid_quotient(id, v);
        if (!r) r = scaled_product(id, v, exp_parts);
        if (!r) r = tiny_product(id, v, exp_parts);
        if (!r) r = erfc_product(id, v, ranges, normal_cdf);
        if (!r) r = constant_product(id, v, ranges);
        if (!r) r = exp_div_product(n, v, exp_divs);
        if (!r) r = b_.CreateFMul(A(0), A(1));
        break;
      case Op::Div: {
        auto s2 = paired_sech2_.find(id);
        if (pairing_ && s2 != paired_sech2_.end()) {
          r = emit_sech2_paired(b_, v[s2->second]);
          break;
        }
        if (auto q = sech2_quotients_.find(id); q != sech2_quotients_.end()) {
          llvm::Value* e = v[q->second];
          llvm::Value* half = llvm::ConstantFP::get(vec_, 0.5);
          llvm::Value* h = b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vec_}, {e, half, half});
          r = b_.CreateFDiv(e, b_.CreateFMul(h, h));
          break;
        }
        if ((r = sqrt1p_minus1(n, v))) break;
        // a / sqrt(s), s normal and finite wherever the quotient is used
        // (x / sqrt(x^2 + 1) below the guard of x^2's overflow): a times an
        // estimate of 1 / sqrt(s) refined once, instead of a square root and
        // a division, which share one unit (~1.5 ULP against ~1).
        const ir::Node& den = g_[n.args[1]];
        if (den.op == Op::Sqrt) {
          ir::Interval s = ranges.operand_where_used(n.args[1]);
          if (!s.nan && s.lo >= FLT_MIN && s.hi <= FLT_MAX)
            if (llvm::Value* q = emit_rsqrt_normal(b_, v[den.args[0]])) r = b_.CreateFMul(A(0), q);
        }
        if (!r) r = b_.CreateFDiv(A(0), A(1));
        break;
      }
      case Op::ExpDiv: {  // one exp: of a, or of a/2 where a is large (then e * (e / b))
        llvm::Value* big = b_.CreateFCmpOGT(A(0), llvm::ConstantFP::get(vec_, ir::kExpDivSplit));
        llvm::Value* half = b_.CreateFMul(A(0), llvm::ConstantFP::get(vec_, 0.5));
        llvm::Value* e = emit_math(b_, Op::Exp, b_.CreateSelect(big, half, A(0)));
        llvm::Value* q = b_.CreateFDiv(e, A(1));
        // Where b overflowed, e * (e / b) would be 0 whatever the ratio was:
        // NaN instead, as the naive inf / inf (the stabilizer has rewritten
        // the quotients whose b overflows alongside exp(a), exp(a) + w).
        auto* inf = llvm::ConstantFP::getInfinity(vec_);
        llvm::Value* lost = b_.CreateFCmpOEQ(b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, A(1)), inf);
        llvm::Value* large = b_.CreateSelect(lost, llvm::ConstantFP::getNaN(vec_), b_.CreateFMul(e, q));
        r = b_.CreateSelect(big, large, q);
        exp_divs[id] = {e, q, big, lost};
        break;
      }
      case Op::Where: {
        if (else_wheres.count(id)) {
          r = A(2);
          break;
        }
        if (neg_abs_where_.count(id)) {  // -|v|: one OR of the sign bit (plan)
          r = b_.CreateFNeg(b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, v[g_[n.args[0]].args[0]]));
          break;
        }
        if (auto m = first_nan_extreme(n)) {  // maxout's step: the language's max
          r = emit_math(b_, *m, A(1), A(2));
          break;
        }
        if (NodeId p = saturated_where(id, normal_cdf); p != ir::kNoNode) {
          r = v[p];
          break;
        }
        // A condition the analysis knows over the lanes where the where is
        // used (an enclosing where already decided it) leaves one branch.
        ir::Interval c = ranges.operand_where_used(id);
        bool known = !c.nan && c.lo == c.hi && (c.lo == 0 || c.lo == 1);
        r = known ? (c.lo == 1 ? A(1) : A(2)) : b_.CreateSelect(A(0), A(1), A(2));
        break;
      }
      case Op::Lt: r = b_.CreateFCmpOLT(A(0), A(1)); break;
      case Op::Le: r = b_.CreateFCmpOLE(A(0), A(1)); break;
      case Op::Gt: r = b_.CreateFCmpOGT(A(0), A(1)); break;
      case Op::Ge: r = b_.CreateFCmpOGE(A(0), A(1)); break;
      case Op::Eq: r = b_.CreateFCmpOEQ(A(0), A(1)); break;
      case Op::Ne: r = b_.CreateFCmpUNE(A(0), A(1)); break;
      case Op::And: r = b_.CreateAnd(A(0), A(1)); break;
      case Op::Or: r = b_.CreateOr(A(0), A(1)); break;
      case Op::Not: r = b_.CreateNot(A(0)); break;
      case Op::Pow: {
        r = small_integer_power(n, A(0));
        if (r) break;
        r = emit_math(b_, n.op, A(0), A(1));
        // A constant exponent's rest (1/3 folded as hi + lo: Node::lo) in double: a^hi (1 +
        // lo log(a)) (x^(1/3) took hi alone, 58 ULP off at 1e-300); where log(a) is not
        // finite (a = 0, inf) a^hi itself.
        const ir::Node& e = g_[n.args[1]];
        if (vec_->getScalarType()->isDoubleTy() && e.op == Op::Const && e.lo != 0) {
          llvm::Value* t = b_.CreateFMul(emit_math(b_, Op::Log, A(0)), llvm::ConstantFP::get(vec_, e.lo));
          llvm::Value* finite =
              b_.CreateFCmpOLT(b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, t), llvm::ConstantFP::getInfinity(vec_));
          r = b_.CreateSelect(finite, mul_add(r, t, r), r);
        }
        break;
      }
      case Op::Min:
      case Op::Max: r = emit_math(b_, n.op, A(0), A(1)); break;
      case Op::Erfc: {
        // erfc(+-y / sqrt 2): the normal distribution (gelu), whose square
        // in the exponent is better taken from y than from y / sqrt 2.
        auto [y, negate] = normal_cdf_operand(id, v);
        r = y != ir::kNoNode ? emit_erfc_over_sqrt2(b_, v[y], negate, erfc_log_form_) : emit_math(b_, n.op, A(0));
        break;
      }
      case Op::Exp: {
        // exp(-(y / sqrt 2)^2), the normal density (gelu's derivative): the
        // square taken from y exactly, and the same instructions as in
        // erfc(y / sqrt 2), which share them.
        auto shifted = shifted_exps_.find(id);
        if (shifted != shifted_exps_.end()) {
          r = emit_exp_shifted(b_, v[shifted->second.first], shift_values(v[shifted->second.second]));
          break;
        }
        if (table_exps.count(id)) {
          std::unordered_map<NodeId, Tail> memo;
          Tail t = rounding_error(n.args[0], v, memo);
          if (t.ok && !t.t) {
            exact_table_exps.insert(id);
            if (deferrable_exps.count(id)) break;  // log1p_exp emits it where needed
          }
        }
        NodeId half_square = half_square_exp_operand(id, v);
        r = half_square != ir::kNoNode ? emit_exp_neg_half_square(b_, v[half_square]) : nullptr;
        auto flushed = flushed_exp_.find(id);
        if (!r && flushed != flushed_exp_.end()) {
          // exp(-|a|)'s value is right where its own uses need it (its
          // clamps follow that range): it must cover the -|a| = m/2 of every
          // m = -2|a| this exp's uses need (softplus's backward guards its
          // exp(-|x|) with x > 20; tanh's derivative beside it is unguarded).
          // A known value was emitted under another call's ranges: not taken.
          auto half = paired_exp(id) ? half_exps.end() : half_exps.find(flushed->second);
          const bool covered = half != half_exps.end() && v[half->second] && !(known && known->count(half->second)) &&
                               ranges.operand_where_used(half->second).lo <= ranges.operand_where_used(id).lo / 2;
          if (covered) r = emit_exp_neg2abs_square(b_, v[half->second]);
          else if (paired_exp(id)) r = emit_exp_neg2abs_paired(b_, v[flushed->second]);
          else r = emit_exp_neg2abs(b_, v[flushed->second]);
        }
        if (!r) {
          ir::Interval used = ranges.operand_where_used(id);
          // A computed argument's rounding error, where exp's argument can
          // be beyond +-1 (there it is the relative error of the result
          // times |argument|).
          llvm::Value* tail = nullptr;
          if (!(std::fabs(used.lo) <= 1 && std::fabs(used.hi) <= 1)) {
            std::unordered_map<NodeId, Tail> memo;
            Tail t = rounding_error(n.args[0], v, memo);
            if (t.ok) tail = t.t;
          }
          auto em1 = expm1_of_.find(n.args[0]);
          const bool split = scaling_ && split_exps_.count(id);
          if (em1 != expm1_of_.end() && !tail && !split) {
            // (The shared reduction clamps above unless both operands stay
            // at or below 0 where used: expm1's alone made exp's unclamped,
            // and exp(x) beside an expm1 the kernel does not use, as in
            // expm1's backward, -inf at 1e19 in double.)
            r = emit_exp_paired_expm1(b_, A(0), std::max(ranges.operand_where_used(em1->second).hi, used.hi));
          } else if (split) {
            auto parts = emit_exp_parts(b_, A(0), used.lo, used.hi, tail);
            exp_parts[id] = parts;
            r = emit_ldexp(b_, parts.first, parts.second);
          } else {
            r = emit_exp(b_, A(0), used.lo, used.hi, tail);
          }
        }
        break;
      }
      case Op::Log1p: {
        // log1p(exp(w)) with w <= 0 (softplus, logsigmoid): the argument is in
        // [0, 1]; the shifted softplus's log1p(expm1(w) / 2) in [-1/2, 0] (with
        // the range's slack). log1p_unit holds on [-1/2, 1].
        if (NodeId e = g_[n.args[0]].op == Op::Exp ? n.args[0] : ir::kNoNode; exact_table_exps.count(e)) {
          r = log1p_exp(v[g_[e].args[0]], v[e], ranges.operand_where_used(e));
          break;
        }
        const ir::Interval& t = ranges[n.args[0]];
        bool unit = (g_[n.args[0]].op == Op::Exp && ranges[g_[n.args[0]].args[0]].hi <= 0) ||
                    (!t.empty() && t.lo >= -0.5001 && t.hi <= 1);  // NaN passes through; the range's slack
        r = unit ? emit_log1p_unit(b_, A(0)) : emit_math(b_, n.op, A(0));
        break;
      }
      case Op::Expm1:
        r = expm1_of_.count(n.args[0]) ? emit_expm1_paired(b_, A(0), ranges.operand_where_used(id).hi)
                                       : emit_expm1(b_, A(0), ranges.operand_where_used(id).hi);
        break;
      case Op::Log: case Op::Sqrt: case Op::Abs:
      case Op::Sign: case Op::Sin: case Op::Cos: case Op::Tan: case Op::Sinh: case Op::Cosh:
      case Op::Asinh: case Op::Atan: case Op::Erf: case Op::Floor:
      case Op::Ceil: case Op::Round: case Op::TanhShrink:
        r = emit_math(b_, n.op, A(0));
        break;
      case Op::Tanh:
        r = pairing_ && paired_tanh_.count(id) ? emit_tanh_paired(b_, A(0)) : emit_math(b_, n.op, A(0));
        break;
    }
    v[id] = r;
    if (all) (*all)[id] = r;
  }
  for (NodeId r : roots) out.push_back(v[r]);
  for (NodeId a : also) out.push_back(a < v.size() ? v[a] : nullptr);
  return out;
}

namespace {
/// The lanes where condition `c` holds, as an interval of x, where c
/// compares the input with a constant (x > T, T < x, ...); else nothing.
std::optional<std::pair<double, double>> input_region(const ir::Graph& g, NodeId c) {
  const ir::Node& n = g[c];
  bool less = n.op == Op::Lt || n.op == Op::Le, greater = n.op == Op::Gt || n.op == Op::Ge;
  if (!less && !greater) return std::nullopt;
  const ir::Node &l = g[n.args[0]], &r = g[n.args[1]];
  const double inf = ir::Interval::kInf;
  if (l.op == Op::Input && r.op == Op::Const) return less ? std::pair{-inf, r.value} : std::pair{r.value, inf};
  if (l.op == Op::Const && r.op == Op::Input) return less ? std::pair{l.value, inf} : std::pair{-inf, l.value};
  return std::nullopt;
}

}  // namespace

bool Emitter::same_value(NodeId b, NodeId a, const ir::Ranges& ranges, bool f64) const {
  if (b == a) return true;
  const ir::Node& n = g_[b];
  if (n.op == Op::Where) {
    // Wheres emitted in forms of their own (-|v|, whose zero may have the
    // other sign; maxout's max; gelu's saturated guards) are not followed.
    if (neg_abs_where_.count(b) || first_nan_extreme(n) || has_erfc_) return false;
    ir::Interval c = ranges[n.args[0]];
    if (c.nan || c.lo != c.hi || (c.lo != 0 && c.lo != 1)) return false;
    return same_value(n.args[c.lo == 1 ? 1 : 2], a, ranges, f64);
  }
  if (n.op == Op::Const && g_[a].op == Op::Const)
    return std::signbit(n.value) == std::signbit(g_[a].value) && n.value == g_[a].value;
  if (n.op != Op::Add) return false;
  for (int k = 0; k < 2; ++k) {
    NodeId p = n.args[k], q = n.args[1 - k];
    ir::Interval qi = ranges[q], ai = ranges[a];
    if (qi.nan || qi.empty() || !same_value(p, a, ranges, f64)) continue;
    if (g_[a].op == Op::Const && g_[a].value == 0 && !std::signbit(g_[a].value) && qi.lo == 0 && qi.hi == 0) return true;
    double least = ai.lo > 0 ? ai.lo : ai.hi < 0 ? -ai.hi : 0;
    double smallest_normal = f64 ? DBL_MIN : FLT_MIN;
    if (least < smallest_normal || std::isinf(least)) continue;
    // Fused or not (param_product_sum), a + q then rounds to a.
    double quarter_ulp = std::ldexp(1.0, std::ilogb(least) - (f64 ? 52 : 23) - 2);
    if (std::max(-qi.lo, qi.hi) <= quarter_ulp) return true;
  }
  return false;
}

bool Emitter::guard_gives_branch(NodeId where) const {
  const ir::Node& n = g_[where];
  auto region = input_region(g_, n.args[0]);
  if (!region) return false;
  ir::Domain d{false, false};
  d.input_lo = region->first;
  d.input_hi = region->second;
  const bool f64 = vec_->getScalarType()->isDoubleTy();
  NodeId a = n.args[1], b = n.args[2];
  if (g_[a].op != Op::Input && g_[a].op != Op::Const) return false;  // a's own value is its node's bits
  const ir::Ranges ranges(g_, std::span<const NodeId>(&b, 1), f64 ? ir::Precision::F64 : ir::Precision::F32, d);
  return same_value(b, a, ranges, f64);
}

NodeId Emitter::table_exp_operand(NodeId log1p, const ir::Ranges& ranges) const {
  NodeId e = g_[log1p].args[0];
  if (g_[e].op != Op::Exp) return ir::kNoNode;
  NodeId w = g_[e].args[0];
  if (!(ranges[w].hi <= 0)) return ir::kNoNode;
  // The exps the emitter lowers in a form of their own keep it.
  if (shifted_exps_.count(e) || flushed_exp_.count(e) || split_exps_.count(e) || expm1_of_.count(w)) return ir::kNoNode;
  return e;
}

llvm::Value* Emitter::log1p_exp(llvm::Value* w, llvm::Value* e, const ir::Interval& used) {
  llvm::LLVMContext& ctx = b_.getContext();
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  llvm::Value* past_lanes = b_.CreateFCmpOLT(w, llvm::ConstantFP::get(vec_, -kLog1pExpTableBound));
  llvm::Value* past = b_.CreateOrReduce(past_lanes);
  auto* table_bb = llvm::BasicBlock::Create(ctx, "log1p_exp.table", f);
  auto* exp_bb = llvm::BasicBlock::Create(ctx, "log1p_exp.exp", f);
  auto* join = llvm::BasicBlock::Create(ctx, "log1p_exp.join", f);
  b_.CreateCondBr(past, exp_bb, table_bb, llvm::MDBuilder(ctx).createBranchWeights(1, 1 << 10));
  b_.SetInsertPoint(table_bb);
  llvm::Value* from_table = emit_log1p_exp_table(b_, w);
  b_.CreateBr(join);
  llvm::BasicBlock* table_end = b_.GetInsertBlock();
  b_.SetInsertPoint(exp_bb);
  if (!e) e = emit_exp(b_, w, used.lo, used.hi, nullptr);
  // Past the table e <= exp(-16.625) = 6.0e-8, where log1p(e) = e (1 - e/2)
  // to well within float's precision (the next term, e^2 / 3, is below
  // 2^-47 of it): one FMA. The lanes within the table take it here too:
  // each lane's value does not depend on its neighbours (nor on how many
  // registers the kernel is wide).
  llvm::Value* half_square = b_.CreateFMul(e, llvm::ConstantFP::get(vec_, -0.5));
  llvm::Value* tail = b_.CreateIntrinsic(llvm::Intrinsic::fma, {vec_}, {e, half_square, e});
  llvm::Value* from_exp = b_.CreateSelect(past_lanes, tail, emit_log1p_exp_table(b_, w));
  b_.CreateBr(join);
  llvm::BasicBlock* exp_end = b_.GetInsertBlock();
  b_.SetInsertPoint(join);
  llvm::PHINode* phi = b_.CreatePHI(vec_, 2);
  phi->addIncoming(from_table, table_end);
  phi->addIncoming(from_exp, exp_end);
  return phi;
}

std::unordered_map<NodeId, llvm::Value*> Emitter::reusable(const std::unordered_map<NodeId, llvm::Value*>& values) const {
  // A node's value is reusable unless it depends on a paired tanh (ids
  // grow from operands to users, so one pass in id order decides).
  std::vector<NodeId> ids;
  for (auto& [id, value] : values) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  std::unordered_set<NodeId> tainted;
  std::unordered_map<NodeId, llvm::Value*> out;
  for (NodeId id : ids) {
    bool t = paired_tanh_.count(id) != 0 || paired_exp(id) || paired_sech2_.count(id) != 0;
    for (NodeId a : g_[id].args) t = t || tainted.count(a) != 0;
    if (t) tainted.insert(id);
    else out[id] = values.at(id);
  }
  return out;
}

bool Emitter::paired_exp(NodeId id) const {
  auto f = flushed_exp_.find(id);
  return pairing_ && f != flushed_exp_.end() && paired_args_.count(f->second) != 0;
}

}  // namespace actjit::lower
