// Helpers for writing vector math in LLVM IR once, generic over the element
// type (float or double) and the vector width: typed constants, Horner
// polynomials, exponent-field manipulation. Internal to compiler/lower.
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>

#include <array>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "compiler/lower/target_cpu.hpp"

namespace actjit::lower::vmath {

/// The name of the function attribute that holds the width in bits of the
/// target's vector registers, where it differs from what the features say
/// (ACTJIT_VECTOR_BITS, AOT CPUs): kernel bodies are several registers wide
/// (see emit_kernels), and target-specific intrinsics work on one register.
inline constexpr const char* kRegisterBitsAttr = "actjit-register-bits";

/// Lanes [start, start + count) of vector v.
inline llvm::Value* slice(llvm::IRBuilderBase& b, llvm::Value* v, unsigned start, unsigned count) {
  std::vector<int> lanes;
  for (unsigned i = 0; i < count; ++i) lanes.push_back(int(start + i));
  return b.CreateShuffleVector(v, lanes);
}

/// The vectors of `parts` (of one width, a power-of-two count) side by side.
inline llvm::Value* concat(llvm::IRBuilderBase& b, std::vector<llvm::Value*> parts) {
  while (parts.size() > 1) {  // pairwise: shufflevector joins two vectors of one width
    std::vector<llvm::Value*> joined;
    unsigned width = llvm::cast<llvm::FixedVectorType>(parts[0]->getType())->getNumElements();
    std::vector<int> both;
    for (unsigned i = 0; i < 2 * width; ++i) both.push_back(int(i));
    for (size_t i = 0; i + 1 < parts.size(); i += 2) joined.push_back(b.CreateShuffleVector(parts[i], parts[i + 1], both));
    parts = std::move(joined);
  }
  return parts[0];
}

/// `fn` applied to each `part_lanes`-wide slice of `args` (vectors of one
/// width, a power-of-two multiple of part_lanes), the results concatenated:
/// a target-specific intrinsic of one register's width on a body several
/// registers wide. Just fn(args) where the vectors are one register.
template <class Fn>
llvm::Value* per_register(llvm::IRBuilderBase& b, const std::vector<llvm::Value*>& args, unsigned part_lanes, Fn fn) {
  unsigned lanes = llvm::cast<llvm::FixedVectorType>(args[0]->getType())->getNumElements();
  if (lanes <= part_lanes) return fn(args);
  std::vector<llvm::Value*> parts;
  for (unsigned start = 0; start < lanes; start += part_lanes) {
    std::vector<llvm::Value*> sliced;
    for (llvm::Value* a : args) sliced.push_back(slice(b, a, start, part_lanes));
    parts.push_back(fn(sliced));
  }
  return concat(b, std::move(parts));
}

/// An IR builder positioned in a vector math function, with the vector type
/// it works on and shorthands for the operations the approximations use.
/// ln2 = hi + lo with hi's trailing bits zero (n hi exact for the n of
/// exp's and log's reductions: 32 bits in double, 9 in float).
struct Ln2Split {
  double hi, lo;
};
inline constexpr Ln2Split kLn2Double{6.93147180369123816490e-01, 1.90821492927058770002e-10};
inline constexpr Ln2Split kLn2Float{0.693359375, -2.12194440e-4};

struct Ctx {
  llvm::IRBuilderBase& b;
  llvm::FixedVectorType* vt;  // <W x float|double>
  bool f64;
  /// 512-bit vectors on an AVX-512F target: vscalef (p * 2^n, with the
  /// subnormal, overflow and NaN cases right, in one instruction) is there.
  bool avx512 = false;
  /// The target has fused multiply-add (FMA3): llvm.fma is one instruction.
  bool has_fma = false;

  unsigned lanes() const { return vt->getNumElements(); }
  unsigned mantissa_bits() const { return f64 ? 52 : 23; }
  int exponent_bias() const { return f64 ? 1023 : 127; }
  llvm::Type* int_elem() const { return f64 ? b.getInt64Ty() : b.getInt32Ty(); }
  llvm::VectorType* int_vec() const { return llvm::VectorType::get(int_elem(), vt->getElementCount()); }

