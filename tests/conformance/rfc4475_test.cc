// RFC 4475 "SIP Torture Test Messages": every one of the 50 bit-exact files, run through the
// pipeline a proxy applies to a UDP datagram (Message::parse, then checkRequest or checkResponse),
// with the outcome the proxy must reach and the fields the RFC talks about.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "corpus.h"
#include "exercise.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/message.h"
#include "strowger/sip/sanity.h"

namespace strowger::conformance {
namespace {

using namespace std::string_view_literals;
using sip::Framing;
using sip::HeaderId;
using sip::HostKind;
using sip::Message;
using sip::Method;
using sip::ParseErrc;
using sip::Transport;
using sip::UriScheme;

enum class Outcome {
  kAccept,             // request: parses and passes checkRequest
  kResponseAccept,     // response: parses and passes checkResponse
  kResponseParseDrop,  // response: the parse fails with `code` (dropped)
  kResponseCheckDrop,  // response: parses, checkResponse fails with `code` (dropped)
  kRejectParse,        // request: the parse fails with `code`, answered with `status`
  kRejectCheck,        // request: parses, checkRequest fails with `code`, answered with `status`
  kRejectAny,          // request: the parse or checkRequest fails, any error
};

// `file` is the whole datagram, byte-exact.
using Check = void (*)(const Message& m, std::string_view file);

struct Case {
  const char* file;
  Outcome outcome;
  uint16_t status = 0;
  ParseErrc code = ParseErrc::kNone;
  Check check = nullptr;
};

// --- §3.1.1 valid messages -------------------------------------------------------------------

void checkWsinv(const Message& m, std::string_view) {
  EXPECT_EQ(m.method(), Method::kInvite);
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->user, "vivekg");
  EXPECT_EQ(ruri->host(), "chair-dnrc.example.com");
  EXPECT_TRUE(ruri->params.has("unknownparam"));

  // "Proxies would forward this header field unchanged."
  const sip::HeaderField* unusual = m.find("UnknownHeaderWithUnusualValue");
  ASSERT_NE(unusual, nullptr);
  EXPECT_EQ(unusual->id, HeaderId::kOther);
  EXPECT_EQ(unusual->value, ";;,,;;,;");

  const auto& maxForwards = m.maxForwards();  // "MaX-fOrWaRdS: 0068"
  STROWGER_ASSERT_OK(maxForwards);
  EXPECT_EQ(*maxForwards, 68u);

  const auto& cseq = m.cseq();  // "cseq: 0009\r\n  INVITE"
  STROWGER_ASSERT_OK(cseq);
  EXPECT_EQ(cseq->number, 9u);
  EXPECT_EQ(cseq->method, Method::kInvite);

  const auto& to = m.to();  // "TO :\r\n sip:... ;   tag    = 1918181833n"
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->uri.user, "vivekg");
  EXPECT_EQ(to->tag, "1918181833n");

  const auto& from = m.from();  // quoted display name with escaped quote, folded params
  STROWGER_ASSERT_OK(from);
  EXPECT_TRUE(from->displayNameQuoted);
  EXPECT_EQ(from->displayName, R"(J Rosenberg \\\")");
  EXPECT_EQ(from->uri.user, "jdrosen");
  EXPECT_EQ(from->tag, "98asjd8");

  const auto& callId = m.callId();
  STROWGER_ASSERT_OK(callId);
  EXPECT_EQ(*callId, "wsinv.ndaksdj@192.0.2.1");

