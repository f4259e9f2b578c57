// The registrar's rules: RFC 3261 §10.3, RFC 3327 (Path), RFC 5626 (+sip.instance, reg-id).
#include "registrar_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "strowger/location/binding.h"
#include "strowger/sip/message.h"

namespace strowger::registrar {
namespace {

using location::Binding;
using location::BindingChanges;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNow = 1'700'000'000;
constexpr std::string_view kCallId = "reg-1@192.0.2.10";

// A REGISTER for alice@example.com with `headers` (each ending in CRLF) before Content-Length.
std::string registerText(std::string_view headers, uint32_t cseq = 10,
                         std::string_view callId = kCallId,
                         std::string_view to = "<sip:alice@example.com>") {
  std::string s = "REGISTER sip:example.com SIP/2.0\r\n";
  s += "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg\r\n";
  s += "Max-Forwards: 70\r\n";
  s += "From: <sip:alice@example.com>;tag=f1\r\n";
  s += "To: " + std::string(to) + "\r\n";
  s += "Call-ID: " + std::string(callId) + "\r\n";
  s += "CSeq: " + std::to_string(cseq) + " REGISTER\r\n";
  s += headers;
  s += "Content-Length: 0\r\n\r\n";
  return s;
}

Origin testOrigin() {
  Origin o;
  o.protocol = transport::Protocol::kTcp;
  o.source = *net::SocketAddress::parse("198.51.100.7", 40123);
  o.listener = 2;
  o.connection = 77;
  return o;
}

// parseRegister over `text`; the result owns its strings, so `text` may go afterwards.
Expected<ParsedRegister, Rejection> parse(const std::string& text,
                                          const RegistrarSettings& settings = {}) {
  sip::Message m;
  auto r = m.parse(text);
  EXPECT_TRUE(r.hasValue()) << "message does not parse:\n" << text;
  return parseRegister(m, testOrigin(), settings);
}

ParsedRegister parseOk(const std::string& text, const RegistrarSettings& settings = {}) {
  auto r = parse(text, settings);
  if (!r) {
    ADD_FAILURE() << "refused " << r.error().status << " " << r.error().reason << ":\n" << text;
    return {};
  }
  return std::move(r).value();
}

Rejection parseRefused(const std::string& text, const RegistrarSettings& settings = {}) {
  auto r = parse(text, settings);
  if (r) {
    ADD_FAILURE() << "accepted:\n" << text;
    return {};
  }
  return r.error();
}

sip::Uri uri(std::string_view text) {
  auto u = sip::parseUri(text);
  EXPECT_TRUE(u.hasValue()) << text;
  return u ? *u : sip::Uri{};
}

std::string idOf(std::string_view contactUri, std::string_view aor = "alice@example.com") {
  return location::bindingId(std::string(aor), contactKey(uri(contactUri)), "", std::nullopt);
}

// A stored binding as an earlier REGISTER would have left it.
Binding stored(std::string_view contactUri, std::string_view callId = kCallId, uint32_t cseq = 10,
               int64_t expiresAt = kNow + 600, int64_t updatedAt = kNow - 100) {
  Binding b;
  b.id = idOf(contactUri);
  b.aor = "alice@example.com";
  b.contact = std::string(contactUri);
  b.callId = std::string(callId);
  b.cseq = cseq;
  b.expiresAt = expiresAt;
  b.updatedAt = updatedAt;
  return b;
}

std::vector<std::string> ids(const std::vector<Binding>& bindings) {
  std::vector<std::string> out;
  for (const Binding& b : bindings)
    out.push_back(b.id);
  return out;
}

struct Outcome {
  BindingChanges changes;
  Decision decision;
};

Outcome run(const std::string& text, const std::vector<Binding>& current,
            const RegistrarSettings& settings = {}) {
  ParsedRegister p = parseOk(text, settings);
  Outcome r;
  r.changes = decide(p, settings, current, kNow, r.decision);
  return r;
}

// --- the address of record -------------------------------------------------------------------

TEST(RegistrarAor, CanonicalFormDropsPortParamsAndPasswordAndLowersTheHost) {
  EXPECT_EQ(*addressOfRecord(uri("sip:Alice@Example.COM:5070;transport=tcp;user=phone"), true),
            "Alice@example.com");
  EXPECT_EQ(*addressOfRecord(uri("sips:alice:secret@example.com"), true), "alice@example.com");
  EXPECT_EQ(*addressOfRecord(uri("sip:alice@[2001:DB8::1]:5060"), true), "alice@[2001:db8::1]");
}

TEST(RegistrarAor, UserIsUnescapedAndStaysCaseSensitive) {
  EXPECT_EQ(*addressOfRecord(uri("sip:%61lice@example.com"), true), "alice@example.com");
  EXPECT_NE(*addressOfRecord(uri("sip:Alice@example.com"), true),
            *addressOfRecord(uri("sip:alice@example.com"), true));
}

TEST(RegistrarAor, WithoutDomainTheUserAlone) {
  EXPECT_EQ(*addressOfRecord(uri("sip:alice@example.com:5060"), false), "alice");
}

TEST(RegistrarAor, RefusesWhatCannotIndexBindings) {
  EXPECT_EQ(addressOfRecord(uri("tel:+15551234567"), true).error(), AorErrc::kNotSip);
  EXPECT_EQ(addressOfRecord(uri("sip:example.com"), true).error(), AorErrc::kNoUser);
  EXPECT_EQ(addressOfRecord(uri("sip:al%00ice@example.com"), true).error(), AorErrc::kBadUser);
}

TEST(RegistrarAor, RequestUriGivesTheSameFormForLookups) {
  std::string invite =
      "INVITE sip:Alice@EXAMPLE.com;transport=udp SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKinv\r\n"
      "Max-Forwards: 70\r\nFrom: <sip:bob@example.org>;tag=b\r\nTo: <sip:Alice@example.com>\r\n"
      "Call-ID: inv-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  sip::Message m;
  ASSERT_TRUE(m.parse(invite).hasValue());
  EXPECT_EQ(*requestAddressOfRecord(m, true), "Alice@example.com");
  EXPECT_EQ(*requestAddressOfRecord(m, false), "Alice");
  // The REGISTER's To and a later request's Request-URI meet at the same AOR.
  EXPECT_EQ(parseOk(registerText("", 1, kCallId, "<sip:Alice@example.COM:5060>")).aor,
            *requestAddressOfRecord(m, true));
}

TEST(RegistrarAor, ToWithoutUserOrNotSipIs404) {
  for (std::string_view to : {"<sip:example.com>", "<tel:+15551234567>"}) {
    Rejection r = parseRefused(registerText("Contact: <sip:a@192.0.2.10>\r\n", 1, kCallId, to));
    EXPECT_EQ(r.status, 404) << to;
    EXPECT_EQ(r.reason, "Not Found");
  }
}

// --- binding identity ------------------------------------------------------------------------

TEST(RegistrarContactKey, EqualUrisByRfc3261Section19_1_4ShareAKey) {
  const std::string base = contactKey(uri("sip:alice@pc33.example.com:5060;transport=tcp"));
  EXPECT_EQ(contactKey(uri("SIP:alice@PC33.Example.COM:5060;TRANSPORT=TCP")), base);
  EXPECT_EQ(contactKey(uri("sip:%61lice@pc33.example.com:5060;transport=tcp")), base);
  // Parameters other than user, ttl, method, maddr and transport do not count.
  EXPECT_EQ(contactKey(uri("sip:alice@pc33.example.com:5060;transport=tcp;ob;rinstance=1")), base);
}

TEST(RegistrarContactKey, DifferentUrisDiffer) {
  const std::string base = contactKey(uri("sip:alice@pc33.example.com:5060;transport=tcp"));
  EXPECT_NE(contactKey(uri("sip:Alice@pc33.example.com:5060;transport=tcp")), base);  // user case
  EXPECT_NE(contactKey(uri("sips:alice@pc33.example.com:5060;transport=tcp")), base);
  EXPECT_NE(contactKey(uri("sip:alice@pc33.example.com;transport=tcp")), base);  // default port
  EXPECT_NE(contactKey(uri("sip:alice@pc33.example.com:5060")), base);           // transport
  EXPECT_NE(contactKey(uri("sip:alice@pc33.example.com:5060;transport=udp")), base);
  // A reserved character escaped is not the same user as the character itself.
  EXPECT_NE(contactKey(uri("sip:a%3Bb@host")), contactKey(uri("sip:a;b@host")));
  EXPECT_EQ(contactKey(uri("sip:a%3bb@host")), contactKey(uri("sip:a%3Bb@host")));
}

TEST(RegistrarBindingId, SixteenHexDigitsAndStable) {
  std::string id = location::bindingId("alice@example.com", "sip:alice@192.0.2.10", "", {});
  ASSERT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, location::bindingId("alice@example.com", "sip:alice@192.0.2.10", "", {}));
  // Pinned: ids are primary keys in PostgreSQL and must not change between versions.
  EXPECT_EQ(id, "57e26f5c0c8ffda8");
}

TEST(RegistrarBindingId, DependsOnTheAorAndTheIdentity) {
  const std::string a = location::bindingId("alice@example.com", "sip:a@192.0.2.10", "", {});
  EXPECT_NE(location::bindingId("bob@example.com", "sip:a@192.0.2.10", "", {}), a);
  EXPECT_NE(location::bindingId("alice@example.com", "sip:a@192.0.2.11", "", {}), a);
  // With an instance the Contact URI does not count; the reg-id does.
  const std::string i = location::bindingId("alice@example.com", "", "<urn:uuid:1>", 1u);
  EXPECT_EQ(location::bindingId("alice@example.com", "sip:x@192.0.2.99", "<urn:uuid:1>", 1u), i);
  EXPECT_NE(location::bindingId("alice@example.com", "", "<urn:uuid:1>", 2u), i);
  EXPECT_NE(location::bindingId("alice@example.com", "", "<urn:uuid:1>", std::nullopt), i);
  EXPECT_NE(location::bindingId("alice@example.com", "", "<urn:uuid:2>", 1u), i);
}

TEST(RegistrarIdentity, TheSameContactUriSpelledDifferentlyRefreshesItsBinding) {
  Outcome r = run(registerText("Contact: <sip:alice@PC33.example.COM:5060>\r\n", 11),
                  {stored("sip:alice@pc33.example.com:5060")});
  ASSERT_TRUE(r.decision.ok());
  EXPECT_EQ(r.decision.refreshed, 1u);
  EXPECT_EQ(r.decision.added, 0u);
  ASSERT_EQ(r.changes.upsert.size(), 1u);
  EXPECT_EQ(r.changes.upsert[0].id, idOf("sip:alice@pc33.example.com:5060"));
  // The Contact is stored as this REGISTER wrote it.
  EXPECT_EQ(r.changes.upsert[0].contact, "sip:alice@PC33.example.COM:5060");
  EXPECT_THAT(r.changes.remove, IsEmpty());
}

TEST(RegistrarIdentity, InstanceAndRegIdIdentifyTheBindingWhateverTheUri) {
  const std::string first = registerText(
      "Contact: <sip:alice@192.0.2.10:5060>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-"
      "AABBCCDDEEFF>\";reg-id=1\r\n");
  ParsedRegister p = parseOk(first);
  ASSERT_EQ(p.contacts.size(), 1u);
  EXPECT_EQ(p.contacts[0].instance, "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>");
  EXPECT_EQ(p.contacts[0].regId, 1u);
  Decision d;
  BindingChanges c = decide(p, {}, {}, kNow, d);
  ASSERT_EQ(c.upsert.size(), 1u);

  // The phone moved to another address: same instance and reg-id, so the same binding.
  ParsedRegister moved = parseOk(registerText(
      "Contact: <sip:alice@203.0.113.5:5060>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-"
      "AABBCCDDEEFF>\";reg-id=1\r\n",
      11));
  ASSERT_EQ(moved.contacts.size(), 1u);
  EXPECT_EQ(moved.contacts[0].id, p.contacts[0].id);
  BindingChanges c2 = decide(moved, {}, c.upsert, kNow + 10, d);
  EXPECT_EQ(d.refreshed, 1u);
  ASSERT_EQ(c2.upsert.size(), 1u);
  EXPECT_EQ(c2.upsert[0].contact, "sip:alice@203.0.113.5:5060");

  // Another flow of the same instance (RFC 5626 §6) is another binding.
  ParsedRegister flow2 = parseOk(registerText(
      "Contact: <sip:alice@203.0.113.5:5062>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-"
      "AABBCCDDEEFF>\";reg-id=2\r\n",
      12));
  EXPECT_NE(flow2.contacts[0].id, p.contacts[0].id);
}

TEST(RegistrarIdentity, RegIdWithoutInstanceIsIgnored) {
  ParsedRegister p = parseOk(registerText("Contact: <sip:alice@192.0.2.10>;reg-id=3\r\n"));
  ASSERT_EQ(p.contacts.size(), 1u);
  EXPECT_FALSE(p.contacts[0].regId.has_value());
  EXPECT_EQ(p.contacts[0].id, idOf("sip:alice@192.0.2.10"));
}

TEST(RegistrarIdentity, RegIdBesideAnotherAddedContactIs400) {
  Rejection r = parseRefused(
      registerText("Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:1>\";reg-id=1, "
                   "<sip:alice@192.0.2.11>\r\n"));
  EXPECT_EQ(r.status, 400);
  // Beside a removal it is fine: only one binding is added.
  ParsedRegister p = parseOk(
      registerText("Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:1>\";reg-id=1, "
                   "<sip:alice@192.0.2.11>;expires=0\r\n"));
  EXPECT_EQ(p.contacts.size(), 2u);
}

TEST(RegistrarIdentity, TheSameContactTwiceInOneRequestIsOneBindingWithTheLaterValues) {
  ParsedRegister p = parseOk(registerText(
      "Contact: <sip:alice@192.0.2.10>;expires=100\r\nContact: <sip:alice@192.0.2.10>;q=0.2\r\n"
      "Expires: 300\r\n"));
  ASSERT_EQ(p.contacts.size(), 1u);
  EXPECT_EQ(p.contacts[0].expires, 300u);
  EXPECT_EQ(p.contacts[0].qMilli, 200);
}

TEST(RegistrarIdentity, NonSipContactIs400) {
  Rejection r = parseRefused(registerText("Contact: <mailto:alice@example.com>\r\n"));
  EXPECT_EQ(r.status, 400);
}

// --- expiry (RFC 3261 §10.3 step 7) ----------------------------------------------------------

TEST(RegistrarExpires, TheContactParameterWinsOverTheHeader) {
  ParsedRegister p =
      parseOk(registerText("Contact: <sip:alice@192.0.2.10>;expires=120\r\nExpires: 300\r\n"));
  ASSERT_EQ(p.contacts.size(), 1u);
  EXPECT_EQ(p.contacts[0].expires, 120u);
}

TEST(RegistrarExpires, TheHeaderAppliesToContactsWithoutTheParameter) {
  ParsedRegister p = parseOk(registerText(
      "Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.11>;expires=90\r\nExpires: 300\r\n"));
  ASSERT_EQ(p.contacts.size(), 2u);
  EXPECT_EQ(p.contacts[0].expires, 300u);
  EXPECT_EQ(p.contacts[1].expires, 90u);
}

TEST(RegistrarExpires, TheDefaultWhenNeitherSays) {
  RegistrarSettings s;
  s.defaultExpires = 1800;
  ParsedRegister p = parseOk(registerText("Contact: <sip:alice@192.0.2.10>\r\n"), s);
  EXPECT_EQ(p.contacts[0].expires, 1800u);
  // An unusable parameter counts as absent.
  p = parseOk(registerText("Contact: <sip:alice@192.0.2.10>;expires=soon\r\n"), s);
  EXPECT_EQ(p.contacts[0].expires, 1800u);
}

TEST(RegistrarExpires, AboveTheMaximumIsCapped) {
  ParsedRegister p = parseOk(registerText("Contact: <sip:alice@192.0.2.10>;expires=100000\r\n"));
  EXPECT_EQ(p.contacts[0].expires, 7200u);
}

TEST(RegistrarExpires, TooBriefIs423WithMinExpiresAndRefusesTheWholeRequest) {
  Rejection r = parseRefused(registerText(
      "Contact: <sip:alice@192.0.2.10>;expires=600, <sip:alice@192.0.2.11>;expires=30\r\n"));
  EXPECT_EQ(r.status, 423);
  EXPECT_EQ(r.reason, "Interval Too Brief");
  EXPECT_THAT(r.headerLines, ElementsAre("Min-Expires: 60"));
  r = parseRefused(registerText("Contact: <sip:alice@192.0.2.10>\r\nExpires: 1\r\n"));
  EXPECT_EQ(r.status, 423);
}

TEST(RegistrarExpires, NoTooBriefFromAnHourOnTheIntervalIsRaisedInstead) {
  RegistrarSettings s;
  s.minExpires = 7200;
  s.maxExpires = 86400;
  ParsedRegister p = parseOk(registerText("Contact: <sip:alice@192.0.2.10>;expires=3600\r\n"), s);
  EXPECT_EQ(p.contacts[0].expires, 7200u);
  EXPECT_EQ(
      parseRefused(registerText("Contact: <sip:alice@192.0.2.10>;expires=3599\r\n"), s).status,
      423);
}

TEST(RegistrarExpires, MalformedExpiresHeaderIs400) {
  Rejection r = parseRefused(registerText("Contact: <sip:alice@192.0.2.10>\r\nExpires: later\r\n"));
  EXPECT_EQ(r.status, 400);
}

TEST(RegistrarExpires, ZeroRemovesTheBinding) {
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.10>;expires=0\r\n", 11),
                  {stored("sip:alice@192.0.2.10"), stored("sip:alice@192.0.2.11")});
  ASSERT_TRUE(r.decision.ok());
  EXPECT_THAT(r.changes.upsert, IsEmpty());
  EXPECT_THAT(r.changes.remove, ElementsAre(idOf("sip:alice@192.0.2.10")));
  EXPECT_EQ(r.decision.removed, 1u);
}

