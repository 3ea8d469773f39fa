// actjit next to its peers, in one process, interleaved: oneDNN's eltwise
// and softmax primitives (when built with libdnnl-dev), hand-written Eigen
// 3.4 array expressions, a plain scalar loop, and a streaming kernel
// (y = a*x; dx = dy*x) as the memory-bandwidth reference. Prints markdown
// tables with ratios. Throughput is elements per nanosecond (input elements).
//
//   build/bench/actjit_bench [--quick] [--sizes 16Ki,1Mi,64Mi] [--threads 1,2]
//                            [--dtypes f32,f64] [--only NAME,...] [--no-softmax]
//       (--only: catalogue names, the composites' texts, or any other source,
//       which runs without peers: --only "log(x),log1p(x)")
//   build/bench/actjit_bench --compile   (compile latency: LLVM, disk cache, memory cache)
//   build/bench/actjit_bench --fused     (forward_with_derivative against forward + backward)
//   build/bench/actjit_bench --in-place  (y over x and dx over dy against other arrays)
//
// Each measurement is the median of several batches; the peers of one row
// run round-robin within each batch, so machine noise hits them alike.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <immintrin.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include "actjit/actjit.hpp"
#include "tools/cli_args.hpp"

#ifdef ACTJIT_BENCH_DNNL
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

using Clock = std::chrono::steady_clock;

template <class T>
using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

/// A hand-written implementation (forward and backward) for Eigen and for
/// the scalar loop; either may be absent.
template <class T>
struct Hand {
  std::function<void(CArr<T>, Arr<T>)> eigen_fwd;
  std::function<void(CArr<T>, CArr<T>, Arr<T>)> eigen_bwd;
  // Plain loops with the element function inlined (one indirect call per
  // array, not per element).
  std::function<void(const T*, T*, size_t)> scalar_fwd;
  std::function<void(const T*, const T*, T*, size_t)> scalar_bwd;
  Hand() = default;
  template <class EF, class EB, class SF, class SB>
  Hand(EF ef, EB eb, SF sf, SB sb)
      : eigen_fwd(ef),
        eigen_bwd(eb),
        scalar_fwd([sf](const T* x, T* y, size_t n) {
          for (size_t i = 0; i < n; ++i) y[i] = sf(x[i]);
        }),
        scalar_bwd([sb](const T* x, const T* dy, T* dx, size_t n) {
          for (size_t i = 0; i < n; ++i) dx[i] = sb(x[i], dy[i]);
        }) {}
};

