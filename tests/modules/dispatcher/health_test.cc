// The health state machine, every transition driven by a test clock (docs/dispatcher.md,
// "Health").
#include <gtest/gtest.h>

#include "health.h"

namespace strowger::dispatcher {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const HealthRules kRules{3, 2, true};

Failure probeTimeout() {
  return Failure{FailureSource::kProbe, "timeout"};
}
Failure callTimeout() {
  return Failure{FailureSource::kTraffic, "timeout"};
}

void expectTransition(const std::optional<Transition>& t, HealthState from, HealthState to,
                      const std::string& reason) {
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, from);
  EXPECT_EQ(t->to, to);
  EXPECT_EQ(t->reason, reason);
}

TEST(DispatcherHealth, StateNames) {
  EXPECT_EQ(healthStateName(HealthState::kActive), "active");
  EXPECT_EQ(healthStateName(HealthState::kProbing), "probing");
  EXPECT_EQ(healthStateName(HealthState::kInactive), "inactive");
  EXPECT_EQ(healthStateName(HealthState::kDisabled), "admin-disabled");
  EXPECT_TRUE(usable(HealthState::kActive));
  EXPECT_TRUE(usable(HealthState::kProbing));
  EXPECT_FALSE(usable(HealthState::kInactive));
  EXPECT_FALSE(usable(HealthState::kDisabled));
}

TEST(DispatcherHealth, OneFailureMakesActiveProbing) {
  Health health;
  expectTransition(health.failure(probeTimeout(), kRules), HealthState::kActive,
                   HealthState::kProbing, "1 probe failure; last: timeout");
}

TEST(DispatcherHealth, ProbingBackToActiveOnOneSuccess) {
  Health health;
  health.failure(callTimeout(), kRules);
  expectTransition(health.success(kRules), HealthState::kProbing, HealthState::kActive,
                   "probe success");
  EXPECT_EQ(health.consecutiveFailures(), 0);
}

TEST(DispatcherHealth, NConsecutiveFailuresMakeInactive) {
  Health health;
  health.failure(probeTimeout(), kRules);
  EXPECT_FALSE(health.failure(probeTimeout(), kRules).has_value());
  EXPECT_EQ(health.state(), HealthState::kProbing);
  expectTransition(health.failure(probeTimeout(), kRules), HealthState::kProbing,
                   HealthState::kInactive, "3 probe failures; last: timeout");
  // More failures while inactive change nothing.
  EXPECT_FALSE(health.failure(probeTimeout(), kRules).has_value());
  EXPECT_EQ(health.state(), HealthState::kInactive);
}

TEST(DispatcherHealth, MixedFailuresSayNoKind) {
  Health health;
  health.failure(callTimeout(), kRules);
  health.failure(probeTimeout(), kRules);
  expectTransition(health.failure(Failure{FailureSource::kTraffic, "503 reply"}, kRules),
                   HealthState::kProbing, HealthState::kInactive, "3 failures; last: 503 reply");
}

TEST(DispatcherHealth, CallFailuresOnly) {
  Health health;
  expectTransition(health.failure(callTimeout(), kRules), HealthState::kActive,
                   HealthState::kProbing, "1 call failure; last: timeout");
}

TEST(DispatcherHealth, NOfOneGoesStraightToInactive) {
  Health health;
  expectTransition(health.failure(probeTimeout(), HealthRules{1, 1, true}), HealthState::kActive,
                   HealthState::kInactive, "1 probe failure; last: timeout");
}

TEST(DispatcherHealth, InactiveNeedsMConsecutiveSuccesses) {
  Health health(HealthState::kInactive);
  EXPECT_FALSE(health.success(kRules).has_value());
  // A failure in between starts the count again.
  EXPECT_FALSE(health.failure(probeTimeout(), kRules).has_value());
  EXPECT_FALSE(health.success(kRules).has_value());
  EXPECT_EQ(health.state(), HealthState::kInactive);
  expectTransition(health.success(kRules), HealthState::kInactive, HealthState::kActive,
                   "2 probe successes; last: success");
}

