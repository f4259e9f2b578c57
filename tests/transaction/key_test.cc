// Matching requests and responses to transactions (RFC 3261 §17.1.3, §17.2.3, §9.2) and the
// bounded table.
#include "strowger/transaction/key.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "harness.h"

namespace strowger::transaction {
namespace {

using testing::Parsed;

struct Fields {
  std::string method = "INVITE";
  std::string uri = "sip:bob@biloxi.example.com";
  std::string via = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds";
  std::string toTag;
  std::string fromTag = "1928301774";
  std::string callId = "a84b4c76e66710@pc33.atlanta.example.com";
  std::string cseq = "314159";
  std::string cseqMethod;  // defaults to the method
};

std::string request(const Fields& f) {
  std::string to = "Bob <sip:bob@biloxi.example.com>";
  if (!f.toTag.empty()) to += ";tag=" + f.toTag;
  return f.method + " " + f.uri + " SIP/2.0\r\n" + "Via: " + f.via + "\r\n" +
         "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKbelow\r\n" + "Max-Forwards: 70\r\n" +
         "To: " + to + "\r\n" + "From: Alice <sip:alice@atlanta.example.com>;tag=" + f.fromTag +
         "\r\n" + "Call-ID: " + f.callId + "\r\n" + "CSeq: " + f.cseq + " " +
         (f.cseqMethod.empty() ? f.method : f.cseqMethod) + "\r\n" + "Content-Length: 0\r\n\r\n";
}

TransactionKey key(const Fields& f) {
  Parsed p(request(f));
  EXPECT_TRUE(p.ok) << p.bytes;
  auto k = serverKey(p.message);
  EXPECT_TRUE(k.hasValue());
  return k ? *k : TransactionKey{};
}

Fields with(std::string Fields::*field, std::string value, Fields f = {}) {
  f.*field = std::move(value);
  return f;
}

// --- RFC 3261 branches --------------------------------------------------------------------------

TEST(TransactionKey, RetransmissionMatches) {
  EXPECT_EQ(key({}), key({}));
  // Fields outside the key do not matter once the branch has the cookie.
  EXPECT_EQ(key({}), key(with(&Fields::uri, "sip:other@example.com")));
  EXPECT_EQ(key({}), key(with(&Fields::callId, "other")));
}

TEST(TransactionKey, AckMatchesTheInvite) {
  Fields ack = with(&Fields::method, "ACK");
  ack.toTag = "as83kd";  // the tag of the response
  EXPECT_EQ(key(ack), key({}));
}

TEST(TransactionKey, CancelIsItsOwnTransactionAndTargetsTheInvite) {
  const Fields cancel = with(&Fields::method, "CANCEL");
  EXPECT_NE(key(cancel), key({}));
  Parsed p(request(cancel));
  auto target = inviteKeyFor(p.message);
  ASSERT_TRUE(target.hasValue());
  EXPECT_EQ(*target, key({}));
  EXPECT_EQ(shardOf(key(cancel), 8), shardOf(key({}), 8));
}

TEST(TransactionKey, BranchSentByAndMethodDistinguish) {
  EXPECT_NE(key({}),
            key(with(&Fields::via, "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776")));
  EXPECT_NE(
      key({}),
      key(with(&Fields::via, "SIP/2.0/UDP pc33.atlanta.example.com:5070;branch=z9hG4bK776asdhds")));
  EXPECT_NE(
      key({}),
      key(with(&Fields::via, "SIP/2.0/UDP pc34.atlanta.example.com:5060;branch=z9hG4bK776asdhds")));
  EXPECT_NE(key({}), key(with(&Fields::method, "BYE")));
  // Case-insensitive tokens and host names; parameters other than branch do not count.
  EXPECT_EQ(key({}), key(with(&Fields::via,
                              "SIP/2.0/UDP PC33.Atlanta.example.com:5060;branch=z9hG4bK776ASDHDS;"
                              "received=192.0.2.1")));
}

TEST(TransactionKey, ClientKeyFromResponse) {
  const std::string response =
      "SIP/2.0 180 Ringing\r\n"
      "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKout1\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
      "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
      "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  Parsed p(response);
  ASSERT_TRUE(p.ok);
  auto k = clientKey(p.message);
  ASSERT_TRUE(k.hasValue());
  EXPECT_EQ(*k, clientKey("z9hG4bKout1", "INVITE"));
  EXPECT_NE(*k, clientKey("z9hG4bKout1", "CANCEL"));  // §17.1.3: the CSeq method counts
  EXPECT_NE(*k, clientKey("z9hG4bKout2", "INVITE"));
  // A client key never equals a server key.
  EXPECT_NE(*k, key({}));
  EXPECT_EQ(shardOf(*k, 4), shardOf(clientKey("z9hG4bKout1", "CANCEL"), 4));
}

TEST(TransactionKey, Errors) {
  Parsed noVia(
      "OPTIONS sip:a@example.com SIP/2.0\r\nTo: <sip:a@example.com>\r\n"
      "From: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
  ASSERT_TRUE(noVia.ok);
  ASSERT_FALSE(serverKey(noVia.message).hasValue());
  EXPECT_EQ(serverKey(noVia.message).error(), KeyErrc::kBadVia);
  EXPECT_EQ(clientKey(noVia.message).error(), KeyErrc::kNotAResponse);

  Parsed noBranch(
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP proxy.example.com\r\nTo: <sip:a@example.com>\r\n"
      "From: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
  ASSERT_TRUE(noBranch.ok);
  EXPECT_EQ(clientKey(noBranch.message).error(), KeyErrc::kNoBranch);
  EXPECT_EQ(serverKey(noBranch.message).error(), KeyErrc::kNotARequest);
  EXPECT_FALSE(keyErrorText(KeyErrc::kBadCSeq).empty());
}

// --- RFC 2543 fallback --------------------------------------------------------------------------

Fields old(Fields f = {}) {
  f.via = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=776asdhds";
  return f;
}

TEST(TransactionKey, Rfc2543RetransmissionAndAck) {
  EXPECT_EQ(key(old()), key(old()));
  Fields ack = old(with(&Fields::method, "ACK"));
  ack.toTag = "as83kd";
  EXPECT_EQ(key(ack), key(old()));
  // No branch at all is the same case.
  Fields bare = old();
  bare.via = "SIP/2.0/UDP pc33.atlanta.example.com:5060";
  EXPECT_EQ(key(bare), key(bare));
  EXPECT_NE(key(bare), key(old()));
}

TEST(TransactionKey, BareCookieFallsBackToRfc2543) {
  // RFC 4475 §3.2.1: the cookie and nothing after it identifies no transaction.
  Fields bare = old();
  bare.via = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK";
  EXPECT_NE(key(bare), key(with(&Fields::callId, "other", bare)));
  EXPECT_EQ(key(bare), key(bare));
}

TEST(TransactionKey, Rfc2543FieldsDistinguish) {
  const TransactionKey base = key(old());
  EXPECT_NE(base, key(old(with(&Fields::uri, "sip:bob@other.example.com"))));
  EXPECT_NE(base, key(old(with(&Fields::fromTag, "other"))));
  EXPECT_NE(base, key(old(with(&Fields::callId, "other@pc33"))));
  EXPECT_NE(base, key(old(with(&Fields::cseq, "314160"))));
  EXPECT_NE(base,
            key(with(&Fields::via, "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=x", old())));
  // The same fields with the cookie form an RFC 3261 key, never equal to the RFC 2543 one.
  EXPECT_NE(base, key({}));
}

TEST(TransactionKey, Rfc2543ToTagCountsOutsideInvite) {
  Fields bye = old(with(&Fields::method, "BYE"));
  bye.toTag = "a";
  Fields otherBye = bye;
  otherBye.toTag = "b";
  EXPECT_EQ(key(bye), key(bye));
  EXPECT_NE(key(bye), key(otherBye));
}

TEST(TransactionKey, Rfc2543Cancel) {
  const Fields cancel = old(with(&Fields::method, "CANCEL"));
  EXPECT_NE(key(cancel), key(old()));
  Parsed p(request(cancel));
  auto target = inviteKeyFor(p.message);
  ASSERT_TRUE(target.hasValue());
  EXPECT_EQ(*target, key(old()));
  EXPECT_EQ(shardOf(key(cancel), 8), shardOf(key(old()), 8));
}

}  // namespace
}  // namespace strowger::transaction