TEST(RegistrarExpires, ZeroForAnUnknownContactChangesNothing) {
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.99>\r\nExpires: 0\r\n"),
                  {stored("sip:alice@192.0.2.10")});
  ASSERT_TRUE(r.decision.ok());
  EXPECT_TRUE(r.changes.empty());
}

// --- Contact: * (RFC 3261 §10.3 step 6) --------------------------------------------------------

TEST(RegistrarStar, RemovesEveryBindingOfTheAor) {
  ParsedRegister p = parseOk(registerText("Contact: *\r\nExpires: 0\r\n", 11));
  EXPECT_TRUE(p.star);
  EXPECT_FALSE(p.isQuery());
  Outcome r = run(registerText("Contact: *\r\nExpires: 0\r\n", 11),
                  {stored("sip:alice@192.0.2.10"), stored("sip:alice@192.0.2.11", "other-call", 99),
                   stored("sip:alice@192.0.2.12", kCallId, 1, kNow - 5)});
  ASSERT_TRUE(r.decision.ok());
  EXPECT_THAT(r.changes.remove,
              UnorderedElementsAre(idOf("sip:alice@192.0.2.10"), idOf("sip:alice@192.0.2.11"),
                                   idOf("sip:alice@192.0.2.12")));
  EXPECT_EQ(r.decision.removed, 2u);
  EXPECT_EQ(r.decision.expired, 1u);
}

