// Rendering of diagnostics: positions to line/column and the caret display.
#include "grammar/diagnostics.hpp"

#include <cstdio>
#include <cstdlib>

namespace actjit {

namespace {
bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Replaces bytes that would garble a terminal (controls other than tab).
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out += (c < 0x20 && c != '\t') || c == 0x7f ? '?' : char(c);
  return out;
}
}  // namespace

LineCol line_col(std::string_view source, uint32_t offset) {
  LineCol lc;
  if (offset == Diagnostic::npos) return lc;
  if (offset > source.size()) offset = uint32_t(source.size());
  for (uint32_t i = 0; i < offset; ++i) {
    unsigned char c = source[i];
    if (c == '\n') {
      ++lc.line;
      lc.column = 1;
    } else if (!is_continuation(c)) {
      ++lc.column;
    }
  }
  return lc;
}

namespace {
// Messages quote names from the input: keep them to a readable length.
std::string bounded(const std::string& message) {
  constexpr size_t kMax = 400;
  if (message.size() <= kMax) return message;
  size_t cut = kMax;
  while (cut > 0 && is_continuation(static_cast<unsigned char>(message[cut]))) --cut;
  return message.substr(0, cut) + "...";
}
}  // namespace

std::string format_short(std::string_view source, const Diagnostic& d) {
  if (d.offset == Diagnostic::npos) return bounded(d.message);
  LineCol lc = line_col(source, d.offset);
  return std::to_string(lc.line) + ":" + std::to_string(lc.column) + ": " + bounded(d.message);
}

std::string render(std::string_view source, const Diagnostic& d, std::string_view severity) {
  std::string out(severity);
  out += ": ";
  out += format_short(source, d);
  out += '\n';
  if (d.offset == Diagnostic::npos) return out;
  uint32_t off = d.offset > source.size() ? uint32_t(source.size()) : d.offset;
  size_t begin = source.rfind('\n', off == 0 ? std::string_view::npos : off - 1);
  begin = (begin == std::string_view::npos || off == 0) ? 0 : begin + 1;
  if (off > 0 && source[off - 1] == '\n') begin = off;
  size_t end = source.find('\n', begin);
  if (end == std::string_view::npos) end = source.size();
  std::string_view line = source.substr(begin, end - begin);
  // Very long lines (a 1 MB one-liner) are cut around the caret.
  size_t col_bytes = off - begin;
  size_t shown_from = 0;
  constexpr size_t kWindow = 200;
  if (line.size() > kWindow) {
    shown_from = col_bytes > kWindow / 2 ? col_bytes - kWindow / 2 : 0;
    while (shown_from > 0 && is_continuation(line[shown_from])) --shown_from;
    line = line.substr(shown_from, kWindow);
  }
  out += printable(line);
  out += '\n';
  std::string caret;
  for (size_t i = shown_from; i < col_bytes && i < shown_from + line.size(); ++i) {
    unsigned char c = source[begin + i];
    if (is_continuation(c)) continue;
    caret += c == '\t' ? '\t' : ' ';
  }
  out += caret;
  out += "^\n";
  return out;
}

void internal_error(const char* file, int line, const char* what) {
  std::fprintf(stderr, "actjit: internal error at %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace actjit
