// Kernel emission (see lower.hpp): the loop skeleton and the per-op emitter.
//
// Each kernel is a loop over the arrays in steps of W elements (W = vector
// bits / element bits) with explicit <W x T> vectors, then at most one masked
// iteration for the remainder (masked loads and stores, so the tail never
// touches memory past n and never runs scalar code).
#include "compiler/lower/lower.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include "compiler/lower/math.hpp"

namespace actjit::lower {

using ir::NodeId;
using ir::Op;

namespace {

/// Emits the element computation of a set of IR roots for one vector.
class Emitter {
 public:
  Emitter(const Program& p, llvm::IRBuilder<>& b, llvm::Type* vec, std::vector<llvm::Value*> params)
      : p_(p), b_(b), vec_(vec), params_(std::move(params)) {}

  /// Values of `roots` at input vector `x`.
  std::vector<llvm::Value*> emit(llvm::Value* x, const std::vector<NodeId>& roots) {
    std::vector<NodeId> order = p_.graph.reachable(roots);
    std::vector<llvm::Value*> v(order.empty() ? 0 : order.back() + 1, nullptr);
    auto* cond_vec = llvm::VectorType::get(b_.getInt1Ty(), llvm::cast<llvm::VectorType>(vec_)->getElementCount());
    for (NodeId id : order) {
      const ir::Node& n = p_.graph[id];
      auto A = [&](int k) { return v[n.args[k]]; };
      llvm::Value* r = nullptr;
      switch (n.op) {
        case Op::Const: r = llvm::ConstantFP::get(vec_, n.value); break;  // rounded once to T
        case Op::CondConst: r = llvm::ConstantInt::get(cond_vec, n.value != 0 ? 1 : 0); break;
        case Op::Input: r = x; break;
        case Op::Param: r = params_[size_t(n.value)]; break;
        case Op::Neg: r = b_.CreateFNeg(A(0)); break;
        case Op::Add: r = b_.CreateFAdd(A(0), A(1)); break;
        case Op::Sub: r = b_.CreateFSub(A(0), A(1)); break;
        case Op::Mul: r = b_.CreateFMul(A(0), A(1)); break;
        case Op::Div: r = b_.CreateFDiv(A(0), A(1)); break;
        case Op::Where: r = b_.CreateSelect(A(0), A(1), A(2)); break;
        case Op::Lt: r = b_.CreateFCmpOLT(A(0), A(1)); break;
        case Op::Le: r = b_.CreateFCmpOLE(A(0), A(1)); break;
        case Op::Gt: r = b_.CreateFCmpOGT(A(0), A(1)); break;
        case Op::Ge: r = b_.CreateFCmpOGE(A(0), A(1)); break;
        case Op::Eq: r = b_.CreateFCmpOEQ(A(0), A(1)); break;
        case Op::Ne: r = b_.CreateFCmpUNE(A(0), A(1)); break;
        case Op::And: r = b_.CreateAnd(A(0), A(1)); break;
        case Op::Or: r = b_.CreateOr(A(0), A(1)); break;
        case Op::Not: r = b_.CreateNot(A(0)); break;
        case Op::Pow:
        case Op::Min:
        case Op::Max: r = emit_math(b_, n.op, A(0), A(1)); break;
        case Op::Exp: case Op::Expm1: case Op::Log: case Op::Log1p: case Op::Sqrt: case Op::Abs:
        case Op::Sign: case Op::Sin: case Op::Cos: case Op::Tan: case Op::Sinh: case Op::Cosh:
        case Op::Tanh: case Op::Asinh: case Op::Atan: case Op::Erf: case Op::Erfc: case Op::Floor:
        case Op::Ceil: case Op::Round:
          r = emit_math(b_, n.op, A(0));
          break;
      }
      v[id] = r;
    }
    std::vector<llvm::Value*> out;
    for (NodeId r : roots) out.push_back(v[r]);
    return out;
  }

 private:
  const Program& p_;
  llvm::IRBuilder<>& b_;
  llvm::Type* vec_;
  std::vector<llvm::Value*> params_;
};

struct KernelBuilder {
  const Program& p;
  llvm::Module& m;
  llvm::LLVMContext& ctx;
  llvm::Type* elem;
  llvm::FixedVectorType* vec;
  unsigned lanes;
  std::string cpu, features;

