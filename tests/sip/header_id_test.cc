// Header names to ids (RFC 3261 §7.3.3 compact forms and the later RFCs'), canonical names,
// method tokens.
#include "strowger/sip/header_id.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "strowger/sip/headers.h"
#include "strowger/sip/method.h"

namespace strowger::sip {
namespace {

TEST(SipHeaderId, LongNamesInAnyCase) {
  EXPECT_EQ(headerIdFromName("Via"), HeaderId::kVia);
  EXPECT_EQ(headerIdFromName("via"), HeaderId::kVia);
  EXPECT_EQ(headerIdFromName("VIA"), HeaderId::kVia);
  EXPECT_EQ(headerIdFromName("vIa"), HeaderId::kVia);
  EXPECT_EQ(headerIdFromName("Call-ID"), HeaderId::kCallId);
  EXPECT_EQ(headerIdFromName("call-id"), HeaderId::kCallId);
  EXPECT_EQ(headerIdFromName("CALL-Id"), HeaderId::kCallId);
  EXPECT_EQ(headerIdFromName("CSeq"), HeaderId::kCSeq);
  EXPECT_EQ(headerIdFromName("cseq"), HeaderId::kCSeq);
  EXPECT_EQ(headerIdFromName("Max-Forwards"), HeaderId::kMaxForwards);
  EXPECT_EQ(headerIdFromName("Record-Route"), HeaderId::kRecordRoute);
  EXPECT_EQ(headerIdFromName("record-ROUTE"), HeaderId::kRecordRoute);
  EXPECT_EQ(headerIdFromName("Route"), HeaderId::kRoute);
  EXPECT_EQ(headerIdFromName("WWW-Authenticate"), HeaderId::kWwwAuthenticate);
  EXPECT_EQ(headerIdFromName("www-authenticate"), HeaderId::kWwwAuthenticate);
  EXPECT_EQ(headerIdFromName("Proxy-Authorization"), HeaderId::kProxyAuthorization);
  EXPECT_EQ(headerIdFromName("P-Asserted-Identity"), HeaderId::kPAssertedIdentity);
  EXPECT_EQ(headerIdFromName("p-preferred-identity"), HeaderId::kPPreferredIdentity);
  EXPECT_EQ(headerIdFromName("Content-Length"), HeaderId::kContentLength);
  EXPECT_EQ(headerIdFromName("RSeq"), HeaderId::kRSeq);
  EXPECT_EQ(headerIdFromName("RAck"), HeaderId::kRAck);
}

TEST(SipHeaderId, CompactFormsInBothCases) {
  struct Case {
    char letter;
    HeaderId id;
  };
  const Case kCases[] = {
      {'v', HeaderId::kVia},
      {'i', HeaderId::kCallId},
      {'m', HeaderId::kContact},
      {'l', HeaderId::kContentLength},
      {'f', HeaderId::kFrom},
      {'t', HeaderId::kTo},
      {'k', HeaderId::kSupported},
      {'s', HeaderId::kSubject},
      {'c', HeaderId::kContentType},
      {'e', HeaderId::kContentEncoding},
      {'o', HeaderId::kEvent},
      {'u', HeaderId::kAllowEvents},
      {'r', HeaderId::kReferTo},
      {'b', HeaderId::kReferredBy},
      {'x', HeaderId::kSessionExpires},
      {'a', HeaderId::kAcceptContact},
      {'j', HeaderId::kRejectContact},
      {'d', HeaderId::kRequestDisposition},
      {'y', HeaderId::kIdentity},
  };
  for (const Case& c : kCases) {
    std::string lower(1, c.letter);
    std::string upper(1, static_cast<char>(std::toupper(c.letter)));
    EXPECT_EQ(headerIdFromName(lower), c.id) << lower;
    EXPECT_EQ(headerIdFromName(upper), c.id) << upper;
  }
}

TEST(SipHeaderId, UnknownNamesAreOther) {
  EXPECT_EQ(headerIdFromName(""), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("X-Custom"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Vias"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Vi"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Via "), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Call_ID"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("1"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("-"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("z"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("g"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("P-Asserted-Identity-And-Some-More"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("9ia"), HeaderId::kOther);
}

TEST(SipHeaderId, NonTokenBytesNeverMatchAKnownName) {
  // A header name is a token (RFC 3261 §25.1). Only letters fold case: a CR where a '-' belongs
  // (0x0D | 0x20 == '-') or a control byte where a letter belongs is another, invalid name.
  EXPECT_EQ(headerIdFromName("Call\rID"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Content\rLength"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Max\rForwards"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Record\rRoute"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Content\x0dType"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Call@ID"), HeaderId::kOther);
  EXPECT_EQ(headerIdFromName("Content_Length"), HeaderId::kOther);
}

TEST(SipHeaderId, OnlyLetterCaseIsFolded) {
  // Every byte value at every position of every known name: the name still maps to its id only
  // when the byte is the same letter in either case (or the very same non-letter).
  for (std::size_t i = 1; i < kHeaderIdCount; ++i) {
    auto id = static_cast<HeaderId>(i);
    const std::string name(canonicalHeaderName(id));
    for (std::size_t pos = 0; pos < name.size(); ++pos) {
      const auto original = static_cast<unsigned char>(name[pos]);
      for (int b = 0; b < 256; ++b) {
        std::string mutated = name;
        mutated[pos] = static_cast<char>(b);
        const bool sameLetter =
            std::tolower(b) == std::tolower(original) && (std::isalpha(original) || b == original);
        const HeaderId got = headerIdFromName(mutated);
        if (sameLetter) {
          EXPECT_EQ(got, id) << name << " byte " << pos << " = " << b;
        } else {
          EXPECT_NE(got, id) << name << " byte " << pos << " = " << b;
        }
      }
    }
  }
}

TEST(SipHeaderId, CanonicalNames) {
  EXPECT_EQ(canonicalHeaderName(HeaderId::kOther), "");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kVia), "Via");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kCallId), "Call-ID");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kCSeq), "CSeq");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kWwwAuthenticate), "WWW-Authenticate");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kContentLength), "Content-Length");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kRecordRoute), "Record-Route");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kPPreferredIdentity), "P-Preferred-Identity");
  EXPECT_EQ(canonicalHeaderName(HeaderId::kCount), "");
}

