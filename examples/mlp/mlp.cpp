// Example: a small MLP trained with Eigen on two interleaved spirals, with the
// hidden activation given as text. Compares activations (and no activation
// at all), printing accuracy and time per epoch. A learnable activation's
// parameters are trained through the parameter gradient of actjit's backward
// kernel, one parameter vector per layer.
//
//   mlp                                  the default comparison
//   mlp "x * tanh(exp(x))" mish          your own list of activations
#include <Eigen/Core>
#include <actjit/eigen.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;

namespace {

struct Data {
  Matrix x;                 // 2 x n
  std::vector<int> label;   // 0 or 1
};

/// Two spirals, `turns` turns each, with a little noise.
Data spirals(int n, double turns, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 0.08f);
  std::uniform_real_distribution<double> u(0, 1);
  Data d{Matrix(2, n), std::vector<int>(size_t(n))};
  for (int i = 0; i < n; ++i) {
    int c = i % 2;
    double t = std::sqrt(u(rng)) * turns * 2 * M_PI;
    double r = t / (turns * 2 * M_PI) * 2.5 + 0.1;
    double a = t + c * M_PI;
    d.x(0, i) = float(r * std::cos(a)) + noise(rng);
    d.x(1, i) = float(r * std::sin(a)) + noise(rng);
    d.label[size_t(i)] = c;
  }
  return d;
}

/// Adam for one tensor.
struct Adam {
  Matrix m, v;
  int t = 0;
  void step(Eigen::Ref<Matrix> w, const Matrix& g, float lr) {
    if (m.size() == 0) {
      m = Matrix::Zero(g.rows(), g.cols());
      v = Matrix::Zero(g.rows(), g.cols());
    }
    ++t;
    m = 0.9f * m + 0.1f * g;
    v = 0.999f * v + 0.001f * g.cwiseProduct(g);
    float c1 = 1 - std::pow(0.9f, float(t)), c2 = 1 - std::pow(0.999f, float(t));
    w -= lr * ((m / c1).array() / ((v / c2).array().sqrt() + 1e-8f)).matrix();
  }
};

struct Layer {
  Matrix w, gw;
  Vector b, gb;
  Adam aw, ab;
  Layer(int out, int in, std::mt19937& rng) : w(out, in), b(Vector::Zero(out)) {
    std::normal_distribution<float> g(0, std::sqrt(2.0f / float(in)));
    for (int i = 0; i < w.size(); ++i) w.data()[i] = g(rng);
  }
};

struct Result {
  double train_acc, test_acc, ms_per_epoch;
  std::vector<double> params;  // learned parameters of layer 1, then layer 2
};

double accuracy(const Matrix& logits, const std::vector<int>& label) {
  int ok = 0;
  for (int i = 0; i < logits.cols(); ++i) ok += (logits(1, i) > logits(0, i)) == (label[size_t(i)] == 1);
  return double(ok) / double(logits.cols());
}