  llvm::Value* c(double v) const { return llvm::ConstantFP::get(vt, v); }
  llvm::Value* ci(long long v) const { return llvm::ConstantInt::get(int_vec(), uint64_t(v), true); }
  llvm::Value* add(llvm::Value* x, llvm::Value* y) const { return b.CreateFAdd(x, y); }
  llvm::Value* sub(llvm::Value* x, llvm::Value* y) const { return b.CreateFSub(x, y); }
  llvm::Value* mul(llvm::Value* x, llvm::Value* y) const { return b.CreateFMul(x, y); }
  llvm::Value* div(llvm::Value* x, llvm::Value* y) const { return b.CreateFDiv(x, y); }
  /// x * y + z, fused where the target has FMA (never a library call).
  llvm::Value* fma(llvm::Value* x, llvm::Value* y, llvm::Value* z) const {
    return b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vt}, {x, y, z});
  }
  llvm::Value* abs(llvm::Value* x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  llvm::Value* round(llvm::Value* x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, x); }
  llvm::Value* copysign(llvm::Value* mag, llvm::Value* sgn) const {
    return b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, mag, sgn);
  }
  llvm::Value* select(llvm::Value* cond, llvm::Value* x, llvm::Value* y) const { return b.CreateSelect(cond, x, y); }
  /// min(|x|, cap) (NaN stays NaN): where a function's value no longer
  /// changes in T past cap, the argument range its approximation must take.
  llvm::Value* capped_abs(llvm::Value* x, double cap) const {
    llvm::Value* m = abs(x);
    return select(b.CreateFCmpOGT(m, c(cap)), c(cap), m);
  }
  llvm::Value* is_nan(llvm::Value* x) const { return b.CreateFCmpUNO(x, x); }
  /// Whether clamp_magnitude is one instruction: AVX-512DQ's vrange on
  /// 512-bit registers.
  bool has_range() const;
  /// x with its magnitude capped at `cap`, its sign kept; NaN gives +-cap
  /// (has_range): one vrangeps/vrangepd per register, the operand of the
  /// smaller magnitude with x's sign. Measured here (Zen 5) four a cycle,
  /// where vminps and vmaxps take two.
  llvm::Value* clamp_magnitude(llvm::Value* x, double cap) const;
  /// Whether a division bounds float kernels here more than the operations
  /// around it: 512-bit float vectors on an AVX-512 target other than AMD
  /// Zen (target-cpu znver*). Measured on Intel's Emerald Rapids (sixty-
  /// first sitting): vdivps zmm one per 7.8 cycles, beside the FMA pipe
  /// (four divisions and sixteen FMAs took 31 cycles); vrcp14ps one per
  /// 1.8. Zen 4 runs its divider beside two FMA pipes that bound the same
  /// loops (vrcp14ps and FMAs in place of a division measured 4-14% slower
  /// there, thirty-eighth sitting).
  bool divider_bound() const;
  /// p / q to within 1.1 ULP (float), for quotients whose rounding is
  /// damped downstream (a correction term): where divider_bound, p times
  /// vrcp14ps(q) refined by one Newton step (relative error 2^-28 before
  /// the two roundings; four operations on the FMA pipe instead of the
  /// divider); else the division. q must be a normal number with a normal
  /// reciprocal where the result is used (0 and inf give NaN).
  llvm::Value* div_damped(llvm::Value* p, llvm::Value* q) const;

  /// c[0] + x (c[1] + x (c[2] + ...)), by Horner's rule with fused steps.
  llvm::Value* horner(llvm::Value* x, std::initializer_list<double> coeffs) const {
    return horner(x, std::span<const double>(coeffs.begin(), coeffs.size()));
  }
  llvm::Value* horner(llvm::Value* x, std::span<const double> coeffs) const {
    const double* first = coeffs.data();
    const double* p = first + coeffs.size() - 1;
    llvm::Value* acc = c(*p);
    while (p != first) acc = fma(acc, x, c(*--p));
    return acc;
  }

  /// c[0] + x c[1] + x^2 c[2] + ... by Estrin's scheme: pairs c[2i] + x
  /// c[2i+1] (one FMA each), then pairs of those with x^2, x^4, ... The
  /// longest path is about log2(n) FMAs and products where Horner's is n
  /// FMAs: what bounds a long kernel on a wide out-of-order core is its
  /// instructions times its longest path over the scheduler's window.
  llvm::Value* estrin(llvm::Value* x, std::vector<llvm::Value*> coeffs) const {
    llvm::Value* power = x;
    while (coeffs.size() > 1) {
      std::vector<llvm::Value*> next;
      for (size_t i = 0; i + 1 < coeffs.size(); i += 2) next.push_back(fma(coeffs[i + 1], power, coeffs[i]));
      if (coeffs.size() % 2) next.push_back(coeffs.back());
      coeffs = std::move(next);
      if (coeffs.size() > 1) power = mul(power, power);
    }
    return coeffs.front();
  }

  /// p * 2^n for integral-valued n (as T), any n, by AVX-512's vscalef
  /// (one per 512-bit register of the vector).
  llvm::Value* scalef(llvm::Value* p, llvm::Value* n) const {
    auto id = f64 ? llvm::Intrinsic::x86_avx512_mask_scalef_pd_512 : llvm::Intrinsic::x86_avx512_mask_scalef_ps_512;
    llvm::Value* all = f64 ? b.getInt8(0xff) : b.getInt16(0xffff);
    return per_register(b, {p, n}, f64 ? 8 : 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return b.CreateIntrinsic(id, {}, {part[0], part[1], llvm::UndefValue::get(part[0]->getType()), all,
                                        b.getInt32(4 /* current rounding */)});
    });
  }

  /// table[i mod 16] for each lane's i (the low four bits of `index`, an
  /// integer vector as wide as vt) from 16 floats held in one register:
  /// AVX-512's vpermps (float 512-bit vectors only).
  llvm::Value* lookup16(llvm::Value* index, const std::array<float, 16>& table) const {
    std::vector<llvm::Constant*> values;
    for (float v : table) values.push_back(llvm::ConstantFP::get(b.getFloatTy(), v));
    llvm::Constant* data = llvm::ConstantVector::get(values);
    return per_register(b, {index}, 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return b.CreateIntrinsic(llvm::Intrinsic::x86_avx512_permvar_sf_512, {}, {data, part[0]});
    });
  }

  /// table[i mod 16] for double vectors: the low four bits of each lane of
  /// `index` (64-bit integers) pick from 16 doubles held in two registers,
  /// by AVX-512's vpermi2pd (512-bit vectors only).
  llvm::Value* lookup16(llvm::Value* index, const std::array<double, 16>& table) const {
    auto half = [&](size_t from) {
      std::vector<llvm::Constant*> values;
      for (size_t i = from; i < from + 8; ++i) values.push_back(llvm::ConstantFP::get(b.getDoubleTy(), table[i]));
      return llvm::ConstantVector::get(values);
    };
    llvm::Constant* low = half(0);
    llvm::Constant* high = half(8);
    return per_register(b, {index}, 8, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return b.CreateIntrinsic(llvm::Intrinsic::x86_avx512_vpermi2var_pd_512, {}, {low, part[0], high});
    });
  }

  /// The mantissa of |x| in [3/4, 3/2) (AVX-512's vgetmant, interval 3/4..3/2,
  /// sign cleared): x = m 2^e' with e' = getexp(x) or getexp(x) + 1 (the
  /// latter where m < 1). Subnormals are normalized; 0 gives 0, inf 1, NaN NaN.
  llvm::Value* mantissa_3_4(llvm::Value* x) const {
    auto id = f64 ? llvm::Intrinsic::x86_avx512_mask_getmant_pd_512 : llvm::Intrinsic::x86_avx512_mask_getmant_ps_512;
    llvm::Value* all = f64 ? b.getInt8(0xff) : b.getInt16(0xffff);
    return per_register(b, {x}, f64 ? 8 : 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return b.CreateIntrinsic(id, {},
                               {part[0], b.getInt32(0b0111), llvm::UndefValue::get(part[0]->getType()), all,
                                b.getInt32(4 /* current rounding */)});
    });
  }

  /// floor(log2 |x|) as T (AVX-512's vgetexp): subnormals' true exponent,
  /// -inf at 0, inf at inf, NaN at NaN.
  llvm::Value* exponent_of(llvm::Value* x) const {
    auto id = f64 ? llvm::Intrinsic::x86_avx512_mask_getexp_pd_512 : llvm::Intrinsic::x86_avx512_mask_getexp_ps_512;
    llvm::Value* all = f64 ? b.getInt8(0xff) : b.getInt16(0xffff);
    return per_register(b, {x}, f64 ? 8 : 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return b.CreateIntrinsic(
          id, {}, {part[0], llvm::UndefValue::get(part[0]->getType()), all, b.getInt32(4 /* current rounding */)});
    });
  }

  /// 2^n for integral-valued n (as T) in the normal exponent range.
  llvm::Value* pow2(llvm::Value* n) const {
    if (avx512) return scalef(c(1), n);
    llvm::Value* i = b.CreateFPToSI(n, int_vec());
    llvm::Value* bits = b.CreateShl(b.CreateAdd(i, ci(exponent_bias())), ci(mantissa_bits()));
    return b.CreateBitCast(bits, vt);
  }

  /// p * 2^n for integral n anywhere in [2 * emin, 2 * emax]: two factors,
  /// each in the normal range, so results may be subnormal, or overflow to inf.
  llvm::Value* ldexp(llvm::Value* p, llvm::Value* n) const {
    if (avx512) return scalef(p, n);
    llvm::Value* half = b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, mul(n, c(0.5)));
    return mul(mul(p, pow2(half)), pow2(sub(n, half)));
  }
};