  // Three via-parms on two lines, LWS and line folding all over the protocol part.
  const auto& vias = m.vias();
  STROWGER_ASSERT_OK(vias);
  ASSERT_EQ(vias->size(), 3u);
  EXPECT_EQ((*vias)[0].protocol, "SIP");
  EXPECT_EQ((*vias)[0].version, "2.0");
  EXPECT_EQ((*vias)[0].transportId, Transport::kUdp);
  EXPECT_EQ((*vias)[0].sentBy.host, "192.0.2.2");
  EXPECT_EQ((*vias)[0].branch, "390skdjuw");
  EXPECT_EQ((*vias)[1].transportId, Transport::kTcp);
  EXPECT_EQ((*vias)[1].sentBy.host, "spindle.example.com");
  EXPECT_EQ((*vias)[1].branch, "z9hG4bK9ikj8");
  EXPECT_EQ((*vias)[2].transportId, Transport::kUdp);
  EXPECT_EQ((*vias)[2].sentBy.host, "192.168.255.111");
  EXPECT_EQ((*vias)[2].branch, "z9hG4bK30239");
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->branch, "390skdjuw");

  const sip::HeaderField* subject = m.find(HeaderId::kSubject);  // "s :" with an empty value
  ASSERT_NE(subject, nullptr);
  EXPECT_TRUE(subject->value.empty());

  const sip::HeaderField* folded = m.find("NewFangledHeader");
  ASSERT_NE(folded, nullptr);
  EXPECT_TRUE(folded->value.starts_with("newfangled value")) << folded->value;
  EXPECT_TRUE(folded->value.ends_with("continued newfangled value")) << folded->value;

  const auto& routes = m.routes();
  STROWGER_ASSERT_OK(routes);
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].uri.host(), "services.example.com");
  EXPECT_TRUE((*routes)[0].uri.params.has("lr"));
  EXPECT_EQ((*routes)[0].uri.params.get("unknownwith"), "value");
  EXPECT_TRUE((*routes)[0].uri.params.has("unknown-no-value"));

  const auto& contacts = m.contacts();  // "m:" with a quoted display name and folded params
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  const sip::Contact& contact = contacts->contacts[0];
  EXPECT_EQ(contact.address.displayName, R"(Quoted string \"\")");
  EXPECT_EQ(contact.address.uri.user, "jdrosen");
  EXPECT_EQ(contact.address.params.get("newparam"), "newvalue");
  EXPECT_TRUE(contact.address.params.has("secondparam"));
  EXPECT_EQ(contact.qMilli, std::optional<uint16_t>(330));

  const auto& contentType = m.contentType();
  STROWGER_ASSERT_OK(contentType);
  EXPECT_EQ(contentType->type, "application");
  EXPECT_EQ(contentType->subtype, "sdp");
  const auto& contentLength = m.contentLength();  // "Content-Length   : 150"
  STROWGER_ASSERT_OK(contentLength);
  EXPECT_EQ(*contentLength, 150u);
  EXPECT_EQ(m.body().size(), 150u);
  EXPECT_TRUE(m.body().starts_with("v=0\r\n"));
}

void checkIntmeth(const Message& m, std::string_view) {
  constexpr std::string_view kMethod = "!interesting-Method0123456789_*+`.%indeed'~";
  EXPECT_EQ(m.method(), Method::kUnknown);
  EXPECT_EQ(m.methodText(), kMethod);
  const auto& cseq = m.cseq();
  STROWGER_ASSERT_OK(cseq);
  EXPECT_EQ(cseq->number, 139122385u);
  EXPECT_EQ(cseq->methodText, kMethod);

  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->scheme, UriScheme::kSip);
  EXPECT_EQ(ruri->user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  EXPECT_EQ(ruri->password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  EXPECT_EQ(ruri->host(), "example.com");
  EXPECT_TRUE(ruri->headers.empty());

  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->transportId, Transport::kTcp);
  EXPECT_EQ(top->branch, "z9hG4bK-.!%66*_+`'~");

  const auto& to = m.to();  // quoted-pairs escaping BEL, NUL and DEL
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->displayName, "BEL:\\\x07 NUL:\\\0 DEL:\\\x7f"sv);
  EXPECT_EQ(to->uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");

  const auto& from = m.from();  // unquoted multi-token display name
  STROWGER_ASSERT_OK(from);
  EXPECT_FALSE(from->displayNameQuoted);
  EXPECT_EQ(from->displayName, "token1~` token2'+_ token3*%!.-");
  EXPECT_EQ(from->uri.user, "mundane");
  EXPECT_EQ(from->tag, "_token~1'+`*%!-.");
  EXPECT_TRUE(from->params.has("fromParam''~+*_!.-%"));

  const auto& callId = m.callId();
  STROWGER_ASSERT_OK(callId);
  EXPECT_EQ(*callId, R"(intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{)");

  const auto& maxForwards = m.maxForwards();
  STROWGER_ASSERT_OK(maxForwards);
  EXPECT_EQ(*maxForwards, 255u);

  const sip::HeaderField* extension = m.find("extensionHeader-!.%*+_`'~");
  ASSERT_NE(extension, nullptr);
  EXPECT_EQ(extension->value, "\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb");
}

void checkEsc01(const Message& m, std::string_view) {
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->user, "sips%3Auser%40example.com");
  EXPECT_EQ(ruri->unescapedUser(), "sips:user@example.com");
  EXPECT_EQ(ruri->host(), "example.net");

  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->uri.unescapedUser(), "user");
  const auto& from = m.from();
  STROWGER_ASSERT_OK(from);
  EXPECT_EQ(from->uri.unescapedUser(), "I have spaces");
  EXPECT_EQ(from->tag, "938");

  const auto& callId = m.callId();  // compact "i:"
  STROWGER_ASSERT_OK(callId);
  EXPECT_EQ(*callId, "esc01.239409asdfakjkn23onasd0-3234");

  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  const sip::Uri& contact = contacts->contacts[0].address.uri;
  EXPECT_EQ(contact.user, "cal%6Cer");
  EXPECT_EQ(contact.unescapedUser(), "caller");
  EXPECT_EQ(contact.host(), "host5.example.net");
  // Parameters stay as written; the escaped name and value are not decoded in place.
  EXPECT_EQ(contact.params.raw(), "%6C%72;n%61me=v%61lue%25%34%31");

  const auto& contentType = m.contentType();  // compact "C:"
  STROWGER_ASSERT_OK(contentType);
  EXPECT_EQ(contentType->subtype, "sdp");
  EXPECT_EQ(m.body().size(), 150u);
}

