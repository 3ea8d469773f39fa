// The on-disk object cache: a second runtime (standing in for a new process)
// links machine code from the cache instead of compiling it; the results
// are the same; damaged, truncated, foreign and concurrently written files
// never give wrong code or a crash; an unusable directory only costs the
// cache; the C ABI can point it elsewhere or turn it off.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "actjit/actjit.h"
#include "actjit/actjit.hpp"
#include "compiler/jit/codegen.hpp"
#include "compiler/jit/object_cache.hpp"
#include "compiler/jit/target.hpp"
#include "compiler/pipeline.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using actjit::DType;
using actjit::Runtime;

namespace {

/// A fresh directory (removed at the end of the test) with the cache's entries listed.
struct TempDir : actjit::test::TempDir {
  explicit TempDir(const std::string& tag) : actjit::test::TempDir("cache-" + tag) {}
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    for (auto& e : fs::directory_iterator(path))
      if (e.path().extension() == ".actjit") out.push_back(e.path());
    return out;
  }
};

/// Forward and backward (with parameter gradients) of `src` on a fixed input.
template <class T>
std::vector<double> run(const actjit::Kernel& k) {
  std::vector<T> x, y(37), dy(37, T(1)), dx(37);
  for (int i = 0; i < 37; ++i) x.push_back(T(-4 + 0.23 * i));
  k.forward(std::span<const T>(x), std::span<T>(y));
  std::vector<double> dp(k.params().size());
  k.backward(std::span<const T>(x), std::span<const T>(dy), std::span<T>(dx), {}, std::span<double>(dp));
  std::vector<double> out(y.begin(), y.end());
  out.insert(out.end(), dx.begin(), dx.end());
  out.insert(out.end(), dp.begin(), dp.end());
  return out;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

const char* kSwish = "f(x, beta = 1.5) = x * sigmoid(beta * x)";

}  // namespace

TEST_CASE("a second runtime links the kernels from the disk cache and computes the same", "[cache]") {
  TempDir dir("hit");
  std::vector<double> first;
  {
    Runtime rt;
    rt.set_cache_dir(dir.path.string());
    CHECK(rt.cache_dir() == dir.path.string());
    first = run<float>(rt.compile(kSwish, DType::F32));
    CHECK(rt.cache_stats().llvm_compiles == 1);
    CHECK(rt.cache_stats().disk_hits == 0);
    CHECK(rt.cache_stats().disk_writes == 1);
  }
  REQUIRE(dir.entries().size() == 1);
  Runtime rt;
  rt.set_cache_dir(dir.path.string());
  CHECK(run<float>(rt.compile(kSwish, DType::F32)) == first);
  CHECK(rt.cache_stats().llvm_compiles == 0);
  CHECK(rt.cache_stats().disk_hits == 1);
  // The same function spelled differently is the same IR: the same entry.
  Runtime rt2;
  rt2.set_cache_dir(dir.path.string());
  (void)rt2.compile("g(x, beta = 1.5) = x * sigmoid(x * beta)", DType::F32);
  CHECK(rt2.cache_stats().disk_hits == 1);
  CHECK(dir.entries().size() == 1);
}

TEST_CASE("entries are per dtype and per function", "[cache]") {
  TempDir dir("keys");
  Runtime rt;
  rt.set_cache_dir(dir.path.string());
  auto f32 = run<float>(rt.compile("mish", DType::F32));
  auto f64 = run<double>(rt.compile("mish", DType::F64));
  (void)rt.compile("mish(x) + 1", DType::F32);
  (void)rt.compile("leaky_relu(x, 0.25)", DType::F32);
  (void)rt.compile("leaky_relu(x, 0.5)", DType::F32);  // another constant: another kernel
  CHECK(rt.cache_stats().llvm_compiles == 5);
  CHECK(dir.entries().size() == 5);
  Runtime again;
  again.set_cache_dir(dir.path.string());
  CHECK(run<float>(again.compile("mish", DType::F32)) == f32);
  CHECK(run<double>(again.compile("mish", DType::F64)) == f64);
  auto half = run<float>(again.compile("leaky_relu(x, 0.5)", DType::F32));
  CHECK(again.cache_stats().disk_hits == 3);
  CHECK(half[0] == -2.0f);  // leaky_relu(-4, 0.5), not the 0.25 kernel
}