/// True when function `f`'s "target-features" attribute enables `name`
/// (e.g. "avx512f", "fma").
inline bool has_feature(const llvm::Function& f, const char* name) {
  std::string features = f.getFnAttribute("target-features").getValueAsString().str() + ",";
  return features.find(std::string("+") + name + ",") != std::string::npos;
}

inline bool Ctx::has_range() const {
  return avx512 && has_feature(*b.GetInsertBlock()->getParent(), "avx512dq");
}

inline bool Ctx::divider_bound() const {
  const llvm::Function& f = *b.GetInsertBlock()->getParent();
  return avx512 && !f64 && !amd_zen(f.getFnAttribute("target-cpu").getValueAsString());
}

inline llvm::Value* Ctx::div_damped(llvm::Value* p, llvm::Value* q) const {
  if (!divider_bound()) return div(p, q);
  llvm::Value* r0 = per_register(b, {q}, 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
    return b.CreateIntrinsic(llvm::Intrinsic::x86_avx512_rcp14_ps_512, {},
                             {part[0], llvm::UndefValue::get(part[0]->getType()), b.getInt16(0xffff)});
  });
  llvm::Value* r1 = fma(r0, fma(b.CreateFNeg(q), r0, c(1)), r0);  // r0 (2 - q r0)
  return mul(p, r1);
}

