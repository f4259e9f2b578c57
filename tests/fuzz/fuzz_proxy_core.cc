// libFuzzer target: the whole proxy with its transaction layer. One input is a short script of
// events — messages from the caller and the callees over UDP or TCP, responses built from what the
// proxy itself sent (so that they match its branches), the fake clock moving, sends failing — run
// through a fresh ProxyCore with a fixed routing script that relays statefully (parallel and
// serial forking, failure routes that relay again, reply and branch routes that edit, the CANCEL
// path, stateless forwarding of in-dialog ACKs). No sockets: the proxy's output goes to a
// recording Outbound; time is a fake clock.
//
// Input: records separated by "@@\n". The first octet of a record says what it is:
//
//   X<src><base><template>  a message from <src>; '$' placeholders in the template are filled
//                           from the message <base> (see below)
//   R<base><ddd><lines>     the callee's response to the request <base> ('A'-'H') the proxy sent:
//                           status ddd (three digits), every Via, From, To (with a tag), Call-ID
//                           and CSeq of that request, its Record-Route and a Contact for 101-299,
//                           then <lines> (a template too), then Content-Length: 0; it comes from
//                           where the request went, over the same transport
//   W<ms>                   the clock moves on <ms> milliseconds (decimal; 64 s at most), the
//                           transaction timers running every 250 ms of it
//   F<n>                    the next n (0-7) sends fail
//
// <src>: '0' caller (192.0.2.10:5070), '1'-'3' callees (192.0.2.50-52:5060) over UDP; '4'-'7'
// the same over TCP; '*' where <base> went (a sent message) or came from (a received one). Any
// other octet is taken modulo 8.
// <base>: 'A'-'H' the last, second-last, ... request other than ACK the proxy sent; 'a'-'h' the
// same for the responses it sent; '0'-'7' the last, second-last, ... message given to it. Any
// other octet: the proxy's sends of either kind, modulo 8.
// Placeholders: $V every Via line of base, $W its top via-parm as a Via line, $F/$T/$I/$S its
// From/To/Call-ID/CSeq lines, $G its To line with a tag added when it has none, $f a From line
// made of its To (tag added), $t a To line made of its From, $R its Record-Route as Route lines
// reversed (the caller's route set), $Q the same in order (the callee's), $u its Request-URI, $c
// its first Contact URI (else the Request-URI), $b its top branch, $n/$m its CSeq number and
// method, $x a number unique to the record, $$ a '$'.
//
// A TCP message is cut into frames by StreamFramer, as the transport does; each message goes to
// the proxy in a buffer of its own size, so that reading past it is an ASan report.
//
// Besides crashes and sanitizer reports the target aborts when the proxy
//   - sends a message that does not parse (as a datagram, or as exactly one framed message over
//     TCP), or a request that fails checkRequest, or a response that fails checkResponse (replies
//     to malformed requests excepted), or claims a request is a response or the other way round;
//   - makes a response to an ACK, or sends any response while it handles an ACK (a response
//     with CSeq ACK from a peer may be passed on; a malformed request whose CSeq says ACK may be
//     answered);
//   - sends a request whose top Via is not its own with an RFC 3261 branch;
//   - sends to a broadcast, multicast or unspecified address, or through a listener of another
//     transport or address family;
//   - holds more live transactions than its bound;
//   - after the last record, with the clock moved on until every timer ran (70 s and more): still
//     has a live transaction, has not sent a final response for every request it relayed, or
//     sends anything more.
// docs/fuzzing.md has the same with examples; STROWGER_FUZZ_TRACE=1 prints what an input does.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_core.h"
#include "strowger/net/socket_address.h"
#include "strowger/script/registry.h"
#include "strowger/script/script.h"
#include "strowger/sip/framer.h"
#include "strowger/sip/message.h"
#include "strowger/sip/sanity.h"
#include "strowger/transport/transport.h"

