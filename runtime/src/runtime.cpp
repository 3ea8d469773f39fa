// The runtime: owns the JIT engine and the kernel cache, and implements the
// C++ API (actjit.hpp). Two cache levels: by source text (a repeated compile
// is one hash lookup) and by the canonical IR (different texts of the same
// function share machine code).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "actjit/actjit.h"
#include "actjit/actjit.hpp"
#include "compiler/ir/range.hpp"
#include "compiler/lower/lower.hpp"
#include "compiler/pipeline.hpp"
#include "runtime/src/kernel_impl.hpp"
#include "runtime/src/pool.hpp"
#include "runtime/src/rescue_lanes.hpp"

namespace actjit {

namespace detail {

struct RuntimeImpl {
  std::shared_ptr<jit::Engine> engine;
  mutable std::mutex mu;  // guards everything below
  Limits limits;
  uint64_t clock = 0;     // advances on every cache use, for LRU eviction
  template <class V>
  struct Entry {
    V value;
    uint64_t used;
  };
  std::unordered_map<std::string, Entry<std::shared_ptr<const KernelImpl>>> by_source;
  std::unordered_map<std::string, Entry<std::shared_ptr<jit::KernelCode>>> by_ir;

  /// Drops least recently used entries until `map` holds at most `max`.
  template <class Map>
  static void evict(Map& map, size_t max) {
    while (map.size() > max && !map.empty()) {
      auto oldest = map.begin();
      for (auto it = map.begin(); it != map.end(); ++it)
        if (it->second.used < oldest->second.used) oldest = it;
      map.erase(oldest);
    }
  }
};

}  // namespace detail

namespace {

[[noreturn]] void throw_error(std::string_view source, const Diagnostic& d) {
  LineCol lc = line_col(source, d.offset);
  bool has_pos = d.offset != Diagnostic::npos;
  throw Error(has_pos ? format_short(source, d) : d.message, has_pos ? int(lc.line) : 0,
              has_pos ? int(lc.column) : 0, render(source, d));
}

CompileOptions options_for(const Limits& limits) {
  CompileOptions o;
  o.parse.max_source_bytes = limits.max_source_bytes;
  o.parse.max_depth = limits.max_nesting;
  o.limits.max_nodes = limits.max_nodes;
  o.max_kernel_nodes = limits.max_kernel_nodes;
  if (limits.max_compile_seconds > 0 && limits.max_compile_seconds < 1e9)
    o.limits.deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(limits.max_compile_seconds));
  return o;
}

Program build_or_throw(std::string_view source, const Limits& limits) {
  auto p = build_program(source, catalogue(), options_for(limits));
  if (!p) throw_error(source, p.error());
  return std::move(*p);
}

lower::DType to_lower(DType d) { return d == DType::F64 ? lower::DType::F64 : lower::DType::F32; }

/// Which of `p`'s kernels may leave lanes to the float64 pass (float32 only).
detail::KernelImpl::Reports reports_lanes(DType d, const Program& p) {
  if (d != DType::F32) return {};
  return {lower::reports_lanes(p, lower::Part::Forward), lower::reports_lanes(p, lower::Part::Backward),
          lower::reports_lanes(p, lower::Part::Fused)};
}

/// `source` with its parameters' default values as constants, where `p`
/// (the general program) has parameters and the constants make its kernels
/// cheaper (softplus: beta * x and / beta fold away; not leaky_relu, whose
/// alpha * x costs the same either way); else nothing.
std::optional<Program> defaults_program(std::string_view source, const Limits& limits, const Program& p) {
  if (p.row.rowwise || p.function.params.empty()) return std::nullopt;
  CompileOptions o = options_for(limits);
  o.specialize_defaults = true;
  auto q = build_program(source, catalogue(), o);
  // What the forward and the dx-only backward cost, by instructions per register.
  auto cost = [](const Program& r) { return r.graph.weight(std::array{r.value, r.d_x}); };
  if (!q || cost(*q) >= cost(p)) return std::nullopt;
  return std::move(*q);
}

}  // namespace

Runtime::Runtime() : Runtime(Limits{}) {}

Runtime::Runtime(const Limits& limits) : impl_(std::make_shared<detail::RuntimeImpl>()) {
  auto engine = jit::Engine::create();
  if (!engine) throw Error(engine.error().message, 0, 0, render("", engine.error()));
  impl_->engine = std::move(*engine);
  impl_->engine->set_cache_dir(jit::default_cache_dir());
  impl_->limits = limits;
}

void Runtime::set_cache_dir(const std::string& dir) { impl_->engine->set_cache_dir(dir); }

std::string Runtime::cache_dir() const { return impl_->engine->cache_dir(); }

Runtime::CacheStats Runtime::cache_stats() const {
  jit::EngineStats s = impl_->engine->stats();
  return CacheStats{s.llvm_compiles, s.disk_hits, s.disk_writes};
}

Limits Runtime::limits() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->limits;
}

void Runtime::set_limits(const Limits& limits) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->limits = limits;
  detail::RuntimeImpl::evict(impl_->by_source, limits.max_cached_kernels);
  detail::RuntimeImpl::evict(impl_->by_ir, limits.max_cached_kernels);
}

Runtime::~Runtime() = default;

