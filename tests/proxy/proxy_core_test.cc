// Unit tests of the stateless proxy core (src/proxy): hand-built received messages go through
// ProxyCore; a recording Outbound with fake listeners keeps everything it is asked to send,
// and each test parses that output and checks it header by header (RFC 3261 §16, §18).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_core.h"
#include "proxy_test_support.h"
#include "strowger/net/socket_address.h"
#include "strowger/script/registry.h"
#include "strowger/script/script.h"
#include "strowger/sip/message.h"
#include "strowger/transport/transport.h"

namespace strowger::proxy {
namespace {

using sip::HeaderId;
using transport::Destination;
using transport::Listener;
using transport::Protocol;
using transport::SendStatus;

// One message the proxy sent, parsed; the bytes live beside the index over them.
struct Output {
  std::string bytes;
  sip::Message message;
  Destination to;
  bool isRequest = false;
};

// "UDP 192.0.2.1:5060", with " connection=N" when one is named.
std::string where(const Destination& d) {
  std::string s(transport::protocolName(d.protocol));
  s += " " + d.address.toString();
  if (d.connection != 0) s += " connection=" + std::to_string(d.connection);
  return s;
}

// The value of every line of header `id`, in message order.
std::vector<std::string> values(const sip::Message& m, HeaderId id) {
  std::vector<std::string> out;
  for (const sip::HeaderField& h : m.all(id))
    out.emplace_back(h.value);
  return out;
}

// Every element of a Route / Record-Route header set, in order, as written.
std::vector<std::string> elements(const sip::Message& m, HeaderId id) {
  std::vector<std::string> out;
  std::vector<sip::NameAddr> list;
  for (const sip::HeaderField& h : m.all(id)) {
    list.clear();
    if (!sip::parseNameAddrList(h.value, list)) {
      ADD_FAILURE() << "unparsable " << h.name << ": " << h.value;
      continue;
    }
    for (const sip::NameAddr& a : list)
      out.emplace_back(a.raw);
  }
  return out;
}

std::string topBranch(const sip::Message& m) {
  const auto& via = m.topVia();
  return via ? std::string(via->branch) : std::string("<no Via>");
}

std::string toTag(const sip::Message& m) {
  const auto& to = m.to();
  return to ? std::string(to->tag) : std::string("<no To>");
}

bool isHex16(std::string_view s) {
  if (s.size() != 16) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The branch the proxy should give `bytes` when it forwards it.
std::string branchFor(const std::string& bytes) {
  sip::Message m;
  EXPECT_TRUE(m.parse(bytes).hasValue());
  return statelessBranch(m);
}

// A request from alice at 192.0.2.10:5070 to bob, built line by line; each setter replaces one
// part of the default INVITE.
class Req {
 public:
  Req& method(std::string v) { return set(method_, std::move(v)); }
  Req& ruri(std::string v) { return set(ruri_, std::move(v)); }
  Req& vias(std::vector<std::string> v) { return set(vias_, std::move(v)); }
  Req& maxForwards(std::string v) { return set(maxForwards_, std::move(v)); }  // "": none
  Req& to(std::string v) { return set(to_, std::move(v)); }
  Req& callId(std::string v) { return set(callId_, std::move(v)); }  // "": none
  Req& cseq(uint32_t v) { return set(cseq_, v); }
  Req& cseqMethod(std::string v) { return set(cseqMethod_, std::move(v)); }
  Req& extra(std::vector<std::string> v) { return set(extra_, std::move(v)); }  // before C-L
  Req& contentLength(bool v) { return set(contentLength_, v); }
  Req& body(std::string v) { return set(body_, std::move(v)); }
  Req& version(std::string v) { return set(version_, std::move(v)); }

  std::string text() const {
    std::string t = method_ + " " + ruri_ + " " + version_ + "\r\n";
    for (const std::string& v : vias_)
      t += "Via: " + v + "\r\n";
    if (!maxForwards_.empty()) t += "Max-Forwards: " + maxForwards_ + "\r\n";
    t += "From: <sip:alice@example.com>;tag=a1\r\n";
    t += "To: " + to_ + "\r\n";
    if (!callId_.empty()) t += "Call-ID: " + callId_ + "\r\n";
    t += "CSeq: " + std::to_string(cseq_) + " " + (cseqMethod_.empty() ? method_ : cseqMethod_) +
         "\r\n";
    for (const std::string& line : extra_)
      t += line + "\r\n";
    if (contentLength_) t += "Content-Length: " + std::to_string(body_.size()) + "\r\n";
    t += "\r\n" + body_;
    return t;
  }

 private:
  template <class T, class V>
  Req& set(T& field, V&& value) {
    field = std::forward<V>(value);
    return *this;
  }

  std::string method_ = "INVITE";
  std::string ruri_ = "sip:bob@192.0.2.50:5080";
  std::vector<std::string> vias_ = {"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"};
  std::string maxForwards_ = "70";
  std::string to_ = "<sip:bob@example.com>";
  std::string callId_ = "call-1@192.0.2.10";
  uint32_t cseq_ = 1;
  std::string cseqMethod_;  // empty: the method
  std::vector<std::string> extra_;
  bool contentLength_ = true;  // Content-Length: the body's size
  std::string body_;
  std::string version_ = "SIP/2.0";
};

std::string request(const Req& r) {
  return r.text();
}

// A 180 with the given Via lines, as a UAS would send it back.
std::string response(const std::vector<std::string>& vias, bool contentLength = true,
                     std::string_view status = "180 Ringing") {
  std::string t = "SIP/2.0 " + std::string(status) + "\r\n";
  for (const std::string& v : vias)
    t += "Via: " + v + "\r\n";
  t += "From: <sip:alice@example.com>;tag=a1\r\n"
       "To: <sip:bob@example.com>;tag=b1\r\n"
       "Call-ID: call-1@192.0.2.10\r\n"
       "CSeq: 1 INVITE\r\n";
  if (contentLength) t += "Content-Length: 0\r\n";
  return t + "\r\n";
}

constexpr std::string_view kOurVia = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsl0123456789abcdef";

std::shared_ptr<const ProxySettings> settingsWith(
    std::shared_ptr<const script::RoutingScript> script) {
  auto s = std::make_shared<ProxySettings>();
  s->script = std::move(script);
  return s;
}

std::vector<Listener> defaultListeners() {
  return {makeListener(0, Protocol::kUdp, "127.0.0.1", 5060),
          makeListener(1, Protocol::kTcp, "127.0.0.1", 5060),
          makeListener(2, Protocol::kUdp, "127.0.0.2", 5060)};
}

// Where a message comes from and which listener took it (its protocol is the listener's).
class Source {
 public:
  Source& ip(std::string v) {
    ip_ = std::move(v);
    return *this;
  }
  Source& port(uint16_t v) {
    port_ = v;
    return *this;
  }
  Source& listener(uint32_t v) {
    listener_ = v;
    return *this;
  }
  Source& connection(uint64_t v) {
    connection_ = v;
    return *this;
  }

  std::string ip_ = "192.0.2.10";
  uint16_t port_ = 5070;
  uint32_t listener_ = 0;
  uint64_t connection_ = 0;  // TCP: 7 when left 0
};

class ProxyFixture : public ::testing::Test {
 protected:
  explicit ProxyFixture(std::vector<Listener> listeners = defaultListeners())
      : outbound_(std::move(listeners)), proxy_(settingsWith(nullptr), &outbound_) {}

  void useScript(std::string_view yaml) { proxy_.update(settingsWith(compile(yaml))); }

  void receive(const std::string& bytes, const Source& from = Source()) {
    const Listener& l = outbound_.listeners()[from.listener_];
    transport::ReceivedMessage m;
    m.bytes = bytes;
    m.source = addressOf(from.ip_, from.port_);
    m.local = l.address;
    m.protocol = l.protocol;
    m.listener = l.index;
    m.connection = l.protocol == Protocol::kTcp ? (from.connection_ ? from.connection_ : 7) : 0;
    m.worker = 0;
    proxy_.onMessage(m);
  }

  std::size_t sentCount() const { return outbound_.sent.size(); }

  // The i-th message sent, parsed (as a stream when it went over TCP: Content-Length required).
  std::unique_ptr<Output> sent(std::size_t i) {
    auto out = std::make_unique<Output>();
    if (i >= outbound_.sent.size()) {
      ADD_FAILURE() << "only " << outbound_.sent.size() << " messages sent";
      return out;
    }
    const Sent& s = outbound_.sent[i];
    out->bytes = s.bytes;
    out->to = s.to;
    out->isRequest = s.isRequest;
    auto framing =
        s.to.protocol == Protocol::kTcp ? sip::Framing::kStream : sip::Framing::kDatagram;
    auto parsed = out->message.parse(out->bytes, framing);
    EXPECT_TRUE(parsed.hasValue())
        << "the proxy sent what does not parse (" << (parsed ? "" : parsed.error().reason) << "):\n"
        << out->bytes;
    return out;
  }

  RecordingOutbound outbound_;
  ProxyCore proxy_;
};

// ---------------------------------------------------------------------------------------------
// Forwarding by the Request-URI (§16.6)

class ProxyCoreForward : public ProxyFixture {};

TEST_F(ProxyCoreForward, ByRequestUriWithOurViaReceivedRportAndMaxForwards) {
  const std::string in =
      request(Req().vias({"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;rport"}).body("v=0\r\n"));
  receive(in, Source().ip("192.0.2.20").port(40000));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_TRUE(out->isRequest);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
  EXPECT_EQ(out->to.listener, 0);
  const std::string branch = topBranch(out->message);
  EXPECT_TRUE(branch.starts_with("z9hG4bK")) << branch;
  EXPECT_GT(branch.size(), 7u);
  EXPECT_EQ(branch, branchFor(in));
  EXPECT_EQ(
      out->bytes,
      "INVITE sip:bob@192.0.2.50:5080 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=" +
          branch +
          "\r\n"
          "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;rport=40000;received=192.0.2.20\r\n"
          "Max-Forwards: 69\r\n"
          "From: <sip:alice@example.com>;tag=a1\r\n"
          "To: <sip:bob@example.com>\r\n"
          "Call-ID: call-1@192.0.2.10\r\n"
          "CSeq: 1 INVITE\r\n"
          "Content-Length: 5\r\n"
          "\r\n"
          "v=0\r\n");
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.forwardedRequests, 1u);
  EXPECT_EQ(s.localReplies, 0u);
  EXPECT_EQ(s.forwardFailures, 0u);
}

TEST_F(ProxyCoreForward, ReceivedAddedWhenTheSourceDiffersFromSentBy) {
  receive(request(Req().vias({"SIP/2.0/UDP client.example.com:5070;branch=z9hG4bKc1"})),
          Source().ip("192.0.2.20").port(5070));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  auto vias = values(out->message, HeaderId::kVia);
  ASSERT_EQ(vias.size(), 2u);
  EXPECT_TRUE(vias[0].starts_with("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK")) << vias[0];
  EXPECT_EQ(vias[1], "SIP/2.0/UDP client.example.com:5070;branch=z9hG4bKc1;received=192.0.2.20");
}

TEST_F(ProxyCoreForward, PreviousViaUntouchedWhenTheSourceMatchesSentBy) {
  receive(request(Req()), Source().ip("192.0.2.10").port(5070));
  ASSERT_EQ(sentCount(), 1u);
  auto vias = values(sent(0)->message, HeaderId::kVia);
  ASSERT_EQ(vias.size(), 2u);
  EXPECT_EQ(vias[1], "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1");
}

TEST_F(ProxyCoreForward, PreviousViasBelowTheTopAreLeftAlone) {
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;rport",
                              "SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKup;rport"})),
          Source().ip("192.0.2.20").port(40000));
  ASSERT_EQ(sentCount(), 1u);
  auto vias = values(sent(0)->message, HeaderId::kVia);
  ASSERT_EQ(vias.size(), 3u);
  EXPECT_EQ(vias[1],
            "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;rport=40000;received=192.0.2.20");
  EXPECT_EQ(vias[2], "SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKup;rport");
}

