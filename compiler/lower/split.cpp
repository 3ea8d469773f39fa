#include "compiler/lower/split.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace actjit::lower {

namespace {

/// Vectors a block of the split loops holds (each of the body's width).
constexpr unsigned kSplitBlock = 8;
/// Bodies whose longest path (cycles, by latency() below) is shorter are
/// left whole: split, gelu's float backward (60) and the double backwards
/// of softplus (73) and logsigmoid (68) ran 6-9% slower.
constexpr double kMinPath = 76;
/// A body may buffer one register per register of the body for each
/// kPathPerBuffered cycles of its longest path (one below 110, two from
/// there): telu's float backward (path 111, two) +15%, x tanh(exp(x))'s
/// double forward (138, two) +9%; selu's double kernels (76) with two
/// 3-5% slower.
constexpr double kPathPerBuffered = 55;
/// The cut is taken where the fewest values cross it, within this
/// fraction of the longest path on either side of its middle.
constexpr double kCutSlack = 0.2;
/// Cuts tried at most (evenly spaced over the slack's start times), and
/// the crossing values past which no buffer is searched for that lets
/// others be computed again; bodies of more instructions stay whole (the
/// search's time: a sum of 24 x tanh(exp(k x)) took 5.7 s to compile with
/// neither bound, 0.2 s whole).
constexpr size_t kMaxCuts = 16, kMaxCrossing = 24, kMaxWork = 3000;

/// Latency in cycles of one instruction, roughly as on Zen 4 and 5 (only
/// the shape of the longest path matters). Loads count 0: the inputs are
/// there at the start. Shuffles, bitcasts and address arithmetic count 0
/// (register naming or integer work off the vector pipes).
double latency(const llvm::Instruction& i) {
  using llvm::Instruction;
  if (llvm::isa<llvm::PHINode, llvm::GetElementPtrInst, llvm::ShuffleVectorInst, llvm::BitCastInst,
                llvm::ExtractElementInst, llvm::InsertElementInst, llvm::LoadInst>(i))
    return 0;
  if (const auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(&i)) {
    switch (call->getIntrinsicID()) {
      case llvm::Intrinsic::fma:
      case llvm::Intrinsic::fmuladd:
        return 4;
      case llvm::Intrinsic::sqrt:
        return 14;
      case llvm::Intrinsic::fabs:
      case llvm::Intrinsic::copysign:
        return 1;
      case llvm::Intrinsic::minnum:
      case llvm::Intrinsic::maxnum:
      case llvm::Intrinsic::minimum:
      case llvm::Intrinsic::maximum:
        return 2;
      case llvm::Intrinsic::x86_avx512_mask_scalef_ps_512:
      case llvm::Intrinsic::x86_avx512_mask_scalef_pd_512:
        return 4;
      default:
        return 3;
    }
  }
  switch (i.getOpcode()) {
    case Instruction::FAdd:
    case Instruction::FSub:
    case Instruction::FMul:
      return 3;
    case Instruction::FDiv:
      return 12;
    case Instruction::FCmp:
      return 2;
    default:
      return 1;
  }
}

/// Values a second loop can compute again from the loop's index instead
/// of reading them from the buffer: loads, addresses, integer index
/// arithmetic and the shuffles that join loaded registers.
bool recomputable(const llvm::Value* v, const llvm::BasicBlock* body, const llvm::PHINode* at,
                  std::unordered_map<const llvm::Value*, bool>& memo) {
  const auto* inst = llvm::dyn_cast<llvm::Instruction>(v);
  if (!inst || inst->getParent() != body || inst == at) return true;
  if (auto it = memo.find(v); it != memo.end()) return it->second;
  bool ok = false;
  if (llvm::isa<llvm::LoadInst, llvm::GetElementPtrInst, llvm::ShuffleVectorInst, llvm::BitCastInst>(inst) ||
      (llvm::isa<llvm::BinaryOperator>(inst) && inst->getType()->isIntegerTy(64))) {
    ok = true;
    for (const llvm::Value* op : inst->operands()) ok = ok && recomputable(op, body, at, memo);
  }
  memo[v] = ok;
  return ok;
}

/// The element type of the body's first vector load (the kernel's T).
llvm::Type* element_type(const llvm::BasicBlock& body) {
  for (const llvm::Instruction& inst : body)
    if (const auto* load = llvm::dyn_cast<llvm::LoadInst>(&inst); load && load->getType()->isVectorTy())
      return llvm::cast<llvm::VectorType>(load->getType())->getElementType();
  return llvm::Type::getFloatTy(body.getContext());
}

/// The loop stream() emits, after the optimizer: `body` with the index
/// `at` among its phis, ending in br is.tail, tail.out, latch; the latch
/// `next = at + lanes`, br next < full, body, after.
struct StreamLoop {
  llvm::BasicBlock* body = nullptr;
  llvm::PHINode* at = nullptr;
  llvm::BasicBlock* latch = nullptr;
  llvm::BinaryOperator* next = nullptr;
  llvm::Value* full = nullptr;
  llvm::Value* is_tail = nullptr;
  uint64_t lanes = 0;
  /// Values carried across iterations besides the index (the float
  /// kernels' lane watches: an or or a minimum a vector): phi and update.
  std::vector<std::pair<llvm::PHINode*, llvm::Instruction*>> carried;
};

bool match_stream_loop(llvm::Function& f, StreamLoop& s) {
  for (llvm::BasicBlock& block : f)
    if (block.getName() == "vector.body") s.body = &block;
  if (!s.body) return false;
  llvm::BasicBlock* body = s.body;
  auto* br = llvm::dyn_cast<llvm::BranchInst>(body->getTerminator());
  if (!br || !br->isConditional()) return false;
  s.is_tail = br->getCondition();
  s.latch = br->getSuccessor(1);
  if (s.latch->getSinglePredecessor() != body || s.latch->size() != 3) return false;
  auto* next = llvm::dyn_cast<llvm::BinaryOperator>(&s.latch->front());
  if (!next || next->getOpcode() != llvm::Instruction::Add) return false;
  s.at = llvm::dyn_cast<llvm::PHINode>(next->getOperand(0));
  if (!s.at || s.at->getParent() != body || s.at->getNumIncomingValues() != 2 || !s.at->getType()->isIntegerTy(64) ||
      s.at->getIncomingValueForBlock(s.latch) != next)
    return false;
  auto* step = llvm::dyn_cast<llvm::ConstantInt>(next->getOperand(1));
  auto* cmp = llvm::dyn_cast<llvm::ICmpInst>(next->getNextNode());
  if (!step || !cmp || cmp->getPredicate() != llvm::ICmpInst::ICMP_ULT || cmp->getOperand(0) != next) return false;
  auto* back = llvm::dyn_cast<llvm::BranchInst>(s.latch->getTerminator());
  if (!back || !back->isConditional() || back->getSuccessor(0) != body) return false;
  s.next = next;
  s.full = cmp->getOperand(1);
  s.lanes = step->getZExtValue();
  // Other phis: values carried across iterations, updated in the body and
  // read only there (the update may be read after the loop).
  std::unordered_set<const llvm::Value*> outside_ok{s.at};
  for (llvm::PHINode& phi : body->phis()) {
    if (&phi == s.at) continue;
    if (phi.getNumIncomingValues() != 2) return false;
    auto* update = llvm::dyn_cast<llvm::Instruction>(phi.getIncomingValueForBlock(s.latch));
    if (!update || update->getParent() != body || llvm::isa<llvm::PHINode>(update)) return false;
    for (const llvm::User* u : phi.users())
      if (llvm::cast<llvm::Instruction>(u)->getParent() != body) return false;
    s.carried.emplace_back(&phi, update);
    outside_ok.insert(update);
  }
  // Nothing outside the body may use its other values (stream()'s tail
  // reads its outputs from the buffers in memory).
  for (llvm::Instruction& inst : *body)
    for (const llvm::User* u : inst.users())
      if (!outside_ok.count(&inst) && llvm::cast<llvm::Instruction>(u)->getParent() != body) return false;
  return true;
}

void split(llvm::Function& f, StreamLoop& s) {
  llvm::BasicBlock* body = s.body;
  std::vector<llvm::Instruction*> work;  // the body but its phis and branch
  for (llvm::Instruction& inst : *body)
    if (!llvm::isa<llvm::PHINode>(inst) && &inst != body->getTerminator()) work.push_back(&inst);

  // Start and finish times on the longest path.
  std::unordered_map<const llvm::Instruction*, double> start, finish;
  double path = 0;
  for (llvm::Instruction* inst : work) {
    double t = 0;
    for (const llvm::Value* op : inst->operands())
      if (const auto* o = llvm::dyn_cast<llvm::Instruction>(op);
          o && o->getParent() == body && !llvm::isa<llvm::PHINode>(o))
        t = std::max(t, finish[o]);
    start[inst] = t;
    finish[inst] = t + latency(*inst);
    path = std::max(path, finish[inst]);
  }
  if (path < kMinPath || work.size() > kMaxWork) return;

  // The cut: second half from start time `cut` on (stores always second).
  // Fewest crossing values within the slack of the middle, then nearest it.
  std::unordered_map<const llvm::Value*, bool> memo;
  // (Phis and instructions outside the body are in neither half: the
  // carried values' uses are decided below, and uses after the loop see
  // whatever half defines the value.)
  auto second = [&](const llvm::Instruction* inst, double cut) {
    if (llvm::isa<llvm::PHINode>(inst) || inst->getParent() != body) return false;
    const auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(inst);
    bool prefetch = call && call->getIntrinsicID() == llvm::Intrinsic::prefetch;
    return (inst->mayWriteToMemory() && !prefetch) || start.at(inst) >= cut;
  };
  // The values the second loop reads from the first: buffered (a store
  // and a load a register each) or, where cheap and every first-loop
  // operand of theirs is at hand there (buffered or itself computed
  // again), computed again from those (a product from its buffered
  // factors). Greedy: crossing values whose operands are at hand are
  // computed again; then a value that does not cross is buffered where
  // that leaves fewer registers to buffer, while one does.
  struct Cut {
    std::vector<llvm::Instruction*> buffered;
    size_t registers = 0;
  };
  auto cheap = [&](const llvm::Instruction* inst) {
    return latency(*inst) <= 4 && !inst->mayReadOrWriteMemory() && !llvm::isa<llvm::PHINode>(inst);
  };
  auto registers = [](const llvm::Value* v) {
    uint64_t bits = v->getType()->getPrimitiveSizeInBits().getFixedValue();
    return size_t(std::max<uint64_t>(1, (bits + 511) / 512));
  };
  auto plan = [&](double cut) {
    auto first_value = [&](const llvm::Value* v) -> const llvm::Instruction* {
      const auto* inst = llvm::dyn_cast<llvm::Instruction>(v);
      if (!inst || inst->getParent() != body || llvm::isa<llvm::PHINode>(inst) || second(inst, cut) ||
          recomputable(inst, body, s.at, memo))
        return nullptr;
      return inst;
    };
    std::unordered_set<const llvm::Instruction*> crossing, again;
    for (llvm::Instruction* inst : work) {
      if (!first_value(inst)) continue;
      for (const llvm::User* u : inst->users())
        if (second(llvm::cast<llvm::Instruction>(u), cut)) crossing.insert(inst);
    }
    // Moves crossing values whose operands are at hand to `a`: one pass in
    // program order (operands come first) is the fixed point.
    auto settle = [&](std::unordered_set<const llvm::Instruction*>& c,
                      std::unordered_set<const llvm::Instruction*>& a) {
      for (llvm::Instruction* inst : work) {
        if (!c.count(inst) || !cheap(inst)) continue;
        bool at_hand = true;
        for (const llvm::Value* op : inst->operands())
          if (const auto* o = first_value(op)) at_hand = at_hand && (c.count(o) || a.count(o));
        if (!at_hand) continue;
        c.erase(inst);
        a.insert(inst);
      }
    };
    settle(crossing, again);
    // (Not where the cut is far past what a split may buffer: the search
    // costs a pass over the body per operand tried.)
    for (bool improved = crossing.size() <= kMaxCrossing; improved;) {
      improved = false;
      size_t before = 0;
      for (const auto* v : crossing) before += registers(v);
      const llvm::Instruction* pick = nullptr;
      size_t best_after = before;
      std::unordered_set<const llvm::Instruction*> seen;
      for (const auto* v : crossing)
        for (const llvm::Value* op : v->operands()) {
          const auto* o = first_value(op);
          if (!o || crossing.count(o) || again.count(o) || !seen.insert(o).second) continue;
          auto c = crossing;
          auto a = again;
          c.insert(o);
          settle(c, a);
          size_t after = 0;
          for (const auto* w : c) after += registers(w);
          if (after < best_after) best_after = after, pick = o;
        }
      if (pick) {
        crossing.insert(pick);
        settle(crossing, again);
        improved = true;
      }
    }
    Cut out;
    for (llvm::Instruction* inst : work)
      if (crossing.count(inst)) out.buffered.push_back(inst), out.registers += registers(inst);
    return out;
  };
  std::vector<double> candidates;
  for (llvm::Instruction* inst : work)
    if (std::abs(start[inst] - path / 2) <= kCutSlack * path) candidates.push_back(start[inst]);
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  if (candidates.empty()) return;
  if (candidates.size() > kMaxCuts) {  // evenly spaced ones, the middle's nearest kept
    std::vector<double> some;
    for (size_t k = 0; k < kMaxCuts; ++k) some.push_back(candidates[k * (candidates.size() - 1) / (kMaxCuts - 1)]);
    some.push_back(*std::min_element(candidates.begin(), candidates.end(), [&](double a, double b) {
      return std::abs(a - path / 2) < std::abs(b - path / 2);
    }));
    std::sort(some.begin(), some.end());
    some.erase(std::unique(some.begin(), some.end()), some.end());
    candidates = std::move(some);
  }
  double cut = candidates.front();
  size_t best = SIZE_MAX;
  for (double c : candidates) {
    size_t n = plan(c).registers;
    if (n < best || (n == best && std::abs(c - path / 2) < std::abs(cut - path / 2))) best = n, cut = c;
  }
  Cut chosen_cut = plan(cut);
  // Buffered registers within kPathPerBuffered's allowance: with more, the
  // stores and loads cost what the shorter paths gain (measured: gelu_tanh,
  // tanh, tanhshrink, celu with two to five a register were level or
  // slower).
  const uint64_t body_registers =
      std::max<uint64_t>(1, s.lanes * s.at->getModule()->getDataLayout().getTypeSizeInBits(element_type(*body)) / 512);
  if (chosen_cut.registers > body_registers * std::max(1.0, std::floor(path / kPathPerBuffered))) return;
  // A carried value lives in the half that updates it: every use of its phi there.
  std::vector<bool> carried_second;
  for (auto [phi, update] : s.carried) {
    bool in_second = second(update, cut);
    for (const llvm::User* u : phi->users())
      if (second(llvm::cast<llvm::Instruction>(u), cut) != in_second) return;
    carried_second.push_back(in_second);
  }
  const std::vector<llvm::Instruction*>& cut_values = chosen_cut.buffered;

  llvm::LLVMContext& ctx = f.getContext();
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  // One buffer of kSplitBlock slots per crossing value, in the entry block.
  std::unordered_map<const llvm::Instruction*, llvm::AllocaInst*> buffer;
  {
    llvm::IRBuilder<> eb(&f.getEntryBlock(), f.getEntryBlock().begin());
    for (llvm::Instruction* v : cut_values) {
      llvm::AllocaInst* a = eb.CreateAlloca(llvm::ArrayType::get(v->getType(), kSplitBlock));
      a->setAlignment(llvm::Align(64));
      buffer[v] = a;
    }
  }

  auto* first = llvm::BasicBlock::Create(ctx, "split.first", &f, s.latch);
  auto* rest = llvm::BasicBlock::Create(ctx, "split.second", &f, s.latch);
  auto* done = llvm::BasicBlock::Create(ctx, "split.done", &f, s.latch);

  // body: the block's count, min(kSplitBlock, vectors left), in elements.
  llvm::Instruction* old_branch = body->getTerminator();
  llvm::IRBuilder<> b(old_branch);
  const uint64_t block = kSplitBlock * s.lanes;
  llvm::Value* limit = b.CreateSelect(s.is_tail, llvm::ConstantInt::get(i64, s.lanes), s.full, "split.limit");
  llvm::Value* count = b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, b.CreateSub(limit, s.at),
                                               llvm::ConstantInt::get(i64, block), nullptr, "split.count");
  b.CreateBr(first);