TEST_CASE("row-wise functions are cached too", "[cache]") {
  TempDir dir("rows");
  std::vector<float> x{1, 2, 3, -1}, y1(4), y2(4);
  {
    Runtime rt;
    rt.set_cache_dir(dir.path.string());
    rt.compile("softmax", DType::F32).forward_rows(std::span<const float>(x), std::span<float>(y1), 4);
  }
  Runtime rt;
  rt.set_cache_dir(dir.path.string());
  rt.compile("softmax", DType::F32).forward_rows(std::span<const float>(x), std::span<float>(y2), 4);
  CHECK(rt.cache_stats().disk_hits == 1);
  CHECK(y1 == y2);
}

TEST_CASE("damaged entries are ignored and rewritten", "[cache]") {
  TempDir dir("damage");
  std::vector<double> expected;
  {
    Runtime rt;
    rt.set_cache_dir(dir.path.string());
    expected = run<float>(rt.compile(kSwish, DType::F32));
  }
  REQUIRE(dir.entries().size() == 1);
  const fs::path entry = dir.entries()[0];
  const std::string good = read(entry);
  REQUIRE(good.size() > 200);

  auto reload = [&](const std::string& damaged) {
    write(entry, damaged);
    Runtime rt;
    rt.set_cache_dir(dir.path.string());
    CHECK(run<float>(rt.compile(kSwish, DType::F32)) == expected);
    CHECK(rt.cache_stats().disk_hits == 0);
    CHECK(rt.cache_stats().llvm_compiles == 1);
    CHECK(read(entry) == good);  // rewritten whole
  };
  SECTION("truncated at every length class") {
    for (size_t len : {size_t(0), size_t(7), size_t(8), size_t(16), good.size() / 2, good.size() - 9, good.size() - 1})
      reload(good.substr(0, len));
  }
  SECTION("one byte flipped in the key, the machine code, the checksum") {
    for (size_t at : {size_t(9), size_t(30), good.size() / 2, good.size() - 20, good.size() - 1}) {
      std::string bad = good;
      bad[at] = char(bad[at] ^ 0x40);
      reload(bad);
    }
  }
  SECTION("trailing garbage") { reload(good + "garbage"); }
  SECTION("another function's entry under this name") {
    Runtime other;
    TempDir dir2("other");
    other.set_cache_dir(dir2.path.string());
    (void)other.compile("tanh", DType::F32);
    REQUIRE(dir2.entries().size() == 1);
    reload(read(dir2.entries()[0]));  // valid file, another key: a miss
  }
}

TEST_CASE("the object cache rejects every damaged file at the file level", "[cache]") {
  TempDir dir("file");
  actjit::jit::ObjectCache cache(dir.path.string());
  REQUIRE(cache.enabled());  // the build links with a GNU build ID (CMakeLists.txt)
  const std::vector<std::string> objects{"first object", std::string(1000, 'x'), ""};
  REQUIRE(cache.store("key one", objects));
  CHECK(cache.load("key one") == objects);
  CHECK(!cache.load("key two"));
  const std::string good = read(cache.path_for("key one"));
  for (size_t len = 0; len < good.size(); ++len) {  // every truncation
    write(cache.path_for("key one"), good.substr(0, len));
    REQUIRE(!cache.load("key one"));
  }
  for (size_t at = 0; at < good.size(); at += 7) {  // flipped bits throughout
    std::string bad = good;
    bad[at] = char(bad[at] ^ 1);
    write(cache.path_for("key one"), bad);
    REQUIRE(!cache.load("key one"));
  }
}

TEST_CASE("concurrent runtimes filling one cache directory", "[cache]") {
  TempDir dir("concurrent");
  const std::vector<std::string> sources{"mish", "gelu", "swish", "elu", "x * tanh(exp(x))", kSwish};
  std::vector<std::vector<double>> expected;
  uint64_t modules = 0;
  {
    Runtime plain;
    plain.set_cache_dir("");
    for (auto& s : sources) expected.push_back(run<float>(plain.compile(s, DType::F32)));
    modules = plain.cache_stats().llvm_compiles;  // swish and elu have kernels for their defaults too
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        Runtime rt;  // each round a new runtime: every compile reads or writes the directory
        rt.set_cache_dir(dir.path.string());
        for (size_t i = 0; i < sources.size(); ++i) {
          size_t k = (i + size_t(t)) % sources.size();
          if (run<float>(rt.compile(sources[k], DType::F32)) != expected[k]) ++wrong;
        }
      }
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
  CHECK(modules > sources.size());
  CHECK(dir.entries().size() == modules);
  for (auto& e : fs::directory_iterator(dir.path))  // no temporary file left behind
    CHECK(e.path().extension() == ".actjit");
}