inline llvm::Value* Ctx::clamp_magnitude(llvm::Value* x, double cap) const {
  auto id = f64 ? llvm::Intrinsic::x86_avx512_mask_range_pd_512 : llvm::Intrinsic::x86_avx512_mask_range_ps_512;
  llvm::Value* all = f64 ? b.getInt8(0xff) : b.getInt16(0xffff);
  llvm::Value* bound = c(cap);
  // imm 0b0010: the smaller absolute value; bits 3:2 zero: the first operand's sign.
  return per_register(b, {x, bound}, f64 ? 8 : 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
    return b.CreateIntrinsic(id, {}, {part[0], part[1], b.getInt32(2), llvm::UndefValue::get(part[0]->getType()), all,
                                      b.getInt32(4 /* current rounding */)});
  });
}

/// The width in bits of one vector register of `f`'s target: the
/// kRegisterBitsAttr attribute, else 512 with AVX-512F, 256 with AVX, 128.
inline unsigned register_bits(const llvm::Function& f) {
  llvm::Attribute a = f.getFnAttribute(kRegisterBitsAttr);
  unsigned bits = 0;
  if (a.isStringAttribute() && !a.getValueAsString().getAsInteger(10, bits)) return bits;
  return has_feature(f, "avx512f") ? 512 : has_feature(f, "avx") ? 256 : 128;
}

/// Whether vectors of type `vec` in function `f` have AVX-512's vscalef:
/// 512-bit registers on an avx512f target, the vector one or more of them.
inline bool has_vscalef(const llvm::Function& f, const llvm::Type* vec) {
  return register_bits(f) == 512 && vec->getPrimitiveSizeInBits() % 512 == 0 && has_feature(f, "avx512f");
}

/// The function `name` in the module of the current insertion point, created
/// by `body(ctx, args)` on first use; returns the call.
template <class Body>
llvm::Value* call_or_define(llvm::IRBuilderBase& b, const std::string& name, std::initializer_list<llvm::Value*> args,
                            Body body) {
  llvm::Module* m = b.GetInsertBlock()->getModule();
  llvm::Type* vt = (*args.begin())->getType();
  llvm::Function* f = m->getFunction(name);
  if (!f) {
    std::vector<llvm::Type*> params(args.size(), vt);
    f = llvm::Function::Create(llvm::FunctionType::get(vt, params, false), llvm::Function::InternalLinkage, name, m);
    llvm::Function* caller = b.GetInsertBlock()->getParent();
    for (const char* attr : {"target-cpu", "target-features", kRegisterBitsAttr, "prefer-vector-width", "min-legal-vector-width"})
      if (caller->hasFnAttribute(attr)) f->addFnAttr(caller->getFnAttribute(attr));
    f->addFnAttr(llvm::Attribute::AlwaysInline);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    f->setDoesNotAccessMemory();
    llvm::IRBuilder<> fb(llvm::BasicBlock::Create(m->getContext(), "entry", f));
    auto* vec = llvm::cast<llvm::FixedVectorType>(vt);
    Ctx ctx{fb, vec, vec->getElementType()->isDoubleTy()};
    ctx.avx512 = has_vscalef(*f, vec);
    ctx.has_fma = has_feature(*f, "fma");
    std::vector<llvm::Value*> fargs;
    for (auto& a : f->args()) fargs.push_back(&a);
    fb.CreateRet(body(ctx, fargs));
  }
  return b.CreateCall(f, std::vector<llvm::Value*>(args));
}

