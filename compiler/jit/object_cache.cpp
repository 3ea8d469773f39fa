// The on-disk object cache (see object_cache.hpp).
//
// File layout, host byte order (the key names the target):
//   "ACTJITC1"  u64 file_length  u64 key_length  key
//   u64 count   { u64 length  bytes } x count    u64 checksum(everything before)
#include "compiler/jit/object_cache.hpp"

#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace actjit::jit {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'A', 'C', 'T', 'J', 'I', 'T', 'C', '1'};
constexpr const char* kSuffix = ".actjit";
constexpr uint64_t kMaxFile = uint64_t(64) << 20;  // a kernel's objects are tens of KiB

uint64_t fnv1a(const char* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < n; ++i) {
    h ^= uint8_t(data[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

/// A bounds-checked reader over a file's bytes.
struct Reader {
  const std::string& s;
  size_t at = 0;
  bool u64(uint64_t& v) {
    if (s.size() - at < sizeof v) return false;
    std::memcpy(&v, s.data() + at, sizeof v);
    at += sizeof v;
    return true;
  }
  bool bytes(uint64_t n, std::string& out) {
    if (s.size() - at < n) return false;
    out.assign(s.data() + at, n);
    at += n;
    return true;
  }
};

std::string hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[size_t(i)] = digits[v & 15];
  return s;
}

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += size_t(w);
  }
  return true;
}

int find_build_id(dl_phdr_info* info, size_t, void* data) {
  auto* out = static_cast<std::string*>(data);
  const auto self = reinterpret_cast<ElfW(Addr)>(&find_build_id);
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum && !mine; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    ElfW(Addr) begin = info->dlpi_addr + ph.p_vaddr;
    mine = ph.p_type == PT_LOAD && self >= begin && self < begin + ph.p_memsz;
  }
  if (!mine) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) n;
      std::memcpy(&n, p, sizeof n);
      const char* name = p + sizeof n;
      const char* desc = name + ((n.n_namesz + 3) & ~3u);
      const char* next = desc + ((n.n_descsz + 3) & ~3u);
      if (next > end) break;
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        for (unsigned k = 0; k < n.n_descsz; ++k) out->append(hex(uint8_t(desc[k])).substr(14));
        return 1;
      }
      p = next;
    }
  }
  return 1;  // our object, without a build ID
}

}  // namespace

const std::string& build_id() {
  static const std::string id = [] {
    std::string s;
    dl_iterate_phdr(find_build_id, &s);
    return s;
  }();
  return id;
}

std::string default_cache_dir() {
  if (const char* d = std::getenv("ACTJIT_CACHE_DIR")) {
    std::string s(d);
    return s == "off" ? std::string() : s;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/') return std::string(x) + "/actjit";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.cache/actjit";
  return {};
}

ObjectCache::ObjectCache(std::string dir, uint64_t max_bytes)
    : dir_(build_id().empty() ? std::string() : std::move(dir)), max_bytes_(max_bytes) {}

std::string ObjectCache::path_for(const std::string& key) const {
  return dir_ + "/" + hex(fnv1a(key.data(), key.size())) + hex(fnv1a(key.data(), key.size(), 0x84222325cbf29ce4ull)) +
         kSuffix;
}

std::optional<std::vector<std::string>> ObjectCache::load(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  std::string path = path_for(key);
  std::string data;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    if (size < 0 || uint64_t(size) > kMaxFile) return std::nullopt;
    data.resize(size_t(size));
    in.seekg(0);
    if (!in.read(data.data(), size)) return std::nullopt;
  }
  if (data.size() < sizeof kMagic + 8 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  uint64_t stored_sum;
  std::memcpy(&stored_sum, data.data() + data.size() - 8, 8);
  if (fnv1a(data.data(), data.size() - 8) != stored_sum) return std::nullopt;  // truncated or damaged
  Reader r{data, sizeof kMagic};
  uint64_t length, key_length, count;
  std::string stored_key;
  if (!r.u64(length) || length != data.size() || !r.u64(key_length) || !r.bytes(key_length, stored_key) ||
      stored_key != key || !r.u64(count) || count > 16)
    return std::nullopt;
  std::vector<std::string> objects(count);
  for (auto& o : objects) {
    uint64_t n;
    if (!r.u64(n) || !r.bytes(n, o)) return std::nullopt;
  }
  if (r.at != data.size() - 8) return std::nullopt;
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // recently used: pruned last
  return objects;
}

bool ObjectCache::store(const std::string& key, const std::vector<std::string>& objects) const {
  if (!enabled()) return false;
  std::string data(kMagic, sizeof kMagic);
  put_u64(data, 0);  // the length, filled in below
  put_u64(data, key.size());
  data += key;
  put_u64(data, objects.size());
  for (auto& o : objects) {
    put_u64(data, o.size());
    data += o;
  }
  uint64_t length = data.size() + 8;
  if (length > kMaxFile) return false;
  std::memcpy(data.data() + sizeof kMagic, &length, 8);
  put_u64(data, fnv1a(data.data(), data.size()));

  std::error_code ec;
  fs::create_directories(dir_, ec);
  static std::atomic<uint64_t> counter{0};
  std::string path = path_for(key);
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(std::hash<std::thread::id>()(std::this_thread::get_id()) % 1000000) + "." +
                    std::to_string(counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = write_all(fd, data);
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  if (stores_.fetch_add(1) % 64 == 0) prune();
  return true;
}

void ObjectCache::prune() const {
  if (!enabled()) return;
  struct Entry {
    fs::file_time_type time;
    uint64_t size;
    fs::path path;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    auto time = fs::last_write_time(p, e2);
    if (e2) continue;
    if (name.find(".tmp.") != std::string::npos) {
      // A writer that died: its temporary file is useless after an hour.
      if (now - time > std::chrono::hours(1)) fs::remove(p, e2);
      continue;
    }
    if (name.size() < 7 || name.compare(name.size() - 7, 7, kSuffix) != 0) continue;
    uint64_t size = fs::file_size(p, e2);
    if (e2) continue;
    entries.push_back({time, size, p});
    total += size;
  }
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });
  for (const Entry& e : entries) {
    if (total <= max_bytes_ / 4 * 3) break;
    std::error_code e2;
    if (fs::remove(e.path, e2)) total -= e.size;
  }
}

}  // namespace actjit::jit
