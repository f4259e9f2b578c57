// The four RFC 3261 §17 state machines, every transition and timer, on a fake clock.
#include "strowger/transaction/transaction.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.h"

namespace strowger::transaction {
namespace {

using std::chrono::milliseconds;
using testing::Harness;
using testing::makeReply;
using testing::Parsed;

using Ms = std::vector<milliseconds>;

Ms ms(std::initializer_list<int> values) {
  Ms out;
  for (int v : values)
    out.emplace_back(v);
  return out;
}

const std::string kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKclient1\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
    "Route: <sip:p2.example.com;lr>\r\n"
    "Route: <sip:p3.example.com;lr>, <sip:p4.example.com;lr>\r\n"
    "Max-Forwards: 69\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

const std::string kOptions =
    "OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKclient2\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:carol@chicago.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: options1@pc33.atlanta.example.com\r\n"
    "CSeq: 63104 OPTIONS\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

// --- §17.1.1 INVITE client ----------------------------------------------------------------------

struct InviteClient {
  explicit InviteClient(bool reliable, TimerConfig config = {}) : tx(config, reliable, h) {
    h.attach(tx);
  }
  void respond(uint16_t status, std::string_view toTag = "as83kd") {
    Parsed r(makeReply(kInvite, status, toTag));
    ASSERT_TRUE(r.ok);
    tx.onResponse(r.message);
  }
  Harness h;
  InviteClientTransaction tx;
};

TEST(TransactionInviteClient, TimerADoublesUntilTimerB) {
  InviteClient c(false);
  c.tx.start(kInvite);
  EXPECT_EQ(c.tx.state(), State::kCalling);
  EXPECT_EQ(c.h.sendTimes(SendKind::kRequest), ms({0}));
  c.h.advanceTo(milliseconds(31999));
  // §17.1.1.2: A = T1, 2T1, 4T1 ... with no cap at T2.
  EXPECT_EQ(c.h.sendTimes(SendKind::kRequestRetransmission),
            ms({500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(c.h.terminations, 0);
  c.h.advanceTo(milliseconds(32000));  // B = 64*T1
  EXPECT_EQ(c.h.timeouts, std::vector<TimerName>{TimerName::kB});
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.terminatedAt, milliseconds(32000));
  EXPECT_EQ(c.h.liveTimers(), 0u);  // A and C cancelled
  c.h.advanceTo(milliseconds(400000));
  EXPECT_EQ(c.h.sent.size(), 7u);
  EXPECT_EQ(c.h.terminations, 1);
}

TEST(TransactionInviteClient, ConfigurableT1) {
  TimerConfig config;
  config.t1 = milliseconds(100);
  InviteClient c(false, config);
  c.tx.start(kInvite);
  c.h.advanceTo(milliseconds(10000));
  EXPECT_EQ(c.h.sendTimes(SendKind::kRequestRetransmission), ms({100, 300, 700, 1500, 3100, 6300}));
  EXPECT_EQ(c.h.terminatedAt, milliseconds(6400));
}

TEST(TransactionInviteClient, ReliableTransportNeverRetransmits) {
  InviteClient c(true);
  c.tx.start(kInvite);
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kA));
  c.h.advanceTo(milliseconds(32000));
  EXPECT_EQ(c.h.count(SendKind::kRequestRetransmission), 0u);
  EXPECT_EQ(c.h.timeouts, std::vector<TimerName>{TimerName::kB});
}

TEST(TransactionInviteClient, ProvisionalStopsRetransmissionsAndTimerB) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.h.advanceTo(milliseconds(600));
  c.respond(100);
  EXPECT_EQ(c.tx.state(), State::kProceeding);
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kA));
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kB));
  c.respond(180);
  c.respond(183);
  EXPECT_EQ(c.h.passed, (std::vector<uint16_t>{100, 180, 183}));
  c.h.advanceTo(milliseconds(100000));
  EXPECT_EQ(c.h.count(SendKind::kRequestRetransmission), 1u);  // the one at 500 ms
  EXPECT_TRUE(c.h.timeouts.empty());
  c.respond(200);
  EXPECT_EQ(c.h.passed.back(), 200);
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.count(SendKind::kAck), 0u);  // the ACK for a 2xx is end to end
}

