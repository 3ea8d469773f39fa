// Vector math emission (see math.hpp).
#include "compiler/lower/math.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>

#include <llvm/ADT/APFloat.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/Module.h>

#include "compiler/lower/math/common.hpp"
#include "grammar/diagnostics.hpp"

namespace actjit::lower {

using ir::Op;

namespace {

/// SLEEF base name and accuracy suffix of a transcendental op, or null.
struct SleefName {
  const char* base;
  const char* ulp;
};
bool sleef_name(Op op, SleefName& out) {
  switch (op) {
    case Op::Pow: out = {"pow", "u10"}; return true;
    case Op::Sin: out = {"sin", "u10"}; return true;
    case Op::Cos: out = {"cos", "u10"}; return true;
    case Op::Tan: out = {"tan", "u10"}; return true;
    case Op::Sinh: out = {"sinh", "u10"}; return true;
    case Op::Cosh: out = {"cosh", "u10"}; return true;
    case Op::Asinh: out = {"asinh", "u10"}; return true;
    case Op::Atan: out = {"atan", "u10"}; return true;
    case Op::Erf: out = {"erf", "u10"}; return true;
    case Op::Erfc: out = {"erfc", "u15"}; return true;
    default: return false;
  }
}

std::string sleef_symbol(const SleefName& n, bool is_double, unsigned lanes) {
  return std::string("Sleef_") + n.base + (is_double ? "d" : "f") + std::to_string(lanes) + "_" + n.ulp;
}

/// The x86 MAXPS/MINPS family for this vector type on the function's target
/// (a > b ? a : b, and b when either is NaN), or not_intrinsic where the
/// target or the width has none.
llvm::Intrinsic::ID x86_min_max(llvm::IRBuilderBase& b, Op op, llvm::FixedVectorType* vec) {
  namespace I = llvm::Intrinsic;
  llvm::Function* f = b.GetInsertBlock()->getParent();
  auto has = [&](const char* name) { return vmath::has_feature(*f, name); };
  bool dbl = vec->getElementType()->isDoubleTy(), mx = op == Op::Max;
  unsigned bits = vmath::register_bits(*f);
  if (vec->getPrimitiveSizeInBits().getFixedValue() % bits != 0) return I::not_intrinsic;
  switch (bits) {
    case 512:
      if (!has("avx512f")) break;
      return dbl ? (mx ? I::x86_avx512_max_pd_512 : I::x86_avx512_min_pd_512)
                 : (mx ? I::x86_avx512_max_ps_512 : I::x86_avx512_min_ps_512);
    case 256:
      if (!has("avx")) break;
      return dbl ? (mx ? I::x86_avx_max_pd_256 : I::x86_avx_min_pd_256) : (mx ? I::x86_avx_max_ps_256 : I::x86_avx_min_ps_256);
    case 128:
      if (!has("sse2")) break;
      return dbl ? (mx ? I::x86_sse2_max_pd : I::x86_sse2_min_pd) : (mx ? I::x86_sse_max_ps : I::x86_sse_min_ps);
    default: break;
  }
  return I::not_intrinsic;
}

using Approximation = llvm::Value* (*)(const vmath::Ctx&, llvm::Value*);

/// The name of an inline helper function: "actjit." + stem + ".v" + the
/// vector's lanes and element type (one function per (stem, type, width)).
std::string inline_name(const std::string& stem, const llvm::FixedVectorType* vec) {
  return "actjit." + stem + ".v" + std::to_string(vec->getNumElements()) +
         (vec->getElementType()->isDoubleTy() ? "f64" : "f32");
}

/// A call of `fn`'s approximation of `fname` on `a`: one internal function
/// per (function, type, width), inlined by the optimizer.
llvm::Value* call_inline(llvm::IRBuilderBase& b, const char* fname, Approximation fn, llvm::Value* a) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(a->getType());
  std::string name = inline_name(fname, vec);
  return vmath::call_or_define(b, name, {a}, [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
    return fn(k, args[0]);
  });
}

/// fn(k) with a vmath context on the caller's own builder (code emitted in
/// place, not in a separate function).
template <class Fn>
auto with_ctx(llvm::IRBuilderBase& b, llvm::Value* like, Fn fn) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(like->getType());
  llvm::Function* f = b.GetInsertBlock()->getParent();
  vmath::Ctx k{b, vec, vec->getElementType()->isDoubleTy()};
  k.avx512 = vmath::has_vscalef(*f, vec);
  k.has_fma = vmath::has_feature(*f, "fma");
  return fn(k);
}

/// k where `v` is a splat constant 2^k with k an integer other than 0 and
/// 1; else nullopt. (Not -2^k: a negation would flip a NaN's sign, which
/// the product keeps.)
std::optional<int> power_of_two_exponent(llvm::Value* v) {
  auto* c = llvm::dyn_cast<llvm::Constant>(v);
  if (!c) return std::nullopt;
  auto* splat = llvm::dyn_cast_or_null<llvm::ConstantFP>(c->getSplatValue());
  if (!splat) return std::nullopt;
  const llvm::APFloat& f = splat->getValueAPF();
  if (!f.isFiniteNonZero() || f.isDenormal() || f.isNegative()) return std::nullopt;
  int exponent = ilogb(f);  // APFloat's ilogb and scalbn (argument-dependent lookup)
  llvm::APFloat power(f.getSemantics(), 1);
  power = scalbn(power, exponent, llvm::APFloat::rmNearestTiesToEven);
  if (power.compare(f) != llvm::APFloat::cmpEqual || exponent == 0 || exponent == 1) return std::nullopt;
  return exponent;
}

}  // namespace