namespace {

namespace proxy = strowger::proxy;
namespace script = strowger::script;
namespace sip = strowger::sip;
namespace transport = strowger::transport;
namespace net = strowger::net;
using std::chrono::milliseconds;
using transport::Destination;
using transport::Listener;
using transport::Protocol;

// Relays statefully with everything the transaction user offers. Request-URI users pick the
// paths: fork, serial, tcp, v6, stateless; the branch route looks at drop, hop and dave; the reply
// route at X-Drop; the failure routes at the status codes.
constexpr std::string_view kRoutes = R"(
request:
  - if: { method: OPTIONS, addressed_to_me: true }
    then: [ { reply: [ 200, "OK" ] } ]
  - if: { has_to_tag: true }
    then:
      - if: { loose_route: true }
        then: [ relay ]
      - if: { method: ACK }
        then: [ forward ]
      - reply: [ 404, "Not Here" ]
  - if: { method: CANCEL }
    then:
      - if: { ruri.user: stateless }
        then: [ forward ]
      - relay
  - record_route
  - if: { ruri.user: stateless }
    then: [ forward ]
  - if: { ruri.user: drop }
    then: [ drop ]
  - on_reply: watch
  - on_branch: per_branch
  - if: { ruri.user: fork }
    then:
      - append_branch: "sip:carol@192.0.2.51:5060"
      - append_branch: { uri: "sip:dave@192.0.2.52:5060;transport=tcp", q: 0.5 }
      - append_branch: "sip:drop@192.0.2.52:5060"
      - on_failure: again
      - relay: { to: "sip:192.0.2.50:5060" }
  - if: { ruri.user: serial }
    then:
      - append_branch: { uri: "sip:carol@192.0.2.51:5060", q: 0.5 }
      - append_branch: { uri: "sip:dave@192.0.2.52:5060", q: 0.5, next_hop: "sip:192.0.2.52:5060;transport=tcp" }
      - append_branch: { uri: "sip:hop@192.0.2.53:5060", q: 0.2 }
      - on_failure: again
      - relay: { to: "sip:192.0.2.50:5060", fork: serial }
  - if: { ruri.user: tcp }
    then: [ { relay: { to: "sip:192.0.2.50:5060;transport=tcp" } } ]
  - if: { ruri.user: v6 }
    then: [ { relay: { to: "sip:[2001:db8::50]:5060" } } ]
  - if: { ruri.user: direct }
    then: [ relay ]
  - on_failure: again
  - relay: { to: "sip:192.0.2.50:5060" }
failure:
  again:
    - if: { reply.code: 486 }
      then:
        - on_failure: last
        - relay: { to: "sip:192.0.2.51:5060" }
    - if: { reply.code: 408 }
      then:
        - set_ruri: "sip:voicemail@192.0.2.52:5060"
        - on_failure: last
        - relay
    - if: { reply.code: "5xx" }
      then:
        - set_ruri: "sip:voicemail@192.0.2.52:5060"
        - add_header: { name: X-Failed, value: "${reply.code} ${reply.reason}" }
        - on_failure: again
        - relay
    - if: { reply.code: 480 }
      then: [ { reply: [ 404, "Nobody Here" ] } ]
    - if: { reply.code: "30x" }
      then:
        - append_branch: { uri: "sip:carol@192.0.2.51:5060", q: 0.1 }
        - on_failure: last
        - on_reply: other
        - relay: { to: "sip:192.0.2.50:5060", fork: serial }
  last:
    - if: { reply.code: 486 }
      then: [ { reply: { code: 480, reason: "Gone", headers: [ "X-Code: ${reply.code}" ] } } ]
reply:
  watch:
    - if: { reply.code: "18x", header: X-Drop }
      then: [ drop ]
    - if: { reply.code: "2xx" }
      then: [ { add_header: { name: X-Answered, value: "${src.ip} ${transport}" } } ]
    - remove_header: X-Secret
    - replace_header: { name: X-Reply, value: "${reply.code} ${reply.reason} ${hdr.X-Reply}" }
  other:
    - if: { reply.code: "1xx" }
      then: [ drop ]
branch:
  per_branch:
    - if: { ruri.user: drop }
      then: [ drop ]
    - if: { ruri.user: hop }
      then: [ { set_next_hop: "sip:192.0.2.51:5060" } ]
    - if: { ruri.user: dave }
      then: [ { set_ruri_user: "dave-${hdr.X-Suffix}" } ]
    - add_header: { name: X-Branch, value: "${ruri.user}@${ruri.host}" }
    - remove_header: X-Remove
)";

// STROWGER_FUZZ_TRACE=1 in the environment prints every record and every send as they happen.
bool gTrace = false;
// STROWGER_FUZZ_IGNORE_LIVE=1 leaves out the "no transaction left" check at the end, so that a
// campaign can look for other failures while a known leak waits for its fix.
bool gIgnoreLive = false;