Kernel Runtime::compile(std::string_view source, DType dtype) const {
  std::string key(1, dtype == DType::F64 ? 'd' : 'f');
  key += source;
  Limits limits;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->by_source.find(key);
    if (it != impl_->by_source.end()) {
      it->second.used = ++impl_->clock;
      return Kernel(it->second.value);
    }
    limits = impl_->limits;
  }
  Program p = build_or_throw(source, limits);
  auto impl = std::make_shared<detail::KernelImpl>();
  impl->dtype = dtype;
  impl->name = p.function.name;
  impl->input = p.function.input;
  for (auto& param : p.function.params) {
    impl->params.push_back(Param{param.name, param.default_value});
    impl->defaults.push_back(param.default_value);
  }
  for (auto& w : p.warnings) impl->warnings.push_back(render(source, w, "warning"));
  // A backward that stores an intermediate into dx before reading dy cannot write dx over dy.
  impl->row = detail::RowShape{p.row.rowwise, p.row.out_divisor, p.row.multiple,
                               p.row.dx_partition() && lower::row_stored_operand(p, true) == ir::kNoNode};
  std::string ir_key = key.substr(0, 1) + p.canonical_key();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->by_ir.find(ir_key);
    if (it != impl_->by_ir.end()) {
      it->second.used = ++impl_->clock;
      impl->code = it->second.value;
    }
  }
  if (!impl->code) {
    auto code = impl_->engine->compile(p, to_lower(dtype));
    if (!code) throw_error(source, code.error());
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto [it, inserted] = impl_->by_ir.try_emplace(ir_key, detail::RuntimeImpl::Entry<std::shared_ptr<jit::KernelCode>>{*code, 0});
    it->second.used = ++impl_->clock;
    impl->code = it->second.value;  // another thread may have won the race: share its code
    detail::RuntimeImpl::evict(impl_->by_ir, impl_->limits.max_cached_kernels);
  }
  if (!p.row.rowwise) {
    const std::string& cpu = impl_->engine->target().cpu;
    impl->forward_streams = lower::streaming_stores_pay(p, lower::Part::Forward, cpu);
    impl->backward_streams = lower::streaming_stores_pay(p, lower::Part::Backward, cpu);
    impl->forward_narrows = lower::narrow_forward_pays(p, cpu);
    impl->reports = reports_lanes(dtype, p);
  }
  // The program for calls with the default parameters, compiled on the
  // first such call (KernelImpl::defaults_code).
  if (auto q = defaults_program(source, limits, p)) {
    impl->defaults_reports = reports_lanes(dtype, *q);
    impl->defaults_program = std::make_shared<const Program>(std::move(*q));
  }
  // Long rows' kernels two registers wide, where those run faster.
  impl->long_row = lower::wide_row_length(p);
  if (impl->long_row) {
    auto q = std::make_shared<Program>(p);
    q->row.wide = true;
    impl->long_rows_program = std::move(q);
    impl->engine = impl_->engine;
  }
  if (p.row.rowwise) {
    impl->row_streams_forward = lower::row_stored_operand(p, false) == ir::kNoNode;
    // (The backward's streaming stores are for a dx written whole: glu's two
    // halves are not.)
    bool whole_dx = std::any_of(p.row.dx.begin(), p.row.dx.end(),
                                [](auto& d) { return d.first.identity() && d.first.offset == 0; });
    impl->row_streams_backward = whole_dx && lower::row_stored_operand(p, true) == ir::kNoNode;
    impl->row_program = std::make_shared<const Program>(p);
    impl->engine = impl_->engine;
  }
  if (auto q = output_vjp_program(p)) {
    impl->output_alias_safe = lower::row_stored_operand(*q, true) == ir::kNoNode;
    impl->output_program = std::make_shared<const Program>(std::move(*q));
    impl->engine = impl_->engine;
  }
  if (!p.row.rowwise) {
    // The float32 kernels' NaN watch takes parameters as nonzero; where
    // that decided it away, a zero parameter makes the runtime look itself.
    if (dtype == DType::F32) impl->zero_params_need_look = lower::zero_params_need_look(p);
    impl->program = std::make_shared<const Program>(std::move(p));
    impl->engine = impl_->engine;
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto [it, inserted] = impl_->by_source.try_emplace(key, detail::RuntimeImpl::Entry<std::shared_ptr<const detail::KernelImpl>>{impl, 0});
  it->second.used = ++impl_->clock;
  Kernel k(it->second.value);
  detail::RuntimeImpl::evict(impl_->by_source, impl_->limits.max_cached_kernels);
  return k;
}

/// fn() with Program::print's PrintTooLarge as an Error at the source's
/// start, as the other limits of a function's size are.
template <class Fn>
std::string printing(std::string_view source, Fn fn) {
  try {
    return fn();
  } catch (const PrintTooLarge& e) {
    throw_error(source, Diagnostic{0, e.what()});
  }
}

/// Runtime::derivative's text for the built program `p`.
std::string derivative_text(const Program& p, std::string_view wrt) {
  if (p.row.rowwise) {
    // The vector-Jacobian product: dx in terms of x and dy, one line per
    // view of the row it writes ("+=" where views overlap).
    const bool partition = p.row.dx_partition();
    if (wrt.empty() || wrt == p.function.input) {
      std::string out;
      for (auto& [view, e] : p.row.dx) {
        std::string target = "d" + p.function.input;
        if (view.group > 1)
          target = "pick(" + target + ", " + std::to_string(view.group) + ", " + std::to_string(view.offset) + ")";
        if (view.parts > 1)
          target = "chunk(" + target + ", " + std::to_string(view.parts) + ", " + std::to_string(view.index) + ")";
        if (!out.empty()) out += "\n";
        out += target + (partition ? " = " : " += ") + p.print(e);
      }
      return out.empty() ? "d" + p.function.input + " = 0" : out;
    }
    for (size_t j = 0; j < p.function.params.size(); ++j)
      if (p.function.params[j].name == wrt) return "d" + std::string(wrt) + " = " + p.print(p.row.dparams[j]);
  } else {
    if (wrt.empty() || wrt == p.function.input) return p.print(p.d_x);
    for (size_t j = 0; j < p.function.params.size(); ++j)
      if (p.function.params[j].name == wrt) return p.print(p.d_params[j]);
  }
  std::string known = "'" + p.function.input + "'";
  for (auto& param : p.function.params) known += ", '" + param.name + "'";
  throw Error("no variable '" + std::string(wrt) + "' to differentiate by; the function's variables are " + known, 0,
              0, "error: no variable '" + std::string(wrt) + "' to differentiate by; the function's variables are " +
                     known + "\n");
}

std::string Runtime::derivative(std::string_view source, std::string_view wrt) const {
  Program p = build_or_throw(source, limits());
  return printing(source, [&] { return derivative_text(p, wrt); });
}

std::string Runtime::simplified(std::string_view source) const {
  Program p = build_or_throw(source, limits());
  return printing(source, [&] { return p.print(p.value); });
}

std::string Runtime::naive_form(std::string_view source) const {
  Program p = build_or_throw(source, limits());
  return printing(source, [&] { return p.print(p.naive); });
}

std::string Runtime::llvm_ir(std::string_view source, DType dtype, bool defaults) const {
  Program p = build_or_throw(source, limits());
  std::optional<Program> q = defaults ? defaults_program(source, limits(), p) : std::nullopt;
  return impl_->engine->emit_ir(q ? *q : p, to_lower(dtype));
}

std::string Runtime::assembly(std::string_view source, DType dtype, bool defaults) const {
  Program p = build_or_throw(source, limits());
  std::optional<Program> q = defaults ? defaults_program(source, limits(), p) : std::nullopt;
  return impl_->engine->emit_asm(q ? *q : p, to_lower(dtype));
}

size_t Runtime::cached_kernels() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->by_ir.size();
}

std::string_view Runtime::catalogue() { return catalogue_source(); }

#define ACTJIT_STR2(x) #x
#define ACTJIT_STR(x) ACTJIT_STR2(x)
const char* Runtime::version() noexcept {
  return ACTJIT_STR(ACTJIT_VERSION_MAJOR) "." ACTJIT_STR(ACTJIT_VERSION_MINOR) "." ACTJIT_STR(ACTJIT_VERSION_PATCH);
}

// ---------------------------------------------------------------- Kernel

DType Kernel::dtype() const noexcept { return impl_->dtype; }
const std::string& Kernel::name() const noexcept { return impl_->name; }
const std::string& Kernel::input_name() const noexcept { return impl_->input; }
const std::vector<Param>& Kernel::params() const noexcept { return impl_->params; }
const std::vector<double>& Kernel::default_params() const noexcept { return impl_->defaults; }
const std::vector<std::string>& Kernel::warnings() const noexcept { return impl_->warnings; }

size_t Kernel::param_index(std::string_view name) const {
  for (size_t j = 0; j < impl_->params.size(); ++j)
    if (impl_->params[j].name == name) return j;
  throw std::invalid_argument("actjit: no parameter named '" + std::string(name) + "'");
}

