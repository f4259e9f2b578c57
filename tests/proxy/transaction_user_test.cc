// Unit tests of transaction-stateful relaying (src/proxy/transaction_user.cc) through ProxyCore:
// requests and responses go in as bytes from fake peers, time is a fake clock moved by hand, and
// every message the proxy sends is recorded and checked (RFC 3261 §16.7, §16.10, §17).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_core.h"
#include "proxy_test_support.h"
#include "strowger/script/step.h"
#include "strowger/sip/message.h"

namespace strowger::proxy {
namespace {

using std::chrono::milliseconds;

// The caller (upstream) and the callees (downstream) of every test.
constexpr std::string_view kCaller = "192.0.2.10";
constexpr uint16_t kCallerPort = 5070;
constexpr std::string_view kCallee1 = "192.0.2.50";
constexpr std::string_view kCallee2 = "192.0.2.51";

struct Parsed {
  std::string bytes;
  sip::Message message;
  Destination to;
  bool isRequest = false;
};

std::string invite(std::string_view branch = "z9hG4bKcall1", std::string_view method = "INVITE",
                   std::string_view callId = "call-1@192.0.2.10") {
  std::string m(method);
  m += " sip:bob@example.com SIP/2.0\r\n";
  m += "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=" + std::string(branch) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <sip:alice@example.com>;tag=a1\r\n";
  m += "To: <sip:bob@example.com>\r\n";
  m += "Call-ID: " + std::string(callId) + "\r\n";
  m += "CSeq: 1 " + std::string(method) + "\r\n";
  m += "Contact: <sip:alice@192.0.2.10:5070>\r\n";
  m += "Content-Length: 0\r\n\r\n";
  return m;
}

// A response to `request` (as the proxy sent it): every Via kept, a To tag added for finals.
std::string responseTo(const sip::Message& request, uint16_t status, std::string_view reason,
                       std::string_view toTag = "b1", std::string_view extra = {}) {
  std::string r = "SIP/2.0 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  for (const sip::HeaderField& h : request.all(sip::HeaderId::kVia))
    r += "Via: " + std::string(h.value) + "\r\n";
  r += "From: " + std::string(request.find(sip::HeaderId::kFrom)->value) + "\r\n";
  std::string to(request.find(sip::HeaderId::kTo)->value);
  if (status > 100 && to.find(";tag=") == std::string::npos) to += ";tag=" + std::string(toTag);
  r += "To: " + to + "\r\n";
  r += "Call-ID: " + std::string(*request.callId()) + "\r\n";
  r += "CSeq: " + std::string(request.find(sip::HeaderId::kCSeq)->value) + "\r\n";
  r += extra;
  r += "Content-Length: 0\r\n\r\n";
  return r;
}

// An upstream request built from the caller's original: ACK or CANCEL for it.
std::string upstreamFor(const std::string& original, std::string_view method,
                        std::string_view toTag = {}) {
  sip::Message m;
  EXPECT_TRUE(m.parse(original).hasValue());
  std::string r = std::string(method) + " sip:bob@example.com SIP/2.0\r\n";
  r += "Via: " + std::string(m.find(sip::HeaderId::kVia)->value) + "\r\n";
  r += "Max-Forwards: 70\r\n";
  r += "From: <sip:alice@example.com>;tag=a1\r\n";
  r += "To: <sip:bob@example.com>";
  if (!toTag.empty()) r += ";tag=" + std::string(toTag);
  r += "\r\nCall-ID: " + std::string(*m.callId()) + "\r\n";
  r += "CSeq: 1 " + std::string(method) + "\r\n";
  r += "Content-Length: 0\r\n\r\n";
  return r;
}

constexpr std::string_view kScript = R"(
request:
  - if: { ruri.user: fork }
    then:
      - append_branch: "sip:carol@192.0.2.51:5060"
  - if: { ruri.user: serial }
    then:
      - append_branch: { uri: "sip:carol@192.0.2.51:5060", q: 0.5 }
      - on_failure: again
      - relay: { to: "sip:192.0.2.50:5060", fork: serial }
  - on_failure: again
  - relay: { to: "sip:192.0.2.50:5060" }
failure:
  again:
    - if: { reply.code: 486 }
      then:
        - relay: { to: "sip:192.0.2.51:5060" }
    - if: { reply.code: 480 }
      then:
        - reply: [ 404, "Nobody Here" ]
)";

class TransactionUserTest : public ::testing::Test {
 protected:
  TransactionUserTest()
      : outbound_(defaultListeners()),
        proxy_(std::make_shared<ProxySettings>(), &outbound_, [this] { return now_; }) {
    use(kScript);
  }

