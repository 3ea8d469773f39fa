// libFuzzer target: the parser alone, on arbitrary bytes. Every input must
// give an AST or a diagnostic whose position lies inside the input, and
// rendering the diagnostic must work.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "grammar/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = actjit::parse(text);
  if (!m) {
    const actjit::Diagnostic& d = m.error();
    if (d.offset != actjit::Diagnostic::npos && d.offset > text.size()) std::abort();
    if (actjit::render(text, d).rfind("error: ", 0) != 0) std::abort();
  }
  return 0;
}