  // Each loop: j from 0 in steps of lanes below count; index at + j, slot j / lanes.
  struct Loop {
    llvm::PHINode* j;
    llvm::Value* index;
    llvm::Value* slot;
  };
  // Each half's loop carries its carried values: a phi of the body's phi
  // (entering) and of the update (around); the body's phi takes the update
  // after the last round as before.
  std::unordered_map<const llvm::Value*, llvm::Value*> carried_in[2];
  auto open = [&](llvm::BasicBlock* bb, llvm::BasicBlock* from, const char* name) {
    b.SetInsertPoint(bb);
    llvm::PHINode* j = b.CreatePHI(i64, 2, name);
    j->addIncoming(llvm::ConstantInt::get(i64, 0), from);
    const bool second_half = bb != first;
    for (size_t c = 0; c < s.carried.size(); ++c) {
      if (carried_second[c] != second_half) continue;
      auto [phi, update] = s.carried[c];
      llvm::PHINode* q = b.CreatePHI(phi->getType(), 2, "split.carried");
      q->addIncoming(phi, from);
      q->addIncoming(update, bb);
      carried_in[second_half][phi] = q;
    }
    llvm::Value* index = b.CreateAdd(s.at, j, "split.index", true, true);
    llvm::Value* slot = b.CreateUDiv(j, llvm::ConstantInt::get(i64, s.lanes), "split.slot", true);
    return Loop{j, index, slot};
  };
  auto close = [&](llvm::BasicBlock* bb, const Loop& l, llvm::BasicBlock* after) {
    b.SetInsertPoint(bb);
    llvm::Value* next = b.CreateAdd(l.j, llvm::ConstantInt::get(i64, s.lanes), "split.next", true, true);
    l.j->addIncoming(next, bb);
    b.CreateCondBr(b.CreateICmpULT(next, count), bb, after);
  };
  auto slot_address = [&](llvm::AllocaInst* a, const Loop& l) {
    return b.CreateInBoundsGEP(a->getAllocatedType(), a, {llvm::ConstantInt::get(i64, 0), l.slot});
  };

