// A minimal value-or-error type. Debian 12's clang cannot use <expected>, and the data plane never
// throws (docs/STYLE.md), so errors travel as values through this type.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace strowger {

template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E>
class Expected {
 public:
  using value_type = T;
  using error_type = E;

  Expected() requires std::is_default_constructible_v<T> : state_(std::in_place_index<0>) {}
  Expected(const T& v) : state_(std::in_place_index<0>, v) {}        // NOLINT: implicit by design
  Expected(T&& v) : state_(std::in_place_index<0>, std::move(v)) {}  // NOLINT
  Expected(Unexpected<E> u) : state_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

  bool hasValue() const { return state_.index() == 0; }
  explicit operator bool() const { return hasValue(); }

  T& value() & {
    assert(hasValue());
    return *std::get_if<0>(&state_);
  }
  const T& value() const& {
    assert(hasValue());
    return *std::get_if<0>(&state_);
  }
  T&& value() && {
    assert(hasValue());
    return std::move(*std::get_if<0>(&state_));
  }
  const E& error() const {
    assert(!hasValue());
    return *std::get_if<1>(&state_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <class U>
  T valueOr(U&& fallback) const {
    return hasValue() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> state_;
};

// Success-or-error, for operations that produce nothing.
template <class E>
class Expected<void, E> {
 public:
  Expected() = default;
  Expected(Unexpected<E> u) : error_(std::move(u.error)), failed_(true) {}  // NOLINT

  bool hasValue() const { return !failed_; }
  explicit operator bool() const { return hasValue(); }
  const E& error() const {
    assert(failed_);
    return error_;
  }

 private:
  E error_{};
  bool failed_ = false;
};

}  // namespace strowger