TEST(RegistrarStar, NeedsExpiresZero) {
  EXPECT_EQ(parseRefused(registerText("Contact: *\r\n")).status, 400);
  EXPECT_EQ(parseRefused(registerText("Contact: *\r\nExpires: 10\r\n")).status, 400);
}

TEST(RegistrarStar, MustStandAlone) {
  EXPECT_EQ(parseRefused(registerText("Contact: *\r\nContact: <sip:a@192.0.2.1>\r\nExpires: 0\r\n"))
                .status,
            400);
  EXPECT_EQ(parseRefused(registerText("Contact: <sip:a@192.0.2.1>\r\nContact: *\r\nExpires: 0\r\n"))
                .status,
            400);
}

TEST(RegistrarStar, AnOlderCSeqOfTheSameCallIdFailsAndRemovesNothing) {
  Outcome r = run(registerText("Contact: *\r\nExpires: 0\r\n", 9),
                  {stored("sip:alice@192.0.2.10", "other-call", 100),
                   stored("sip:alice@192.0.2.11", kCallId, 10)});
  EXPECT_EQ(r.decision.status, 500);
  EXPECT_EQ(r.decision.reason, "Out of Order");
  EXPECT_TRUE(r.changes.empty());
}

TEST(RegistrarStar, AnEqualCSeqIsARetransmissionAndRemoves) {
  Outcome r = run(registerText("Contact: *\r\nExpires: 0\r\n", 10),
                  {stored("sip:alice@192.0.2.11", kCallId, 10)});
  ASSERT_TRUE(r.decision.ok());
  EXPECT_THAT(r.changes.remove, ElementsAre(idOf("sip:alice@192.0.2.11")));
}

