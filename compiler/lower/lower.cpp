// Kernel emission (see lower.hpp): the loop skeleton and the per-op emitter.
//
// Each kernel is a loop over the arrays in steps of W elements (W = vector
// bits / element bits) with explicit <W x T> vectors; the remainder (fewer
// than W elements) never touches memory past n and never runs scalar code:
// elementwise kernels run it through the same body on stack buffers filled
// and emptied by masked loads and stores (stream()), row kernels through a
// masked copy of the body (loop()).
#include "compiler/lower/lower.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>

#include "compiler/ir/forms.hpp"
#include "compiler/ir/range.hpp"
#include "compiler/ir/row.hpp"
#include "compiler/lower/emitter.hpp"
#include "compiler/lower/math.hpp"
#include "compiler/lower/math/common.hpp"

namespace actjit::lower {

using ir::NodeId;
using ir::Op;

namespace {

/// Row kernels with streaming stores store each row from its first
/// 64-byte boundary (a masked head before it). So do the others whose
/// store loop costs less than kAlignedRowBodyMax (body_cost: loops bound by
/// their loads and stores; softmax's backward from y, 5) where the loop
/// writes at least kAlignedRowMin bytes a row: a store across two lines
/// costs there (that backward, one thread, rows 16 bytes off: 5.38 ->
/// 5.90 e/ns on 16Ki floats in rows of 1000, 4.28 -> 4.96 on 1Mi in rows
/// of 4096). Rows of 128 floats lost more to the extra masked vector than
/// they gained (-5%), and heavier loops gain little (log_softmax's
/// forward, cost 38, +1-7%) or lose (softmax's backward from x, 35, up
/// to -4%).
constexpr uint64_t kAlignedRowMin = 2048;
constexpr unsigned kAlignedRowBodyMax = 20;

unsigned body_cost(const ir::Graph& g, const std::vector<NodeId>& roots);

/// sigmoid_times clamps x to |c x| <= this where a = c x: past it the
/// quotient's exp(-a) is 0 or inf (beyond the underflow watch's band, ir::
/// kExpUnderflowBand, and the 17 past which 1 + exp(-a) rounds to 1).
constexpr double kSigmoidInputReach = 120;

/// The forward m sigmoid(a) under guards (ir::GuardedSigmoidProduct) with
/// a a polynomial in the input, whose float JIT kernel is m / (1 +
/// exp(-a)) (KernelBuilder::sigmoid_times); none where the function may
/// make NaN.
std::optional<ir::GuardedSigmoidProduct> sigmoid_quotient(const Program& p) {
  if (p.row.rowwise || p.value == ir::kNoNode || ir::may_make_nan(p.graph, std::vector<NodeId>{p.value}))
    return std::nullopt;
  auto product = ir::guarded_sigmoid_product(p.graph, p.value);
  if (!product) return std::nullopt;
  // a a polynomial in x: x, x times a parameter or a constant, gelu_tanh's
  // x (k1 + k2 x^2), whose rounding error sigmoid_times takes into exp's
  // argument (or, where the emitter does not follow it, the forward takes
  // sigmoid's form after all).
  const ir::Graph& g = p.graph;
  for (NodeId id : ir::reachable_elementwise(g, std::array{product->sigmoid.a})) {
    Op op = g[id].op;
    if (op != Op::Input && op != Op::Const && op != Op::Param && op != Op::Mul && op != Op::Add && op != Op::Sub &&
        op != Op::Neg)
      return std::nullopt;
  }
  return product;
}

struct KernelBuilder {
  const Program& p;
  llvm::Module& m;
  llvm::LLVMContext& ctx;
  llvm::Type* elem;
  llvm::FixedVectorType* vec;
  unsigned lanes;  // of the body: one, two or four registers (see emit_kernels)
  std::string cpu, features;
  unsigned register_bits;
  bool status = false;  // elementwise kernels return int64 (Abi::Jit)
  bool nontemporal = false;  // Program::streaming_stores
  /// Prefetch the inputs ahead (stream(): streaming-store kernels whose
  /// body is not light; see kStreamingPrefetch).
  bool prefetch = false;

  /// void or int64 name(ptr x pointer_args_before_n, int64 x sizes, ptr params [, ptr dparams])
  llvm::Function* declare(const std::string& name, unsigned pointer_args_before_n, bool with_dparams,
                          unsigned sizes = 1, bool returns_status = false) {
    std::vector<llvm::Type*> args(pointer_args_before_n, llvm::PointerType::getUnqual(ctx));
    for (unsigned k = 0; k < sizes; ++k) args.push_back(llvm::Type::getInt64Ty(ctx));
    args.push_back(llvm::PointerType::getUnqual(ctx));  // params
    if (with_dparams) args.push_back(llvm::PointerType::getUnqual(ctx));
    llvm::Type* ret = returns_status ? llvm::Type::getInt64Ty(ctx) : llvm::Type::getVoidTy(ctx);
    auto* fty = llvm::FunctionType::get(ret, args, false);
    auto* f = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, m);
    f->addFnAttr("target-cpu", cpu);
    f->addFnAttr("target-features", features);
    // The math lowering splits its target-specific intrinsics per register;
    // narrower than AVX-512's registers (ACTJIT_VECTOR_BITS, AOT CPUs) the
    // back end is told so, and splits the wide body as an AVX2 or SSE
    // machine would.
    f->addFnAttr(vmath::kRegisterBitsAttr, std::to_string(register_bits));
    if (register_bits < 512) {
      f->addFnAttr("prefer-vector-width", std::to_string(register_bits));
      f->addFnAttr("min-legal-vector-width", std::to_string(register_bits));
    }
    f->addFnAttr(llvm::Attribute::NoUnwind);
    f->addFnAttr(llvm::Attribute::NoFree);
    f->addFnAttr(llvm::Attribute::WillReturn);
    for (unsigned i = 0; i < f->arg_size(); ++i)
      if (f->getArg(i)->getType()->isPointerTy()) f->addParamAttr(i, llvm::Attribute::NoCapture);
    return f;
  }

  /// Parameters, converted from double to T once, as splat vectors (and
  /// in float kernels split in hi + lo: see ParamValues).
  ParamValues load_params(llvm::IRBuilder<>& b, llvm::Value* params) {
    ParamValues out;
    for (size_t j = 0; j < p.function.params.size(); ++j) {
      llvm::Value* ptr = b.CreateConstInBoundsGEP1_64(b.getDoubleTy(), params, j);
      llvm::Value* d = b.CreateAlignedLoad(b.getDoubleTy(), ptr, llvm::Align(8));
      llvm::Value* t = elem->isDoubleTy() ? d : b.CreateFPTrunc(d, elem);
      out.value.push_back(b.CreateVectorSplat(lanes, t));
      if (elem->isDoubleTy()) continue;
      // hi: t, one step toward zero where t is above d in magnitude (t is
      // d rounded to nearest; stepping the bits of a float down by one
      // moves it toward zero); then lo = d - hi rounded, of d's sign, and
      // 0 only where d is a float.
      auto* fabs_d = llvm::Intrinsic::getDeclaration(b.GetInsertBlock()->getModule(), llvm::Intrinsic::fabs, {b.getDoubleTy()});
      llvm::Value* t_wide = b.CreateFPExt(t, b.getDoubleTy());
      llvm::Value* step = b.CreateFCmpOGT(b.CreateCall(fabs_d, {t_wide}), b.CreateCall(fabs_d, {d}));
      llvm::Value* bits = b.CreateBitCast(t, b.getInt32Ty());
      llvm::Value* hi = b.CreateSelect(step, b.CreateBitCast(b.CreateSub(bits, b.getInt32(1)), elem), t);
      llvm::Value* lo = b.CreateFPTrunc(b.CreateFSub(d, b.CreateFPExt(hi, b.getDoubleTy())), elem);
      out.hi.push_back(b.CreateVectorSplat(lanes, hi));
      out.lo.push_back(b.CreateVectorSplat(lanes, lo));
      out.inexact.push_back(b.CreateVectorSplat(lanes, b.CreateFCmpONE(lo, llvm::ConstantFP::get(elem, 0.0))));
    }
    return out;
  }

  /// <0, 1, ..., W-1> as i64 lanes.
  llvm::Constant* iota(llvm::IRBuilder<>& b) {
    std::vector<llvm::Constant*> k;
    for (unsigned j = 0; j < lanes; ++j) k.push_back(b.getInt64(j));
    return llvm::ConstantVector::get(k);
  }
  /// The <W x i1> mask of the first `count` lanes (count < W).
  llvm::Value* first_lanes(llvm::IRBuilder<>& b, llvm::Value* count) {
    return b.CreateICmpULT(iota(b), b.CreateVectorSplat(lanes, count), "mask");
  }

  /// The loop skeleton of the row kernels: calls `body(index, mask)` for
  /// each vector of elements; mask is null in the full-vector loop and an
  /// <W x i1> lane mask in the single remainder iteration. (One loop masked
  /// throughout compiles ~20% faster on AVX-512 but ran ~5% slower on
  /// compute-bound kernels there, so it is not used; elementwise kernels
  /// use stream(), which emits the body once without masks.)
  /// With `head` (elements, < W), a masked vector of the first
  /// min(head, n) elements comes first and the full vectors start there
  /// (streaming stores: the full vectors' stores then fall on aligned
  /// addresses). That vector ends where the full ones start: its index is
  /// head - W (before the row: those lanes are masked off, and masked
  /// loads and stores do not fault there), so that its store stays within
  /// the one register-aligned block below the first full vector. From the
  /// row's start it would reach into that vector's block, and a store to
  /// a line the streaming stores then write made misaligned rows of 128
  /// floats run at half speed (log_softmax's forward at 4Mi, one thread).
  template <class Body>
  void loop(llvm::IRBuilder<>& b, llvm::Function* f, llvm::Value* n, Body body, llvm::Value* head = nullptr) {
    llvm::Value* start = b.getInt64(0);
    if (head) {
      head = b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, head, n);
      auto* head_bb = llvm::BasicBlock::Create(ctx, "head", f);
      auto* after_head = llvm::BasicBlock::Create(ctx, "head.done", f);
      b.CreateCondBr(b.CreateICmpNE(head, b.getInt64(0)), head_bb, after_head);
      b.SetInsertPoint(head_bb);
      llvm::Value* before = b.CreateSub(b.getInt64(lanes), head);  // the masked-off lanes, before the row
      before_row = true;
      body(b.CreateNeg(before), b.CreateNot(first_lanes(b, before)));
      before_row = false;
      b.CreateBr(after_head);
      b.SetInsertPoint(after_head);
      start = head;
    }
    llvm::BasicBlock* entry = b.GetInsertBlock();
    auto* loop_bb = llvm::BasicBlock::Create(ctx, "vector.body", f);
    auto* tail_check = llvm::BasicBlock::Create(ctx, "tail.check", f);
    auto* tail_bb = llvm::BasicBlock::Create(ctx, "tail", f);
    auto* exit_bb = llvm::BasicBlock::Create(ctx, "exit", f);
    llvm::Value* full =
        head ? b.CreateAdd(start, b.CreateAnd(b.CreateSub(n, start), b.getInt64(~uint64_t(lanes - 1))), "n.full")
             : b.CreateAnd(n, b.getInt64(~uint64_t(lanes - 1)), "n.full");
    b.CreateCondBr(b.CreateICmpUGT(full, start), loop_bb, tail_check);

    b.SetInsertPoint(loop_bb);
    llvm::PHINode* i = b.CreatePHI(b.getInt64Ty(), 2, "i");
    i->addIncoming(start, entry);
    body(i, nullptr);
    llvm::Value* next = b.CreateAdd(i, b.getInt64(lanes), "i.next", true, true);
    i->addIncoming(next, b.GetInsertBlock());
    b.CreateCondBr(b.CreateICmpULT(next, full), loop_bb, tail_check);

    b.SetInsertPoint(tail_check);
    llvm::Value* rest = b.CreateSub(n, full, "n.rest");
    b.CreateCondBr(b.CreateICmpNE(rest, b.getInt64(0)), tail_bb, exit_bb);

    b.SetInsertPoint(tail_bb);
    llvm::Value* mask = first_lanes(b, rest);
    body(full, mask);
    b.CreateBr(exit_bb);
    b.SetInsertPoint(exit_bb);
  }