TEST(TransactionInviteClient, TwoHundredInCallingTerminates) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.respond(200);
  EXPECT_EQ(c.h.passed, std::vector<uint16_t>{200});
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.liveTimers(), 0u);
  c.respond(200);  // a retransmission no longer reaches a terminated transaction's TU
  EXPECT_EQ(c.h.passed.size(), 1u);
}

TEST(TransactionInviteClient, NonTwoHundredFinalIsAcknowledged) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.h.advanceTo(milliseconds(700));
  c.respond(486);
  EXPECT_EQ(c.tx.state(), State::kCompleted);
  EXPECT_EQ(c.h.passed, std::vector<uint16_t>{486});
  EXPECT_EQ(c.h.sendTimes(SendKind::kAck), ms({700}));
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kA));
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kB));
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kC));
  EXPECT_TRUE(c.tx.timerRunning(TimerName::kD));
  // Retransmissions of the final response: ACKed again, never passed up.
  c.h.advanceTo(milliseconds(1200));
  c.respond(486);
  c.h.advanceTo(milliseconds(2200));
  c.respond(486);
  EXPECT_EQ(c.h.sendTimes(SendKind::kAck), ms({700, 1200, 2200}));
  EXPECT_EQ(c.h.passed.size(), 1u);
  EXPECT_EQ(c.h.sent.back().bytes, c.tx.ack());
  // Timer D: 32 s on an unreliable transport.
  c.h.advanceTo(milliseconds(32699));
  EXPECT_EQ(c.tx.state(), State::kCompleted);
  c.h.advanceTo(milliseconds(32700));
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_TRUE(c.h.timeouts.empty());
}

TEST(TransactionInviteClient, NonTwoHundredFinalAfterProvisional) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.respond(180);
  c.respond(603);
  EXPECT_EQ(c.h.passed, (std::vector<uint16_t>{180, 603}));
  EXPECT_EQ(c.h.count(SendKind::kAck), 1u);
  EXPECT_EQ(c.tx.state(), State::kCompleted);
}

TEST(TransactionInviteClient, ReliableTimerDIsZero) {
  InviteClient c(true);
  c.tx.start(kInvite);
  c.respond(404);
  EXPECT_EQ(c.h.count(SendKind::kAck), 1u);
  EXPECT_EQ(c.h.passed, std::vector<uint16_t>{404});
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.terminatedAt, milliseconds(0));
}

TEST(TransactionInviteClient, AckIsBuiltFromTheRequest) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.respond(486, "as83kd");
  const std::string expected =
      "ACK sip:bob@biloxi.example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKclient1\r\n"
      "Route: <sip:p2.example.com;lr>\r\n"
      "Route: <sip:p3.example.com;lr>, <sip:p4.example.com;lr>\r\n"
      "Max-Forwards: 69\r\n"
      "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
      "To: Bob <sip:bob@biloxi.example.com>;tag=as83kd\r\n"
      "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
      "CSeq: 314159 ACK\r\n"
      "Content-Length: 0\r\n"
      "\r\n";
  EXPECT_EQ(c.tx.ack(), expected);
  Parsed ack(c.tx.ack());
  ASSERT_TRUE(ack.ok);
  EXPECT_EQ(ack.message.method(), sip::Method::kAck);
  EXPECT_EQ(ack.message.to()->tag, "as83kd");
  EXPECT_EQ(ack.message.cseq()->method, sip::Method::kAck);
  EXPECT_EQ(ack.message.count(sip::HeaderId::kVia), 1u);
}

TEST(TransactionInviteClient, TimerCWithoutProvisionalEndsTheTransaction) {
  TimerConfig config;
  config.timerC = milliseconds(20000);  // before B, for the test
  InviteClient c(true, config);
  c.tx.start(kInvite);
  c.h.advanceTo(milliseconds(20000));
  EXPECT_EQ(c.h.timeouts, std::vector<TimerName>{TimerName::kC});
  EXPECT_EQ(c.tx.state(), State::kTerminated);
}

