// Recognizers of the stable forms that the stabilizer builds and the
// catalogue writes out (sigmoid, softplus, log-sigmoid), shared by the
// stabilizer (which rewrites around them) and the differentiator (which
// gives them derivatives free of cancellation and of a second division).
#pragma once

#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {

/// where(c, 1, e) / (e + 1) with e = exp(where(c, -a, a)), c = a >= 0 or
/// a > 0: sigmoid(a), with e = exp(-|a|).
struct SigmoidForm {
  NodeId a, cond, e;
};
std::optional<SigmoidForm> sigmoid_form(const Graph& g, NodeId n);

/// A sigmoid_form under guards that give 1 or 0 (where(g, 1, .), where(g,
/// 0, .)): softplus's derivative, where(a > threshold, 1, where(a < -800,
/// 0, sigmoid(a))). The guards' conditions and values, outermost first.
struct GuardedSigmoid {
  SigmoidForm sigmoid;
  std::vector<std::pair<NodeId, NodeId>> guards;  // (condition, the constant 1 or 0)
};
std::optional<GuardedSigmoid> guarded_sigmoid(const Graph& g, NodeId n);

/// m * sigmoid(a) (a sigmoid_form, either factor) under guards that give 0
/// or m itself: silu's forward, where(x > 800, x, where(x < -800, 0, x *
/// sigmoid(x))). The guards' conditions and values, outermost first.
struct GuardedSigmoidProduct {
  NodeId m;
  SigmoidForm sigmoid;
  std::vector<std::pair<NodeId, NodeId>> guards;  // (condition, the constant 0 or m)
};
std::optional<GuardedSigmoidProduct> guarded_sigmoid_product(const Graph& g, NodeId n);

/// where(c, a, 0) + log1p(e) (softplus(a)) or where(c, 0, a) - log1p(e)
/// (-softplus(-a) = log(sigmoid(a)): log_sigmoid), with e = exp(where(c,
/// -a, a)), c = a > 0 or a >= 0.
struct SoftplusForm {
  NodeId a, cond, e;
  bool log_sigmoid;
};
std::optional<SoftplusForm> softplus_form(const Graph& g, NodeId n);

/// where(c, a, 0) + log1p(expm1(w) * 0.5) with w = where(c, -a, a), c =
/// a > 0 or a >= 0: softplus(a) - log 2 as the stabilizer writes it (its
/// derivative is sigmoid(a), from exp(w)).
struct ShiftedSoftplusForm {
  NodeId a, cond, w;
};
std::optional<ShiftedSoftplusForm> shifted_softplus_form(const Graph& g, NodeId n);

/// e * 4 / ((e + 1) * (e + 1)) with e = exp(|a| * -2): 1 - tanh(a)^2 as
/// tanh's derivative and the stabilizer write it (its derivative is
/// -2 tanh(a) times it: the quotient rule's (1 - e) cancels near a = 0).
struct Sech2Form {
  NodeId a, e;
};
std::optional<Sech2Form> sech2_form(const Graph& g, NodeId n);
/// Builds that form of 1 - tanh(a)^2 (tanh's derivative, the stabilizer's
/// 1 - tanh(a)^2), in the order sech2_form reads.
NodeId sech2(Graph& g, NodeId a);

/// v * v / (r + k) with r = sqrt(v * v + b) (the sum in either order), b and
/// k constants, k = sqrt(b) > 0 as doubles: sqrt(v^2 + b) - sqrt(b) without
/// its cancellation near v = 0 (the stabilizer's); its derivative is v / r.
/// Also v * v / (r + sqrt(b)) for a b that is not a constant, r the
/// stabilizer's guarded root of v * v + b (root_of_square_sum): then `b` is
/// b (its derivative by b is not v / r's), else kNoNode. And u / (r + k)
/// with r = sqrt(u + b) for any other u, b and k constants as above
/// (`squared` false, `v` is u): sqrt(u + b) - sqrt(b), derivative u' / (2 r).
struct SqrtShiftForm {
  NodeId v, root, b = kNoNode;
  bool squared = true;
};
std::optional<SqrtShiftForm> sqrt_shift_form(const Graph& g, NodeId n);

/// The radicand s of a root: sqrt(s) itself (v kNoNode), or the
/// stabilizer's form of sqrt(K v * v + b) for K and b parameters'
/// expressions, where(|v| > sqrt|b / K| 2^27, |v| sqrt(K), sqrt(s)).
struct RootRadicand {
  NodeId v, s;
};
std::optional<RootRadicand> root_radicand(const Graph& g, NodeId n);

/// sqrt(v * v + b) as the stabilizer leaves it: the bare sqrt, or the
/// where() of its guard, where(|v| > bound, |v| or |v| sqrt(1 + b/v/v),
/// sqrt(v * v + b)) (the sum in either order).
struct RootOfSquareSum {
  NodeId v, b;
};
std::optional<RootOfSquareSum> root_of_square_sum(const Graph& g, NodeId s);

/// The factors of a product tree (Mul nodes split, depth first from the
/// second operand), at most `most` of them; nullopt where there are more.
std::optional<std::vector<NodeId>> product_leaves(const Graph& g, NodeId n, size_t most);

/// A Horner chain c0 + z (c1 + z (c2 + ... + z cn)) (each sum and product
/// in either order; the stability rewrites' series, stabilize.cpp
/// polynomial) of at least `shortest` terms: z, the coefficients c0..cn,
/// and the top product z (c1 + ...).
struct HornerChain {
  NodeId z, top_product;
  std::vector<double> c;
};
std::optional<HornerChain> horner_chain(const Graph& g, NodeId n, size_t shortest);
/// The nodes among `nodes` that are inner levels of a Horner chain (w in
/// c + z w, and z): a chain is taken from its top only.
std::unordered_set<NodeId> horner_inner_levels(const Graph& g, std::span<const NodeId> nodes);
/// Builds c0 + c1 z + ... + cn z^n as the Horner chain horner_chain reads
/// (z the first operand of each product).
NodeId horner(Graph& g, NodeId z, const std::vector<double>& c);

}  // namespace actjit::ir