  /// The elementwise loop with the body emitted once: `body(inputs, lanes)`
  /// gets one vector per array of `in` and returns one per array of `out`;
  /// `lanes` is the <W x i1> of live lanes (all true but in the last,
  /// partial vector). The partial vector goes through stack buffers: its
  /// inputs are copied in with a masked load, the body runs on the buffers
  /// with plain loads and stores, and its outputs are copied out with a
  /// masked store. Against a second, masked copy of the body for the tail,
  /// this halves the code the back end compiles (compile latency). The
  /// full vectors loop body -> latch -> body with one test of "was this the
  /// tail" and the loop's own compare: each array is addressed as a base
  /// (the array, or its buffer in the tail) plus an offset (the index, or 0
  /// in the tail). An output may alias an input (in-place calls): each
  /// vector is loaded before it is stored.
  template <class Body>
  void stream(llvm::IRBuilder<>& b, llvm::Function* f, llvm::Value* n, const std::vector<llvm::Value*>& in,
              const std::vector<llvm::Value*>& out, Body body) {
    llvm::Align align(elem->getPrimitiveSizeInBits() / 8);
    std::vector<llvm::Value*> in_buf, out_buf;
    {
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      for (size_t k = 0; k < in.size(); ++k) in_buf.push_back(eb.CreateAlloca(vec));
      for (size_t k = 0; k < out.size(); ++k) {
        out_buf.push_back(eb.CreateAlloca(vec));
        // Streaming stores write the tail's buffer too: register-aligned.
        auto* slot = llvm::cast<llvm::AllocaInst>(out_buf.back());
        slot->setAlignment(std::max(slot->getAlign(), llvm::Align(register_bits / 8)));
      }
    }
    auto* start = llvm::BasicBlock::Create(ctx, "start", f);
    auto* outer = llvm::BasicBlock::Create(ctx, "arrays", f);
    auto* body_bb = llvm::BasicBlock::Create(ctx, "vector.body", f);
    auto* latch = llvm::BasicBlock::Create(ctx, "latch", f);
    auto* after = llvm::BasicBlock::Create(ctx, "after", f);
    auto* prep = llvm::BasicBlock::Create(ctx, "tail.in", f);
    auto* finish = llvm::BasicBlock::Create(ctx, "tail.out", f);
    auto* exit_bb = llvm::BasicBlock::Create(ctx, "exit", f);
    llvm::Value* full = b.CreateAnd(n, b.getInt64(~uint64_t(lanes - 1)), "n.full");
    b.CreateCondBr(b.CreateICmpUGT(n, b.getInt64(0)), start, exit_bb);

    b.SetInsertPoint(start);
    b.CreateCondBr(b.CreateICmpUGT(full, b.getInt64(0)), outer, prep);

    // The partial vector starts at `full`, whichever way it is reached.
    b.SetInsertPoint(prep);
    llvm::Value* live = first_lanes(b, b.CreateSub(n, full));
    for (size_t k = 0; k < in.size(); ++k)
      b.CreateStore(b.CreateMaskedLoad(vec, b.CreateInBoundsGEP(elem, in[k], full), align, live,
                                       llvm::Constant::getNullValue(vec)),
                    in_buf[k]);
    b.CreateBr(outer);

    // Entered twice at most: for the full vectors (the arrays) and for the
    // partial one (the buffers). The loop below has only its offset as a
    // phi, so the full vectors run without copies at the back edge.
    b.SetInsertPoint(outer);
    auto* mask_ty = llvm::FixedVectorType::get(b.getInt1Ty(), lanes);
    auto phi = [&](llvm::Type* t, llvm::Value* arrays, llvm::Value* tail, const char* name) {
      llvm::PHINode* ph = b.CreatePHI(t, 2, name);
      ph->addIncoming(arrays, start);
      ph->addIncoming(tail, prep);
      return ph;
    };
    llvm::Value* lane_mask = phi(mask_ty, llvm::Constant::getAllOnesValue(mask_ty), live, "lanes");
    llvm::Value* is_tail = phi(b.getInt1Ty(), b.getFalse(), b.getTrue(), "is.tail");
    std::vector<llvm::Value*> in_base, out_base, values;
    for (size_t k = 0; k < in.size(); ++k) in_base.push_back(phi(in[k]->getType(), in[k], in_buf[k], "in"));
    for (size_t k = 0; k < out.size(); ++k) out_base.push_back(phi(out[k]->getType(), out[k], out_buf[k], "out"));
    b.CreateBr(body_bb);

    b.SetInsertPoint(body_bb);
    llvm::PHINode* at = b.CreatePHI(b.getInt64Ty(), 2, "at");
    at->addIncoming(b.getInt64(0), outer);
    // One load and one store per register, in ascending address order (as
    // one wide access the back end may store the second register first).
    unsigned per_register = register_bits / unsigned(elem->getPrimitiveSizeInBits());
    auto* register_vec = llvm::FixedVectorType::get(elem, per_register);
    for (llvm::Value* base : in_base) {
      std::vector<llvm::Value*> parts;
      for (unsigned r = 0; r < lanes; r += per_register)
        parts.push_back(b.CreateAlignedLoad(register_vec, b.CreateInBoundsGEP(elem, base, b.CreateAdd(at, b.getInt64(r))), align));
      values.push_back(vmath::concat(b, parts));
    }
    // Software prefetch of the inputs kStreamingPrefetch bytes ahead, one
    // per cache line (KernelBuilder::prefetch).
    if (prefetch) {
      unsigned line = std::max(per_register, 64u * 8 / unsigned(elem->getPrimitiveSizeInBits()));
      uint64_t ahead = kStreamingPrefetch * 8 / elem->getPrimitiveSizeInBits();
      for (llvm::Value* base : in_base)
        for (unsigned r = 0; r < lanes; r += line)
          b.CreateIntrinsic(llvm::Intrinsic::prefetch, {b.getPtrTy()},
                            {b.CreateGEP(elem, base, b.CreateAdd(at, b.getInt64(r + ahead))), b.getInt32(0),
                             b.getInt32(3), b.getInt32(1)});
    }
    std::vector<llvm::Value*> results = body(values, lane_mask);
    // Streaming stores (Program::streaming_stores): the caller passes
    // outputs 64-byte aligned, and each full vector is a whole number of
    // registers from there.
    for (size_t k = 0; k < out.size(); ++k)
      for (unsigned r = 0; r < lanes; r += per_register) {
        llvm::Value* v = vmath::slice(b, results[k], r, per_register);
        llvm::Value* ptr = b.CreateInBoundsGEP(elem, out_base[k], b.CreateAdd(at, b.getInt64(r)));
        if (nontemporal) streaming_store(b, v, ptr);
        else b.CreateAlignedStore(v, ptr, align);
      }
    b.CreateCondBr(is_tail, finish, latch);

    b.SetInsertPoint(finish);
    for (size_t k = 0; k < out.size(); ++k)
      b.CreateMaskedStore(b.CreateAlignedLoad(vec, out_buf[k], align), b.CreateInBoundsGEP(elem, out[k], full), align,
                          lane_mask);
    b.CreateBr(exit_bb);

    b.SetInsertPoint(latch);
    llvm::Value* next = b.CreateAdd(at, b.getInt64(lanes), "i.next", true, true);
    at->addIncoming(next, latch);
    b.CreateCondBr(b.CreateICmpULT(next, full), body_bb, after);

    b.SetInsertPoint(after);  // next == full
    b.CreateCondBr(b.CreateICmpULT(next, n), prep, exit_bb);
    b.SetInsertPoint(exit_bb);
    fence_streaming_stores(b);
  }

  /// A non-temporal store of v at ptr, which is register-aligned (the
  /// callers' invariant): written without the line being read first.
  void streaming_store(llvm::IRBuilder<>& b, llvm::Value* v, llvm::Value* ptr) {
    llvm::StoreInst* s = b.CreateAlignedStore(v, ptr, llvm::Align(register_bits / 8));
    s->setMetadata(llvm::LLVMContext::MD_nontemporal, llvm::MDNode::get(ctx, llvm::ConstantAsMetadata::get(b.getInt32(1))));
  }
  /// Streaming stores are weakly ordered: fenced before the kernel returns
  /// (another thread reads the output after the pool's join).
  void fence_streaming_stores(llvm::IRBuilder<>& b) {
    if (nontemporal) b.CreateIntrinsic(llvm::Intrinsic::x86_sse_sfence, {}, {});
  }

  /// Element i of `base`; while loop() emits its head, the vector's
  /// masked-off lanes lie before the row (perhaps before the array), so the
  /// address is not marked inbounds there.
  bool before_row = false;
  llvm::Value* element(llvm::IRBuilder<>& b, llvm::Value* base, llvm::Value* i) {
    return before_row ? b.CreateGEP(elem, base, i) : b.CreateInBoundsGEP(elem, base, i);
  }

  llvm::Value* load(llvm::IRBuilder<>& b, llvm::Value* base, llvm::Value* i, llvm::Value* mask) {
    llvm::Value* ptr = element(b, base, i);
    llvm::Align align(elem->getPrimitiveSizeInBits() / 8);
    if (!mask) return b.CreateAlignedLoad(vec, ptr, align);
    return b.CreateMaskedLoad(vec, ptr, align, mask, llvm::Constant::getNullValue(vec));
  }
  void store(llvm::IRBuilder<>& b, llvm::Value* v, llvm::Value* base, llvm::Value* i, llvm::Value* mask) {
    llvm::Value* ptr = element(b, base, i);
    llvm::Align align(elem->getPrimitiveSizeInBits() / 8);
    if (!mask) {
      b.CreateAlignedStore(v, ptr, align);
    } else {
      b.CreateMaskedStore(v, ptr, align, mask);
    }
  }

