// A generator of random expressions over x (math functions, where, min/max,
// constants including -0), for property tests, the soak test and fuzz seeds.
#pragma once

#include <random>
#include <string>

namespace actjit::test {

// Random expressions over x with the math functions and where.
inline std::string random_expr(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> pick(0, 19);
  auto leaf = [&]() -> std::string {
    static const char* leaves[] = {"x", "x", "1", "0", "-0", "2", "0.5", "-1", "3"};
    return leaves[std::uniform_int_distribution<int>(0, 8)(rng)];
  };
  if (depth == 0) return leaf();
  auto sub = [&] { return random_expr(rng, depth - 1); };
  // Pieces are appended one by one (GCC 12 at -O3 warns falsely on chains of
  // operator+ over temporaries).
  auto join = [](std::initializer_list<std::string> parts) {
    std::string out;
    for (const std::string& p : parts) out += p;
    return out;
  };
  switch (pick(rng)) {
    case 0: return join({"(", sub(), " + ", sub(), ")"});
    case 1: return join({"(", sub(), " - ", sub(), ")"});
    case 2: return join({"(", sub(), " * ", sub(), ")"});
    case 3: return join({"(", sub(), " / ", sub(), ")"});
    case 4: return join({"(-", sub(), ")"});
    case 5: return join({"(", sub(), ")^", std::string(std::uniform_int_distribution<int>(0, 1)(rng) ? "2" : "1")});
    case 6: return join({"exp(", sub(), ")"});
    case 7: return join({"abs(", sub(), ")"});
    case 8: return join({"where(", sub(), " > ", sub(), ", ", sub(), ", ", sub(), ")"});
    case 9: return join({"max(", sub(), ", ", sub(), ")"});
    case 10: return join({"min(", sub(), ", ", sub(), ")"});
    case 11: return join({"tanh(", sub(), ")"});
    case 12: return join({"where(not ", sub(), " < ", sub(), ", ", sub(), ", ", sub(), ")"});
    case 13: return join({"log1p(", sub(), ")"});
    case 14: return join({"sign(", sub(), ")"});
    default: return leaf();
  }
}


}  // namespace actjit::test
