// The RFC 3261 §17 transaction state machines: INVITE client (§17.1.1), non-INVITE client
// (§17.1.2), INVITE server (§17.2.1) and non-INVITE server (§17.2.2).
//
// They are pure and single-threaded: no sockets, no clock, no locks. A machine consumes events
// (a method call each: a message received, a timer fired, a transport error, the transaction
// user (TU) sending a response) and answers through the TransactionActions it was given (send
// these bytes, pass this response up, start or cancel this timer, the transaction timed out,
// the transaction is over). The owner — a worker thread in the proxy, a test harness here —
// wires the actions to a transport and to a TimerWheel (docs/transactions.md).
//
// Rules every machine follows:
// * Actions are called synchronously from inside the event method. The owner must not destroy
//   the machine from inside an action; terminated() is the last action, after it the machine
//   ignores every event and the owner may destroy it once the event method returns.
// * Before terminated(), the machine cancels every timer it started.
// * Retransmissions (timers A, E, G) happen only when the transport is unreliable; on a reliable
//   one the wait timers D, I, J and K are zero, so the machine terminates at once (§17.1.1.2,
//   §17.1.2.2, §17.2.1, §17.2.2).
// * Messages a machine must send again are kept as bytes it owns (the request of a client
//   transaction, the last response of a server transaction); received messages are only looked
//   at during the call.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "strowger/sip/message.h"

namespace strowger::transaction {

// Timer values (RFC 3261 §17.1.1.1, Table 4). T1 is the round-trip estimate, T2 the longest
// retransmission interval for non-INVITE requests and INVITE responses, T4 how long a message
// may stay in the network.
struct TimerConfig {
  std::chrono::milliseconds t1{500};
  std::chrono::milliseconds t2{4000};
  std::chrono::milliseconds t4{5000};
  // Timer C (§16.6 step 11, §16.8): a proxy's guard against an INVITE that never gets a final
  // response; more than 3 minutes. Zero turns it off (a user agent has no timer C).
  std::chrono::milliseconds timerC{180000};
  // An INVITE server transaction sends 100 Trying itself when the TU has not answered within
  // this delay (§17.2.1: "200 ms"; §16.2 asks a proxy for it). Negative turns it off, zero sends
  // it at once.
  std::chrono::milliseconds trying100{200};

  std::chrono::milliseconds timerB() const { return 64 * t1; }
  std::chrono::milliseconds timerF() const { return 64 * t1; }
  std::chrono::milliseconds timerH() const { return 64 * t1; }
  std::chrono::milliseconds timerJ(bool reliable) const {
    return reliable ? std::chrono::milliseconds{0} : 64 * t1;
  }
  // Timer D: "at least 32 seconds" on unreliable transports.
  std::chrono::milliseconds timerD(bool reliable) const {
    return reliable ? std::chrono::milliseconds{0}
                    : std::max(std::chrono::milliseconds{32000}, 64 * t1);
  }
  std::chrono::milliseconds timerI(bool reliable) const {
    return reliable ? std::chrono::milliseconds{0} : t4;
  }
  std::chrono::milliseconds timerK(bool reliable) const {
    return reliable ? std::chrono::milliseconds{0} : t4;
  }
};

// The timers of §17 by their RFC names, plus the 100 Trying delay of the INVITE server.
enum class TimerName : uint8_t { kA, kB, kC, kD, kE, kF, kG, kH, kI, kJ, kK, kTrying };
inline constexpr std::size_t kTimerNameCount = 12;
std::string_view timerNameText(TimerName timer) noexcept;  // "A" ... "K", "100"

enum class State : uint8_t {
  kCalling,     // INVITE client: request sent, nothing heard yet
  kTrying,      // non-INVITE client and server: request sent / received, nothing answered yet
  kProceeding,  // a provisional response went by
  kCompleted,   // a final response went by; absorbing retransmissions
  kConfirmed,   // INVITE server: the ACK for a non-2xx final response arrived
  kTerminated,
};
std::string_view stateName(State state) noexcept;

// Why a send happens; the transport does not care, counters and traces do.
enum class SendKind : uint8_t {
  kRequest,                 // a client transaction's request, the first time
  kRequestRetransmission,   // timer A or E
  kAck,                     // the ACK for a non-2xx final response (§17.1.1.3), or its resend
  kResponse,                // a server transaction sending the TU's response or its own 100
  kResponseRetransmission,  // timer G, or a request retransmission absorbed (§17.2.1, §17.2.2)
};

// What a transaction asks of its owner. One instance may serve many transactions: every call
// is made by the transaction it concerns, and the owner knows which one it is calling.
class TransactionActions {
 public:
  virtual ~TransactionActions() = default;