TEST_CASE("an unusable cache directory only costs the cache", "[cache]") {
  TempDir dir("unusable");
  SECTION("a file where the directory should be") {
    fs::path file = dir.path / "not-a-directory";
    write(file, "x");
    Runtime rt;
    rt.set_cache_dir(file.string());
    CHECK(run<float>(rt.compile("mish", DType::F32)).size() == 74);
    CHECK(rt.cache_stats().disk_writes == 0);
    CHECK(rt.cache_stats().llvm_compiles == 1);
  }
  SECTION("a directory without write permission") {
    if (::geteuid() == 0) {
      // root writes anyway; check the other failure instead: a parent that is a file
      Runtime rt;
      rt.set_cache_dir((dir.path / "file" / "sub").string());
      write(dir.path / "file", "x");
      CHECK(run<float>(rt.compile("mish", DType::F32)).size() == 74);
      CHECK(rt.cache_stats().disk_writes == 0);
    } else {
      fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
      Runtime rt;
      rt.set_cache_dir(dir.path.string());
      CHECK(run<float>(rt.compile("mish", DType::F32)).size() == 74);
      CHECK(rt.cache_stats().disk_writes == 0);
    }
  }
  SECTION("off") {
    Runtime rt;
    rt.set_cache_dir("");
    CHECK(rt.cache_dir().empty());
    (void)rt.compile("mish", DType::F32);
    CHECK(rt.cache_stats().disk_writes == 0);
    CHECK(dir.entries().empty());
  }
}