void Kernel::check(DType want, size_t nx, size_t ny, size_t nparams, size_t ndparams) const {
  if (!impl_) throw std::invalid_argument("actjit: empty kernel");
  if (impl_->dtype != want) throw std::invalid_argument("actjit: array type does not match the kernel's dtype");
  if (nx != ny) throw std::invalid_argument("actjit: arrays of different lengths");
  if (nparams != 0 && nparams != impl_->params.size())
    throw std::invalid_argument("actjit: expected " + std::to_string(impl_->params.size()) + " parameter values");
  if (ndparams != 0 && ndparams != impl_->params.size())
    throw std::invalid_argument("actjit: dparams must hold " + std::to_string(impl_->params.size()) + " values");
}

namespace {

// Arrays of at least kParallelMin elements are split across the pool's
// threads in pieces of at least kGrain elements (smaller ones run in the
// caller: waking threads costs more than it saves).
constexpr size_t kParallelMin = size_t(1) << 16;
constexpr size_t kGrain = size_t(1) << 15;
constexpr size_t kMaxPieces = 64;
constexpr size_t kMaxSplitParams = 16;

/// In-place float32 calls whose kernel may leave lanes to the float64 pass
/// (KernelImpl::Reports) or that look anyway keep the input they overwrite
/// (x, or dy of a backward), which that pass reads afterwards, a block of
/// at most lanes::kCopyBlock elements at a time (4 KiB: in L1). The forward and
/// the backwards and the fused kernel take their builds that store it as
/// they load it (KernelImpl::keep_code: a store per vector inside the
/// loop); where such a build did not compile, a copy before the call
/// (keeping). Measured at 16Ki (`actjit_bench --in-place`, in place
/// over out of place): the copy cost 11-24% (blocks of 512: 27-34%, of
/// 2048 and 4096: 17-30%), the kept builds 0-8%. The kernel runs in place
/// either way: run from the stack copy into the array (as swish's and
/// silu's did), its loads and stores met at the same addresses modulo 4
/// KiB (swish's forward in place 0.74x). The blocks after the first start
/// on a cache line of the array, as call_aligned's calls do.
using detail::lanes::keeping;  // (rescue_lanes.hpp, with kCopyBlock and in_blocks)

// Outputs of at least kStreamingBytes, or of calls whose arrays together
// (inputs and output) take kStreamingTraffic or more, go to memory by
// streaming stores (Program::streaming_stores): written without being read
// first, where the output would not stay in the caches anyway (this
// machine's L3: 32 MiB, shared by inputs and output). Measured here (a
// plain loop, one thread): y = a*x at 64Mi floats 3.4-4.0 -> 4.4-5.1 e/ns,
// dx = dy*x 2.5-2.9 -> 3.2-3.9; at 1Mi (in cache) no gain. A forward's
// two arrays reach kStreamingTraffic with the output at kStreamingBytes; a
// backward's three at 2/3 of it: at 3Mi floats (36 MiB in all) the
// backwards of relu 4.4-4.6 -> 6.5-6.9 e/ns, sigmoid 3.4-3.5 -> 5.3-5.6;
// softmax's backward from y on 4194 rows of 1000 floats (16,776,000 bytes
// an array) 2.75-2.81 -> 2.79-3.02.
constexpr size_t kStreamingBytes = size_t(16) << 20;
constexpr size_t kStreamingTraffic = size_t(32) << 20;

/// Whether an output of `out_bytes` written by a call that reads
/// `in_bytes` takes streaming stores.
bool streams(size_t out_bytes, size_t in_bytes) {
  return out_bytes >= kStreamingBytes || in_bytes >= kStreamingTraffic - std::min(out_bytes, kStreamingTraffic);
}

/// Rows not all 64-byte aligned take streaming stores only from this
/// length (bytes) on. Each row's kernel loop starts its streaming stores at
/// the row's first 64-byte boundary; the line a row shares with the next
/// is written by ordinary stores, and between short rows those cost more
/// than the streaming stores save (one thread, 4Mi floats, rows 16 bytes
/// off: softmax's backward from y on rows of 32 floats 2.64 e/ns without
/// streaming stores, 1.64 with; log_softmax's forward 0.62 and 0.53; even
/// from 48 to 96 floats, ahead from 128 floats). Aligned rows of any
/// length gain (the same backward on aligned rows of 32 floats 2.91 ->
/// 3.75).
constexpr size_t kStreamingRowMin = 512;

/// Whether rows of `stride` elements of `es` bytes written from `out`,
/// reading `in_bytes`, take streaming stores (streams()), the array
/// element-aligned.
bool rows_stream(const void* out, size_t rows, size_t stride, size_t es, size_t in_bytes) {
  auto at = reinterpret_cast<uintptr_t>(out);
  bool aligned_rows = at % 64 == 0 && stride * es % 64 == 0;
  return streams(rows * stride * es, in_bytes) && at % es == 0 && (aligned_rows || stride * es >= kStreamingRowMin);
}

/// Runs `fn(from, to, aligned)` over [0, n) of an output at `out`: the
/// elements before its first 64-byte boundary with aligned false, the
/// rest with it true (all with false where the output is not even
/// element-aligned). Returns the calls' statuses or'ed.
template <class Fn>
int64_t split_at_alignment(const void* out, size_t es, size_t n, Fn fn) {
  auto a = reinterpret_cast<uintptr_t>(out);
  size_t head = a % es ? n : std::min(n, (64 - a % 64) % 64 / es);
  int64_t status = 0;
  if (head) status |= fn(size_t(0), head, false);
  if (head < n) status |= fn(head, n, true);
  return status;
}

// Calls of at least kAlignSplitMin elements whose output does not start on
// a 64-byte boundary run in two calls, split at the boundary
// (split_at_alignment): the few elements before it take the kernel's
// partial vector, and every store of the rest is a whole cache line. malloc
// gives 16-byte alignment (glibc puts its large blocks 16 bytes into a
// page), and a register store across two lines costs: measured here on
// relu's forward (one thread, output 16 bytes past a boundary), 16Ki floats
// 11.4-12.6 -> 12.9 e/ns, 1Mi 10.7 -> 12.1 (aligned: 14.2 and 12.1);
// sigmoid at 16Ki 4.18 -> 4.67. Below kAlignSplitMin the second call's
// cost (a call and a partial vector) is not paid back.
constexpr size_t kAlignSplitMin = 1024;

/// split_at_alignment for an output that is not streamed: one call
/// `fn(0, n)` where n < kAlignSplitMin, else split at the output's
/// alignment.
template <class Fn>
int64_t call_aligned(const void* out, size_t es, size_t n, Fn fn) {
  if (n < kAlignSplitMin) return fn(size_t(0), n, false);
  return split_at_alignment(out, es, n, fn);
}

size_t pieces_for(size_t elements, size_t units) {
  if (elements < kParallelMin || units < 2) return 1;
  size_t t = detail::Pool::instance().threads();
  return std::max<size_t>(1, std::min({t, elements / kGrain, units, kMaxPieces}));
}

/// f(i) for each of `pieces` pieces: in the caller where there is one (no
/// std::function to allocate, no pool lock: a row-wise call of maxout on
/// 16 rows of 1024 floats spent ~25 ns of ~700 there), else on the pool.
template <class F>
void run_pieces(size_t pieces, F&& f) {
  if (pieces == 1)
    f(size_t(0));
  else
    detail::Pool::instance().run(pieces, f);
}

/// [begin, end) of piece i of `units` split into `pieces`, aligned to `align`.
std::pair<size_t, size_t> piece(size_t units, size_t pieces, size_t i, size_t align) {
  size_t per = (units / pieces + align - 1) / align * align;
  size_t b = std::min(units, i * per), e = i + 1 == pieces ? units : std::min(units, (i + 1) * per);
  return {b, e};
}

}  // namespace