  static std::vector<Listener> defaultListeners() {
    return {makeListener(0, Protocol::kUdp, "127.0.0.1", 5060),
            makeListener(1, Protocol::kTcp, "127.0.0.1", 5060)};
  }

  void use(std::string_view yaml, TransactionSettings tx = {},
           const script::StepRegistry& registry = builtinRegistry()) {
    auto s = std::make_shared<ProxySettings>();
    s->script = compile(yaml, registry);
    ASSERT_TRUE(s->script);
    s->transactions = tx;
    proxy_.update(std::move(s));
  }

  void receive(const std::string& bytes, std::string_view ip, uint16_t port,
               Protocol protocol = Protocol::kUdp) {
    transport::ReceivedMessage m;
    m.bytes = bytes;
    m.source = addressOf(ip, port);
    const Listener& l = outbound_.listeners()[protocol == Protocol::kUdp ? 0 : 1];
    m.local = l.address;
    m.protocol = protocol;
    m.listener = l.index;
    m.connection = protocol == Protocol::kTcp ? 9 : 0;
    proxy_.onMessage(m);
  }
  void fromCaller(const std::string& bytes, Protocol protocol = Protocol::kUdp) {
    receive(bytes, kCaller, kCallerPort, protocol);
  }
  void fromCallee(const std::string& bytes, std::string_view ip = kCallee1) {
    receive(bytes, ip, 5060);
  }

  void advance(milliseconds by) {
    // In steps, as the event loop's tick would.
    for (milliseconds done{0}; done < by;) {
      const milliseconds step = std::min(milliseconds(10), by - done);
      now_ += step;
      done += step;
      proxy_.transactions().advanceTimers(0, 1);
    }
  }

  // Everything sent since the last call, parsed.
  std::vector<std::unique_ptr<Parsed>> take() {
    std::vector<std::unique_ptr<Parsed>> out;
    for (const Sent& s : outbound_.sent) {
      auto p = std::make_unique<Parsed>();
      p->bytes = s.bytes;
      p->to = s.to;
      p->isRequest = s.isRequest;
      EXPECT_TRUE(p->message.parse(p->bytes).hasValue()) << p->bytes;
      out.push_back(std::move(p));
    }
    outbound_.sent.clear();
    return out;
  }

  // The one message sent since the last take(); fails the test when there is not exactly one.
  std::unique_ptr<Parsed> takeOne() {
    auto all = take();
    EXPECT_EQ(all.size(), 1u);
    if (all.size() != 1) {
      for (const auto& p : all)
        ADD_FAILURE() << "sent:\n" << p->bytes;
      return std::make_unique<Parsed>();
    }
    return std::move(all.front());
  }

  static std::string summary(const std::vector<std::unique_ptr<Parsed>>& sent) {
    std::string s;
    for (const auto& p : sent) {
      if (!s.empty()) s += ", ";
      s += p->isRequest ? std::string(p->message.methodText()) + "->" + p->to.address.ip()
                        : std::to_string(p->message.statusCode()) + "->" + p->to.address.ip();
    }
    return s;
  }

  TransactionStats stats() const { return proxy_.transactionStats(); }

