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
  switch (pick(rng)) {
    case 0: return "(" + sub() + " + " + sub() + ")";
    case 1: return "(" + sub() + " - " + sub() + ")";
    case 2: return "(" + sub() + " * " + sub() + ")";
    case 3: return "(" + sub() + " / " + sub() + ")";
    case 4: return "(-" + sub() + ")";
    case 5: return "(" + sub() + ")^" + std::string(std::uniform_int_distribution<int>(0, 1)(rng) ? "2" : "1");
    case 6: return "exp(" + sub() + ")";
    case 7: return "abs(" + sub() + ")";
    case 8: return "where(" + sub() + " > " + sub() + ", " + sub() + ", " + sub() + ")";
    case 9: return "max(" + sub() + ", " + sub() + ")";
    case 10: return "min(" + sub() + ", " + sub() + ")";
    case 11: return "tanh(" + sub() + ")";
    case 12: return "where(not " + sub() + " < " + sub() + ", " + sub() + ", " + sub() + ")";
    case 13: return "log1p(" + sub() + ")";
    case 14: return "sign(" + sub() + ")";
    default: return leaf();
  }
}


}  // namespace actjit::test