TEST(TransactionInviteClient, TimerCRestartsOnProvisionalAndAsksForCancel) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.h.advanceTo(milliseconds(1000));
  c.respond(100);  // 100 does not restart C (§16.8: 101-199)
  c.h.advanceTo(milliseconds(60000));
  c.respond(180);  // restarts C: 3 minutes from now
  c.h.advanceTo(milliseconds(239999));
  EXPECT_TRUE(c.h.timeouts.empty());
  c.h.advanceTo(milliseconds(240000));
  EXPECT_EQ(c.h.timeouts, std::vector<TimerName>{TimerName::kC});
  // The TU cancels; the transaction stays to receive the 487.
  EXPECT_EQ(c.tx.state(), State::kProceeding);
  c.respond(487);
  EXPECT_EQ(c.tx.state(), State::kCompleted);
  EXPECT_EQ(c.h.passed.back(), 487);
}

TEST(TransactionInviteClient, BranchGivenUpWhenTheCancelBringsNoFinalResponse) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.respond(180);
  c.h.advanceTo(milliseconds(180000));
  EXPECT_EQ(c.h.timeouts, std::vector<TimerName>{TimerName::kC});
  c.respond(183);  // does not put the cancel off
  c.h.advanceTo(milliseconds(211999));
  EXPECT_EQ(c.tx.state(), State::kProceeding);
  c.h.advanceTo(milliseconds(212000));  // 64*T1 after the CANCEL (§9.1)
  EXPECT_EQ(c.h.timeouts, (std::vector<TimerName>{TimerName::kC, TimerName::kC}));
  EXPECT_EQ(c.tx.state(), State::kTerminated);
}

TEST(TransactionInviteClient, TimerCDefaultAndOff) {
  InviteClient on(false);
  on.tx.start(kInvite);
  EXPECT_TRUE(on.tx.timerRunning(TimerName::kC));
  TimerConfig config;
  config.timerC = milliseconds(0);
  InviteClient off(false, config);
  off.tx.start(kInvite);
  EXPECT_FALSE(off.tx.timerRunning(TimerName::kC));
  on.respond(180);
  on.h.advanceTo(milliseconds(179999));
  EXPECT_TRUE(on.h.timeouts.empty());
  on.h.advanceTo(milliseconds(180000));
  EXPECT_EQ(on.h.timeouts, std::vector<TimerName>{TimerName::kC});
}

TEST(TransactionInviteClient, TransportErrorTerminates) {
  InviteClient c(false);
  c.tx.start(kInvite);
  c.tx.onTransportError();
  EXPECT_EQ(c.h.transportFailures, 1);
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.liveTimers(), 0u);
  c.tx.onTransportError();
  EXPECT_EQ(c.h.transportFailures, 1);
}

// --- §17.1.2 non-INVITE client ------------------------------------------------------------------

struct NonInviteClient {
  explicit NonInviteClient(bool reliable, TimerConfig config = {}) : tx(config, reliable, h) {
    h.attach(tx);
  }
  void respond(uint16_t status) {
    Parsed r(makeReply(kOptions, status, "t1"));
    ASSERT_TRUE(r.ok);
    tx.onResponse(r.message);
  }
  Harness h;
  NonInviteClientTransaction tx;
};

TEST(TransactionNonInviteClient, TimerEDoublesUpToT2UntilTimerF) {
  NonInviteClient c(false);
  c.tx.start(kOptions);
  EXPECT_EQ(c.tx.state(), State::kTrying);
  c.h.advanceTo(milliseconds(31999));
  EXPECT_EQ(c.h.sendTimes(SendKind::kRequestRetransmission),
            ms({500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500}));
  EXPECT_TRUE(c.h.timeouts.empty());
  c.h.advanceTo(milliseconds(32000));
  EXPECT_EQ(c.h.timeouts, std::vector<TimerName>{TimerName::kF});
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.liveTimers(), 0u);
}

TEST(TransactionNonInviteClient, ConfigurableT1AndT2) {
  TimerConfig config;
  config.t1 = milliseconds(100);
  config.t2 = milliseconds(400);
  NonInviteClient c(false, config);
  c.tx.start(kOptions);
  c.h.advanceTo(milliseconds(2000));
  EXPECT_EQ(c.h.sendTimes(SendKind::kRequestRetransmission), ms({100, 300, 700, 1100, 1500, 1900}));
  c.h.advanceTo(milliseconds(6400));
  EXPECT_EQ(c.h.terminatedAt, milliseconds(6400));
}