  /// Watches for lanes the runtime recomputes in float64 (see Abi::Jit).
  /// NaN: the compare results of the roots, or'ed into an integer vector
  /// (one OR per root per iteration). Underflow (float32 forwards with
  /// ir::underflow_sources): per watched exp operand, the distance of its
  /// bit pattern above ir::kExpUnderflowBand's first pattern (above the
  /// band's negation's for a divisor's operand, the pattern without its sign
  /// for an operand watched both ways: x / exp(x)), an unsigned minimum over
  /// the operands and the body's registers into one register kept over the
  /// loop (two integer instructions per register and operand; a float band
  /// test with the result's size took six and cost swish a third of its
  /// speed; a minimum per operand and body lane kept four registers per
  /// operand live, and the constants they displaced cost x*x /
  /// exp(sqrt(x*x + 1)) 15%); within the band's width after the loop, some
  /// lane underflowed. Those lanes' first result is NaN (a compare and a
  /// masked move per register: swish, silu, mish, telu, gelu_tanh at 16Ki
  /// level with the kernels before), and the runtime recomputes the NaN
  /// lanes: per lane, not every tiny result of a call where one lane
  /// underflowed, which made a lane's value depend on its neighbours
  /// (swish at -86.67 alone or beside -100: 1 ULP apart). The runtime
  /// finds the lanes (and checks that their inputs were finite). Only
  /// float32 kernels whose function may make such a lane watch (for NaN:
  /// one that float64 would not give as well, ir::may_lose_nan). `extra`
  /// are the watched exp operands, emitted beside the roots (Emitter::
  /// emit's `also`: the roots' code stays the same) and passed to watch().
  struct LaneWatch {
    KernelBuilder& kb;
    llvm::FixedVectorType* ty = nullptr;  // <lanes x i32>
    llvm::Value* slot = nullptr;          // NaN lanes
    llvm::Value* least = nullptr;         // the least distance, <16 x i32> (one register) or <lanes x i32>
    std::vector<NodeId> extra;            // exp operands watched for ir::kExpUnderflowBand
    std::vector<ir::UnderflowSource> bands;  // per operand, the band or its negation or both
    bool first_finite = false;               // the first result watched for +-inf too (watch_infinite)
    LaneWatch(KernelBuilder& kb, llvm::IRBuilder<>& b, llvm::Function* f, const std::vector<NodeId>& roots,
              std::span<const NodeId> tiny_roots = {})
        : kb(kb) {
      if (!kb.status || kb.elem->isDoubleTy()) return;
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      ty = llvm::FixedVectorType::get(b.getInt32Ty(), kb.lanes);
      if (ir::may_lose_nan(kb.p.graph, roots)) {
        slot = eb.CreateAlloca(ty);
        b.CreateStore(llvm::Constant::getNullValue(ty), slot);
      }
      if (!tiny_roots.empty())
        for (const ir::UnderflowSource& s : ir::underflow_sources(kb.p.graph, tiny_roots)) watch_node(b, f, s);
    }
    llvm::FixedVectorType* least_ty() const {
      return kb.lanes % kRegister == 0 ? llvm::FixedVectorType::get(ty->getElementType(), kRegister) : ty;
    }
    /// Also watches `s.a`'s values for the band (as an exp operand's) or its negation.
    void watch_node(llvm::IRBuilder<>& b, llvm::Function* f, ir::UnderflowSource s) {
      if (!ty) return;
      extra.push_back(s.a);
      bands.push_back(s);
      if (least) return;
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      least = eb.CreateAlloca(least_ty());
      b.CreateStore(llvm::Constant::getAllOnesValue(least_ty()), least);
    }
    void watch_node(llvm::IRBuilder<>& b, llvm::Function* f, NodeId id) { watch_node(b, f, {id, true, false}); }
    /// Also watches the first result for +-inf (a backward's dy f'(x) where
    /// f' may overflow float: inf for a tiny dy, NaN for a zero one, where
    /// the float64 product is finite).
    void watch_infinite(llvm::IRBuilder<>& b, llvm::Function* f) {
      if (!ty) return;
      first_finite = true;
      if (slot) return;
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      slot = eb.CreateAlloca(ty);
      b.CreateStore(llvm::Constant::getNullValue(ty), slot);
    }
    /// The band (negative floats) as bit patterns: [first, first + width];
    /// its negation's first pattern is first without the sign bit.
    static constexpr uint32_t kBandFirst = std::bit_cast<uint32_t>(float(ir::kExpUnderflowBand.hi));
    static constexpr uint32_t kBandWidth = std::bit_cast<uint32_t>(float(ir::kExpUnderflowBand.lo)) - kBandFirst;
    static constexpr uint32_t kSign = 0x80000000u;
    static constexpr unsigned kRegister = 16;  // i32 lanes in one AVX-512 register
    /// `values`: the results, then the values of `extra`. Returns the
    /// first result, NaN in the lanes whose watched operands lie in the
    /// band: the runtime recomputes exactly those (and the NaN lanes), so
    /// that a lane's value never depends on the other lanes of its call.
    llvm::Value* watch(llvm::IRBuilder<>& b, const std::vector<llvm::Value*>& given, llvm::Value* mask) {
      std::vector<llvm::Value*> values = given;
      size_t results = values.size() - extra.size();
      if (slot) {
        llvm::Value* bad = nullptr;
        for (size_t i = 0; i < results; ++i) {
          llvm::Value* nan = i == 0 && first_finite
                                 ? b.CreateIntrinsic(llvm::Intrinsic::is_fpclass, {values[i]->getType()},
                                                     {values[i], b.getInt32(llvm::fcNan | llvm::fcInf)})
                                 : b.CreateFCmpUNO(values[i], values[i]);
          bad = bad ? b.CreateOr(bad, nan) : nan;
        }
        if (mask) bad = b.CreateAnd(bad, mask);
        b.CreateStore(b.CreateOr(b.CreateLoad(ty, slot), b.CreateSExt(bad, ty)), slot);
      }
      if (extra.empty()) return values[0];
      // Not masked to the live lanes: a tail's dead lanes compute f(0),
      // which at worst asks the runtime to look at tiny results it
      // then finds right (and a masked add costs mish 3% more).
      auto umin = [&](llvm::Value* p, llvm::Value* q) { return b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, p, q); };
      llvm::Value* d = nullptr;
      for (size_t j = 0; j < extra.size(); ++j) {
        const ir::UnderflowSource& s = bands[j];
        llvm::Value* bits = b.CreateBitCast(values[results + j], ty);
        if (s.above && s.below) bits = b.CreateAnd(bits, llvm::ConstantInt::get(ty, ~kSign));
        uint32_t first = s.below && !s.above ? kBandFirst : kBandFirst & ~kSign;
        llvm::Value* dj = b.CreateSub(bits, llvm::ConstantInt::get(ty, first));
        d = d ? umin(d, dj) : dj;
      }
      llvm::Value* in_band = b.CreateICmpULE(d, llvm::ConstantInt::get(ty, kBandWidth));
      llvm::Value* first = b.CreateSelect(in_band, llvm::ConstantFP::getNaN(values[0]->getType()), values[0]);
      // halves of the body's lanes folded into one register (which lane is
      // not needed: the runtime finds them)
      for (unsigned w = kb.lanes; w > least_ty()->getNumElements(); w /= 2) {
        llvm::SmallVector<int, 64> lo, hi;
        for (unsigned i = 0; i < w / 2; ++i) {
          lo.push_back(int(i));
          hi.push_back(int(w / 2 + i));
        }
        d = umin(b.CreateShuffleVector(d, lo), b.CreateShuffleVector(d, hi));
      }
      b.CreateStore(umin(b.CreateLoad(least_ty(), least), d), least);
      return first;
    }
    void ret(llvm::IRBuilder<>& b) {
      if (!kb.status) {
        b.CreateRetVoid();
        return;
      }
      llvm::Value* status = b.getInt64(0);
      if (slot)
        status = b.CreateSelect(b.CreateICmpNE(b.CreateOrReduce(b.CreateLoad(ty, slot)), b.getInt32(0)),
                                b.getInt64(kStatusNaN), status);
      if (least) {
        llvm::Value* m = b.CreateUnaryIntrinsic(llvm::Intrinsic::vector_reduce_umin, b.CreateLoad(least_ty(), least));
        status = b.CreateOr(
            status, b.CreateSelect(b.CreateICmpULE(m, b.getInt32(kBandWidth)), b.getInt64(kStatusTiny), b.getInt64(0)));
      }
      b.CreateRet(status);
    }
  };

  /// The emitter's plans, alike for every elementwise kernel of the
  /// program. Float64 kernels apply exp's exponent last in a * sigmoid
  /// (float32 kernels recompute such tiny lanes in float64 instead).
  void plan(Emitter& em) const {
    em.plan(p.all_roots(), p.derivative_roots());
    if (!elem->isDoubleTy()) return;
    std::vector<NodeId> roots;
    for (NodeId r : p.all_roots())
      if (r != ir::kNoNode) roots.push_back(r);
    em.plan_scaled_products(roots);
  }

  void forward(const std::string& name) {
    // (Program::keep_input: x also stored to a third array, as loaded)
    const unsigned arrays = p.keep_input ? 3 : 2;
    llvm::Function* f = declare(name, arrays, false, 1, status);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    llvm::Value *x = f->getArg(0), *y = f->getArg(1), *n = f->getArg(arrays), *params = f->getArg(arrays + 1);
    std::vector<llvm::Value*> outputs{y};
    if (p.keep_input) outputs.push_back(f->getArg(2));
    f->addParamAttr(0, llvm::Attribute::ReadOnly);
    Emitter em(p.graph, b, vec, load_params(b, params));
    em.set_erfc_log_form(true);  // no derivative here to share erfcx and exp(-y^2/2) with
    plan(em);
    // m sigmoid(a) under guards, a a polynomial in the input (silu, swish,
    // x sigmoid(1.702 x), gelu_tanh): m / (1 + exp(-a)) (sigmoid_times), in
    // float kernels whose caller recomputes the watched lanes (in place
    // from x kept by Program::keep_input: below a = -88.7 the quotient is
    // -0, the true value below 2.7e-37 for silu).
    // Measured (16Ki floats, alternating libraries): silu 5.96 -> 7.38 e/ns
    // (the table-form exp alone: 6.3-6.7).
    std::optional<ir::GuardedSigmoidProduct> product;
    if (status && !elem->isDoubleTy()) product = sigmoid_quotient(p);
    LaneWatch rescue(*this, b, f, {p.value}, product ? std::span<const NodeId>{} : std::span<const NodeId>{&p.value, 1});
    if (product) rescue.watch_node(b, f, product->sigmoid.a);
    // Inner m * sigmoid(a) as quotients too, where the kernel watches the
    // band (Emitter::plan_sigmoid_quotients): their exp operands watched.
    if (!product && rescue.ty && status && !elem->isDoubleTy())
      for (NodeId w : em.plan_sigmoid_quotients({p.value})) {
        if (auto at = std::find(rescue.extra.begin(), rescue.extra.end(), w); at == rescue.extra.end())
          rescue.watch_node(b, f, w);
        else
          rescue.bands[size_t(at - rescue.extra.begin())].below = true;
      }
    stream(b, f, n, {x}, outputs, [&](const std::vector<llvm::Value*>& in, llvm::Value* live) {
      auto stored = [&](llvm::Value* value) {
        return p.keep_input ? std::vector<llvm::Value*>{value, in[0]} : std::vector<llvm::Value*>{value};
      };
      if (product) {
        auto [q, a] = sigmoid_times(b, em, product->sigmoid, product->guards, product->m, p.value, in[0], nullptr);
        if (!q) q = em.emit({p.value}, [&](NodeId) { return in[0]; })[0];  // sigmoid's form, a watched alike
        return stored(rescue.watch(b, {q, a}, live));
      }
      std::vector<llvm::Value*> v = em.emit({p.value}, [&](NodeId) { return in[0]; }, nullptr, rescue.extra);
      return stored(rescue.watch(b, v, live));
    });
    rescue.ret(b);
  }

  /// y = f(x) and dydx = f'(x) in one pass: the emitter computes every
  /// node once, so the derivative reuses the forward's subexpressions.
  void fused(const std::string& name) {
    // (Program::keep_input: x also stored to a fourth array, as loaded)
    const unsigned arrays = p.keep_input ? 4 : 3;
    llvm::Function* f = declare(name, arrays, false, 1, status);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    llvm::Value *x = f->getArg(0), *y = f->getArg(1), *dydx = f->getArg(2), *n = f->getArg(arrays),
                *params = f->getArg(arrays + 1);
    std::vector<llvm::Value*> outputs{y, dydx};
    if (p.keep_input) outputs.push_back(f->getArg(3));
    f->addParamAttr(0, llvm::Attribute::ReadOnly);
    Emitter em(p.graph, b, vec, load_params(b, params));
    plan(em);
    std::vector<NodeId> roots{p.value, p.d_x};
    LaneWatch rescue(*this, b, f, roots, {&p.value, 1});
    stream(b, f, n, {x}, outputs, [&](const std::vector<llvm::Value*>& in, llvm::Value* live) {
      auto stored = [&](llvm::Value* value, llvm::Value* slope) {
        return p.keep_input ? std::vector<llvm::Value*>{value, slope, in[0]} : std::vector<llvm::Value*>{value, slope};
      };
      // y as the forward kernel computes it, then the derivative as the
      // backward kernel does (paired tanh, Emitter::plan), reusing y's
      // nodes that do not depend on a paired tanh.
      auto leaf = [&](NodeId) { return in[0]; };
      if (!em.has_paired_tanh()) {
        std::vector<llvm::Value*> v = em.emit(roots, leaf, nullptr, rescue.extra);
        return stored(rescue.watch(b, v, live), v[1]);
      }
      std::unordered_map<NodeId, llvm::Value*> done;
      em.set_pairing(false);
      std::vector<llvm::Value*> v = em.emit({p.value}, leaf, nullptr, rescue.extra, &done);
      em.set_pairing(true);
      std::unordered_map<NodeId, llvm::Value*> reuse = em.reusable(done);
      llvm::Value* d = em.emit({p.d_x}, leaf, &reuse)[0];
      v.insert(v.begin() + 1, d);  // y, dydx, then the watched values
      return stored(rescue.watch(b, v, live), v[1]);
    });
    rescue.ret(b);
  }

  /// dy sigmoid(a) under `guards`, as dy / (1 + exp(-a)): one division
  /// and no selects, where sigmoid's form takes
  /// where(a >= 0, 1, e) / (1 + e) with e = exp(-|a|) and a product by dy
  /// (softplus's float backward at 16Ki: 0.88-0.90x -> 0.98-1.02x of Eigen,
  /// three alternating runs, the watch included). Below a
  /// = -88.7, exp(-a) is inf and the quotient 0 where sigmoid(a) is
  /// subnormal: the caller watches a in ir::kExpUnderflowBand and the
  /// runtime recomputes those lanes in float64 (kStatusTiny; capping the
  /// exponent and scaling the quotient after, right in the kernel, cost
  /// the whole gain). Guards it decides alike are left out: where(a > t, 1,
  /// .) for t past which 1 + exp(-a) rounds to 1 (17), where(a < t, 0, .)
  /// for t below the band (+0: dy / inf is dy * 0, signed zeros and NaN
  /// alike); others are selects. With `m` (a forward's m sigmoid(a), the
  /// guards' values 0 or m) the quotient is m / (1 + exp(-a)): where(a > t,
  /// m, .) is decided alike, where(a < t, 0, .) is not (an infinite m would
  /// give NaN, the guard 0). A computed a (beta x) carries its rounding
  /// error into exp(-a) as the argument's tail, as the emitter's exp takes
  /// it. Returns the quotient and a; the quotient is null where the
  /// emitter does not follow a's error (the caller takes another form).
  std::pair<llvm::Value*, llvm::Value*> sigmoid_times(llvm::IRBuilder<>& b, Emitter& em, const ir::SigmoidForm& sigmoid,
                                                      const std::vector<std::pair<NodeId, NodeId>>& guards, NodeId m,
                                                      NodeId root, llvm::Value* xv, llvm::Value* dyv) {
    const NodeId a = sigmoid.a;
    const ir::Graph& g = p.graph;
    auto decided = [&](NodeId cond, NodeId value) {
      const ir::Node& c = g[cond];
      if (c.arity != 2 || c.args[0] != a || !g.is_const(c.args[1])) return false;
      double t = g.const_value(c.args[1]);
      if (m != ir::kNoNode ? value == m : g.const_value(value) == 1) return (c.op == Op::Gt || c.op == Op::Ge) && t >= 17.0;
      if (m != ir::kNoNode) return false;
      double v = g.const_value(value);
      return v == 0 && !std::signbit(v) && (c.op == Op::Lt || c.op == Op::Le) && t <= ir::kExpUnderflowBand.lo;
    };
    std::vector<NodeId> want{a};
    if (m != ir::kNoNode) want.push_back(m);
    for (auto& [cond, value] : guards)
      if (!decided(cond, value)) want.push_back(cond);
    // a = c x (or x), c a constant, in a float kernel with vscalef: a from x
    // clamped to |c x| <= kSigmoidInputReach (NaN kept; m and the guards
    // take x itself), so that exp needs neither its clamps nor the tail's
    // guard (exp_tail_unclamped). Past the clamp exp(-a) is 0 or inf
    // either way (1 + exp(-120) rounds to 1; exp(120) overflows), and the
    // underflow watch's band [-114, -87.3] lies within it.
    // Alternating libraries, 16Ki and 1Mi floats: x sigmoid(1.702 x) forward
    // +10-11% with a min and a max, +5% more with the vrange; x sigmoid(2 x)
    // +4% (no tail: the clamps move to x); silu and swish +9-11% (the
    // vrange in place of exp's two clamps); softplus's backward +1-5%.
    llvm::Value* clamped_x = nullptr;
    double bound = std::numeric_limits<double>::infinity();
    if (const ir::Node& an = g[a];
        (an.op == Op::Mul || an.op == Op::Input) && !elem->isDoubleTy() &&
        vmath::has_vscalef(*b.GetInsertBlock()->getParent(), vec)) {
      double c = 1;
      if (an.op == Op::Mul) {
        NodeId k = g.is_const(an.args[0]) ? an.args[0] : an.args[1];
        NodeId v = k == an.args[0] ? an.args[1] : an.args[0];
        c = g.is_const(k) && g[v].op == Op::Input ? g.const_value(k) : 0;
      }
      if (std::isfinite(c) && c != 0) {
        double reach = kSigmoidInputReach / std::fabs(c);
        // Where m is x itself (silu, x sigmoid(c x)), a NaN x makes the
        // quotient NaN through m: one vrange (which makes NaN +-reach)
        // where a min and a max keep it.
        if (m != ir::kNoNode && g[m].op == Op::Input) clamped_x = emit_clamp_magnitude(b, xv, reach);
        if (!clamped_x) {
          llvm::Value* hi = llvm::ConstantFP::get(vec, reach);
          llvm::Value* lo = llvm::ConstantFP::get(vec, -reach);
          clamped_x = b.CreateSelect(b.CreateFCmpOGT(xv, hi), hi, xv);
          clamped_x = b.CreateSelect(b.CreateFCmpOLT(clamped_x, lo), lo, clamped_x);
        }
        bound = kSigmoidInputReach * (1 + 0x1p-20);
      }
    }
    std::unordered_map<NodeId, llvm::Value*> all;
    std::vector<llvm::Value*> w;
    if (clamped_x) {
      w = em.emit({a}, [&](NodeId) { return clamped_x; }, nullptr, {}, &all);
      if (want.size() > 1) {
        std::vector<llvm::Value*> rest =
            em.emit(std::vector<NodeId>(want.begin() + 1, want.end()), [&](NodeId) { return xv; });
        w.insert(w.end(), rest.begin(), rest.end());
      }
    } else {
      w = em.emit(want, [&](NodeId) { return xv; }, nullptr, {}, &all);
    }
    llvm::Value* multiplier = m != ir::kNoNode ? w[1] : dyv;
    llvm::Value* tail = nullptr;
    if (!em.argument_tail(a, all, tail)) return {nullptr, w[0]};
    // |a| where the quotient is used (the guards bound it: gelu_tanh's |x| <=
    // 30), from the interval of sigmoid's exp operand -|a| there - if every
    // guard is emitted (a guard left out leaves its lanes to the quotient).
    if (!clamped_x &&
        std::none_of(guards.begin(), guards.end(), [&](auto& gv) { return decided(gv.first, gv.second); })) {
      ir::Interval used = ir::Ranges(g, {&root, 1}, elem->isDoubleTy() ? ir::Precision::F64 : ir::Precision::F32,
                                     ir::Domain{false, false})
                              .operand_where_used(sigmoid.e);
      bound = std::max(std::fabs(used.lo), std::fabs(used.hi));
    }
    llvm::Value* q = emit_sigmoid_quotient(b, multiplier, w[0], tail, bound);
    size_t k = want.size();
    for (auto it = guards.rbegin(); it != guards.rend(); ++it) {  // innermost first
      if (decided(it->first, it->second)) continue;
      llvm::Value* guard = m == ir::kNoNode ? b.CreateFMul(dyv, llvm::ConstantFP::get(vec, g.const_value(it->second)))
                           : it->second == m ? multiplier
                                             : llvm::ConstantFP::get(vec, g.const_value(it->second));
      q = b.CreateSelect(w[--k], guard, q);
    }
    return {q, w[0]};
  }

  void backward(const std::string& name, bool with_dparams) {
    // (Program::keep_input: dy also stored to a fourth array, as loaded)
    const unsigned arrays = p.keep_input ? 4 : 3;
    llvm::Function* f = declare(name, arrays, with_dparams, 1, status);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    llvm::Value *x = f->getArg(0), *dy = f->getArg(1), *dx = f->getArg(2), *n = f->getArg(arrays),
                *params = f->getArg(arrays + 1);
    std::vector<llvm::Value*> outputs{dx};
    if (p.keep_input) outputs.push_back(f->getArg(3));
    Emitter em(p.graph, b, vec, load_params(b, params));
    plan(em);
    em.set_pairing(true);
    std::vector<NodeId> roots{p.d_x};
    size_t np = with_dparams ? p.d_params.size() : 0;
    for (size_t j = 0; j < np; ++j) roots.push_back(p.d_params[j]);
    LaneWatch rescue(*this, b, f, roots);
    // Parameter gradients accumulate per lane in double (stack slots that
    // SROA turns into registers). A parameter the function does not depend
    // on (softplus's threshold, hardshrink's lambd: the derivative is the
    // constant 0) gets 0 without a loop term: dy * 0 summed in double is 0
    // for any finite dy (and NaN only where dy is not, where the other
    // parameters' gradients are NaN too).
    auto* acc_ty = llvm::FixedVectorType::get(b.getDoubleTy(), lanes);
    std::vector<llvm::Value*> acc(np, nullptr);
    for (size_t j = 0; j < np; ++j) {
      if (p.graph.is_const(p.d_params[j], 0.0)) continue;
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      llvm::Value* slot = eb.CreateAlloca(acc_ty);
      b.CreateStore(llvm::Constant::getNullValue(acc_ty), slot);
      acc[j] = slot;
    }
    // A derivative that is sigmoid(a), maybe under guards (softplus's):
    // dy / (1 + exp(-a)) (sigmoid_times), in float kernels whose caller
    // recomputes the watched lanes (the JIT's status), without the
    // parameters' gradients (which share sigmoid's exp(-|a|)) or a NaN
    // watch. Float64 and ahead-of-time kernels keep sigmoid's form.
    std::optional<ir::GuardedSigmoid> sigmoid;
    if (np == 0 && status && !elem->isDoubleTy() && !rescue.slot) sigmoid = ir::guarded_sigmoid(p.graph, p.d_x);
    if (sigmoid) rescue.watch_node(b, f, sigmoid->sigmoid.a);
    // dx = dy f'(x) is watched (for NaN where the slot is), and where f'
    // may overflow float for a finite x also for +-inf: dy = 0 made NaN of
    // 0 * inf, a tiny dy inf, where the float64 product is 0 or finite
    // (exp's backward at x = 100), and the float64 pass took such a lane
    // only where another lane of the call was watched.
    if (!sigmoid && status && !elem->isDoubleTy() &&
        ir::Ranges(p.graph, std::span<const NodeId>(&p.d_x, 1), ir::Precision::F32, ir::Domain{true, true})[p.d_x]
            .may_be_inf())
      rescue.watch_infinite(b, f);
    stream(b, f, n, {x, dy}, outputs, [&](const std::vector<llvm::Value*>& in, llvm::Value* live) {
      llvm::Value *xv = in[0], *dyv = in[1];
      auto stored = [&](llvm::Value* value) {
        return p.keep_input ? std::vector<llvm::Value*>{value, dyv} : std::vector<llvm::Value*>{value};
      };
      if (sigmoid) {
        auto [q, a] = sigmoid_times(b, em, sigmoid->sigmoid, sigmoid->guards, ir::kNoNode, p.d_x, xv, dyv);
        if (!q) q = b.CreateFMul(dyv, em.emit({p.d_x}, [&](NodeId) { return xv; })[0]);  // sigmoid's form
        return stored(rescue.watch(b, {q, a}, live));
      }
      std::vector<llvm::Value*> d = em.emit(roots, [&](NodeId) { return xv; });
      llvm::Value* product = b.CreateFMul(dyv, d[0]);
      std::vector<llvm::Value*> watched = d;
      watched[0] = product;  // (no band: that is the sigmoid slope's above)
      rescue.watch(b, watched, live);
      for (size_t j = 0; j < np; ++j) {
        if (!acc[j]) continue;
        llvm::Value* term = b.CreateFMul(dyv, d[1 + j]);
        if (!elem->isDoubleTy()) term = b.CreateFPExt(term, acc_ty);
        term = b.CreateSelect(live, term, llvm::Constant::getNullValue(acc_ty));
        llvm::Value* sum = b.CreateFAdd(b.CreateLoad(acc_ty, acc[j]), term);
        b.CreateStore(sum, acc[j]);
      }
      return stored(product);
    });
    if (np > 0) {
      llvm::Value* dparams = f->getArg(arrays + 2);
      for (size_t j = 0; j < np; ++j) {
        llvm::Value* total = llvm::ConstantFP::get(b.getDoubleTy(), 0.0);
        if (acc[j])
          total = b.CreateFAddReduce(llvm::ConstantFP::get(b.getDoubleTy(), -0.0), b.CreateLoad(acc_ty, acc[j]));
        b.CreateAlignedStore(total, b.CreateConstInBoundsGEP1_64(b.getDoubleTy(), dparams, j), llvm::Align(8));
      }
    }
    rescue.ret(b);
  }
};