// ------------------------------------------------- float64 rescue (float32)

namespace detail {

namespace {
/// Compiles `p` once into `slot` with `how`; null when that fails.
template <class How>
const jit::KernelCode* once(std::once_flag& flag, std::shared_ptr<jit::KernelCode>& slot, How how) {
  std::call_once(flag, [&] {
    try {
      auto code = how();
      slot = code ? *code : nullptr;
    } catch (...) {
      slot = nullptr;
    }
  });
  return slot.get();
}
}  // namespace

const jit::KernelCode* KernelImpl::wide_code() const {
  if (!program || dtype != DType::F32) return nullptr;  // no rescue: the float32 results stand
  return once(wide_once, wide, [&] { return engine->compile(*program, lower::DType::F64); });
}

const jit::KernelCode* KernelImpl::large_build(const std::shared_ptr<const Program>& from, std::once_flag& flag,
                                                std::shared_ptr<jit::KernelCode>& slot, Large kind) const {
  if (!from) return nullptr;
  return once(flag, slot, [&] {
    Program q = *from;
    if (kind == Large::NarrowForward || kind == Large::KeepForward) {
      (kind == Large::NarrowForward ? q.narrow_forward : q.keep_input) = true;
      return engine->compile_forward(q, to_lower(dtype));
    }
    if (kind == Large::KeepAll || kind == Large::KeepFused) {
      q.keep_input = true;
      return kind == Large::KeepAll ? engine->compile(q, to_lower(dtype)) : engine->compile_fused(q, to_lower(dtype));
    }
    q.streaming_stores = true;
    return kind == Large::StreamingBackward ? engine->compile_backward(q, to_lower(dtype))
                                            : engine->compile(q, to_lower(dtype));
  });
}

const jit::KernelCode* KernelImpl::streaming_code(bool at_defaults) const {
  return at_defaults ? large_build(defaults_program, streaming_defaults_once, streaming_defaults, Large::Streaming)
                     : large_build(program, streaming_once, streaming, Large::Streaming);
}

const jit::KernelCode* KernelImpl::narrow_code(bool at_defaults) const {
  return at_defaults ? large_build(defaults_program, narrow_defaults_once, narrow_defaults, Large::NarrowForward)
                     : large_build(program, narrow_once, narrow, Large::NarrowForward);
}

const jit::KernelCode* KernelImpl::keep_code(bool at_defaults, Keep which) const {
  const auto k = size_t(which);
  return large_build(at_defaults ? defaults_program : program, keep_once[at_defaults][k], keep[at_defaults][k],
                     which == Keep::Forward     ? Large::KeepForward
                     : which == Keep::Backwards ? Large::KeepAll
                                                : Large::KeepFused);
}

const jit::KernelCode* KernelImpl::streaming_rows_code(Rows which) const {
  size_t k = size_t(which);
  const std::shared_ptr<const Program>& from =
      which == Rows::Usual ? row_program : which == Rows::Long ? long_rows_program : output_program;
  return large_build(from, streaming_rows_once[k], streaming_rows[k],
                     which == Rows::Output ? Large::StreamingBackward : Large::Streaming);
}

const jit::KernelCode* KernelImpl::defaults_code(const double* params) const {
  if (!defaults_program || !is_default(params)) return nullptr;
  return once(specialized_once, specialized, [&] { return engine->compile(*defaults_program, to_lower(dtype)); });
}

const jit::KernelCode* KernelImpl::defaults_fused_code(const double* params) const {
  if (!defaults_program || !is_default(params)) return nullptr;
  return once(specialized_fused_once, specialized_fused, [&] { return engine->compile_fused(*defaults_program, to_lower(dtype)); });
}

const jit::KernelCode* KernelImpl::long_rows_code(size_t cols) const {
  if (!long_rows_program || cols < long_row) return nullptr;
  return once(long_rows_once, long_rows, [&] { return engine->compile(*long_rows_program, to_lower(dtype)); });
}

const jit::KernelCode* KernelImpl::output_code() const {
  if (!output_program) return nullptr;
  return once(output_once, output, [&] { return engine->compile_backward(*output_program, to_lower(dtype)); });
}

const jit::KernelCode* KernelImpl::fused_code() const {
  if (!program) return nullptr;
  return once(fused_once, fused, [&] {
    return engine->compile_fused(*program, dtype == DType::F64 ? lower::DType::F64 : lower::DType::F32);
  });
}

bool KernelImpl::params_outside_watch(const double* p) const {
  return dtype == DType::F32 && lanes::params_outside_watch(p, params.size(), zero_params_need_look);
}

void KernelImpl::rescue_forward(const float* x, float* y, size_t n, const double* params) const {
  const jit::KernelCode* w = wide_code();
  if (!w || static_cast<const void*>(x) == static_cast<const void*>(y)) return;  // in place: x is gone
  auto fn = reinterpret_cast<ForwardFn>(w->forward);
  lanes::rescue_forward(x, y, n, [&](const double* xs, double* ys, size_t m) { fn(xs, ys, int64_t(m), params); });
}

void KernelImpl::rescue_backward(const float* x, const float* dy, float* dx, size_t n, const double* params,
                                 double* dparams) const {
  const jit::KernelCode* w = wide_code();
  if (!w || static_cast<const void*>(dx) == static_cast<const void*>(dy)) return;  // in place: dy is gone
  auto full = reinterpret_cast<BackwardFn>(w->backward);
  auto dx_only = reinterpret_cast<BackwardXFn>(w->backward_x);
  std::vector<double> sums(this->params.size());
  lanes::rescue_backward(
      x, dy, dx, n, this->params.size(), dparams, sums.data(),
      [&](const double* xs, const double* dys, double* dxs, size_t m, double* d) {
        full(xs, dys, dxs, int64_t(m), params, d);
      },
      [&](const double* xs, const double* dys, double* dxs, size_t m) { dx_only(xs, dys, dxs, int64_t(m), params); });
}

}  // namespace detail

unsigned threads() noexcept { return detail::Pool::instance().threads(); }
void set_threads(unsigned n) noexcept { detail::Pool::instance().set_threads(n); }