void checkEscnull(const Message& m, std::string_view) {
  EXPECT_EQ(m.method(), Method::kRegister);
  constexpr std::string_view kAor = "null-\0-null"sv;
  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->uri.user, "null-%00-null");
  EXPECT_EQ(to->uri.unescapedUser(), kAor);  // not truncated at the NUL
  EXPECT_EQ(to->uri.unescapedUser().size(), 11u);
  const auto& from = m.from();
  STROWGER_ASSERT_OK(from);
  EXPECT_EQ(from->uri.unescapedUser(), kAor);

  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 2u);
  const std::string first = contacts->contacts[0].address.uri.unescapedUser();
  const std::string second = contacts->contacts[1].address.uri.unescapedUser();
  EXPECT_EQ(first, "\0"sv);
  EXPECT_EQ(second, "\0\0"sv);
  EXPECT_NE(first, second);  // two distinct contacts
}

void checkEsc02(const Message& m, std::string_view) {
  // Not REGISTER: the method token is matched as written, escapes and all.
  EXPECT_EQ(m.method(), Method::kUnknown);
  EXPECT_EQ(m.methodText(), "RE%47IST%45R");
  const auto& cseq = m.cseq();
  STROWGER_ASSERT_OK(cseq);
  EXPECT_EQ(cseq->method, Method::kUnknown);
  EXPECT_EQ(cseq->methodText, "RE%47IST%45R");

  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->displayName, "%Z%45");
  const auto& from = m.from();
  STROWGER_ASSERT_OK(from);
  EXPECT_EQ(from->displayName, "%Z%45");

  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->branch, "z9hG4bK209%fzsnel234");

  // "C%6Fntact" is an unknown header: two Contacts, not three.
  EXPECT_EQ(m.count(HeaderId::kContact), 2u);
  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 2u);
  EXPECT_EQ(contacts->contacts[0].address.uri.host(), "host1.example.com");
  EXPECT_EQ(contacts->contacts[1].address.uri.host(), "host3.example.com");
  const sip::HeaderField* other = m.find("C%6Fntact");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->id, HeaderId::kOther);
  EXPECT_EQ(other->value, "<sip:alias2@host2.example.com>");
}

void checkLwsdisp(const Message& m, std::string_view) {
  const auto& from = m.from();  // "caller<sip:caller@example.com>" without LWS before '<'
  STROWGER_ASSERT_OK(from);
  EXPECT_EQ(from->displayName, "caller");
  EXPECT_TRUE(from->bracketed);
  EXPECT_EQ(from->uri.user, "caller");
  EXPECT_EQ(from->tag, "323");
}

void checkLongreq(const Message& m, std::string_view file) {
  EXPECT_EQ(file.size(), 3515u);
  const std::string longs20 = repeat("long", 20);

  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->displayName, "I have a user name of " + repeat("extreme", 10) + " proportion");
  EXPECT_EQ(to->uri.port(), 6000);
  EXPECT_EQ(to->uri.params.get("unknownparam1"), "very" + longs20 + "value");
  EXPECT_EQ(to->uri.params.get("longparam" + repeat("name", 25)), "shortvalue");
  const auto valueless =
      to->uri.params.find("very" + repeat("long", 25) + "ParameterNameWithNoValue");
  ASSERT_TRUE(valueless.has_value());
  EXPECT_FALSE(valueless->hasValue);

  const auto& from = m.from();  // "F:" addr-spec: the params are header params
  STROWGER_ASSERT_OK(from);
  EXPECT_EQ(from->uri.user, repeat("amazinglylongcallername", 5));
  EXPECT_EQ(from->tag, "1" + repeat("298", 50) + "2424");
  EXPECT_EQ(from->params.get("unknownheaderparam" + repeat("name", 20)),
            "unknowheaderparam" + repeat("value", 15));
  EXPECT_TRUE(from->params.has("unknownValueless" + repeat("paramname", 10)));
  EXPECT_TRUE(from->uri.params.empty());

  const auto& callId = m.callId();
  STROWGER_ASSERT_OK(callId);
  EXPECT_EQ(*callId, "longreq.one" + repeat("really", 20) + "longcallid");

  const sip::HeaderField* unknown = m.find("Unknown-" + repeat("Long", 20) + "-Name");
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ(unknown->value, "unknown-" + longs20 + "-value; unknown-" + longs20 +
                                "-parameter-name = unknown-" + longs20 + "-parameter-value");

  // 34 Via values, every spelling of Via / v.
  EXPECT_EQ(m.count(HeaderId::kVia), 34u);
  const auto& vias = m.vias();
  STROWGER_ASSERT_OK(vias);
  ASSERT_EQ(vias->size(), 34u);
  for (std::size_t i = 0; i < 33; ++i) {
    EXPECT_EQ((*vias)[i].sentBy.host, "sip" + std::to_string(33 - i) + ".example.com");
    EXPECT_EQ((*vias)[i].transportId, Transport::kTcp);
  }
  const sip::Via& last = vias->back();
  EXPECT_EQ(last.sentBy.host, "host.example.com");
  EXPECT_EQ(last.received, "192.0.2.5");
  EXPECT_EQ(last.branch, "very" + repeat("long", 50) + "branchvalue");

  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  EXPECT_EQ(contacts->contacts[0].address.uri.user, repeat("amazinglylongcallername", 5));
  EXPECT_EQ(m.body().size(), 150u);
}