TEST(DispatcherHealth, AdminDisableAndEnable) {
  for (HealthState from : {HealthState::kActive, HealthState::kProbing, HealthState::kInactive}) {
    Health health(from);
    expectTransition(health.disable(), from, HealthState::kDisabled, "admin disable");
    EXPECT_FALSE(health.disable().has_value());
    // Neither traffic nor probes move a disabled destination, and it is never probed.
    EXPECT_FALSE(health.failure(probeTimeout(), kRules).has_value());
    EXPECT_FALSE(health.success(kRules).has_value());
    EXPECT_FALSE(health.probeDue(Clock::time_point{} + seconds(100), true));
    EXPECT_EQ(health.state(), HealthState::kDisabled);
    // Enabled again: inactive until the probes confirm it.
    expectTransition(health.enable(kRules), HealthState::kDisabled, HealthState::kInactive,
                     "admin enable");
    EXPECT_FALSE(health.enable(kRules).has_value());
  }
  Health unprobed(HealthState::kDisabled);
  expectTransition(unprobed.enable(HealthRules{3, 2, false}), HealthState::kDisabled,
                   HealthState::kActive, "admin enable");
}

TEST(DispatcherHealth, ProbeScheduleAndTimeouts) {
  const Clock::time_point t0 = Clock::time_point{} + seconds(1000);
  const milliseconds interval(1000), timeout(500);
  Health health;
  // probe_mode inactive: an active destination is not probed; probe_mode all: it is.
  EXPECT_FALSE(health.probeDue(t0, false));
  EXPECT_TRUE(health.probeDue(t0, true));

  const uint64_t first = health.startProbe(t0, interval);
  EXPECT_FALSE(health.probeDue(t0 + milliseconds(2000), true));  // one outstanding at a time
  EXPECT_FALSE(health.checkProbeTimeout(t0 + milliseconds(499), timeout, kRules).has_value());
  EXPECT_TRUE(health.probeOutstanding());
  expectTransition(health.checkProbeTimeout(t0 + milliseconds(500), timeout, kRules),
                   HealthState::kActive, HealthState::kProbing, "1 probe failure; last: timeout");
  EXPECT_FALSE(health.probeOutstanding());
  // A late answer to the timed-out probe is not taken for a success.
  EXPECT_FALSE(health.probeAnswered(first, true, 200, kRules).has_value());
  EXPECT_EQ(health.state(), HealthState::kProbing);

  // Probing: probed at the interval even in probe_mode inactive.
  EXPECT_FALSE(health.probeDue(t0 + milliseconds(999), false));
  EXPECT_TRUE(health.probeDue(t0 + milliseconds(1000), false));
  const uint64_t second = health.startProbe(t0 + milliseconds(1000), interval);
  expectTransition(health.probeAnswered(second, true, 200, kRules), HealthState::kProbing,
                   HealthState::kActive, "probe answered 200");
  EXPECT_FALSE(health.probeOutstanding());
}

TEST(DispatcherHealth, ProbesTakeADestinationDownAndBackUp) {
  Clock::time_point now = Clock::time_point{} + seconds(1);
  const milliseconds interval(1000), timeout(500);
  Health health;
  std::vector<std::string> log;
  auto note = [&](const std::optional<Transition>& t) {
    if (t) {
      log.push_back(std::string(healthStateName(t->from)) + " -> " +
                    std::string(healthStateName(t->to)) + " (" + t->reason + ")");
    }
  };
  // probe_mode all: every probe times out until the destination is inactive.
  for (int round = 0; round < 5; ++round) {
    if (health.probeDue(now, true)) health.startProbe(now, interval);
    now += timeout;
    note(health.checkProbeTimeout(now, timeout, kRules));
    now += interval - timeout;
  }
  EXPECT_EQ(health.state(), HealthState::kInactive);
  // A reply that is not alive counts as a failure too; then two alive answers bring it back.
  uint64_t sequence = health.startProbe(now, interval);
  note(health.probeAnswered(sequence, false, 500, kRules));
  now += interval;
  sequence = health.startProbe(now, interval);
  note(health.probeAnswered(sequence, true, 200, kRules));
  now += interval;
  sequence = health.startProbe(now, interval);
  note(health.probeAnswered(sequence, true, 404, kRules));
  // A send error fails the probe at once.
  note(health.failure(Failure{FailureSource::kTraffic, "could not send"}, kRules));
  now += interval;
  sequence = health.startProbe(now, interval);
  note(health.probeNotSent(sequence, "send error", kRules));
  EXPECT_EQ(log, (std::vector<std::string>{
                     "active -> probing (1 probe failure; last: timeout)",
                     "probing -> inactive (3 probe failures; last: timeout)",
                     "inactive -> active (2 probe successes; last: answered 404)",
                     "active -> probing (1 call failure; last: could not send)",
                 }));
  EXPECT_EQ(health.consecutiveFailures(), 2);
}

}  // namespace
}  // namespace strowger::dispatcher