  RecordingOutbound outbound_;
  transaction::TimePoint now_{};
  ProxyCore proxy_;
};

TEST_F(TransactionUserTest, RelaysAnInviteWithAStatefulBranchAndDecrementsMaxForwards) {
  fromCaller(invite());
  auto out = takeOne();
  ASSERT_TRUE(out->isRequest);
  EXPECT_EQ(out->to.address.toString(), "192.0.2.50:5060");
  const auto& via = out->message.topVia();
  ASSERT_TRUE(via);
  EXPECT_TRUE(via->branch.starts_with("z9hG4bKtx")) << via->branch;
  EXPECT_EQ(*out->message.maxForwards(), 69u);
  EXPECT_EQ(out->message.count(sip::HeaderId::kVia), 2u);
  EXPECT_EQ(stats().created, 1u);
  EXPECT_EQ(stats().branches, 1u);
}

TEST_F(TransactionUserTest, SendsOneHundredTryingAfter200MsAndAbsorbsRetransmissions) {
  const std::string in = invite();
  fromCaller(in);
  take();
  advance(milliseconds(150));
  EXPECT_TRUE(take().empty());
  advance(milliseconds(60));
  auto trying = takeOne();
  EXPECT_FALSE(trying->isRequest);
  EXPECT_EQ(trying->message.statusCode(), 100);
  EXPECT_EQ(trying->to.address.toString(), "192.0.2.10:5070");

  // The caller retransmits: the proxy answers with its 100 again, the callee hears nothing.
  fromCaller(in);
  auto again = takeOne();
  EXPECT_FALSE(again->isRequest);
  EXPECT_EQ(again->message.statusCode(), 100);
  EXPECT_EQ(stats().absorbed, 1u);
  EXPECT_EQ(stats().created, 1u);
}

TEST_F(TransactionUserTest, RetransmitsTheInviteOnTimerAOverUdpOnly) {
  fromCaller(invite());
  take();
  advance(milliseconds(500));
  auto sent = take();
  // The 100 Trying upstream and the first retransmission downstream.
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  advance(milliseconds(1000));
  sent = take();
  ASSERT_EQ(sent.size(), 1u) << summary(sent);
  EXPECT_TRUE(sent[0]->isRequest);
  EXPECT_EQ(stats().retransmissions, 2u);
}

TEST_F(TransactionUserTest, ForwardsProvisionalAndFinalResponsesWithoutItsVia) {
  fromCaller(invite());
  auto out = takeOne();
  fromCallee(responseTo(out->message, 100, "Trying"));
  EXPECT_TRUE(take().empty()) << "a 100 is hop by hop";
  fromCallee(responseTo(out->message, 180, "Ringing"));
  auto ringing = takeOne();
  EXPECT_EQ(ringing->message.statusCode(), 180);
  EXPECT_EQ(ringing->message.count(sip::HeaderId::kVia), 1u);
  EXPECT_EQ(ringing->message.topVia()->branch, "z9hG4bKcall1");
  EXPECT_EQ(ringing->to.address.toString(), "192.0.2.10:5070");
  fromCallee(responseTo(out->message, 200, "OK"));
  auto ok = takeOne();
  EXPECT_EQ(ok->message.statusCode(), 200);
  EXPECT_EQ(stats().completed[2], 1u);

  // The callee retransmits its 200: it still reaches the caller (end to end, §13.3.1.4).
  fromCallee(responseTo(out->message, 200, "OK"));
  EXPECT_EQ(takeOne()->message.statusCode(), 200);
}

TEST_F(TransactionUserTest, AnInviteRetransmittedAfterTheTwoHundredIsStillAbsorbed) {
  const std::string in = invite();
  fromCaller(in);
  auto out = takeOne();
  fromCallee(responseTo(out->message, 200, "OK"));
  take();
  fromCaller(in);
  EXPECT_TRUE(take().empty()) << "relayed twice";
  EXPECT_EQ(stats().created, 1u);
}

TEST_F(TransactionUserTest, FailureRouteSendsTheCallToASecondCalleeAndAcksTheFirst) {
  fromCaller(invite());
  auto first = takeOne();
  fromCallee(responseTo(first->message, 486, "Busy Here"));
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  // The hop-by-hop ACK for the 486 goes to the first callee, with the INVITE's branch.
  auto ack = std::find_if(sent.begin(), sent.end(), [](const auto& p) {
    return p->isRequest && p->message.method() == sip::Method::kAck;
  });
  ASSERT_NE(ack, sent.end());
  EXPECT_EQ((*ack)->to.address.ip(), kCallee1);
  EXPECT_EQ((*ack)->message.topVia()->branch, first->message.topVia()->branch);
  auto second = std::find_if(sent.begin(), sent.end(), [](const auto& p) {
    return p->isRequest && p->message.method() == sip::Method::kInvite;
  });
  ASSERT_NE(second, sent.end());
  EXPECT_EQ((*second)->to.address.ip(), kCallee2);
  EXPECT_NE((*second)->message.topVia()->branch, first->message.topVia()->branch);

  fromCallee(responseTo((*second)->message, 200, "OK", "c1"), kCallee2);
  auto ok = takeOne();
  EXPECT_EQ(ok->message.statusCode(), 200);
  EXPECT_EQ(ok->message.to()->tag, "c1");
  EXPECT_EQ(stats().completed[4], 0u);
}

TEST_F(TransactionUserTest, FailureRouteMayAnswerInsteadOfTheBranch) {
  fromCaller(invite());
  auto out = takeOne();
  fromCallee(responseTo(out->message, 480, "Temporarily Unavailable"));
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);  // ACK downstream, 404 upstream
  auto reply = std::find_if(sent.begin(), sent.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(reply, sent.end());
  EXPECT_EQ((*reply)->message.statusCode(), 404);
  EXPECT_EQ((*reply)->message.reasonPhrase(), "Nobody Here");
}

TEST_F(TransactionUserTest, ANon2xxFinalGoesUpstreamAndItsAckIsAbsorbed) {
  const std::string in = invite();
  fromCaller(in);
  auto out = takeOne();
  fromCallee(responseTo(out->message, 404, "Not Found"));
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  auto reply = std::find_if(sent.begin(), sent.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(reply, sent.end());
  EXPECT_EQ((*reply)->message.statusCode(), 404);
  const std::string tag((*reply)->message.to()->tag);
  fromCaller(upstreamFor(in, "ACK", tag));
  EXPECT_TRUE(take().empty()) << "the ACK of a non-2xx is hop by hop";
  // Retransmitted 404 from the callee: the client transaction absorbs it and ACKs again.
  fromCallee(responseTo(out->message, 404, "Not Found"));
  sent = take();
  ASSERT_EQ(sent.size(), 1u) << summary(sent);
  EXPECT_EQ(sent[0]->message.method(), sip::Method::kAck);
}

TEST_F(TransactionUserTest, CancelDuringRingingCancelsTheBranchAndEndsWith487) {
  const std::string in = invite();
  fromCaller(in);
  auto out = takeOne();
  fromCallee(responseTo(out->message, 180, "Ringing"));
  take();
  fromCaller(upstreamFor(in, "CANCEL"));
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  auto ok = std::find_if(sent.begin(), sent.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(ok, sent.end());
  EXPECT_EQ((*ok)->message.statusCode(), 200);
  EXPECT_EQ((*ok)->message.cseq()->method, sip::Method::kCancel);
  auto cancel = std::find_if(sent.begin(), sent.end(), [](const auto& p) { return p->isRequest; });
  ASSERT_NE(cancel, sent.end());
  EXPECT_EQ((*cancel)->message.method(), sip::Method::kCancel);
  EXPECT_EQ((*cancel)->message.topVia()->branch, out->message.topVia()->branch);
  EXPECT_EQ((*cancel)->message.requestUriText(), out->message.requestUriText());
  EXPECT_EQ(stats().cancelled, 1u);

  fromCallee(responseTo((*cancel)->message, 200, "OK"));
  EXPECT_TRUE(take().empty());
  // The 200 (which carries only this proxy's Via) ended the CANCEL's transaction: no timer E.
  advance(milliseconds(600));
  for (const auto& p : take())
    EXPECT_NE(p->message.method(), sip::Method::kCancel) << "CANCEL retransmitted after its 200";
  fromCallee(responseTo(out->message, 487, "Request Terminated"));
  sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);  // ACK downstream, 487 upstream
  auto terminated =
      std::find_if(sent.begin(), sent.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(terminated, sent.end());
  EXPECT_EQ((*terminated)->message.statusCode(), 487);
}

TEST_F(TransactionUserTest, ACancelBeforeAnyProvisionalWaitsForOneBeforeItIsSent) {
  const std::string in = invite();
  fromCaller(in);
  auto out = takeOne();
  fromCaller(upstreamFor(in, "CANCEL"));
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u) << summary(sent);  // only the 200 for the CANCEL (§9.1)
  EXPECT_FALSE(sent[0]->isRequest);
  fromCallee(responseTo(out->message, 180, "Ringing"));
  sent = take();
  // The CANCEL goes now; the 180 still reaches the caller, who waits for its 487.
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  EXPECT_TRUE(std::any_of(sent.begin(), sent.end(), [](const auto& p) {
    return p->isRequest && p->message.method() == sip::Method::kCancel &&
           p->to.address.ip() == kCallee1;
  })) << summary(sent);
}

TEST_F(TransactionUserTest, ACancelMatchingNothingIsAnswered481ByRelay) {
  fromCaller(upstreamFor(invite("z9hG4bKnothing"), "CANCEL"));
  auto out = takeOne();
  EXPECT_EQ(out->message.statusCode(), 481);
}

TEST_F(TransactionUserTest, NoAnswerEndsWith408AfterFrTimeout) {
  TransactionSettings tx;
  tx.frTimeout = milliseconds(3000);
  use(kScript, tx);
  fromCaller(invite());
  take();
  advance(milliseconds(2990));
  for (const auto& p : take())
    EXPECT_NE(p->message.statusCode(), 408);
  advance(milliseconds(20));
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u) << summary(sent);
  EXPECT_EQ(sent[0]->message.statusCode(), 408);
  EXPECT_EQ(stats().timeouts, 1u);
  // No more retransmissions towards the silent callee.
  advance(milliseconds(10000));
  for (const auto& p : take())
    EXPECT_FALSE(p->isRequest) << p->bytes;
}

TEST_F(TransactionUserTest, RingingWithoutAnswerIsCancelledAfterFrInvTimeout) {
  TransactionSettings tx;
  tx.frInvTimeout = milliseconds(4000);
  use(kScript, tx);
  fromCaller(invite());
  auto out = takeOne();
  fromCallee(responseTo(out->message, 180, "Ringing"));
  take();
  advance(milliseconds(4010));
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  auto cancel = std::find_if(sent.begin(), sent.end(), [](const auto& p) { return p->isRequest; });
  ASSERT_NE(cancel, sent.end());
  EXPECT_EQ((*cancel)->message.method(), sip::Method::kCancel);
  auto timeout =
      std::find_if(sent.begin(), sent.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(timeout, sent.end());
  EXPECT_EQ((*timeout)->message.statusCode(), 408);
}

TEST_F(TransactionUserTest, ParallelForkingCancelsTheOtherBranchWhenOneAnswers) {
  std::string in = invite();
  in.replace(in.find("sip:bob@"), 8, "sip:fork@");
  fromCaller(in);
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  const Parsed& toFirst = sent[0]->to.address.ip() == kCallee1 ? *sent[0] : *sent[1];
  const Parsed& toSecond = sent[0]->to.address.ip() == kCallee1 ? *sent[1] : *sent[0];
  EXPECT_EQ(toSecond.message.requestUriText(), "sip:carol@192.0.2.51:5060");
  fromCallee(responseTo(toSecond.message, 180, "Ringing", "c1"), kCallee2);
  EXPECT_EQ(takeOne()->message.statusCode(), 180);
  fromCallee(responseTo(toFirst.message, 200, "OK"));
  sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);  // 200 upstream, CANCEL to the ringing branch
  auto cancel = std::find_if(sent.begin(), sent.end(), [](const auto& p) { return p->isRequest; });
  ASSERT_NE(cancel, sent.end());
  EXPECT_EQ((*cancel)->message.method(), sip::Method::kCancel);
  EXPECT_EQ((*cancel)->to.address.ip(), kCallee2);
}

TEST_F(TransactionUserTest, SerialForkingTriesTheLowerQOnlyAfterTheHigherFailed) {
  std::string in = invite();
  in.replace(in.find("sip:bob@"), 8, "sip:serial@");
  fromCaller(in);
  auto first = takeOne();
  EXPECT_EQ(first->to.address.ip(), kCallee1);
  fromCallee(responseTo(first->message, 404, "Not Found"));
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);  // ACK, then the next group's INVITE
  auto next = std::find_if(sent.begin(), sent.end(), [](const auto& p) {
    return p->isRequest && p->message.method() == sip::Method::kInvite;
  });
  ASSERT_NE(next, sent.end());
  EXPECT_EQ((*next)->to.address.ip(), kCallee2);
}