void checkDblreq(const Message& m, std::string_view file) {
  EXPECT_EQ(m.method(), Method::kRegister);
  // The INVITE octets after the REGISTER's empty body are noise, not part of the message.
  EXPECT_GT(m.trailingBytes(), 0u);
  EXPECT_TRUE(m.bytes().ends_with("Content-Length: 0\r\n\r\n"));
  EXPECT_EQ(m.bytes().size() + m.trailingBytes(), file.size());
  EXPECT_EQ(m.bytes().find("INVITE"), std::string_view::npos);
  EXPECT_TRUE(m.body().empty());
  const auto& callId = m.callId();  // compact "I:"
  STROWGER_ASSERT_OK(callId);
  EXPECT_EQ(*callId, "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
  EXPECT_EQ(m.count(HeaderId::kVia), 1u);
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->sentBy.host, "192.0.2.125");
}

void checkSemiuri(const Message& m, std::string_view) {
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->user, "user;par=u%40example.net");
  EXPECT_EQ(ruri->unescapedUser(), "user;par=u@example.net");
  EXPECT_EQ(ruri->host(), "example.com");
  EXPECT_FALSE(ruri->params.has("par"));
  EXPECT_TRUE(ruri->params.empty());
}

void checkTransports(const Message& m, std::string_view) {
  const auto& vias = m.vias();
  STROWGER_ASSERT_OK(vias);
  ASSERT_EQ(vias->size(), 5u);
  const Transport ids[] = {Transport::kUdp, Transport::kSctp, Transport::kTls, Transport::kOther,
                           Transport::kTcp};
  const std::string_view texts[] = {"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*vias)[i].transportId, ids[i]) << i;
    EXPECT_EQ((*vias)[i].transport, texts[i]) << i;
    EXPECT_EQ((*vias)[i].sentBy.host, "t" + std::to_string(i + 1) + ".example.com");
  }
}

void checkMpart01(const Message& m, std::string_view) {
  EXPECT_EQ(m.method(), Method::kMessage);
  const auto& contentLength = m.contentLength();
  STROWGER_ASSERT_OK(contentLength);
  EXPECT_EQ(*contentLength, 553u);
  EXPECT_EQ(m.body().size(), *contentLength);
  EXPECT_NE(m.body().find('\0'), std::string_view::npos);
  EXPECT_TRUE(m.body().ends_with("--7a9cbec02ceef655--\r\n"));
  const auto& contentType = m.contentType();
  STROWGER_ASSERT_OK(contentType);
  EXPECT_EQ(contentType->type, "multipart");
  EXPECT_EQ(contentType->subtype, "mixed");
  EXPECT_EQ(contentType->params.get("boundary"), "7a9cbec02ceef655");
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_TRUE(top->hasRport);
  EXPECT_FALSE(top->rport.has_value());
  EXPECT_EQ(top->sentBy.port, 5070);
}

void checkInvut(const Message& m, std::string_view) {
  const auto& contentType = m.contentType();
  STROWGER_ASSERT_OK(contentType);
  EXPECT_EQ(contentType->type, "application");
  EXPECT_EQ(contentType->subtype, "unknownformat");
  EXPECT_EQ(m.body().size(), 40u);
}

void checkRegaut01(const Message& m, std::string_view) {
  const auto& credentials = m.credentials(HeaderId::kAuthorization);
  STROWGER_ASSERT_OK(credentials);
  ASSERT_EQ(credentials->size(), 1u);
  EXPECT_EQ((*credentials)[0].scheme, "NoOneKnowsThisScheme");
  // Forwarded unmodified: the header value is intact.
  const sip::HeaderField* header = m.find(HeaderId::kAuthorization);
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(header->value, "NoOneKnowsThisScheme opaque-data=here");
}