// --- queries ---------------------------------------------------------------------------------

TEST(RegistrarQuery, NoContactChangesNothingAndListsTheBindings) {
  ParsedRegister p = parseOk(registerText(""));
  EXPECT_TRUE(p.isQuery());
  std::vector<Binding> current = {stored("sip:alice@192.0.2.10"),
                                  stored("sip:alice@192.0.2.11", kCallId, 10, kNow)};
  Decision d;
  EXPECT_TRUE(decide(p, {}, current, kNow, d).empty());
  EXPECT_TRUE(d.ok());
  std::vector<std::string> lines = okHeaderLines(p, current, kNow);
  ASSERT_EQ(lines.size(), 2u);  // the expired one is not listed
  EXPECT_EQ(lines[0], "Contact: <sip:alice@192.0.2.10>;expires=600");
  EXPECT_EQ(lines[1].rfind("Date: ", 0), 0u);
}

// --- Call-ID and CSeq ordering (RFC 3261 §10.3 step 7) ---------------------------------------

TEST(RegistrarOrdering, SameCallIdLowerCSeqIs500AndNothingChanges) {
  // The first Contact alone would be fine; the request fails as a whole.
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.99>, <sip:alice@192.0.2.10>\r\n", 9),
                  {stored("sip:alice@192.0.2.10", kCallId, 10)});
  EXPECT_EQ(r.decision.status, 500);
  EXPECT_EQ(r.decision.reason, "Out of Order");
  EXPECT_TRUE(r.changes.empty());
  // Removals are ordered too.
  r = run(registerText("Contact: <sip:alice@192.0.2.10>;expires=0\r\n", 9),
          {stored("sip:alice@192.0.2.10", kCallId, 10)});
  EXPECT_EQ(r.decision.status, 500);
  EXPECT_TRUE(r.changes.empty());
}

