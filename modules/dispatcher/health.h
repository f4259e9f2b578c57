// The health of one destination (docs/dispatcher.md, "Health"): a state machine fed by OPTIONS
// probes and by real traffic, and the probe schedule that goes with it. Time is passed in by the
// caller, never read here, so that tests drive every transition with a clock of their own.
//
//   active --1 failure--> probing --N consecutive failures--> inactive
//     ^                     |                                   |
//     +------ 1 success ----+                                   |
//     +------------------ M consecutive successes --------------+
//   any --admin disable--> admin-disabled --admin enable--> inactive (active when not probing)
//
// Thread-safe: the probe timer, the workers that receive probe answers and the failure routes that
// report traffic failures all call in at once. state() is a lock-free read for the selection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace strowger::dispatcher {

using Clock = std::chrono::steady_clock;

enum class HealthState : uint8_t { kActive, kProbing, kInactive, kDisabled };

// "active", "probing", "inactive", "admin-disabled".
std::string_view healthStateName(HealthState state) noexcept;
// Whether a destination in `state` may be selected: active or probing.
constexpr bool usable(HealthState state) noexcept {
  return state == HealthState::kActive || state == HealthState::kProbing;
}

struct HealthRules {
  int failuresToInactive = 3;  // N
  int successesToActive = 2;   // M
  bool probing = true;         // probes run (interval > 0): admin enable then goes to inactive
};

enum class FailureSource : uint8_t { kProbe, kTraffic };

struct Failure {
  FailureSource source = FailureSource::kProbe;
  std::string what;  // "timeout", "answered 500", "send error", "503 reply", ...
};

struct Transition {
  HealthState from = HealthState::kActive;
  HealthState to = HealthState::kActive;
  std::string reason;  // "3 probe failures; last: timeout"
};

class Health {
 public:
  explicit Health(HealthState initial = HealthState::kActive) : state_(initial) {}

  HealthState state() const noexcept { return state_.load(std::memory_order_relaxed); }

  std::optional<Transition> failure(const Failure& failure, const HealthRules& rules);
  std::optional<Transition> success(const HealthRules& rules);
  // The operator's admin state. Enabling a disabled destination makes it inactive, so that M
  // probe successes confirm it before it takes traffic again (active at once when nothing
  // probes).
  std::optional<Transition> disable();
  std::optional<Transition> enable(const HealthRules& rules);

  // --- the probe schedule ---
  // Whether a probe is to be sent now: never to an admin-disabled destination; to an active one
  // only when `probeActive` (probe_mode all); to a probing or inactive one always; at most one
  // probe outstanding, and `interval` between the starts of two probes.
  bool probeDue(Clock::time_point now, bool probeActive) const;
  // Records a probe sent at `now` and returns its sequence number (which the probe's branch
  // carries, so that a late answer to an earlier probe is not taken for this one's).
  uint64_t startProbe(Clock::time_point now, std::chrono::milliseconds interval);
  // The answer to probe `sequence`: `alive` when its code is one of alive_codes. An answer to a
  // probe that is no longer outstanding (timed out, or a retransmission) is ignored.
  std::optional<Transition> probeAnswered(uint64_t sequence, bool alive, uint16_t code,
                                          const HealthRules& rules);
  // A probe that could not be sent counts as failed at once.
  std::optional<Transition> probeNotSent(uint64_t sequence, std::string what,
                                         const HealthRules& rules);
  // Fails the outstanding probe when it has waited `timeout` by `now`.
  std::optional<Transition> checkProbeTimeout(Clock::time_point now,
                                              std::chrono::milliseconds timeout,
                                              const HealthRules& rules);

  int consecutiveFailures() const;
  int consecutiveSuccesses() const;
  bool probeOutstanding() const;

 private:
  std::optional<Transition> failureLocked(const Failure& failure, const HealthRules& rules);
  std::optional<Transition> successLocked(const HealthRules& rules, std::string_view what);
  Transition move(HealthState to, std::string reason);

  mutable std::mutex mutex_;
  std::atomic<HealthState> state_;
  int failures_ = 0;   // consecutive, since the last success or transition to active
  int successes_ = 0;  // consecutive, since the last failure
  bool failuresAllProbes_ = true;
  bool failuresAllTraffic_ = true;
  bool probeOutstanding_ = false;
  uint64_t probeSequence_ = 0;
  Clock::time_point probeSentAt_{};
  Clock::time_point nextProbeAt_{};
};

}  // namespace strowger::dispatcher
