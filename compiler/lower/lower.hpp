// Lowering: a Program (IR with derivatives) -> LLVM IR kernels. The loop
// skeleton (pointer arguments, vector body at the target's width, a
// remainder that never reads or writes past n) is separate from the per-op emitter; transcendental functions
// come from math.hpp. Internal to the compiler: LLVM types appear here only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "compiler/lower/target_cpu.hpp"
#include "compiler/pipeline.hpp"

namespace llvm {
class Module;
}

namespace actjit::lower {

enum class DType { F32, F64 };

/// Symbol names of the kernels emitted for one program.
///   forward:    void(const T* x, T* y, int64 n, const double* params)
///   backward:   void(const T* x, const T* dy, T* dx, int64 n, const double* params, double* dparams)
///   backward_x: void(const T* x, const T* dy, T* dx, int64 n, const double* params)   (no parameter grads)
/// dparams[j] = sum_i dy[i] * df/dp_j(x[i]), accumulated in double.
struct KernelSymbols {
  std::string forward, backward, backward_x;
  std::string fused;  // y and f'(x) in one pass (elementwise only; Part::Fused)
};

/// The names of the kernels `p` has (backward_x empty when it has none).
KernelSymbols kernel_symbols(const Program& p, const std::string& prefix);

/// Which kernels to emit: all (forward, backward, backward_x), or one alone
/// (so that separate modules can be compiled in parallel). Fused, only
/// alone: void|int64 fused(const T* x, T* y, T* dydx, int64 n, const
/// double* params), y = f(x) and dydx = f'(x) in one pass sharing their
/// subexpressions.
enum class Part { All, Forward, Backward, BackwardX, Fused };

/// How elementwise kernels return. Aot: void (what the generated C header
/// declares). Jit: int64, in float32 the or of kStatusNaN when some lane
/// gave NaN from a finite input (an inf - inf, 0 * inf or inf / inf after
/// an overflow that float64 may not have; watched only in kernels that can
/// make such a NaN, ir::may_lose_nan) and kStatusTiny when a forward's
/// (or the fused kernel's) y may have lost its accuracy to an underflow in
/// between (an exp operand in ir::kExpUnderflowBand, ir::underflow_sources):
/// such lanes of y are NaN. The runtime then recomputes the NaN lanes of
/// finite inputs in float64, and no others, so a lane's value does not
/// depend on the rest of its call. Float64 kernels return
/// 0. Row-wise kernels return void. Aot's float32 kernels, given the
/// float64 kernels' prefix (emit_kernels' `wide_prefix`), are Jit's kernels
/// under internal names behind entry points that call the support object
/// of AOT libraries (compiler/aot/support.cpp) with them and the float64
/// kernels: the lanes come out as the JIT's runtime gives them.
enum class Abi { Aot, Jit };
inline constexpr uint32_t kStatusNaN = 1, kStatusTiny = 2;

/// Row-wise kernels: the row-shaped operand of a sum in the last pass over
/// the row that the output loop after it would compute again (softmax's
/// exp(x - max(x)), forward and backward). That pass stores it into the
/// output row (y, or dx) and the output loop loads it back: one exp per
/// element instead of two. Only where every read of x is the plain row and
/// the output loop, given the stored operand, reads no x (so y or dx over x
/// is safe). kNoNode where nothing qualifies. A backward that stores one
/// overwrites dx before its output loop reads dy: it may not write dx over
/// dy (the runtime copies dy then; RowShape::alias_safe).
ir::NodeId row_stored_operand(const Program& p, bool backward);

/// Row-wise kernels: the row length from which kernels lowered two
/// registers wide (Program::Row::wide) run faster than the usual ones, as
/// measured here (Zen 5): 256 where the forward stores its exp
/// (row_stored_operand: softmax, softmin; +10-36% on rows of 1000 and
/// 32768), 4096 for other sums of exp (log_softmax: +18-24% at 32768,
/// slower at 300-1000), else 0 (never; rows of 16 run at half speed wide).
size_t wide_row_length(const Program& p);

/// Registers per elementwise loop iteration, by the body's cost (the sum
/// of ir::instruction_weight over its nodes; see emit_kernels): from `two`
/// two registers wide, from `four` four — on 512-bit registers only (the
/// 16 registers of AVX2 would spill), and not where the body calls a
/// function out of line (SLEEF's, per register: float64 gelu ran 7% slower
/// four wide, its registers spilled around the calls). Float32 costs as
/// measured in the nineteenth sitting: forwards of gelu 54, gelu_tanh 58,
/// telu 61, logsigmoid 63, softplus 69-75 are four wide. Since the
/// twenty-ninth sitting (the table-form exp) so are forwards from cost 25
/// (elu 28, tanh and tanhshrink 29, celu and selu 32, sigmoid 33, swish and
/// silu 40; one wide on large outputs: narrow_forward_pays) and backwards
/// from 25 (squareplus 27, elu 29, sigmoid, selu and logsigmoid 33, tanh
/// 37, softplus 39): float, 16Ki / 1Mi, alternating with two-or-one wide
/// builds, forwards sigmoid +10% / +7%, selu +10% / +15%, elu +6% / +10%,
/// swish and silu +7%, x*sigmoid(1.702*x) +11%, tanh +2%; backwards
/// sigmoid, selu, logsigmoid, tanh, softplus +7-9%, elu, squareplus +5%;
/// at 64Mi level. Costs 41-49 stay two (kCompileCapFrom: mish 41 forward,
/// 49 backward; swish's backward 43). The piecewise-linear ones and
/// divisions alone (softsign 13) are one wide. Erfc weighs 56 since the twenty-sixth
/// sitting (gelu 70 forward, 109 backward; the textbook gelu's unguarded
/// forward 47 -> 63, four wide: +5-21%). Fused kernels go by the backward's bars. Row-wise
/// kernels are one register wide, or kRowInterleave where the program
/// asks for long rows' kernels (Program::Row::wide).
/// With root_two, a body below `two` that takes a square root (a
/// division's partner on the same unit: x / sqrt(x^2 + 1), or its float
/// rsqrt estimate) is two registers wide: the backward of sqrt(x*x+1)-1,
/// one register wide, ran 5.5 e/ns in float at 1Mi against 7.4-7.9 two
/// wide (16Ki: level), and in double its rsqrt form 1.8 against 2.1 (the
/// division's form one wide: 2.0). Its forward, two wide, was level at
/// 16Ki and 2-3% slower at 1Mi (twenty-seventh sitting): forwards go by
/// cost alone.
struct InterleaveBars {
  unsigned two, four;
  bool root_two = false;
};
inline constexpr InterleaveBars kForwardInterleave{25, 25}, kBackwardInterleave{20, 25, true};
/// Bodies of cost from kCompileCapFrom to below kCompileCapTo stay two
/// registers wide (where they would be four): compile time, which grows
/// with the IR. Four wide, mish's forward (41) took its compile from 4.1
/// to 5.5 ms (target: 5).
inline constexpr unsigned kCompileCapFrom = 41, kCompileCapTo = 50;
/// Forwards from kForwardInterleave.two to this cost take a build one
/// register wide for large outputs (narrow_forward_pays).
inline constexpr unsigned kNarrowForwardBelow = 50;
inline constexpr unsigned kRowInterleave = 2;

/// Streaming stores out of cache (Program::streaming_stores) pay for the
/// light elementwise kernels and cost the heavy ones. Measured here (Zen
/// 5, one thread, 64Mi floats, the whole array in one call with them
/// against 2Mi calls with plain stores): the forwards of relu, leaky_relu,
/// softsign, hardswish (body costs 3-12) ran 4-23% faster with them; with
/// plain stores the forwards of cost 29 and more (sigmoid, silu, mish,
/// tanhshrink, gelu, telu, the composites) ran 6-36% faster. Backwards of
/// cost up to 54 (relu, softsign; elu, sigmoid, tanh, swish, softplus,
/// squareplus) ran 11-41% faster with them (but mish's and
/// x sigmoid(1.702 x)'s, 49 and 43, 4-12% slower), those of 59 and more
/// (gelu, gelu_tanh, telu, the composites) 14-17% faster with plain
/// stores. The middle of the range (elu, tanh, squareplus forwards) moved
/// by +-10% between runs. (Our reading: a streaming store holds its
/// store-buffer entry until the line goes to memory, so a loop computing
/// long per line stalls behind them; a plain store's line is fetched
/// ahead by the prefetchers.) The elementwise kernels of `part` (Forward
/// or Backward) whose body_cost is below the bar take them, float64 ones
/// by the same bars (not measured); row-wise kernels keep them (their exp
/// pass reads, the output pass writes).
///
/// The bars hold for AMD Zen targets (`cpu`, LLVM's target-cpu name,
/// znver*). On Intel's AVX-512 Xeon measured in the sixty-first sitting
/// (Emerald Rapids, target-cpu sapphirerapids; one thread, 64Mi floats,
/// one build alternating with the other in one process) streaming stores
/// ran every kernel faster, the heavy ones too: the forwards of sigmoid,
/// swish, mish, softplus and tanh +50-65%, elu +25-60%, telu +25-35%, the
/// backwards of gelu +45% and telu +20% (the plain streaming kernel there
/// runs at 60% of its streaming-store form: a plain store first reads
/// its line). Other targets than Zen take them for every elementwise kernel.
inline constexpr unsigned kStreamingForwardBar = 20, kStreamingBackwardBar = 56;
bool streaming_stores_pay(const Program& p, Part part, std::string_view cpu);

/// Elementwise forwards two or four registers wide in cache (body cost
/// from kForwardInterleave.two to kNarrowForwardBelow: elu, tanh,
/// tanhshrink, sigmoid, selu, celu, swish, silu, mish) run slower so out
/// of cache: two wide, measured here (Zen 5, float32, 64Mi elements, one
/// thread, plain stores) 6-13% below one register a loop, while in cache
/// two were 2-15% ahead (sigmoid +8-11%, mish +6-15%; four since: above).
/// Their outputs larger than the caches take a build one register wide
/// (Program::narrow_forward); not where the forward streams out of cache
/// (streaming_stores_pay: for `cpu`s other than AMD Zen).
bool narrow_forward_pays(const Program& p, std::string_view cpu);
/// Streaming-store elementwise kernels whose body costs kStreamingForwardBar
/// or more (the backwards between the two bars) prefetch their inputs this
/// many bytes ahead: measured as above (one process, the two builds
/// alternated), the backwards of sigmoid, elu, tanh and swish 10-18%
/// faster (2 KiB and 8 KiB alike), squareplus's level, and the light ones'
/// (relu, softsign, hardswish) 12% slower, whose loads the hardware
/// prefetchers keep up with.
inline constexpr uint64_t kStreamingPrefetch = 4096;

/// Whether `p`'s float32 JIT kernel for `part` (Forward, Backward — with
/// or without the parameters' gradients — or Fused) may return a status
/// (Abi::Jit): lanes for the runtime to recompute in float64 from the
/// kernel's inputs. An over-estimate where unsure. In-place calls of such
/// kernels keep the input they overwrite (Program::keep_input, or a copy;
/// runtime.cpp): the sigmoid quotients' tiny results, mish's subnormal
/// ones, exp(x) x's below 2^-126 would otherwise keep the float kernel's
/// values there.
bool reports_lanes(const Program& p, Part part);

/// Whether a zero parameter hides a NaN from `p`'s float32 watch (which
/// takes parameters as nonzero): calls with a parameter that rounds to 0
/// are then looked at whatever the kernel's status (runtime.cpp,
/// compiler/aot/support.cpp).
bool zero_params_need_look(const Program& p);

/// Emits the kernels of `p` into `m` with names starting with `prefix`.
/// `vector_bits` is the width of the target's vector registers; elementwise
/// bodies are one, two or four registers wide (kForwardInterleave).
/// `cpu`/`features` are set as function attributes. Names of kernels not emitted are left empty.
/// `wide_prefix`: see Abi::Aot.
KernelSymbols emit_kernels(const Program& p, DType dtype, unsigned vector_bits, const std::string& cpu,
                           const std::string& features, const std::string& prefix, llvm::Module& m,
                           Part part = Part::All, Abi abi = Abi::Aot, const std::string& wide_prefix = "");

}  // namespace actjit::lower