TEST(TransactionNonInviteClient, ProceedingRetransmitsEveryT2) {
  NonInviteClient c(false);
  c.tx.start(kOptions);
  c.h.advanceTo(milliseconds(600));
  c.respond(100);
  EXPECT_EQ(c.tx.state(), State::kProceeding);
  EXPECT_EQ(c.h.passed, std::vector<uint16_t>{100});
  c.h.advanceTo(milliseconds(14000));
  // E was due at 1500 (set in Trying); from then on every T2.
  EXPECT_EQ(c.h.sendTimes(SendKind::kRequestRetransmission), ms({500, 1500, 5500, 9500, 13500}));
  c.respond(180);
  EXPECT_EQ(c.h.passed, (std::vector<uint16_t>{100, 180}));
  c.h.advanceTo(milliseconds(32000));  // F still applies in Proceeding
  EXPECT_EQ(c.h.timeouts, std::vector<TimerName>{TimerName::kF});
  EXPECT_EQ(c.tx.state(), State::kTerminated);
}

TEST(TransactionNonInviteClient, FinalResponseThenTimerK) {
  NonInviteClient c(false);
  c.tx.start(kOptions);
  c.h.advanceTo(milliseconds(800));
  c.respond(200);
  EXPECT_EQ(c.tx.state(), State::kCompleted);
  EXPECT_EQ(c.h.passed, std::vector<uint16_t>{200});
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kE));
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kF));
  c.respond(200);  // absorbed
  c.respond(404);  // absorbed too: the transaction already has its final response
  EXPECT_EQ(c.h.passed.size(), 1u);
  c.h.advanceTo(milliseconds(5799));
  EXPECT_EQ(c.tx.state(), State::kCompleted);
  c.h.advanceTo(milliseconds(5800));  // K = T4
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.count(SendKind::kRequestRetransmission), 1u);
  EXPECT_TRUE(c.h.timeouts.empty());
}

TEST(TransactionNonInviteClient, FinalAfterProvisional) {
  NonInviteClient c(false);
  c.tx.start(kOptions);
  c.respond(100);
  c.respond(503);
  EXPECT_EQ(c.h.passed, (std::vector<uint16_t>{100, 503}));
  EXPECT_EQ(c.tx.state(), State::kCompleted);
  EXPECT_TRUE(c.tx.timerRunning(TimerName::kK));
}

TEST(TransactionNonInviteClient, ReliableTransport) {
  NonInviteClient c(true);
  c.tx.start(kOptions);
  EXPECT_FALSE(c.tx.timerRunning(TimerName::kE));
  EXPECT_TRUE(c.tx.timerRunning(TimerName::kF));
  c.respond(200);
  EXPECT_EQ(c.tx.state(), State::kTerminated);  // K = 0
  EXPECT_EQ(c.h.count(SendKind::kRequestRetransmission), 0u);
}

TEST(TransactionNonInviteClient, TransportError) {
  NonInviteClient c(false);
  c.tx.start(kOptions);
  c.respond(100);
  c.tx.onTransportError();
  EXPECT_EQ(c.h.transportFailures, 1);
  EXPECT_EQ(c.tx.state(), State::kTerminated);
  EXPECT_EQ(c.h.liveTimers(), 0u);
}

// --- §17.2.1 INVITE server ----------------------------------------------------------------------

struct InviteServer {
  explicit InviteServer(bool reliable, TimerConfig config = {})
      : request(kInvite), tx(config, reliable, h) {
    h.attach(tx);
  }
  void start() { tx.start(request.message); }
  void retransmission() { tx.onRequest(request.message); }
  void ack() {
    std::string text =
        "ACK sip:bob@biloxi.example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKclient1\r\n"
        "Max-Forwards: 70\r\n"
        "To: Bob <sip:bob@biloxi.example.com>;tag=srv\r\n"
        "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
        "CSeq: 314159 ACK\r\n"
        "Content-Length: 0\r\n\r\n";
    Parsed a(std::move(text));
    ASSERT_TRUE(a.ok);
    tx.onRequest(a.message);
  }
  void respond(uint16_t status) { tx.respond(status, makeReply(kInvite, status, "srv")); }
  Parsed request;
  Harness h;
  InviteServerTransaction tx;
};