namespace {

/// Kernel::forward_raw past its checks and its short way (the first call
/// with the defaults, other parameters, large or in-place calls).
[[gnu::noinline]] int forward_general(const detail::KernelImpl& k, const void* x, void* y, size_t n,
                                      const double* params) noexcept {
  const size_t es = k.dtype == DType::F64 ? 8 : 4;
  const double* p = params ? params : k.defaults.data();
  // The defaults' own kernel watches for NaN with the constants themselves.
  const jit::KernelCode* special = k.defaults_code(params);
  const bool at_defaults = special != nullptr;
  auto fn = at_defaults ? reinterpret_cast<detail::ForwardFn>(special->forward) : k.forward();
  const bool look_anyway = !at_defaults && k.params_outside_watch(p);
  if (!params && !look_anyway) k.plain_forward.store(at_defaults ? special : k.code.get(), std::memory_order_release);
  const jit::KernelCode* streaming =
      k.forward_streams && streams(n * es, n * es) ? k.streaming_code(at_defaults) : nullptr;
  // (or, for the forwards two or four registers wide in cache, their build one wide)
  if (k.forward_narrows && streams(n * es, n * es))
    if (const jit::KernelCode* narrow = k.narrow_code(at_defaults))
      fn = reinterpret_cast<detail::ForwardFn>(narrow->forward);
  const bool copy_x = x == y && ((at_defaults ? k.defaults_reports : k.reports).forward || look_anyway);
  const jit::KernelCode* keep_build = copy_x ? k.keep_code(at_defaults, detail::KernelImpl::Keep::Forward) : nullptr;
  auto keep = keep_build ? reinterpret_cast<detail::FusedFn>(keep_build->forward) : nullptr;
  auto run = [&](size_t b, size_t e) {
    const void* xb = static_cast<const char*>(x) + b * es;
    void* yb = static_cast<char*>(y) + b * es;
    if (copy_x) {  // x kept: stored by the kernel as it goes (keep) or copied before
      keeping(static_cast<const float*>(xb), e - b, keep != nullptr, [&](float* kept, size_t from, size_t len) {
        float* yc = static_cast<float*>(yb) + from;
        int64_t status = keep ? keep(yc, yc, kept, int64_t(len), p) : fn(yc, yc, int64_t(len), p);
        if (status || look_anyway) k.rescue_forward(kept, yc, len, p);
      });
      return;
    }
    auto part = [&](size_t from, size_t to, bool aligned) {
      auto f = aligned && streaming ? reinterpret_cast<detail::ForwardFn>(streaming->forward) : fn;
      return f(static_cast<const char*>(xb) + from * es, static_cast<char*>(yb) + from * es, int64_t(to - from), p);
    };
    int64_t status = streaming ? split_at_alignment(yb, es, e - b, part) : call_aligned(yb, es, e - b, part);
    if (status || look_anyway) k.rescue_forward(static_cast<const float*>(xb), static_cast<float*>(yb), e - b, p);
  };
  size_t pieces = pieces_for(n, n / 64);
  run_pieces(pieces, [&](size_t i) {
    auto [b, e] = piece(n, pieces, i, 64);
    if (e > b) run(b, e);
  });
  return 0;
}

/// Kernel::backward_raw past its checks and its short way.
[[gnu::noinline]] int backward_general(const detail::KernelImpl& k, const void* x, const void* dy, void* dx, size_t n,
                                       const double* params, double* dparams) noexcept {
  const double* p = params ? params : k.defaults.data();
  const size_t np = k.params.size();
  const size_t es = k.dtype == DType::F64 ? 8 : 4;
  size_t pieces = pieces_for(n, n / 64);
  if (dparams && np > kMaxSplitParams) pieces = 1;
  const jit::KernelCode* special = dparams ? nullptr : k.defaults_code(params);
  const bool at_defaults = special != nullptr;
  const bool look_anyway = !at_defaults && k.params_outside_watch(p);
  if (!params && !dparams && !look_anyway)
    k.plain_backward.store(at_defaults ? special : k.code.get(), std::memory_order_release);
  // (Not with more parameter gradients than a split call can hold.)
  const jit::KernelCode* streaming =
      k.backward_streams && streams(n * es, 2 * n * es) && !(dparams && np > kMaxSplitParams)
          ? k.streaming_code(at_defaults)
          : nullptr;
  const bool copy_dy = dx == dy && ((at_defaults ? k.defaults_reports : k.reports).backward || look_anyway);
  const jit::KernelCode* keep_build = copy_dy ? k.keep_code(at_defaults, detail::KernelImpl::Keep::Backwards) : nullptr;
  auto run = [&](size_t b, size_t e, double* dp) {
    // The kernels' code: the defaults', the general one, or their
    // streaming-store builds (then dparams accumulate over both parts).
    auto invoke = [&](const jit::KernelCode* code, const void* xb, const void* dyb, void* dxb, size_t len,
                      double* d) -> int64_t {
      if (at_defaults)
        return reinterpret_cast<detail::BackwardFn>(code->backward)(xb, dyb, dxb, int64_t(len), p, nullptr);
      if (dp || np == 0) return reinterpret_cast<detail::BackwardFn>(code->backward)(xb, dyb, dxb, int64_t(len), p, d);
      return reinterpret_cast<detail::BackwardXFn>(code->backward_x)(xb, dyb, dxb, int64_t(len), p);
    };
    auto call = [&](const jit::KernelCode* code, size_t from, size_t to, double* d) {
      return invoke(code, static_cast<const char*>(x) + from * es, static_cast<const char*>(dy) + from * es,
                    static_cast<char*>(dx) + from * es, to - from, d);
    };
    const jit::KernelCode* plain = at_defaults ? special : k.code.get();
    if (copy_dy) {  // dx over dy (float32): dy kept a block at a time, each block's parameter gradients added
      std::vector<double> part(dp ? np : 0);
      bool first = true;
      // `kept`: dy, stored by the kernel as it goes (keep_build) or copied before
      keeping(static_cast<const float*>(dy) + b, e - b, keep_build != nullptr,
              [&](float* kept, size_t from, size_t len) {
                const float* xb = static_cast<const float*>(x) + b + from;
                float* dxb = static_cast<float*>(dx) + b + from;
                double* d = first || !dp ? dp : part.data();
                int64_t status;
                if (!keep_build)
                  status = invoke(plain, xb, dxb, dxb, len, d);
                else if (at_defaults || dp || np == 0)
                  status = reinterpret_cast<detail::KeepBackwardFn>(keep_build->backward)(
                      xb, dxb, dxb, kept, int64_t(len), p, at_defaults ? nullptr : d);
                else
                  status = reinterpret_cast<detail::KeepBackwardXFn>(keep_build->backward_x)(xb, dxb, dxb, kept,
                                                                                             int64_t(len), p);
                if (status || look_anyway) k.rescue_backward(xb, kept, dxb, len, p, d);
                for (size_t j = 0; !first && j < part.size(); ++j) dp[j] += part[j];
                first = false;
              });
      return;
    }
    int64_t status;
    if (dp && np > kMaxSplitParams) {
      status = call(plain, b, e, dp);  // (its parameter gradients would not fit a second call's buffer)
    } else {
      double part[kMaxSplitParams] = {};  // the second call's dparams (np <= kMaxSplitParams here)
      bool first = true;
      auto split = [&](size_t from, size_t to, bool aligned) {
        int64_t st = call(aligned && streaming ? streaming : plain, b + from, b + to, first || !dp ? dp : part);
        if (!first && dp)
          for (size_t j = 0; j < np; ++j) dp[j] += part[j];
        first = false;
        return st;
      };
      void* dxb = static_cast<char*>(dx) + b * es;
      status = streaming ? split_at_alignment(dxb, es, e - b, split) : call_aligned(dxb, es, e - b, split);
    }
    const void* xb = static_cast<const char*>(x) + b * es;
    const void* dyb = static_cast<const char*>(dy) + b * es;
    void* dxb = static_cast<char*>(dx) + b * es;
    if (status || look_anyway)
      k.rescue_backward(static_cast<const float*>(xb), static_cast<const float*>(dyb), static_cast<float*>(dxb), e - b,
                        p, dp);
  };
  if (pieces == 1) {
    run(0, n, dparams);
    return 0;
  }
  double partial[kMaxPieces][kMaxSplitParams] = {};
  detail::Pool::instance().run(pieces, [&](size_t i) {
    auto [b, e] = piece(n, pieces, i, 64);
    if (e > b) run(b, e, dparams ? partial[i] : nullptr);
  });
  if (dparams)
    for (size_t j = 0; j < np; ++j) {
      dparams[j] = 0;
      for (size_t i = 0; i < pieces; ++i) dparams[j] += partial[i][j];
    }
  return 0;
}

}  // namespace