template <class T>
T sig(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

/// Hand-written versions: what a user of Eigen or C++ would write, with the
/// usual stable forms (Eigen's logistic(), log1p for softplus).
template <class T>
std::map<std::string, Hand<T>> hand_written() {
  std::map<std::string, Hand<T>> h;
  const T c_gelu = T(0.7071067811865476), c_t = T(0.7978845608028654);
  h["relu"] = {[](auto x, auto y) { y = x.max(T(0)); }, [](auto x, auto dy, auto dx) { dx = (x > T(0)).select(dy, T(0)); },
               [](T x) { return x > 0 ? x : T(0); }, [](T x, T dy) { return x > 0 ? dy : T(0); }};
  h["leaky_relu"] = {[](auto x, auto y) { y = (x > T(0)).select(x, T(0.01) * x); },
                     [](auto x, auto dy, auto dx) { dx = (x > T(0)).select(dy, T(0.01) * dy); },
                     [](T x) { return x > 0 ? x : T(0.01) * x; }, [](T x, T dy) { return x > 0 ? dy : T(0.01) * dy; }};
  h["elu"] = {[](auto x, auto y) { y = (x > T(0)).select(x, x.exp() - T(1)); },
              [](auto x, auto dy, auto dx) { dx = (x > T(0)).select(dy, dy * x.exp()); },
              [](T x) { return x > 0 ? x : std::expm1(x); }, [](T x, T dy) { return x > 0 ? dy : dy * std::exp(x); }};
  h["sigmoid"] = {[](auto x, auto y) { y = x.logistic(); },
                  [](auto x, auto dy, auto dx) {
                    auto s = x.logistic();
                    dx = dy * s * (T(1) - s);
                  },
                  [](T x) { return sig(x); }, [](T x, T dy) { T s = sig(x); return dy * s * (1 - s); }};
  h["tanh"] = {[](auto x, auto y) { y = x.tanh(); }, [](auto x, auto dy, auto dx) { auto t = x.tanh(); dx = dy * (T(1) - t * t); },
               [](T x) { return std::tanh(x); }, [](T x, T dy) { T t = std::tanh(x); return dy * (1 - t * t); }};
  h["gelu"] = {[=](auto x, auto y) { y = T(0.5) * x * (T(1) + (x * c_gelu).erf()); },
               [=](auto x, auto dy, auto dx) {
                 dx = dy * (T(0.5) * (T(1) + (x * c_gelu).erf()) + x * T(0.3989422804014327) * (T(-0.5) * x * x).exp());
               },
               [=](T x) { return T(0.5) * x * (1 + std::erf(x * c_gelu)); },
               [=](T x, T dy) {
                 return dy * (T(0.5) * (1 + std::erf(x * c_gelu)) + x * T(0.3989422804014327) * std::exp(T(-0.5) * x * x));
               }};
  h["gelu_tanh"] = {[=](auto x, auto y) { y = T(0.5) * x * (T(1) + (c_t * (x + T(0.044715) * x.cube())).tanh()); },
                    [=](auto x, auto dy, auto dx) {
                      auto t = (c_t * (x + T(0.044715) * x.cube())).tanh();
                      dx = dy * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * c_t * (T(1) + T(3 * 0.044715) * x * x));
                    },
                    [=](T x) { return T(0.5) * x * (1 + std::tanh(c_t * (x + T(0.044715) * x * x * x))); },
                    [=](T x, T dy) {
                      T t = std::tanh(c_t * (x + T(0.044715) * x * x * x));
                      return dy * (T(0.5) * (1 + t) + T(0.5) * x * (1 - t * t) * c_t * (1 + T(3 * 0.044715) * x * x));
                    }};
  auto swish = Hand<T>{[](auto x, auto y) { y = x * x.logistic(); },
                       [](auto x, auto dy, auto dx) { auto s = x.logistic(); dx = dy * (s + x * s * (T(1) - s)); },
                       [](T x) { return x * sig(x); }, [](T x, T dy) { T s = sig(x); return dy * (s + x * s * (1 - s)); }};
  h["swish"] = swish;
  h["silu"] = swish;
  h["softplus"] = {[](auto x, auto y) { y = x.max(T(0)) + (-x.abs()).exp().log1p(); },
                   [](auto x, auto dy, auto dx) { dx = dy * x.logistic(); },
                   [](T x) { return std::max(x, T(0)) + std::log1p(std::exp(-std::fabs(x))); },
                   [](T x, T dy) { return dy * sig(x); }};
  h["mish"] = {[](auto x, auto y) { y = x * (x.max(T(0)) + (-x.abs()).exp().log1p()).tanh(); },
               [](auto x, auto dy, auto dx) {
                 auto t = (x.max(T(0)) + (-x.abs()).exp().log1p()).tanh();
                 dx = dy * (t + x * (T(1) - t * t) * x.logistic());
               },
               [](T x) { return x * std::tanh(std::max(x, T(0)) + std::log1p(std::exp(-std::fabs(x)))); },
               [](T x, T dy) {
                 T t = std::tanh(std::max(x, T(0)) + std::log1p(std::exp(-std::fabs(x))));
                 return dy * (t + x * (1 - t * t) * sig(x));
               }};
  h["softsign"] = {[](auto x, auto y) { y = x / (T(1) + x.abs()); },
                   [](auto x, auto dy, auto dx) { dx = dy / (T(1) + x.abs()).square(); },
                   [](T x) { return x / (1 + std::fabs(x)); }, [](T x, T dy) { T d = 1 + std::fabs(x); return dy / (d * d); }};
  h["hardswish"] = {[](auto x, auto y) { y = x * (x + T(3)).max(T(0)).min(T(6)) / T(6); },
                    [](auto x, auto dy, auto dx) {
                      dx = (x < T(-3)).select(T(0), (x > T(3)).select(dy, dy * (T(2) * x + T(3)) / T(6)));
                    },
                    [](T x) { return x * std::min(std::max(x + 3, T(0)), T(6)) / 6; },
                    [](T x, T dy) { return x < -3 ? T(0) : x > 3 ? dy : dy * (2 * x + 3) / 6; }};
  h["telu"] = {[](auto x, auto y) { y = x * x.exp().tanh(); },
               [](auto x, auto dy, auto dx) { auto e = x.exp(); auto t = e.tanh(); dx = dy * (t + x * e * (T(1) - t * t)); },
               [](T x) { return x * std::tanh(std::exp(x)); },
               [](T x, T dy) { T e = std::exp(x), t = std::tanh(e); return dy * (t + x * e * (1 - t * t)); }};
  // The custom composites (no library ships them).
  h["x*tanh(exp(x))"] = h["telu"];
  h["x*sigmoid(1.702*x)"] = {[](auto x, auto y) { y = x * (T(1.702) * x).logistic(); },
                             [](auto x, auto dy, auto dx) {
                               auto s = (T(1.702) * x).logistic();
                               dx = dy * (s + T(1.702) * x * s * (T(1) - s));
                             },
                             [](T x) { return x * sig(T(1.702) * x); },
                             [](T x, T dy) { T s = sig(T(1.702) * x); return dy * (s + T(1.702) * x * s * (1 - s)); }};
  h["x*tanh(softplus(1.5*x))"] = {
      [](auto x, auto y) { auto b = T(1.5) * x; y = x * (b.max(T(0)) + (-b.abs()).exp().log1p()).tanh(); },
      [](auto x, auto dy, auto dx) {
        auto b = T(1.5) * x;
        auto t = (b.max(T(0)) + (-b.abs()).exp().log1p()).tanh();
        dx = dy * (t + T(1.5) * x * (T(1) - t * t) * b.logistic());
      },
      [](T x) { T b = T(1.5) * x; return x * std::tanh(std::max(b, T(0)) + std::log1p(std::exp(-std::fabs(b)))); },
      [](T x, T dy) {
        T b = T(1.5) * x, t = std::tanh(std::max(b, T(0)) + std::log1p(std::exp(-std::fabs(b))));
        return dy * (t + T(1.5) * x * (1 - t * t) * sig(b));
      }};
  h["x*sigmoid(x)+0.1*tanh(x)"] = {
      [](auto x, auto y) { y = x * x.logistic() + T(0.1) * x.tanh(); },
      [](auto x, auto dy, auto dx) {
        auto s = x.logistic();
        auto t = x.tanh();
        dx = dy * (s + x * s * (T(1) - s) + T(0.1) * (T(1) - t * t));
      },
      [](T x) { return x * sig(x) + T(0.1) * std::tanh(x); },
      [](T x, T dy) { T s = sig(x), t = std::tanh(x); return dy * (s + x * s * (1 - s) + T(0.1) * (1 - t * t)); }};
  h["sqrt(x*x+1)-1"] = {[](auto x, auto y) { y = (x * x + T(1)).sqrt() - T(1); },
                        [](auto x, auto dy, auto dx) { dx = dy * x / (x * x + T(1)).sqrt(); },
                        [](T x) { return std::sqrt(x * x + 1) - 1; }, [](T x, T dy) { return dy * x / std::sqrt(x * x + 1); }};
  // Snake (Liu, Ziyin and Ueda 2020; BigVGAN) with alpha = 1
  h["x+sin(x)^2"] = {[](auto x, auto y) { y = x + x.sin().square(); },
                     [](auto x, auto dy, auto dx) { dx = dy * (T(1) + T(2) * x.sin() * x.cos()); },
                     [](T x) {
                       T s = std::sin(x);
                       return x + s * s;
                     },
                     [](T x, T dy) { return dy * (1 + 2 * std::sin(x) * std::cos(x)); }};
  return h;
}

/// The custom composites: actjit source for each name above.
const std::vector<std::pair<std::string, std::string>> kCustom = {
    {"x*tanh(exp(x))", "x * tanh(exp(x))"},
    {"x*sigmoid(1.702*x)", "x * sigmoid(1.702 * x)"},
    {"x*tanh(softplus(1.5*x))", "x * tanh(softplus(1.5 * x))"},
    {"x*sigmoid(x)+0.1*tanh(x)", "x * sigmoid(x) + 0.1 * tanh(x)"},
    {"sqrt(x*x+1)-1", "sqrt(x * x + 1) - 1"},
    {"x+sin(x)^2", "x + sin(x)^2"},
};