TEST(TransactionInviteServer, SendsTryingAfter200Ms) {
  InviteServer s(false);
  s.start();
  EXPECT_EQ(s.tx.state(), State::kProceeding);
  s.retransmission();  // nothing to send yet: absorbed
  s.h.advanceTo(milliseconds(199));
  EXPECT_TRUE(s.h.sent.empty());
  s.h.advanceTo(milliseconds(200));
  ASSERT_EQ(s.h.sent.size(), 1u);
  EXPECT_EQ(s.h.sent[0].kind, SendKind::kResponse);
  Parsed trying(s.h.sent[0].bytes);
  ASSERT_TRUE(trying.ok);
  EXPECT_EQ(trying.message.statusCode(), 100);
  EXPECT_EQ(trying.message.count(sip::HeaderId::kVia), 2u);
  EXPECT_EQ(trying.message.to()->tag, "");  // never a tag on 100 (§8.2.6.2)
  // A retransmitted INVITE gets the 100 again.
  s.h.advanceTo(milliseconds(500));
  s.retransmission();
  EXPECT_EQ(s.h.sendTimes(SendKind::kResponseRetransmission), ms({500}));
  EXPECT_EQ(s.h.sent.back().bytes, s.h.sent[0].bytes);
}

TEST(TransactionInviteServer, NoTryingWhenTheTuAnswersFirst) {
  InviteServer s(false);
  s.start();
  s.h.advanceTo(milliseconds(150));
  s.respond(180);
  s.h.advanceTo(milliseconds(1000));
  ASSERT_EQ(s.h.sent.size(), 1u);
  EXPECT_EQ(s.tx.lastStatus(), 180);
  s.retransmission();  // the latest provisional response again
  EXPECT_EQ(s.h.sent.back().bytes, s.tx.lastResponse());
  EXPECT_EQ(s.h.count(SendKind::kResponseRetransmission), 1u);
}

TEST(TransactionInviteServer, TryingDelayIsConfigurable) {
  TimerConfig now;
  now.trying100 = milliseconds(0);
  InviteServer immediate(false, now);
  immediate.start();
  EXPECT_EQ(immediate.h.count(SendKind::kResponse), 1u);
  TimerConfig never;
  never.trying100 = milliseconds(-1);
  InviteServer off(false, never);
  off.start();
  off.h.advanceTo(milliseconds(10000));
  EXPECT_TRUE(off.h.sent.empty());
}

TEST(TransactionInviteServer, NonTwoHundredRetransmitsWithTimerGUntilTimerH) {
  InviteServer s(false);
  s.start();
  s.respond(486);
  EXPECT_EQ(s.tx.state(), State::kCompleted);
  EXPECT_FALSE(s.tx.timerRunning(TimerName::kTrying));
  s.h.advanceTo(milliseconds(31999));
  // §17.2.1: G = T1, doubling up to T2.
  EXPECT_EQ(s.h.sendTimes(SendKind::kResponseRetransmission),
            ms({500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500}));
  EXPECT_TRUE(s.h.timeouts.empty());
  s.h.advanceTo(milliseconds(32000));  // H = 64*T1
  EXPECT_EQ(s.h.timeouts, std::vector<TimerName>{TimerName::kH});
  EXPECT_EQ(s.tx.state(), State::kTerminated);
  EXPECT_EQ(s.h.liveTimers(), 0u);
  EXPECT_EQ(s.h.count(SendKind::kResponse), 1u);  // no 100: the TU answered first
}

TEST(TransactionInviteServer, RetransmittedInviteInCompletedGetsTheFinalResponse) {
  InviteServer s(false);
  s.start();
  s.respond(180);
  s.respond(404);
  s.h.advanceTo(milliseconds(100));
  s.retransmission();
  EXPECT_EQ(s.h.sent.back().bytes, s.tx.lastResponse());
  EXPECT_EQ(s.tx.lastStatus(), 404);
  s.respond(500);  // ignored: a final response went already
  EXPECT_EQ(s.tx.lastStatus(), 404);
}