  // Hands bytes to the transport, towards the transaction's peer.
  virtual void send(std::string_view bytes, SendKind kind) = 0;
  // Client transactions: a response for the TU (provisional or final; never a retransmission
  // of a final response, which the transaction absorbs).
  virtual void passResponse(const sip::Message& response) = 0;
  // Starts `timer` to fire after `after`; starting a running timer restarts it. The owner calls
  // the machine's onTimer(timer) when it fires, unless it was cancelled first.
  virtual void startTimer(TimerName timer, std::chrono::milliseconds after) = 0;
  virtual void cancelTimer(TimerName timer) = 0;
  // Timer B, F or H fired (the peer never answered or never acknowledged; §17.1.1.2, §17.1.2.2,
  // §17.2.1), or timer C (§16.8): in Calling the TU acts as if a 408 arrived and the transaction
  // terminates; in Proceeding the TU sends a CANCEL and the transaction stays to receive the
  // final response, for 64*T1 more (§9.1), after which timer C is reported again and the
  // transaction terminates.
  virtual void timedOut(TimerName timer) = 0;
  // The transport could not send (§17.1.4, §17.2.4); terminated() follows.
  virtual void transportFailed() = 0;
  // The last action of a transaction: it may be removed from its table and destroyed.
  virtual void terminated() = 0;
};

// What is common to the four machines.
class Transaction {
 public:
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  virtual ~Transaction() = default;

  State state() const noexcept { return state_; }
  bool reliable() const noexcept { return reliable_; }
  bool terminatedState() const noexcept { return state_ == State::kTerminated; }
  bool timerRunning(TimerName timer) const noexcept {
    return running_[static_cast<std::size_t>(timer)];
  }

  // A timer the owner started on this machine's behalf fired.
  virtual void onTimer(TimerName timer) = 0;
  // The transport reported that it could not deliver what this transaction sent.
  void onTransportError();

 protected:
  Transaction(const TimerConfig& config, bool reliable, TransactionActions& actions)
      : config_(config), reliable_(reliable), actions_(actions) {}

  // Starts (or restarts) / cancels one of this machine's timers through the actions.
  void arm(TimerName timer, std::chrono::milliseconds after);
  void disarm(TimerName timer);
  // Cancels every running timer, enters kTerminated and reports it.
  void terminate();
  // Takes a consumed timer off the running set; false when it was not running (a late firing of
  // a cancelled timer, which is ignored).
  bool consume(TimerName timer);

  TimerConfig config_;
  bool reliable_;
  TransactionActions& actions_;
  State state_ = State::kTrying;
  std::array<bool, kTimerNameCount> running_{};
};

// §17.1.1. Created by the TU with the INVITE to send (bytes as they go on the wire, Via with
// this element's branch on top).
class InviteClientTransaction final : public Transaction {
 public:
  InviteClientTransaction(const TimerConfig& config, bool reliable, TransactionActions& actions);

  // Sends the request and enters Calling: timer A (unreliable only), timer B, and timer C when
  // configured. `request` must parse; the ACK for a non-2xx response is built from it.
  void start(std::string request);
  // A response matched to this transaction (§17.1.3).
  void onResponse(const sip::Message& response);
  void onTimer(TimerName timer) override;