/// The reductions reachable from `roots`, in id order, with their depths (a
/// reduction's operand holds shallower ones; depth 0 holds none).
struct ReductionDepths {
  std::vector<NodeId> reds;
  std::unordered_map<NodeId, unsigned> depth;
  unsigned max_depth = 0;
  ReductionDepths(const ir::Graph& g, const std::vector<NodeId>& roots) {
    for (NodeId id : g.reachable(roots)) {
      if (!(ir::info(g[id].op).flags & ir::Reduction)) continue;
      unsigned dep = 0;
      for (NodeId in : ir::reachable_elementwise(g, std::array{g[id].args[0]}))
        if (depth.count(in)) dep = std::max(dep, depth[in] + 1);
      depth[id] = dep;
      max_depth = std::max(max_depth, dep);
      reds.push_back(id);
    }
  }
};

/// Row-wise kernels (ir/row.hpp): a loop over rows; in each row, one
/// vector loop per group of reductions (reductions of the same depth and
/// length share a pass over the row), then one loop per output length.
/// Values that are one per row (reductions and what is computed from them
/// only) are computed once per row, outside the element loops.
///   forward:  void(const T* x, T* y, int64 rows, int64 cols, const double* params)
///   backward: void(const T* x, const T* dy, T* dx, int64 rows, int64 cols,
///                  const double* params, double* dparams /* may be null */)
struct RowKernels {
  KernelBuilder& kb;
  const Program& p;
  llvm::LLVMContext& ctx;

  enum class SinkKind { StoreY, StoreDx, AddDx, Param };
  struct Sink {
    NodeId e;
    SinkKind kind;
    ir::View view;  // StoreDx / AddDx: where; StoreY: unused
    size_t param = 0;
  };

  struct RowState {
    llvm::Value *x = nullptr, *y = nullptr, *dy = nullptr, *dx = nullptr;  // row pointers
    llvm::Value* cols = nullptr;
    std::unordered_map<NodeId, llvm::Value*> known;  // row scalars (splat vectors)
    /// Sums of exp(v - max(v)): S - 1 from the accumulators (float kernels:
    /// double ones), splat, for log(S) = log1p(S - 1) (row_scalars).
    std::unordered_map<NodeId, llvm::Value*> sum_minus_one;
    /// Sums of float kernels as the double accumulators have them (scalar).
    std::unordered_map<NodeId, llvm::Value*> wide_sums;
    /// row_stored_operand's node and the output row it goes to, or kNoNode.
    NodeId stored = ir::kNoNode;
    llvm::Value* stored_to = nullptr;
  };

  llvm::Value* length(llvm::IRBuilder<>& b, llvm::Value* cols, uint64_t d) {
    return d <= 1 ? cols : b.CreateUDiv(cols, b.getInt64(d));
  }

  /// Where the view's part of the row starts: index * (cols / parts).
  llvm::Value* part_start(llvm::IRBuilder<>& b, llvm::Value* cols, ir::View v) {
    return v.parts > 1 ? b.CreateMul(b.getInt64(v.index), length(b, cols, v.parts)) : b.getInt64(0);
  }
  /// The block of group * lanes elements that holds every position of the
  /// groups at loop index i (i * group from the part's start).
  llvm::Value* group_block(llvm::IRBuilder<>& b, llvm::Value* base, llvm::Value* cols, ir::View v, llvm::Value* i) {
    return b.CreateInBoundsGEP(kb.elem, base, b.CreateAdd(part_start(b, cols, v), b.CreateMul(i, b.getInt64(v.group))));
  }

  /// Pointers (vector of, for group > 1) to the elements of `view` at loop
  /// index i: base + index * (cols / parts) + (i + lane) * group + offset.
  llvm::Value* view_address(llvm::IRBuilder<>& b, llvm::Value* base, llvm::Value* cols, ir::View v, llvm::Value* i) {
    llvm::Value* first = b.CreateInBoundsGEP(kb.elem, base, b.CreateAdd(part_start(b, cols, v), b.getInt64(v.offset)));
    if (v.group == 1) return kb.element(b, first, i);
    llvm::Value* idx = b.CreateAdd(b.CreateVectorSplat(kb.lanes, i), kb.iota(b));
    idx = b.CreateMul(idx, b.CreateVectorSplat(kb.lanes, b.getInt64(v.group)));
    return kb.element(b, first, idx);
  }
  /// Groups up to this size are read, in full vectors, as group vectors of
  /// consecutive elements and a shuffle (the same wide load for every
  /// position in the group, which CSE shares), not as a gather; dx of all
  /// their positions is written so too (store_groups_whole). maxout(x, 2)
  /// 2.1 -> 20-27 e/ns forward, 1.3 -> 13-16 backward (16Ki floats); 32
  /// still gains 2x and compiles in 0.25 s, where the shuffles grow.
  static constexpr uint32_t kMaxShuffledGroup = 32;