void checkCparam01(const Message& m, std::string_view) {
  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  const sip::NameAddr& address = contacts->contacts[0].address;
  EXPECT_FALSE(address.bracketed);
  EXPECT_EQ(address.uri.user, "+19725552222");
  EXPECT_EQ(address.uri.host(), "gw1.example.net");
  // Without <>, ";unknownparam" is a contact parameter, not a URI parameter.
  EXPECT_TRUE(address.params.has("unknownparam"));
  EXPECT_FALSE(address.uri.params.has("unknownparam"));
}

void checkCparam02(const Message& m, std::string_view) {
  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  const sip::NameAddr& address = contacts->contacts[0].address;
  EXPECT_TRUE(address.bracketed);
  EXPECT_TRUE(address.uri.params.has("unknownparam"));
  EXPECT_FALSE(address.params.has("unknownparam"));
}

void checkRegescrt(const Message& m, std::string_view) {
  const auto& contacts = m.contacts();  // compact "M:"
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  const sip::Uri& uri = contacts->contacts[0].address.uri;
  EXPECT_EQ(uri.host(), "example.com");
  EXPECT_EQ(uri.headers, "Route=%3Csip:sip.example.com%3E");
  EXPECT_FALSE(m.has(HeaderId::kRoute));  // never turned into a real Route
}

void checkSdp01(const Message& m, std::string_view) {
  const sip::HeaderField* accept = m.find(HeaderId::kAccept);
  ASSERT_NE(accept, nullptr);
  EXPECT_EQ(accept->value, "text/nobodyKnowsThis");
  EXPECT_EQ(m.body().size(), 150u);
}

void checkInv2543(const Message& m, std::string_view file) {
  EXPECT_EQ(m.method(), Method::kInvite);
  // No Content-Length: the body runs to the end of the datagram.
  EXPECT_FALSE(m.hasContentLength());
  const std::size_t headerEnd = file.find("\r\n\r\n");
  ASSERT_NE(headerEnd, std::string_view::npos);
  EXPECT_EQ(m.body(), file.substr(headerEnd + 4));
  EXPECT_EQ(m.body().size(), 105u);
  EXPECT_EQ(m.trailingBytes(), 0u);
  // No Max-Forwards, no branch, no From tag.
  EXPECT_TRUE(isError(m.maxForwards(), ParseErrc::kMissingHeader));
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_TRUE(top->branch.empty());
  EXPECT_FALSE(top->hasRfc3261Branch());
  const auto& from = m.from();
  STROWGER_ASSERT_OK(from);
  EXPECT_TRUE(from->tag.empty());
  EXPECT_EQ(from->uri.params.get("user"), "phone");
  const auto& recordRoutes = m.recordRoutes();
  STROWGER_ASSERT_OK(recordRoutes);
  ASSERT_EQ(recordRoutes->size(), 1u);
  EXPECT_EQ((*recordRoutes)[0].uri.params.get("maddr"), "ss1.example.com");
}

void checkUnksm2(const Message& m, std::string_view) {
  EXPECT_EQ(m.method(), Method::kRegister);
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->scheme, UriScheme::kSip);
  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->uri.scheme, UriScheme::kOther);
  EXPECT_EQ(to->uri.schemeText, "isbn");
  const auto& from = m.from();
  STROWGER_ASSERT_OK(from);
  EXPECT_EQ(from->uri.scheme, UriScheme::kOther);
  EXPECT_EQ(from->uri.schemeText, "http");
  EXPECT_EQ(from->tag, "3234233");
}

void checkZeromf(const Message& m, std::string_view) {
  const auto& maxForwards = m.maxForwards();
  STROWGER_ASSERT_OK(maxForwards);
  EXPECT_EQ(*maxForwards, 0u);
}

void checkBadbranch(const Message& m, std::string_view) {
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->branch, "z9hG4bK");
}

void checkBaddate(const Message& m, std::string_view) {
  const sip::HeaderField* date = m.find(HeaderId::kDate);
  ASSERT_NE(date, nullptr);
  EXPECT_EQ(date->value, "Fri, 01 Jan 2010 16:00:00 EST");
  EXPECT_EQ(m.body().size(), 150u);
}

void checkBadaspec(const Message& m, std::string_view) {
  // Liberal: the spaces inside <> are ignored.
  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->displayName, "Watson, Thomas");
  EXPECT_EQ(to->uri.user, "t.watson");
  EXPECT_EQ(to->uri.host(), "example.org");
  const auto& from = m.from();
  STROWGER_ASSERT_OK(from);
  EXPECT_EQ(from->displayName, "Bell, Alexander");
}