#ifdef ACTJIT_BENCH_DNNL
/// oneDNN's eltwise algorithm (and alpha, beta) for a function, if it has one.
std::optional<std::tuple<dnnl::algorithm, float, float>> dnnl_alg(const std::string& f) {
  using A = dnnl::algorithm;
  static const std::map<std::string, std::tuple<A, float, float>> m = {
      {"relu", {A::eltwise_relu, 0.f, 0.f}},       {"leaky_relu", {A::eltwise_relu, 0.01f, 0.f}},
      {"elu", {A::eltwise_elu, 1.f, 0.f}},         {"sigmoid", {A::eltwise_logistic, 0.f, 0.f}},
      {"tanh", {A::eltwise_tanh, 0.f, 0.f}},       {"gelu", {A::eltwise_gelu_erf, 0.f, 0.f}},
      {"gelu_tanh", {A::eltwise_gelu_tanh, 0.f, 0.f}}, {"swish", {A::eltwise_swish, 1.f, 0.f}},
      {"silu", {A::eltwise_swish, 1.f, 0.f}},      {"softplus", {A::eltwise_soft_relu, 0.f, 0.f}},
      {"mish", {A::eltwise_mish, 0.f, 0.f}},       {"hardswish", {A::eltwise_hardswish, 0.f, 0.f}},
      {"logsigmoid", {A::eltwise_logsigmoid, 0.f, 0.f}}, {"hardtanh", {A::eltwise_clip_v2, -1.f, 1.f}},
      {"relu6", {A::eltwise_clip_v2, 0.f, 6.f}},   {"identity", {A::eltwise_linear, 1.f, 0.f}},
      {"x*sigmoid(1.702*x)", {A::eltwise_swish, 1.702f, 0.f}},
  };
  auto it = m.find(f);
  if (it == m.end()) return std::nullopt;
  return it->second;
}
#endif

struct Timer {
  int batches;
  double min_seconds;
};