int Kernel::forward_raw(const void* x, void* y, size_t n, const double* params) const noexcept {
  if (impl_ && impl_->row.rowwise) return forward_rows_raw(x, y, n == 0 ? 0 : 1, n, params);
  if (!impl_ || (n > 0 && (!x || !y))) return 1;
  if (n == 0) return 0;
  const size_t es = impl_->dtype == DType::F64 ? 8 : 4;
  // Calls with the defaults in one piece (not split across threads, not
  // streamed: n < kParallelMin), once their kernels are known: straight to
  // them (relu on 16 floats ~20 -> ~10 ns a call here).
  if (!params && n < kParallelMin && x != y)
    if (const jit::KernelCode* plain = impl_->plain_forward.load(std::memory_order_acquire)) {
      const double* p = impl_->defaults.data();
      auto fn = reinterpret_cast<detail::ForwardFn>(plain->forward);
      int64_t status = call_aligned(y, es, n, [&](size_t from, size_t to, bool) {
        return fn(static_cast<const char*>(x) + from * es, static_cast<char*>(y) + from * es, int64_t(to - from), p);
      });
      if (status) impl_->rescue_forward(static_cast<const float*>(x), static_cast<float*>(y), n, p);
      return 0;
    }
  return forward_general(*impl_, x, y, n, params);
}

namespace {

/// forward_with_derivative's lanes to recompute after a call over [x, x + n)
/// that returned `status` (or wherever NaN with `look_anyway`).
void rescue_fused(const detail::KernelImpl& k, const void* x, void* y, void* dydx, size_t n, const double* p,
                  int64_t status, bool look_anyway) {
  auto* xf = static_cast<const float*>(x);
  k.rescue_forward(xf, static_cast<float*>(y), n, p);                               // skipped where y is x
  if (dydx != x && y != x && (look_anyway || (status & lower::kStatusNaN))) {       // tiny results are y's alone
    std::vector<float> ones(n, 1.0f);
    k.rescue_backward(xf, ones.data(), static_cast<float*>(dydx), n, p, nullptr);
  }
}

}  // namespace

int Kernel::forward_with_derivative_raw(const void* x, void* y, void* dydx, size_t n,
                                        const double* params) const noexcept {
  if (!impl_ || impl_->row.rowwise || (n > 0 && (!x || !y || !dydx))) return 1;
  if (n == 0) return 0;
  const size_t es = impl_->dtype == DType::F64 ? 8 : 4;
  auto call = [&](detail::FusedFn fn, const double* p, size_t b, size_t e) {
    const void* xb = static_cast<const char*>(x) + b * es;
    void* yb = static_cast<char*>(y) + b * es;
    void* db = static_cast<char*>(dydx) + b * es;
    return call_aligned(yb, es, e - b, [&](size_t from, size_t to, bool) {
      return fn(static_cast<const char*>(xb) + from * es, static_cast<char*>(yb) + from * es,
                static_cast<char*>(db) + from * es, int64_t(to - from), p);
    });
  };
  const bool aliased = y == x || dydx == x;
  // As forward_raw's: calls with the defaults in one piece, straight to their kernel.
  if (!params && n < kParallelMin && !(aliased && (impl_->reports.fused || impl_->defaults_reports.fused)))
    if (const jit::KernelCode* plain = impl_->plain_fused.load(std::memory_order_acquire)) {
      const double* p = impl_->defaults.data();
      if (int64_t status = call(reinterpret_cast<detail::FusedFn>(plain->fused), p, 0, n))
        rescue_fused(*impl_, x, y, dydx, n, p, status, false);
      return 0;
    }
  const jit::KernelCode* special = impl_->defaults_fused_code(params);
  const bool at_defaults = special != nullptr;
  const jit::KernelCode* code = at_defaults ? special : impl_->fused_code();
  if (!code) return 1;
  const double* p = params ? params : impl_->defaults.data();
  auto fn = reinterpret_cast<detail::FusedFn>(code->fused);
  const bool look_anyway = !at_defaults && impl_->params_outside_watch(p);
  if (!params && !look_anyway) impl_->plain_fused.store(code, std::memory_order_release);
  // y or dydx over x (float32): x kept, which the float64 pass reads.
  const bool copy_x = aliased && ((at_defaults ? impl_->defaults_reports : impl_->reports).fused || look_anyway);
  const jit::KernelCode* keep_build = copy_x ? impl_->keep_code(at_defaults, detail::KernelImpl::Keep::Fused) : nullptr;
  auto keep = keep_build ? reinterpret_cast<detail::KeepFusedFn>(keep_build->fused) : nullptr;
  size_t pieces = pieces_for(n, n / 64);
  run_pieces(pieces, [&](size_t i) {
    auto [b, e] = piece(n, pieces, i, 64);
    if (e <= b) return;
    if (copy_x) {
      // `kept`: x, stored by the kernel as it goes (keep) or copied before
      keeping(static_cast<const float*>(x) + b, e - b, keep != nullptr, [&](float* kept, size_t from, size_t len) {
        const float* xb = static_cast<const float*>(x) + b + from;
        float* yb = static_cast<float*>(y) + b + from;
        float* db = static_cast<float*>(dydx) + b + from;
        int64_t status = keep ? keep(xb, yb, db, kept, int64_t(len), p) : fn(xb, yb, db, int64_t(len), p);
        if (status || look_anyway) rescue_fused(*impl_, kept, yb, db, len, p, status, look_anyway);
      });
      return;
    }
    int64_t status = call(fn, p, b, e);
    if (status || look_anyway)
      rescue_fused(*impl_, static_cast<const char*>(x) + b * es, static_cast<char*>(y) + b * es,
                   static_cast<char*>(dydx) + b * es, e - b, p, status, look_anyway);
  });
  return 0;
}