void checkRegbadct(const Message& m, std::string_view) {
  // A proxy does not need the Contact, but the Contact itself is unusable.
  EXPECT_FALSE(m.contacts().hasValue());
}

// --- responses -------------------------------------------------------------------------------

void checkUnreason(const Message& m, std::string_view) {
  EXPECT_EQ(m.statusCode(), 200);
  EXPECT_EQ(m.reasonPhrase(),
            "= 2**3 * 5**2 \xd0\xbd\xd0\xbe \xd1\x81\xd1\x82\xd0\xbe \xd0\xb4\xd0\xb5\xd0\xb2\xd1"
            "\x8f\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe \xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd1\x82"
            "\xd1\x8c - \xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xb5");
  EXPECT_EQ(m.body().size(), 154u);
}

void checkNoreason(const Message& m, std::string_view) {
  EXPECT_EQ(m.statusCode(), 100);
  EXPECT_TRUE(m.reasonPhrase().empty());
}

void checkBcast(const Message& m, std::string_view) {
  EXPECT_EQ(m.statusCode(), 200);
  const auto& vias = m.vias();
  STROWGER_ASSERT_OK(vias);
  ASSERT_EQ(vias->size(), 2u);
  EXPECT_EQ((*vias)[1].sentBy.host, "255.255.255.255");
  EXPECT_EQ((*vias)[1].sentBy.kind, HostKind::kIpv4);
}

void checkScalarlg(const Message& m, std::string_view) {
  EXPECT_EQ(m.statusCode(), 503);
  EXPECT_TRUE(isError(m.cseq(), ParseErrc::kBadCSeq));
}

// --- rejected requests -----------------------------------------------------------------------

void checkBadinv01(const Message& m, std::string_view) {
  EXPECT_TRUE(isError(m.vias(), ParseErrc::kBadVia));
}

void checkScalar02(const Message& m, std::string_view) {
  EXPECT_TRUE(isError(m.cseq(), ParseErrc::kBadCSeq));  // 36893488147419103232 > 2^32-1
}

void checkQuotbal(const Message& m, std::string_view) {
  EXPECT_TRUE(isError(m.to(), ParseErrc::kBadNameAddr));
}

void checkLtgtruri(const Message& m, std::string_view) {
  EXPECT_EQ(m.requestUriText(), "<sip:user@example.com>");
}

void checkBaddn(const Message& m, std::string_view) {
  EXPECT_TRUE(isError(m.from(), ParseErrc::kBadNameAddr));
}

void checkMismatch02(const Message& m, std::string_view) {
  EXPECT_EQ(m.method(), Method::kUnknown);
  EXPECT_EQ(m.methodText(), "NEWMETHOD");
}

void checkInsuf(const Message& m, std::string_view) {
  EXPECT_TRUE(isError(m.callId(), ParseErrc::kMissingHeader));
  EXPECT_TRUE(isError(m.from(), ParseErrc::kMissingHeader));
  EXPECT_TRUE(isError(m.to(), ParseErrc::kMissingHeader));
}

void checkUnkscm(const Message& m, std::string_view) {
  // A parser must accept this as a well-formed SIP request; the scheme is what is refused.
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->scheme, UriScheme::kOther);
  EXPECT_EQ(ruri->schemeText, "nobodyKnowsThisScheme");
  EXPECT_EQ(ruri->opaque, "totallyopaquecontent");
}

void checkNovelsc(const Message& m, std::string_view) {
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->scheme, UriScheme::kOther);
  EXPECT_EQ(ruri->schemeText, "soap.beep");
}

void checkBext01(const Message& m, std::string_view) {
  const std::vector<std::string_view> unsupported = sip::unsupportedProxyRequire(m, {});
  EXPECT_EQ(unsupported,
            (std::vector<std::string_view>{"noProxiesSupportThis", "norDoAnyProxiesSupportThis"}));
  // Require is for the UAS: a proxy that supports both Proxy-Require tags lets it through.
  const std::string_view both[] = {"noProxiesSupportThis", "norDoAnyProxiesSupportThis"};
  sip::SanityOptions options;
  options.supportedProxyRequire = both;
  STROWGER_EXPECT_OK(sip::checkRequest(m, options));
  const auto& require = m.optionTags(HeaderId::kRequire);
  STROWGER_ASSERT_OK(require);
  EXPECT_EQ(*require,
            (std::vector<std::string_view>{"nothingSupportsThis", "nothingSupportsThisEither"}));
}