/// Median over batches of (elements / ns) for each candidate, interleaved.
std::vector<double> measure(const std::vector<std::function<void()>>& fns, size_t elements, const Timer& t) {
  std::vector<std::vector<double>> rates(fns.size());
  std::vector<int> reps(fns.size(), 1);
  for (size_t k = 0; k < fns.size(); ++k) {  // warm up and calibrate
    fns[k]();
    auto a = Clock::now();
    fns[k]();
    double s = std::chrono::duration<double>(Clock::now() - a).count();
    reps[k] = std::max(1, int(t.min_seconds / std::max(s, 1e-9)));
  }
  // Round-robin in a new order each batch (a fixed seed): what ran just
  // before a candidate (and left its arrays in the caches) changes from
  // batch to batch instead of always favouring the same one. (A rotation
  // kept every candidate's predecessor but the first.)
  std::vector<size_t> order(fns.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::mt19937 shuffle_rng(12345);
  for (int b = 0; b < t.batches; ++b) {
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    for (size_t k : order) {
      auto a = Clock::now();
      for (int r = 0; r < reps[k]; ++r) fns[k]();
      double ns = std::chrono::duration<double, std::nano>(Clock::now() - a).count();
      rates[k].push_back(double(elements) * reps[k] / ns);
    }
  }
  std::vector<double> out;
  for (auto& r : rates) {
    std::sort(r.begin(), r.end());
    out.push_back(r[r.size() / 2]);
  }
  return out;
}

/// Runs body(begin, end) over [0, n) on `threads` std::threads (the peers
/// without their own threading: Eigen, the scalar loop, streaming).
void split(size_t n, unsigned threads, const std::function<void(size_t, size_t)>& body) {
  if (threads <= 1) return body(0, n);
  std::vector<std::thread> ts;
  size_t per = (n + threads - 1) / threads;
  for (unsigned t = 1; t < threads; ++t)
    ts.emplace_back([&, t] { body(std::min(n, t * per), std::min(n, (t + 1) * per)); });
  body(0, std::min(n, per));
  for (auto& th : ts) th.join();
}

#if defined(__AVX512F__)
constexpr size_t kStreamBytes = 64;
#elif defined(__AVX__)
constexpr size_t kStreamBytes = 32;
#else
constexpr size_t kStreamBytes = 16;
#endif

/// A streaming store of one register's bytes at p (aligned to them): the
/// integer form of the instruction, whatever the element type.
inline void stream_register(void* p, const void* bytes) {
#if defined(__AVX512F__)
  __m512i v;
  std::memcpy(&v, bytes, sizeof v);
  _mm512_stream_si512(static_cast<__m512i*>(p), v);
#elif defined(__AVX__)
  __m256i v;
  std::memcpy(&v, bytes, sizeof v);
  _mm256_stream_si256(static_cast<__m256i*>(p), v);
#else
  __m128i v;
  std::memcpy(&v, bytes, sizeof v);
  _mm_stream_si128(static_cast<__m128i*>(p), v);
#endif
}

/// out[i] = a[i] * b[i] (or scale * b[i] where a is null) with streaming
/// stores of the widest registers this build has (AVX-512 with
/// -march=native here, else AVX, else SSE2) from out's first aligned
/// element: the streaming kernel as actjit's kernels run it for outputs of
/// 16 MiB or more (written without being read first).
template <class T>
void streaming_product(const T* a, T scale, const T* b, T* out, size_t n) {
  typedef T V __attribute__((vector_size(kStreamBytes)));
  constexpr size_t w = kStreamBytes / sizeof(T);
  size_t i = 0;
  for (; i < n && reinterpret_cast<uintptr_t>(out + i) % kStreamBytes; ++i) out[i] = (a ? a[i] : scale) * b[i];
  for (; i + w <= n; i += w) {
    V f, x;
    std::memcpy(&x, b + i, sizeof x);
    if (a) std::memcpy(&f, a + i, sizeof f);
    else f = V{} + scale;
    V product = f * x;
    stream_register(out + i, &product);
  }
  for (; i < n; ++i) out[i] = (a ? a[i] : scale) * b[i];
  _mm_sfence();
}

std::string fmt(double v) {
  if (!(v > 0)) return "—";
  char b[32];
  std::snprintf(b, sizeof b, v >= 10 ? "%.1f" : "%.2f", v);
  return b;
}

struct Options {
  std::vector<size_t> sizes{size_t(1) << 14, size_t(1) << 20, size_t(1) << 26};
  std::vector<unsigned> threads{1, 2};
  std::vector<std::string> dtypes{"f32", "f64"};
  std::vector<std::string> only;
  bool softmax = true;
  bool quick = false;
  bool compile = false;
  bool fused = false;
  bool in_place = false;
};

size_t parse_size(const std::string& s) {
  size_t v = std::stoul(s);
  if (s.find("Ki") != std::string::npos) v <<= 10;
  if (s.find("Mi") != std::string::npos) v <<= 20;
  return v;
}

std::string size_name(size_t n) {
  if (n % (1 << 20) == 0) return std::to_string(n >> 20) + "Mi";
  if (n % (1 << 10) == 0) return std::to_string(n >> 10) + "Ki";
  return std::to_string(n);
}

template <class T>
void elementwise(const Options& o, actjit::Runtime& rt, const char* tname) {
  auto hands = hand_written<T>();
  std::vector<std::pair<std::string, std::string>> funcs;
  // The catalogue's elementwise functions, then the custom composites.
  std::string cat(actjit::Runtime::catalogue());
  for (size_t a = 0; a < cat.size();) {
    size_t b = cat.find('\n', a);
    if (b == std::string::npos) b = cat.size();
    std::string line = cat.substr(a, b - a);
    a = b + 1;
    size_t paren = line.find('(');
    if (line.empty() || line[0] == '#' || line[0] == '_' || paren == std::string::npos) continue;
    std::string name = line.substr(0, paren);
    if (rt.compile(name).rowwise()) continue;
    funcs.push_back({name, name});
  }
  funcs.push_back({"tanh", "tanh"});
  for (auto& c : kCustom) funcs.push_back(c);
  // Sources in --only that are neither: actjit alone (no peer has them);
  // row-wise ones run in the softmax section.
  for (const std::string& src : o.only) {
    if (std::any_of(funcs.begin(), funcs.end(), [&](auto& f) { return f.first == src; })) continue;
    try {
      if (!rt.compile(src).rowwise()) funcs.push_back({src, src});
    } catch (const actjit::Error& e) {
      std::fprintf(stderr, "error: --only '%s': %s\n", src.c_str(), e.what());
      std::exit(2);
    }
  }
  if (!o.only.empty())
    funcs.erase(std::remove_if(funcs.begin(), funcs.end(),
                               [&](auto& f) { return std::find(o.only.begin(), o.only.end(), f.first) == o.only.end(); }),
                funcs.end());
  const actjit::DType dt = sizeof(T) == 4 ? actjit::DType::F32 : actjit::DType::F64;
  for (size_t n : o.sizes) {
    std::vector<T> x(n), y(n), dy(n), dx(n);
    for (size_t i = 0; i < n; ++i) {
      x[i] = T(-8 + 16 * double((i * 2654435761u) % 100003) / 100003.0);
      dy[i] = T(1 + 0.001 * double(i % 7));
    }
    Timer timer{n >= (size_t(1) << 26) ? 3 : (o.quick ? 3 : 7), n >= (size_t(1) << 26) ? 0.05 : 0.01};
    for (unsigned th : o.threads) {
      actjit::set_threads(th);
#ifdef ACTJIT_BENCH_DNNL
      omp_set_num_threads(int(th));
      dnnl::engine eng(dnnl::engine::kind::cpu, 0);
      dnnl::stream strm(eng);
      // oneDNN 2.6 has no f64 eltwise: float64 rows leave it out.
      dnnl::memory::desc md({dnnl::memory::dim(n)}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
      bool dnnl_dtype_ok = sizeof(T) == 4;
#endif
      // Streaming reference.
      const T a = T(1.0001);
      auto stream_fwd = [&] { split(n, th, [&](size_t b, size_t e) { for (size_t i = b; i < e; ++i) y[i] = a * x[i]; }); };
      auto stream_bwd = [&] { split(n, th, [&](size_t b, size_t e) { for (size_t i = b; i < e; ++i) dx[i] = dy[i] * x[i]; }); };
      // The same with streaming stores (what actjit's kernels use for
      // outputs of 16 MiB or more), shown beside it out of cache.
      auto stream_fwd_nt = [&] {
        split(n, th, [&](size_t b, size_t e) { streaming_product<T>(nullptr, a, x.data() + b, y.data() + b, e - b); });
      };
      auto stream_bwd_nt = [&] {
        split(n, th, [&](size_t b, size_t e) { streaming_product<T>(dy.data() + b, 0, x.data() + b, dx.data() + b, e - b); });
      };
      const bool out_of_cache = n >= (size_t(1) << 26);
      auto stream = out_of_cache ? measure({stream_fwd, stream_bwd, stream_fwd_nt, stream_bwd_nt}, n, timer)
                                 : measure({stream_fwd, stream_bwd}, n, timer);
      std::printf("\n### %s, %s elements, %u thread%s\n\n", tname, size_name(n).c_str(), th, th == 1 ? "" : "s");
      std::printf("streaming kernel: %s e/ns forward (y = a*x), %s e/ns backward (dx = dy*x)", fmt(stream[0]).c_str(),
                  fmt(stream[1]).c_str());
      if (out_of_cache)
        std::printf("; with streaming stores %s / %s e/ns. \"%% stream\" below: against the streaming kernel run with "
                    "each function; \"%% stream NT\": against its streaming-store form (actjit's kernels use streaming "
                    "stores for outputs of 16 MiB or more)",
                    fmt(stream[2]).c_str(), fmt(stream[3]).c_str());
      std::printf("\n\n");
      std::printf("| function | actjit fwd | oneDNN | Eigen | scalar | fwd ratio | actjit bwd | oneDNN | Eigen | scalar | bwd ratio |%s\n",
                  out_of_cache ? " fwd % stream | bwd % stream | fwd % stream NT | bwd % stream NT |" : "");
      std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|%s\n", out_of_cache ? "---:|---:|---:|---:|" : "");
      double log_f = 0, log_b = 0;
      int count_f = 0, count_b = 0;
      for (auto& [name, src] : funcs) {
        actjit::Kernel k = rt.compile(src, dt);
        std::vector<std::function<void()>> fw, bw;
        fw.push_back([&] { k.forward(std::span<const T>(x), std::span<T>(y)); });
        bw.push_back([&] { k.backward(std::span<const T>(x), std::span<const T>(dy), std::span<T>(dx)); });
        int i_dnnl = -1, i_eigen = -1, i_scalar = -1;
#ifdef ACTJIT_BENCH_DNNL
        std::optional<dnnl::eltwise_forward> dfw;
        std::optional<dnnl::eltwise_backward> dbw;
        dnnl::memory mx, my, mdy, mdx;
        if (auto alg = dnnl_alg(name); alg && dnnl_dtype_ok) {
          auto [al, alpha, beta] = *alg;
          mx = dnnl::memory(md, eng, x.data());
          my = dnnl::memory(md, eng, y.data());
          mdy = dnnl::memory(md, eng, dy.data());
          mdx = dnnl::memory(md, eng, dx.data());
          dnnl::eltwise_forward::primitive_desc fpd({dnnl::prop_kind::forward_training, al, md, alpha, beta}, eng);
          dfw.emplace(fpd);
          dnnl::eltwise_backward::primitive_desc bpd({al, md, md, alpha, beta}, eng, fpd);
          dbw.emplace(bpd);
          i_dnnl = int(fw.size());
          fw.push_back([&] {
            dfw->execute(strm, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DST, my}});
            strm.wait();
          });
          bw.push_back([&] {
            dbw->execute(strm, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_DIFF_SRC, mdx}});
            strm.wait();
          });
        }
#endif
        auto h = hands.find(name);
        if (h != hands.end()) {
          auto& hw = h->second;
          i_eigen = int(fw.size());
          fw.push_back([&] {
            split(n, th, [&](size_t b, size_t e) { hw.eigen_fwd(CArr<T>(x.data() + b, long(e - b)), Arr<T>(y.data() + b, long(e - b))); });
          });
          bw.push_back([&] {
            split(n, th, [&](size_t b, size_t e) {
              hw.eigen_bwd(CArr<T>(x.data() + b, long(e - b)), CArr<T>(dy.data() + b, long(e - b)), Arr<T>(dx.data() + b, long(e - b)));
            });
          });
          i_scalar = int(fw.size());
          fw.push_back([&] {
            split(n, th, [&](size_t b, size_t e) { hw.scalar_fwd(x.data() + b, y.data() + b, e - b); });
          });
          bw.push_back([&] {
            split(n, th, [&](size_t b, size_t e) { hw.scalar_bwd(x.data() + b, dy.data() + b, dx.data() + b, e - b); });
          });
        }
        // Out of cache, the streaming kernel runs in the same round-robin as
        // the function (last, not a peer): the memory's speed drifts over a
        // run, so "% stream" compares with what it gave the same minutes.
        size_t peers = fw.size();
        bool with_stream = out_of_cache;
        if (with_stream) {
          fw.push_back(stream_fwd);
          bw.push_back(stream_bwd);
          fw.push_back(stream_fwd_nt);
          bw.push_back(stream_bwd_nt);
        }
        std::vector<std::function<void()>> all = fw;
        all.insert(all.end(), bw.begin(), bw.end());
        std::vector<double> r = measure(all, n, timer);
        size_t nf = fw.size();
        auto col = [&](int i, size_t off) { return i < 0 ? std::string("—") : fmt(r[off + size_t(i)]); };
        double best_f = 0, best_b = 0;
        for (size_t i = 1; i < peers; ++i) {
          best_f = std::max(best_f, r[i]);
          best_b = std::max(best_b, r[nf + i]);
        }
        std::string rf = best_f > 0 ? fmt(r[0] / best_f) + "×" : "—", rb = best_b > 0 ? fmt(r[nf] / best_b) + "×" : "—";
        if (best_f > 0) log_f += std::log(r[0] / best_f), ++count_f;
        if (best_b > 0) log_b += std::log(r[nf] / best_b), ++count_b;
        std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", name.c_str(), fmt(r[0]).c_str(),
                    col(i_dnnl, 0).c_str(), col(i_eigen, 0).c_str(), col(i_scalar, 0).c_str(), rf.c_str(),
                    fmt(r[nf]).c_str(), col(i_dnnl, nf).c_str(), col(i_eigen, nf).c_str(), col(i_scalar, nf).c_str(),
                    rb.c_str());
        if (with_stream)
          std::printf(" %.0f%% | %.0f%% | %.0f%% | %.0f%% |", 100 * r[0] / r[peers], 100 * r[nf] / r[nf + peers],
                      100 * r[0] / r[peers + 1], 100 * r[nf] / r[nf + peers + 1]);
        std::printf("\n");
        std::fflush(stdout);
      }
      std::printf("\ngeometric mean of actjit / fastest peer: forward %s×, backward %s×\n",
                  count_f ? fmt(std::exp(log_f / count_f)).c_str() : "—", count_b ? fmt(std::exp(log_b / count_b)).c_str() : "—");
    }
  }
}