void scale_by_powers_of_two(llvm::Module& m) {
  for (llvm::Function& f : m) {
    // AMD's Zen 4 and 5 only: Intel's AVX-512 cores run vscalefps on one of
    // their FMA ports (LLVM's skylake-avx512 and sapphirerapids models,
    // llvm-mca), where it would relieve nothing.
    if (f.isDeclaration() || !amd_zen(f.getFnAttribute("target-cpu").getValueAsString())) continue;
    std::vector<llvm::BinaryOperator*> products;
    for (llvm::BasicBlock& block : f)
      for (llvm::Instruction& inst : block)
        if (auto* mul = llvm::dyn_cast<llvm::BinaryOperator>(&inst); mul && mul->getOpcode() == llvm::Instruction::FMul)
          if (mul->getType()->isVectorTy() && vmath::has_vscalef(f, mul->getType())) products.push_back(mul);
    for (llvm::BinaryOperator* mul : products) {
      unsigned which = 1;
      std::optional<int> k = power_of_two_exponent(mul->getOperand(1));
      if (!k) k = power_of_two_exponent(mul->getOperand(which = 0));
      if (!k) continue;
      llvm::IRBuilder<> b(mul);
      llvm::Value* x = mul->getOperand(1 - which);
      llvm::Value* scaled = with_ctx(b, x, [&](const vmath::Ctx& ctx) { return ctx.scalef(x, ctx.c(*k)); });
      mul->replaceAllUsesWith(scaled);
      mul->eraseFromParent();
    }
  }
}

namespace {

/// Whether operand `i` of `inst` may be a loaded value instead of a
/// constant: the operands of arithmetic, comparisons, selects and the value
/// intrinsics below; not shift amounts (an immediate shift would become a
/// variable one) nor other intrinsics' arguments.
bool loadable_operand(const llvm::Instruction& inst, unsigned i) {
  if (auto* bo = llvm::dyn_cast<llvm::BinaryOperator>(&inst)) {
    auto op = bo->getOpcode();
    return op != llvm::Instruction::Shl && op != llvm::Instruction::LShr && op != llvm::Instruction::AShr;
  }
  if (llvm::isa<llvm::CmpInst>(inst)) return true;
  if (llvm::isa<llvm::SelectInst>(inst)) return i > 0;
  auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(&inst);
  if (!call) return false;
  namespace I = llvm::Intrinsic;
  switch (call->getIntrinsicID()) {
    case I::fma:
    case I::fmuladd:
    case I::minnum:
    case I::maxnum:
    case I::minimum:
    case I::maximum:
    case I::smin:
    case I::smax:
    case I::umin:
    case I::umax:
      return true;
    case I::x86_avx512_max_ps_512:
    case I::x86_avx512_min_ps_512:
    case I::x86_avx512_max_pd_512:
    case I::x86_avx512_min_pd_512:
    case I::x86_avx512_mask_scalef_ps_512:
    case I::x86_avx512_mask_scalef_pd_512:
    case I::x86_avx512_mask_range_ps_512:
    case I::x86_avx512_mask_range_pd_512:
      return i < 2;  // the two sources, not a pass-through
    default:
      return false;
  }
}

/// Integer operations whose constant may come from memory: not the
/// bitwise ones, which the code generator merges into vpternlogd (a
/// multiply-unit instruction on Zen 4) when an operand is not a constant.
bool integer_loadable(const llvm::Instruction& inst) {
  switch (inst.getOpcode()) {
    case llvm::Instruction::Add:
    case llvm::Instruction::Sub:
    case llvm::Instruction::ICmp:
      return true;
    default:
      break;
  }
  auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(&inst);
  if (!call) return false;
  auto id = call->getIntrinsicID();
  return id == llvm::Intrinsic::smin || id == llvm::Intrinsic::smax || id == llvm::Intrinsic::umin ||
         id == llvm::Intrinsic::umax;
}

/// Whether some use of `v` negates it: the code generator makes -|x| one
/// x | sign, or folds the negation into an FMA that takes |x|; a loaded
/// mask would make it and-then-xor (vpternlogd), or change which operand
/// a NaN result takes its sign from.
bool negated(const llvm::Value* v) {
  for (const llvm::User* u : v->users())
    if (auto* op = llvm::dyn_cast<llvm::UnaryOperator>(u); op && op->getOpcode() == llvm::Instruction::FNeg)
      return true;
  return false;
}

}  // namespace