  llvm::Value* load_view(llvm::IRBuilder<>& b, llvm::Value* base, llvm::Value* cols, ir::View v, llvm::Value* i,
                         llvm::Value* mask) {
    if (v.group == 1) return kb.load(b, view_address(b, base, cols, v, i), b.getInt64(0), mask);
    llvm::Align align(kb.elem->getPrimitiveSizeInBits() / 8);
    if (!mask && v.group <= kMaxShuffledGroup) {
      // Elements (i + l) * group + offset, l < lanes: all of the block of
      // group * lanes elements from i * group, which holds the group's
      // every position.
      llvm::Value* block = group_block(b, base, cols, v, i);
      auto* wide = llvm::FixedVectorType::get(kb.elem, kb.lanes * v.group);
      llvm::Value* all = b.CreateAlignedLoad(wide, block, align);
      std::vector<int> lanes;
      for (unsigned l = 0; l < kb.lanes; ++l) lanes.push_back(int(l * v.group + v.offset));
      return b.CreateShuffleVector(all, lanes);
    }
    llvm::Value* m = mask ? mask : llvm::Constant::getAllOnesValue(llvm::FixedVectorType::get(b.getInt1Ty(), kb.lanes));
    return b.CreateMaskedGather(kb.vec, view_address(b, base, cols, v, i), align, m,
                                llvm::Constant::getNullValue(kb.vec));
  }
  /// The StoreDx sinks among `members` (values v) that cover every
  /// position of a group of 2 to kMaxShuffledGroup (maxout's backward: dx
  /// at each member of the group), stored interleaved as group consecutive
  /// vectors instead of a scatter each; marks them in `stored`.
  void store_groups_whole(llvm::IRBuilder<>& b, llvm::Value* dx, llvm::Value* cols, llvm::Value* i,
                          const std::vector<Sink>& sinks, const std::vector<size_t>& members,
                          const std::vector<llvm::Value*>& v, std::vector<bool>& stored) {
    for (size_t k = 0; k < members.size(); ++k) {
      const Sink& s = sinks[members[k]];
      uint32_t group = s.view.group;
      if (stored[k] || s.kind != SinkKind::StoreDx || group < 2 || group > kMaxShuffledGroup) continue;
      // The sinks of this group's positions, by offset.
      std::vector<long> at(s.view.group, -1);
      for (size_t j = k; j < members.size(); ++j) {
        const Sink& o = sinks[members[j]];
        if (stored[j] || o.kind != SinkKind::StoreDx || o.view.group != s.view.group || o.view.parts != s.view.parts ||
            o.view.index != s.view.index || at[o.view.offset] >= 0)
          continue;
        at[o.view.offset] = long(j);
      }
      if (std::count(at.begin(), at.end(), -1L) != 0) continue;
      // Concatenate the group's vectors in offset order, then interleave:
      // element l * group + t of the block is position t's lane l.
      std::vector<llvm::Value*> parts;
      for (long j : at) {
        llvm::Value* val = v[size_t(j)];
        parts.push_back(llvm::isa<llvm::VectorType>(val->getType()) ? val : b.CreateVectorSplat(kb.lanes, val));  // a row scalar
      }
      while (parts.size() & (parts.size() - 1)) parts.push_back(llvm::PoisonValue::get(kb.vec));  // to a power of two
      while (parts.size() > 1) {
        std::vector<llvm::Value*> next;
        for (size_t q = 0; q + 1 < parts.size(); q += 2) {
          unsigned n = llvm::cast<llvm::FixedVectorType>(parts[q]->getType())->getNumElements();
          std::vector<int> both(2 * n);
          for (unsigned e = 0; e < 2 * n; ++e) both[e] = int(e);
          next.push_back(b.CreateShuffleVector(parts[q], parts[q + 1], both));
        }
        parts = next;
      }
      std::vector<int> interleave;
      for (unsigned l = 0; l < kb.lanes; ++l)
        for (unsigned t = 0; t < s.view.group; ++t) interleave.push_back(int(t * kb.lanes + l));
      llvm::Value* block = b.CreateShuffleVector(parts[0], interleave);
      b.CreateAlignedStore(block, group_block(b, dx, cols, s.view, i), llvm::Align(kb.elem->getPrimitiveSizeInBits() / 8));
      for (long j : at) stored[size_t(j)] = true;
    }
  }

  void store_view(llvm::IRBuilder<>& b, llvm::Value* val, llvm::Value* base, llvm::Value* cols, ir::View v,
                  llvm::Value* i, llvm::Value* mask) {
    if (v.group == 1) return kb.store(b, val, view_address(b, base, cols, v, i), b.getInt64(0), mask);
    llvm::Align align(kb.elem->getPrimitiveSizeInBits() / 8);
    llvm::Value* m = mask ? mask : llvm::Constant::getAllOnesValue(llvm::FixedVectorType::get(b.getInt1Ty(), kb.lanes));
    b.CreateMaskedScatter(val, view_address(b, base, cols, v, i), align, m);
  }

  /// `roots` with the scaled products (Emitter::set_scaling) where some
  /// lane of an argument in `args` (of their exps) is below
  /// kScaledProductBar, else as plain products: a branch on the register.
  std::vector<llvm::Value*> emit_scaled_when_tiny(llvm::IRBuilder<>& b, llvm::Function* f, Emitter& em,
                                                  const std::vector<NodeId>& roots, const std::vector<NodeId>& args,
                                                  const Emitter::Leaf& leaf,
                                                  std::unordered_map<NodeId, llvm::Value*> known) {
    std::unordered_map<NodeId, llvm::Value*> all;
    std::vector<llvm::Value*> a = em.emit(args, leaf, &known, {}, &all);
    known.insert(all.begin(), all.end());
    llvm::Value* tiny = nullptr;
    for (llvm::Value* v : a) {
      llvm::Value* below = b.CreateFCmpOLT(v, llvm::ConstantFP::get(v->getType(), kScaledProductBar));
      tiny = tiny ? b.CreateOr(tiny, below) : below;
    }
    auto* scaled_bb = llvm::BasicBlock::Create(ctx, "scaled", f);
    auto* plain_bb = llvm::BasicBlock::Create(ctx, "plain", f);
    auto* join = llvm::BasicBlock::Create(ctx, "scaled.join", f);
    b.CreateCondBr(b.CreateOrReduce(tiny), scaled_bb, plain_bb, llvm::MDBuilder(ctx).createBranchWeights(1, 1 << 20));
    auto side = [&](llvm::BasicBlock* bb, bool scaling) {
      b.SetInsertPoint(bb);
      em.set_scaling(scaling);
      std::vector<llvm::Value*> v = em.emit(roots, leaf, &known);
      em.set_scaling(true);
      b.CreateBr(join);
      return std::pair{v, b.GetInsertBlock()};
    };
    auto [scaled, scaled_end] = side(scaled_bb, true);
    auto [plain, plain_end] = side(plain_bb, false);
    b.SetInsertPoint(join);
    std::vector<llvm::Value*> out;
    for (size_t k = 0; k < roots.size(); ++k) {
      if (scaled[k] == plain[k]) {
        out.push_back(scaled[k]);
        continue;
      }
      llvm::PHINode* phi = b.CreatePHI(scaled[k]->getType(), 2);
      phi->addIncoming(scaled[k], scaled_end);
      phi->addIncoming(plain[k], plain_end);
      out.push_back(phi);
    }
    return out;
  }

  /// Whether the loop over `roots` into `members` of `sinks` reads or
  /// writes a view of groups (maxout's): in a masked vector those take a
  /// gather or a scatter (a masked head on maxout's rows of 1024 cost its
  /// forward and backward 25-35% on rows 16 bytes off).
  bool grouped(const std::vector<NodeId>& roots, const std::vector<Sink>& sinks,
               const std::vector<size_t>& members) const {
    for (size_t k : members)
      if (sinks[k].view.group > 1) return true;
    for (NodeId id : ir::reachable_elementwise(p.graph, roots))
      if (p.graph[id].op == Op::Input && ir::View::decode(p.graph[id].value).group > 1) return true;
    return false;
  }

  /// Leaves inside an element loop at index i.
  Emitter::Leaf element_leaf(llvm::IRBuilder<>& b, RowState& st, llvm::Value* i, llvm::Value* mask) {
    return [&, i, mask](NodeId id) -> llvm::Value* {
      const ir::Node& n = p.graph[id];
      if (n.op == Op::Input) return load_view(b, st.x, st.cols, ir::View::decode(n.value), i, mask);
      if (n.op == Op::Cotangent) return kb.load(b, st.dy, i, mask);
      return st.known.at(id);
    };
  }

  /// Emits the row scalars among the elementwise parts of `roots` that are
  /// not known yet (at the current point, outside element loops).
  void row_scalars(llvm::IRBuilder<>& b, Emitter& em, RowState& st, const std::vector<NodeId>& roots) {
    ir::Shapes shapes(p.graph);
    std::vector<NodeId> todo;
    for (NodeId id : ir::reachable_elementwise(p.graph, roots)) {
      const ir::Node& n = p.graph[id];
      if (shapes.of(id) != ir::kScalar || st.known.count(id) || (ir::info(n.op).flags & ir::Reduction) ||
          n.arity == 0)
        continue;
      todo.push_back(id);
    }
    // log(S) of a sum of exp(v - max(v)) as log1p(S - 1), S - 1 the others'
    // sum (reductions): log_softmax's largest output is -log(1 + the
    // others' sum), which a float S near 1 rounded to 0 (an absolute 6e-8).
    // Known before the rest, which may use it.
    // A quotient of two sums (softmax's backward: sum(e dy) / sum(e)) from
    // their double accumulators (float kernels), rounded once: the
    // backward's dy - sum(e dy) / S cancels where one term dominates.
    std::vector<NodeId> rest;
    for (NodeId id : todo) {
      const ir::Node& n = p.graph[id];
      auto s1 = n.op == Op::Log ? st.sum_minus_one.find(n.args[0]) : st.sum_minus_one.end();
      auto num = n.op == Op::Div ? st.wide_sums.find(n.args[0]) : st.wide_sums.end();
      auto den = n.op == Op::Div ? st.wide_sums.find(n.args[1]) : st.wide_sums.end();
      if (s1 != st.sum_minus_one.end())
        st.known[id] = emit_math(b, Op::Log1p, s1->second);
      else if (num != st.wide_sums.end() && den != st.wide_sums.end())
        st.known[id] = b.CreateVectorSplat(kb.lanes, b.CreateFPTrunc(b.CreateFDiv(num->second, den->second), kb.elem));
      else
        rest.push_back(id);
    }
    std::vector<llvm::Value*> vals = em.emit(rest, [&](NodeId id) { return st.known.at(id); }, &st.known);
    for (size_t k = 0; k < rest.size(); ++k) st.known[rest[k]] = vals[k];
    em.prepare_shifted_exps(st.known);
  }

  /// Whether the kernel being built takes log(r) (log_softmax's forward
  /// takes log S; its backward, e / S, does not), and whether the program
  /// does (in its forward or backward).
  bool logged(NodeId r) const { return kernel_logs_.count(r) > 0; }
  bool logged_by_program(NodeId r) const { return program_logs_.count(r) > 0; }
  std::unordered_set<NodeId> kernel_logs_, program_logs_;
  void find_logs(const std::vector<NodeId>& kernel_roots) {
    auto logs = [&](const std::vector<NodeId>& roots, std::unordered_set<NodeId>& out) {
      out.clear();
      for (NodeId id : p.graph.reachable(roots))
        if (p.graph[id].op == Op::Log) out.insert(p.graph[id].args[0]);
    };
    logs(kernel_roots, kernel_logs_);
    logs(p.all_roots(), program_logs_);
  }

  /// Whether reduction `r` is a sum of exp(v - max(v)) that counts the
  /// maxima apart (reductions: where the kernel takes log of it, and in
  /// double kernels).
  bool counts_maxima(NodeId r) const {
    return p.graph[r].op == Op::Sum && (logged(r) || kb.elem->isDoubleTy()) &&
           ir::exp_minus_row_max(p.graph, p.graph[r].args[0]).v != ir::kNoNode;
  }



  /// Row lengths from which compensated_total adds the lanes up with
  /// TwoSum (a chain of ~30 more dependent instructions a row: float64
  /// softmax on rows of 16 would run at 60% of its speed). Below, the
  /// lanes' sums plainly added keep float64 softmax within 3.8 ULP (4.1 in
  /// 1 of 400,000 values on rows of 16, as before the compensation).
  static constexpr uint64_t kCompensatedLanesFrom = 256;

  /// count + the others' sum, and count - 1 + it, of a compensated sum of
  /// exp (lanes `s` started at 1, `c` their additions' errors). From
  /// kCompensatedLanesFrom elements (`m`) the lanes are halved by TwoSum,
  /// whose errors join c's, down to one (hi + lo), the lanes' 1s come off hi
  /// exactly (hi >= lanes, an integer, and below 2^53), and a + hi + lo is
  /// TwoSum's a + hi plus its error and lo: rounded once. Below, each
  /// lane's s - 1 (exact) + c, plainly added, and a + that.
  std::pair<llvm::Value*, llvm::Value*> compensated_total(llvm::IRBuilder<>& b, llvm::Function* f, llvm::Value* m,
                                                          llvm::Value* s, llvm::Value* c, llvm::Value* count) {
    auto* vt = llvm::cast<llvm::FixedVectorType>(s->getType());
    llvm::Type* et = vt->getElementType();
    llvm::Value* count_minus_one = b.CreateFSub(count, llvm::ConstantFP::get(et, 1.0));
    auto* long_bb = llvm::BasicBlock::Create(ctx, "sum.long", f);
    auto* short_bb = llvm::BasicBlock::Create(ctx, "sum.short", f);
    auto* join_bb = llvm::BasicBlock::Create(ctx, "sum.join", f);
    b.CreateCondBr(b.CreateICmpUGE(m, b.getInt64(kCompensatedLanesFrom)), long_bb, short_bb);

    b.SetInsertPoint(short_bb);
    auto* plain = b.CreateFAddReduce(llvm::ConstantFP::get(et, -0.0),
                                     b.CreateFAdd(b.CreateFSub(s, llvm::ConstantFP::get(vt, 1.0)), c));
    plain->setHasAllowReassoc(true);
    llvm::Value* short_total = b.CreateFAdd(count, plain);
    llvm::Value* short_minus_one = b.CreateFAdd(count_minus_one, plain);
    b.CreateBr(join_bb);

    b.SetInsertPoint(long_bb);
    for (unsigned w = vt->getNumElements(); w > 1; w /= 2) {
      std::vector<int> lower(w / 2), upper(w / 2);
      for (unsigned j = 0; j < w / 2; ++j) lower[j] = int(j), upper[j] = int(j + w / 2);
      llvm::Value *sa = b.CreateShuffleVector(s, lower), *sb = b.CreateShuffleVector(s, upper);
      llvm::Value* t = b.CreateFAdd(sa, sb);
      llvm::Value* err = vmath::sum_error(vmath::Ctx{b, llvm::cast<llvm::FixedVectorType>(t->getType()), true}, sa, sb, t);
      c = b.CreateFAdd(b.CreateFAdd(b.CreateShuffleVector(c, lower), b.CreateShuffleVector(c, upper)), err);
      s = t;
    }
    llvm::Value* hi = b.CreateFSub(s, llvm::ConstantFP::get(s->getType(), vt->getNumElements()));  // <1 x double>
    auto plus = [&](llvm::Value* a) {
      llvm::Value* av = b.CreateVectorSplat(1, a);
      llvm::Value* sum = b.CreateFAdd(av, hi);
      llvm::Value* err = vmath::sum_error(vmath::Ctx{b, llvm::cast<llvm::FixedVectorType>(hi->getType()), true}, av, hi, sum);
      return b.CreateExtractElement(b.CreateFAdd(sum, b.CreateFAdd(err, c)), uint64_t(0));
    };
    llvm::Value* long_total = plus(count);
    llvm::Value* long_minus_one = plus(count_minus_one);
    b.CreateBr(join_bb);

    b.SetInsertPoint(join_bb);
    auto phi = [&](llvm::Value* from_long, llvm::Value* from_short) {
      llvm::PHINode* v = b.CreatePHI(et, 2);
      v->addIncoming(from_long, long_bb);
      v->addIncoming(from_short, short_bb);
      return v;
    };
    return {phi(long_total, short_total), phi(long_minus_one, short_minus_one)};
  }

