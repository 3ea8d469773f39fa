// The C ABI (actjit.h) over the C++ runtime. Every exception stops here and
// becomes a status and a message in the caller's buffer.
#include <cmath>
#include <algorithm>
#include <cstring>
#include <new>

#include "actjit/actjit.h"
#include "actjit/actjit.hpp"
#include "runtime/src/kernel_impl.hpp"

struct actjit_runtime {
  actjit::Runtime rt;
};

struct actjit_kernel {
  actjit::Kernel k;
};

namespace {
/// The integer value of an enum argument, read without assuming it is one of
/// the enumerators (C callers may pass anything; loading an out-of-range
/// enum value is undefined in C++).
template <class E>
int raw_value(const E& e) {
  int v;
  static_assert(sizeof(E) == sizeof(int));
  std::memcpy(&v, &e, sizeof v);
  return v;
}

void write_error(char* err, size_t errlen, const std::string& message) {
  if (!err || errlen == 0) return;
  size_t n = std::min(errlen - 1, message.size());
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}
}  // namespace

extern "C" {

actjit_runtime* actjit_runtime_create_ex(char* err, size_t errlen) {
  try {
    return new actjit_runtime{actjit::Runtime()};
  } catch (const std::exception& e) {
    write_error(err, errlen, e.what());
  } catch (...) {
    write_error(err, errlen, "unknown error");
  }
  return nullptr;
}

actjit_runtime* actjit_runtime_create(void) { return actjit_runtime_create_ex(nullptr, 0); }

void actjit_runtime_destroy(actjit_runtime* rt) { delete rt; }

actjit_kernel* actjit_compile(actjit_runtime* rt, const char* src, actjit_dtype dtype, char* err, size_t errlen) {
  if (!rt || !src) {
    write_error(err, errlen, !rt ? "NULL runtime" : "NULL source");
    return nullptr;
  }
  int d = raw_value(dtype);
  if (d != ACTJIT_F32 && d != ACTJIT_F64) {
    write_error(err, errlen, "unknown dtype");
    return nullptr;
  }
  try {
    actjit::Kernel k = rt->rt.compile(src, d == ACTJIT_F64 ? actjit::DType::F64 : actjit::DType::F32);
    return new actjit_kernel{std::move(k)};
  } catch (const std::exception& e) {
    write_error(err, errlen, e.what());
  } catch (...) {
    write_error(err, errlen, "unknown error");
  }
  return nullptr;
}

int actjit_runtime_set_limit(actjit_runtime* rt, actjit_limit which, double value) {
  if (!rt || !(value > 0)) return 1;
  actjit::Limits l = rt->rt.limits();
  switch (raw_value(which)) {
    case ACTJIT_LIMIT_SOURCE_BYTES: l.max_source_bytes = size_t(std::min(value, 1e18)); break;
    case ACTJIT_LIMIT_NESTING: l.max_nesting = unsigned(std::min(value, 1e6)); break;
    case ACTJIT_LIMIT_NODES: l.max_nodes = size_t(std::min(value, 1e18)); break;
    case ACTJIT_LIMIT_KERNEL_NODES: l.max_kernel_nodes = size_t(std::min(value, 1e18)); break;
    case ACTJIT_LIMIT_COMPILE_SECONDS: l.max_compile_seconds = value; break;
    case ACTJIT_LIMIT_CACHED_KERNELS: l.max_cached_kernels = size_t(std::min(value, 1e18)); break;
    default: return 1;
  }
  rt->rt.set_limits(l);
  return 0;
}

double actjit_runtime_get_limit(const actjit_runtime* rt, actjit_limit which) {
  if (!rt) return std::nan("");
  actjit::Limits l = rt->rt.limits();
  switch (raw_value(which)) {
    case ACTJIT_LIMIT_SOURCE_BYTES: return double(l.max_source_bytes);
    case ACTJIT_LIMIT_NESTING: return double(l.max_nesting);
    case ACTJIT_LIMIT_NODES: return double(l.max_nodes);
    case ACTJIT_LIMIT_KERNEL_NODES: return double(l.max_kernel_nodes);
    case ACTJIT_LIMIT_COMPILE_SECONDS: return l.max_compile_seconds;
    case ACTJIT_LIMIT_CACHED_KERNELS: return double(l.max_cached_kernels);
  }
  return std::nan("");
}

int actjit_runtime_set_cache_dir(actjit_runtime* rt, const char* dir) {
  if (!rt) return 1;
  try {
    rt->rt.set_cache_dir(dir ? dir : "");
  } catch (...) {
    return 1;
  }
  return 0;
}

size_t actjit_param_count(const actjit_kernel* k) { return k ? k->k.params().size() : 0; }

const char* actjit_param_name(const actjit_kernel* k, size_t i) {
  if (!k || i >= k->k.params().size()) return nullptr;
  return k->k.params()[i].name.c_str();
}

double actjit_param_default(const actjit_kernel* k, size_t i) {
  if (!k || i >= k->k.params().size()) return std::nan("");
  return k->k.params()[i].default_value;
}

actjit_dtype actjit_kernel_dtype(const actjit_kernel* k) {
  return k && k->k.dtype() == actjit::DType::F64 ? ACTJIT_F64 : ACTJIT_F32;
}

int actjit_forward(const actjit_kernel* k, const void* x, void* y, size_t n, const double* params) {
  if (!k) return 1;
  return k->k.forward_raw(x, y, n, params);
}

int actjit_backward(const actjit_kernel* k, const void* x, const void* dy, void* dx, size_t n, const double* params,
                    double* dparams) {
  if (!k) return 1;
  return k->k.backward_raw(x, dy, dx, n, params, dparams);
}

int actjit_forward_with_derivative(const actjit_kernel* k, const void* x, void* y, void* dydx, size_t n,
                                   const double* params) {
  if (!k) return 1;
  return k->k.forward_with_derivative_raw(x, y, dydx, n, params);
}

int actjit_is_rowwise(const actjit_kernel* k) { return k && k->k.rowwise() ? 1 : 0; }

size_t actjit_output_cols(const actjit_kernel* k, size_t cols) { return k ? k->k.output_cols(cols) : 0; }

int actjit_forward_rows(const actjit_kernel* k, const void* x, void* y, size_t rows, size_t cols,
                        const double* params) {
  if (!k) return 1;
  return k->k.forward_rows_raw(x, y, rows, cols, params);
}

int actjit_backward_rows(const actjit_kernel* k, const void* x, const void* dy, void* dx, size_t rows, size_t cols,
                         const double* params, double* dparams) {
  if (!k) return 1;
  return k->k.backward_rows_raw(x, dy, dx, rows, cols, params, dparams);
}

int actjit_backward_from_output(const actjit_kernel* k) { return k && k->k.backward_from_output() ? 1 : 0; }

int actjit_backward_rows_from_output(const actjit_kernel* k, const void* y, const void* dy, void* dx, size_t rows,
                                     size_t cols) {
  if (!k) return 1;
  return k->k.backward_rows_from_output_raw(y, dy, dx, rows, cols);
}

void actjit_set_threads(unsigned n) { actjit::set_threads(n); }
unsigned actjit_get_threads(void) { return actjit::threads(); }

void actjit_kernel_release(actjit_kernel* k) { delete k; }

const char* actjit_version(void) { return actjit::Runtime::version(); }

int actjit_version_number(void) { return ACTJIT_VERSION; }

}  // extern "C"