void load_splat_constants(llvm::Module& m) {
  for (llvm::Function& f : m) {
    if (f.isDeclaration() || !amd_zen(f.getFnAttribute("target-cpu").getValueAsString())) continue;
    std::vector<std::pair<llvm::Instruction*, unsigned>> uses;
    for (llvm::BasicBlock& block : f)
      for (llvm::Instruction& inst : block)
        for (unsigned i = 0; i < inst.getNumOperands(); ++i) {
          auto* c = llvm::dyn_cast<llvm::Constant>(inst.getOperand(i));
          auto* vec = c ? llvm::dyn_cast<llvm::FixedVectorType>(c->getType()) : nullptr;
          llvm::Constant* splat = vec ? c->getSplatValue() : nullptr;
          if (!splat || llvm::isa<llvm::UndefValue>(splat) || !vmath::has_vscalef(f, vec))
            continue;                                             // whole 512-bit registers
          if (c->isNullValue() || c->isAllOnesValue()) continue;  // vxorps and vpternlogd idioms, no load
          if (!vec->getElementType()->isFloatingPointTy() && !integer_loadable(inst)) continue;
          auto* fp = llvm::dyn_cast<llvm::ConstantFP>(splat);
          if (fp && inst.getOpcode() == llvm::Instruction::FMul && fp->getValueAPF().isExactlyValue(2.0)) continue;
          if (fp && llvm::isa<llvm::SelectInst>(inst) && fp->isExactlyValue(1.0) && i > 0) {
            auto* other = llvm::dyn_cast<llvm::Constant>(inst.getOperand(3 - i));
            if (other && other->isNullValue()) continue;  // y * select(c, 1, 0) is the code generator's select(c, y, 0)
          }
          if (loadable_operand(inst, i)) uses.emplace_back(&inst, i);
        }
    // |x| and copysign(a, b) are bitwise operations with a mask that the
    // code generator makes a constant: the same operations with the mask as
    // a value (|x| = x & ~sign, copysign(a, b) = a ^ ((a ^ b) & sign): one
    // vpternlogd, as before).
    std::vector<llvm::IntrinsicInst*> signs;
    for (llvm::BasicBlock& block : f)
      for (llvm::Instruction& inst : block)
        if (auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(&inst);
            call &&
            (call->getIntrinsicID() == llvm::Intrinsic::fabs || call->getIntrinsicID() == llvm::Intrinsic::copysign))
          if (auto* vec = llvm::dyn_cast<llvm::FixedVectorType>(call->getType());
              vec && vmath::has_vscalef(f, vec) && !negated(call) &&
              !llvm::isa<llvm::Constant>(call->getArgOperand(0)))  // copysign(1, x): the code generator's or
            signs.push_back(call);
    for (llvm::IntrinsicInst* call : signs) {
      llvm::IRBuilder<> at(call);
      auto* vec = llvm::cast<llvm::FixedVectorType>(call->getType());
      llvm::Type* ints = llvm::VectorType::getInteger(vec);
      unsigned bits = vec->getScalarSizeInBits();
      llvm::Value* a = at.CreateBitCast(call->getArgOperand(0), ints);
      llvm::Value* out = nullptr;
      llvm::Instruction* masked = nullptr;
      if (call->getIntrinsicID() == llvm::Intrinsic::fabs) {
        masked = llvm::cast<llvm::Instruction>(
            at.CreateAnd(a, llvm::ConstantInt::get(ints, llvm::APInt::getSignedMaxValue(bits))));
        out = masked;
      } else {
        llvm::Value* differ = at.CreateXor(a, at.CreateBitCast(call->getArgOperand(1), ints));
        masked = llvm::cast<llvm::Instruction>(
            at.CreateAnd(differ, llvm::ConstantInt::get(ints, llvm::APInt::getSignMask(bits))));
        out = at.CreateXor(a, masked);
      }
      call->replaceAllUsesWith(at.CreateBitCast(out, vec));
      call->eraseFromParent();
      uses.emplace_back(masked, 1);
    }
    if (uses.empty()) continue;
    // One load a constant, at the start (after the allocas): a value live
    // through the loop that the register allocator keeps in a register or
    // loads again where it runs short (the load is invariant).
    llvm::IRBuilder<> b(&*f.getEntryBlock().getFirstNonPHIOrDbgOrAlloca());
    std::map<llvm::Constant*, llvm::Value*> loaded;
    auto load_of = [&](llvm::Constant* c) {
      llvm::Value*& v = loaded[c];
      if (v) return v;
      auto* vec = llvm::cast<llvm::FixedVectorType>(c->getType());
      unsigned lanes = 512 / vec->getScalarSizeInBits();
      auto* reg = llvm::FixedVectorType::get(vec->getElementType(), lanes);
      llvm::Constant* init = llvm::ConstantVector::getSplat(llvm::ElementCount::getFixed(lanes), c->getSplatValue());
      // A private constant, not the constant pool: the code generator
      // shrinks every splat it loads from the pool to a broadcast.
      auto* g = new llvm::GlobalVariable(m, reg, true, llvm::GlobalValue::PrivateLinkage, init, "actjit.splat");
      g->setAlignment(llvm::Align(64));
      g->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
      llvm::LoadInst* load = b.CreateAlignedLoad(reg, g, llvm::Align(64));
      load->setMetadata(llvm::LLVMContext::MD_invariant_load, llvm::MDNode::get(m.getContext(), {}));
      v = load;
      if (vec->getNumElements() != lanes) {  // the kernel's several registers: the same one each
        std::vector<int> mask;
        for (unsigned j = 0; j < vec->getNumElements(); ++j) mask.push_back(int(j % lanes));
        v = b.CreateShuffleVector(load, mask);
      }
      return v;
    };
    for (auto [inst, i] : uses) {
      auto* c = llvm::cast<llvm::Constant>(inst->getOperand(i));
      // -C where the operation takes C as well as it takes -C, so that C
      // and -C (exp's rounding shift, added and subtracted) share one
      // register, as the code generator's own folds made them: a + -C is
      // a - C, a - -C is a + C, fma with -C an fma with -(C) (vfmsub,
      // vfnmadd). The same values, bit for bit.
      auto* fp = llvm::dyn_cast<llvm::ConstantFP>(c->getSplatValue());
      unsigned op = inst->getOpcode();
      auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(inst);
      bool fused = call && (call->getIntrinsicID() == llvm::Intrinsic::fma ||
                            call->getIntrinsicID() == llvm::Intrinsic::fmuladd);
      bool flips = fp && fp->isNegative() && !fp->isNaN() && !fp->isZero() &&
                   (((op == llvm::Instruction::FAdd || (op == llvm::Instruction::FSub && i == 1)) &&
                     !llvm::isa<llvm::Constant>(inst->getOperand(1 - i))) ||
                    fused);
      if (!flips) {
        inst->setOperand(i, load_of(c));
        continue;
      }
      llvm::Value* positive = load_of(llvm::ConstantFP::get(c->getType(), llvm::neg(fp->getValueAPF())));
      llvm::IRBuilder<> at(inst);
      if (fused) {
        inst->setOperand(i, at.CreateFNeg(positive));
        continue;
      }
      llvm::Value* other = inst->getOperand(1 - i);
      llvm::Value* same =
          op == llvm::Instruction::FAdd ? at.CreateFSub(other, positive) : at.CreateFAdd(other, positive);
      same->takeName(inst);
      inst->replaceAllUsesWith(same);
      inst->eraseFromParent();
    }
  }
}

bool has_fma(llvm::IRBuilderBase& b) { return vmath::has_feature(*b.GetInsertBlock()->getParent(), "fma"); }

llvm::Value* emit_clamp_magnitude(llvm::IRBuilderBase& b, llvm::Value* x, double cap) {
  return with_ctx(b, x, [&](const vmath::Ctx& k) -> llvm::Value* {
    return k.has_range() ? k.clamp_magnitude(x, cap) : nullptr;
  });
}