constexpr std::string_view kSeparator = "@@\n";
constexpr std::size_t kMaxRecords = 64;
constexpr std::size_t kMaxExpanded = 65535;     // a message made from a template
constexpr milliseconds kMaxWait{64'000};        // one W record
constexpr milliseconds kMaxTotalWait{600'000};  // all W records of an input
constexpr milliseconds kTimerStep{250};
constexpr milliseconds kDrainStep{1'000};
// Past every timer: B, D, F, H, J (32 s), the 64*T1 an answered INVITE is remembered, fr_timeout
// and fr_inv_timeout of branches still open and of up to 32 branches that failure routes start
// one after the other while nobody answers.
constexpr milliseconds kDrainLimit{600'000};

struct Peer {
  const char* ip;
  uint16_t port;
  uint64_t connection;  // over TCP
};
constexpr Peer kPeers[] = {{"192.0.2.10", 5070, 9},
                           {"192.0.2.50", 5060, 11},
                           {"192.0.2.51", 5060, 12},
                           {"192.0.2.52", 5060, 13}};

net::SocketAddress address(std::string_view ip, uint16_t port) {
  auto a = net::SocketAddress::parse(ip, port);
  if (!a) std::abort();
  return *a;
}

Listener listener(uint32_t index, Protocol protocol, std::string_view ip) {
  Listener l;
  l.index = index;
  l.protocol = protocol;
  l.address = address(ip, 5060);
  l.advertisedHost = std::string(ip);
  l.advertisedPort = 5060;
  return l;
}

const script::StepRegistry& registry() {
  static const script::StepRegistry instance = [] {
    script::StepRegistry r;
    if (!script::registerBuiltinSteps(r)) std::abort();
    return r;
  }();
  return instance;
}

std::shared_ptr<const proxy::ProxySettings> settings() {
  static const std::shared_ptr<const proxy::ProxySettings> instance = [] {
    auto compiled =
        script::compileRoutes(YAML::Load(std::string(kRoutes)), "fuzz.yaml", registry());
    if (!compiled) {
      for (const script::ScriptError& e : compiled.error())
        std::fprintf(stderr, "%s\n", e.toString().c_str());
      std::abort();
    }
    auto s = std::make_shared<proxy::ProxySettings>();
    s->script = *compiled;
    s->transactions.frTimeout = milliseconds(4'000);
    s->transactions.frInvTimeout = milliseconds(10'000);
    s->transactions.maxLive = 8;
    return std::shared_ptr<const proxy::ProxySettings>(std::move(s));
  }();
  return instance;
}

std::string printable(std::string_view bytes, std::size_t limit = 4096) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n') {
      out += "\\n\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > limit) out += "...";
  return out;
}

std::string firstLine(std::string_view bytes) {
  return printable(bytes.substr(0, std::min(bytes.find('\r'), std::size_t{80})), 80);
}

std::string hexTag(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  char out[16];
  std::snprintf(out, sizeof out, "t%08x", h);
  return out;
}

std::string_view defaultReason(unsigned status) {
  static constexpr std::pair<unsigned, std::string_view> kReasons[] = {
      {100, "Trying"},
      {180, "Ringing"},
      {183, "Session Progress"},
      {200, "OK"},
      {401, "Unauthorized"},
      {407, "Proxy Authentication Required"},
      {408, "Request Timeout"},
      {480, "Temporarily Unavailable"},
      {486, "Busy Here"},
      {487, "Request Terminated"},
      {503, "Service Unavailable"},
      {603, "Decline"}};
  for (const auto& [code, reason] : kReasons) {
    if (code == status) return reason;
  }
  return "Fuzz";
}

// Where a message came from or went to.
struct Endpoint {
  net::SocketAddress address;
  Protocol protocol = Protocol::kUdp;
  uint64_t connection = 0;
};

struct Record {
  std::string bytes;
  Endpoint peer;  // sent: where it went; received: where it came from
  bool isRequest = false;
};

class Harness;

// Records every send and checks it on the spot, so that a broken one aborts with the stack of
// the code that sent it.
class CheckingOutbound final : public proxy::Outbound {
 public:
  explicit CheckingOutbound(Harness& harness);
  transport::SendStatus send(const Destination& to, std::string_view bytes,
                             bool isRequest) override;
  std::span<const Listener> listeners() const override { return listeners_; }

  unsigned failuresLeft = 0;

 private:
  Harness& harness_;
  std::vector<Listener> listeners_;
};

class Harness {
 public:
  // The fake clock also seeds the ids in the proxy's branches, so that an input replays the
  // same way every run (libFuzzer learns branch bytes the proxy compares and puts them in inputs).
  Harness() : outbound_(*this), proxy_(settings(), &outbound_, [this] { return now_; }) {}

  void run(std::string_view input);

  [[noreturn]] void fail(const std::string& what, std::string_view bytes = {}) {
    std::fprintf(stderr, "\n=== fuzz_proxy_core: %s\n", what.c_str());
    if (!bytes.empty()) std::fprintf(stderr, "--- message:\n%s\n", printable(bytes).c_str());
    std::fprintf(stderr, "--- records run (clock at %lld ms):\n%s",
                 static_cast<long long>(elapsed().count()), trace_.c_str());
    const proxy::TransactionStats s = proxy_.transactionStats();
    std::string stats = "live " + std::to_string(s.live) + ", created " +
                        std::to_string(s.created) + ", completed 1xx-6xx";
    for (std::size_t c = 1; c <= 6; ++c)
      stats += " " + std::to_string(s.completed[c]);
    stats += ", timeouts " + std::to_string(s.timeouts) + ", cancelled " +
             std::to_string(s.cancelled) + ", branches " + std::to_string(s.branches) +
             ", refused " + std::to_string(s.refused);
    std::fprintf(stderr, "--- transactions: %s\n", stats.c_str());
    std::abort();
  }

  void onSend(const Destination& to, std::string_view bytes, bool isRequest);

 private:
  milliseconds elapsed() const {
    return std::chrono::duration_cast<milliseconds>(now_ - strowger::transaction::TimePoint{});
  }
  void note(const std::string& line) {
    trace_ += "  " + line + "\n";
    if (gTrace)
      std::fprintf(stderr, "[%7lld ms] %s\n", static_cast<long long>(elapsed().count()),
                   line.c_str());
  }

  void message(std::string_view record, unsigned index);
  void response(std::string_view record, unsigned index);
  void wait(std::string_view record);
  void advance(milliseconds by, milliseconds step);
  void deliver(std::string_view bytes, const Endpoint& from);
  void deliverOne(std::string_view bytes, const Endpoint& from);
  void checkLive();
  void drain();

  const Record* base(unsigned char selector) const;
  Endpoint source(unsigned char selector, const Record* base) const;
  std::string expand(std::string_view text, const Record* base, const Endpoint& from,
                     unsigned index) const;

  CheckingOutbound outbound_;
  strowger::transaction::TimePoint now_{};
  proxy::ProxyCore proxy_;
  std::vector<Record> sent_;
  std::vector<Record> received_;
  std::string trace_;
  milliseconds waited_{0};
  // While a message is handed to the proxy: whether it is one the proxy answers as malformed (its
  // replies need not parse), and whether it is an ACK (nothing may answer it).
  bool delivering_ = false;
  bool inputMalformed_ = false;
  bool inputIsAck_ = false;
  bool inputIsResponse_ = false;
};

CheckingOutbound::CheckingOutbound(Harness& harness) : harness_(harness) {
  listeners_ = {listener(0, Protocol::kUdp, "127.0.0.1"), listener(1, Protocol::kTcp, "127.0.0.1"),
                listener(2, Protocol::kUdp, "::1"), listener(3, Protocol::kTcp, "::1")};
}

transport::SendStatus CheckingOutbound::send(const Destination& to, std::string_view bytes,
                                             bool isRequest) {
  harness_.onSend(to, bytes, isRequest);
  if (failuresLeft > 0) {
    --failuresLeft;
    return transport::SendStatus::kError;
  }
  return transport::SendStatus::kSent;
}

void Harness::onSend(const Destination& to, std::string_view bytes, bool isRequest) {
  Record r;
  r.bytes = std::string(bytes);
  r.peer.address = to.address;
  r.peer.protocol = to.protocol;
  r.peer.connection = to.connection;
  r.isRequest = isRequest;
  const std::string where = std::string(transport::protocolName(to.protocol)) + " " +
                            to.address.toString() + " (connection " +
                            std::to_string(to.connection) + ", listener " +
                            std::to_string(to.listener) + ")";

  if (!to.address.valid() || to.address.isBroadcastOrMulticast() || to.address.isUnspecified())
    fail("sent to the unusable address " + where, bytes);
  if (to.listener >= 0) {
    const auto ls = outbound_.listeners();
    if (static_cast<std::size_t>(to.listener) >= ls.size())
      fail("sent through a listener that does not exist: " + where, bytes);
    const Listener& l = ls[static_cast<std::size_t>(to.listener)];
    if (l.protocol != to.protocol || l.address.isIpv6() != to.address.isIpv6())
      fail("sent through a listener of another transport or family: " + where, bytes);
  }

  if (gTrace)
    std::fprintf(stderr, "[%7lld ms]     sent to %s: %s\n",
                 static_cast<long long>(elapsed().count()), where.c_str(),
                 firstLine(bytes).c_str());
  const bool tcp = to.protocol == Protocol::kTcp;
  sip::Message m;
  const auto parsed = m.parse(bytes, tcp ? sip::Framing::kStream : sip::Framing::kDatagram);
  const bool replyToMalformed = !isRequest && delivering_ && inputMalformed_;
  if (!isRequest && delivering_ && inputIsAck_)
    fail("sent a response while handling an ACK, to " + where, bytes);
  if (!parsed) {
    if (replyToMalformed) {
      sent_.push_back(std::move(r));
      return;
    }
    fail("sent a message that does not parse (" + std::string(parsed.error().reason) + ") to " +
             where,
         bytes);
  }
  if (tcp && (m.bytes().size() != bytes.size() || m.trailingBytes() != 0))
    fail("sent over TCP bytes that are not exactly one framed message, to " + where, bytes);
  if (m.isRequest() != isRequest)
    fail(std::string("sent a ") + (m.isRequest() ? "request" : "response") + " as a " +
             (isRequest ? "request" : "response") + ", to " + where,
         bytes);
  if (m.isResponse()) {
    const auto& cseq = m.cseq();
    // A response to an ACK may only be passed on (from a broken peer), never made here. (A
    // malformed request whose CSeq says ACK, "FOO sip:x SIP/2.0 ... CSeq: 1 ACK", gets its error
    // reply with that CSeq: it is not an ACK; a malformed ACK gets none, checked above.)
    if (cseq && cseq->method == sip::Method::kAck && !replyToMalformed &&
        !(delivering_ && inputIsResponse_))
      fail("sent a response to an ACK, to " + where, bytes);
    if (!replyToMalformed) {
      if (auto sane = sip::checkResponse(m); !sane)
        fail("sent a response that fails checkResponse (" + std::string(sane.error().reason) +
                 ") to " + where,
             bytes);
    }
  } else {
    if (auto sane = sip::checkRequest(m); !sane)
      fail("sent a request that fails checkRequest (" + std::string(sane.error().reason) + ") to " +
               where,
           bytes);
    const auto& via = m.topVia();
    if (!via || !via->branch.starts_with(sip::kBranchMagicCookie) ||
        via->branch.size() <= sip::kBranchMagicCookie.size() ||
        !proxy_.isLocal(via->sentBy.host, via->sentBy.hasPort ? via->sentBy.port : 0))
      fail("sent a request whose top Via is not its own with an RFC 3261 branch, to " + where,
           bytes);
  }
  sent_.push_back(std::move(r));
}

void Harness::checkLive() {
  const proxy::TransactionStats s = proxy_.transactionStats();
  if (s.live > settings()->transactions.maxLive)
    fail("more live transactions (" + std::to_string(s.live) + ") than the bound");
}

void Harness::run(std::string_view input) {
  std::size_t at = 0;
  unsigned index = 0;
  while (at <= input.size() && index < kMaxRecords) {
    std::size_t end = input.find(kSeparator, at);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view record = input.substr(at, end - at);
    at = end + kSeparator.size();
    if (record.empty()) continue;
    switch (record[0]) {
      case 'X':
        message(record, index);
        break;
      case 'R':
        response(record, index);
        break;
      case 'W':
        wait(record);
        break;
      case 'F':
        outbound_.failuresLeft = record.size() > 1 ? static_cast<unsigned char>(record[1]) % 8 : 1;
        note("F " + std::to_string(outbound_.failuresLeft));
        break;
      default:
        continue;
    }
    ++index;
    checkLive();
  }
  drain();
}

// --- records -------------------------------------------------------------------------------------

const Record* Harness::base(unsigned char selector) const {
  // kind 1: requests but ACKs (nothing answers an ACK), 2: responses, 0: any.
  auto nth = [](const std::vector<Record>& list, unsigned k, int kind) -> const Record* {
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      if (kind == 1 && (!it->isRequest || std::string_view(it->bytes).starts_with("ACK ")))
        continue;
      if (kind == 2 && it->isRequest) continue;
      if (k-- == 0) return &*it;
    }
    return nullptr;
  };
  if (selector >= 'A' && selector <= 'H') return nth(sent_, selector - 'A', 1);
  if (selector >= 'a' && selector <= 'h') return nth(sent_, selector - 'a', 2);
  if (selector >= '0' && selector <= '7') return nth(received_, selector - '0', 0);
  return nth(sent_, selector % 8, 0);
}

Endpoint Harness::source(unsigned char selector, const Record* from) const {
  if (selector == '*' && from) {
    Endpoint e = from->peer;
    if (e.protocol == Protocol::kTcp && e.connection == 0) e.connection = 20;
    return e;
  }
  const unsigned n = (selector >= '0' && selector <= '7') ? selector - '0' : selector % 8u;
  const Peer& p = kPeers[n % 4];
  Endpoint e;
  e.address = address(p.ip, p.port);
  e.protocol = n >= 4 ? Protocol::kTcp : Protocol::kUdp;
  e.connection = n >= 4 ? p.connection : 0;
  return e;
}

std::string Harness::expand(std::string_view text, const Record* from, const Endpoint& peer,
                            unsigned index) const {
  if (text.find('$') == std::string_view::npos) return std::string(text);
  sip::Message m;
  bool ok = false;
  if (from) {
    ok = m.parse(from->bytes, from->peer.protocol == Protocol::kTcp ? sip::Framing::kStream
                                                                    : sip::Framing::kDatagram)
             .hasValue();
  }
  const std::string tag = hexTag(peer.address.toString());
  auto line = [&](std::string& out, std::string_view name, sip::HeaderId id) {
    if (const sip::HeaderField* h = m.find(id))
      out.append(name).append(": ").append(h->value).append("\r\n");
  };
  auto withTag = [&](std::string& out, std::string_view name) {
    const sip::HeaderField* h = m.find(sip::HeaderId::kTo);
    if (!h) return;
    out.append(name).append(": ").append(h->value);
    if (!m.to() || m.to()->tag.empty()) out.append(";tag=").append(tag);
    out.append("\r\n");
  };
  auto routes = [&](std::string& out, bool reversed) {
    const auto& rr = m.recordRoutes();
    if (!rr) return;
    std::vector<std::string_view> list;
    for (const sip::NameAddr& r : *rr)
      list.push_back(r.raw);
    if (reversed) std::reverse(list.begin(), list.end());
    for (std::string_view r : list)
      out.append("Route: ").append(r).append("\r\n");
  };

  std::string out;
  // Placeholders could otherwise multiply a 64 KiB input into gigabytes.
  for (std::size_t i = 0; i < text.size() && out.size() < kMaxExpanded; ++i) {
    if (text[i] != '$' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char p = text[++i];
    if (p == '$') {
      out += '$';
      continue;
    }
    if (p == 'x') {
      out += std::to_string(index);
      continue;
    }
    if (!ok) {
      if (std::string_view("VWFTGftRQIScbunm").find(p) == std::string_view::npos) {
        out += '$';
        out += p;
      }
      continue;
    }
    switch (p) {
      case 'V':
        for (const sip::HeaderField& h : m.all(sip::HeaderId::kVia))
          out.append("Via: ").append(h.value).append("\r\n");
        break;
      case 'W':
        if (const auto& via = m.topVia()) out.append("Via: ").append(via->raw).append("\r\n");
        break;
      case 'F':
        line(out, "From", sip::HeaderId::kFrom);
        break;
      case 'T':
        line(out, "To", sip::HeaderId::kTo);
        break;
      case 'G':
        withTag(out, "To");
        break;
      case 'f':
        withTag(out, "From");
        break;
      case 't':
        if (const sip::HeaderField* h = m.find(sip::HeaderId::kFrom))
          out.append("To: ").append(h->value).append("\r\n");
        break;
      case 'I':
        line(out, "Call-ID", sip::HeaderId::kCallId);
        break;
      case 'S':
        line(out, "CSeq", sip::HeaderId::kCSeq);
        break;
      case 'R':
        routes(out, true);
        break;
      case 'Q':
        routes(out, false);
        break;
      case 'u':
        out.append(m.requestUriText());
        break;
      case 'c': {
        const auto& contacts = m.contacts();
        if (contacts && !contacts->contacts.empty()) {
          out.append(contacts->contacts.front().address.uri.raw);
        } else {
          out.append(m.requestUriText());
        }
        break;
      }
      case 'b':
        if (const auto& via = m.topVia()) out.append(via->branch);
        break;
      case 'n':
        if (const auto& cseq = m.cseq()) out.append(std::to_string(cseq->number));
        break;
      case 'm':
        if (const auto& cseq = m.cseq()) out.append(cseq->methodText);
        break;
      default:
        out += '$';
        out += p;
    }
  }
  if (out.size() > kMaxExpanded) out.resize(kMaxExpanded);
  return out;
}

void Harness::message(std::string_view record, unsigned index) {
  if (record.size() < 3) return;
  const Record* from = base(static_cast<unsigned char>(record[2]));
  const Endpoint peer = source(static_cast<unsigned char>(record[1]), from);
  const std::string bytes = expand(record.substr(3), from, peer, index);
  note("X from " + std::string(transport::protocolName(peer.protocol)) + " " +
       peer.address.toString() + ": " + firstLine(bytes));
  deliver(bytes, peer);
}

void Harness::response(std::string_view record, unsigned index) {
  const unsigned char selector = record.size() > 1 ? static_cast<unsigned char>(record[1]) : 'A';
  const Record* request = nullptr;
  if (selector >= 'A' && selector <= 'H') {
    request = base(selector);
  } else {
    request = base(static_cast<unsigned char>('A' + selector % 8));
  }
  if (!request) return;
  unsigned status = 0;
  const std::string_view digits = record.size() >= 5 ? record.substr(2, 3) : std::string_view{};
  if (digits.size() == 3 &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    status =
        static_cast<unsigned>((digits[0] - '0') * 100 + (digits[1] - '0') * 10 + (digits[2] - '0'));
  } else {
    unsigned sum = 0;
    for (char c : digits)
      sum = sum * 31 + static_cast<unsigned char>(c);
    status = 100 + sum % 600;
  }
  const std::string_view extra = record.size() > 5 ? record.substr(5) : std::string_view{};
  const Endpoint peer = source('*', request);

  sip::Message m;
  if (!m.parse(request->bytes, request->peer.protocol == Protocol::kTcp ? sip::Framing::kStream
                                                                        : sip::Framing::kDatagram))
    return;  // onSend let it through only because it answered a malformed request
  std::string r =
      "SIP/2.0 " + std::to_string(status) + " " + std::string(defaultReason(status)) + "\r\n";
  r += expand("$V$F", request, peer, index);
  r += expand(status > 100 ? "$G" : "$T", request, peer, index);
  r += expand("$I$S", request, peer, index);
  if (status > 100 && status < 300) {
    if (const auto& rr = m.recordRoutes(); rr) {
      for (const sip::NameAddr& n : *rr)
        r.append("Record-Route: ").append(n.raw).append("\r\n");
    }
    r += "Contact: <sip:callee@" + peer.address.sipHost() + ":" +
         std::to_string(peer.address.port()) + ">\r\n";
  }
  r += expand(extra, request, peer, index);
  r += "Content-Length: 0\r\n\r\n";
  note("R " + std::to_string(status) + " to " + firstLine(request->bytes) + " from " +
       std::string(transport::protocolName(peer.protocol)) + " " + peer.address.toString());
  deliver(r, peer);
}

void Harness::wait(std::string_view record) {
  unsigned long long ms = 0;
  std::size_t i = 1;
  for (; i < record.size() && i < 7 && record[i] >= '0' && record[i] <= '9'; ++i)
    ms = ms * 10 + static_cast<unsigned>(record[i] - '0');
  if (i == 1) ms = record.size() > 1 ? static_cast<unsigned char>(record[1]) * 100ull : 10;
  milliseconds by(std::min<unsigned long long>(ms, kMaxWait.count()));
  by = std::min(by, kMaxTotalWait - waited_);
  if (by <= milliseconds{0}) return;
  waited_ += by;
  note("W " + std::to_string(by.count()) + " ms");
  advance(by, kTimerStep);
}

void Harness::advance(milliseconds by, milliseconds step) {
  for (milliseconds done{0}; done < by;) {
    const milliseconds s = std::min(step, by - done);
    now_ += s;
    done += s;
    proxy_.transactions().advanceTimers(0, 1);
  }
  checkLive();
}

void Harness::deliver(std::string_view bytes, const Endpoint& from) {
  {
    Record r;
    r.bytes = std::string(bytes);
    r.peer = from;
    received_.push_back(std::move(r));
  }
  if (from.protocol == Protocol::kUdp) {
    deliverOne(bytes, from);
    return;
  }
  // As the transport does over TCP: the framer cuts the stream into messages.
  sip::StreamFramer framer;
  std::string_view pending = bytes;
  while (!pending.empty()) {
    const sip::StreamFramer::Result f = framer.next(pending);
    if (f.status == sip::StreamFramer::Status::kNeedMore ||
        f.status == sip::StreamFramer::Status::kError)
      return;
    if (f.length == 0 || f.length > pending.size()) fail("the framer returned a bad length", bytes);
    if (f.status == sip::StreamFramer::Status::kMessage)
      deliverOne(pending.substr(0, f.length), from);
    pending.remove_prefix(f.length);
  }
}

void Harness::deliverOne(std::string_view bytes, const Endpoint& from) {
  if (bytes.empty()) return;
  // In a buffer of its own, exactly as long as the message.
  const std::unique_ptr<char[]> buffer(new char[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), buffer.get());
  const std::string_view copy(buffer.get(), bytes.size());

  transport::ReceivedMessage received;
  received.bytes = copy;
  received.source = from.address;
  received.protocol = from.protocol;
  received.connection = from.protocol == Protocol::kTcp ? from.connection : 0;
  const auto ls = outbound_.listeners();
  const Listener* in = nullptr;
  for (const Listener& l : ls) {
    if (l.protocol == from.protocol && l.address.isIpv6() == from.address.isIpv6()) {
      in = &l;
      break;
    }
  }
  if (!in) return;
  received.local = in->address;
  received.listener = in->index;

  // What the proxy will make of it: a request it answers as malformed may get a reply that does
  // not parse; an ACK, however broken, gets no answer at all.
  const sip::Framing framing =
      from.protocol == Protocol::kTcp ? sip::Framing::kStream : sip::Framing::kDatagram;
  sip::Message m;
  inputMalformed_ = true;
  inputIsAck_ = false;
  inputIsResponse_ = false;
  if (m.parse(copy, framing)) {
    inputIsResponse_ = m.isResponse();
    inputMalformed_ = m.isRequest() ? !sip::checkRequest(m) : !sip::checkResponse(m);
    inputIsAck_ = m.isRequest() && m.method() == sip::Method::kAck;
  } else if (m.parseForReply(copy)) {
    inputIsAck_ = m.isRequest() && m.method() == sip::Method::kAck;
  }
  delivering_ = true;
  proxy_.onMessage(received);
  delivering_ = false;
}

// After the last record: time runs on until every transaction has ended, and 70 s more. Every
// relayed request must have had its final response, and nothing may be sent any more.
void Harness::drain() {
  note("drain");
  const milliseconds start = elapsed();
  for (milliseconds t{0}; t < kDrainLimit && proxy_.transactionStats().live > 0; t += kDrainStep)
    advance(kDrainStep, kDrainStep);
  advance(milliseconds(70'000), milliseconds(10'000));
  const proxy::TransactionStats s = proxy_.transactionStats();
  uint64_t completed = 0;
  for (uint64_t c : s.completed)
    completed += c;
  if (completed != s.created)
    fail(std::to_string(s.created) + " relayed request(s) but " + std::to_string(completed) +
         " final response(s) sent upstream");
  if (s.live != 0) {
    if (gIgnoreLive) return;
    fail(std::to_string(s.live) + " transaction(s) still live " +
         std::to_string((elapsed() - start).count() / 1000) + " s after the last record");
  }
  const std::size_t before = sent_.size();
  advance(milliseconds(100'000), milliseconds(50'000));
  if (sent_.size() != before)
    fail("sent something after every transaction had ended", sent_.back().bytes);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Warnings and debug lines are formatted as in the daemon; they go nowhere.
  auto logger =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  const char* trace = std::getenv("STROWGER_FUZZ_TRACE");
  gTrace = trace && *trace && *trace != '0';
  const char* ignoreLive = std::getenv("STROWGER_FUZZ_IGNORE_LIVE");
  gIgnoreLive = ignoreLive && *ignoreLive && *ignoreLive != '0';
  settings();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Harness harness;
  harness.run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
