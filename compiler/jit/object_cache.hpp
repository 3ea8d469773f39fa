// The on-disk object cache: machine code of compiled kernels, kept between
// processes so that a new process skips LLVM for functions it has seen.
//
// An entry is one file named by a hash of its key; the key (IR, target CPU
// and features, dtype, actjit and LLVM versions, and the build ID of the
// binary holding the compiler) is stored in full inside and compared on
// load, so a hash collision is a miss, never wrong code. Files are written
// to a private temporary name and renamed into place (atomic on POSIX), so
// concurrent writers never leave a mixed file; a length and checksum catch
// truncated or damaged files, which are ignored (and replaced by the next
// write). The directory is pruned to a size bound, least recently used
// first. Every failure (unwritable directory, full disk) only costs the
// cache: compilation goes on. No LLVM types here.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace actjit::jit {

class ObjectCache {
 public:
  /// `dir` empty: the cache is off.
  explicit ObjectCache(std::string dir = {}, uint64_t max_bytes = uint64_t(256) << 20);

  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  /// The objects stored under `key`, or nothing (absent, damaged, another key).
  std::optional<std::vector<std::string>> load(const std::string& key) const;
  /// Stores `objects` under `key`; best effort. Returns whether it was written.
  bool store(const std::string& key, const std::vector<std::string>& objects) const;

  /// The file that holds `key` (whether or not it exists).
  std::string path_for(const std::string& key) const;

  /// Removes least recently used entries (and stale temporary files) until
  /// the directory holds at most max_bytes.
  void prune() const;

 private:
  std::string dir_;
  uint64_t max_bytes_;
  mutable std::atomic<uint64_t> stores_{0};
};

/// The default directory: $ACTJIT_CACHE_DIR if set ("" or "off" turn the
/// cache off), else $XDG_CACHE_HOME/actjit, else $HOME/.cache/actjit, else
/// none.
std::string default_cache_dir();

/// The GNU build ID (hex) of the binary that holds this code: part of every
/// key, so a rebuilt compiler never reads objects of an older one. Empty when
/// the binary has none (the cache is then off).
const std::string& build_id();

}  // namespace actjit::jit