int Kernel::backward_raw(const void* x, const void* dy, void* dx, size_t n, const double* params,
                         double* dparams) const noexcept {
  if (impl_ && impl_->row.rowwise) return backward_rows_raw(x, dy, dx, n == 0 ? 0 : 1, n, params, dparams);
  if (!impl_ || (n > 0 && (!x || !dy || !dx))) return 1;
  const double* p = params ? params : impl_->defaults.data();
  if (n == 0) {
    if (dparams)
      for (size_t j = 0; j < impl_->params.size(); ++j) dparams[j] = 0;
    return 0;
  }
  const size_t np = impl_->params.size();
  const size_t es = impl_->dtype == DType::F64 ? 8 : 4;
  // As forward_raw's: calls with the defaults in one piece, straight to their kernels.
  if (!params && !dparams && n < kParallelMin &&
      !(dx == dy && (impl_->reports.backward || impl_->defaults_reports.backward)))
    if (const jit::KernelCode* plain = impl_->plain_backward.load(std::memory_order_acquire)) {
      // (the defaults' kernels and those without parameters take dparams; the general ones of a
      // function with parameters, backward_x. The defaults' kernels are never the general ones:
      // defaults_program exists only where it is cheaper, so its IR and its code differ.)
      const bool with_dparams = plain != impl_->code.get() || np == 0;
      int64_t status = call_aligned(dx, es, n, [&](size_t from, size_t to, bool) {
        const void* xb = static_cast<const char*>(x) + from * es;
        const void* dyb = static_cast<const char*>(dy) + from * es;
        void* dxb = static_cast<char*>(dx) + from * es;
        return with_dparams
                   ? reinterpret_cast<detail::BackwardFn>(plain->backward)(xb, dyb, dxb, int64_t(to - from), p, nullptr)
                   : reinterpret_cast<detail::BackwardXFn>(plain->backward_x)(xb, dyb, dxb, int64_t(to - from), p);
      });
      if (status)
        impl_->rescue_backward(static_cast<const float*>(x), static_cast<const float*>(dy), static_cast<float*>(dx), n,
                               p, nullptr);
      return 0;
    }
  return backward_general(*impl_, x, dy, dx, n, params, dparams);
}

bool Kernel::rowwise() const noexcept { return impl_ && impl_->row.rowwise; }

size_t Kernel::row_multiple() const noexcept { return impl_ && impl_->row.rowwise ? impl_->row.multiple : 1; }

size_t Kernel::output_cols(size_t cols) const noexcept {
  if (!impl_) return 0;
  return impl_->row.rowwise ? impl_->row.out_cols(cols) : cols;
}

int Kernel::forward_rows_raw(const void* x, void* y, size_t rows, size_t cols, const double* params) const noexcept {
  if (!impl_) return 1;
  if (!impl_->row.rowwise) {
    if (cols != 0 && rows > SIZE_MAX / cols) return 1;
    return forward_raw(x, y, rows * cols, params);
  }
  if (rows == 0) return 0;
  size_t out = impl_->row.out_cols(cols);
  if (!x || !y || out == 0) return 1;
  const double* p = params ? params : impl_->defaults.data();
  size_t pieces = rows > SIZE_MAX / cols ? 1 : pieces_for(rows * cols, rows);
  const size_t es = impl_->dtype == DType::F64 ? 8 : 4;
  const jit::KernelCode* long_rows = impl_->long_rows_code(cols);
  auto fn = long_rows ? reinterpret_cast<detail::RowForwardFn>(long_rows->forward) : impl_->row_forward();
  if (impl_->row_streams_forward && rows <= SIZE_MAX / cols && rows_stream(y, rows, out, es, rows * cols * es))
    if (auto* s = impl_->streaming_rows_code(long_rows ? detail::KernelImpl::Rows::Long : detail::KernelImpl::Rows::Usual))
      fn = reinterpret_cast<detail::RowForwardFn>(s->forward);
  run_pieces(pieces, [&](size_t i) {
    auto [b, e] = piece(rows, pieces, i, 1);
    if (e > b)
      fn(static_cast<const char*>(x) + b * cols * es, static_cast<char*>(y) + b * out * es, int64_t(e - b),
         int64_t(cols), p);
  });
  return 0;
}

int Kernel::backward_rows_raw(const void* x, const void* dy, void* dx, size_t rows, size_t cols, const double* params,
                              double* dparams) const noexcept {
  if (!impl_) return 1;
  if (!impl_->row.rowwise) {
    if (cols != 0 && rows > SIZE_MAX / cols) return 1;
    return backward_raw(x, dy, dx, rows * cols, params, dparams);
  }
  const jit::KernelCode* long_rows = impl_->long_rows_code(cols);
  auto fn = long_rows ? reinterpret_cast<detail::RowBackwardFn>(long_rows->backward) : impl_->row_backward();
  const size_t es = impl_->dtype == DType::F64 ? 8 : 4;
  if (impl_->row_streams_backward && cols && rows <= SIZE_MAX / cols && rows_stream(dx, rows, cols, es, 2 * rows * cols * es))
    if (auto* s = impl_->streaming_rows_code(long_rows ? detail::KernelImpl::Rows::Long : detail::KernelImpl::Rows::Usual))
      fn = reinterpret_cast<detail::RowBackwardFn>(s->backward);
  return detail::row_vjp(*impl_, fn, impl_->row.alias_safe, x, dy, dx, rows, cols, params, dparams);
}

int Kernel::backward_rows_from_output_raw(const void* y, const void* dy, void* dx, size_t rows,
                                          size_t cols) const noexcept {
  if (!impl_ || !impl_->output_program) return 1;
  const jit::KernelCode* code = impl_->output_code();
  if (!code) return 1;
  const size_t es = impl_->dtype == DType::F64 ? 8 : 4;
  if (impl_->output_alias_safe && cols && rows <= SIZE_MAX / cols && rows_stream(dx, rows, cols, es, 2 * rows * cols * es))
    if (auto* s = impl_->streaming_rows_code(detail::KernelImpl::Rows::Output)) code = s;
  // The program's backward reads y where the usual one reads x.
  return detail::row_vjp(*impl_, reinterpret_cast<detail::RowBackwardFn>(code->backward), impl_->output_alias_safe, y,
                         dy, dx, rows, cols, nullptr, nullptr);
}

bool Kernel::backward_from_output() const noexcept { return impl_ && impl_->output_program; }

namespace detail {
int row_vjp(const KernelImpl& k, RowBackwardFn fn, bool alias_safe, const void* x, const void* dy, void* dx,
            size_t rows, size_t cols, const double* params, double* dparams) noexcept {
  const double* p = params ? params : k.defaults.data();
  if (rows == 0) {
    if (dparams)
      for (size_t j = 0; j < k.params.size(); ++j) dparams[j] = 0;
    return 0;
  }
  size_t out = k.row.out_cols(cols);
  if (!x || !dy || !dx || out == 0) return 1;
  const size_t esize = k.dtype == DType::F64 ? 8 : 4;
  auto* dx_begin = static_cast<const char*>(dx);
  auto* dy_begin = static_cast<const char*>(dy);
  bool overlap = dx_begin < dy_begin + rows * out * esize && dy_begin < dx_begin + rows * cols * esize;
  const size_t np = k.params.size();
  auto run = [&](const void* dy_all) {
    size_t pieces = rows > SIZE_MAX / cols ? 1 : pieces_for(rows * cols, rows);
    if (dparams && np > kMaxSplitParams) pieces = 1;
    double partial[kMaxPieces][kMaxSplitParams];  // each piece's dparams (pieces > 1)
    if (dparams && pieces > 1)
      for (size_t i = 0; i < pieces; ++i) std::fill_n(partial[i], np, 0.0);
    run_pieces(pieces, [&](size_t i) {
      auto [b, e] = piece(rows, pieces, i, 1);
      if (e == b) return;
      fn(static_cast<const char*>(x) + b * cols * esize, static_cast<const char*>(dy_all) + b * out * esize,
         static_cast<char*>(dx) + b * cols * esize, int64_t(e - b), int64_t(cols), p,
         dparams ? (pieces == 1 ? dparams : partial[i]) : nullptr);
    });
    if (dparams && pieces > 1)
      for (size_t j = 0; j < np; ++j) {
        dparams[j] = 0;
        for (size_t i = 0; i < pieces; ++i) dparams[j] += partial[i][j];
      }
  };
  if (!overlap || alias_safe) {
    run(dy);
    return 0;
  }
  // dx over dy, and the backward accumulates into dx: a copy of dy first.
  try {
    std::vector<char> copy(dy_begin, dy_begin + rows * out * esize);
    run(copy.data());
  } catch (const std::bad_alloc&) {
    return 1;
  }
  return 0;
}
}  // namespace detail