llvm::Value* emit_sqrt1p_minus1(llvm::IRBuilderBase& b, llvm::Value* u, llvm::Value* a) {
  if (!has_fma(b)) return nullptr;
  llvm::Type* ty = u->getType();
  auto c = [&](double v) { return llvm::ConstantFP::get(ty, v); };
  auto fma = [&](llvm::Value* x, llvm::Value* y, llvm::Value* z) {
    return b.CreateIntrinsic(llvm::Intrinsic::fma, {ty}, {x, y, z});
  };
  llvm::Value *t, *e;
  if (a) {  // t = a^2 + 1 rounded once; e = a^2 + (1 - t), 1 - t exact wherever e matters (t < 2^24)
    t = fma(a, a, c(1));
    e = fma(a, a, b.CreateFSub(c(1), t));
  } else {  // Fast2Sum of the larger and the smaller of u and 1 (u >= -1 wherever the root is real)
    t = b.CreateFAdd(u, c(1));
    llvm::Value* hi = b.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, u, c(1));
    llvm::Value* lo = b.CreateBinaryIntrinsic(llvm::Intrinsic::minnum, u, c(1));
    e = b.CreateFAdd(b.CreateFSub(hi, t), lo);
  }
  llvm::Value* s = b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, t);
  llvm::Value* d = fma(s, s, b.CreateFNeg(t));  // s^2 - t, exact
  llvm::Value* m = b.CreateFSub(s, c(1));       // exact for s in [1/2, 2]
  llvm::Value* h = b.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, fma(c(-0.5), m, c(0.5)), c(0));
  return fma(b.CreateFSub(e, d), h, m);
}

bool is_math_op(Op op) {
  SleefName n{"", ""};
  return sleef_name(op, n) || op == Op::Exp || op == Op::Expm1 || op == Op::Log || op == Op::Log1p ||
         op == Op::Tanh || op == Op::TanhShrink || op == Op::Sqrt || op == Op::Abs || op == Op::Floor || op == Op::Ceil ||
         op == Op::Round || op == Op::Sign || op == Op::Min || op == Op::Max;
}

namespace {

/// SLEEF's function `n` of a (and `second`), called once per register.
llvm::Value* sleef_call(llvm::IRBuilderBase& b, const SleefName& n, llvm::Value* a, llvm::Value* second = nullptr) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(a->getType());
  bool is_double = vec->getElementType()->isDoubleTy();
  llvm::Module* m = b.GetInsertBlock()->getModule();
  unsigned register_lanes =
      vmath::register_bits(*b.GetInsertBlock()->getParent()) / unsigned(vec->getScalarSizeInBits());
  register_lanes = std::min(register_lanes, vec->getNumElements());
  auto* part_ty = llvm::FixedVectorType::get(vec->getElementType(), register_lanes);
  std::string sym = sleef_symbol(n, is_double, register_lanes);
  std::vector<llvm::Type*> params(second ? 2 : 1, part_ty);
  auto callee = m->getOrInsertFunction(sym, llvm::FunctionType::get(part_ty, params, false));
  if (auto* f = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    f->setDoesNotThrow();
    f->setDoesNotAccessMemory();
    f->setWillReturn();
  }
  std::vector<llvm::Value*> operands{a};
  if (second) operands.push_back(second);
  return vmath::per_register(b, operands, register_lanes, [&](const std::vector<llvm::Value*>& part) {
    llvm::CallInst* call = b.CreateCall(callee, part);
    call->setDoesNotThrow();
    call->setDoesNotAccessMemory();
    return call;
  });
}

/// SLEEF's sin, cos and tan (the inline forms' fallback past their range and
/// where they do not apply).
llvm::Value* sleef_sin(llvm::IRBuilderBase& b, llvm::Value* a) { return sleef_call(b, {"sin", "u10"}, a); }
llvm::Value* sleef_cos(llvm::IRBuilderBase& b, llvm::Value* a) { return sleef_call(b, {"cos", "u10"}, a); }
llvm::Value* sleef_tan(llvm::IRBuilderBase& b, llvm::Value* a) { return sleef_call(b, {"tan", "u10"}, a); }

/// The functions SLEEF computes in double kernels that float kernels take
/// inline (math/*.cpp), with the name of their internal function.
struct FloatInline {
  Op op;
  const char* name;
  Approximation fn;
};
constexpr FloatInline kFloatInline[] = {
    {Op::Erfc, "erfc", vmath::erfc},
    {Op::Erf, "erf", vmath::erf},
    {Op::Asinh, "asinh", vmath::asinh},
    {Op::Sinh, "sinh", vmath::sinh},
    {Op::Cosh, "cosh", vmath::cosh},
    {Op::Atan, "atan", vmath::atan},
    {Op::Tan, "tan", [](const vmath::Ctx& k, llvm::Value* x) { return vmath::tan(k, x, sleef_tan); }}};
const FloatInline* float_inline(Op op) {
  for (const FloatInline& f : kFloatInline)
    if (f.op == op) return &f;
  return nullptr;
}

/// sin and cos are inline in both types (sincos.cpp; SLEEF's call past their
/// fast path's range and without FMA).
llvm::Value* inline_sin(const vmath::Ctx& k, llvm::Value* x) { return vmath::sin(k, x, sleef_sin); }
llvm::Value* inline_cos(const vmath::Ctx& k, llvm::Value* x) { return vmath::cos(k, x, sleef_cos); }

/// Whether emit_math computes a function SLEEF has inline in this type: sin
/// and cos in both, kFloatInline's and pow (float_pow) in float.
bool emitted_inline(Op op, bool is_double) {
  return op == Op::Sin || op == Op::Cos || (!is_double && (float_inline(op) || op == Op::Pow));
}
}  // namespace

bool calls_out_of_line(Op op, bool is_double) {
  SleefName n{"", ""};
  return sleef_name(op, n) && !emitted_inline(op, is_double);
}