TEST_F(ProxyCoreForward, MaxForwardsSeventyAddedWhenAbsent) {
  receive(request(Req().maxForwards("")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(values(out->message, HeaderId::kMaxForwards), std::vector<std::string>{"70"});
}

TEST_F(ProxyCoreForward, MaxForwardsOneBecomesZero) {
  receive(request(Req().maxForwards("1")));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(values(sent(0)->message, HeaderId::kMaxForwards), std::vector<std::string>{"0"});
}

TEST_F(ProxyCoreForward, TransportTcpInRequestUriLeavesOverTcpWithContentLength) {
  // A datagram may omit Content-Length (§18.3); a stream may not.
  const std::string in = request(
      Req().ruri("sip:bob@192.0.2.50:5080;transport=tcp").contentLength(false).body("v=0\r\n"));
  receive(in);
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "TCP 192.0.2.50:5080");
  EXPECT_EQ(out->to.listener, 1);
  EXPECT_EQ(out->message.requestUriText(), "sip:bob@192.0.2.50:5080;transport=tcp");
  auto vias = values(out->message, HeaderId::kVia);
  ASSERT_EQ(vias.size(), 2u);
  EXPECT_EQ(vias[0], "SIP/2.0/TCP 127.0.0.1:5060;branch=" + branchFor(in));
  EXPECT_EQ(values(out->message, HeaderId::kContentLength), std::vector<std::string>{"5"});
  EXPECT_EQ(out->message.body(), "v=0\r\n");
}

TEST_F(ProxyCoreForward, TransportTcpWithoutPortGoesToPort5060) {
  receive(request(Req().ruri("sip:bob@192.0.2.50;transport=TCP")));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(where(sent(0)->to), "TCP 192.0.2.50:5060");
}

TEST_F(ProxyCoreForward, MaddrChoosesTheAddress) {
  receive(request(Req().ruri("sip:bob@example.com;maddr=192.0.2.60")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.60:5060");
  EXPECT_EQ(out->message.requestUriText(), "sip:bob@example.com;maddr=192.0.2.60");
}

TEST_F(ProxyCoreForward, MaddrWithPortAndTransport) {
  receive(request(Req().ruri("sip:bob@example.com:5099;maddr=192.0.2.60;transport=tcp")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "TCP 192.0.2.60:5099");
  EXPECT_EQ(out->to.listener, 1);
}

TEST_F(ProxyCoreForward, OverTcpThePreviousViaGetsReceivedAndRport) {
  // The response must find the connection the request came on (RFC 3581, §18.2.2).
  receive(request(Req().vias({"SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bKc1"})),
          Source().port(40001).listener(1));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
  EXPECT_EQ(out->to.listener, 0);
  auto vias = values(out->message, HeaderId::kVia);
  ASSERT_EQ(vias.size(), 2u);
  EXPECT_TRUE(vias[0].starts_with("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK")) << vias[0];
  EXPECT_EQ(vias[1],
            "SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bKc1;received=192.0.2.10;rport=40001");
}

TEST_F(ProxyCoreForward, RequestUriWithoutNumericAddressIsAnswered503) {
  receive(request(Req().ruri("sip:bob@example.com")), Source().ip("192.0.2.20").port(40000));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_FALSE(out->isRequest);
  EXPECT_EQ(out->message.statusCode(), 503);
  EXPECT_EQ(out->message.reasonPhrase(), "Cannot Forward");
  EXPECT_EQ(where(out->to), "UDP 192.0.2.20:5070");
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.forwardFailures, 1u);
  EXPECT_EQ(s.forwardedRequests, 0u);
  EXPECT_EQ(s.localReplies, 1u);
}

TEST_F(ProxyCoreForward, BroadcastRequestUriIsAnswered503) {
  receive(request(Req().ruri("sip:bob@255.255.255.255")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.statusCode(), 503);
  EXPECT_EQ(proxy_.stats().forwardFailures, 1u);
}

TEST_F(ProxyCoreForward, AFailedSendIsCountedAndNotCountedAsForwarded) {
  outbound_.status = SendStatus::kNoRoute;
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_TRUE(outbound_.sent[0].isRequest);
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.forwardFailures, 1u);
  EXPECT_EQ(s.forwardedRequests, 0u);
}

TEST_F(ProxyCoreForward, OptionsForUsIsAnsweredWithoutAScript) {
  receive(request(Req().method("OPTIONS").ruri("sip:127.0.0.1:5060")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_FALSE(out->isRequest);
  EXPECT_EQ(out->message.statusCode(), 200);
  EXPECT_EQ(out->message.reasonPhrase(), "OK");
  EXPECT_EQ(proxy_.stats().forwardedRequests, 0u);
}

TEST_F(ProxyCoreForward, AckIsForwardedLikeAnyRequest) {
  receive(request(Req().method("ACK").to("<sip:bob@example.com>;tag=b1")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_TRUE(out->isRequest);
  EXPECT_EQ(out->message.methodText(), "ACK");
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
}

// ---------------------------------------------------------------------------------------------
// The branch of a forwarded request (§16.11)

class ProxyCoreBranch : public ProxyFixture {};

TEST_F(ProxyCoreBranch, SameForARetransmission) {
  const std::string in = request(Req());
  receive(in);
  receive(in);
  ASSERT_EQ(sentCount(), 2u);
  // Stateless: a retransmission leaves byte for byte as the first copy did.
  EXPECT_EQ(outbound_.sent[0].bytes, outbound_.sent[1].bytes);
  EXPECT_EQ(topBranch(sent(0)->message), branchFor(in));
}

TEST_F(ProxyCoreBranch, CancelGetsTheBranchOfItsInvite) {
  receive(request(Req()));
  receive(request(Req().method("CANCEL")));
  ASSERT_EQ(sentCount(), 2u);
  auto invite = sent(0);
  auto cancel = sent(1);
  EXPECT_EQ(cancel->message.methodText(), "CANCEL");
  EXPECT_EQ(topBranch(cancel->message), topBranch(invite->message));
}

TEST_F(ProxyCoreBranch, AckOfANon2xxGetsTheBranchOfItsInvite) {
  receive(request(Req()));
  receive(request(Req().method("ACK").to("<sip:bob@example.com>;tag=b1")));
  ASSERT_EQ(sentCount(), 2u);
  EXPECT_EQ(topBranch(sent(1)->message), topBranch(sent(0)->message));
}

TEST_F(ProxyCoreBranch, DiffersForAnotherTransaction) {
  receive(request(Req()));
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc2"}).cseq(2)));
  // Same branch from another sender: another transaction (§17.2.3 matches sent-by too).
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.11:5070;branch=z9hG4bKc1"})),
          Source().ip("192.0.2.11"));
  ASSERT_EQ(sentCount(), 3u);
  const std::string b0 = topBranch(sent(0)->message);
  const std::string b1 = topBranch(sent(1)->message);
  const std::string b2 = topBranch(sent(2)->message);
  EXPECT_NE(b0, b1);
  EXPECT_NE(b0, b2);
  EXPECT_NE(b1, b2);
  for (const std::string& b : {b0, b1, b2})
    EXPECT_TRUE(b.starts_with("z9hG4bK")) << b;
}

TEST_F(ProxyCoreBranch, Rfc2543RequestGetsAStableRfc3261Branch) {
  const std::vector<std::string> oldVia = {"SIP/2.0/UDP 192.0.2.10:5070"};
  const std::string in = request(Req().vias(oldVia));
  receive(in);
  receive(in);
  receive(request(Req().method("CANCEL").vias(oldVia)));
  receive(request(Req().vias(oldVia).callId("call-2@192.0.2.10")));
  receive(request(Req().vias(oldVia).cseq(2)));
  ASSERT_EQ(sentCount(), 5u);
  const std::string first = topBranch(sent(0)->message);
  EXPECT_TRUE(first.starts_with("z9hG4bK")) << first;
  EXPECT_GT(first.size(), 7u);
  EXPECT_EQ(first, branchFor(in));
  EXPECT_EQ(topBranch(sent(1)->message), first);  // retransmission
  EXPECT_EQ(topBranch(sent(2)->message), first);  // its CANCEL
  EXPECT_NE(topBranch(sent(3)->message), first);  // another call
  EXPECT_NE(topBranch(sent(4)->message), first);  // another CSeq
  // The RFC 2543 Via itself is passed on as it was (the source matches its sent-by).
  auto vias = values(sent(0)->message, HeaderId::kVia);
  ASSERT_EQ(vias.size(), 2u);
  EXPECT_EQ(vias[1], "SIP/2.0/UDP 192.0.2.10:5070");
}

// ---------------------------------------------------------------------------------------------
// Record-Route (§16.6 step 4)

class ProxyCoreRecordRoute : public ProxyFixture {
 protected:
  void SetUp() override { useScript("request:\n  - record_route\n  - forward\n"); }
};

TEST_F(ProxyCoreRecordRoute, OneWhenTheRequestLeavesByTheListenerItCameIn) {
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
  EXPECT_EQ(values(out->message, HeaderId::kRecordRoute),
            std::vector<std::string>{"<sip:127.0.0.1:5060;lr>"});
}

TEST_F(ProxyCoreRecordRoute, OursGoesAboveThoseOfEarlierProxies) {
  receive(request(Req().extra({"Record-Route: <sip:192.0.2.99;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(elements(sent(0)->message, HeaderId::kRecordRoute),
            (std::vector<std::string>{"<sip:127.0.0.1:5060;lr>", "<sip:192.0.2.99;lr>"}));
}

TEST_F(ProxyCoreRecordRoute, TwoWhenUdpInAndTcpOutTheOutboundOneOnTop) {
  receive(request(Req().ruri("sip:bob@192.0.2.50:5080;transport=tcp")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "TCP 192.0.2.50:5080");
  EXPECT_EQ(elements(out->message, HeaderId::kRecordRoute),
            (std::vector<std::string>{"<sip:127.0.0.1:5060;transport=tcp;lr>",
                                      "<sip:127.0.0.1:5060;lr>"}));
}

TEST_F(ProxyCoreRecordRoute, TwoWhenTcpInAndUdpOut) {
  receive(request(Req().vias({"SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bKc1"})),
          Source().listener(1));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
  EXPECT_EQ(out->to.listener, 0);
  EXPECT_EQ(elements(out->message, HeaderId::kRecordRoute),
            (std::vector<std::string>{"<sip:127.0.0.1:5060;lr>",
                                      "<sip:127.0.0.1:5060;transport=tcp;lr>"}));
}

TEST_F(ProxyCoreRecordRoute, OneOnTheOtherInterfaceWhenItStaysThere) {
  receive(request(Req()), Source().listener(2));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->to.listener, 2);
  EXPECT_EQ(elements(out->message, HeaderId::kRecordRoute),
            std::vector<std::string>{"<sip:127.0.0.2:5060;lr>"});
  auto vias = values(out->message, HeaderId::kVia);
  ASSERT_FALSE(vias.empty());
  EXPECT_TRUE(vias[0].starts_with("SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK")) << vias[0];
}

TEST_F(ProxyCoreRecordRoute, TwoWhenTheRequestChangesInterfaceAndTransport) {
  receive(request(Req().ruri("sip:bob@192.0.2.50:5080;transport=tcp")), Source().listener(2));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->to.listener, 1);
  EXPECT_EQ(elements(out->message, HeaderId::kRecordRoute),
            (std::vector<std::string>{"<sip:127.0.0.1:5060;transport=tcp;lr>",
                                      "<sip:127.0.0.2:5060;lr>"}));
}

TEST_F(ProxyCoreRecordRoute, NoneWithoutTheStep) {
  useScript("request:\n  - forward\n");
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_TRUE(values(sent(0)->message, HeaderId::kRecordRoute).empty());
}

// ---------------------------------------------------------------------------------------------
// Route processing (§16.4, §16.6 steps 6 and 7)

class ProxyCoreLooseRoute : public ProxyFixture {
 protected:
  void SetUp() override { useScript("request:\n  - loose_route\n  - forward\n"); }
};

TEST_F(ProxyCoreLooseRoute, OurRouteIsRemovedAndTheNextRouteFollowed) {
  receive(request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.70:5090;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.70:5090");
  EXPECT_EQ(out->message.requestUriText(), "sip:bob@192.0.2.50:5080");
  EXPECT_EQ(values(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:192.0.2.70:5090;lr>"});
}

TEST_F(ProxyCoreLooseRoute, OurRouteOnItsOwnLineIsRemoved) {
  receive(
      request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>", "Route: <sip:192.0.2.70:5090;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.70:5090");
  EXPECT_EQ(values(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:192.0.2.70:5090;lr>"});
}

TEST_F(ProxyCoreLooseRoute, OurOnlyRouteRemovedThenTheRequestUri) {
  receive(request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
  EXPECT_TRUE(values(out->message, HeaderId::kRoute).empty());
  EXPECT_EQ(out->message.requestUriText(), "sip:bob@192.0.2.50:5080");
}

TEST_F(ProxyCoreLooseRoute, BothRoutesOfADoubleRecordRouteAreRemoved) {
  receive(request(Req()
                      .vias({"SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bKc1"})
                      .extra({"Route: <sip:127.0.0.1:5060;transport=tcp;lr>",
                              "Route: <sip:127.0.0.1:5060;lr>"})),
          Source().listener(1));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
  EXPECT_TRUE(values(out->message, HeaderId::kRoute).empty());
}

TEST_F(ProxyCoreLooseRoute, DoubleRecordRouteThenTheNextRoute) {
  receive(
      request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>, "
                           "<sip:127.0.0.1:5060;transport=tcp;lr>, <sip:192.0.2.70:5090;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.70:5090");
  EXPECT_EQ(elements(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:192.0.2.70:5090;lr>"});
}

TEST_F(ProxyCoreLooseRoute, NextHopStrictRouterGetsItsUriAsRequestUri) {
  // §16.6 step 6: the Request-URI goes to the end of the Route set.
  receive(
      request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.80:5070>, "
                           "<sip:192.0.2.81;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.80:5070");
  EXPECT_EQ(out->message.requestUriText(), "sip:192.0.2.80:5070");
  EXPECT_EQ(elements(out->message, HeaderId::kRoute),
            (std::vector<std::string>{"<sip:192.0.2.81;lr>", "<sip:bob@192.0.2.50:5080>"}));
}

TEST_F(ProxyCoreLooseRoute, NextHopStrictRouterAsTheLastRoute) {
  receive(request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>", "Route: <sip:192.0.2.80:5070>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.80:5070");
  EXPECT_EQ(out->message.startLine(), "INVITE sip:192.0.2.80:5070 SIP/2.0");
  EXPECT_EQ(elements(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:bob@192.0.2.50:5080>"});
}

TEST_F(ProxyCoreLooseRoute, PreviousStrictRouterLastRouteBecomesTheRequestUri) {
  // §16.4: the Request-URI is our Record-Route URI; the real one is the last Route.
  receive(request(Req().ruri("sip:127.0.0.1:5060;lr").extra({"Route: <sip:bob@192.0.2.50:5080>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.startLine(), "INVITE sip:bob@192.0.2.50:5080 SIP/2.0");
  EXPECT_TRUE(values(out->message, HeaderId::kRoute).empty());
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
}

TEST_F(ProxyCoreLooseRoute, PreviousStrictRouterRemainingRoutesAreStillFollowed) {
  // §16.4: after the rewrite the proxy "MUST then proceed as if it received this modified
  // request"; §16.6 step 7: with a Route left, the request goes to the first Route.
  receive(request(Req()
                      .ruri("sip:127.0.0.1:5060;lr")
                      .extra({"Route: <sip:192.0.2.70:5090;lr>, <sip:bob@192.0.2.50:5080>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.startLine(), "INVITE sip:bob@192.0.2.50:5080 SIP/2.0");
  EXPECT_EQ(elements(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:192.0.2.70:5090;lr>"});
  EXPECT_EQ(where(out->to), "UDP 192.0.2.70:5090");
}

TEST_F(ProxyCoreLooseRoute, PreviousStrictRouterWithOurDoubleRecordRoute) {
  // A strict-routing UA in a dialog we double record-routed: the Request-URI holds our first
  // URI, the Route set our second one and then the remote target. §16.4: the last Route becomes
  // the Request-URI, then the (now first) Route naming us is removed; nothing of ours goes on.
  receive(request(Req()
                      .ruri("sip:127.0.0.1:5060;lr")
                      .extra({"Route: <sip:127.0.0.1:5060;transport=tcp;lr>",
                              "Route: <sip:bob@192.0.2.50:5080>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.startLine(), "INVITE sip:bob@192.0.2.50:5080 SIP/2.0");
  EXPECT_EQ(elements(out->message, HeaderId::kRoute), std::vector<std::string>{});
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
}

TEST_F(ProxyCoreLooseRoute, ARouteNamingAnotherPortIsNotOurs) {
  receive(request(Req().extra({"Route: <sip:127.0.0.1:5070;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 127.0.0.1:5070");
  EXPECT_EQ(values(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:127.0.0.1:5070;lr>"});
}

TEST_F(ProxyCoreLooseRoute, ForwardAloneAlsoRemovesOurRoute) {
  useScript("request:\n  - forward\n");
  receive(request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.70:5090;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.70:5090");
  EXPECT_EQ(values(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:192.0.2.70:5090;lr>"});
}

TEST_F(ProxyCoreLooseRoute, ConditionIsTrueOnlyWithARouteSet) {
  useScript(
      "request:\n"
      "  - if: { loose_route: true }\n"
      "    then: [ forward ]\n"
      "  - reply: [404, \"No Route\"]\n");
  receive(request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>"})));
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 2u);
  EXPECT_TRUE(sent(0)->isRequest);
  EXPECT_EQ(sent(1)->message.statusCode(), 404);
}

// ---------------------------------------------------------------------------------------------
// The next hop and the Request-URI

class ProxyCoreNextHop : public ProxyFixture {};

TEST_F(ProxyCoreNextHop, SetNextHopSendsThereAndKeepsTheRequestUri) {
  useScript(
      "request:\n"
      "  - set_next_hop: \"sip:192.0.2.90:5070;transport=tcp\"\n"
      "  - forward\n");
  receive(request(Req().ruri("sip:bob@tenant-a.example.com")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_TRUE(out->isRequest);
  EXPECT_EQ(where(out->to), "TCP 192.0.2.90:5070");
  EXPECT_EQ(out->to.listener, 1);
  EXPECT_EQ(out->message.startLine(), "INVITE sip:bob@tenant-a.example.com SIP/2.0");
  auto vias = values(out->message, HeaderId::kVia);
  ASSERT_FALSE(vias.empty());
  EXPECT_TRUE(vias[0].starts_with("SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK")) << vias[0];
}

TEST_F(ProxyCoreNextHop, ForwardToSendsThereAndKeepsTheRequestUri) {
  useScript("request:\n  - forward: { to: \"sip:192.0.2.91:5071\" }\n");
  receive(request(Req().ruri("sip:bob@tenant-b.example.com")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.91:5071");
  EXPECT_EQ(out->to.listener, 0);
  EXPECT_EQ(out->message.startLine(), "INVITE sip:bob@tenant-b.example.com SIP/2.0");
  EXPECT_EQ(values(out->message, HeaderId::kMaxForwards), std::vector<std::string>{"69"});
}

TEST_F(ProxyCoreNextHop, ForwardToWithoutPortUses5060) {
  useScript("request:\n  - forward: { to: \"sip:192.0.2.91\" }\n");
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(where(sent(0)->to), "UDP 192.0.2.91:5060");
}

TEST_F(ProxyCoreNextHop, SetRuriUserRewritesTheForwardedRequestUri) {
  useScript(
      "request:\n"
      "  - set_ruri_user: \"+4930123\"\n"
      "  - forward\n");
  const std::string in = request(Req());
  receive(in);
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.startLine(), "INVITE sip:+4930123@192.0.2.50:5080 SIP/2.0");
  EXPECT_EQ(where(out->to), "UDP 192.0.2.50:5080");
  // The branch identifies the incoming transaction, not the rewritten request.
  EXPECT_EQ(topBranch(out->message), branchFor(in));
}

TEST_F(ProxyCoreNextHop, SetRuriHostChangesTheDestination) {
  useScript(
      "request:\n"
      "  - set_ruri_host: \"192.0.2.51\"\n"
      "  - forward\n");
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.startLine(), "INVITE sip:bob@192.0.2.51:5080 SIP/2.0");
  EXPECT_EQ(where(out->to), "UDP 192.0.2.51:5080");
}

TEST_F(ProxyCoreNextHop, NextHopWinsOverTheRouteSet) {
  useScript(
      "request:\n"
      "  - set_next_hop: \"sip:192.0.2.90:5070\"\n"
      "  - forward\n");
  receive(request(Req().extra({"Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.70:5090;lr>"})));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.90:5070");
  // Our own Route is consumed all the same; the next one stays for the next hop.
  EXPECT_EQ(values(out->message, HeaderId::kRoute),
            std::vector<std::string>{"<sip:192.0.2.70:5090;lr>"});
}

// ---------------------------------------------------------------------------------------------
// Local replies (§8.2.6, §18.2.2, RFC 3581)

class ProxyCoreReply : public ProxyFixture {
 protected:
  void SetUp() override { useScript("request:\n  - reply: [404, \"Not Here\"]\n"); }
};

TEST_F(ProxyCoreReply, GoesToTheSourceIpAtTheSentByPort) {
  receive(request(Req()), Source().ip("192.0.2.20").port(40000));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_FALSE(out->isRequest);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.20:5070");
  EXPECT_EQ(out->to.listener, 0);
  const std::string tag = toTag(out->message);
  EXPECT_TRUE(isHex16(tag)) << tag;
  EXPECT_EQ(out->bytes,
            "SIP/2.0 404 Not Here\r\n"
            "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;received=192.0.2.20\r\n"
            "From: <sip:alice@example.com>;tag=a1\r\n"
            "To: <sip:bob@example.com>;tag=" +
                tag +
                "\r\n"
                "Call-ID: call-1@192.0.2.10\r\n"
                "CSeq: 1 INVITE\r\n"
                "Content-Length: 0\r\n"
                "\r\n");
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.localReplies, 1u);
  EXPECT_EQ(s.forwardedRequests, 0u);
}

TEST_F(ProxyCoreReply, GoesToTheSourcePortWhenRportWasAsked) {
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.10:5070;rport;branch=z9hG4bKc1"})),
          Source().ip("192.0.2.20").port(40000));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.20:40000");
  EXPECT_EQ(values(out->message, HeaderId::kVia),
            std::vector<std::string>{
                "SIP/2.0/UDP 192.0.2.10:5070;rport=40000;branch=z9hG4bKc1;received=192.0.2.20"});
}

TEST_F(ProxyCoreReply, RportAddsReceivedEvenFromTheSentByAddress) {
  // RFC 3581 §4: with rport, received is added even when it equals the sent-by host.
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;rport"})),
          Source().ip("192.0.2.10").port(40000));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.10:40000");
  EXPECT_EQ(values(out->message, HeaderId::kVia),
            std::vector<std::string>{
                "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;rport=40000;received=192.0.2.10"});
}

TEST_F(ProxyCoreReply, SentByWithoutPortMeans5060) {
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKc1"})), Source().port(40000));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.10:5060");
  EXPECT_EQ(values(out->message, HeaderId::kVia),
            std::vector<std::string>{"SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKc1"});
}

TEST_F(ProxyCoreReply, EveryViaIsCopiedInOrder) {
  receive(request(Req().vias(
      {"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1", "SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKup"})));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(values(sent(0)->message, HeaderId::kVia),
            (std::vector<std::string>{"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1",
                                      "SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKup"}));
}

TEST_F(ProxyCoreReply, ARetransmissionGetsTheSameToTag) {
  const std::string in = request(Req());
  receive(in);
  receive(in);
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc2"}).cseq(2)));
  ASSERT_EQ(sentCount(), 3u);
  EXPECT_EQ(outbound_.sent[0].bytes, outbound_.sent[1].bytes);
  const std::string first = toTag(sent(0)->message);
  EXPECT_TRUE(isHex16(first)) << first;
  EXPECT_EQ(toTag(sent(1)->message), first);
  EXPECT_NE(toTag(sent(2)->message), first);
}

TEST_F(ProxyCoreReply, AnExistingToTagIsKept) {
  receive(request(Req().method("BYE").to("<sip:bob@example.com>;tag=b1")));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(values(sent(0)->message, HeaderId::kTo),
            std::vector<std::string>{"<sip:bob@example.com>;tag=b1"});
}

TEST_F(ProxyCoreReply, A100HasNoToTag) {
  useScript("request:\n  - reply: 100\n");
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.startLine(), "SIP/2.0 100 Trying");
  EXPECT_EQ(values(out->message, HeaderId::kTo), std::vector<std::string>{"<sip:bob@example.com>"});
}

TEST_F(ProxyCoreReply, ExtraHeadersOfTheStepAreSent) {
  useScript(
      "request:\n"
      "  - reply: { code: 480, reason: \"Away\", headers: [\"Retry-After: 60\"] }\n");
  receive(request(Req()));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->message.startLine(), "SIP/2.0 480 Away");
  const sip::HeaderField* h = out->message.find("Retry-After");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->value, "60");
}

TEST_F(ProxyCoreReply, OverTcpGoesBackOnTheConnection) {
  receive(request(Req().vias({"SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bKc1"})),
          Source().port(40001).listener(1).connection(9));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "TCP 192.0.2.10:40001 connection=9");
  EXPECT_EQ(out->to.listener, 1);
  EXPECT_EQ(out->message.statusCode(), 404);
}

TEST_F(ProxyCoreReply, NeverToAnAck) {
  receive(request(Req().method("ACK").to("<sip:bob@example.com>;tag=b1")));
  EXPECT_EQ(sentCount(), 0u);
  EXPECT_EQ(proxy_.stats().localReplies, 0u);
}

TEST_F(ProxyCoreReply, NeverToAMalformedAck) {
  receive(request(Req().method("ACK").callId("")));  // no Call-ID: fails the sanity checks
  EXPECT_EQ(sentCount(), 0u);
  EXPECT_EQ(proxy_.stats().malformedRequests, 1u);
}

TEST_F(ProxyCoreReply, NeverToAnAckWhoseContentLengthOverrunsTheDatagram) {
  receive(request(Req().method("ACK").extra({"Content-Length: 100"}).contentLength(false)));
  EXPECT_EQ(sentCount(), 0u);
  EXPECT_EQ(proxy_.stats().malformedRequests, 1u);
}

TEST_F(ProxyCoreReply, NeverToAnAckOfAnUnsupportedVersion) {
  // The start line does not parse as SIP/2.0, but the method is readable: still an ACK
  // (§17.1.1.3: ACK is never answered).
  receive(request(Req().method("ACK").version("SIP/3.0")));
  EXPECT_EQ(sentCount(), 0u) << "sent:\n" << (sentCount() > 0 ? outbound_.sent[0].bytes : "");
}

TEST_F(ProxyCoreReply, NeverToAnAckWithMaxForwardsZero) {
  receive(request(Req().method("ACK").maxForwards("0")));
  EXPECT_EQ(sentCount(), 0u);
}

TEST_F(ProxyCoreReply, NeverToAnAckThatCannotBeForwarded) {
  useScript("request:\n  - forward\n");
  receive(request(Req().method("ACK").ruri("sip:bob@example.com")));
  EXPECT_EQ(sentCount(), 0u);
  EXPECT_EQ(proxy_.stats().forwardFailures, 1u);
}

// ---------------------------------------------------------------------------------------------
// Requests refused before routing (§16.3, §8.2)

class ProxyCoreSanity : public ProxyFixture {
 protected:
  // The only message sent: a reply; its status line.
  std::string replyLine() {
    EXPECT_EQ(sentCount(), 1u);
    if (sentCount() == 0) return "<nothing sent>";
    auto out = sent(0);
    EXPECT_FALSE(out->isRequest);
    return std::string(out->message.startLine());
  }
};

TEST_F(ProxyCoreSanity, MissingCallIdIs400) {
  receive(request(Req().callId("")), Source().ip("192.0.2.20"));
  EXPECT_EQ(replyLine(), "SIP/2.0 400 Missing header");
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.20:5070");
  EXPECT_EQ(
      values(out->message, HeaderId::kVia),
      std::vector<std::string>{"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;received=192.0.2.20"});
  EXPECT_FALSE(out->message.has(HeaderId::kCallId));
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.malformedRequests, 1u);
  EXPECT_EQ(s.localReplies, 1u);
  EXPECT_EQ(s.forwardedRequests, 0u);
}

TEST_F(ProxyCoreSanity, ContentLengthLargerThanTheDatagramIs400) {
  // parse() refuses it; the reply is built from what parseForReply() could read.
  receive(request(Req().extra({"Content-Length: 100"}).contentLength(false).body("v=0\r\n")),
          Source().ip("192.0.2.20").port(40000));
  EXPECT_EQ(replyLine(), "SIP/2.0 400 Content-Length larger than message");
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.20:5070");
  EXPECT_EQ(
      values(out->message, HeaderId::kVia),
      std::vector<std::string>{"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;received=192.0.2.20"});
  EXPECT_EQ(values(out->message, HeaderId::kCallId), std::vector<std::string>{"call-1@192.0.2.10"});
  EXPECT_EQ(values(out->message, HeaderId::kCSeq), std::vector<std::string>{"1 INVITE"});
  EXPECT_TRUE(isHex16(toTag(out->message))) << toTag(out->message);
  EXPECT_EQ(values(out->message, HeaderId::kContentLength), std::vector<std::string>{"0"});
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.malformedRequests, 1u);
  EXPECT_EQ(s.localReplies, 1u);
  EXPECT_EQ(s.malformedResponses, 0u);
}

TEST_F(ProxyCoreSanity, UnsupportedVersionIs505) {
  receive(request(Req().version("SIP/3.0")));
  EXPECT_EQ(replyLine(), "SIP/2.0 505 Version Not Supported");
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.10:5070");
  EXPECT_EQ(values(out->message, HeaderId::kCSeq), std::vector<std::string>{"1 INVITE"});
  EXPECT_EQ(proxy_.stats().malformedRequests, 1u);
}

TEST_F(ProxyCoreSanity, UnknownProxyRequireIs420WithUnsupported) {
  receive(request(Req().extra({"Proxy-Require: foo, bar"})));
  EXPECT_EQ(replyLine(), "SIP/2.0 420 Bad Extension");
  EXPECT_EQ(values(sent(0)->message, HeaderId::kUnsupported), std::vector<std::string>{"foo, bar"});
}

TEST_F(ProxyCoreSanity, UnknownUriSchemeIs416) {
  receive(request(Req().ruri("http://example.com/bob")));
  EXPECT_EQ(replyLine(), "SIP/2.0 416 Unsupported URI Scheme");
}

TEST_F(ProxyCoreSanity, CSeqMethodMismatchIs400And501ForAnUnknownMethod) {
  receive(request(Req().cseqMethod("BYE")));
  receive(request(Req().method("FOO").cseqMethod("BAR")));
  ASSERT_EQ(sentCount(), 2u);
  EXPECT_EQ(sent(0)->message.startLine(), "SIP/2.0 400 CSeq method does not match");
  EXPECT_EQ(sent(1)->message.startLine(), "SIP/2.0 501 CSeq method does not match");
}

TEST_F(ProxyCoreSanity, MaxForwardsZeroIs483) {
  receive(request(Req().maxForwards("0")));
  EXPECT_EQ(replyLine(), "SIP/2.0 483 Too Many Hops");
  EXPECT_EQ(proxy_.stats().forwardedRequests, 0u);
}

TEST_F(ProxyCoreSanity, OptionsToUsWithMaxForwardsZeroIs200) {
  // §11 and RFC 4475 §3.3.11 ("OPTIONS with Max-Forwards 0" addressed to the proxy).
  receive(request(Req().method("OPTIONS").ruri("sip:127.0.0.1:5060").maxForwards("0")));
  EXPECT_EQ(replyLine(), "SIP/2.0 200 OK");
  EXPECT_EQ(values(sent(0)->message, HeaderId::kAllow),
            std::vector<std::string>{"INVITE, ACK, CANCEL, BYE, OPTIONS"});
}

TEST_F(ProxyCoreSanity, OptionsToUsWithoutPortWithMaxForwardsZeroIs200) {
  receive(request(Req().method("OPTIONS").ruri("sip:127.0.0.2").maxForwards("0")));
  EXPECT_EQ(replyLine(), "SIP/2.0 200 OK");
}

TEST_F(ProxyCoreSanity, OptionsToSomeoneElseWithMaxForwardsZeroIs483) {
  receive(request(Req().method("OPTIONS").ruri("sip:bob@192.0.2.50").maxForwards("0")));
  EXPECT_EQ(replyLine(), "SIP/2.0 483 Too Many Hops");
}

TEST_F(ProxyCoreSanity, OptionsToUsWithARouteAndMaxForwardsZeroIs483) {
  receive(request(Req()
                      .method("OPTIONS")
                      .ruri("sip:127.0.0.1:5060")
                      .maxForwards("0")
                      .extra({"Route: <sip:192.0.2.70;lr>"})));
  EXPECT_EQ(replyLine(), "SIP/2.0 483 Too Many Hops");
}

// A request whose second Via is ours with the branch this request would get: it has been here.
std::string loopedRequest(const std::string& topVia, std::string_view method = "INVITE") {
  const std::string probe =
      request(Req().method(std::string(method)).vias({topVia, "SIP/2.0/UDP 192.0.2.1"}));
  return request(Req()
                     .method(std::string(method))
                     .vias({topVia, "SIP/2.0/UDP 127.0.0.1:5060;branch=" + branchFor(probe),
                            "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"}));
}

TEST_F(ProxyCoreSanity, OurViaWithTheSameBranchBelowTheTopIs482) {
  receive(loopedRequest("SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKp2"),
          Source().ip("192.0.2.30").port(5060));
  EXPECT_EQ(replyLine(), "SIP/2.0 482 Loop Detected");
  EXPECT_EQ(where(sent(0)->to), "UDP 192.0.2.30:5060");
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.loops, 1u);
  EXPECT_EQ(s.forwardedRequests, 0u);
}

TEST_F(ProxyCoreSanity, OurViaWithAnotherBranchIsASpiral) {
  receive(request(Req().vias({"SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKp2",
                              "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKslffffffffffffffff",
                              "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"})),
          Source().ip("192.0.2.30").port(5060));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_TRUE(sent(0)->isRequest);
  EXPECT_EQ(proxy_.stats().loops, 0u);
}

TEST_F(ProxyCoreSanity, ARequestWithoutViaOrStartLineIsNotAnswered) {
  receive(
      "INVITE sip:bob@192.0.2.50 SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nContent-Length: 3\r\n\r\n");
  receive("this is not SIP\r\n\r\n");
  EXPECT_EQ(sentCount(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Responses routed back by their Via (§16.7 without state, §18.2.2)

class ProxyCoreResponse : public ProxyFixture {};

TEST_F(ProxyCoreResponse, GoesToTheSecondViaHonouringReceivedAndRport) {
  const std::string second =
      "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;rport=40000;received=192.0.2.20";
  const std::string in = response({std::string(kOurVia), second});
  receive(in, Source().ip("192.0.2.50").port(5080));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_FALSE(out->isRequest);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.20:40000");
  EXPECT_EQ(out->bytes, response({second}));
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.responses, 1u);
  EXPECT_EQ(s.forwardedResponses, 1u);
  EXPECT_EQ(s.requests, 0u);
}

TEST_F(ProxyCoreResponse, ReceivedWithoutRportUsesTheSentByPort) {
  receive(response(
      {std::string(kOurVia), "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;received=192.0.2.20"}));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(where(sent(0)->to), "UDP 192.0.2.20:5070");
}

TEST_F(ProxyCoreResponse, PlainSentByIsTheDestination) {
  receive(response({std::string(kOurVia), "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"}));
  receive(response({std::string(kOurVia), "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKc1"}));
  ASSERT_EQ(sentCount(), 2u);
  EXPECT_EQ(where(sent(0)->to), "UDP 192.0.2.10:5070");
  EXPECT_EQ(where(sent(1)->to), "UDP 192.0.2.10:5060");
}

TEST_F(ProxyCoreResponse, TcpSecondViaGoesOverTcpWithContentLength) {
  const std::string second =
      "SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bKc1;received=192.0.2.10;rport=40001";
  receive(response({std::string(kOurVia), second}, /*contentLength=*/false));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "TCP 192.0.2.10:40001");
  EXPECT_EQ(values(out->message, HeaderId::kVia), std::vector<std::string>{second});
  EXPECT_EQ(values(out->message, HeaderId::kContentLength), std::vector<std::string>{"0"});
}

TEST_F(ProxyCoreResponse, BothViasOnOneLine) {
  std::string both(kOurVia);
  both += ", SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1";
  receive(response({both}));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP 192.0.2.10:5070");
  EXPECT_EQ(values(out->message, HeaderId::kVia),
            std::vector<std::string>{"SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"});
}

TEST_F(ProxyCoreResponse, OurViaOnTheOtherInterface) {
  receive(response({"SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKsl0123456789abcdef",
                    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"}),
          Source().listener(2));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(where(sent(0)->to), "UDP 192.0.2.10:5070");
}

TEST_F(ProxyCoreResponse, TopViaNotOursIsDropped) {
  receive(response({"SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKx",
                    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"}));
  EXPECT_EQ(sentCount(), 0u);
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.responses, 1u);
  EXPECT_EQ(s.responsesNotOurs, 1u);
  EXPECT_EQ(s.forwardedResponses, 0u);
}

TEST_F(ProxyCoreResponse, OurAddressOnAnotherPortIsNotOurs) {
  receive(response({"SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx",
                    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"}));
  EXPECT_EQ(sentCount(), 0u);
  EXPECT_EQ(proxy_.stats().responsesNotOurs, 1u);
}

TEST_F(ProxyCoreResponse, BroadcastSecondViaIsDropped) {
  // RFC 4475 §3.3.10.
  receive(response({std::string(kOurVia), "SIP/2.0/UDP 255.255.255.255:5070;branch=z9hG4bKc1"}));
  receive(response({std::string(kOurVia),
                    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1;received=255.255.255.255"}));
  EXPECT_EQ(sentCount(), 0u);
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.unroutableResponses, 2u);
  EXPECT_EQ(s.forwardedResponses, 0u);
}

TEST_F(ProxyCoreResponse, OnlyOurViaIsDropped) {
  receive(response({std::string(kOurVia)}));
  EXPECT_EQ(sentCount(), 0u);
  EXPECT_EQ(proxy_.stats().unroutableResponses, 1u);
}

TEST_F(ProxyCoreResponse, UnsupportedTransportInTheSecondViaIsDropped) {
  receive(response({std::string(kOurVia), "SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKc1"}));
  EXPECT_EQ(sentCount(), 0u);
  EXPECT_EQ(proxy_.stats().unroutableResponses, 1u);
}

TEST_F(ProxyCoreResponse, MalformedResponsesAreDropped) {
  // A status line that does not parse, and one without Call-ID.
  std::string badStatus =
      response({std::string(kOurVia), "SIP/2.0/UDP 192.0.2.10:5070"}, true, "1800 Ringing");
  std::string noCallId = response({std::string(kOurVia), "SIP/2.0/UDP 192.0.2.10:5070"});
  noCallId.erase(noCallId.find("Call-ID:"),
                 std::string_view("Call-ID: call-1@192.0.2.10\r\n").size());
  receive(badStatus);
  receive(noCallId);
  EXPECT_EQ(sentCount(), 0u);
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.malformedResponses, 2u);
  EXPECT_EQ(s.forwardedResponses, 0u);
  EXPECT_EQ(s.malformedRequests, 0u);
}

// ---------------------------------------------------------------------------------------------
// Statistics and reloads

class ProxyCoreStats : public ProxyFixture {};

TEST_F(ProxyCoreStats, CountersFollowTheTraffic) {
  useScript(
      "request:\n"
      "  - if: { method: BYE }\n"
      "    then: [ drop ]\n"
      "  - if: { method: MESSAGE }\n"
      "    then: [ record_route ]\n"
      "    else: [ { route: rest } ]\n"
      "rest:\n"
      "  - if: { method: REGISTER }\n"
      "    then: [ { reply: [403, \"Forbidden\"] } ]\n"
      "  - forward\n");
  receive(request(Req()));                                                  // forwarded
  receive(request(Req().method("REGISTER")));                               // local reply
  receive(request(Req().method("BYE").to("<sip:bob@example.com>;tag=b")));  // dropped
  receive(request(Req().method("MESSAGE")));                                // unhandled
  receive(request(Req().maxForwards("0")));                                 // 483: local reply
  receive(request(Req().callId("")));                                       // malformed
  receive(request(Req().ruri("sip:bob@example.com")));                      // 503
  receive(response({std::string(kOurVia), "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKc1"}));
  receive(response({"SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKx", "SIP/2.0/UDP 192.0.2.10"}));
  ASSERT_EQ(sentCount(), 6u);
  ProxyStats s = proxy_.stats();
  EXPECT_EQ(s.requests, 7u);
  EXPECT_EQ(s.responses, 2u);
  EXPECT_EQ(s.forwardedRequests, 1u);
  EXPECT_EQ(s.forwardedResponses, 1u);
  EXPECT_EQ(s.localReplies, 4u);  // 403, 483, 400, 503
  EXPECT_EQ(s.malformedRequests, 1u);
  EXPECT_EQ(s.malformedResponses, 0u);
  EXPECT_EQ(s.responsesNotOurs, 1u);
  EXPECT_EQ(s.unroutableResponses, 0u);
  EXPECT_EQ(s.unhandled, 1u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.forwardFailures, 1u);
  EXPECT_EQ(s.loops, 0u);
}

TEST_F(ProxyCoreStats, UpdateSwapsTheScriptForTheNextMessage) {
  const std::string in = request(Req());
  useScript("request:\n  - reply: [404, \"Not Here\"]\n");
  receive(in);
  useScript("request:\n  - reply: [486, \"Busy Here\"]\n");
  receive(in);
  proxy_.update(settingsWith(nullptr));  // the built-in plain routing: forward
  receive(in);
  ASSERT_EQ(sentCount(), 3u);
  EXPECT_EQ(sent(0)->message.startLine(), "SIP/2.0 404 Not Here");
  EXPECT_EQ(sent(1)->message.startLine(), "SIP/2.0 486 Busy Here");
  auto third = sent(2);
  EXPECT_TRUE(third->isRequest);
  EXPECT_EQ(where(third->to), "UDP 192.0.2.50:5080");
}

TEST_F(ProxyCoreStats, UpdateCarriesNewParseLimits) {
  auto settings = std::make_shared<ProxySettings>();
  settings->limits.maxMessageBytes = 200;
  proxy_.update(settings);
  receive(request(Req().body(std::string(300, 'x'))));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(sent(0)->message.startLine(), "SIP/2.0 513 Message Too Large");
}

// ---------------------------------------------------------------------------------------------
// Choosing the listener by the destination's address family

class ProxyCoreIpv6 : public ProxyFixture {
 protected:
  ProxyCoreIpv6()
      : ProxyFixture({makeListener(0, Protocol::kUdp, "127.0.0.1", 5060),
                      makeListener(1, Protocol::kUdp, "::1", 5060)}) {}
};

TEST_F(ProxyCoreIpv6, AnIpv6DestinationLeavesByTheIpv6Listener) {
  // An IPv4 socket cannot send to an IPv6 address, and the Via must name where the response
  // can reach us (§16.6 step 8, §18.1.1).
  receive(request(Req().ruri("sip:bob@[::1]:5080")));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(where(out->to), "UDP [::1]:5080");
  EXPECT_EQ(out->to.listener, 1);
  auto vias = values(out->message, HeaderId::kVia);
  ASSERT_FALSE(vias.empty());
  EXPECT_TRUE(vias[0].starts_with("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK")) << vias[0];
}

TEST_F(ProxyCoreIpv6, RecordRoutesBothFamilies) {
  useScript("request:\n  - record_route\n  - forward\n");
  receive(request(Req().ruri("sip:bob@[::1]:5080")));
  ASSERT_EQ(sentCount(), 1u);
  EXPECT_EQ(elements(sent(0)->message, HeaderId::kRecordRoute),
            (std::vector<std::string>{"<sip:[::1]:5060;lr>", "<sip:127.0.0.1:5060;lr>"}));
}

TEST_F(ProxyCoreIpv6, FromIpv6ToIpv6StaysOnTheListener) {
  receive(request(Req()
                      .ruri("sip:bob@[::1]:5080")
                      .vias({"SIP/2.0/UDP [2001:db8::10]:5070;branch=z9hG4bKc1;rport"})),
          Source().ip("2001:db8::20").port(40000).listener(1));
  ASSERT_EQ(sentCount(), 1u);
  auto out = sent(0);
  EXPECT_EQ(out->to.listener, 1);
  auto vias = values(out->message, HeaderId::kVia);
  ASSERT_EQ(vias.size(), 2u);
  EXPECT_TRUE(vias[0].starts_with("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK")) << vias[0];
  EXPECT_EQ(vias[1],
            "SIP/2.0/UDP [2001:db8::10]:5070;branch=z9hG4bKc1;rport=40000;received=2001:db8::20");
}

}  // namespace
}  // namespace strowger::proxy