void checkMulti01(const Message& m, std::string_view) {
  EXPECT_TRUE(isError(m.callId(), ParseErrc::kDuplicateHeader));
  EXPECT_TRUE(isError(m.cseq(), ParseErrc::kDuplicateHeader));
  EXPECT_TRUE(isError(m.from(), ParseErrc::kDuplicateHeader));
  EXPECT_TRUE(isError(m.to(), ParseErrc::kDuplicateHeader));
  EXPECT_TRUE(isError(m.maxForwards(), ParseErrc::kDuplicateHeader));
}

using O = Outcome;
using E = ParseErrc;

const Case kCases[] = {
    // §3.1.1 valid
    {"wsinv.dat", O::kAccept, 0, E::kNone, checkWsinv},
    {"intmeth.dat", O::kAccept, 0, E::kNone, checkIntmeth},
    {"esc01.dat", O::kAccept, 0, E::kNone, checkEsc01},
    {"escnull.dat", O::kAccept, 0, E::kNone, checkEscnull},
    {"esc02.dat", O::kAccept, 0, E::kNone, checkEsc02},
    {"lwsdisp.dat", O::kAccept, 0, E::kNone, checkLwsdisp},
    {"longreq.dat", O::kAccept, 0, E::kNone, checkLongreq},
    {"dblreq.dat", O::kAccept, 0, E::kNone, checkDblreq},
    {"semiuri.dat", O::kAccept, 0, E::kNone, checkSemiuri},
    {"transports.dat", O::kAccept, 0, E::kNone, checkTransports},
    {"mpart01.dat", O::kAccept, 0, E::kNone, checkMpart01},
    {"unreason.dat", O::kResponseAccept, 0, E::kNone, checkUnreason},
    {"noreason.dat", O::kResponseAccept, 0, E::kNone, checkNoreason},
    // §3.1.2 invalid
    {"badinv01.dat", O::kRejectCheck, 400, E::kBadVia, checkBadinv01},
    {"clerr.dat", O::kRejectParse, 400, E::kTruncated},
    {"ncl.dat", O::kRejectParse, 400, E::kBadContentLength},
    {"scalar02.dat", O::kRejectCheck, 400, E::kBadCSeq, checkScalar02},
    {"scalarlg.dat", O::kResponseCheckDrop, 0, E::kBadCSeq, checkScalarlg},
    {"quotbal.dat", O::kRejectCheck, 400, E::kBadNameAddr, checkQuotbal},
    {"ltgtruri.dat", O::kRejectCheck, 400, E::kBadUri, checkLtgtruri},
    {"lwsruri.dat", O::kRejectParse, 400, E::kBadStartLine},
    {"lwsstart.dat", O::kRejectParse, 400, E::kBadStartLine},
    {"trws.dat", O::kRejectParse, 400, E::kBadStartLine},
    {"escruri.dat", O::kRejectCheck, 400, E::kBadUri},
    {"baddate.dat", O::kAccept, 0, E::kNone, checkBaddate},
    {"regbadct.dat", O::kAccept, 0, E::kNone, checkRegbadct},
    {"badaspec.dat", O::kAccept, 0, E::kNone, checkBadaspec},
    {"baddn.dat", O::kRejectCheck, 400, E::kBadNameAddr, checkBaddn},
    {"badvers.dat", O::kRejectParse, 505, E::kBadVersion},
    {"mismatch01.dat", O::kRejectCheck, 400, E::kCSeqMethodMismatch},
    {"mismatch02.dat", O::kRejectCheck, 501, E::kCSeqMethodMismatch, checkMismatch02},
    {"bigcode.dat", O::kResponseParseDrop, 0, E::kBadStatusCode},
    // §3.2 transaction layer
    {"badbranch.dat", O::kAccept, 0, E::kNone, checkBadbranch},
    // §3.3 application layer
    {"insuf.dat", O::kRejectCheck, 400, E::kMissingHeader, checkInsuf},
    {"unkscm.dat", O::kRejectCheck, 416, E::kUnsupportedUriScheme, checkUnkscm},
    {"novelsc.dat", O::kRejectCheck, 416, E::kUnsupportedUriScheme, checkNovelsc},
    {"unksm2.dat", O::kAccept, 0, E::kNone, checkUnksm2},
    {"bext01.dat", O::kRejectCheck, 420, E::kBadExtension, checkBext01},
    {"invut.dat", O::kAccept, 0, E::kNone, checkInvut},
    {"regaut01.dat", O::kAccept, 0, E::kNone, checkRegaut01},
    {"multi01.dat", O::kRejectCheck, 400, E::kDuplicateHeader, checkMulti01},
    {"mcl01.dat", O::kRejectParse, 400, E::kMultipleContentLength},
    {"bcast.dat", O::kResponseAccept, 0, E::kNone, checkBcast},
    {"zeromf.dat", O::kAccept, 0, E::kNone, checkZeromf},
    {"cparam01.dat", O::kAccept, 0, E::kNone, checkCparam01},
    {"cparam02.dat", O::kAccept, 0, E::kNone, checkCparam02},
    {"regescrt.dat", O::kAccept, 0, E::kNone, checkRegescrt},
    {"sdp01.dat", O::kAccept, 0, E::kNone, checkSdp01},
    // §3.4 backward compatibility
    {"inv2543.dat", O::kAccept, 0, E::kNone, checkInv2543},
    // in the RFC's archive, described by no section
    {"test.dat", O::kRejectAny},
};