TEST(TransactionInviteServer, AckConfirmsThenTimerI) {
  InviteServer s(false);
  s.start();
  s.respond(486);
  s.h.advanceTo(milliseconds(2000));
  s.ack();
  EXPECT_EQ(s.tx.state(), State::kConfirmed);
  EXPECT_FALSE(s.tx.timerRunning(TimerName::kG));
  EXPECT_FALSE(s.tx.timerRunning(TimerName::kH));
  const std::size_t sentSoFar = s.h.sent.size();
  s.ack();             // absorbed
  s.retransmission();  // absorbed in Confirmed
  s.h.advanceTo(milliseconds(6999));
  EXPECT_EQ(s.h.sent.size(), sentSoFar);
  EXPECT_EQ(s.tx.state(), State::kConfirmed);
  s.h.advanceTo(milliseconds(7000));  // I = T4
  EXPECT_EQ(s.tx.state(), State::kTerminated);
  EXPECT_TRUE(s.h.timeouts.empty());
}

TEST(TransactionInviteServer, Rfc2543AckMustCarryTheResponseToTag) {
  const auto ackWith = [](std::string_view toTag) {
    return "ACK sip:bob@biloxi.example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP pc33.atlanta.example.com\r\n"
           "Max-Forwards: 70\r\n"
           "To: Bob <sip:bob@biloxi.example.com>;tag=" +
           std::string(toTag) +
           "\r\n"
           "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
           "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
           "CSeq: 314159 ACK\r\n"
           "Content-Length: 0\r\n\r\n";
  };
  InviteServer s(false);
  s.start();
  s.respond(486);  // To tag "srv"
  Parsed wrong(ackWith("other"));
  ASSERT_TRUE(wrong.ok);
  s.tx.onRequest(wrong.message);
  EXPECT_EQ(s.tx.state(), State::kCompleted);
  Parsed right(ackWith("srv"));
  ASSERT_TRUE(right.ok);
  s.tx.onRequest(right.message);
  EXPECT_EQ(s.tx.state(), State::kConfirmed);
}

TEST(TransactionInviteServer, ReliableTransport) {
  InviteServer s(true);
  s.start();
  s.respond(603);
  EXPECT_FALSE(s.tx.timerRunning(TimerName::kG));
  EXPECT_TRUE(s.tx.timerRunning(TimerName::kH));  // H applies to every transport
  s.h.advanceTo(milliseconds(10000));
  EXPECT_EQ(s.h.count(SendKind::kResponseRetransmission), 0u);
  s.ack();
  EXPECT_EQ(s.tx.state(), State::kTerminated);  // I = 0
  EXPECT_EQ(s.h.terminatedAt, milliseconds(10000));
}

TEST(TransactionInviteServer, ReliableTimerH) {
  InviteServer s(true);
  s.start();
  s.respond(480);
  s.h.advanceTo(milliseconds(32000));
  EXPECT_EQ(s.h.timeouts, std::vector<TimerName>{TimerName::kH});
  EXPECT_EQ(s.tx.state(), State::kTerminated);
}

TEST(TransactionInviteServer, TwoHundredTerminates) {
  InviteServer s(false);
  s.start();
  s.h.advanceTo(milliseconds(300));  // after the 100
  s.respond(200);
  EXPECT_EQ(s.h.count(SendKind::kResponse), 2u);
  EXPECT_EQ(s.tx.state(), State::kTerminated);
  EXPECT_EQ(s.h.liveTimers(), 0u);
}

TEST(TransactionInviteServer, TransportError) {
  InviteServer s(false);
  s.start();
  s.respond(486);
  s.tx.onTransportError();
  EXPECT_EQ(s.h.transportFailures, 1);
  EXPECT_EQ(s.tx.state(), State::kTerminated);
  EXPECT_EQ(s.h.liveTimers(), 0u);
}

// --- §17.2.2 non-INVITE server ------------------------------------------------------------------

struct NonInviteServer {
  explicit NonInviteServer(bool reliable, TimerConfig config = {})
      : request(kOptions), tx(config, reliable, h) {
    h.attach(tx);
  }
  void retransmission() { tx.onRequest(request.message); }
  void respond(uint16_t status) { tx.respond(status, makeReply(kOptions, status, "srv")); }
  Parsed request;
  Harness h;
  NonInviteServerTransaction tx;
};

TEST(TransactionNonInviteServer, TryingAbsorbsRetransmissions) {
  NonInviteServer s(false);
  s.tx.start(s.request.message);
  EXPECT_EQ(s.tx.state(), State::kTrying);
  s.retransmission();
  s.h.advanceTo(milliseconds(60000));
  EXPECT_TRUE(s.h.sent.empty());  // no 100 of its own, no timers in Trying
  EXPECT_EQ(s.h.liveTimers(), 0u);
}