TEST(RegistrarOrdering, SameCallIdEqualCSeqIsARetransmissionAndSucceeds) {
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.10>\r\n", 10),
                  {stored("sip:alice@192.0.2.10", kCallId, 10)});
  ASSERT_TRUE(r.decision.ok());
  ASSERT_EQ(r.changes.upsert.size(), 1u);
  EXPECT_EQ(r.changes.upsert[0].cseq, 10u);
}

TEST(RegistrarOrdering, SameCallIdHigherCSeqUpdates) {
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.10>;expires=300\r\n", 11),
                  {stored("sip:alice@192.0.2.10", kCallId, 10)});
  ASSERT_TRUE(r.decision.ok());
  ASSERT_EQ(r.changes.upsert.size(), 1u);
  EXPECT_EQ(r.changes.upsert[0].cseq, 11u);
  EXPECT_EQ(r.changes.upsert[0].expiresAt, kNow + 300);
}

TEST(RegistrarOrdering, ADifferentCallIdReplacesWhateverTheCSeq) {
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.10>\r\n", 1, "rebooted@192.0.2.10"),
                  {stored("sip:alice@192.0.2.10", kCallId, 5000)});
  ASSERT_TRUE(r.decision.ok());
  ASSERT_EQ(r.changes.upsert.size(), 1u);
  EXPECT_EQ(r.changes.upsert[0].callId, "rebooted@192.0.2.10");
  EXPECT_EQ(r.changes.upsert[0].cseq, 1u);
  EXPECT_EQ(r.decision.refreshed, 1u);
}

