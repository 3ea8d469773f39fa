// Splitting a long elementwise loop body in two loops over a block of
// vectors (loop fission through a small stack buffer).
#pragma once

namespace llvm {
class Module;
}

namespace actjit::lower {

/// Splits the body of each elementwise loop (KernelBuilder::stream's
/// "vector.body") whose longest dependency path is long into two loops
/// over blocks of up to kSplitBlock vectors: the first runs the body's
/// first half (by start time on that path) for every vector of the block
/// and stores the values the second half needs to a stack buffer; the
/// second loads them and runs the rest, stores included. Inputs the second
/// half reads are loaded again (not buffered): every store is in it, so an
/// output that is its input (in-place calls) is read before it is written.
///
/// Why: on a wide out-of-order core a loop whose work per register is a
/// long chain runs at about (its instructions) x (its longest path) / (the
/// scheduler's window), not at the pipes' rate: the next iteration's
/// independent work lies beyond the window. Measured on Zen 5 (chains of
/// dependent FMAs, four registers a loop): 40 FMAs a register 25.4 cycles
/// against the pipes' 20, 80 FMAs 65.6 against 40; as two loops of half
/// the chain through a buffer, 20.3 and 50.4 (four loops of a quarter:
/// 40.0). Values carried across iterations (the float kernels' lane
/// watches, parameter gradients' sums) are carried by the loop of the half
/// that updates them, in the same order. Bodies without such a path, bodies
/// with branches, and bodies whose halves would buffer many registers
/// are left as they are. Run on the optimized IR.
void split_long_bodies(llvm::Module& m);

}  // namespace actjit::lower