/// The rounding error of p = fl(a * b): a * b = p + e exactly (barring
/// underflow). One FMA where the target has it, else Veltkamp/Dekker
/// splitting (plain multiplies and adds are never fused).
inline llvm::Value* product_error(const Ctx& k, llvm::Value* a, llvm::Value* b, llvm::Value* p) {
  if (k.has_fma) return k.b.CreateIntrinsic(llvm::Intrinsic::fma, {k.vt}, {a, b, k.b.CreateFNeg(p)});
  llvm::Value* splitter = k.c(k.f64 ? 134217729.0 : 4097.0);  // 2^27 + 1 splits a double's 53 bits, 2^12 + 1 a float's 24
  auto split = [&](llvm::Value* v) {
    llvm::Value* big = k.mul(v, splitter);
    llvm::Value* hi = k.sub(big, k.sub(big, v));
    return std::make_pair(hi, k.sub(v, hi));
  };
  auto [ah, al] = split(a);
  auto [bh, bl] = split(b);
  return k.add(k.add(k.add(k.sub(k.mul(ah, bh), p), k.mul(ah, bl)), k.mul(al, bh)), k.mul(al, bl));
}

/// `near`, except where some lane of the condition `rare` is set: then
/// far() for the whole value, computed in a block of its own behind a branch
/// weighted as taken about never (blocks `name`.far and `name`.join).
template <class Far>
llvm::Value* unless_rare(const Ctx& k, llvm::Value* rare, llvm::Value* near, const char* name, Far far) {
  llvm::BasicBlock* entry = k.b.GetInsertBlock();
  llvm::Function* f = entry->getParent();
  auto* far_bb = llvm::BasicBlock::Create(f->getContext(), std::string(name) + ".far", f);
  auto* join = llvm::BasicBlock::Create(f->getContext(), std::string(name) + ".join", f);
  k.b.CreateCondBr(k.b.CreateOrReduce(rare), far_bb, join,
                   llvm::MDBuilder(f->getContext()).createBranchWeights(1, 1 << 20));
  k.b.SetInsertPoint(far_bb);
  llvm::Value* whole = far();
  llvm::BasicBlock* far_end = k.b.GetInsertBlock();
  k.b.CreateBr(join);
  k.b.SetInsertPoint(join);
  llvm::PHINode* out = k.b.CreatePHI(k.vt, 2);
  out->addIncoming(near, entry);
  out->addIncoming(whole, far_end);
  return out;
}

/// The rounding error of s = fl(a + b): a + b = s + e exactly (Knuth's
/// TwoSum: six additions, no condition on the magnitudes).
inline llvm::Value* sum_error(const Ctx& k, llvm::Value* a, llvm::Value* b, llvm::Value* s) {
  llvm::Value* bb = k.sub(s, a);
  return k.add(k.sub(a, k.sub(s, bb)), k.sub(b, bb));
}