/// softmax and log_softmax next to oneDNN's softmax and logsoftmax primitives.
void softmax_bench(const Options& o, actjit::Runtime& rt) {
  std::printf("\n### softmax and log_softmax, float32, 1 thread: in cache (16Ki and 1Mi elements) and not (4Mi: 16 MiB an array)\n\n");
  std::printf("| function | elements | cols | rows | actjit fwd | oneDNN fwd | ratio | actjit bwd from x | from y | oneDNN bwd (y) | ratio x | ratio y |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  actjit::set_threads(1);
  for (const char* name : {"softmax", "log_softmax"})
  for (size_t total : {size_t(1) << 14, size_t(1) << 20, size_t(1) << 22})
  for (size_t cols : {size_t(128), size_t(1000), size_t(32768)}) {
    if (cols > total) continue;
    actjit::Kernel k = rt.compile(name, actjit::DType::F32);
    size_t rows = std::max<size_t>(1, total / cols), n = rows * cols;
    std::vector<float> x(n), y(n), dy(n), dx(n);
    for (size_t i = 0; i < n; ++i) {
      x[i] = float(-8 + 16 * double((i * 2654435761u) % 100003) / 100003.0);
      dy[i] = float(1 + 0.001 * double(i % 7));
    }
    Timer timer{o.quick ? 3 : 7, 0.02};
    std::vector<std::function<void()>> fns;
    fns.push_back([&] { k.forward_rows(std::span<const float>(x), std::span<float>(y), cols); });
    fns.push_back([&] { k.backward_rows(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), cols); });
    fns.push_back([&] {
      k.backward_rows_from_output(std::span<const float>(y), std::span<const float>(dy), std::span<float>(dx), cols);
    });
#ifdef ACTJIT_BENCH_DNNL
    omp_set_num_threads(1);
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    dnnl::memory::desc md({dnnl::memory::dim(rows), dnnl::memory::dim(cols)}, dnnl::memory::data_type::f32,
                          dnnl::memory::format_tag::ab);
    dnnl::memory mx(md, eng, x.data()), my(md, eng, y.data()), mdy(md, eng, dy.data()), mdx(md, eng, dx.data());
    dnnl::primitive sf, sb;
    if (std::string(name) == "log_softmax") {
      dnnl::logsoftmax_forward::primitive_desc fpd({dnnl::prop_kind::forward_training, md, 1}, eng);
      sf = dnnl::logsoftmax_forward(fpd);
      sb = dnnl::logsoftmax_backward(dnnl::logsoftmax_backward::primitive_desc({md, md, 1}, eng, fpd));
    } else {
      dnnl::softmax_forward::primitive_desc fpd({dnnl::prop_kind::forward_training, md, 1}, eng);
      sf = dnnl::softmax_forward(fpd);
      sb = dnnl::softmax_backward(dnnl::softmax_backward::primitive_desc({md, md, 1}, eng, fpd));
    }
    fns.push_back([&] { sf.execute(strm, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DST, my}}); strm.wait(); });
    fns.push_back([&] { sb.execute(strm, {{DNNL_ARG_DST, my}, {DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_DIFF_SRC, mdx}}); strm.wait(); });
