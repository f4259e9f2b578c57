#include "exercise.h"

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "strowger/sip/editor.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"
#include "strowger/sip/reply.h"
#include "strowger/sip/sanity.h"
#include "strowger/sip/uri.h"

namespace strowger::conformance {

namespace {

using sip::HeaderId;
using sip::Message;

constexpr std::string_view kOurVia = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-exercise.1";
constexpr std::string_view kOurRecordRoute = "<sip:192.0.2.1;lr>";
constexpr std::string_view kNextHop = "sip:next-hop@192.0.2.2:5060;transport=udp";
constexpr std::string_view kReplyBody = "exercise body";

// Reads every view the API hands out and checks that it points into the message.
class Walker {
 public:
  Walker(std::string_view input, ExerciseResult& result) : input_(input), result_(result) {}

  void violation(std::string text) {
    if (result_.violations.size() < 32) result_.violations.push_back(std::move(text));
  }

  // A view that must lie inside the input bytes (empty views may point anywhere).
  void view(std::string_view v, std::string_view what) {
    owned(v);
    if (v.empty()) return;
    auto begin = reinterpret_cast<std::uintptr_t>(input_.data());
    auto end = begin + input_.size();
    auto vb = reinterpret_cast<std::uintptr_t>(v.data());
    if (vb < begin || vb > end || v.size() > end - vb) {
      violation(std::string(what) + " is not a view into the message");
    }
  }

  // Data the API owns (decoded text, generated output): only read it.
  void owned(std::string_view v) {
    uint64_t h = result_.digest;
    for (char c : v)
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    result_.digest = h + v.size();
  }

  void number(uint64_t n) { result_.digest = (result_.digest ^ n) * 1099511628211ULL; }

  void params(const sip::ParamsView& p, std::string_view what) {
    view(p.raw(), what);
    std::size_t n = 0;
    for (const sip::Param& param : p) {
      view(param.name, what);
      view(param.value, what);
      view(param.unquoted(), what);
      number(param.hasValue);
      if (++n > 100000) {
        violation(std::string(what) + ": parameter iteration does not end");
        break;
      }
    }
    view(p.get("lr"), what);
    view(p.get("transport"), what);
    number(p.has("tag"));
    if (auto found = p.find("maddr")) view(found->value, what);
  }

  void uri(const sip::Uri& u, std::string_view what) {
    view(u.schemeText, what);
    view(u.user, what);
    view(u.password, what);
    view(u.hostPort.host, what);
    number(u.port());
    number(static_cast<uint64_t>(u.hostPort.kind));
    number(u.isSip());
    params(u.params, what);
    view(u.headers, what);
    view(u.opaque, what);
    view(u.raw, what);
    owned(u.unescapedUser());
  }

  void via(const sip::Via& v) {
    view(v.protocol, "Via protocol");
    view(v.version, "Via version");
    view(v.transport, "Via transport");
    owned(sip::transportName(v.transportId));
    view(v.sentBy.host, "Via sent-by");
    number(v.sentBy.port);
    params(v.params, "Via params");
    view(v.branch, "Via branch");
    view(v.received, "Via received");
    view(v.maddr, "Via maddr");
    number(v.hasRport);
    if (v.rport) number(*v.rport);
    view(v.raw, "Via raw");
    number(v.hasRfc3261Branch());
  }

  void nameAddr(const sip::NameAddr& a, std::string_view what) {
    view(a.displayName, what);
    number(a.displayNameQuoted);
    number(a.bracketed);
    uri(a.uri, what);
    params(a.params, what);
    view(a.tag, what);
    view(a.raw, what);
  }

  void authParams(const std::vector<sip::AuthParam>& list, std::string_view what) {
    for (const auto& p : list) {
      view(p.name, what);
      view(p.value, what);
      number(p.quoted);
    }
  }

  void credentials(const sip::Credentials& c) {
    for (std::string_view v : {c.scheme, c.username, c.realm, c.nonce, c.uri, c.response,
                               c.algorithm, c.cnonce, c.opaque, c.qop, c.nc, c.raw}) {
      view(v, "credentials");
    }
    number(c.userhash);
    authParams(c.params, "credentials param");
  }

