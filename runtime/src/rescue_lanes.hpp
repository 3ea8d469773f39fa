// The float32 lanes recomputed in float64: which they are and how they are
// recomputed, shared by the runtime (runtime.cpp, after a JIT kernel's
// status) and the support object of ahead-of-time libraries
// (aot_support.cpp, linked into every `actjit compile` archive), so that
// both give the same results. Header only, and free of the C++ library
// beyond inline functions: the support object links into C programs.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace actjit::detail::lanes {

/// Lanes gathered for one float64 call.
inline constexpr size_t kBlock = 256;

/// In-place calls keep the input they overwrite a block of at most this
/// many floats at a time (4 KiB: in L1; runtime.cpp says what was measured).
inline constexpr size_t kCopyBlock = 1024;

/// `body(from, len)` over [0, n) in blocks of `at`'s floats; the blocks
/// after the first start on a cache line of the array.
template <class Body>
void in_blocks(const void* at, size_t n, Body body) {
  size_t first = (64 - reinterpret_cast<uintptr_t>(at) % 64) % 64 / sizeof(float);
  for (size_t from = 0, len; from < n; from += len) {
    len = from == 0 && first ? first : kCopyBlock;
    if (len > n - from) len = n - from;
    body(from, len);
  }
}

/// `body(kept, from, len)` over in_blocks' blocks of `src`: `kept`, a
/// block's stack buffer, is filled by the kernel (`kernel_keeps`: a kept
/// build of the JIT's) or holds a copy of src[from, from + len) made before.
template <class Body>
void keeping(const float* src, size_t n, bool kernel_keeps, Body body) {
  alignas(64) float kept[kCopyBlock];
  in_blocks(src, n, [&](size_t from, size_t len) {
    if (!kernel_keeps) std::memcpy(kept, src + from, len * sizeof(float));
    body(kept, from, len);
  });
}

/// A lane to recompute: NaN from a finite input. The kernels report such
/// lanes by their status, and make NaN the lanes they lost to an underflow
/// in between (lower.cpp LaneWatch: an exp operand in the underflow band),
/// so that which lanes are recomputed, and so every lane's value, does not
/// depend on the other lanes of a call (its length, its split between
/// threads).
inline bool lost(float out, float in) { return std::isnan(out) && std::isfinite(in); }
/// The backward's: NaN or +-inf from finite x and dy (the kernels watch
/// +-inf where f' may overflow: dy f'(x) is finite in float64 for a tiny
/// dy, and 0 for dy = 0, where float32 makes inf and NaN; a lane with a
/// true overflow gives inf again).
inline bool lost_backward(float out, float in, float dy) {
  return std::isfinite(dy) && std::isfinite(in) && !std::isfinite(out);
}

/// Whether parameter values lie outside what a float32 kernel's watches
/// cover (then its results are looked at whatever its status): values
/// that round to inf in float, and with `zero_params_need_look` (a
/// function whose NaN a zero parameter would hide from the watch) values
/// that round to 0.
inline bool params_outside_watch(const double* p, size_t np, bool zero_params_need_look) {
  constexpr double kRoundsToInf = 0x1.ffffffp127;  // FLT_MAX and half an ULP: the kernel's rounding gives inf
  constexpr double kRoundsToZero = 0x1p-150;       // half the smallest subnormal: rounds to 0
  for (size_t j = 0; j < np; ++j) {
    double a = std::fabs(p[j]);
    if (!(a < kRoundsToInf) || (zero_params_need_look && a <= kRoundsToZero)) return true;
  }
  return false;
}

/// y's lost lanes from the float64 forward: `wide(xs, ys, m)` computes m
/// values. Only the lost lanes, gathered (every block with one went
/// through float64 whole: sqrt(x*x - 1) over [-8, 8] ran 0.58 e/ns,
/// gathered 1.00).
template <class Wide>
void rescue_forward(const float* x, float* y, size_t n, Wide wide) {
  double xs[kBlock], ys[kBlock];
  uint32_t at[kBlock];
  for (size_t b = 0; b < n; b += kBlock) {
    size_t m = n - b < kBlock ? n - b : kBlock, count = 0;
    for (size_t k = 0; k < m; ++k) {
      at[count] = uint32_t(k);
      count += lost(y[b + k], x[b + k]);
    }
    if (!count) continue;
    for (size_t j = 0; j < count; ++j) xs[j] = x[b + at[j]];
    wide(xs, ys, count);
    for (size_t j = 0; j < count; ++j) y[b + at[j]] = float(ys[j]);
  }
}

/// dx's lost lanes from the float64 backward, and with `dparams` holding a
/// NaN the parameters' gradients over all of x (the float64 backward
/// takes every element then). `full(xs, dys, dxs, m, dparams)` is the
/// backward with the parameters' gradients (dparams may be null where np
/// is 0), `dx_only(xs, dys, dxs, m)` the one without. `sums` holds np
/// doubles of scratch.
template <class Full, class DxOnly>
void rescue_backward(const float* x, const float* dy, float* dx, size_t n, size_t np, double* dparams, double* sums,
                     Full full, DxOnly dx_only) {
  bool redo_dparams = false;
  for (size_t j = 0; dparams && j < np; ++j) redo_dparams = redo_dparams || std::isnan(dparams[j]);
  double xs[kBlock], dys[kBlock], dxs[kBlock];
  uint32_t at[kBlock];
  for (size_t j = 0; redo_dparams && j < np; ++j) sums[j] = 0;
  for (size_t b = 0; b < n; b += kBlock) {
    size_t m = n - b < kBlock ? n - b : kBlock, count = 0;
    for (size_t k = 0; k < m; ++k) {
      at[count] = uint32_t(k);
      count += lost_backward(dx[b + k], x[b + k], dy[b + k]);
    }
    if (redo_dparams) {  // the parameters' sums take every element
      for (size_t k = 0; k < m; ++k) xs[k] = x[b + k], dys[k] = dy[b + k];
      full(xs, dys, dxs, m, dparams);
      for (size_t j = 0; j < np; ++j) sums[j] += dparams[j];
      for (size_t j = 0; j < count; ++j) dx[b + at[j]] = float(dxs[at[j]]);
      continue;
    }
    if (!count) continue;
    for (size_t j = 0; j < count; ++j) xs[j] = x[b + at[j]], dys[j] = dy[b + at[j]];  // the lost lanes, gathered
    if (np == 0)
      full(xs, dys, dxs, count, nullptr);
    else
      dx_only(xs, dys, dxs, count);
    for (size_t j = 0; j < count; ++j) dx[b + at[j]] = float(dxs[j]);
  }
  for (size_t j = 0; redo_dparams && j < np; ++j) dparams[j] = sums[j];
}

}  // namespace actjit::detail::lanes