TEST_F(TransactionUserTest, BestResponsePrefersTheLowestClassAndGathersChallenges) {
  use(R"(
request:
  - append_branch: "sip:carol@192.0.2.51:5060"
  - relay: { to: "sip:192.0.2.50:5060" }
)");
  fromCaller(invite());
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u);
  fromCallee(responseTo(sent[0]->message, 407, "Proxy Authentication Required", "b1",
                        "Proxy-Authenticate: Digest realm=\"one\", nonce=\"1\"\r\n"),
             sent[0]->to.address.ip());
  take();
  fromCallee(responseTo(sent[1]->message, 407, "Proxy Authentication Required", "c1",
                        "Proxy-Authenticate: Digest realm=\"two\", nonce=\"2\"\r\n"),
             sent[1]->to.address.ip());
  auto all = take();
  auto reply = std::find_if(all.begin(), all.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(reply, all.end()) << summary(all);
  EXPECT_EQ((*reply)->message.statusCode(), 407);
  EXPECT_EQ((*reply)->message.count(sip::HeaderId::kProxyAuthenticate), 2u) << (*reply)->bytes;
}

TEST_F(TransactionUserTest, ASixHundredEndsTheSearchAtOnce) {
  use(R"(
request:
  - append_branch: "sip:carol@192.0.2.51:5060"
  - relay: { to: "sip:192.0.2.50:5060" }
)");
  fromCaller(invite());
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u);
  const Parsed& other = *sent[1];
  fromCallee(responseTo(other.message, 180, "Ringing", "c1"), other.to.address.ip());
  take();
  fromCallee(responseTo(sent[0]->message, 603, "Decline"), sent[0]->to.address.ip());
  auto all = take();
  auto reply = std::find_if(all.begin(), all.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(reply, all.end()) << summary(all);
  EXPECT_EQ((*reply)->message.statusCode(), 603);
  EXPECT_TRUE(std::any_of(all.begin(), all.end(), [](const auto& p) {
    return p->isRequest && p->message.method() == sip::Method::kCancel;
  })) << summary(all);
}