  void challenge(const sip::Challenge& c) {
    for (std::string_view v :
         {c.scheme, c.realm, c.nonce, c.opaque, c.algorithm, c.qop, c.domain, c.raw}) {
      view(v, "challenge");
    }
    number(c.stale);
    authParams(c.params, "challenge param");
  }

  void error(const sip::ParseError& e) {
    number(static_cast<uint64_t>(e.code));
    number(e.status);
    owned(e.reason);
  }

 private:
  std::string_view input_;
  ExerciseResult& result_;
};

// Calls a cached accessor twice: the second call must hand back the very same object.
template <class Get>
const auto& cached(Walker& w, Get get, std::string_view what) {
  const auto& first = get();
  const auto& second = get();
  if (&first != &second) w.violation(std::string(what) + " is not cached");
  if (!first.hasValue()) w.error(first.error());
  return first;
}

void walkStructure(Walker& w, const Message& m, std::string_view input) {
  w.view(m.bytes(), "bytes()");
  w.view(m.startLine(), "startLine()");
  w.view(m.version(), "version()");
  w.view(m.body(), "body()");
  w.number(m.bodyOffset());
  w.number(m.headersEndOffset());
  w.number(m.trailingBytes());
  if (m.isRequest()) {
    w.view(m.methodText(), "methodText()");
    w.view(m.requestUriText(), "requestUriText()");
    w.owned(sip::methodName(m.method()));
  } else {
    w.number(m.statusCode());
    w.view(m.reasonPhrase(), "reasonPhrase()");
  }
  if (m.bytes().size() + m.trailingBytes() > input.size()) {
    w.violation("bytes() plus trailingBytes() is longer than the input");
  }
  if (m.bodyOffset() > m.bytes().size() || m.headersEndOffset() > m.bodyOffset()) {
    w.violation("headersEndOffset() <= bodyOffset() <= bytes().size() does not hold");
  }

  const auto headers = m.headers();
  for (const sip::HeaderField& h : headers) {
    w.view(h.name, "header name");
    w.view(h.value, "header value");
    w.owned(sip::canonicalHeaderName(h.id));
    if (h.lineBegin >= h.lineEnd || h.lineEnd > m.bytes().size()) {
      w.violation("header line offsets out of range");
    }
    if (h.id != sip::headerIdFromName(h.name)) {
      w.violation("header id differs from headerIdFromName(name)");
    }
  }
  if (!headers.empty()) {
    const sip::HeaderField* second = m.next(headers[0]);
    if (second != nullptr) w.view(second->value, "next()");
  }
  for (std::size_t i = 0; i < sip::kHeaderIdCount; ++i) {
    const auto id = static_cast<HeaderId>(i);
    std::size_t walked = 0;
    for (const sip::HeaderField& h : m.all(id)) {
      w.view(h.value, "all() value");
      if (id != HeaderId::kOther && h.id != id) w.violation("all(id) yields another id");
      if (++walked > headers.size()) {
        w.violation("all(id) does not end");
        break;
      }
    }
    if (id == HeaderId::kOther) continue;
    if (walked != m.count(id)) w.violation("count(id) differs from the length of all(id)");
    if (m.has(id) != (walked != 0)) w.violation("has(id) differs from all(id)");
    const sip::HeaderField* first = m.find(id);
    if ((first != nullptr) != m.has(id)) w.violation("find(id) differs from has(id)");
  }
  for (std::string_view name : {"Via", "v", "call-id", "X-Exercise-Absent", ""}) {
    if (const sip::HeaderField* h = m.find(name)) w.view(h->value, "find(name)");
  }
}

void walkTyped(Walker& w, const Message& m) {
  if (m.isRequest()) {
    const auto& ruri = cached(
        w, [&]() -> const auto& { return m.requestUri(); }, "requestUri");
    if (ruri) w.uri(*ruri, "requestUri");
  }
  if (const auto& v = cached(
          w, [&]() -> const auto& { return m.topVia(); }, "topVia");
      v) {
    w.via(*v);
  }
  if (const auto& vs = cached(
          w, [&]() -> const auto& { return m.vias(); }, "vias");
      vs) {
    for (const auto& v : *vs)
      w.via(v);
  }
  if (const auto& f = cached(
          w, [&]() -> const auto& { return m.from(); }, "from");
      f) {
    w.nameAddr(*f, "From");
  }
  if (const auto& t = cached(
          w, [&]() -> const auto& { return m.to(); }, "to");
      t) {
    w.nameAddr(*t, "To");
  }
  if (const auto& c = cached(
          w, [&]() -> const auto& { return m.callId(); }, "callId");
      c) {
    w.view(*c, "Call-ID");
  }
  if (const auto& c = cached(
          w, [&]() -> const auto& { return m.cseq(); }, "cseq");
      c) {
    w.number(c->number);
    w.number(static_cast<uint64_t>(c->method));
    w.view(c->methodText, "CSeq method");
  }
  if (const auto& n = cached(
          w, [&]() -> const auto& { return m.maxForwards(); }, "maxForwards");
      n) {
    w.number(*n);
  }
  if (const auto& n = cached(
          w, [&]() -> const auto& { return m.expires(); }, "expires");
      n) {
    w.number(*n);
  }
  if (const auto& n = cached(
          w, [&]() -> const auto& { return m.contentLength(); }, "contentLength");
      n) {
    w.number(*n);
  }
  if (const auto& ct = cached(
          w, [&]() -> const auto& { return m.contentType(); }, "contentType");
      ct) {
    w.view(ct->type, "Content-Type");
    w.view(ct->subtype, "Content-Type");
    w.params(ct->params, "Content-Type params");
  }
  if (const auto& cl = cached(
          w, [&]() -> const auto& { return m.contacts(); }, "contacts");
      cl) {
    w.number(cl->star);
    for (const sip::Contact& c : cl->contacts) {
      w.nameAddr(c.address, "Contact");
      if (c.expires) w.number(*c.expires);
      if (c.qMilli) w.number(*c.qMilli);
      if (c.regId) w.number(*c.regId);
      w.view(c.instance, "Contact instance");
    }
  }
  if (const auto& r = cached(
          w, [&]() -> const auto& { return m.routes(); }, "routes");
      r) {
    for (const auto& a : *r)
      w.nameAddr(a, "Route");
  }
  if (const auto& r = cached(
          w, [&]() -> const auto& { return m.recordRoutes(); }, "recordRoutes");
      r) {
    for (const auto& a : *r)
      w.nameAddr(a, "Record-Route");
  }
  if (const auto& r = cached(
          w, [&]() -> const auto& { return m.paths(); }, "paths");
      r) {
    for (const auto& a : *r)
      w.nameAddr(a, "Path");
  }
  for (HeaderId id : {HeaderId::kAuthorization, HeaderId::kProxyAuthorization}) {
    if (const auto& c = cached(
            w, [&]() -> const auto& { return m.credentials(id); }, "credentials");
        c) {
      for (const auto& one : *c)
        w.credentials(one);
    }
  }
  for (HeaderId id : {HeaderId::kWwwAuthenticate, HeaderId::kProxyAuthenticate}) {
    if (const auto& c = cached(
            w, [&]() -> const auto& { return m.challenges(id); }, "challenges");
        c) {
      for (const auto& one : *c)
        w.challenge(one);
    }
  }
  for (HeaderId id : {HeaderId::kSupported, HeaderId::kRequire, HeaderId::kProxyRequire,
                      HeaderId::kUnsupported}) {
    if (const auto& tags = cached(
            w, [&]() -> const auto& { return m.optionTags(id); }, "optionTags");
        tags) {
      for (std::string_view tag : *tags)
        w.view(tag, "option tag");
    }
  }
}

void sanity(Walker& w, const Message& m, ExerciseResult& result) {
  if (m.isRequest()) {
    auto checked = sip::checkRequest(m);
    result.sane = checked.hasValue();
    if (!checked) {
      result.sanityError = checked.error();
      w.error(checked.error());
    }
    const std::vector<std::string_view> unsupported = sip::unsupportedProxyRequire(m, {});
    for (std::string_view tag : unsupported)
      w.view(tag, "unsupported option tag");
    if (!checked && checked.error().code == sip::ParseErrc::kBadExtension) {
      // With every listed tag supported, Proxy-Require cannot be the objection any more.
      sip::SanityOptions options;
      options.supportedProxyRequire = unsupported;
      auto again = sip::checkRequest(m, options);
      if (!again && again.error().code == sip::ParseErrc::kBadExtension) {
        w.violation("420 even with every Proxy-Require tag supported");
      }
    }
  } else {
    auto checked = sip::checkResponse(m);
    result.sane = checked.hasValue();
    if (!checked) {
      result.sanityError = checked.error();
      w.error(checked.error());
    }
  }
}

void editRound(Walker& w, const Message& m, ExerciseResult& result) {
  sip::MessageEditor editor(m);
  editor.prependVia(kOurVia);
  editor.addRecordRoute(kOurRecordRoute);
  if (m.isRequest()) editor.setRequestUri(kNextHop);
  if (!m.headers().empty()) editor.removeHeader(m.headers()[0]);
  const std::string edited = editor.serialize();
  result.editedSize = edited.size();
  w.owned(edited);
  if (edited.size() != editor.size()) w.violation("MessageEditor::size() != serialize().size()");
  std::string appended = "x";
  editor.serializeTo(appended);
  if (std::string_view(appended).substr(1) != edited) {
    w.violation("serializeTo() differs from serialize()");
  }

  // What the proxy sends must parse again, keep the body, and carry our Via on top. The limits
  // leave room for the lines the round added.
  const std::vector<char> copy(edited.begin(), edited.end());
  sip::ParseLimits roomy;
  roomy.maxMessageBytes = 1u << 20;
  roomy.maxHeaders = 4096;
  roomy.maxLineBytes = 1u << 20;
  Message again;
  auto parsed = again.parse({copy.data(), copy.size()}, sip::Framing::kDatagram, roomy);
  if (!parsed) {
    w.violation("the edited message does not parse: " + std::string(parsed.error().reason));
    return;
  }
  if (again.body() != m.body()) w.violation("editing headers changed the body");
  const auto& top = again.topVia();
  if (!top || top->branch != "z9hG4bK-exercise.1") {
    w.violation("the edited message's top Via is not the one prepended");
  }
  if (m.isRequest() && again.requestUriText() != kNextHop) {
    w.violation("the edited Request-URI is not the one set");
  }
}

void reply(Walker& w, const Message& m, ExerciseResult& result) {
  static constexpr std::string_view kExtra[] = {"Retry-After: 5"};
  sip::ReplyOptions options;
  options.toTag = "exercise-tag";
  options.extraHeaders = kExtra;
  options.body = kReplyBody;
  options.contentType = "text/plain";
  options.receivedIp = "192.0.2.9";
  options.receivedPort = 5062;
  std::string out;
  sip::buildReply(m, 400, "Bad Request", options, out);
  result.replySize = out.size();
  w.owned(out);
  w.owned(sip::defaultReasonPhrase(400));
  if (!out.starts_with("SIP/2.0 400 ")) w.violation("the reply does not start with its status");
  if (!result.sane) return;

  // A reply to a request that passed the sanity checks is itself a sane response.
  const std::vector<char> copy(out.begin(), out.end());
  Message response;
  auto parsed = response.parse({copy.data(), copy.size()});
  if (!parsed) {
    w.violation("the reply does not parse: " + std::string(parsed.error().reason));
    return;
  }
  if (!response.isResponse() || response.statusCode() != 400) {
    w.violation("the reply is not a 400 response");
  }
  if (auto sane = sip::checkResponse(response); !sane) {
    w.violation("the reply fails checkResponse: " + std::string(sane.error().reason));
  }
  if (response.body() != kReplyBody) w.violation("the reply lost its body");
  const auto& callId = response.callId();
  if (!callId || *callId != *m.callId()) w.violation("the reply's Call-ID differs");
  const auto& cseq = response.cseq();
  if (!cseq || cseq->number != m.cseq()->number) w.violation("the reply's CSeq differs");
}

}  // namespace

ExerciseResult exercise(Message& message, std::string_view bytes, sip::Framing framing) {
  ExerciseResult result;
  Walker w(bytes, result);
  auto parsed = message.parse(bytes, framing);
  result.parsed = parsed.hasValue();
  if (!parsed) {
    result.parseError = parsed.error();
    w.error(parsed.error());
    if (!message.bytes().empty() || !message.headers().empty()) {
      w.violation("a failed parse left the message non-empty");
    }
    return result;
  }
  result.isRequest = message.isRequest();
  walkStructure(w, message, bytes);
  walkTyped(w, message);
  sanity(w, message, result);
  editRound(w, message, result);
  if (message.isRequest()) reply(w, message, result);
  return result;
}

}  // namespace strowger::conformance
