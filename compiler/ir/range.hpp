// A conservative range analysis of IR values: whether a NaN can arise from
// a finite input and finite parameters (float32 kernels watch for such NaN
// lanes, which the runtime recomputes in float64; see lower::Abi::Jit).
#pragma once

#include <span>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {

/// Whether a NaN can come out of `roots` for a finite x and finite
/// parameters: from inf - inf, 0 * inf, inf / inf, 0 / 0, log or sqrt of a
/// negative, and so on, after an overflow. A "yes" may be wrong, a "no" is
/// not (relu, leaky_relu, hardswish answer no).
bool may_make_nan(const Graph& g, std::span<const NodeId> roots);

}  // namespace actjit::ir