  /// Computes the reductions `group` (all of the same operand length
  /// `d`, operands already computable) into st.known.
  void reductions(llvm::IRBuilder<>& b, llvm::Function* f, Emitter& em, RowState& st,
                  const std::vector<NodeId>& group, uint64_t d) {
    ir::Shapes shapes(p.graph);
    std::vector<NodeId> bodies;
    for (NodeId r : group) bodies.push_back(p.graph[r].args[0]);
    row_scalars(b, em, st, bodies);
    llvm::Value* m = length(b, st.cols, d);
    const bool widen = !kb.elem->isDoubleTy();
    auto* acc_double = llvm::FixedVectorType::get(b.getDoubleTy(), kb.lanes);
    auto is_sum = [&](NodeId r) { Op op = p.graph[r].op; return op == Op::Sum || op == Op::Mean; };
    auto identity = [&](NodeId r, llvm::Type* t) -> llvm::Value* {
      Op op = p.graph[r].op;
      if (is_sum(r)) return llvm::ConstantFP::get(t, 0.0);
      return llvm::ConstantFP::getInfinity(t, op == Op::RowMax);
    };
    std::vector<llvm::Value*> slots, maxima, comps;
    std::vector<NodeId> looped;
    std::vector<ir::ExpMinusMax> shifted;  // of each looped sum of exp(v - max(v)) counting maxima, else empty
    for (NodeId r : group) {
      NodeId body = p.graph[r].args[0];
      if (shapes.of(body) == ir::kScalar) continue;  // handled below, no loop
      llvm::Type* t = is_sum(r) && widen ? static_cast<llvm::Type*>(acc_double) : kb.vec;
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      llvm::Value* slot = eb.CreateAlloca(t);
      b.CreateStore(identity(r, t), slot);
      slots.push_back(slot);
      looped.push_back(r);
      // Sums of exp(v - max(v)) count the maxima (each exp(0) = 1 exactly)
      // apart from the others' sum, so that S - 1 is known to the others'
      // precision (sum_minus_one), where the program takes log(S), and in
      // double sums (the lanes' partial sums then leave out the 1s, and
      // round less: float64 softmax 6.1 -> 5.6 ULP on long rows). Float32
      // kernels' softmax S, summed in double, needs no count (~7
      // instructions a register).
      ir::ExpMinusMax se = counts_maxima(r) ? ir::exp_minus_row_max(p.graph, body) : ir::ExpMinusMax{};
      shifted.push_back(se.v != ir::kNoNode && st.known.count(se.max) ? se : ir::ExpMinusMax{});
      maxima.push_back(nullptr);
      if (shifted.back().v != ir::kNoNode) {  // the count: an integer, by popcount of the compare's mask
        maxima.back() = eb.CreateAlloca(b.getInt64Ty());
        b.CreateStore(b.getInt64(0), maxima.back());
      }
      // Double sums of exp(v - max v) are compensated: each addition's
      // rounding error goes to a second accumulator, and the lanes are added
      // up the same way (compensated_total). A plain double sum rounds once
      // per element in each lane's chain: float64 softmax was 4.3 ULP off on
      // rows of 200, 16.7 on rows of 32768. The lanes start at 1 (taken off
      // at the end): no term is above 1 once the maxima are counted apart
      // (exp(0) = 1 exactly; exp of a tiny negative may round to 1), so
      // each addition's error is exact by Fast2Sum (two
      // subtractions) where TwoSum takes five. Cost: float64 softmax 5-13%
      // slower. Not where the program takes log(S) (log_softmax: S's
      // relative error is log S's absolute one, within 2.8 ULP of its
      // outputs without compensation).
      comps.push_back(nullptr);
      if (!widen && shifted.back().v != ir::kNoNode && !logged_by_program(r)) {
        comps.back() = eb.CreateAlloca(t);
        b.CreateStore(identity(r, t), comps.back());
        b.CreateStore(llvm::ConstantFP::get(t, 1.0), slot);
      }
    }
    if (!looped.empty()) {
      std::vector<NodeId> looped_bodies;
      for (NodeId r : looped) looped_bodies.push_back(p.graph[r].args[0]);
      std::vector<llvm::Value*> finite_max(looped.size());
      for (size_t k = 0; k < looped.size(); ++k) {
        if (shifted[k].v == ir::kNoNode) continue;
        looped_bodies.push_back(shifted[k].v);
        llvm::Value* mx = st.known.at(shifted[k].max);
        finite_max[k] =
            b.CreateFCmpONE(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, mx), llvm::ConstantFP::getInfinity(kb.vec));
      }
      // Float sums of products a * b (softmax's sum(e dy)) take the
      // product in double, where it is exact, instead of rounding it to
      // float first: where one term dominates, dy - sum(e dy) / S cancels,
      // and that rounding was the result's error. (The positions of a and
      // b among the loop's values, else none.)
      constexpr size_t kNone = SIZE_MAX;
      std::vector<std::pair<size_t, size_t>> factors(looped.size(), {kNone, kNone});
      for (size_t k = 0; k < looped.size(); ++k) {
        const ir::Node& body = p.graph[p.graph[looped[k]].args[0]];
        if (!widen || !is_sum(looped[k]) || body.op != Op::Mul || shapes.of(body.args[0]) == ir::kScalar ||
            shapes.of(body.args[1]) == ir::kScalar)
          continue;
        factors[k] = {looped_bodies.size(), looped_bodies.size() + 1};
        looped_bodies.push_back(body.args[0]);
        looped_bodies.push_back(body.args[1]);
      }
      kb.loop(b, f, m, [&](llvm::Value* i, llvm::Value* mask) {
        std::vector<llvm::Value*> v = em.emit(looped_bodies, element_leaf(b, st, i, mask), &st.known);
        for (size_t k = 0; k < looped.size(); ++k)
          if (looped_bodies[k] == st.stored) {
            kb.store(b, v[k], st.stored_to, i, mask);  // after every load of this iteration
            break;
          }
        size_t extra = looped.size();
        for (size_t k = 0; k < looped.size(); ++k) {
          NodeId r = looped[k];
          llvm::Type* t = is_sum(r) && widen ? static_cast<llvm::Type*>(acc_double) : kb.vec;
          llvm::Value* val = v[k];
          if (shifted[k].v != ir::kNoNode) {  // a maximum's exp(0) = 1 goes to the count
            // (An infinite maximum keeps its exp(inf - inf) = NaN in the sum:
            // the max's finiteness is a row scalar, in finite_max.)
            llvm::Value* top = b.CreateFCmpOEQ(v[extra++], st.known.at(shifted[k].max));
            top = b.CreateAnd(top, finite_max[k]);
            if (mask) top = b.CreateAnd(top, mask);
            llvm::Value* bits = b.CreateBitCast(top, b.getIntNTy(kb.lanes));
            llvm::Value* hits = b.CreateZExt(b.CreateUnaryIntrinsic(llvm::Intrinsic::ctpop, bits), b.getInt64Ty());
            b.CreateStore(b.CreateAdd(b.CreateLoad(b.getInt64Ty(), maxima[k]), hits), maxima[k]);
            val = b.CreateSelect(top, llvm::ConstantFP::get(kb.vec, 0.0), val);
          }
          llvm::Value* old = b.CreateLoad(t, slots[k]);
          llvm::Value* next = nullptr;
          if (factors[k].first != kNone) {
            llvm::Value* fa = b.CreateFPExt(v[factors[k].first], t);
            llvm::Value* fb = b.CreateFPExt(v[factors[k].second], t);
            // The product is exact: fused or not, the same sum.
            next = mask ? b.CreateFAdd(old, b.CreateSelect(mask, b.CreateFMul(fa, fb), identity(r, t)))
                        : b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {t}, {fa, fb, old});
          } else {
            if (t != kb.vec) val = b.CreateFPExt(val, t);
            if (mask) val = b.CreateSelect(mask, val, identity(r, t));
            // max(val, old): the NaN test falls on the loaded val, off the
            // accumulator's chain of dependent instructions.
            next = is_sum(r) ? b.CreateFAdd(old, val)
                             : emit_math(b, p.graph[r].op == Op::RowMax ? Op::Max : Op::Min, val, old);
          }
          b.CreateStore(next, slots[k]);
          if (comps[k]) {  // Fast2Sum: old >= 1 >= val (or NaN)
            llvm::Value* err = b.CreateFSub(val, b.CreateFSub(next, old));
            b.CreateStore(b.CreateFAdd(b.CreateLoad(t, comps[k]), err), comps[k]);
          }
        }
      });
    }
    for (size_t k = 0; k < looped.size(); ++k) {
      NodeId r = looped[k];
      llvm::Type* t = is_sum(r) && widen ? static_cast<llvm::Type*>(acc_double) : kb.vec;
      llvm::Value* acc = b.CreateLoad(t, slots[k]);
      llvm::Value* total;
      if (is_sum(r)) {
        llvm::Type* st_ty = t->getScalarType();
        // The others' sum, and (compensated) what it is short of.
        auto plain_sum = [&] {
          auto* sum = b.CreateFAddReduce(llvm::ConstantFP::get(st_ty, -0.0), acc);
          sum->setHasAllowReassoc(true);
          return sum;
        };
        if (maxima[k]) {  // S = (count of maxima) + the others' sum
          llvm::Value* count = b.CreateUIToFP(b.CreateLoad(b.getInt64Ty(), maxima[k]), st_ty);
          llvm::Value* minus_one;
          if (comps[k]) {
            std::tie(total, minus_one) = compensated_total(b, f, m, acc, b.CreateLoad(t, comps[k]), count);
          } else {
            llvm::Value* others = plain_sum();
            // A shifted exp's terms carry its factor: the exp at the max.
            NodeId body = p.graph[r].args[0];
            llvm::Value* mx = st.known.at(shifted[k].max);  // the value of stop_gradient(max) too
            if (llvm::Value* factor = em.shift_factor(body, mx)) others = b.CreateFDiv(others, factor);
            minus_one = b.CreateFAdd(b.CreateFSub(count, llvm::ConstantFP::get(st_ty, 1.0)), others);
            total = b.CreateFAdd(count, others);
          }
          st.sum_minus_one[r] = b.CreateVectorSplat(kb.lanes, b.CreateFPTrunc(minus_one, kb.elem));
        } else {
          total = plain_sum();
        }
        if (p.graph[r].op == Op::Mean) total = b.CreateFDiv(total, b.CreateUIToFP(m, st_ty));
        if (st_ty != kb.elem) {
          st.wide_sums[r] = total;
          total = b.CreateFPTrunc(total, kb.elem);
        }
      } else {
        // NaN where a lane is; else a tree of plain max (min) instructions:
        // without NaNs the language's max needs no more (the sign of equal
        // zeros is left open), where llvm.vector.reduce.fmaximum also orders
        // -0 and +0 and tests each step for NaN.
        llvm::Value* any_nan = b.CreateOrReduce(b.CreateFCmpUNO(acc, acc));
        llvm::Value* plain = p.graph[r].op == Op::RowMax ? b.CreateFPMaxReduce(acc) : b.CreateFPMinReduce(acc);
        llvm::cast<llvm::Instruction>(plain)->setHasNoNaNs(true);
        total = b.CreateSelect(any_nan, llvm::ConstantFP::getNaN(kb.elem), plain);
      }
      st.known[r] = b.CreateVectorSplat(kb.lanes, total);
    }
    for (NodeId r : group) {
      NodeId body = p.graph[r].args[0];
      if (shapes.of(body) != ir::kScalar) continue;
      llvm::Value* v = em.emit({body}, [&](NodeId id) { return st.known.at(id); }, &st.known)[0];
      if (p.graph[r].op == Op::Sum)
        v = b.CreateFMul(v, b.CreateVectorSplat(kb.lanes, b.CreateUIToFP(m, kb.elem)));
      st.known[r] = v;
    }
  }

  void build(const std::string& name, bool backward) {
    llvm::Function* f = kb.declare(name, backward ? 3 : 2, backward, 2);  // (..., rows, cols, params[, dparams])
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    unsigned a = 0;
    llvm::Value* x = f->getArg(a++);
    llvm::Value* dy = backward ? f->getArg(a++) : nullptr;
    llvm::Value* out = f->getArg(a++);
    llvm::Value* rows = f->getArg(a++);
    llvm::Value* cols = f->getArg(a++);
    llvm::Value* params = f->getArg(a++);
    llvm::Value* dparams = backward ? f->getArg(a++) : nullptr;

    // What the kernel writes.
    std::vector<Sink> sinks;
    bool partition = true;
    if (!backward) {
      sinks.push_back({p.value, SinkKind::StoreY, {}});
    } else {
      // dx: stored directly when the views cover the row exactly once
      // (same divisor, all distinct); otherwise zeroed and accumulated.
      partition = p.row.dx_partition();
      for (auto& [v, e] : p.row.dx) sinks.push_back({e, partition ? SinkKind::StoreDx : SinkKind::AddDx, v});
      for (size_t j = 0; j < p.row.dparams.size(); ++j) sinks.push_back({p.row.dparams[j], SinkKind::Param, {}, j});
    }
    std::vector<NodeId> sink_roots;
    for (auto& s : sinks) sink_roots.push_back(s.e);
    find_logs(sink_roots);

    // Reductions, by depth.
    const ReductionDepths rd(p.graph, sink_roots);
    const std::vector<NodeId>& reds = rd.reds;

    // Parameter gradients: double accumulators over rows.
    std::vector<llvm::Value*> pacc;
    for (size_t j = 0; j < (backward ? p.row.dparams.size() : 0); ++j) {
      llvm::Value* slot = b.CreateAlloca(b.getDoubleTy());
      pacc.push_back(slot);
    }
    for (llvm::Value* slot : pacc) b.CreateStore(llvm::ConstantFP::get(b.getDoubleTy(), 0.0), slot);

    Emitter em(p.graph, b, kb.vec, kb.load_params(b, params));
    // The plans of the elementwise kernels (-|b| as one OR in glu's exp:
    // its float backward at 16Ki, rows of 1024, 7.8 -> 9.0 e/ns).
    em.plan(sink_roots, {});
    // Forwards: no float64 recomputation of tiny lanes here. (A backward's
    // such products, dy * sigmoid(b) in glu's, stay within 1e-7 absolute.)
    // The scaled products are taken only in registers where some exp's
    // argument is below kScaledProductBar (a branch taken about never):
    // glu's float forward 8.4 -> 12.3 e/ns (16Ki, rows of 1024; both
    // measured alternating with the previous library).
    std::vector<NodeId> scaled_args;
    if (!backward) {
      em.plan_scaled_products(sink_roots);
      scaled_args = em.scaled_exp_arguments();
    }
    {
      // Sums that count the maxima apart (reductions) take each maximum's
      // exp(0) as exactly 1. In float kernels (log_softmax's S) the
      // others' sum is divided by the shifted exp's factor (the exp at the
      // max): normalized. Double ones compensate with terms no larger than
      // 1: their exps keep the exact max. A float backward whose forward
      // takes log S (log_softmax's: dx = dy - (e / S) sum(dy)) neither
      // counts nor shifts: its exps keep the exact max (shifted, 26 -> 58
      // of 400,000 values over 8 ULP and 1e-7), and S is only divided by
      // (the count, ~7 instructions a register, is for log1p(S - 1)).
      std::unordered_set<NodeId> exact, normalized;
      for (NodeId id : p.graph.reachable(sink_roots)) {
        if (counts_maxima(id)) {
          if (kb.elem->isDoubleTy()) exact.insert(p.graph[id].args[0]);
          else normalized.insert(id);
        } else if (p.graph[id].op == Op::Sum && logged_by_program(id) &&
                   ir::exp_minus_row_max(p.graph, p.graph[id].args[0]).v != ir::kNoNode) {
          exact.insert(p.graph[id].args[0]);
        }
      }
      em.plan_shifted_exps(sink_roots, exact, normalized);
    }
    const uint64_t od = p.row.out_divisor;
    llvm::Value* out_len = od == 0 ? b.getInt64(1) : length(b, cols, od);
    llvm::Value* out_stride = backward ? cols : out_len;  // elements per row of the written array

    // for (r = 0; r < rows; ++r)
    llvm::BasicBlock* entry = b.GetInsertBlock();
    auto* body_bb = llvm::BasicBlock::Create(ctx, "row", f);
    auto* done_bb = llvm::BasicBlock::Create(ctx, "rows.done", f);
    b.CreateCondBr(b.CreateICmpUGT(rows, b.getInt64(0)), body_bb, done_bb);
    b.SetInsertPoint(body_bb);
    llvm::PHINode* r = b.CreatePHI(b.getInt64Ty(), 2, "r");
    r->addIncoming(b.getInt64(0), entry);
    RowState st;
    st.cols = cols;
    st.x = b.CreateInBoundsGEP(kb.elem, x, b.CreateMul(r, cols));
    if (backward) {
      st.dy = b.CreateInBoundsGEP(kb.elem, dy, b.CreateMul(r, out_len));
      st.dx = b.CreateInBoundsGEP(kb.elem, out, b.CreateMul(r, out_stride));
      if (!partition) {
        llvm::Value* bytes = b.CreateMul(cols, b.getInt64(kb.elem->getPrimitiveSizeInBits() / 8));
        b.CreateMemSet(st.dx, b.getInt8(0), bytes, llvm::MaybeAlign(kb.elem->getPrimitiveSizeInBits() / 8));
      }
    } else {
      st.y = b.CreateInBoundsGEP(kb.elem, out, b.CreateMul(r, out_stride));
    }
    st.stored = row_stored_operand(p, backward);
    st.stored_to = backward ? st.dx : st.y;

    if (backward && od == 0) {
      // A one-value output: dy is a row scalar.
      llvm::Value* d = b.CreateAlignedLoad(kb.elem, st.dy, llvm::Align(kb.elem->getPrimitiveSizeInBits() / 8));
      for (NodeId id : p.graph.reachable(sink_roots))
        if (p.graph[id].op == Op::Cotangent) st.known[id] = b.CreateVectorSplat(kb.lanes, d);
    }
    ir::Shapes shapes(p.graph);
    for (unsigned dep = 0; dep <= rd.max_depth && !reds.empty(); ++dep) {
      std::map<uint64_t, std::vector<NodeId>> by_length;
      for (NodeId id : reds)
        if (rd.depth.at(id) == dep) by_length[uint64_t(p.graph[id].value)].push_back(id);
      for (auto& [d, group] : by_length) reductions(b, f, em, st, group, d);
    }
    row_scalars(b, em, st, sink_roots);

    // Row-scalar sinks: a one-value output, parameter gradients.
    std::map<uint64_t, std::vector<size_t>> loops;  // sinks by the length of what they write
    for (size_t k = 0; k < sinks.size(); ++k) {
      const Sink& s = sinks[k];
      if (s.kind == SinkKind::Param) {
        llvm::Value* v = em.emit({s.e}, [&](NodeId id) { return st.known.at(id); }, &st.known)[0];
        llvm::Value* lane0 = b.CreateExtractElement(v, uint64_t(0));
        if (!kb.elem->isDoubleTy()) lane0 = b.CreateFPExt(lane0, b.getDoubleTy());
        b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), pacc[s.param]), lane0), pacc[s.param]);
      } else if (s.kind == SinkKind::StoreY && od == 0) {
        llvm::Value* v = em.emit({s.e}, [&](NodeId id) { return st.known.at(id); }, &st.known)[0];
        b.CreateAlignedStore(b.CreateExtractElement(v, uint64_t(0)), st.y,
                             llvm::Align(kb.elem->getPrimitiveSizeInBits() / 8));
      } else {
        uint64_t d = s.kind == SinkKind::StoreY ? od : s.view.divisor();
        loops[d].push_back(k);
      }
    }
    // Streaming stores (Program::streaming_stores) for what is written
    // whole and not read back (no stored operand): the full vectors of y,
    // and of dx where its view is the row itself, from the row's first
    // register-aligned address on (a masked head before it).
    const bool streaming = kb.nontemporal && st.stored == ir::kNoNode;
    const uint64_t register_bytes = kb.register_bits / 8;  // the alignment of streaming stores
    // The elements before the written row's first register-aligned address
    // go as a masked head vector (fewer than a register's lanes; the row's
    // base is element-aligned: the runtime's). Without streaming stores
    // too, for light loops (kAlignedRowBodyMax) on rows of kAlignedRowMin
    // bytes or more.
    const uint64_t es = kb.elem->getPrimitiveSizeInBits() / 8;
    llvm::Value* at = b.CreatePtrToInt(backward ? st.dx : st.y, b.getInt64Ty());
    llvm::Value* low = b.getInt64(register_bytes - 1);
    llvm::Value* head = b.CreateUDiv(b.CreateAnd(b.CreateSub(b.getInt64(register_bytes), b.CreateAnd(at, low)), low),
                                     b.getInt64(es));
    for (auto& [d, members] : loops) {
      std::vector<NodeId> roots;
      for (size_t k : members) roots.push_back(sinks[k].e);
      llvm::Value* n = length(b, cols, d);
      llvm::Value* h = streaming ? head : nullptr;
      if (!streaming && body_cost(p.graph, roots) < kAlignedRowBodyMax && !grouped(roots, sinks, members))
        h = b.CreateSelect(b.CreateICmpUGE(n, b.getInt64(kAlignedRowMin / es)), head, b.getInt64(0));
      kb.loop(b, f, n, [&](llvm::Value* i, llvm::Value* mask) {
        std::unordered_map<NodeId, llvm::Value*> known = st.known;
        if (st.stored != ir::kNoNode) known[st.stored] = kb.load(b, st.stored_to, i, mask);
        std::vector<llvm::Value*> v = scaled_args.empty() ? em.emit(roots, element_leaf(b, st, i, mask), &known)
                                                          : emit_scaled_when_tiny(b, f, em, roots, scaled_args,
                                                                                  element_leaf(b, st, i, mask), known);
        // Every value is computed before anything is stored (dx may alias dy).
        std::vector<bool> stored(members.size(), false);
        if (!mask) store_groups_whole(b, st.dx, cols, i, sinks, members, v, stored);
        for (size_t k = 0; k < members.size(); ++k) {
          if (stored[k]) continue;
          const Sink& s = sinks[members[k]];
          llvm::Value* val = v[k];
          if (shapes.of(s.e) == ir::kScalar && !llvm::isa<llvm::VectorType>(val->getType()))
            val = b.CreateVectorSplat(kb.lanes, val);
          const bool whole = s.kind == SinkKind::StoreY || (s.view.identity() && s.view.offset == 0);
          if (streaming && !mask && whole && s.kind != SinkKind::AddDx) {
            kb.streaming_store(b, val, b.CreateInBoundsGEP(kb.elem, s.kind == SinkKind::StoreY ? st.y : st.dx, i));
            continue;
          }
          switch (s.kind) {
            case SinkKind::StoreY: kb.store(b, val, st.y, i, mask); break;
            case SinkKind::StoreDx: store_view(b, val, st.dx, cols, s.view, i, mask); break;
            case SinkKind::AddDx: {
              llvm::Value* old = load_view(b, st.dx, cols, s.view, i, mask);
              store_view(b, b.CreateFAdd(old, val), st.dx, cols, s.view, i, mask);
              break;
            }
            case SinkKind::Param: break;
          }
        }
      }, h);
    }
    llvm::Value* next = b.CreateAdd(r, b.getInt64(1), "r.next", true, true);
    r->addIncoming(next, b.GetInsertBlock());
    b.CreateCondBr(b.CreateICmpULT(next, rows), body_bb, done_bb);

    b.SetInsertPoint(done_bb);
    kb.fence_streaming_stores(b);
    if (!pacc.empty()) {
      auto* store_bb = llvm::BasicBlock::Create(ctx, "dparams", f);
      auto* ret_bb = llvm::BasicBlock::Create(ctx, "ret", f);
      b.CreateCondBr(b.CreateIsNotNull(dparams), store_bb, ret_bb);
      b.SetInsertPoint(store_bb);
      for (size_t j = 0; j < pacc.size(); ++j)
        b.CreateAlignedStore(b.CreateLoad(b.getDoubleTy(), pacc[j]),
                             b.CreateConstInBoundsGEP1_64(b.getDoubleTy(), dparams, j), llvm::Align(8));
      b.CreateBr(ret_bb);
      b.SetInsertPoint(ret_bb);
    }
    b.CreateRetVoid();
  }
};

