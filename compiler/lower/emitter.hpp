// The per-op emitter shared by the elementwise and row-wise kernels: turns
// the IR nodes reachable from some roots into <W x T> LLVM values. Leaves
// that depend on where the kernel is (the input's views, dy, reductions)
// come from a callback; values already computed (row scalars) from a map.
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include <llvm/IR/IRBuilder.h>

#include "compiler/ir/graph.hpp"

namespace actjit::lower {

class Emitter {
 public:
  using Leaf = std::function<llvm::Value*(ir::NodeId)>;
  Emitter(const ir::Graph& g, llvm::IRBuilder<>& b, llvm::Type* vec, std::vector<llvm::Value*> params)
      : g_(g), b_(b), vec_(vec), params_(std::move(params)) {}

  /// Values of `roots`. `leaf(id)` gives Input, Cotangent and reduction
  /// nodes; nodes in `known` are taken from there (their operands are not
  /// visited). Reduction operands are never visited.
  std::vector<llvm::Value*> emit(const std::vector<ir::NodeId>& roots, const Leaf& leaf,
                                 const std::unordered_map<ir::NodeId, llvm::Value*>* known = nullptr);

 private:
  /// x^n as multiplications when `pow`'s exponent is an integer constant
  /// in [2, kMaxUnrolledPower] (x^2 never gets here: the simplifier makes it
  /// x * x), else null (the caller calls pow).
  llvm::Value* small_integer_power(const ir::Node& pow, llvm::Value* x) const;
  static constexpr double kMaxUnrolledPower = 16;

  /// y when `id` is y / sqrt(2) with y already emitted (in `v`), else kNoNode.
  ir::NodeId over_sqrt2(ir::NodeId id, const std::vector<llvm::Value*>& v) const;

  const ir::Graph& g_;
  llvm::IRBuilder<>& b_;
  llvm::Type* vec_;
  std::vector<llvm::Value*> params_;
};

}  // namespace actjit::lower