TEST(RegistrarOrdering, AnExpiredBindingOrdersNothing) {
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.10>\r\n", 3),
                  {stored("sip:alice@192.0.2.10", kCallId, 10, kNow)});
  ASSERT_TRUE(r.decision.ok());
  EXPECT_EQ(r.decision.added, 1u);
  EXPECT_EQ(r.changes.upsert.size(), 1u);
  // Replaced by the upsert, so not also removed.
  EXPECT_THAT(r.changes.remove, IsEmpty());
}

// --- what a binding holds --------------------------------------------------------------------

TEST(RegistrarBinding, StoresEverythingTheRequestAndOriginSay) {
  RegistrarSettings s;
  s.node = "node-a";
  std::string text = registerText(
      "Contact: \"Alice\" <sip:alice@192.0.2.10:5062;transport=tcp>;q=0.5;expires=900;"
      "+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";reg-id=2\r\n"
      "User-Agent: Phone/1.0 (test)\r\n",
      42);
  ParsedRegister p = parseOk(text, s);
  p.natted = true;
  Decision d;
  BindingChanges c = decide(p, s, {}, kNow, d);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.added, 1u);
  ASSERT_EQ(c.upsert.size(), 1u);
  const Binding& b = c.upsert[0];
  EXPECT_EQ(b.id, p.contacts[0].id);
  EXPECT_EQ(b.aor, "alice@example.com");
  EXPECT_EQ(b.contact, "sip:alice@192.0.2.10:5062;transport=tcp");
  EXPECT_EQ(b.path, "");
  EXPECT_EQ(b.callId, kCallId);
  EXPECT_EQ(b.cseq, 42u);
  EXPECT_EQ(b.qMilli, 500);
  EXPECT_EQ(b.instance, "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>");
  EXPECT_EQ(b.regId, 2u);
  EXPECT_EQ(b.userAgent, "Phone/1.0 (test)");
  EXPECT_EQ(b.protocol, transport::Protocol::kTcp);
  EXPECT_EQ(b.source, testOrigin().source);
  EXPECT_EQ(b.listener, 2u);
  EXPECT_EQ(b.connection, 77u);
  EXPECT_EQ(b.node, "node-a");
  EXPECT_EQ(b.expiresAt, kNow + 900);
  EXPECT_EQ(b.updatedAt, kNow);
  EXPECT_TRUE(b.natted);
}

TEST(RegistrarBinding, QDefaultsTo1000) {
  ParsedRegister p = parseOk(registerText("Contact: <sip:alice@192.0.2.10>\r\n"));
  EXPECT_EQ(p.contacts[0].qMilli, 1000);
}

TEST(RegistrarBinding, ALongUserAgentIsCutAtACharacterBoundary) {
  std::string ua(255, 'x');
  ua += "\xC3\xA9tail";  // "é" straddles byte 256
  ParsedRegister p =
      parseOk(registerText("Contact: <sip:alice@192.0.2.10>\r\nUser-Agent: " + ua + "\r\n"));
  EXPECT_EQ(p.userAgent, std::string(255, 'x'));
}

TEST(RegistrarBinding, BindingsExpiredAtNowAreSweptWithTheChange) {
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.10>\r\n", 11),
                  {stored("sip:alice@192.0.2.10"), stored("sip:alice@192.0.2.20", "x", 1, kNow),
                   stored("sip:alice@192.0.2.21", "x", 1, kNow + 1)});
  ASSERT_TRUE(r.decision.ok());
  EXPECT_THAT(r.changes.remove, ElementsAre(idOf("sip:alice@192.0.2.20")));
  EXPECT_EQ(r.decision.expired, 1u);
}

// --- max contacts per AOR --------------------------------------------------------------------

RegistrarSettings limited(uint32_t max, RegistrarSettings::OnMaxContacts on) {
  RegistrarSettings s;
  s.maxContacts = max;
  s.onMaxContacts = on;
  return s;
}