TEST(TransactionNonInviteServer, ProceedingResendsTheProvisional) {
  NonInviteServer s(false);
  s.tx.start(s.request.message);
  s.respond(100);
  EXPECT_EQ(s.tx.state(), State::kProceeding);
  s.retransmission();
  EXPECT_EQ(s.h.count(SendKind::kResponseRetransmission), 1u);
  EXPECT_EQ(s.h.sent.back().bytes, s.tx.lastResponse());
  s.respond(183);
  EXPECT_EQ(s.tx.lastStatus(), 183);
  EXPECT_EQ(s.tx.state(), State::kProceeding);
}

TEST(TransactionNonInviteServer, CompletedResendsTheFinalUntilTimerJ) {
  NonInviteServer s(false);
  s.tx.start(s.request.message);
  s.h.advanceTo(milliseconds(100));
  s.respond(100);
  s.respond(200);
  EXPECT_EQ(s.tx.state(), State::kCompleted);
  s.h.advanceTo(milliseconds(5000));
  s.retransmission();
  EXPECT_EQ(s.h.sendTimes(SendKind::kResponseRetransmission), ms({5000}));
  EXPECT_EQ(s.h.sent.back().bytes, s.tx.lastResponse());
  s.respond(500);  // ignored in Completed
  EXPECT_EQ(s.tx.lastStatus(), 200);
  s.h.advanceTo(milliseconds(32099));
  EXPECT_EQ(s.tx.state(), State::kCompleted);
  s.h.advanceTo(milliseconds(32100));  // J = 64*T1
  EXPECT_EQ(s.tx.state(), State::kTerminated);
  EXPECT_TRUE(s.h.timeouts.empty());
  s.retransmission();  // gone: a new transaction would be made for it
  EXPECT_EQ(s.h.count(SendKind::kResponseRetransmission), 1u);
}

TEST(TransactionNonInviteServer, FinalFromTrying) {
  NonInviteServer s(false);
  s.tx.start(s.request.message);
  s.respond(404);
  EXPECT_EQ(s.tx.state(), State::kCompleted);
  EXPECT_TRUE(s.tx.timerRunning(TimerName::kJ));
}

TEST(TransactionNonInviteServer, ReliableTimerJIsZero) {
  NonInviteServer s(true);
  s.tx.start(s.request.message);
  s.respond(200);
  EXPECT_EQ(s.tx.state(), State::kTerminated);
  EXPECT_EQ(s.h.count(SendKind::kResponse), 1u);
}

TEST(TransactionNonInviteServer, TransportError) {
  NonInviteServer s(false);
  s.tx.start(s.request.message);
  s.respond(200);
  s.tx.onTransportError();
  EXPECT_EQ(s.h.transportFailures, 1);
  EXPECT_EQ(s.tx.state(), State::kTerminated);
  EXPECT_EQ(s.h.liveTimers(), 0u);
}

TEST(TransactionTimers, DefaultsAndReliableValues) {
  TimerConfig c;
  EXPECT_EQ(c.t1, milliseconds(500));
  EXPECT_EQ(c.t2, milliseconds(4000));
  EXPECT_EQ(c.t4, milliseconds(5000));
  EXPECT_EQ(c.timerC, milliseconds(180000));
  EXPECT_EQ(c.timerB(), milliseconds(32000));
  EXPECT_EQ(c.timerF(), milliseconds(32000));
  EXPECT_EQ(c.timerH(), milliseconds(32000));
  EXPECT_EQ(c.timerD(false), milliseconds(32000));
  EXPECT_EQ(c.timerI(false), milliseconds(5000));
  EXPECT_EQ(c.timerJ(false), milliseconds(32000));
  EXPECT_EQ(c.timerK(false), milliseconds(5000));
  EXPECT_EQ(c.timerD(true), milliseconds(0));
  EXPECT_EQ(c.timerI(true), milliseconds(0));
  EXPECT_EQ(c.timerJ(true), milliseconds(0));
  EXPECT_EQ(c.timerK(true), milliseconds(0));
  EXPECT_EQ(timerNameText(TimerName::kG), "G");
  EXPECT_EQ(stateName(State::kConfirmed), "Confirmed");
}

}  // namespace
}  // namespace strowger::transaction