TEST_CASE("the directory is pruned to its size bound, least recently used first", "[cache]") {
  TempDir dir("prune");
  actjit::jit::ObjectCache cache(dir.path.string(), 10'000);
  REQUIRE(cache.enabled());  // the build links with a GNU build ID (CMakeLists.txt)
  const std::string blob(3000, 'b');
  for (int i = 0; i < 6; ++i) {
    REQUIRE(cache.store("key " + std::to_string(i), {blob}));
    // Older modification times for earlier entries, newest last.
    fs::last_write_time(cache.path_for("key " + std::to_string(i)),
                        fs::file_time_type::clock::now() - std::chrono::minutes(60 - i));
  }
  REQUIRE(cache.load("key 0"));  // used now: the most recent
  write(dir.path / "stale.actjit.tmp.1.2.3", "left by a writer that died");
  fs::last_write_time(dir.path / "stale.actjit.tmp.1.2.3", fs::file_time_type::clock::now() - std::chrono::hours(2));
  cache.prune();
  uint64_t total = 0;
  for (auto& e : fs::directory_iterator(dir.path)) total += fs::file_size(e.path());
  CHECK(total <= 10'000);
  CHECK(cache.load("key 0"));   // recently used: kept
  CHECK(!cache.load("key 1"));  // the oldest: gone
  CHECK(cache.load("key 5"));
  CHECK(!fs::exists(dir.path / "stale.actjit.tmp.1.2.3"));
}

TEST_CASE("C ABI: actjit_runtime_set_cache_dir", "[cache]") {
  TempDir dir("c");
  actjit_runtime* rt = actjit_runtime_create();
  REQUIRE(rt);
  CHECK(actjit_runtime_set_cache_dir(nullptr, "x") != 0);
  REQUIRE(actjit_runtime_set_cache_dir(rt, dir.path.string().c_str()) == 0);
  char err[256];
  actjit_kernel* k = actjit_compile(rt, "softsign", ACTJIT_F64, err, sizeof err);
  REQUIRE(k);
  double x = 1, y = 0;
  REQUIRE(actjit_forward(k, &x, &y, 1, nullptr) == 0);
  CHECK(y == 0.5);
  actjit_kernel_release(k);
  CHECK(dir.entries().size() == 1);
  REQUIRE(actjit_runtime_set_cache_dir(rt, nullptr) == 0);  // off
  k = actjit_compile(rt, "softsign(x) * 2", ACTJIT_F64, err, sizeof err);
  REQUIRE(k);
  actjit_kernel_release(k);
  CHECK(dir.entries().size() == 1);
  actjit_runtime_destroy(rt);
}

TEST_CASE("the command line uses $ACTJIT_CACHE_DIR", "[cache]") {
  TempDir dir("cli");
  std::string cmd = "ACTJIT_CACHE_DIR='" + dir.path.string() + "' " ACTJIT_CLI " eval 'x * tanh(exp(x))' --at 0.5 >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  REQUIRE(dir.entries().size() == 1);
  struct stat before {}, after {};
  REQUIRE(::stat(dir.entries()[0].c_str(), &before) == 0);
  REQUIRE(std::system(cmd.c_str()) == 0);
  REQUIRE(dir.entries().size() == 1);
  REQUIRE(::stat(dir.entries()[0].c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // a hit: read, not rewritten (a write renames a new file in)
}

TEST_CASE("code generation reuses its pipeline - byte-identical objects whatever ran before", "[cache]") {
  // The pooled target machines keep their object-file pipeline and run it
  // on module after module: each object must be what it is the first time,
  // whatever was compiled in between (the disk cache and the AOT objects
  // count on objects depending on their IR only).
  using namespace actjit;
  auto object = [](const char* src, lower::DType dtype, lower::Part part) {
    auto p = build_program(src, catalogue());
    REQUIRE(p.ok());
    auto o = jit::generate(*p, dtype, jit::host_target(), "actjit", jit::Output::Object, nullptr, part, lower::Abi::Jit);
    REQUIRE(o.ok());
    return *o;
  };
  std::string mish = object("mish", lower::DType::F32, lower::Part::Forward);
  std::string gelu = object("gelu", lower::DType::F64, lower::Part::Backward);
  std::string soft = object("softmax", lower::DType::F32, lower::Part::All);
  for (int round = 0; round < 3; ++round) {
    CHECK(object("gelu", lower::DType::F64, lower::Part::Backward) == gelu);
    CHECK(object("mish", lower::DType::F32, lower::Part::Forward) == mish);
    CHECK(object("softmax", lower::DType::F32, lower::Part::All) == soft);
    CHECK(object("x * tanh(exp(x)) + 1", lower::DType::F32, lower::Part::All).size() > 0);
  }
  CHECK(mish != gelu);
}

TEST_CASE("in-place calls compile the kernels that keep their input once - and find them on disk", "[cache]") {
  // Program::keep_input: the builds whose loop also stores the input an
  // in-place call overwrites (x of the forward and the fused kernel, dy of
  // the backward), for kernels that may leave lanes to the float64 pass;
  // compiled on the first in-place call (forward alone, the backwards, the
  // fused kernel alone), disk-cached.
  TempDir dir("keep");
  std::vector<float> x(3000), y(3000), dy(3000, 0.5f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -110.0f + 0.07f * float(i);
  std::vector<float> want_y(x.size()), want_dx(x.size());
  auto in_place = [&](Runtime& rt, const char* src) {
    actjit::Kernel k = rt.compile(src, DType::F32);
    k.forward(std::span<const float>(x), std::span<float>(want_y));
    k.backward(std::span<const float>(x), std::span<const float>(dy), std::span<float>(want_dx));
    std::vector<float> want_d(x.size()), d(x.size());
    k.forward_with_derivative(std::span<const float>(x), std::span<float>(y), std::span<float>(want_d));
    size_t before = rt.cache_stats().llvm_compiles + rt.cache_stats().disk_hits;
    for (int round = 0; round < 2; ++round) {
      y = x;
      k.forward(std::span<const float>(y), std::span<float>(y));
      CHECK(y == want_y);
      std::vector<float> g = dy;
      k.backward(std::span<const float>(x), std::span<const float>(g), std::span<float>(g));
      CHECK(g == want_dx);
      std::vector<float> f = x;
      k.forward_with_derivative(std::span<const float>(f), std::span<float>(f), std::span<float>(d));
      CHECK(f == want_y);
      CHECK(d == want_d);
    }
    return rt.cache_stats().llvm_compiles + rt.cache_stats().disk_hits - before;
  };
  {
    Runtime rt;
    rt.set_cache_dir(dir.path.string());
    CHECK(in_place(rt, "x * x * exp(x)") == 3);  // the forward's build, the backwards', the fused one
    CHECK(in_place(rt, "relu") == 0);            // nothing to recompute: in place as it is
    CHECK(rt.cache_stats().disk_writes == rt.cache_stats().llvm_compiles);
  }
  Runtime again;
  again.set_cache_dir(dir.path.string());
  CHECK(in_place(again, "x * x * exp(x)") == 3);
  CHECK(again.cache_stats().llvm_compiles == 0);
}
