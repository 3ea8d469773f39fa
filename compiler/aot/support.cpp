// The support object of ahead-of-time libraries: `actjit compile` puts it
// into every archive it writes (embedded into the tool at build time,
// compiled for plain x86-64 by CMakeLists.txt without the project's flags).
//
// A float32 kernel reports lanes that float32 lost (NaN from finite
// inputs, results in exp's underflow band) as the JIT's do; these entry
// points run it and recompute those lanes with the library's float64
// kernel of the same definition, as the runtime does after a JIT call
// (rescue_lanes.hpp holds the code both use), so an AOT kernel gives the
// JIT's values. The generated NAME_f32_forward/backward/backward_x call
// them with their kernels and a description.
//
// Free of the C++ library (the archive links into C programs): no
// exceptions, no operator new, only libc's memcpy, malloc and free. The
// symbols are weak and versioned (two libraries from one actjit version
// share one copy; another version's are another name).
#include <cstdlib>

#include "runtime/src/rescue_lanes.hpp"

namespace lanes = actjit::detail::lanes;

extern "C" {

/// What the generated code tells about one definition's float32 kernels.
struct actjit_aot1_info {
  uint32_t params;  // parameter count
  uint32_t flags;   // kZeroParamsNeedLook | kForwardReports | kBackwardReports
};

typedef int64_t (*actjit_aot1_f32_forward_fn)(const float*, float*, int64_t, const double*);
typedef void (*actjit_aot1_f64_forward_fn)(const double*, double*, int64_t, const double*);
typedef int64_t (*actjit_aot1_f32_backward_fn)(const float*, const float*, float*, int64_t, const double*, double*);
typedef void (*actjit_aot1_f64_backward_fn)(const double*, const double*, double*, int64_t, const double*, double*);
typedef int64_t (*actjit_aot1_f32_backward_x_fn)(const float*, const float*, float*, int64_t, const double*);
typedef void (*actjit_aot1_f64_backward_x_fn)(const double*, const double*, double*, int64_t, const double*);

void actjit_aot1_forward(actjit_aot1_f32_forward_fn, actjit_aot1_f64_forward_fn, const float*, float*, int64_t,
                         const double*, const actjit_aot1_info*) __attribute__((weak));
void actjit_aot1_backward(actjit_aot1_f32_backward_fn, actjit_aot1_f32_backward_x_fn, actjit_aot1_f64_backward_fn,
                          actjit_aot1_f64_backward_x_fn, const float*, const float*, float*, int64_t, const double*,
                          double*, const actjit_aot1_info*) __attribute__((weak));
}

namespace {

constexpr uint32_t kZeroParamsNeedLook = 1, kForwardReports = 2, kBackwardReports = 4;
/// Parameter counts up to this take scratch from the stack.
constexpr size_t kStackParams = 32;

bool look_anyway(const double* p, const actjit_aot1_info* info) {
  return p && lanes::params_outside_watch(p, info->params, info->flags & kZeroParamsNeedLook);
}

}  // namespace

void actjit_aot1_forward(actjit_aot1_f32_forward_fn kernel, actjit_aot1_f64_forward_fn wide, const float* x, float* y,
                         int64_t count, const double* p, const actjit_aot1_info* info) {
  if (count <= 0) return;
  const size_t n = size_t(count);
  const bool look = look_anyway(p, info);
  auto recompute = [&](const double* xs, double* ys, size_t m) { wide(xs, ys, int64_t(m), p); };
  if (x != y || !((info->flags & kForwardReports) || look)) {
    int64_t status = kernel(x, y, count, p);
    if ((status || look) && x != y) lanes::rescue_forward(x, y, n, recompute);
    return;
  }
  lanes::keeping(x, n, false, [&](float* kept, size_t b, size_t len) {  // in place: x a block at a time
    int64_t status = kernel(kept, y + b, int64_t(len), p);
    if (status || look) lanes::rescue_forward(kept, y + b, len, recompute);
  });
}

/// `kernel` (with dparams) or `kernel_x` (without: functions with
/// parameters called with a null dparams) and their float64 twins.
void actjit_aot1_backward(actjit_aot1_f32_backward_fn kernel, actjit_aot1_f32_backward_x_fn kernel_x,
                          actjit_aot1_f64_backward_fn wide, actjit_aot1_f64_backward_x_fn wide_x, const float* x,
                          const float* dy, float* dx, int64_t count, const double* p, double* dparams,
                          const actjit_aot1_info* info) {
  if (count <= 0) {
    if (kernel && dparams) kernel(x, dy, dx, 0, p, dparams);  // the sums of nothing
    return;
  }
  const size_t n = size_t(count), np = info->params;
  const bool look = look_anyway(p, info);
  auto run = [&](const float* xb, const float* dyb, float* dxb, size_t len, double* d) {
    return kernel ? kernel(xb, dyb, dxb, int64_t(len), p, d) : kernel_x(xb, dyb, dxb, int64_t(len), p);
  };
  auto full = [&](const double* xs, const double* dys, double* dxs, size_t m, double* d) {
    wide(xs, dys, dxs, int64_t(m), p, d);
  };
  auto dx_only = [&](const double* xs, const double* dys, double* dxs, size_t m) {
    wide_x(xs, dys, dxs, int64_t(m), p);
  };
  double stack[2 * kStackParams];
  double* scratch = np <= kStackParams ? stack : static_cast<double*>(std::malloc(2 * np * sizeof(double)));
  double* d = kernel ? dparams : nullptr;
  if (!scratch) {  // (no memory for the parameters' scratch: the float32 results as they are)
    run(x, dy, dx, n, d);
    return;
  }
  if (dx != dy || !((info->flags & kBackwardReports) || look)) {
    int64_t status = run(x, dy, dx, n, d);
    if ((status || look) && dx != dy) lanes::rescue_backward(x, dy, dx, n, np, d, scratch, full, dx_only);
  } else {  // in place: dy a block at a time, each block's parameter gradients added
    double* part = scratch + np;
    lanes::keeping(dy, n, false, [&](float* kept, size_t b, size_t len) {
      double* db = b == 0 || !d ? d : part;
      int64_t status = run(x + b, kept, dx + b, len, db);
      if (status || look) lanes::rescue_backward(x + b, kept, dx + b, len, np, db, scratch, full, dx_only);
      for (size_t j = 0; b > 0 && d && j < np; ++j) d[j] += part[j];
    });
  }
  if (scratch != stack) std::free(scratch);
}