  const std::string& request() const noexcept { return request_; }
  // The ACK sent for the non-2xx final response; empty before one.
  const std::string& ack() const noexcept { return ack_; }

 private:
  void sendAck(const sip::Message& response);

  std::string request_;
  std::string ack_;
  std::chrono::milliseconds intervalA_{0};
  bool cancelling_ = false;  // timer C fired in Proceeding: the TU is cancelling this branch
};

// §17.1.2. Created by the TU with any request but INVITE and ACK.
class NonInviteClientTransaction final : public Transaction {
 public:
  NonInviteClientTransaction(const TimerConfig& config, bool reliable, TransactionActions& actions);

  // Sends the request and enters Trying: timer E (unreliable only) and timer F.
  void start(std::string request);
  void onResponse(const sip::Message& response);
  void onTimer(TimerName timer) override;

  const std::string& request() const noexcept { return request_; }

 private:
  std::string request_;
  std::chrono::milliseconds intervalE_{0};
};

// §17.2.1. Created when an INVITE matches no transaction; starts in Proceeding.
class InviteServerTransaction final : public Transaction {
 public:
  InviteServerTransaction(const TimerConfig& config, bool reliable, TransactionActions& actions);

  // Takes the INVITE (copying its bytes: the 100 Trying is built from them) and enters
  // Proceeding, arming the 100 Trying delay when configured.
  void start(const sip::Message& invite);
  // A request matched to this transaction (§17.2.3): a retransmission of the INVITE, or the ACK
  // for a non-2xx final response. Anything else is ignored, and so is an ACK without an RFC 3261
  // branch whose To tag differs from the final response's (the RFC 2543 rule).
  void onRequest(const sip::Message& request);
  // The TU responds. `status` is the status code of `response`, the bytes to send. A 2xx
  // terminates the transaction (RFC 3261; the ACK for a 2xx is end to end); 300-699 enters
  // Completed. Ignored once a final response went.
  void respond(uint16_t status, std::string response);
  void onTimer(TimerName timer) override;

  const std::string& lastResponse() const noexcept { return lastResponse_; }
  uint16_t lastStatus() const noexcept { return lastStatus_; }

 private:
  void sendTrying();

  std::string request_;
  std::string lastResponse_;
  std::string finalToTag_;  // the To tag of the 300-699 response, for RFC 2543 ACKs
  uint16_t lastStatus_ = 0;
  std::chrono::milliseconds intervalG_{0};
};

// §17.2.2. Created when a request other than INVITE and ACK matches no transaction.
class NonInviteServerTransaction final : public Transaction {
 public:
  NonInviteServerTransaction(const TimerConfig& config, bool reliable, TransactionActions& actions);

  // Enters Trying.
  void start(const sip::Message& request);
  // A retransmission of the request: absorbed in Trying, answered with the last response after.
  void onRequest(const sip::Message& request);
  // The TU responds: 1xx enters (or stays in) Proceeding, 200-699 enters Completed.
  void respond(uint16_t status, std::string response);
  void onTimer(TimerName timer) override;

  const std::string& lastResponse() const noexcept { return lastResponse_; }
  uint16_t lastStatus() const noexcept { return lastStatus_; }

 private:
  std::string lastResponse_;
  uint16_t lastStatus_ = 0;
};

// The ACK for a non-2xx final response (§17.1.1.3): Request-URI, Call-ID, From, CSeq number and
// the top Via of `invite`, To from `response` (with its tag), the Route headers of `invite`.
// Appends to `out`; false (out unchanged) when the INVITE lacks what the ACK needs.
bool buildAckForNon2xx(const sip::Message& invite, const sip::Message& response, std::string& out);

// The CANCEL for `request` as this element sent it (§9.1): its Request-URI, top Via (so the next
// hop matches it to the request's transaction), Route headers, From, To, Call-ID and CSeq number,
// with the method CANCEL. Appends to `out`; false (out unchanged) when `request` lacks a field.
bool buildCancel(const sip::Message& request, std::string& out);

}  // namespace strowger::transaction