llvm::Value* emit_erfc_over_sqrt2(llvm::IRBuilderBase& b, llvm::Value* y, bool negate, bool log_form) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(y->getType());
  bool is_double = vec->getElementType()->isDoubleTy();
  log_form = log_form && !is_double;
  std::string name = inline_name(std::string("erfc_") + (negate ? "neg" : "pos") + "_sqrt1_2" + (log_form ? "_log" : ""), vec);
  return vmath::call_or_define(b, name, {y}, [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
    if (!is_double) return vmath::erfc_scaled_sqrt1_2(k, args[0], negate, log_form);
    if (vmath::table_erfc_f64_target(*b.GetInsertBlock()->getParent(), vec))
      return vmath::erfc_sqrt1_2_times_table_f64(k, args[0], nullptr, negate);
    return vmath::erfc_sqrt1_2_f64(k, args[0], negate,
                                   [](llvm::IRBuilderBase& fb, llvm::Value* a) { return emit_math(fb, Op::Erfc, a); });
  });
}

llvm::Value* emit_erfc_over_sqrt2_times(llvm::IRBuilderBase& b, llvm::Value* y, llvm::Value* x, bool negate,
                                        bool log_form) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(y->getType());
  bool is_double = vec->getElementType()->isDoubleTy();
  const llvm::Function& f = *b.GetInsertBlock()->getParent();
  if (!is_double && !vmath::table_erfc_target(f, vec)) return nullptr;
  log_form = log_form && !is_double;
  std::string name =
      inline_name(std::string("erfc_") + (negate ? "neg" : "pos") + "_sqrt1_2_times" + (log_form ? "_log" : ""), vec);
  return vmath::call_or_define(b, name, {y, x}, [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
    if (!is_double) return vmath::erfc_sqrt1_2_times(k, args[0], args[1], negate, log_form);
    if (vmath::table_erfc_f64_target(f, vec)) return vmath::erfc_sqrt1_2_times_table_f64(k, args[0], args[1], negate);
    return vmath::erfc_sqrt1_2_times_f64(k, args[0], args[1], negate,
                                         [](llvm::IRBuilderBase& fb, llvm::Value* a) { return emit_math(fb, Op::Erfc, a); });
  });
}

namespace {

/// Whether the function being built takes erfc(y / sqrt 2) from the
/// erfcx table at y's type (float: table_erfc_target; double:
/// table_erfc_f64_target): the forms that are right for every y.
bool erfc_table_at(llvm::IRBuilderBase& b, llvm::FixedVectorType* vec) {
  const llvm::Function& f = *b.GetInsertBlock()->getParent();
  return vec->getElementType()->isDoubleTy() ? vmath::table_erfc_f64_target(f, vec) : vmath::table_erfc_target(f, vec);
}

}  // namespace

llvm::Value* emit_normal_cdf_scaled(llvm::IRBuilderBase& b, llvm::Value* y, double c, bool log_form) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(y->getType());
  bool is_double = vec->getElementType()->isDoubleTy();
  if (!erfc_table_at(b, vec)) return nullptr;
  log_form = log_form && !is_double;
  char scale[32];
  std::snprintf(scale, sizeof scale, "%a", c);
  std::string name = inline_name(std::string("normal_cdf_times_") + scale + (log_form ? "_log" : ""), vec);
  return vmath::call_or_define(b, name, {y}, [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
    return vmath::normal_cdf_scaled(k, args[0], c, log_form);
  });
}

llvm::Value* emit_normal_cdf_pdf_sum(llvm::IRBuilderBase& b, llvm::Value* y, double a, double c, bool negate) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(y->getType());
  if (!erfc_table_at(b, vec)) return nullptr;
  char coefficients[64];
  std::snprintf(coefficients, sizeof coefficients, "%a_%a", a, c);
  std::string name = inline_name(std::string("normal_cdf_pdf_") + (negate ? "neg_" : "pos_") + coefficients, vec);
  return vmath::call_or_define(b, name, {y}, [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
    return vmath::normal_cdf_pdf_sum(k, args[0], a, c, negate);
  });
}

llvm::Value* emit_exp_neg_half_square(llvm::IRBuilderBase& b, llvm::Value* y) {
  return call_inline(b, "exp_neg_half_square", vmath::exp_neg_half_square, y);
}

llvm::Value* emit_sigmoid_quotient(llvm::IRBuilderBase& b, llvm::Value* m, llvm::Value* a, llvm::Value* tail,
                                   double bound) {
  const double inf = std::numeric_limits<double>::infinity();
  auto* vec = llvm::cast<llvm::FixedVectorType>(a->getType());
  llvm::Value* e = nullptr;
  if (bound <= vmath::kExpUnclampedReach && vmath::has_vscalef(*b.GetInsertBlock()->getParent(), vec)) {
    std::string name = inline_name(tail ? "exp_tail_unclamped" : "exp_unclamped", vec);
    auto body = [](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
      return vmath::exp_tail_unclamped(k, args[0], args.size() > 1 ? args[1] : nullptr);
    };
    e = tail ? vmath::call_or_define(b, name, {b.CreateFNeg(a), b.CreateFNeg(tail)}, body)
             : vmath::call_or_define(b, name, {b.CreateFNeg(a)}, body);
  } else {
    e = emit_exp(b, b.CreateFNeg(a), -inf, inf, tail ? b.CreateFNeg(tail) : nullptr);
  }
  return b.CreateFDiv(m, b.CreateFAdd(e, llvm::ConstantFP::get(a->getType(), 1.0)));
}

llvm::Value* emit_exp(llvm::IRBuilderBase& b, llvm::Value* x, double lo, double hi, llvm::Value* tail) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(x->getType());
  bool is_double = vec->getElementType()->isDoubleTy();
  vmath::ExpBounds bounds = vmath::exp_bounds(is_double, vmath::has_vscalef(*b.GetInsertBlock()->getParent(), vec));
  bool low = !(lo >= bounds.lo), high = !(hi <= bounds.hi);
  if (tail) {
    std::string name = inline_name(std::string("exp_tail") + (low ? "_low" : "") + (high ? "_high" : ""), vec);
    return vmath::call_or_define(b, name, {x, tail}, [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
      return vmath::exp_tail(k, args[0], args[1], low, high);
    });
  }
  if (low && high) return emit_math(b, Op::Exp, x);
  if (low) return call_inline(b, "exp_below_bound", vmath::exp_below_bound, x);
  if (high) return call_inline(b, "exp_above_bound", vmath::exp_above_bound, x);
  return call_inline(b, "exp_bounded", vmath::exp_bounded, x);
}