/// Trains 2 -> 32 -> 32 -> 2 with activation `act` (null: none) and returns the result.
Result train(const actjit::Kernel* act, const Data& train_set, const Data& test_set, int epochs) {
  std::mt19937 rng(42);
  const int hidden = 32, batch = 100, n = int(train_set.x.cols());
  Layer l1(hidden, 2, rng), l2(hidden, hidden, rng), l3(2, hidden, rng);
  // One parameter vector per layer, starting at the activation's defaults.
  std::vector<double> p1 = act ? act->default_params() : std::vector<double>{}, p2 = p1;
  std::vector<double> dp1(p1.size()), dp2(p2.size());
  Matrix mp(std::max<size_t>(1, 2 * p1.size()), 1);
  Adam ap;
  auto activate = [&](const Matrix& z, const std::vector<double>& p) {
    if (!act) return Matrix(z);
    Matrix a(z.rows(), z.cols());
    actjit::forward(*act, z, a, p);
    return a;
  };
  auto forward = [&](const Matrix& x, Matrix& z1, Matrix& a1, Matrix& z2, Matrix& a2) {
    z1 = (l1.w * x).colwise() + l1.b;
    a1 = activate(z1, p1);
    z2 = (l2.w * a1).colwise() + l2.b;
    a2 = activate(z2, p2);
    return Matrix((l3.w * a2).colwise() + l3.b);
  };
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[size_t(i)] = i;
  auto start = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int s = 0; s + batch <= n; s += batch) {
      Matrix x(2, batch);
      std::vector<int> y(batch);
      for (int i = 0; i < batch; ++i) {
        x.col(i) = train_set.x.col(order[size_t(s + i)]);
        y[size_t(i)] = train_set.label[size_t(order[size_t(s + i)])];
      }
      Matrix z1, a1, z2, a2;
      Matrix logits = forward(x, z1, a1, z2, a2);
      // Softmax cross-entropy gradient.
      Matrix d3(2, batch);
      for (int i = 0; i < batch; ++i) {
        float m = std::max(logits(0, i), logits(1, i));
        float e0 = std::exp(logits(0, i) - m), e1 = std::exp(logits(1, i) - m);
        d3(0, i) = (e0 / (e0 + e1) - (y[size_t(i)] == 0)) / float(batch);
        d3(1, i) = (e1 / (e0 + e1) - (y[size_t(i)] == 1)) / float(batch);
      }
      Matrix da2 = l3.w.transpose() * d3;
      Matrix dz2(da2.rows(), da2.cols());
      if (act) actjit::backward(*act, z2, da2, dz2, p2, dp2); else dz2 = da2;
      Matrix da1 = l2.w.transpose() * dz2;
      Matrix dz1(da1.rows(), da1.cols());
      if (act) actjit::backward(*act, z1, da1, dz1, p1, dp1); else dz1 = da1;
      const float lr = 0.01f;
      l3.aw.step(l3.w, d3 * a2.transpose(), lr);
      l3.ab.step(l3.b, d3.rowwise().sum(), lr);
      l2.aw.step(l2.w, dz2 * a1.transpose(), lr);
      l2.ab.step(l2.b, dz2.rowwise().sum(), lr);
      l1.aw.step(l1.w, dz1 * x.transpose(), lr);
      l1.ab.step(l1.b, dz1.rowwise().sum(), lr);
      if (!p1.empty()) {  // the activation's own parameters, trained like weights
        Matrix g(mp.rows(), 1), w(mp.rows(), 1);
        for (size_t j = 0; j < p1.size(); ++j) {
          g(long(j), 0) = float(dp1[j]);
          g(long(p1.size() + j), 0) = float(dp2[j]);
          w(long(j), 0) = float(p1[j]);
          w(long(p1.size() + j), 0) = float(p2[j]);
        }
        ap.step(w, g, lr);
        for (size_t j = 0; j < p1.size(); ++j) {
          p1[j] = w(long(j), 0);
          p2[j] = w(long(p1.size() + j), 0);
        }
      }
    }
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  Matrix z1, a1, z2, a2;
  Result r;
  r.train_acc = accuracy(forward(train_set.x, z1, a1, z2, a2), train_set.label);
  r.test_acc = accuracy(forward(test_set.x, z1, a1, z2, a2), test_set.label);
  r.ms_per_epoch = ms / epochs;
  r.params = p1;
  r.params.insert(r.params.end(), p2.begin(), p2.end());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  struct Choice {
    std::string label, source;
  };
  std::vector<Choice> choices;
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) choices.push_back({argv[i], argv[i]});
  } else {
    choices = {{"none (identity)", ""},
               {"relu", "relu"},
               {"gelu", "gelu"},
               {"mish", "mish"},
               {"swish, learnable beta", "swish"},
               {"user: x * tanh(exp(x))", "x * tanh(exp(x))"}};
  }
  Data train_set = spirals(1000, 1.5, 1), test_set = spirals(1000, 1.5, 2);
  const int epochs = 150;
  actjit::Runtime rt;
  std::printf("two spirals, 1000 training / 1000 test points; MLP 2-32-32-2, Adam, %d epochs\n\n", epochs);
  std::printf("| activation | train acc | test acc | ms/epoch | learned parameters (layer 1; layer 2) |\n");
  std::printf("|---|---|---|---|---|\n");
  bool ok = true;
  for (const Choice& c : choices) {
    actjit::Kernel k;
    if (!c.source.empty()) {
      try {
        k = rt.compile(c.source, actjit::DType::F32);
      } catch (const actjit::Error& e) {
        std::fputs(e.rendered().c_str(), stderr);
        return 1;
      }
    }
    Result r = train(c.source.empty() ? nullptr : &k, train_set, test_set, epochs);
    std::string params;
    for (size_t j = 0; j < r.params.size(); ++j) {
      if (j == r.params.size() / 2 && j > 0) params += "; ";
      else if (j > 0) params += ", ";
      char value[32];
      std::snprintf(value, sizeof value, "%.4f", r.params[j]);
      params += k.params()[j % k.params().size()].name + " = " + value;
    }
    std::printf("| %s | %.3f | %.3f | %.2f | %s |\n", c.label.c_str(), r.train_acc, r.test_acc, r.ms_per_epoch,
                params.empty() ? "-" : params.c_str());
    // The default run doubles as a test: nonlinear beats linear by far.
    if (argc == 1) ok = ok && (c.source.empty() ? r.test_acc < 0.75 : r.test_acc > 0.9);
  }
  if (argc == 1)
    std::printf("\nWithout an activation the network is linear: it cannot separate the spirals.\n");
  return ok ? 0 : 1;
}
