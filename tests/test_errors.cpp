// Golden tests of diagnostics: tests/golden/errors/<case>.act holds a source
// with one error, <case>.expect the exact rendered diagnostic.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support.hpp"

namespace fs = std::filesystem;

static std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("every golden error case renders exactly as expected", "[errors]") {
  fs::path dir = fs::path(ACTJIT_TEST_DATA) / "golden" / "errors";
  size_t cases = 0;
  for (auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".act") continue;
    fs::path expect = entry.path();
    expect.replace_extension(".expect");
    INFO("case " << entry.path().filename().string());
    REQUIRE(fs::exists(expect));
    CHECK(actjit::test::error_of(slurp(entry.path())) == slurp(expect));
    ++cases;
  }
  CHECK(cases >= 25);
}

TEST_CASE("error positions count characters - not bytes", "[errors]") {
  // 'é' is two bytes in UTF-8; the column after it is still 4.
  std::string e = actjit::test::error_of("\xc3\xa9 + $");
  CHECK(e.rfind("error: 1:1:", 0) == 0);
  e = actjit::test::error_of("x + \xc3\xa9");
  CHECK(e.rfind("error: 1:5:", 0) == 0);
}

TEST_CASE("deep nesting is an error - not a stack overflow", "[errors]") {
  for (const char* open : {"(", "-", "f(", "not ", "2^"}) {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += open;
    s += "x";
    INFO("nesting with " << open);
    std::string e = actjit::test::error_of(s);
    CHECK(e.find("nested deeper than 400 levels") != std::string::npos);
  }
}

TEST_CASE("diagnostics on very long lines show a window around the caret", "[errors]") {
  std::string s(500000, ' ');
  s += "x +";
  std::string e = actjit::test::error_of(s);
  CHECK(e.rfind("error: 1:500004:", 0) == 0);
  CHECK(e.size() < 1000);
}