std::pair<llvm::Value*, llvm::Value*> emit_exp_parts(llvm::IRBuilderBase& b, llvm::Value* x, double lo, double hi,
                                                     llvm::Value* tail) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(x->getType());
  llvm::Function* f = b.GetInsertBlock()->getParent();
  vmath::Ctx k{b, vec, vec->getElementType()->isDoubleTy()};
  k.avx512 = vmath::has_vscalef(*f, vec);
  k.has_fma = vmath::has_feature(*f, "fma");
  vmath::ExpBounds bounds = vmath::exp_bounds(k.f64, k.avx512);
  vmath::ExpParts parts = vmath::exp_parts_guarded(k, x, tail, !(lo >= bounds.lo), !(hi <= bounds.hi));
  return {parts.p, parts.n};
}

bool can_exp_shifted(const llvm::Function& f, const llvm::Type* vec) {
  return vmath::has_vscalef(f, vec) && vmath::has_feature(f, "fma");
}

ExpShiftValues emit_exp_shift(llvm::IRBuilderBase& b, llvm::Value* m) {
  return with_ctx(b, m, [&](const vmath::Ctx& k) {
    vmath::ExpShift s = vmath::exp_shift(k, m);
    return ExpShiftValues{s.origin, s.j, s.least};
  });
}

llvm::Value* emit_exp_shift_factor(llvm::IRBuilderBase& b, llvm::Value* m, const ExpShiftValues& shift) {
  auto lane0 = [&](llvm::Value* v) { return b.CreateFPExt(b.CreateExtractElement(v, uint64_t(0)), b.getDoubleTy()); };
  // (m - M) - j ln2: m - M is exact (M is 0 or m), j an integer below 2^17;
  // ln2's high part has 32 bits, so j hi is exact, and (m - M) - j hi, both
  // multiples of 2^-32 wherever j is not 0 and below 1 in magnitude, too.
  llvm::Value* d = lane0(b.CreateFSub(m, shift[0]));
  llvm::Value* j = lane0(shift[1]);
  llvm::Value* r = b.CreateFSub(d, b.CreateFMul(j, llvm::ConstantFP::get(b.getDoubleTy(), vmath::kLn2Double.hi)));
  r = b.CreateFSub(r, b.CreateFMul(j, llvm::ConstantFP::get(b.getDoubleTy(), vmath::kLn2Double.lo)));
  return b.CreateExtractElement(emit_math(b, Op::Exp, b.CreateVectorSplat(1, r)), uint64_t(0));
}

llvm::Value* emit_exp_shifted(llvm::IRBuilderBase& b, llvm::Value* u, const ExpShiftValues& shift) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(u->getType());
  std::string name = inline_name("exp_shifted", vec);
  return vmath::call_or_define(b, name, {u, shift[0], shift[1], shift[2]},
                               [](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
                                 return vmath::exp_shifted(k, args[0], {args[1], args[2], args[3]});
                               });
}

llvm::Value* emit_ldexp(llvm::IRBuilderBase& b, llvm::Value* v, llvm::Value* n) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(v->getType());
  vmath::Ctx k{b, vec, vec->getElementType()->isDoubleTy()};
  k.avx512 = vmath::has_vscalef(*b.GetInsertBlock()->getParent(), vec);
  return k.ldexp(v, n);
}

llvm::Value* emit_product_error(llvm::IRBuilderBase& b, llvm::Value* x, llvm::Value* y, llvm::Value* p) {
  return with_ctx(b, x, [&](const vmath::Ctx& k) { return vmath::product_error(k, x, y, p); });
}

llvm::Value* emit_sum_error(llvm::IRBuilderBase& b, llvm::Value* x, llvm::Value* y, llvm::Value* s) {
  return with_ctx(b, x, [&](const vmath::Ctx& k) { return vmath::sum_error(k, x, y, s); });
}

llvm::Value* emit_expm1(llvm::IRBuilderBase& b, llvm::Value* x, double hi) {
  if (hi <= 0) return call_inline(b, "expm1_nonpositive", vmath::expm1_nonpositive, x);
  return emit_math(b, Op::Expm1, x);
}

llvm::Value* emit_expm1_paired(llvm::IRBuilderBase& b, llvm::Value* x, double hi) {
  if (hi <= 0) return call_inline(b, "expm1_paired_nonpositive", [](const vmath::Ctx& k, llvm::Value* a) {
    return vmath::expm1_paired(k, a, true);
  }, x);
  return call_inline(b, "expm1_paired", [](const vmath::Ctx& k, llvm::Value* a) { return vmath::expm1_paired(k, a, false); }, x);
}

llvm::Value* emit_exp_paired_expm1(llvm::IRBuilderBase& b, llvm::Value* x, double expm1_hi) {
  if (expm1_hi <= 0) return call_inline(b, "exp_paired_expm1_nonpositive", [](const vmath::Ctx& k, llvm::Value* a) {
    return vmath::exp_paired_expm1(k, a, true);
  }, x);
  return call_inline(b, "exp_paired_expm1", [](const vmath::Ctx& k, llvm::Value* a) {
    return vmath::exp_paired_expm1(k, a, false);
  }, x);
}

llvm::Value* emit_tanh_paired(llvm::IRBuilderBase& b, llvm::Value* a) {
  return call_inline(b, "tanh_paired", vmath::tanh_paired, a);
}

llvm::Value* emit_exp_neg2abs_paired(llvm::IRBuilderBase& b, llvm::Value* a) {
  return call_inline(b, "exp_neg2abs_paired", vmath::exp_neg2abs_paired, a);
}

llvm::Value* emit_sech2_paired(llvm::IRBuilderBase& b, llvm::Value* a) {
  return call_inline(b, "sech2_paired", vmath::sech2_paired, a);
}

