// Header-only Eigen 3.4 interop for actjit kernels: call forward and
// backward on Eigen arrays, vectors and matrices (treated elementwise).
//
// Arguments must have direct, contiguous storage: Eigen::Array/Matrix of any
// shape, Eigen::Map, or Eigen::Ref of such with unit inner stride and no
// gaps between columns (rows). For an expression such as `a * 2`, call
// `.eval()` first. The scalar type selects the kernel's dtype (float for
// F32, double for F64); a mismatch throws std::invalid_argument.
#pragma once

#include <Eigen/Core>
#include <span>
#include <stdexcept>

#include "actjit/actjit.hpp"

namespace actjit {

namespace eigen_detail {

template <class T>
concept DirectAccess = requires(T& a) {
  a.data();
  a.size();
  a.innerStride();
  a.outerStride();
  a.innerSize();
};

template <DirectAccess T>
auto span_of(T& a) {
  if (a.innerStride() != 1 || (a.outerSize() > 1 && a.outerStride() != a.innerSize()))
    throw std::invalid_argument("actjit: Eigen argument is not contiguous; pass a plain array or call .eval()");
  using Scalar = std::remove_reference_t<decltype(*a.data())>;
  return std::span<Scalar>(a.data(), size_t(a.size()));
}

}  // namespace eigen_detail

/// y = f(x; params), elementwise. x and y must have the same size.
template <eigen_detail::DirectAccess X, eigen_detail::DirectAccess Y>
void forward(const Kernel& k, const X& x, Y& y, std::span<const double> params = {}) {
  auto xs = eigen_detail::span_of(x);
  auto ys = eigen_detail::span_of(y);
  k.forward(std::span<const typename decltype(ys)::element_type>(xs.data(), xs.size()), ys, params);
}

/// Returns f(x; params) as a new object shaped like x.
template <eigen_detail::DirectAccess X>
typename X::PlainObject forward(const Kernel& k, const X& x, std::span<const double> params = {}) {
  typename X::PlainObject y(x.rows(), x.cols());
  forward(k, x, y, params);
  return y;
}

/// dx = dy * df/dx(x; params); dparams (if not empty) receives the
/// parameter gradients summed over all elements.
template <eigen_detail::DirectAccess X, eigen_detail::DirectAccess DY, eigen_detail::DirectAccess DX>
void backward(const Kernel& k, const X& x, const DY& dy, DX& dx, std::span<const double> params = {},
              std::span<double> dparams = {}) {
  auto xs = eigen_detail::span_of(x);
  auto dys = eigen_detail::span_of(dy);
  auto dxs = eigen_detail::span_of(dx);
  using T = typename decltype(dxs)::element_type;
  k.backward(std::span<const T>(xs.data(), xs.size()), std::span<const T>(dys.data(), dys.size()), dxs, params,
             dparams);
}

}  // namespace actjit