TEST_F(TransactionUserTest, AFiveOhThreeFromDownstreamBecomesFiveHundred) {
  fromCaller(invite());
  auto out = takeOne();
  fromCallee(responseTo(out->message, 503, "Service Unavailable"));
  auto all = take();
  auto reply = std::find_if(all.begin(), all.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(reply, all.end()) << summary(all);
  EXPECT_EQ((*reply)->message.statusCode(), 500);
}

TEST_F(TransactionUserTest, NonInviteIsRelayedAndItsRetransmissionGetsTheLastResponse) {
  const std::string in = invite("z9hG4bKmsg", "MESSAGE");
  fromCaller(in);
  auto out = takeOne();
  fromCaller(in);
  EXPECT_TRUE(take().empty()) << "a retransmission in Trying is absorbed";
  fromCallee(responseTo(out->message, 200, "OK"));
  EXPECT_EQ(takeOne()->message.statusCode(), 200);
  fromCaller(in);
  auto again = takeOne();
  EXPECT_FALSE(again->isRequest);
  EXPECT_EQ(again->message.statusCode(), 200);
  EXPECT_EQ(stats().absorbed, 2u);
}

TEST_F(TransactionUserTest, PastTheBoundANewRequestGets503WithRetryAfter) {
  TransactionSettings tx;
  tx.maxLive = 2;
  tx.retryAfter = 7;
  use(kScript, tx);
  fromCaller(invite("z9hG4bKa", "INVITE", "a@x"));
  fromCaller(invite("z9hG4bKb", "INVITE", "b@x"));
  take();
  fromCaller(invite("z9hG4bKc", "INVITE", "c@x"));
  auto out = takeOne();
  EXPECT_EQ(out->message.statusCode(), 503);
  const sip::HeaderField* retry = out->message.find("Retry-After");
  ASSERT_NE(retry, nullptr) << out->bytes;
  EXPECT_EQ(retry->value, "7");
  EXPECT_EQ(stats().refused, 1u);
}

TEST_F(TransactionUserTest, NoTransactionOutlivesItsTimers) {
  TransactionSettings tx;
  tx.frTimeout = milliseconds(2000);
  use(kScript, tx);
  for (int i = 0; i < 20; ++i) {
    const std::string branch = "z9hG4bKlife" + std::to_string(i);
    const std::string callId = "life" + std::to_string(i);
    fromCaller(invite(branch, i % 2 ? "INVITE" : "MESSAGE", callId));
    auto out = take();
    if (i % 3 == 0) continue;  // never answered: fr_timeout
    fromCallee(responseTo(out[0]->message, i % 3 == 1 ? 200 : 404, "X"));
  }
  EXPECT_EQ(stats().live, 20u);
  advance(milliseconds(70'000));  // past every timer: B, D, H, J, K, the 2xx linger
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(stats().created, 20u);
}

TEST_F(TransactionUserTest, OverTcpNothingIsRetransmittedAndNonInviteEndsAtOnce) {
  use(R"(
request:
  - relay: { to: "sip:192.0.2.50:5060;transport=tcp" }
)");
  std::string in = invite("z9hG4bKtcp", "MESSAGE");
  in.replace(in.find("SIP/2.0/UDP"), 11, "SIP/2.0/TCP");
  fromCaller(in, Protocol::kTcp);
  auto out = takeOne();
  EXPECT_EQ(out->to.protocol, Protocol::kTcp);
  advance(milliseconds(5000));
  EXPECT_TRUE(take().empty());
  fromCallee(responseTo(out->message, 200, "OK"));
  auto ok = takeOne();
  EXPECT_EQ(ok->to.protocol, Protocol::kTcp);
  EXPECT_EQ(ok->to.connection, 9u);
  EXPECT_EQ(stats().live, 0u);
}

TEST_F(TransactionUserTest, ReplyRouteMayDropAProvisionalAndEditAFinal) {
  use(R"(
request:
  - on_reply: watch
  - relay: { to: "sip:192.0.2.50:5060" }
reply:
  watch:
    - if: { reply.code: "18x" }
      then: [ drop ]
    - add_header: { name: X-Seen, value: "yes" }
)");
  fromCaller(invite());
  auto out = takeOne();
  fromCallee(responseTo(out->message, 180, "Ringing"));
  EXPECT_TRUE(take().empty());
  fromCallee(responseTo(out->message, 200, "OK"));
  auto ok = takeOne();
  ASSERT_NE(ok->message.find("X-Seen"), nullptr) << ok->bytes;
}

TEST_F(TransactionUserTest, BranchRouteEditsEachBranchAndMayDropOne) {
  use(R"(
request:
  - append_branch: "sip:carol@192.0.2.51:5060"
  - append_branch: "sip:dave@192.0.2.52:5060"
  - on_branch: per_branch
  - relay: { to: "sip:192.0.2.50:5060" }
branch:
  per_branch:
    - if: { ruri.user: dave }
      then: [ drop ]
    - add_header: { name: X-Branch, value: "${ruri.user}" }
)");
  fromCaller(invite());
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u) << summary(sent);
  for (const auto& p : sent) {
    const sip::HeaderField* h = p->message.find("X-Branch");
    ASSERT_NE(h, nullptr) << p->bytes;
    EXPECT_EQ(h->value, p->message.requestUri()->user) << p->bytes;
  }
}

TEST_F(TransactionUserTest, ARelayedRequestThatComesBackUnchangedIsALoop) {
  use(R"(
request:
  - relay: { to: "sip:127.0.0.1:5060" }
)");
  fromCaller(invite());
  auto out = takeOne();
  ASSERT_TRUE(out->isRequest);
  // The request reaches this proxy again, with its stateful Via below the sender's.
  std::string back = out->bytes;
  back.insert(back.find("\r\n") + 2, "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKhop\r\n");
  receive(back, "192.0.2.99", 5060);
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u) << summary(sent);
  EXPECT_EQ(sent[0]->message.statusCode(), 482);
}

TEST_F(TransactionUserTest, ACancelledCalleeThatNeverSends487IsGivenUpAfter64T1) {
  const std::string in = invite();
  fromCaller(in);
  auto out = takeOne();
  fromCallee(responseTo(out->message, 180, "Ringing"));
  fromCaller(upstreamFor(in, "CANCEL"));
  take();
  // The callee answers neither the CANCEL nor the INVITE.
  advance(milliseconds(32'010));
  auto sent = take();
  auto final = std::find_if(sent.begin(), sent.end(), [](const auto& p) {
    return !p->isRequest && p->message.statusCode() >= 200 &&
           p->message.cseq()->method == sip::Method::kInvite;
  });
  ASSERT_NE(final, sent.end()) << summary(sent);
  EXPECT_EQ((*final)->message.statusCode(), 487);
  advance(milliseconds(40'000));
  EXPECT_EQ(stats().live, 0u);
}

TEST_F(TransactionUserTest, ARingingBranchCancelledByFrInvTimeoutEndsEvenWithout487) {
  TransactionSettings tx;
  tx.frInvTimeout = milliseconds(1000);
  use(kScript, tx);
  fromCaller(invite());
  auto out = takeOne();
  fromCallee(responseTo(out->message, 180, "Ringing"));
  advance(milliseconds(1010));
  take();
  advance(milliseconds(70'000));
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(stats().completed[4], 1u);
}

TEST_F(TransactionUserTest, TheCallerGetsAFinalResponseEvenWhenTheProxySendsFailed) {
  use(R"(
request:
  - on_failure: again
  - relay: { to: "sip:192.0.2.50:5060" }
failure:
  again:
    - relay: { to: "sip:192.0.2.51:5060" }
)");
  fromCaller(invite());
  take();
  // Every send fails from now on: the 100 Trying, the retransmissions, the second branch.
  outbound_.status = SendStatus::kError;
  advance(milliseconds(70'000));
  EXPECT_EQ(stats().completed[5], 1u) << "no final response was even attempted";
  EXPECT_EQ(stats().live, 0u);
}

TEST_F(TransactionUserTest, AResponseWithOnlyOurViaIsNotForwarded) {
  fromCaller(invite());
  auto out = takeOne();
  std::string response = responseTo(out->message, 180, "Ringing");
  const std::size_t second = response.find("Via:", response.find("Via:") + 1);
  response.erase(second, response.find("\r\n", second) + 2 - second);
  fromCallee(response);
  EXPECT_TRUE(take().empty());
}

}  // namespace
}  // namespace strowger::proxy

// --- The request's state (request_state.h) goes with the transaction ---------------------------

namespace strowger::proxy {
namespace {

// Counts the objects `test.remember` attached that have been released.
std::atomic<int> releasedObjects{0};

struct Remembered {
  ~Remembered() { releasedObjects.fetch_add(1); }
};

// `test.remember`: sets ${test.who} to the Request-URI's user and attaches a Remembered.
class RememberAction final : public script::Action {
 public:
  void run(script::MessageContext& ctx) const override {
    const auto& uri = ctx.requestUri();
    ctx.state().setVariable("test.who", uri ? std::string(uri->user) : std::string());
    ctx.state().attach("test", std::make_shared<Remembered>());
  }
  std::string describe() const override { return "test.remember"; }
};

const script::StepRegistry& registryWithStateSteps() {
  static const script::StepRegistry registry = [] {
    script::StepRegistry r;
    EXPECT_TRUE(script::registerBuiltinSteps(r).hasValue());
    EXPECT_TRUE(r.addVariable("test.who").hasValue());
    EXPECT_TRUE(r.addAction(script::ActionSpec{"test.remember", "no parameters",
                                               script::RouteKind::kRequest,
                                               [](const YAML::Node&, script::CompileContext&) {
                                                 return std::make_unique<RememberAction>();
                                               }})
                    .hasValue());
    return r;
  }();
  return registry;
}

constexpr std::string_view kStateScript = R"(
request:
  - test.remember
  - on_failure: again
  - relay: { to: "sip:192.0.2.50:5060" }
failure:
  again:
    - reply: { code: 404, reason: "Gone", headers: [ "X-Who: ${test.who}" ] }
)";

TEST_F(TransactionUserTest, TheRequestStateReachesTheFailureRouteAndIsReleasedWithTheTransaction) {
  releasedObjects = 0;
  use(kStateScript, {}, registryWithStateSteps());
  fromCaller(invite());
  auto out = takeOne();
  EXPECT_EQ(releasedObjects.load(), 0);  // kept while the transaction lives
  fromCallee(responseTo(out->message, 486, "Busy Here"));
  auto sent = take();
  auto reply = std::find_if(sent.begin(), sent.end(), [](const auto& p) { return !p->isRequest; });
  ASSERT_NE(reply, sent.end()) << summary(sent);
  EXPECT_EQ((*reply)->message.statusCode(), 404);
  const sip::HeaderField* who = (*reply)->message.find(std::string_view("X-Who"));
  ASSERT_NE(who, nullptr) << (*reply)->bytes;
  EXPECT_EQ(who->value, "bob");
  advance(std::chrono::milliseconds(70'000));
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(releasedObjects.load(), 1);
}

}  // namespace
}  // namespace strowger::proxy