  llvm::Function* declare(const std::string& name, unsigned pointer_args_before_n, bool with_dparams) {
    std::vector<llvm::Type*> args(pointer_args_before_n, llvm::PointerType::getUnqual(ctx));
    args.push_back(llvm::Type::getInt64Ty(ctx));
    args.push_back(llvm::PointerType::getUnqual(ctx));  // params
    if (with_dparams) args.push_back(llvm::PointerType::getUnqual(ctx));
    auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), args, false);
    auto* f = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, m);
    f->addFnAttr("target-cpu", cpu);
    f->addFnAttr("target-features", features);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    f->addFnAttr(llvm::Attribute::NoFree);
    f->addFnAttr(llvm::Attribute::WillReturn);
    for (unsigned i = 0; i < f->arg_size(); ++i)
      if (f->getArg(i)->getType()->isPointerTy()) f->addParamAttr(i, llvm::Attribute::NoCapture);
    return f;
  }

  /// Parameters, converted from double to T once, as splat vectors.
  std::vector<llvm::Value*> load_params(llvm::IRBuilder<>& b, llvm::Value* params) {
    std::vector<llvm::Value*> out;
    for (size_t j = 0; j < p.function.params.size(); ++j) {
      llvm::Value* ptr = b.CreateConstInBoundsGEP1_64(b.getDoubleTy(), params, j);
      llvm::Value* d = b.CreateAlignedLoad(b.getDoubleTy(), ptr, llvm::Align(8));
      llvm::Value* t = elem->isDoubleTy() ? d : b.CreateFPTrunc(d, elem);
      out.push_back(b.CreateVectorSplat(lanes, t));
    }
    return out;
  }

  /// The loop skeleton: calls `body(index, mask)` for each vector of
  /// elements; mask is null in the full-vector loop and an <W x i1> lane
  /// mask in the single remainder iteration.
  template <class Body>
  void loop(llvm::IRBuilder<>& b, llvm::Function* f, llvm::Value* n, Body body) {
    llvm::BasicBlock* entry = b.GetInsertBlock();
    auto* loop_bb = llvm::BasicBlock::Create(ctx, "vector.body", f);
    auto* tail_check = llvm::BasicBlock::Create(ctx, "tail.check", f);
    auto* tail_bb = llvm::BasicBlock::Create(ctx, "tail", f);
    auto* exit_bb = llvm::BasicBlock::Create(ctx, "exit", f);
    llvm::Value* full = b.CreateAnd(n, b.getInt64(~uint64_t(lanes - 1)), "n.full");
    b.CreateCondBr(b.CreateICmpUGT(full, b.getInt64(0)), loop_bb, tail_check);

    b.SetInsertPoint(loop_bb);
    llvm::PHINode* i = b.CreatePHI(b.getInt64Ty(), 2, "i");
    i->addIncoming(b.getInt64(0), entry);
    body(i, nullptr);
    llvm::Value* next = b.CreateAdd(i, b.getInt64(lanes), "i.next", true, true);
    i->addIncoming(next, b.GetInsertBlock());
    b.CreateCondBr(b.CreateICmpULT(next, full), loop_bb, tail_check);

    b.SetInsertPoint(tail_check);
    llvm::Value* rest = b.CreateSub(n, full, "n.rest");
    b.CreateCondBr(b.CreateICmpNE(rest, b.getInt64(0)), tail_bb, exit_bb);

    b.SetInsertPoint(tail_bb);
    std::vector<llvm::Constant*> iota;
    for (unsigned k = 0; k < lanes; ++k) iota.push_back(b.getInt64(k));
    llvm::Value* mask = b.CreateICmpULT(llvm::ConstantVector::get(iota), b.CreateVectorSplat(lanes, rest), "mask");
    body(full, mask);
    b.CreateBr(exit_bb);
    b.SetInsertPoint(exit_bb);
  }

  llvm::Value* load(llvm::IRBuilder<>& b, llvm::Value* base, llvm::Value* i, llvm::Value* mask) {
    llvm::Value* ptr = b.CreateInBoundsGEP(elem, base, i);
    llvm::Align align(elem->getPrimitiveSizeInBits() / 8);
    if (!mask) return b.CreateAlignedLoad(vec, ptr, align);
    return b.CreateMaskedLoad(vec, ptr, align, mask, llvm::Constant::getNullValue(vec));
  }
  void store(llvm::IRBuilder<>& b, llvm::Value* v, llvm::Value* base, llvm::Value* i, llvm::Value* mask) {
    llvm::Value* ptr = b.CreateInBoundsGEP(elem, base, i);
    llvm::Align align(elem->getPrimitiveSizeInBits() / 8);
    if (!mask) {
      b.CreateAlignedStore(v, ptr, align);
    } else {
      b.CreateMaskedStore(v, ptr, align, mask);
    }
  }

  void forward(const std::string& name) {
    llvm::Function* f = declare(name, 2, false);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    llvm::Value *x = f->getArg(0), *y = f->getArg(1), *n = f->getArg(2), *params = f->getArg(3);
    f->addParamAttr(0, llvm::Attribute::ReadOnly);
    Emitter em(p, b, vec, load_params(b, params));
    loop(b, f, n, [&](llvm::Value* i, llvm::Value* mask) {
      llvm::Value* xv = load(b, x, i, mask);
      store(b, em.emit(xv, {p.value})[0], y, i, mask);
    });
    b.CreateRetVoid();
  }

  void backward(const std::string& name, bool with_dparams) {
    llvm::Function* f = declare(name, 3, with_dparams);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    llvm::Value *x = f->getArg(0), *dy = f->getArg(1), *dx = f->getArg(2), *n = f->getArg(3),
                *params = f->getArg(4);
    Emitter em(p, b, vec, load_params(b, params));
    std::vector<NodeId> roots{p.d_x};
    size_t np = with_dparams ? p.d_params.size() : 0;
    for (size_t j = 0; j < np; ++j) roots.push_back(p.d_params[j]);
    // Parameter gradients accumulate per lane in double (stack slots that
    // SROA turns into registers).
    auto* acc_ty = llvm::FixedVectorType::get(b.getDoubleTy(), lanes);
    std::vector<llvm::Value*> acc;
    for (size_t j = 0; j < np; ++j) {
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      llvm::Value* slot = eb.CreateAlloca(acc_ty);
      b.CreateStore(llvm::Constant::getNullValue(acc_ty), slot);
      acc.push_back(slot);
    }
    loop(b, f, n, [&](llvm::Value* i, llvm::Value* mask) {
      llvm::Value* xv = load(b, x, i, mask);
      llvm::Value* dyv = load(b, dy, i, mask);
      std::vector<llvm::Value*> d = em.emit(xv, roots);
      store(b, b.CreateFMul(dyv, d[0]), dx, i, mask);
      for (size_t j = 0; j < np; ++j) {
        llvm::Value* term = b.CreateFMul(dyv, d[1 + j]);
        if (!elem->isDoubleTy()) term = b.CreateFPExt(term, acc_ty);
        if (mask) term = b.CreateSelect(mask, term, llvm::Constant::getNullValue(acc_ty));
        llvm::Value* sum = b.CreateFAdd(b.CreateLoad(acc_ty, acc[j]), term);
        b.CreateStore(sum, acc[j]);
      }
    });
    if (np > 0) {
      llvm::Value* dparams = f->getArg(5);
      for (size_t j = 0; j < np; ++j) {
        llvm::Value* v = b.CreateLoad(acc_ty, acc[j]);
        llvm::Value* total = b.CreateFAddReduce(llvm::ConstantFP::get(b.getDoubleTy(), -0.0), v);
        b.CreateAlignedStore(total, b.CreateConstInBoundsGEP1_64(b.getDoubleTy(), dparams, j), llvm::Align(8));
      }
    }
    b.CreateRetVoid();
  }
};

}  // namespace

KernelSymbols emit_kernels(const Program& p, DType dtype, unsigned vector_bits, const std::string& cpu,
                           const std::string& features, const std::string& prefix, llvm::Module& m) {
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* elem = dtype == DType::F64 ? llvm::Type::getDoubleTy(ctx) : llvm::Type::getFloatTy(ctx);
  unsigned lanes = vector_bits / (dtype == DType::F64 ? 64 : 32);
  KernelBuilder kb{p, m, ctx, elem, llvm::FixedVectorType::get(elem, lanes), lanes, cpu, features};
  KernelSymbols names{prefix + "_forward", prefix + "_backward", prefix + "_backward_x"};
  kb.forward(names.forward);
  kb.backward(names.backward, true);
  if (!p.d_params.empty()) kb.backward(names.backward_x, false);
  else names.backward_x.clear();  // no parameters: backward with dparams = null
  return names;
}

}  // namespace actjit::lower