/// About the instructions one register of `roots`' elementwise part takes
/// (ir::instruction_weight of each node).
/// About the instructions exp's correction for a computed argument adds
/// (Emitter::rounding_error): three per rounding operation of the argument
/// (each counted once); 0 where the emitter does not correct it (some other
/// operation on the way).
unsigned correction_cost(const ir::Graph& g, NodeId arg) {
  std::unordered_set<NodeId> seen;
  std::vector<NodeId> todo{arg};
  unsigned cost = 0;
  while (!todo.empty()) {
    NodeId id = todo.back();
    todo.pop_back();
    if (!seen.insert(id).second) continue;
    const ir::Node& n = g[id];
    switch (n.op) {
      case Op::Input: case Op::Cotangent: case Op::Const: case Op::Param: break;
      case Op::Neg: case Op::Abs: case Op::StopGrad: todo.push_back(n.args[0]); break;
      case Op::Where: todo.push_back(n.args[1]), todo.push_back(n.args[2]); break;
      case Op::Add: case Op::Sub: case Op::Mul: case Op::Div: case Op::Pow:
        cost += 3;
        todo.insert(todo.end(), n.args.begin(), n.args.begin() + n.arity);
        break;
      default: return 0;
    }
  }
  return cost;
}

unsigned body_cost(const ir::Graph& g, const std::vector<NodeId>& roots) {
  unsigned cost = 0;
  for (NodeId id : ir::reachable_elementwise(g, roots)) {
    cost += ir::instruction_weight(g[id].op);
    if (g[id].op == Op::Exp) cost += correction_cost(g, g[id].args[0]);
  }
  return cost;
}