class Rfc4475Test : public ::testing::TestWithParam<Case> {};

TEST_P(Rfc4475Test, Message) {
  const Case& c = GetParam();
  STROWGER_SHARED_DIR_OR_SKIP(dir, "rfc4475");
  const auto bytes = readFile(dir / c.file);
  ASSERT_TRUE(bytes.has_value()) << "cannot read " << (dir / c.file).string();
  const std::string_view file = view(*bytes);

  Message m;
  const auto parsed = m.parse(file, Framing::kDatagram);
  switch (c.outcome) {
    case Outcome::kAccept: {
      STROWGER_ASSERT_OK(parsed);
      ASSERT_TRUE(m.isRequest());
      EXPECT_TRUE(isOk(sip::checkRequest(m))) << "checkRequest";
      break;
    }
    case Outcome::kResponseAccept: {
      STROWGER_ASSERT_OK(parsed);
      ASSERT_TRUE(m.isResponse());
      EXPECT_TRUE(isOk(sip::checkResponse(m))) << "checkResponse";
      break;
    }
    case Outcome::kResponseParseDrop: {
      EXPECT_TRUE(isError(parsed, c.code));
      return;
    }
    case Outcome::kResponseCheckDrop: {
      STROWGER_ASSERT_OK(parsed);
      ASSERT_TRUE(m.isResponse());
      EXPECT_TRUE(isError(sip::checkResponse(m), c.code)) << "checkResponse";
      break;
    }
    case Outcome::kRejectParse: {
      EXPECT_TRUE(isError(parsed, c.code, c.status));
      return;
    }
    case Outcome::kRejectCheck: {
      STROWGER_ASSERT_OK(parsed);
      ASSERT_TRUE(m.isRequest());
      EXPECT_TRUE(isError(sip::checkRequest(m), c.code, c.status)) << "checkRequest";
      break;
    }
    case Outcome::kRejectAny: {
      if (parsed.hasValue()) {
        ASSERT_TRUE(m.isRequest()) << "parsed as a response";
        EXPECT_FALSE(sip::checkRequest(m).hasValue()) << "accepted by checkRequest";
      }
      break;
    }
  }
  if (c.check != nullptr && parsed.hasValue()) c.check(m, file);
}

// The whole API on every file, with its invariants (views inside the message, editing, replies).
TEST_P(Rfc4475Test, ApiInvariants) {
  const Case& c = GetParam();
  STROWGER_SHARED_DIR_OR_SKIP(dir, "rfc4475");
  const auto bytes = readFile(dir / c.file);
  ASSERT_TRUE(bytes.has_value());
  Message m;
  for (sip::Framing framing : {Framing::kDatagram, Framing::kStream}) {
    const ExerciseResult result = exercise(m, view(*bytes), framing);
    for (const std::string& violation : result.violations) {
      ADD_FAILURE() << (framing == Framing::kDatagram ? "datagram: " : "stream: ") << violation;
    }
  }
}

// Names the file in the ctest test name ("... # GetParam() = wsinv.dat").
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file;
}

std::string paramName(const ::testing::TestParamInfo<Case>& p) {
  return testNameOf(p.param.file);
}

INSTANTIATE_TEST_SUITE_P(Rfc4475, Rfc4475Test, ::testing::ValuesIn(kCases), paramName);

// The table and the directory must name the same 50 files.
TEST(Rfc4475Table, CoversEveryFile) {
  std::set<std::string> table;
  for (const Case& c : kCases) {
    EXPECT_TRUE(table.insert(c.file).second) << c.file << " is in the table twice";
  }
  EXPECT_EQ(table.size(), 50u);
  STROWGER_SHARED_DIR_OR_SKIP(dir, "rfc4475");
  const std::vector<std::string> files = listFiles(dir, ".dat");
  EXPECT_EQ(files.size(), 50u);
  for (const std::string& file : files) {
    EXPECT_TRUE(table.contains(file)) << file << " has no entry in the table";
  }
  for (const std::string& entry : table) {
    EXPECT_TRUE(std::binary_search(files.begin(), files.end(), entry))
        << entry << " is in the table but not in " << dir.string();
  }
}

}  // namespace
}  // namespace strowger::conformance