TEST(RegistrarMaxContacts, ANewBindingBeyondTheLimitIs403) {
  RegistrarSettings s = limited(2, RegistrarSettings::OnMaxContacts::kReject);
  std::vector<Binding> current = {stored("sip:alice@192.0.2.10"), stored("sip:alice@192.0.2.11")};
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.12>\r\n", 11), current, s);
  EXPECT_EQ(r.decision.status, 403);
  EXPECT_EQ(r.decision.reason, "Too Many Registered Contacts");
  EXPECT_TRUE(r.changes.empty());
  // Making room in the same request is fine.
  r = run(registerText("Contact: <sip:alice@192.0.2.12>, <sip:alice@192.0.2.10>;expires=0\r\n", 11),
          current, s);
  ASSERT_TRUE(r.decision.ok());
  EXPECT_EQ(r.changes.upsert.size(), 1u);
  EXPECT_THAT(r.changes.remove, ElementsAre(idOf("sip:alice@192.0.2.10")));
  // Expired bindings do not count.
  current[1].expiresAt = kNow;
  r = run(registerText("Contact: <sip:alice@192.0.2.12>\r\n", 11), current, s);
  EXPECT_TRUE(r.decision.ok());
}

TEST(RegistrarMaxContacts, RefreshesPassEvenOverALoweredLimit) {
  RegistrarSettings s = limited(1, RegistrarSettings::OnMaxContacts::kReject);
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.10>\r\n", 11),
                  {stored("sip:alice@192.0.2.10"), stored("sip:alice@192.0.2.11")}, s);
  ASSERT_TRUE(r.decision.ok());
  EXPECT_EQ(r.decision.refreshed, 1u);
}

TEST(RegistrarMaxContacts, DropOldestRemovesTheLeastRecentlyUpdated) {
  RegistrarSettings s = limited(2, RegistrarSettings::OnMaxContacts::kDropOldest);
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.12>\r\n", 11),
                  {stored("sip:alice@192.0.2.10", kCallId, 10, kNow + 600, kNow - 50),
                   stored("sip:alice@192.0.2.11", kCallId, 10, kNow + 600, kNow - 500)},
                  s);
  ASSERT_TRUE(r.decision.ok());
  EXPECT_EQ(r.decision.dropped, 1u);
  EXPECT_EQ(r.decision.added, 1u);
  EXPECT_THAT(ids(r.changes.upsert), ElementsAre(idOf("sip:alice@192.0.2.12")));
  EXPECT_THAT(r.changes.remove, ElementsAre(idOf("sip:alice@192.0.2.11")));
}

TEST(RegistrarMaxContacts, DropOldestNeverDropsWhatTheRequestRegisters) {
  RegistrarSettings s = limited(1, RegistrarSettings::OnMaxContacts::kDropOldest);
  Outcome r = run(registerText("Contact: <sip:alice@192.0.2.12>, <sip:alice@192.0.2.13>\r\n", 11),
                  {stored("sip:alice@192.0.2.10")}, s);
  EXPECT_EQ(r.decision.status, 403);
  EXPECT_TRUE(r.changes.empty());
}

// --- Path (RFC 3327) -------------------------------------------------------------------------

TEST(RegistrarPath, StoredInOrderAndEchoedWhenTheUaSupportsIt) {
  std::string text = registerText(
      "Supported: path, outbound\r\n"
      "Path: <sip:edge1.example.net;lr>\r\n"
      "Path: <sip:edge2.example.net;lr>, <sip:edge3.example.net;lr;ob>\r\n"
      "Contact: <sip:alice@192.0.2.10>\r\n");
  ParsedRegister p = parseOk(text);
  EXPECT_EQ(
      p.path,
      "<sip:edge1.example.net;lr>, <sip:edge2.example.net;lr>, <sip:edge3.example.net;lr;ob>");
  EXPECT_TRUE(p.echoPath);
  Decision d;
  BindingChanges c = decide(p, {}, {}, kNow, d);
  ASSERT_EQ(c.upsert.size(), 1u);
  EXPECT_EQ(c.upsert[0].path, p.path);
  std::vector<std::string> lines = okHeaderLines(p, c.upsert, kNow);
  EXPECT_EQ(lines.back(), "Path: " + p.path);
}

TEST(RegistrarPath, WithoutSupportIs420ByDefault) {
  Rejection r = parseRefused(
      registerText("Path: <sip:edge1.example.net;lr>\r\nContact: <sip:alice@192.0.2.10>\r\n"));
  EXPECT_EQ(r.status, 420);
  EXPECT_EQ(r.reason, "Bad Extension");
}

TEST(RegistrarPath, WithoutSupportStoredButNotEchoedWhenAllowed) {
  RegistrarSettings s;
  s.rejectPathWithoutSupport = false;
  ParsedRegister p = parseOk(
      registerText("Path: <sip:edge1.example.net;lr>\r\nContact: <sip:alice@192.0.2.10>\r\n"), s);
  EXPECT_EQ(p.path, "<sip:edge1.example.net;lr>");
  EXPECT_FALSE(p.echoPath);
  Decision d;
  BindingChanges c = decide(p, s, {}, kNow, d);
  for (const std::string& line : okHeaderLines(p, c.upsert, kNow))
    EXPECT_EQ(line.rfind("Path:", 0), std::string::npos) << line;
}