TEST(SipHeaderId, EveryCanonicalNameMapsBackToItsId) {
  for (std::size_t i = 1; i < kHeaderIdCount; ++i) {
    auto id = static_cast<HeaderId>(i);
    std::string name(canonicalHeaderName(id));
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_EQ(headerIdFromName(name), id) << name;
    for (char& c : name)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(headerIdFromName(name), id) << name;
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(headerIdFromName(name), id) << name;
  }
}

TEST(SipHeaderId, EqualsIgnoreCase) {
  EXPECT_TRUE(equalsIgnoreCase("Content-Type", "content-TYPE"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("Via", "Via "));
  EXPECT_FALSE(equalsIgnoreCase("a-b", "a_b"));
  EXPECT_FALSE(equalsIgnoreCase("[", "{"));  // 0x5B and 0x7B differ by 0x20 but are not letters
}

TEST(SipMethod, TokensAreCaseSensitive) {
  EXPECT_EQ(methodFromToken("INVITE"), Method::kInvite);
  EXPECT_EQ(methodFromToken("invite"), Method::kUnknown);
  EXPECT_EQ(methodFromToken("Invite"), Method::kUnknown);
  EXPECT_EQ(methodFromToken("ACK"), Method::kAck);
  EXPECT_EQ(methodFromToken("ack"), Method::kUnknown);
  EXPECT_EQ(methodFromToken("REGISTER"), Method::kRegister);
  EXPECT_EQ(methodFromToken("INVITEX"), Method::kUnknown);
  EXPECT_EQ(methodFromToken("NEWMETHOD"), Method::kUnknown);
  EXPECT_EQ(methodFromToken(""), Method::kUnknown);
}

TEST(SipMethod, NamesRoundTrip) {
  const Method kAll[] = {Method::kInvite,   Method::kAck,       Method::kBye,    Method::kCancel,
                         Method::kRegister, Method::kOptions,   Method::kInfo,   Method::kUpdate,
                         Method::kPrack,    Method::kSubscribe, Method::kNotify, Method::kRefer,
                         Method::kMessage,  Method::kPublish};
  for (Method m : kAll) {
    ASSERT_FALSE(methodName(m).empty());
    EXPECT_EQ(methodFromToken(methodName(m)), m) << methodName(m);
  }
  EXPECT_EQ(methodName(Method::kUnknown), "");
  EXPECT_EQ(methodName(Method::kSubscribe), "SUBSCRIBE");
  EXPECT_EQ(methodName(Method::kPrack), "PRACK");
}

TEST(SipTransport, TokensAndNames) {
  EXPECT_EQ(transportFromToken("UDP"), Transport::kUdp);
  EXPECT_EQ(transportFromToken("udp"), Transport::kUdp);
  EXPECT_EQ(transportFromToken("Tcp"), Transport::kTcp);
  EXPECT_EQ(transportFromToken("TLS"), Transport::kTls);
  EXPECT_EQ(transportFromToken("SCTP"), Transport::kSctp);
  EXPECT_EQ(transportFromToken("WS"), Transport::kWs);
  EXPECT_EQ(transportFromToken("wss"), Transport::kWss);
  EXPECT_EQ(transportFromToken("TLS-SCTP"), Transport::kOther);
  EXPECT_EQ(transportFromToken(""), Transport::kOther);
  EXPECT_EQ(transportName(Transport::kUdp), "UDP");
  EXPECT_EQ(transportName(Transport::kWss), "WSS");
  EXPECT_EQ(transportName(Transport::kOther), "");
}

}  // namespace
}  // namespace strowger::sip