// The approximations, one file each (see their headers for method and accuracy).
llvm::Value* exp(const Ctx& k, llvm::Value* x);
/// sinh and cosh from exp(|x| - log 2) (float kernels: SLEEF's ran 1.0 e/ns).
llvm::Value* sinh(const Ctx& k, llvm::Value* x);
llvm::Value* cosh(const Ctx& k, llvm::Value* x);
/// exp(x) for x known to be NaN or finite in exp_bounds(): no clamping.
llvm::Value* exp_bounded(const Ctx& k, llvm::Value* x);
/// exp(x) for x known to be NaN or <= exp_bounds().hi: no upper clamp.
llvm::Value* exp_below_bound(const Ctx& k, llvm::Value* x);
/// exp(x) for x known to be NaN or >= exp_bounds().lo: no lower clamp.
llvm::Value* exp_above_bound(const Ctx& k, llvm::Value* x);
/// exp(x + t) for a small correction t (the rounding error of x, when x
/// was computed: the relative error of exp is the absolute error of its
/// argument, up to 88 in float): t joins the reduced argument. A t that is
/// NaN or not below 2^-12 in magnitude (x infinite, or overflowed on the
/// way) counts as 0. Clamps as the
/// variants above.
llvm::Value* exp_tail(const Ctx& k, llvm::Value* x, llvm::Value* t, bool clamp_low, bool clamp_high);
/// exp(x + t) for x NaN or finite with |x| <= kExpUnclampedReach, t its
/// rounding error (or null: x exact), on targets with vscalef: neither
/// clamps nor the tail's guard (the reduction is sound that far: p stays
/// finite, vscalef gives 0 and inf; |t| is below ulp(x) / 2 < 1).
llvm::Value* exp_tail_unclamped(const Ctx& k, llvm::Value* x, llvm::Value* t);
inline constexpr double kExpUnclampedReach = 1e5;
/// exp(u - m) up to a factor the same for every u: exp(u - c) for a c
/// within ln2/2 of m (so the largest results are below sqrt 2), for u <= m
/// (a row's max m: softmax's exp(x - max x), whose ratios the factor does
/// not change). u is reduced itself, exactly, so the rounding of u - m
/// (up to 64 float ULP of exp where u is far below m) never arises and
/// needs no TwoSum. AVX-512 (vscalef) and FMA only. NaN in u or m gives
/// NaN, as does m = +-inf. exp_shift(m): what depends on m only (once a
/// row, before the loops).
struct ExpShift {
  llvm::Value *origin, *j, *least;
};
ExpShift exp_shift(const Ctx& k, llvm::Value* m);
llvm::Value* exp_shifted(const Ctx& k, llvm::Value* u, const ExpShift& s);
/// exp(x + t) = p 2^n for x NaN or within exp_bounds(), t exact-ish and
/// small (not guarded): the polynomial p in [1/sqrt 2, sqrt 2] and n,
/// unscaled, for a caller that multiplies p by more before scaling (one
/// rounding into the subnormals, at the end: erfc's product with x). In
/// the table form (float, 512-bit AVX-512) p is in [2^(-1/32), 2^(31/32)]
/// and n a multiple of 1/16: scale by vscalef (ldexp), which floors it.
struct ExpParts {
  llvm::Value *p, *n;
};
ExpParts exp_parts(const Ctx& k, llvm::Value* x, llvm::Value* t);
/// exp(l - (s + e)) = p 2^n as exp_parts gives it, for a square s + e
/// (exact: e is s's rounding error, s in [0, 121]) and a logarithm l = hi
/// + lt, |hi| <= 3, |lt| <= 1/2 (erfc(m / sqrt 2) = exp(-m^2/2 + log
/// erfcx), erf.cpp): r = ((-s - n ln2_hi) + hi) + lt + (-e - n ln2_lo),
/// whose first difference is exact (s and n ln2_hi agree to |l| + 0.03), so
/// the large s costs no accuracy. Float only.
ExpParts exp_parts_log_sum(const Ctx& k, llvm::Value* s, llvm::Value* e, llvm::Value* hi, llvm::Value* lt);
/// The same for any x and a tail t that may be null, NaN or large (guarded
/// as exp_tail's): with `clamp_low` (x may be below exp_bounds' lo), p is
/// 0 there, so that p times any finite value is; with `clamp_high` (x may
/// be above exp's overflow), x is clamped as exp's is (p 2^n is inf).
ExpParts exp_parts_guarded(const Ctx& k, llvm::Value* x, llvm::Value* t, bool clamp_low, bool clamp_high);
/// Where exp needs no clamps: [-170, 88] in float, [-1400, 709] in double;
/// with AVX-512's vscalef at the kernel's width (`scalef`), from -2e4 in
/// float, -1e6 in double.
struct ExpBounds {
  double lo, hi;
};
ExpBounds exp_bounds(bool f64, bool scalef = false);
llvm::Value* expm1(const Ctx& k, llvm::Value* x);
/// expm1(x) for x known to be NaN or <= 0: no upper clamp, no large-n form.
llvm::Value* expm1_nonpositive(const Ctx& k, llvm::Value* x);
/// expm1(x) (the values of expm1, or with `small_only` of
/// expm1_nonpositive) and exp(x) for a kernel with both (elu: y and dy/dx):
/// with vscalef both from one reduction and expm1(r), exp as 2^n (expm1(r) +
/// 1), within 1 ULP (0.94 in float, 0.93 in double: tests/test_vmath.cpp,
/// expm1's slope); kernels that take only
/// one of them compute it the same way, so forward, backward and fused
/// kernels agree. Without vscalef: expm1 and exp.
llvm::Value* expm1_paired(const Ctx& k, llvm::Value* x, bool small_only);
llvm::Value* exp_paired_expm1(const Ctx& k, llvm::Value* x, bool small_only);
/// expm1(x) for x known to be NaN or in [0, 40] (tanh's 2|x|): no clamps,
/// no form for large results (where 2^n - 1 rounds, the relative error
/// grows by at most 2^-25 in float, which u / (u + 2) divides away).
llvm::Value* expm1_of_tanh(const Ctx& k, llvm::Value* x);
/// tanh(a) as -v r, v = expm1(-2|a|), r = 1 / (2 + v), and exp(-2|a|) as
/// 2^n (expm1(r) + 1), from the same reduction and polynomial (with
/// vscalef; else expm1 and exp of -2|a| apart): tanh and its derivative
/// 4e / (1 + e)^2 = 4e r r for the price of one exp and one division.
/// Below exp's normal range e is 0 (no subnormal intermediates).
llvm::Value* tanh_paired(const Ctx& k, llvm::Value* a);
llvm::Value* exp_neg2abs_paired(const Ctx& k, llvm::Value* a);
/// 4e / (1 + e)^2 = 1 - tanh(a)^2 with tanh_paired's reciprocal 1 / (1 + e).
llvm::Value* sech2_paired(const Ctx& k, llvm::Value* a);
/// tanh(a) + z 4e / (1 + e)^2 (the product rule's f' = tanh(a) + z tanh'(a):
/// telu, x tanh(e^x)) as r (sign(a) (-v) + z 4e r), the shared r factored
/// out: fewer roundings where the two terms cancel (telu's derivative
/// near x = -1.08) and two multiplications fewer than the terms apart.
/// With m: tanh(a) + z (m 4e / (1 + e)^2), m taken into the weight first.
llvm::Value* tanh_plus_sech2_times(const Ctx& k, llvm::Value* a, llvm::Value* z, llvm::Value* m = nullptr);
/// exp(-2|a|) by exp's own polynomial, 0 where it is below the normal
/// range (as exp_neg2abs_paired): where no tanh shares it.
llvm::Value* exp_neg2abs(const Ctx& k, llvm::Value* a);
/// exp(-2|a|) as e * e from e = exp(-|a|) (NaN or in [0, 1]), 0 where
/// exp_neg2abs gives 0: for a kernel that has e anyway (sigmoid(a) beside
/// tanh's derivative). Two roundings of e reach it (about 2.5 ULP, against
/// exp's 1); one product and a select instead of an exp.
llvm::Value* exp_neg2abs_square(const Ctx& k, llvm::Value* e);
/// log(u) + e / u on 512-bit AVX-512 vectors with FMA (log_table_target):
/// x = 2^n m by vgetexp and vgetmant (m in [3/4, 3/2)), log m = log c_j +
/// log1p(m / c_j - 1) from 16 rows c_j and a polynomial (float degree 5,
/// double 9), no division. e: null, or the rounding error of u (log1p's u =
/// 1 + x), |e| <= ulp(u) / 2. -inf at 0, inf at inf, NaN at NaN; negative
/// u gives a finite value (the callers select NaN).
llvm::Value* log_table(const Ctx& k, llvm::Value* u, llvm::Value* e);
bool log_table_target(const Ctx& k);
llvm::Value* log(const Ctx& k, llvm::Value* x);
llvm::Value* log1p(const Ctx& k, llvm::Value* x);
/// asinh(x) from log1p and log (float kernels: SLEEF's asinhf16 ran 0.52 e/ns).
llvm::Value* asinh(const Ctx& k, llvm::Value* x);
llvm::Value* log1p_unit(const Ctx& k, llvm::Value* t);  // t in [-1/2, 1] or NaN
/// log1p(exp(w)) for w in [-16.625, 0] (lower::kLog1pExpTableBound) or NaN; float, 512-bit AVX-512 (lookup16).
llvm::Value* log1p_exp_table(const Ctx& k, llvm::Value* w);
llvm::Value* tanh(const Ctx& k, llvm::Value* x);
/// x - tanh(x) without cancelling near 0 (Op::TanhShrink).
llvm::Value* tanhshrink(const Ctx& k, llvm::Value* x);
/// 1 / sqrt(x) within about 1 ULP for x in the normal range, finite:
/// vrsqrt14 and one Newton step for float, one step of the binomial series
/// to e^3 for double (AVX-512, 512-bit vectors only).
llvm::Value* rsqrt(const Ctx& k, llvm::Value* x);
llvm::Value* erfc(const Ctx& k, llvm::Value* x);  // float only
llvm::Value* atan(const Ctx& k, llvm::Value* x);  // float only (atan.cpp)
/// The out-of-line function a fast path hands its rare lanes to (SLEEF's
/// call for the whole value: math.cpp).
using Fallback = llvm::Value* (*)(llvm::IRBuilderBase&, llvm::Value*);
/// sin, cos and tan (sincos.cpp): inline with FMA, below |x| = 2^17 (double
/// 2^30); `slow` past it, without FMA, and for double tan.
llvm::Value* sin(const Ctx& k, llvm::Value* x, Fallback slow);
llvm::Value* cos(const Ctx& k, llvm::Value* x, Fallback slow);
llvm::Value* tan(const Ctx& k, llvm::Value* x, Fallback slow);
llvm::Value* erf(const Ctx& k, llvm::Value* x);   // float only: x + x Q(x^2) below 1, 1 - erfc(|x|) beyond
llvm::Value* erfc_scaled_sqrt1_2(const Ctx& k, llvm::Value* y, bool negate,
                                 bool log_form);  // erfc(+-y / sqrt 2), float only
