// Option parsing shared by the developer programs (bench/actjit_bench,
// tools/actjit_accuracy): comma lists and option values. (The actjit tool
// parses its own: its contract needs values that start with '-'.)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace actjit::cli {

/// "a,b,,c" -> {"a", "b", "c"}.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a <= s.size()) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

/// The value after option argv[i] (advancing i), or exit 2 with a message.
inline std::string option_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "error: %s needs a value\n", argv[i]);
    std::exit(2);
  }
  return argv[++i];
}

}  // namespace actjit::cli