llvm::Value* emit_tanh_plus_sech2_times(llvm::IRBuilderBase& b, llvm::Value* a, llvm::Value* z, llvm::Value* m) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(a->getType());
  auto body = [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
    return vmath::tanh_plus_sech2_times(k, args[0], args[1], args.size() > 2 ? args[2] : nullptr);
  };
  if (!m) return vmath::call_or_define(b, inline_name("tanh_plus_sech2_times", vec), {a, z}, body);
  return vmath::call_or_define(b, inline_name("tanh_plus_scaled_sech2_times", vec), {a, z, m}, body);
}

llvm::Value* emit_exp_neg2abs(llvm::IRBuilderBase& b, llvm::Value* a) {
  return call_inline(b, "exp_neg2abs", vmath::exp_neg2abs, a);
}

llvm::Value* emit_exp_neg2abs_square(llvm::IRBuilderBase& b, llvm::Value* e) {
  return call_inline(b, "exp_neg2abs_square", vmath::exp_neg2abs_square, e);
}

llvm::Value* emit_log1p_unit(llvm::IRBuilderBase& b, llvm::Value* t) {
  return call_inline(b, "log1p_unit", vmath::log1p_unit, t);
}

bool log1p_exp_table_target(const llvm::Function& f, llvm::Type* vec) {
  auto* v = llvm::cast<llvm::FixedVectorType>(vec);
  return v->getElementType()->isFloatTy() && v->getNumElements() % 16 == 0 && vmath::has_vscalef(f, v);
}

llvm::Value* emit_log1p_exp_table(llvm::IRBuilderBase& b, llvm::Value* w) {
  return call_inline(b, "log1p_exp_table", vmath::log1p_exp_table, w);
}

llvm::Value* emit_rsqrt_normal(llvm::IRBuilderBase& b, llvm::Value* x) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(x->getType());
  if (!vmath::has_vscalef(*b.GetInsertBlock()->getParent(), vec)) return nullptr;
  return call_inline(b, "rsqrt", vmath::rsqrt, x);
}

namespace {

/// SLEEF's sinh and cosh overflow where e^|a| does (float 88.72, double
/// 709.78), not where the result does (89.42, 710.48); its asinh squares a
/// (inf past 1.8e19 in float, 1.3e154 in double). Past those: (h/2) h with
/// h = e^(|a|/2) (about 2 ULP), and log|a| + log 2 (asinh a rounds to it
/// there; log(2|a|) where 2|a| is finite), with a's sign; `r` is SLEEF's
/// value elsewhere.
llvm::Value* past_sleef_range(llvm::IRBuilderBase& b, Op op, llvm::Value* a, llvm::Value* r) {
  bool is_double = llvm::cast<llvm::FixedVectorType>(a->getType())->getElementType()->isDoubleTy();
  auto c = [&](double v) { return llvm::ConstantFP::get(a->getType(), v); };
  llvm::Value* ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, a);
  double limit = op == Op::Asinh ? (is_double ? 1e150 : 1e19) : (is_double ? 709.5 : 88.5);
  llvm::Value* big = nullptr;
  if (op == Op::Asinh) {  // log(2|a|) (one rounding less than log|a| + log 2) below the top binade
    double top = is_double ? 0x1p1023 : 0x1p127;
    llvm::Value* below_top = b.CreateFCmpOLT(ax, c(top));
    llvm::Value* l = emit_math(b, Op::Log, b.CreateSelect(below_top, b.CreateFMul(ax, c(2)), ax));
    big = b.CreateSelect(below_top, l, b.CreateFAdd(l, c(0.69314718055994530942)));
  } else {
    llvm::Value* h = emit_math(b, Op::Exp, b.CreateFMul(ax, c(0.5)));
    big = b.CreateFMul(b.CreateFMul(h, c(0.5)), h);
  }
  if (op != Op::Cosh) big = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, big, a);
  return b.CreateSelect(b.CreateFCmpOGT(ax, c(limit)), big, r);
}

}  // namespace

namespace {

/// a^y for float vectors (C99's pow): exp(y log|a|) in double, by the inline
/// double log and exp (y log|a| to about 2^-52 relative where the float
/// result is finite and not zero: the result is the double's rounding to
/// float, within about half an ULP), then the sign and C99's special
/// cases: a < 0 (finite) with y not an integer gives NaN; a with its sign
/// bit set and y an odd integer negates (-0 and -inf too); y = 0, a = 1, and
/// a = -1 with y = +-inf give 1. The rest follow from log and exp: log 0 =
/// -inf, log inf = inf, NaN through. SLEEF's powf (its u10, in double-float
/// arithmetic) ran 0.6 e/ns for abs(x)^1.5. Double kernels keep SLEEF's pow.
llvm::Value* float_pow(llvm::IRBuilderBase& b, llvm::Value* a, llvm::Value* y) {
  auto* vec = llvm::cast<llvm::FixedVectorType>(a->getType());
  return vmath::call_or_define(
      b, inline_name("pow", vec), {a, y}, [&](const vmath::Ctx& k, const std::vector<llvm::Value*>& args) {
        llvm::Value *x = args[0], *e = args[1];
        auto* wide = llvm::FixedVectorType::get(k.b.getDoubleTy(), vec->getNumElements());
        llvm::Value* ax = k.abs(x);
        llvm::Value* l = emit_math(k.b, Op::Log, k.b.CreateFPExt(ax, wide));
        llvm::Value* r = emit_math(k.b, Op::Exp, k.b.CreateFMul(l, k.b.CreateFPExt(e, wide)));
        r = k.b.CreateFPTrunc(r, vec);
        llvm::Value* whole = k.b.CreateFCmpOEQ(k.round(e), e);
        llvm::Value* half = k.mul(e, k.c(0.5));
        llvm::Value* odd = k.b.CreateAnd(whole, k.b.CreateFCmpONE(k.round(half), half));
        llvm::Value* sign_set = k.b.CreateICmpSLT(k.b.CreateBitCast(x, k.int_vec()), k.ci(0));
        r = k.select(k.b.CreateAnd(sign_set, odd), k.b.CreateFNeg(r), r);
        llvm::Value* negative_finite =
            k.b.CreateAnd(k.b.CreateFCmpOLT(x, k.c(0)), k.b.CreateFCmpOGT(x, k.c(-INFINITY)));
        r = k.select(k.b.CreateAnd(negative_finite, k.b.CreateNot(whole)), k.c(NAN), r);
        llvm::Value* one = k.b.CreateOr(k.b.CreateFCmpOEQ(e, k.c(0)), k.b.CreateFCmpOEQ(x, k.c(1)));
        one =
            k.b.CreateOr(one, k.b.CreateAnd(k.b.CreateFCmpOEQ(ax, k.c(1)), k.b.CreateFCmpOEQ(k.abs(e), k.c(INFINITY))));
        return k.select(one, k.c(1), r);
      });
}

}  // namespace