/// Registers per iteration of an elementwise body (see kForwardInterleave).
unsigned body_registers(const ir::Graph& g, const std::vector<NodeId>& roots, const InterleaveBars& bars,
                        bool is_double, unsigned vector_bits) {
  unsigned cost = body_cost(g, roots);
  if (cost < bars.two) {
    if (!bars.root_two) return 1;
    for (NodeId id : ir::reachable_elementwise(g, roots))
      if (g[id].op == Op::Sqrt) return 2;
    return 1;
  }
  if (cost < bars.four || vector_bits < 512 || (cost >= kCompileCapFrom && cost < kCompileCapTo)) return 2;
  for (NodeId id : ir::reachable_elementwise(g, roots))
    if (calls_out_of_line(g[id].op, is_double)) return 2;
  return 4;
}

}  // namespace

NodeId row_stored_operand(const Program& p, bool backward) {
  if (!p.row.rowwise) return ir::kNoNode;
  const ir::Graph& g = p.graph;
  auto plain = [](ir::View v) { return v.identity() && v.index == 0 && v.offset == 0; };
  // One output loop over the whole row, stored (not accumulated).
  NodeId out = ir::kNoNode;
  if (!backward && p.row.out_divisor == 1) out = p.value;
  if (backward && p.row.dx.size() == 1 && plain(p.row.dx[0].first) && p.row.dparams.empty()) out = p.row.dx[0].second;
  if (out == ir::kNoNode) return ir::kNoNode;
  std::vector<NodeId> roots{out};
  for (NodeId id : g.reachable(roots))
    if (g[id].op == Op::Input && !plain(ir::View::decode(g[id].value))) return ir::kNoNode;
  // The last pass: the reductions of the greatest depth, all over the row.
  const ReductionDepths rd(g, roots);
  if (rd.reds.empty()) return ir::kNoNode;
  NodeId stored = ir::kNoNode;
  ir::Shapes shapes(g);
  for (NodeId r : rd.reds) {
    if (rd.depth.at(r) != rd.max_depth) continue;
    if (g[r].value != 1) return ir::kNoNode;
    NodeId body = g[r].args[0];
    if (stored == ir::kNoNode && g[r].op == Op::Sum && shapes.of(body) != ir::kScalar && g[body].op == Op::Exp)
      stored = body;
  }
  if (stored == ir::kNoNode) return ir::kNoNode;
  // The output loop, given the stored operand: it must use it and read no x.
  bool uses = false;
  for (NodeId id : ir::reachable_elementwise(g, roots, [&](NodeId n) { return n == stored; })) {
    if (g[id].op == Op::Input) return ir::kNoNode;
    uses |= id == stored;
  }
  return uses ? stored : ir::kNoNode;
}

bool streaming_stores_pay(const Program& p, Part part, std::string_view cpu) {
  if (p.row.rowwise) return true;
  bool forward = part == Part::Forward;
  NodeId root = forward ? p.value : p.d_x;
  if (root == ir::kNoNode) return false;
  if (!amd_zen(cpu)) return true;
  return body_cost(p.graph, {root}) < (forward ? kStreamingForwardBar : kStreamingBackwardBar);
}

bool reports_lanes(const Program& p, Part part) {
  if (p.row.rowwise || p.value == ir::kNoNode) return false;
  const ir::Graph& g = p.graph;
  const std::array value{p.value};
  if (part == Part::Forward) {
    // KernelBuilder::forward's watches: the sigmoid quotient's operand,
    // NaN, the underflow sources, and inner quotients' operands (Emitter::
    // plan_sigmoid_quotients, taken here as any sigmoid form).
    if (sigmoid_quotient(p) || ir::may_lose_nan(g, value) || !ir::underflow_sources(g, value).empty()) return true;
    for (NodeId id : g.reachable(value))
      if (ir::sigmoid_form(g, id)) return true;
    return false;
  }
  if (part == Part::Fused)  // KernelBuilder::fused's: NaN of either root, y's underflow
    return ir::may_lose_nan(g, std::array{p.value, p.d_x}) || !ir::underflow_sources(g, value).empty();
  // KernelBuilder::backward's, with or without the parameters' gradients:
  // NaN, or the slope's sigmoid quotient.
  std::vector<NodeId> roots{p.d_x};
  roots.insert(roots.end(), p.d_params.begin(), p.d_params.end());
  return ir::may_lose_nan(g, roots) || ir::guarded_sigmoid(g, p.d_x).has_value();
}

bool zero_params_need_look(const Program& p) {
  if (p.row.rowwise || p.function.params.empty()) return false;
  std::vector<NodeId> roots = p.all_roots();
  return ir::may_lose_nan(p.graph, roots, false) && !ir::may_lose_nan(p.graph, roots, true);
}

bool narrow_forward_pays(const Program& p, std::string_view cpu) {
  if (p.row.rowwise || p.value == ir::kNoNode || streaming_stores_pay(p, Part::Forward, cpu)) return false;
  unsigned cost = body_cost(p.graph, {p.value});
  return cost >= kForwardInterleave.two && cost < kNarrowForwardBelow;
}

size_t wide_row_length(const Program& p) {
  if (!p.row.rowwise) return 0;
  if (row_stored_operand(p, false) != ir::kNoNode) return 256;
  for (NodeId id : p.graph.reachable(p.all_roots()))
    if (p.graph[id].op == Op::Sum && p.graph[p.graph[id].args[0]].op == Op::Exp) return 4096;
  return 0;
}

KernelSymbols kernel_symbols(const Program& p, const std::string& prefix) {
  KernelSymbols names{prefix + "_forward", prefix + "_backward", prefix + "_backward_x", prefix + "_fused"};
  // Row-wise backward kernels take a null dparams; without parameters the
  // backward with dparams = null serves.
  if (p.row.rowwise || p.d_params.empty()) names.backward_x.clear();
  if (p.row.rowwise) names.fused.clear();
  return names;
}

namespace {

/// Abi::Aot's float32 entry points (`names`) over the status kernels
/// (`kernels`, made internal here) and the float64 kernels (`wide`): each
/// calls the support object's actjit_aot1_forward or actjit_aot1_backward
/// (compiler/aot/support.cpp, whose declarations these mirror).
void emit_aot_entry_points(const Program& p, llvm::Module& m, const KernelSymbols& names, const KernelSymbols& kernels,
                           const KernelSymbols& wide) {
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  llvm::Type* i32 = llvm::Type::getInt32Ty(ctx);
  llvm::Type* void_ty = llvm::Type::getVoidTy(ctx);
  // actjit_aot1_info: the parameter count and the flags support.cpp reads.
  uint32_t flags = zero_params_need_look(p) ? 1 : 0;
  if (reports_lanes(p, Part::Forward)) flags |= 2;
  if (reports_lanes(p, Part::Backward)) flags |= 4;
  auto* info_ty = llvm::StructType::get(ctx, {i32, i32});
  auto* info = new llvm::GlobalVariable(
      m, info_ty, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantStruct::get(
          info_ty, {llvm::ConstantInt::get(i32, p.function.params.size()), llvm::ConstantInt::get(i32, flags)}),
      names.forward + "_info");
  auto function = [&](const std::string& name) -> llvm::Constant* {
    if (name.empty()) return llvm::ConstantPointerNull::get(llvm::PointerType::getUnqual(ctx));
    if (llvm::Function* f = m.getFunction(name); f && !f->isDeclaration()) {
      f->setLinkage(llvm::GlobalValue::InternalLinkage);  // a status kernel: called through its entry point only
      return f;
    }
    // a float64 kernel, from another member of the archive
    return llvm::cast<llvm::Constant>(
        m.getOrInsertFunction(name, llvm::FunctionType::get(void_ty, {}, false)).getCallee());
  };
  // `args` pointers, n (an i64) at `n_at`, maybe a null dparams added for
  // the support call.
  auto entry = [&](const std::string& name, unsigned args, unsigned n_at, const char* callee,
                   std::vector<llvm::Constant*> fns, bool null_dparams) {
    if (name.empty()) return;
    std::vector<llvm::Type*> types(args, ptr);
    types[n_at] = i64;
    auto* f = llvm::Function::Create(llvm::FunctionType::get(void_ty, types, false), llvm::Function::ExternalLinkage,
                                     name, m);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    std::vector<llvm::Value*> call_args(fns.begin(), fns.end());
    std::vector<llvm::Type*> call_types(fns.size(), ptr);
    for (llvm::Argument& a : f->args()) {
      call_args.push_back(&a);
      call_types.push_back(a.getType());
    }
    if (null_dparams) {
      call_args.push_back(llvm::ConstantPointerNull::get(llvm::PointerType::getUnqual(ctx)));
      call_types.push_back(ptr);
    }
    call_args.push_back(info);
    call_types.push_back(ptr);
    b.CreateCall(m.getOrInsertFunction(callee, llvm::FunctionType::get(void_ty, call_types, false)), call_args);
    b.CreateRetVoid();
  };
  auto none = std::string();
  // forward(x, y, n, params); backward(x, dy, dx, n, params, dparams); backward_x(x, dy, dx, n, params)
  entry(names.forward, 4, 2, "actjit_aot1_forward", {function(kernels.forward), function(wide.forward)}, false);
  entry(names.backward, 6, 3, "actjit_aot1_backward",
        {function(kernels.backward), function(none), function(wide.backward), function(wide.backward_x)}, false);
  entry(names.backward_x, 5, 3, "actjit_aot1_backward",
        {function(none), function(kernels.backward_x), function(wide.backward), function(wide.backward_x)}, true);
}

}  // namespace

KernelSymbols emit_kernels(const Program& p, DType dtype, unsigned vector_bits, const std::string& cpu,
                           const std::string& features, const std::string& prefix, llvm::Module& m, Part part, Abi abi,
                           const std::string& wide_prefix) {
  if (abi == Abi::Aot && dtype == DType::F32 && !wide_prefix.empty() && !p.row.rowwise) {
    KernelSymbols kernels = emit_kernels(p, dtype, vector_bits, cpu, features, prefix + "_kernel", m, part, Abi::Jit);
    KernelSymbols names = kernel_symbols(p, prefix);
    if (kernels.forward.empty()) names.forward.clear();
    if (kernels.backward.empty()) names.backward.clear();
    if (kernels.backward_x.empty()) names.backward_x.clear();
    names.fused.clear();
    emit_aot_entry_points(p, m, names, kernels, kernel_symbols(p, wide_prefix));
    return names;
  }
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* elem = dtype == DType::F64 ? llvm::Type::getDoubleTy(ctx) : llvm::Type::getFloatTy(ctx);
  // Bodies that cost enough are two or four registers wide
  // (kForwardInterleave): each operation becomes two or four independent
  // instructions side by side, so the long dependency chains of the math
  // (exp, a division, a polynomial) of neighbouring registers overlap
  // within the scheduler's window (two: in cache +5-20% here; four over
  // two, float32 at 16Ki: telu's and x*tanh(exp(x))'s backwards +23-29%,
  // gelu's +7%, softplus's forward +12%). Cheap bodies gain nothing, and
  // out of cache, where a forward runs at the memory's speed, two
  // registers per iteration ran 14-21% slower on this machine (Zen 5; elu,
  // tanh, silu, mish forwards at 64Mi elements) while heavier forwards ran
  // 3-15% faster: the forwards between the bars take a build one register
  // wide for large outputs (narrow_forward_pays, Program::narrow_forward).
  unsigned register_lanes = vector_bits / (dtype == DType::F64 ? 64 : 32);
  auto builder = [&](const std::vector<NodeId>& roots, const InterleaveBars& bars, bool narrow = false) {
    unsigned registers = p.row.rowwise ? (p.row.wide ? kRowInterleave : 1)
                         : narrow      ? 1
                                       : body_registers(p.graph, roots, bars, dtype == DType::F64, vector_bits);
    unsigned lanes = register_lanes * registers;
    KernelBuilder kb{p, m, ctx, elem, llvm::FixedVectorType::get(elem, lanes), lanes, cpu, features, vector_bits};
    kb.status = abi == Abi::Jit;
    kb.nontemporal = p.streaming_stores;
    kb.prefetch = kb.nontemporal && !roots.empty() && body_cost(p.graph, roots) >= kStreamingForwardBar;
    return kb;
  };
  KernelSymbols names = kernel_symbols(p, prefix);
  if (part != Part::All && part != Part::Forward) names.forward.clear();
  if (part != Part::All && part != Part::Backward) names.backward.clear();
  if (part != Part::All && part != Part::BackwardX) names.backward_x.clear();
  if (part != Part::Fused) names.fused.clear();
  if (p.row.rowwise) {
    KernelBuilder kb = builder({}, kForwardInterleave);
    RowKernels rk{kb, p, ctx, {}, {}};
    if (!names.forward.empty()) rk.build(names.forward, false);
    if (!names.backward.empty()) rk.build(names.backward, true);
    return names;
  }
  if (!names.forward.empty()) builder({p.value}, kForwardInterleave, p.narrow_forward).forward(names.forward);
  if (!names.backward.empty()) builder({p.d_x}, kBackwardInterleave).backward(names.backward, true);
  if (!names.backward_x.empty()) builder({p.d_x}, kBackwardInterleave).backward(names.backward_x, false);
  if (!names.fused.empty()) builder({p.value, p.d_x}, kBackwardInterleave).fused(names.fused);
  return names;
}

}  // namespace actjit::lower
