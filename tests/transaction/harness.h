// A fake owner for one transaction: records every action, and runs the transaction's timers on a
// TimerWheel driven by a fake clock.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/sip/message.h"
#include "strowger/sip/reply.h"
#include "strowger/transaction/timer_wheel.h"
#include "strowger/transaction/transaction.h"

namespace strowger::transaction::testing {

using std::chrono::milliseconds;

inline const TimePoint kT0 = TimePoint{} + std::chrono::hours(24);

struct Sent {
  milliseconds at;
  SendKind kind;
  std::string bytes;
};

class Harness final : public TransactionActions {
 public:
  void attach(Transaction& transaction) { transaction_ = &transaction; }

  void send(std::string_view bytes, SendKind kind) override {
    sent.push_back({elapsed(), kind, std::string(bytes)});
  }
  void passResponse(const sip::Message& response) override {
    passed.push_back(response.statusCode());
  }
  void startTimer(TimerName timer, milliseconds after) override {
    auto& handle = handles_[static_cast<std::size_t>(timer)];
    wheel_.cancel(handle);
    handle = wheel_.schedule(now_ + after, static_cast<TimerWheel::Cookie>(timer));
    started.push_back({timer, after});
  }
  void cancelTimer(TimerName timer) override {
    auto& handle = handles_[static_cast<std::size_t>(timer)];
    wheel_.cancel(handle);
    handle = {};
  }
  void timedOut(TimerName timer) override { timeouts.push_back(timer); }
  void transportFailed() override { ++transportFailures; }
  void terminated() override {
    ++terminations;
    terminatedAt = elapsed();
  }

  // Moves the fake clock to `t` after kT0, firing due timers at their own time.
  void advanceTo(milliseconds t) {
    wheel_.advance(kT0 + t, [this](TimerWheel::Cookie cookie) {
      now_ = wheel_.now();
      transaction_->onTimer(static_cast<TimerName>(cookie));
    });
    now_ = kT0 + t;
  }
  milliseconds elapsed() const { return std::chrono::duration_cast<milliseconds>(now_ - kT0); }
  std::size_t liveTimers() const { return wheel_.size(); }

  // Times of the sends of one kind.
  std::vector<milliseconds> sendTimes(SendKind kind) const {
    std::vector<milliseconds> out;
    for (const auto& s : sent) {
      if (s.kind == kind) out.push_back(s.at);
    }
    return out;
  }
  std::size_t count(SendKind kind) const { return sendTimes(kind).size(); }

  std::vector<Sent> sent;
  std::vector<uint16_t> passed;
  std::vector<TimerName> timeouts;
  std::vector<std::pair<TimerName, milliseconds>> started;
  int transportFailures = 0;
  int terminations = 0;
  milliseconds terminatedAt{-1};

 private:
  Transaction* transaction_ = nullptr;
  TimePoint now_ = kT0;
  TimerWheel wheel_{kT0};
  std::array<TimerHandle, kTimerNameCount> handles_{};
};

// Owns a parsed message and the bytes it indexes.
struct Parsed {
  explicit Parsed(std::string text) : bytes(std::move(text)) {
    ok = message.parse(bytes).hasValue();
  }
  Parsed(Parsed&&) = delete;  // the message indexes `bytes`
  std::string bytes;
  sip::Message message;
  bool ok = false;
};

inline std::string makeReply(std::string_view request, uint16_t status,
                             std::string_view toTag = {}) {
  sip::Message m;
  std::string out;
  if (!m.parse(request)) return out;
  sip::ReplyOptions options;
  options.toTag = toTag;
  sip::buildReply(m, status, {}, options, out);
  return out;
}

}  // namespace strowger::transaction::testing
