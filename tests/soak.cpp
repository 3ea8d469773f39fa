// Soak test: one process compiles N distinct random expressions (from
// several threads) and runs each, checking results against the reference
// evaluator, with a bounded kernel cache. Prints the resident memory as it
// goes and the peak; fails if a result is wrong or memory keeps growing.
//   soak [N = 10000] [threads = 2]
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "actjit/actjit.hpp"
#include "compiler/ir/eval.hpp"
#include "compiler/pipeline.hpp"
#include "random_expr.hpp"

namespace {

long kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  actjit::Limits limits;
  limits.max_cached_kernels = 256;
  actjit::Runtime rt(limits);
  std::atomic<int> next{0}, wrong{0}, errors{0};
  std::mutex print;
  long rss_at_start = 0;
  auto worker = [&](int) {
    std::vector<double> x(67), y(67), dx(67), ones(67, 1.0);
    for (size_t i = 0; i < x.size(); ++i) x[i] = -7.5 + 0.23 * double(i);
    for (int i; (i = next++) < n;) {
      // Each expression depends only on its index (reproducible whatever the
      // threads do); the index also makes every source new to the cache.
      std::mt19937 rng{static_cast<uint32_t>(i)};
      std::string src = actjit::test::random_expr(rng, 3) + " + " + std::to_string(i) + " * 1e-9";
      try {
        actjit::Kernel k = rt.compile(src, i % 2 ? actjit::DType::F64 : actjit::DType::F32);
        if (k.dtype() == actjit::DType::F64) {
          k.forward(x, y);
          k.backward(x, ones, dx);
          auto p = actjit::build_program(src, actjit::catalogue());
          for (size_t j = 0; j < x.size(); ++j) {
            double want = actjit::ir::evaluate<double>(p->graph, std::vector<actjit::ir::NodeId>{p->value}, x[j], {})[0];
            bool ok = (std::isnan(want) && std::isnan(y[j])) || want == y[j] ||
                      std::fabs(want - y[j]) <= 1e-9 * std::max(1.0, std::fabs(want)) || !std::isfinite(want);
            if (!ok && ++wrong <= 5) {
              std::lock_guard<std::mutex> lock(print);
              std::printf("wrong: %s at x = %.17g: kernel %.17g, evaluator %.17g\n", src.c_str(), x[j], y[j], want);
            }
          }
        } else {
          std::vector<float> xf(x.begin(), x.end()), yf(x.size());
          k.forward(xf, yf);
        }
      } catch (const actjit::Error& e) {
        ++errors;  // random text may be rejected (e.g. too large); never a crash
      }
      if (i % 1000 == 0) {
        std::lock_guard<std::mutex> lock(print);
        long rss = kib("VmRSS:");
        if (i == 1000) rss_at_start = rss;
        std::printf("%6d compiled: RSS %ld KiB, cached kernels %zu\n", i, rss, rt.cached_kernels());
        std::fflush(stdout);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker, t);
  for (auto& th : pool) th.join();
  long rss = kib("VmRSS:"), peak = kib("VmHWM:");
  std::printf("done: %d expressions, %d rejected, %d wrong values; RSS %ld KiB, peak %ld KiB\n", n, errors.load(),
              wrong.load(), rss, peak);
  bool bounded = rss_at_start <= 0 || rss - rss_at_start < 200 * 1024;  // no growth beyond 200 MiB after warm-up
  if (!bounded) std::printf("memory kept growing: %ld KiB after 1000, %ld KiB at the end\n", rss_at_start, rss);
  return wrong == 0 && bounded ? 0 : 1;
}