  // First loop: the first half moved in order, the crossing values stored.
  Loop one = open(first, body, "split.j");
  const double chosen = cut;
  std::vector<llvm::Instruction*> later;
  for (llvm::Instruction* inst : work) {
    if (second(inst, chosen)) {
      later.push_back(inst);
      continue;
    }
    inst->moveBefore(*first, first->end());
    inst->replaceUsesOfWith(s.at, one.index);
    for (auto [phi, q] : carried_in[0]) inst->replaceUsesOfWith(const_cast<llvm::Value*>(phi), q);
  }
  b.SetInsertPoint(first);
  for (llvm::Instruction* v : cut_values) b.CreateAlignedStore(v, slot_address(buffer[v], one), llvm::Align(64));
  close(first, one, rest);

  // Second loop: the crossing values loaded, recomputable ones recomputed
  // (cloned from the first loop's with the second's index), the rest moved.
  Loop two = open(rest, first, "split.k");
  std::unordered_map<const llvm::Value*, llvm::Value*> here;  // first-loop value -> its value in the second
  here[one.index] = two.index;
  b.SetInsertPoint(rest);
  for (llvm::Instruction* v : cut_values)
    here[v] = b.CreateAlignedLoad(v->getType(), slot_address(buffer[v], two), llvm::Align(64));
  std::function<llvm::Value*(llvm::Value*)> value_in_second = [&](llvm::Value* v) -> llvm::Value* {
    auto* inst = llvm::dyn_cast<llvm::Instruction>(v);
    if (!inst || inst->getParent() != first) return v;
    if (auto it = here.find(v); it != here.end()) return it->second;
    llvm::Instruction* copy = inst->clone();
    for (unsigned k = 0; k < copy->getNumOperands(); ++k) copy->setOperand(k, value_in_second(copy->getOperand(k)));
    copy->insertInto(rest, rest->end());
    here[v] = copy;
    return copy;
  };
  for (llvm::Instruction* inst : later) {
    for (unsigned k = 0; k < inst->getNumOperands(); ++k) {
      llvm::Value* op = inst->getOperand(k);
      if (op == s.at)
        inst->setOperand(k, two.index);
      else if (auto c = carried_in[1].find(op); c != carried_in[1].end())
        inst->setOperand(k, c->second);
      else
        inst->setOperand(k, value_in_second(op));
    }
    inst->moveBefore(*rest, rest->end());
  }
  close(rest, two, done);

  // done: the index moves on by the block's count; the old branch on is.tail.
  b.SetInsertPoint(done);
  llvm::Value* moved = b.CreateAdd(s.at, count, "split.at", true, true);
  old_branch->moveBefore(*done, done->end());
  s.next->replaceAllUsesWith(moved);
  s.next->eraseFromParent();
  // The old branch's successors are entered from `done` now.
  for (llvm::BasicBlock* succ : {old_branch->getSuccessor(0), old_branch->getSuccessor(1)})
    for (llvm::PHINode& phi : succ->phis()) phi.replaceIncomingBlockWith(body, done);
}

}  // namespace

void split_long_bodies(llvm::Module& m) {
  // For measurements, the bodies whole (with ACTJIT_CACHE_DIR=off: the
  // object cache's key does not know this switch).
  if (std::getenv("ACTJIT_NO_SPLIT")) return;
  for (llvm::Function& f : m) {
    if (f.isDeclaration()) continue;
    StreamLoop s;
    if (match_stream_loop(f, s)) split(f, s);
  }
}

}  // namespace actjit::lower