TEST(RegistrarPath, IgnoredWhenNotHonoured) {
  RegistrarSettings s;
  s.storePath = false;
  ParsedRegister p = parseOk(registerText("Supported: path\r\nPath: <sip:edge1.example.net;lr>\r\n"
                                          "Contact: <sip:alice@192.0.2.10>\r\n"),
                             s);
  EXPECT_EQ(p.path, "");
  EXPECT_FALSE(p.echoPath);
}

TEST(RegistrarRequire, PathIsTheOnlyExtensionAndOnlyWhileHonoured) {
  EXPECT_TRUE(parse(registerText("Require: path\r\nSupported: path\r\n"
                                 "Path: <sip:edge1.example.net;lr>\r\n"
                                 "Contact: <sip:alice@192.0.2.10>\r\n"))
                  .hasValue());
  Rejection r = parseRefused(registerText("Require: path, foo\r\nRequire: bar\r\n"));
  EXPECT_EQ(r.status, 420);
  EXPECT_THAT(r.headerLines, ElementsAre("Unsupported: foo, bar"));
  RegistrarSettings s;
  s.storePath = false;
  r = parseRefused(registerText("Require: path\r\n"), s);
  EXPECT_EQ(r.status, 420);
  EXPECT_THAT(r.headerLines, ElementsAre("Unsupported: path"));
}

// --- the 200 ---------------------------------------------------------------------------------

TEST(RegistrarOk, ContactLinesCarryRemainingExpiresQInstanceAndRegId) {
  std::vector<Binding> bindings(4);
  bindings[0].contact = "sip:alice@192.0.2.10;transport=tcp";
  bindings[0].expiresAt = kNow + 3600;
  bindings[1].contact = "sip:alice@192.0.2.11";
  bindings[1].expiresAt = kNow + 10;
  bindings[1].qMilli = 500;
  bindings[1].instance = "<urn:uuid:1>";
  bindings[1].regId = 1;
  bindings[2].contact = "sip:alice@192.0.2.12";
  bindings[2].expiresAt = kNow + 1;
  bindings[2].qMilli = 50;
  bindings[3].contact = "sip:alice@192.0.2.13";
  bindings[3].expiresAt = kNow + 1;
  bindings[3].qMilli = 0;
  ParsedRegister p;
  std::vector<std::string> lines = okHeaderLines(p, bindings, kNow);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "Contact: <sip:alice@192.0.2.10;transport=tcp>;expires=3600");
  EXPECT_EQ(lines[1],
            "Contact: <sip:alice@192.0.2.11>;expires=10;q=0.5;+sip.instance=\"<urn:uuid:1>\";"
            "reg-id=1");
  EXPECT_EQ(lines[2], "Contact: <sip:alice@192.0.2.12>;expires=1;q=0.05");
  EXPECT_EQ(lines[3], "Contact: <sip:alice@192.0.2.13>;expires=1;q=0");
  EXPECT_EQ(lines[4], "Date: " + httpDate(kNow));
}

TEST(RegistrarOk, NoPathLineWithoutAPath) {
  ParsedRegister p;
  p.echoPath = true;
  std::vector<std::string> lines = okHeaderLines(p, {}, kNow);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("Date: ", 0), 0u);
}

TEST(RegistrarOk, DateIsRfc1123Gmt) {
  EXPECT_EQ(httpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(httpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(httpDate(kNow), "Tue, 14 Nov 2023 22:13:20 GMT");
}

// --- malformed requests ----------------------------------------------------------------------

TEST(RegistrarMalformed, BadContactIs400) {
  EXPECT_EQ(parseRefused(registerText("Contact: <sip:alice@192.0.2.10;q=2\r\n")).status, 400);
  EXPECT_EQ(parseRefused(registerText("Contact: <sip:alice@192.0.2.10>;q=2\r\n")).status, 400);
}

// A bare CR inside a value the registrar echoes in its 200s (to every device of the AOR) or puts
// in the Route of requests to the phone could be read as a line end by a peer: refused.
TEST(RegistrarMalformed, BareCarriageReturnInEchoedTextIs400) {
  const Rejection instance = parseRefused(
      registerText("Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:x\rInjected: yes>\"\r\n"));
  EXPECT_EQ(instance.status, 400);
  EXPECT_EQ(instance.reason, "Invalid +sip.instance");
  const Rejection path =
      parseRefused(registerText("Contact: <sip:alice@192.0.2.10>\r\nSupported: path\r\n"
                                "Path: \"a\rInjected: yes\" <sip:edge.example.com;lr>\r\n"));
  EXPECT_EQ(path.status, 400);
  EXPECT_EQ(path.reason, "Invalid Path");
}

}  // namespace
}  // namespace strowger::registrar