llvm::Value* emit_math(llvm::IRBuilderBase& b, Op op, llvm::Value* a, llvm::Value* second) {
  llvm::Type* vt = a->getType();
  auto* vec = llvm::cast<llvm::FixedVectorType>(vt);
  bool is_double = vec->getElementType()->isDoubleTy();
  // Inline approximations (math/*.cpp), one internal function per
  // (function, type, width), inlined by the optimizer.
  auto inline_fn = [&](const char* fname, Approximation fn) { return call_inline(b, fname, fn, a); };
  switch (op) {
    case Op::Exp: return inline_fn("exp", vmath::exp);
    case Op::Expm1: return inline_fn("expm1", vmath::expm1);
    case Op::Log: return inline_fn("log", vmath::log);
    case Op::Log1p: return inline_fn("log1p", vmath::log1p);
    case Op::Tanh: return inline_fn("tanh", vmath::tanh);
    case Op::TanhShrink: return inline_fn("tanhshrink", vmath::tanhshrink);
    case Op::Sin:
      return inline_fn("sin", inline_sin);
    case Op::Cos:
      return inline_fn("cos", inline_cos);
    default:
      if (const FloatInline* f = float_inline(op); f && !is_double) return inline_fn(f->name, f->fn);
      break;
  }
  if (op == Op::Pow && !is_double) return float_pow(b, a, second);
  SleefName sn{"", ""};
  if (sleef_name(op, sn)) {
    llvm::Value* r = sleef_call(b, sn, a, second);
    if (op == Op::Sinh || op == Op::Cosh || op == Op::Asinh) r = past_sleef_range(b, op, a, r);
    return r;
  }
  auto intrinsic = [&](llvm::Intrinsic::ID id) { return b.CreateUnaryIntrinsic(id, a); };
  switch (op) {
    case Op::Sqrt: return intrinsic(llvm::Intrinsic::sqrt);
    case Op::Abs: return intrinsic(llvm::Intrinsic::fabs);
    case Op::Floor: return intrinsic(llvm::Intrinsic::floor);
    case Op::Ceil: return intrinsic(llvm::Intrinsic::ceil);
    case Op::Round: return intrinsic(llvm::Intrinsic::roundeven);  // half to even
    case Op::Sign: {
      // 1 above 0, -1 below, and the input itself for +-0 and NaN.
      // copysign(1, a) (one bitwise instruction) unless a == 0 or a is NaN:
      // one compare and one blend instead of two of each.
      llvm::Value* zero = llvm::ConstantFP::get(vt, 0.0);
      llvm::Value* unit = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, llvm::ConstantFP::get(vt, 1.0), a);
      return b.CreateSelect(b.CreateFCmpUEQ(a, zero), a, unit);
    }
    case Op::Min:
    case Op::Max: {
      // The language's where(a > b, a, b) (where(a < b, a, b)), and NaN when
      // either operand is NaN. On x86 that is MAXPS(a, b) (MINPS), which
      // already gives b when b is NaN, plus a NaN select for a: 3
      // instructions, where llvm.maximum costs 6 (it also orders -0 and +0,
      // which the language does not ask for). Elsewhere the intrinsics: a
      // compare-and-select form was miscompiled by LLVM 19's InstCombine
      // (max(abs(x), 0) gave 0 for x < 0), the intrinsics are not.
      llvm::Intrinsic::ID x86 = x86_min_max(b, op, vec);
      if (x86 == llvm::Intrinsic::not_intrinsic)
        return b.CreateBinaryIntrinsic(op == Op::Min ? llvm::Intrinsic::minimum : llvm::Intrinsic::maximum, a, second);
      unsigned bits = vmath::register_bits(*b.GetInsertBlock()->getParent());
      unsigned register_lanes = bits / unsigned(vec->getScalarSizeInBits());
      // Against a constant c that is neither NaN nor zero, MAXPS(c, a) alone:
      // a when a is NaN, and where a == c either operand is the same number
      // (for c = 0 the sign of a zero result would differ from the language's).
      bool swap = false;
      if (auto* c = llvm::dyn_cast<llvm::Constant>(second)) {
        auto* splat = llvm::dyn_cast_or_null<llvm::ConstantFP>(c->getSplatValue());
        swap = splat && !splat->isNaN() && !splat->isZero();
      }
      llvm::Value* r = vmath::per_register(b, swap ? std::vector<llvm::Value*>{second, a} : std::vector<llvm::Value*>{a, second},
                                           register_lanes, [&](std::vector<llvm::Value*> args) {
        if (bits == 512) args.push_back(b.getInt32(4));  // current rounding
        return b.CreateIntrinsic(x86, {}, args);
      });
      return swap ? r : b.CreateSelect(b.CreateFCmpUNO(a, a), a, r);
    }
    default: break;
  }
  ACTJIT_ASSERT(false && "emit_math: not a math op");
}

std::vector<std::string> external_math_symbols() {
  std::vector<std::string> out;
  const Op ops[] = {Op::Pow, Op::Sin, Op::Cos, Op::Tan, Op::Sinh, Op::Cosh, Op::Asinh, Op::Atan, Op::Erf, Op::Erfc};
  for (Op op : ops) {
    SleefName n{"", ""};
    if (!sleef_name(op, n)) continue;
    for (unsigned lanes : {4u, 8u, 16u}) out.push_back(sleef_symbol(n, false, lanes));
    for (unsigned lanes : {2u, 4u, 8u}) out.push_back(sleef_symbol(n, true, lanes));
  }
  return out;
}

}  // namespace actjit::lower