#endif
    k.forward_rows(std::span<const float>(x), std::span<float>(y), cols);  // y for the backward from y
    std::vector<double> r = measure(fns, n, timer);
    double df = r.size() > 3 ? r[3] : 0, db = r.size() > 4 ? r[4] : 0;
    auto ratio = [&](double a, double b) { return b > 0 ? fmt(a / b) + "×" : std::string("—"); };
    std::printf("| %s | %s | %zu | %zu | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, size_name(total).c_str(), cols, rows,
                fmt(r[0]).c_str(), fmt(df).c_str(),
                ratio(r[0], df).c_str(), fmt(r[1]).c_str(), fmt(r[2]).c_str(), fmt(db).c_str(), ratio(r[1], db).c_str(),
                ratio(r[2], db).c_str());
    std::fflush(stdout);
  }
  std::printf("\n(oneDNN's backward reads the saved output y: actjit's backward_rows takes x and recomputes\n"
              "y, backward_rows_from_output takes y as oneDNN's does.)\n");
}

/// glu and maxout (the other row-wise built-ins; oneDNN has neither) next
/// to hand-written Eigen (row-major maps: the halves' a * logistic(b), the
/// max of the even and the odd elements) and plain loops, float32, 1 thread.
void glu_maxout_bench(const Options& o, actjit::Runtime& rt) {
  using RowMajor = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Strided = Eigen::Map<Eigen::ArrayXf, 0, Eigen::InnerStride<2>>;
  using CStrided = Eigen::Map<const Eigen::ArrayXf, 0, Eigen::InnerStride<2>>;
  std::printf("\n### glu and maxout, float32, 1 thread, rows of 1024\n\n");
  std::printf("| function | elements | actjit fwd | Eigen | scalar | fwd ratio | actjit bwd | Eigen | scalar | bwd ratio |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  actjit::set_threads(1);
  const size_t cols = 1024, h = cols / 2;
  for (const char* name : {"glu", "maxout"})
  for (size_t total : {size_t(1) << 14, size_t(1) << 20}) {
    actjit::Kernel k = rt.compile(name, actjit::DType::F32);
    size_t rows = total / cols, n = rows * cols, m = rows * h;  // m outputs
    std::vector<float> x(n), y(m), dy(m), dx(n);
    for (size_t i = 0; i < n; ++i) x[i] = float(-8 + 16 * double((i * 2654435761u) % 100003) / 100003.0);
    for (size_t i = 0; i < m; ++i) dy[i] = float(1 + 0.001 * double(i % 7));
    Eigen::Map<const RowMajor> X(x.data(), long(rows), long(cols));
    Eigen::Map<RowMajor> DX(dx.data(), long(rows), long(cols));
    Eigen::Map<RowMajor> Y(y.data(), long(rows), long(h));
    Eigen::Map<const RowMajor> DY(dy.data(), long(rows), long(h));
    RowMajor S = RowMajor::Zero(long(rows), long(h));  // glu's backward: logistic(b)
    std::vector<std::function<void()>> fns;
    fns.push_back([&] { k.forward_rows(std::span<const float>(x), std::span<float>(y), cols); });
    fns.push_back([&] { k.backward_rows(std::span<const float>(x), std::span<const float>(dy), std::span<float>(dx), cols); });
    if (std::string(name) == "glu") {
      fns.push_back([&] { Y = X.leftCols(long(h)) * X.rightCols(long(h)).logistic(); });
      fns.push_back([&] {
        S = X.rightCols(long(h)).logistic();
        DX.leftCols(long(h)) = DY * S;
        DX.rightCols(long(h)) = DY * X.leftCols(long(h)) * S * (1 - S);
      });
      fns.push_back([&] {
        for (size_t r = 0; r < rows; ++r)
          for (size_t j = 0; j < h; ++j) y[r * h + j] = x[r * cols + j] / (1 + std::exp(-x[r * cols + h + j]));
      });
      fns.push_back([&] {
        for (size_t r = 0; r < rows; ++r)
          for (size_t j = 0; j < h; ++j) {
            float a = x[r * cols + j], sg = 1 / (1 + std::exp(-x[r * cols + h + j])), g = dy[r * h + j];
            dx[r * cols + j] = g * sg;
            dx[r * cols + h + j] = g * a * sg * (1 - sg);
          }
      });
    } else {  // maxout(x, 2): the max of each pair
      CStrided even(x.data(), long(m)), odd(x.data() + 1, long(m));
      Strided dx_even(dx.data(), long(m)), dx_odd(dx.data() + 1, long(m));
      Eigen::Map<Eigen::ArrayXf> yv(y.data(), long(m));
      Eigen::Map<const Eigen::ArrayXf> dyv(dy.data(), long(m));
      fns.push_back([&] { yv = even.max(odd); });
      fns.push_back([&] {
        dx_even = (odd > even).select(0.0f, dyv);
        dx_odd = (odd > even).select(dyv, 0.0f);
      });
      fns.push_back([&] {
        for (size_t j = 0; j < m; ++j) y[j] = std::max(x[2 * j], x[2 * j + 1]);
      });
      fns.push_back([&] {
        for (size_t j = 0; j < m; ++j) {
          bool second = x[2 * j + 1] > x[2 * j];
          dx[2 * j] = second ? 0 : dy[j];
          dx[2 * j + 1] = second ? dy[j] : 0;
        }
      });
    }
    std::vector<double> r = measure(fns, n, Timer{o.quick ? 3 : 7, 0.02});
    double best_f = std::max(r[2], r[4]), best_b = std::max(r[3], r[5]);
    std::printf("| %s | %s | %s | %s | %s | %s× | %s | %s | %s | %s× |\n", name, size_name(total).c_str(), fmt(r[0]).c_str(),
                fmt(r[2]).c_str(), fmt(r[4]).c_str(), fmt(r[0] / best_f).c_str(), fmt(r[1]).c_str(), fmt(r[3]).c_str(),
                fmt(r[5]).c_str(), fmt(r[1] / best_b).c_str());
    std::fflush(stdout);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Text to callable forward and backward kernels, three ways: compiled by
/// LLVM (no cache of either kind), linked from the on-disk object cache (a
/// new process that has seen the function), and found in the runtime's
/// in-memory cache. Median wall time of `reps` compiles each.
void compile_latency(const Options& o) {
  const std::vector<std::string> sources = {
      "mish", "gelu", "swish", "selu", "softplus", "softmax", "x * tanh(exp(x))",
      "f(x, a = 0.5, b = 2) = a * x * sigmoid(b * x) + (1 - a) * tanh(x)"};
  const int reps = o.quick ? 11 : 31;
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("actjit_bench_cache." + std::to_string(::getpid()));
  actjit::Limits no_memory;
  no_memory.max_cached_kernels = 0;  // every compile starts from the text
  for (auto& d : o.dtypes) {
    actjit::DType dtype = d == "f64" ? actjit::DType::F64 : actjit::DType::F32;
    std::printf("\n### compile latency, %s: text to callable forward and backward kernels (median of %d)\n\n", d.c_str(), reps);
    std::printf("| function | LLVM (ms) | from the disk cache (ms) | in-memory cache (µs) |\n|---|---:|---:|---:|\n");
    for (const std::string& src : sources) {
      if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), src) == o.only.end()) continue;
      auto time = [&](actjit::Runtime& rt) {
        auto a = Clock::now();
        actjit::Kernel k = rt.compile(src, dtype);
        return std::chrono::duration<double>(Clock::now() - a).count();
      };
      std::vector<double> cold, disk, memory;
      actjit::Runtime llvm_rt(no_memory);
      llvm_rt.set_cache_dir("");
      actjit::Runtime disk_rt(no_memory);
      disk_rt.set_cache_dir(dir.string());
      actjit::Runtime memory_rt;
      memory_rt.set_cache_dir("");
      time(disk_rt);  // fills the disk cache
      time(memory_rt);
      for (int r = 0; r < reps; ++r) {
        cold.push_back(time(llvm_rt));
        disk.push_back(time(disk_rt));
        memory.push_back(time(memory_rt));
      }
      if (llvm_rt.cache_stats().llvm_compiles != size_t(reps) || disk_rt.cache_stats().disk_hits != size_t(reps))
        std::printf("(warning: %s: %llu LLVM compiles, %llu disk hits, expected %d each)\n", src.c_str(),
                    (unsigned long long)llvm_rt.cache_stats().llvm_compiles,
                    (unsigned long long)disk_rt.cache_stats().disk_hits, reps);
      std::printf("| `%s` | %.2f | %.3f | %.1f |\n", src.c_str(), median(cold) * 1e3, median(disk) * 1e3,
                  median(memory) * 1e6);
      std::fflush(stdout);
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::printf("\n(LLVM: the forward and the backward modules compile on two threads where the machine has two.)\n");
}

/// y and f'(x) from forward_with_derivative (one pass) against forward
/// plus backward (two passes), 1 thread, in cache.
void fused_bench(const Options& o) {
  const std::vector<std::string> sources = {"mish", "gelu", "swish", "sigmoid", "tanh", "softplus", "elu",
                                            "x*tanh(exp(x))", "x*sigmoid(1.702*x)"};
  actjit::set_threads(1);
  actjit::Runtime rt;
  for (auto& d : o.dtypes) {
    for (size_t n : o.sizes) {
      if (n > (size_t(1) << 20)) continue;  // in cache only
      std::printf("\n### y and f'(x) in one pass, %s, %s elements, 1 thread (elements/ns)\n\n", d.c_str(),
                  size_name(n).c_str());
      std::printf("| function | forward | backward | forward + backward | forward_with_derivative | gain |\n");
      std::printf("|---|---:|---:|---:|---:|---:|\n");
      for (const std::string& src : sources) {
        if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), src) == o.only.end()) continue;
        auto row = [&](auto zero) {
          using T = decltype(zero);
          actjit::Kernel k = rt.compile(src, sizeof(T) == 4 ? actjit::DType::F32 : actjit::DType::F64);
          std::vector<T> x(n), y(n), dy(n, T(1)), dx(n), dd(n);
          for (size_t i = 0; i < n; ++i) x[i] = T(-8 + 16 * double((i * 2654435761u) % 100003) / 100003.0);
          std::span<const T> xs(x);
          Timer timer{o.quick ? 3 : 7, 0.02};
          std::vector<double> r = measure(
              {[&] { k.forward(xs, std::span<T>(y)); },
               [&] { k.backward(xs, std::span<const T>(dy), std::span<T>(dx)); },
               [&] {
                 k.forward(xs, std::span<T>(y));
                 k.backward(xs, std::span<const T>(dy), std::span<T>(dx));
               },
               [&] { k.forward_with_derivative(xs, std::span<T>(y), std::span<T>(dd)); }},
              n, timer);
          std::printf("| `%s` | %s | %s | %s | %s | %s× |\n", src.c_str(), fmt(r[0]).c_str(), fmt(r[1]).c_str(),
                      fmt(r[2]).c_str(), fmt(r[3]).c_str(), fmt(r[3] / r[2]).c_str());
        };
        if (d == "f64") row(0.0);
        else row(0.0f);
        std::fflush(stdout);
      }
    }
  }
}