size_t Kernel::check_rows(DType want, size_t nx, size_t cols, size_t nparams, size_t ndparams) const {
  check(want, 0, 0, nparams, ndparams);
  if (cols == 0 || nx % cols) throw std::invalid_argument("actjit: x does not hold whole rows of cols values");
  size_t out = output_cols(cols);
  if (out == 0)
    throw std::invalid_argument("actjit: rows of " + std::to_string(cols) + " values; this function needs a multiple of " +
                                std::to_string(row_multiple()));
  return out;
}

template <class T>
void Kernel::forward_rows_t(DType want, std::span<const T> x, std::span<T> y, size_t cols,
                            std::span<const double> params) const {
  size_t out = check_rows(want, x.size(), cols, params.size(), 0);
  if (y.size() != x.size() / cols * out)
    throw std::invalid_argument("actjit: y must hold rows x " + std::to_string(out) + " values");
  forward_rows_raw(x.data(), y.data(), x.size() / cols, cols, params.empty() ? nullptr : params.data());
}

template <class T>
void Kernel::backward_rows_t(DType want, std::span<const T> x, std::span<const T> dy, std::span<T> dx, size_t cols,
                             std::span<const double> params, std::span<double> dparams) const {
  size_t out = check_rows(want, x.size(), cols, params.size(), dparams.size());
  if (dy.size() != x.size() / cols * out)
    throw std::invalid_argument("actjit: dy must hold rows x " + std::to_string(out) + " values");
  if (dx.size() != x.size()) throw std::invalid_argument("actjit: dx must hold as many values as x");
  backward_rows_raw(x.data(), dy.data(), dx.data(), x.size() / cols, cols, params.empty() ? nullptr : params.data(),
                    dparams.empty() ? nullptr : dparams.data());
}

template <class T>
void Kernel::backward_rows_from_output_t(DType want, std::span<const T> y, std::span<const T> dy, std::span<T> dx,
                                         size_t cols) const {
  size_t out = check_rows(want, y.size(), cols, 0, 0);  // out == cols: such functions keep the row's length
  if (!backward_from_output())
    throw std::invalid_argument("actjit: this function's backward needs x (backward_from_output() is false)");
  if (dy.size() != y.size() || dx.size() != y.size() || out != cols)
    throw std::invalid_argument("actjit: y, dy and dx must hold the same rows of cols values");
  if (backward_rows_from_output_raw(y.data(), dy.data(), dx.data(), y.size() / cols, cols) != 0)
    throw std::runtime_error("actjit: the backward from the output did not compile");
}

void Kernel::backward_rows_from_output(std::span<const float> y, std::span<const float> dy, std::span<float> dx,
                                       size_t cols) const {
  backward_rows_from_output_t(DType::F32, y, dy, dx, cols);
}
void Kernel::backward_rows_from_output(std::span<const double> y, std::span<const double> dy, std::span<double> dx,
                                       size_t cols) const {
  backward_rows_from_output_t(DType::F64, y, dy, dx, cols);
}

void Kernel::forward_rows(std::span<const float> x, std::span<float> y, size_t cols,
                          std::span<const double> params) const {
  forward_rows_t(DType::F32, x, y, cols, params);
}
void Kernel::forward_rows(std::span<const double> x, std::span<double> y, size_t cols,
                          std::span<const double> params) const {
  forward_rows_t(DType::F64, x, y, cols, params);
}
void Kernel::backward_rows(std::span<const float> x, std::span<const float> dy, std::span<float> dx, size_t cols,
                           std::span<const double> params, std::span<double> dparams) const {
  backward_rows_t(DType::F32, x, dy, dx, cols, params, dparams);
}
void Kernel::backward_rows(std::span<const double> x, std::span<const double> dy, std::span<double> dx, size_t cols,
                           std::span<const double> params, std::span<double> dparams) const {
  backward_rows_t(DType::F64, x, dy, dx, cols, params, dparams);
}

template <class T>
void Kernel::forward_with_derivative_t(DType want, std::span<const T> x, std::span<T> y, std::span<T> dydx,
                                       std::span<const double> params) const {
  check(want, x.size(), y.size(), params.size(), 0);
  check(want, x.size(), dydx.size(), params.size(), 0);
  if (rowwise()) throw std::invalid_argument("actjit: a row-wise function has no forward_with_derivative");
  if (forward_with_derivative_raw(x.data(), y.data(), dydx.data(), x.size(), params.empty() ? nullptr : params.data()))
    throw std::runtime_error("actjit: the fused kernel did not compile");
}
void Kernel::forward_with_derivative(std::span<const float> x, std::span<float> y, std::span<float> dydx,
                                     std::span<const double> params) const {
  forward_with_derivative_t(DType::F32, x, y, dydx, params);
}
void Kernel::forward_with_derivative(std::span<const double> x, std::span<double> y, std::span<double> dydx,
                                     std::span<const double> params) const {
  forward_with_derivative_t(DType::F64, x, y, dydx, params);
}

void Kernel::forward(std::span<const float> x, std::span<float> y, std::span<const double> params) const {
  if (rowwise()) return forward_rows(x, y, x.size(), params);
  check(DType::F32, x.size(), y.size(), params.size(), 0);
  forward_raw(x.data(), y.data(), x.size(), params.empty() ? nullptr : params.data());
}
void Kernel::forward(std::span<const double> x, std::span<double> y, std::span<const double> params) const {
  if (rowwise()) return forward_rows(x, y, x.size(), params);
  check(DType::F64, x.size(), y.size(), params.size(), 0);
  forward_raw(x.data(), y.data(), x.size(), params.empty() ? nullptr : params.data());
}
void Kernel::backward(std::span<const float> x, std::span<const float> dy, std::span<float> dx,
                      std::span<const double> params, std::span<double> dparams) const {
  if (rowwise()) return backward_rows(x, dy, dx, x.size(), params, dparams);
  check(DType::F32, x.size(), dy.size(), params.size(), dparams.size());
  check(DType::F32, x.size(), dx.size(), 0, 0);
  backward_raw(x.data(), dy.data(), dx.data(), x.size(), params.empty() ? nullptr : params.data(),
               dparams.empty() ? nullptr : dparams.data());
}
void Kernel::backward(std::span<const double> x, std::span<const double> dy, std::span<double> dx,
                      std::span<const double> params, std::span<double> dparams) const {
  if (rowwise()) return backward_rows(x, dy, dx, x.size(), params, dparams);
  check(DType::F64, x.size(), dy.size(), params.size(), dparams.size());
  check(DType::F64, x.size(), dx.size(), 0, 0);
  backward_raw(x.data(), dy.data(), dx.data(), x.size(), params.empty() ? nullptr : params.data(),
               dparams.empty() ? nullptr : dparams.data());
}

}  // namespace actjit
