#include "health.h"

namespace strowger::dispatcher {

std::string_view healthStateName(HealthState state) noexcept {
  switch (state) {
    case HealthState::kActive:
      return "active";
    case HealthState::kProbing:
      return "probing";
    case HealthState::kInactive:
      return "inactive";
    case HealthState::kDisabled:
      return "admin-disabled";
  }
  return "unknown";
}

Transition Health::move(HealthState to, std::string reason) {
  Transition transition{state_.load(std::memory_order_relaxed), to, std::move(reason)};
  state_.store(to, std::memory_order_relaxed);
  failures_ = 0;
  successes_ = 0;
  failuresAllProbes_ = true;
  failuresAllTraffic_ = true;
  return transition;
}

std::optional<Transition> Health::failure(const Failure& failure, const HealthRules& rules) {
  std::lock_guard lock(mutex_);
  return failureLocked(failure, rules);
}

std::optional<Transition> Health::failureLocked(const Failure& failure, const HealthRules& rules) {
  const HealthState current = state_.load(std::memory_order_relaxed);
  if (current == HealthState::kDisabled) return std::nullopt;
  successes_ = 0;
  ++failures_;
  failuresAllProbes_ &= failure.source == FailureSource::kProbe;
  failuresAllTraffic_ &= failure.source == FailureSource::kTraffic;
  const std::string_view kind = failuresAllProbes_ ? "probe " : failuresAllTraffic_ ? "call " : "";
  const std::string reason = std::to_string(failures_) + " " + std::string(kind) +
                             (failures_ == 1 ? "failure" : "failures") + "; last: " + failure.what;
  if (current == HealthState::kInactive) return std::nullopt;
  if (failures_ >= rules.failuresToInactive) return move(HealthState::kInactive, reason);
  if (current == HealthState::kActive) {
    // A suspect: still usable, but probed at the interval until it answers or fails N times.
    Transition transition{current, HealthState::kProbing, reason};
    state_.store(HealthState::kProbing, std::memory_order_relaxed);
    return transition;
  }
  return std::nullopt;
}

std::optional<Transition> Health::success(const HealthRules& rules) {
  std::lock_guard lock(mutex_);
  return successLocked(rules, "success");
}

std::optional<Transition> Health::successLocked(const HealthRules& rules, std::string_view what) {
  const HealthState current = state_.load(std::memory_order_relaxed);
  if (current == HealthState::kDisabled) return std::nullopt;
  failures_ = 0;
  failuresAllProbes_ = true;
  failuresAllTraffic_ = true;
  ++successes_;
  if (current == HealthState::kProbing) {
    return move(HealthState::kActive, "probe " + std::string(what));
  }
  if (current == HealthState::kInactive && successes_ >= rules.successesToActive) {
    const int successes = successes_;
    return move(HealthState::kActive, std::to_string(successes) + " probe " +
                                          (successes == 1 ? "success" : "successes") +
                                          "; last: " + std::string(what));
  }
  return std::nullopt;
}

std::optional<Transition> Health::disable() {
  std::lock_guard lock(mutex_);
  if (state_.load(std::memory_order_relaxed) == HealthState::kDisabled) return std::nullopt;
  probeOutstanding_ = false;
  return move(HealthState::kDisabled, "admin disable");
}

std::optional<Transition> Health::enable(const HealthRules& rules) {
  std::lock_guard lock(mutex_);
  if (state_.load(std::memory_order_relaxed) != HealthState::kDisabled) return std::nullopt;
  // The first probe goes out at once.
  nextProbeAt_ = Clock::time_point{};
  return move(rules.probing ? HealthState::kInactive : HealthState::kActive, "admin enable");
}

bool Health::probeDue(Clock::time_point now, bool probeActive) const {
  std::lock_guard lock(mutex_);
  const HealthState current = state_.load(std::memory_order_relaxed);
  if (current == HealthState::kDisabled) return false;
  if (current == HealthState::kActive && !probeActive) return false;
  return !probeOutstanding_ && now >= nextProbeAt_;
}

uint64_t Health::startProbe(Clock::time_point now, std::chrono::milliseconds interval) {
  std::lock_guard lock(mutex_);
  probeOutstanding_ = true;
  probeSentAt_ = now;
  nextProbeAt_ = now + interval;
  return ++probeSequence_;
}

std::optional<Transition> Health::probeAnswered(uint64_t sequence, bool alive, uint16_t code,
                                                const HealthRules& rules) {
  std::lock_guard lock(mutex_);
  if (!probeOutstanding_ || sequence != probeSequence_) return std::nullopt;
  probeOutstanding_ = false;
  const std::string what = "answered " + std::to_string(code);
  if (alive) return successLocked(rules, what);
  return failureLocked(Failure{FailureSource::kProbe, what}, rules);
}

std::optional<Transition> Health::probeNotSent(uint64_t sequence, std::string what,
                                               const HealthRules& rules) {
  std::lock_guard lock(mutex_);
  if (!probeOutstanding_ || sequence != probeSequence_) return std::nullopt;
  probeOutstanding_ = false;
  return failureLocked(Failure{FailureSource::kProbe, std::move(what)}, rules);
}

std::optional<Transition> Health::checkProbeTimeout(Clock::time_point now,
                                                    std::chrono::milliseconds timeout,
                                                    const HealthRules& rules) {
  std::lock_guard lock(mutex_);
  if (!probeOutstanding_ || now - probeSentAt_ < timeout) return std::nullopt;
  probeOutstanding_ = false;
  return failureLocked(Failure{FailureSource::kProbe, "timeout"}, rules);
}

int Health::consecutiveFailures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

int Health::consecutiveSuccesses() const {
  std::lock_guard lock(mutex_);
  return successes_;
}

bool Health::probeOutstanding() const {
  std::lock_guard lock(mutex_);
  return probeOutstanding_;
}

}  // namespace strowger::dispatcher