/// In-place calls (y over x, dx over dy) against calls into another array,
/// float32, 1 thread, in cache. Each call first copies the input back (the
/// values would drift call to call otherwise); the copy's own time, measured
/// beside, is taken off.
void in_place_bench(const Options& o) {
  // (--only: any sources instead)
  const std::vector<std::string> sources =
      !o.only.empty() ? o.only : std::vector<std::string>{"relu", "sigmoid", "swish", "mish",           "softplus",
                                                          "gelu", "telu",    "tanh",  "x*tanh(exp(x))", "x*x*exp(x)"};
  actjit::set_threads(1);
  actjit::Runtime rt;
  for (size_t n : o.sizes) {
    if (n > (size_t(1) << 20)) continue;  // in cache only
    std::printf("\n### In place, float32, %s elements, 1 thread (elements/ns)\n\n", size_name(n).c_str());
    std::printf("| function | forward | in place | ratio | backward | dx over dy | ratio |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (const std::string& src : sources) {
      actjit::Kernel k;
      try {
        k = rt.compile(src, actjit::DType::F32);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "error: --only '%s': %s\n", src.c_str(), e.what());
        std::exit(2);
      }
      std::vector<float> x(n), dy(n), y(n), dx(n), buf(n);
      for (size_t i = 0; i < n; ++i) {
        x[i] = float(-8 + 16 * double((i * 2654435761u) % 100003) / 100003.0);
        dy[i] = float(0.5 + double((i * 40503u) % 1009) / 1009.0);
      }
      std::span<const float> xs(x), dys(dy);
      auto restore = [&](const std::vector<float>& from) { std::copy(from.begin(), from.end(), buf.begin()); };
      Timer timer{o.quick ? 3 : 7, 0.02};
      std::vector<double> r = measure({[&] { restore(x); },
                                       [&] {
                                         restore(x);
                                         k.forward(xs, std::span<float>(y));
                                       },
                                       [&] {
                                         restore(x);
                                         k.forward(std::span<const float>(buf), std::span<float>(buf));
                                       },
                                       [&] {
                                         restore(dy);
                                         k.backward(xs, dys, std::span<float>(dx));
                                       },
                                       [&] {
                                         restore(dy);
                                         k.backward(xs, std::span<const float>(buf), std::span<float>(buf));
                                       }},
                                      n, timer);
      // rates to times, the copy's taken off, back to rates
      auto rate = [&](double with_copy) { return double(n) / (double(n) / with_copy - double(n) / r[0]); };
      double f = rate(r[1]), fi = rate(r[2]), b = rate(r[3]), bi = rate(r[4]);
      std::printf("| `%s` | %s | %s | %s× | %s | %s | %s× |\n", src.c_str(), fmt(f).c_str(), fmt(fi).c_str(),
                  fmt(fi / f).c_str(), fmt(b).c_str(), fmt(bi).c_str(), fmt(bi / b).c_str());
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] { return actjit::cli::option_value(argc, argv, i); };
    if (a == "--quick") {
      o.quick = true;
      o.sizes = {size_t(1) << 14, size_t(1) << 20};
      o.threads = {1};
      o.dtypes = {"f32"};
    } else if (a == "--sizes") {
      o.sizes.clear();
      for (auto& s : actjit::cli::split_list(value())) o.sizes.push_back(parse_size(s));
    } else if (a == "--threads") {
      o.threads.clear();
      for (auto& s : actjit::cli::split_list(value())) o.threads.push_back(unsigned(std::stoul(s)));
    } else if (a == "--dtypes") {
      o.dtypes = actjit::cli::split_list(value());
    } else if (a == "--only") {
      o.only = actjit::cli::split_list(value());
    } else if (a == "--no-softmax") {
      o.softmax = false;
    } else if (a == "--fused") {
      o.fused = true;
    } else if (a == "--in-place") {
      o.in_place = true;
    } else if (a == "--compile") {
      o.compile = true;
      o.dtypes = {"f32"};
    } else if (a == "--help" || a == "-h") {
      std::puts(
          "usage: actjit_bench [--quick] [--sizes 16Ki,1Mi,64Mi] [--threads 1,2] [--dtypes f32,f64]\n"
          "                    [--only NAME,...] [--no-softmax]\n"
          "       (--only: catalogue names, the composites' texts, or other sources, run without peers)\n"
          "       actjit_bench --compile [--quick] [--dtypes f32,f64] [--only SOURCE,...]\n"
          "       actjit_bench --fused [--quick] [--sizes 16Ki,1Mi] [--dtypes f32,f64] [--only SOURCE,...]\n"
          "       actjit_bench --in-place [--quick] [--sizes 16Ki,1Mi] [--only SOURCE,...]\n"
          "Prints markdown tables: elements/ns of actjit and its peers, ratios to the fastest peer;\n"
          "with --compile, the time from text to callable kernels (LLVM, disk cache, memory cache).");
      return 0;
    } else {
      std::fprintf(stderr, "error: unknown option '%s' (--help lists them)\n", a.c_str());
      return 2;
    }
  }
  if (o.compile) {
    compile_latency(o);
    return 0;
  }
  if (o.fused) {
    fused_bench(o);
    return 0;
  }
  if (o.in_place) {
    in_place_bench(o);
    return 0;
  }
  actjit::Runtime rt;
#ifndef ACTJIT_BENCH_DNNL
  std::printf("(oneDNN not found at build time: install libdnnl-dev and rebuild to compare with it)\n");
#endif
  for (auto& d : o.dtypes) {
    if (d == "f32") elementwise<float>(o, rt, "float32");
    else if (d == "f64") elementwise<double>(o, rt, "float64");
  }
  if (o.softmax) {
    softmax_bench(o, rt);
    glu_maxout_bench(o, rt);
  }
  return 0;
}