/// x erfc(+-y / sqrt 2) (x null: 1) for float on AVX-512 or AVX2+FMA (`table_erfc`),
/// with erfcx from kErfcxTable and the exponent applied last: see erf.cpp.
/// x must be NaN or at most 1e37 in magnitude (2x is formed). With
/// `log_form` (the forward kernels: Emitter::set_erfc_log_form), erfc
/// itself is one exp of log erfcx - y^2/2 (kLogErfcxTable), cheaper where
/// nothing else needs erfcx or exp(-y^2/2) (a derivative's density term
/// shares them with the other form).
bool table_erfc(const Ctx& k);
bool table_erfc_target(const llvm::Function& f, llvm::Type* vec);  // the same, before a Ctx exists
llvm::Value* erfc_sqrt1_2_times(const Ctx& k, llvm::Value* y, llvm::Value* x, bool negate, bool log_form);
llvm::Value* exp_neg_half_square(const Ctx& k, llvm::Value* y);                 // exp(-y^2 / 2), the square exact
/// x erfc(+-y / sqrt 2) (x null: 1) for double on AVX-512 (`table_erfc_f64_target`):
/// erfcx from kErfcxTable64 (the asymptotic series past m = 15.5), the
/// exponent applied last: see erf.cpp.
bool table_erfc_f64_target(const llvm::Function& f, llvm::Type* vec);
llvm::Value* erfc_sqrt1_2_times_table_f64(const Ctx& k, llvm::Value* y, llvm::Value* x, bool negate);
/// c y erfc(-y / sqrt 2) = 2c y Phi(y) for a constant c > 0 (gelu: c =
/// 1/2) on the table targets (float: `table_erfc`; double:
/// `table_erfc_f64_target`), right for every y (infinities included): the
/// positive side as 2c y minus the negative side's tail (`log_form` in
/// float: as erfc_sqrt1_2_times'). See erf.cpp.
llvm::Value* normal_cdf_scaled(const Ctx& k, llvm::Value* y, double c, bool log_form);
/// a erfc(+-y / sqrt 2) + b y exp(-y^2 / 2) (2a Phi(y) + b y exp(-y^2/2)
/// with -y: gelu's derivative, a = 1/2, b = 1/sqrt(2 pi)) on the table
/// targets, right for every y: one product and one exponent for both
/// terms. |a| and |b| at most 1e6. See erf.cpp.
llvm::Value* normal_cdf_pdf_sum(const Ctx& k, llvm::Value* y, double a, double b, bool negate);
/// erfc(+-y / sqrt 2) in double: erfc_of (SLEEF's) of the rounded argument, corrected to first order.
llvm::Value* erfc_sqrt1_2_f64(const Ctx& k, llvm::Value* y, bool negate,
                             llvm::Value* (*erfc_of)(llvm::IRBuilderBase&, llvm::Value*));
/// x times that, where the erfc is tiny (z past 26, to y = 40) from its
/// asymptotic series with exp's exponent applied last (Ctx::ldexp).
llvm::Value* erfc_sqrt1_2_times_f64(const Ctx& k, llvm::Value* y, llvm::Value* x, bool negate,
                                   llvm::Value* (*erfc_of)(llvm::IRBuilderBase&, llvm::Value*));

}  // namespace actjit::lower::vmath
