// 44 single-packet SIP messages captured from deployed phones, PBXs and proxies: each must parse
// and pass the proxy's sanity checks (except the Metasploit INVITE with an empty R-URI user).
#include <gtest/gtest.h>

#include <algorithm>
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

using sip::Framing;
using sip::HeaderId;
using sip::Message;
using sip::Method;
using sip::ParseErrc;

struct Case {
  const char* file;
  bool request;
  const char* first;  // method of a request, status code of a response
  uint32_t cseq;
  const char* cseqMethod;
  const char* callId;
  const char* topBranch;  // empty when the top Via has none
  std::size_t vias;
  std::size_t body;
};

// Read off the captures (first line, CSeq, Call-ID, top Via branch, Via count, body length).
const Case kCases[] = {
    {"01_xlite4_REGISTER.sip", true, "REGISTER", 1, "REGISTER",
     "M2NhZDAwZmYwZGNkYmZjYzQzYmY1MTMxMDQ2MzkzMTk.", "z9hG4bK-d8754z-be202a0a6ce3714f-1---d8754z-",
     1, 0},
    {"02_asterisk16_401_REGISTER.sip", false, "401", 1, "REGISTER",
     "M2NhZDAwZmYwZGNkYmZjYzQzYmY1MTMxMDQ2MzkzMTk.", "z9hG4bK-d8754z-be202a0a6ce3714f-1---d8754z-",
     1, 0},
    {"03_xlite4_REGISTER_auth.sip", true, "REGISTER", 2, "REGISTER",
     "M2NhZDAwZmYwZGNkYmZjYzQzYmY1MTMxMDQ2MzkzMTk.", "z9hG4bK-d8754z-ff9e3df9d58cdec1-1---d8754z-",
     1, 0},
    {"04_asterisk16_OPTIONS_qualify.sip", true, "OPTIONS", 102, "OPTIONS",
     "6255692e34af33dd022daf7f53115577@192.168.10.2", "z9hG4bK743bd186", 1, 0},
    {"05_xlite4_SUBSCRIBE_auth.sip", true, "SUBSCRIBE", 2, "SUBSCRIBE",
     "MDA3MzcwMWQxNmNhNTBmMTZiNGNkY2JjYjZkNzViZTM.", "z9hG4bK-d8754z-93360c6d700dfe87-1---d8754z-",
     1, 0},
    {"06_xlite4_INVITE_auth_sdp.sip", true, "INVITE", 2, "INVITE",
     "ZDYzOWVlNjEwM2NjZTBjNzliNmM1ZTNiOGZjNWFhN2E.", "z9hG4bK-d8754z-e1fbfb6234524a52-1---d8754z-",
     1, 410},
    {"07_asterisk16_200_INVITE_sdp.sip", false, "200", 2, "INVITE",
     "ZDYzOWVlNjEwM2NjZTBjNzliNmM1ZTNiOGZjNWFhN2E.", "z9hG4bK-d8754z-e1fbfb6234524a52-1---d8754z-",
     1, 287},
    {"08_xlite4_ACK_2xx.sip", true, "ACK", 2, "ACK", "ZDYzOWVlNjEwM2NjZTBjNzliNmM1ZTNiOGZjNWFhN2E.",
     "z9hG4bK-d8754z-0c8d70067b8db92f-1---d8754z-", 1, 0},
    {"09_asterisk16_BYE.sip", true, "BYE", 103, "BYE",
     "ZDYzOWVlNjEwM2NjZTBjNzliNmM1ZTNiOGZjNWFhN2E.", "z9hG4bK487360c8", 1, 0},
    {"10_ekiga32_INVITE_iptel.sip", true, "INVITE", 1, "INVITE",
     "2091060b-146f-e011-809a-0019cb53db77@admind-desktop",
     "z9hG4bK16a1230b-146f-e011-809a-0019cb53db77", 1, 471},
    {"11_ser32_100_custom_reason.sip", false, "100", 1, "INVITE",
     "2091060b-146f-e011-809a-0019cb53db77@admind-desktop",
     "z9hG4bK16a1230b-146f-e011-809a-0019cb53db77", 1, 0},
    {"12_ekiga32_CANCEL.sip", true, "CANCEL", 2, "CANCEL",
     "2091060b-146f-e011-809a-0019cb53db77@admind-desktop",
     "z9hG4bKb26f2c0b-146f-e011-809a-0019cb53db77", 1, 0},
    {"13_ser32_200_custom_reason.sip", false, "200", 2, "CANCEL",
     "2091060b-146f-e011-809a-0019cb53db77@admind-desktop",
     "z9hG4bKb26f2c0b-146f-e011-809a-0019cb53db77", 1, 0},
    {"14_ekiga32_INFO_dtmf_relay.sip", true, "INFO", 7, "INFO",
     "2091060b-146f-e011-809a-0019cb53db77@admind-desktop",
     "z9hG4bK5217590f-146f-e011-809a-0019cb53db77", 1, 26},
    {"15_sems_INVITE_via_ser.sip", true, "INVITE", 10, "INVITE",
     "2091060b-146f-e011-809a-0019cb53db77@admind-desktop", "z9hG4bKf23e.0f3ee1c4.0", 2, 223},
    {"16_xlite1103_INVITE_no_ua.sip", true, "INVITE", 1, "INVITE", "12013223@200.57.7.195",
     "z9hG4bKff9b46fb055c0521cc24024da96cd290", 2, 229},
    {"17_verso_REGISTER.sip", true, "REGISTER", 37764, "REGISTER",
     "46E1C3CB36304F84A020CF6DD3F96461@Verso.com", "z9hG4bKDC8595CD770E4317ACBC3B64CF5016C5", 1, 0},
    {"18_xlite1103_200_Ok.sip", false, "200", 1, "INVITE", "12013223@200.57.7.195",
     "z9hG4bKff9b46fb055c0521cc24024da96cd290", 2, 298},
    {"19_necphilips_ipdect_REGISTER.sip", true, "REGISTER", 1, "REGISTER", "3070@192.168.105.105",
     "z9hG4bK20737", 1, 0},
    {"20_necphilips_ipdect_INVITE_late_offer.sip", true, "INVITE", 20, "INVITE",
     "5514@192.168.105.110", "z9hG4bK11207", 1, 0},
    {"21_brekeke_603_Decline.sip", false, "603", 20, "INVITE", "5514@192.168.105.110",
     "z9hG4bK11207", 1, 0},
    {"22_brekeke_forwarded_INVITE_record_route.sip", true, "INVITE", 20, "INVITE",
     "25672@192.168.105.110", "z9hG4bK48df8586c6abf.1", 2, 0},
    {"23_zoiper33_REGISTER.sip", true, "REGISTER", 1, "REGISTER",
     "NWVjMzY1YTgzYWY1MGQ3MTRiYjQ5ODFlNjMzY2NmNGE.", "z9hG4bK-d8754z-147d6c3609118509-1---d8754z-",
     1, 0},
    {"24_zoiper33_REGISTER_auth.sip", true, "REGISTER", 2, "REGISTER",
     "NWVjMzY1YTgzYWY1MGQ3MTRiYjQ5ODFlNjMzY2NmNGE.", "z9hG4bK-d8754z-d0c91a6b054a6dff-1---d8754z-",
     1, 0},
    {"25_zoiper39_PUBLISH_pidf.sip", true, "PUBLISH", 1, "PUBLISH", "NzFoi0Wkftmf4686suekNA..",
     "z9hG4bK-524287-1---fc9da4622d7b2693", 1, 273},
    {"26_asterisk11_489_Bad_Event.sip", false, "489", 1, "PUBLISH", "NzFoi0Wkftmf4686suekNA..",
     "z9hG4bK-524287-1---fc9da4622d7b2693", 1, 0},
    {"27_zoiper33_INVITE_auth_sdp.sip", true, "INVITE", 2, "INVITE",
     "M2Q0ZDc1ZGM1NzIyMTlhZTA3NDU3NTgzMzA5YmJmZWQ.", "z9hG4bK-d8754z-6d53fe058e74ca20-1---d8754z-",
     1, 159},
    {"28_asterisk11_b2bua_INVITE.sip", true, "INVITE", 102, "INVITE",
     "37686afc57ce24ac655742b3644a7bb8@172.16.98.101:5060", "z9hG4bK62d8c613", 1, 249},
    {"29_repro197_480.sip", false, "480", 1, "SUBSCRIBE",
     "ODIzYTg5MzdhYTM2NGY3ZjI2OWQyMGRlY2VmZWYwOWM.", "z9hG4bK-d8754z-4e8e114eb55d2615-1---d8754z-",
     1, 0},
    {"30_eyebeam_INVITE_video.sip", true, "INVITE", 1, "INVITE",
     "NmNhYWNhMjY0Y2M0OTc4YTI2MzgzZTNlYTRhZTMxNTE.", "z9hG4bK-d8754z-a862ae0d85dbe469-1---d8754z-",
     1, 389},
    {"31_metasploit_spoof_INVITE_malformed.sip", true, "INVITE", 1, "INVITE", "14810.0.1.45", "", 1,
     0},
    {"32_audiocodes_INVITE_100rel.sip", true, "INVITE", 1, "INVITE",
     "1907983263271201083544@10.33.6.101", "z9hG4bKac1907994422", 1, 227},
    {"33_audiocodes_180_reliable.sip", false, "180", 1, "INVITE",
     "1907983263271201083544@10.33.6.101", "z9hG4bKac1907994422", 1, 0},
    {"34_audiocodes_PRACK.sip", true, "PRACK", 2, "PRACK", "1907983263271201083544@10.33.6.101",
     "z9hG4bKac1908278449", 1, 0},
    {"35_scanner_OPTIONS_branch0.sip", true, "OPTIONS", 1, "OPTIONS",
     "fab24225-14f8a735-e063ce6@176.9.39.206", "0", 1, 0},
    {"36_pjsua112_200_OPTIONS.sip", false, "200", 6328, "OPTIONS",
     "9ebf99be-3dd0-4a4a-bbac-d755918fe789", "z9hG4bKPjdb43a051-81f9-4b3e-8652-0f896bb7e5d6", 1,
     442},
    {"37_linphone312_INVITE_auth.sip", true, "INVITE", 21, "INVITE", "NA4y5nr9Jk",
     "z9hG4bK.PKP18iidY", 1, 183},
    {"38_freepbx14_488.sip", false, "488", 21, "INVITE", "NA4y5nr9Jk", "z9hG4bK.PKP18iidY", 1, 0},
    {"39_asterisk11_403_REGISTER.sip", false, "403", 2, "REGISTER",
     "YzAwMDllYjUyNmVlZWFhZjE0NDViMWRkNDUyNzJmZDU.", "z9hG4bK-d8754z-596cea95ab7919bd-1---d8754z-",
     1, 0},
    {"40_audiocodes_INVITE_tcp.sip", true, "INVITE", 1, "INVITE",
     "158936656982201062716@10.33.6.100", "z9hG4bKac1589375893", 1, 228},
    {"41_audiocodes_INVITE_to_proxy.sip", true, "INVITE", 1, "INVITE",
     "75104938772201062721@10.33.6.101", "z9hG4bKac751052981", 1, 216},
    {"42_audiocodes_INVITE_after_proxy.sip", true, "INVITE", 1, "INVITE",
     "75104938772201062721@10.33.6.101", "z9hG4bKac49822475", 2, 216},
    {"43_freeswitch16_200_INVITE.sip", false, "200", 1, "INVITE", "1-1966@10.0.2.20",
     "z9hG4bK-1966-1-0", 1, 226},
    {"44_freeswitch16_BYE.sip", true, "BYE", 99749930, "BYE", "1-1966@10.0.2.20",
     "z9hG4bKj14v7jcDQN1Kj", 1, 0},
};

constexpr std::string_view kMetasploit = "31_metasploit_spoof_INVITE_malformed.sip";

class RealWorldTest : public ::testing::TestWithParam<Case> {};

TEST_P(RealWorldTest, Message) {
  const Case& c = GetParam();
  STROWGER_SHARED_DIR_OR_SKIP(dir, "real-world/messages");
  const auto bytes = readFile(dir / c.file);
  ASSERT_TRUE(bytes.has_value()) << "cannot read " << (dir / c.file).string();

  Message m;
  STROWGER_ASSERT_OK(m.parse(view(*bytes), Framing::kDatagram));
  ASSERT_EQ(m.isRequest(), c.request);
  if (c.request) {
    EXPECT_EQ(m.methodText(), c.first);
    EXPECT_NE(m.method(), Method::kUnknown);
    if (c.file == kMetasploit) {
      // sip:@127.0.0.1 has an empty user part.
      EXPECT_TRUE(isError(sip::checkRequest(m), ParseErrc::kBadUri, 400)) << "checkRequest";
    } else {
      EXPECT_TRUE(isOk(sip::checkRequest(m))) << "checkRequest";
      const auto& ruri = m.requestUri();
      STROWGER_EXPECT_OK(ruri);
    }
  } else {
    EXPECT_EQ(std::to_string(m.statusCode()), c.first);
    EXPECT_TRUE(isOk(sip::checkResponse(m))) << "checkResponse";
  }

  const auto& callId = m.callId();
  STROWGER_ASSERT_OK(callId);
  EXPECT_FALSE(callId->empty());
  EXPECT_EQ(*callId, c.callId);

  const auto& cseq = m.cseq();
  STROWGER_ASSERT_OK(cseq);
  EXPECT_EQ(cseq->number, c.cseq);
  EXPECT_EQ(cseq->methodText, c.cseqMethod);
  if (c.request) {
    EXPECT_EQ(cseq->method, m.method());
  }

  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->branch, c.topBranch);
  const auto& vias = m.vias();
  STROWGER_ASSERT_OK(vias);
  EXPECT_EQ(vias->size(), c.vias);

  STROWGER_EXPECT_OK(m.from());
  STROWGER_EXPECT_OK(m.to());
  EXPECT_EQ(m.body().size(), c.body);
  if (m.hasContentLength()) {
    const auto& contentLength = m.contentLength();
    STROWGER_ASSERT_OK(contentLength);
    EXPECT_EQ(*contentLength, c.body);
  }
  EXPECT_EQ(m.trailingBytes(), 0u);
}

TEST_P(RealWorldTest, ApiInvariants) {
  const Case& c = GetParam();
  STROWGER_SHARED_DIR_OR_SKIP(dir, "real-world/messages");
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

INSTANTIATE_TEST_SUITE_P(RealWorld, RealWorldTest, ::testing::ValuesIn(kCases), paramName);

TEST(RealWorldTable, CoversEveryFile) {
  std::set<std::string> table;
  for (const Case& c : kCases) {
    EXPECT_TRUE(table.insert(c.file).second) << c.file << " is in the table twice";
  }
  EXPECT_EQ(table.size(), 44u);
  STROWGER_SHARED_DIR_OR_SKIP(dir, "real-world/messages");
  const std::vector<std::string> files = listFiles(dir, ".sip");
  EXPECT_EQ(files.size(), 44u);
  for (const std::string& file : files) {
    EXPECT_TRUE(table.contains(file)) << file << " has no entry in the table";
  }
  for (const std::string& entry : table) {
    EXPECT_TRUE(std::binary_search(files.begin(), files.end(), entry))
        << entry << " is in the table but not in " << dir.string();
  }
}

// 41 and 42: the same INVITE before and after a real proxy.
TEST(RealWorldPair, InviteBeforeAndAfterProxy) {
  STROWGER_SHARED_DIR_OR_SKIP(dir, "real-world/messages");
  const auto before = readFile(dir / "41_audiocodes_INVITE_to_proxy.sip");
  const auto after = readFile(dir / "42_audiocodes_INVITE_after_proxy.sip");
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(after.has_value());
  Message in;
  Message out;
  STROWGER_ASSERT_OK(in.parse(view(*before)));
  STROWGER_ASSERT_OK(out.parse(view(*after)));

  const auto& maxIn = in.maxForwards();
  const auto& maxOut = out.maxForwards();
  STROWGER_ASSERT_OK(maxIn);
  STROWGER_ASSERT_OK(maxOut);
  EXPECT_EQ(*maxIn, 70u);
  EXPECT_EQ(*maxOut, 69u);

  const auto& viasIn = in.vias();
  const auto& viasOut = out.vias();
  STROWGER_ASSERT_OK(viasIn);
  STROWGER_ASSERT_OK(viasOut);
  ASSERT_EQ(viasOut->size(), viasIn->size() + 1);
  EXPECT_EQ((*viasOut)[0].sentBy.host, "10.33.6.102");
  EXPECT_EQ((*viasOut)[0].sentBy.port, 5080);
  EXPECT_EQ((*viasOut)[1].raw, (*viasIn)[0].raw);
  EXPECT_EQ((*viasOut)[1].branch, (*viasIn)[0].branch);

  const auto& ruriIn = in.requestUri();
  const auto& ruriOut = out.requestUri();
  STROWGER_ASSERT_OK(ruriIn);
  STROWGER_ASSERT_OK(ruriOut);
  EXPECT_EQ(ruriIn->host(), "10.33.6.102");
  EXPECT_EQ(ruriIn->params.get("user"), "phone");
  EXPECT_EQ(ruriOut->host(), "10.33.6.100");
  EXPECT_EQ(ruriOut->port(), 5060);
  EXPECT_EQ(ruriIn->user, ruriOut->user);

  EXPECT_EQ(*in.callId(), *out.callId());
  EXPECT_EQ(in.body(), out.body());
  EXPECT_EQ(out.count(HeaderId::kVia), in.count(HeaderId::kVia) + 1);
  EXPECT_EQ(out.headers().size(), in.headers().size() + 1);
}

// What proxies added on the way: Record-Route with lr.
TEST(RealWorldPair, RecordRoutedInvites) {
  STROWGER_SHARED_DIR_OR_SKIP(dir, "real-world/messages");
  const auto brekeke = readFile(dir / "22_brekeke_forwarded_INVITE_record_route.sip");
  const auto ser = readFile(dir / "15_sems_INVITE_via_ser.sip");
  ASSERT_TRUE(brekeke.has_value());
  ASSERT_TRUE(ser.has_value());

  Message m;
  STROWGER_ASSERT_OK(m.parse(view(*brekeke)));
  const auto& rr = m.recordRoutes();
  STROWGER_ASSERT_OK(rr);
  ASSERT_EQ(rr->size(), 1u);
  EXPECT_EQ((*rr)[0].uri.host(), "192.168.105.105");
  EXPECT_EQ((*rr)[0].uri.port(), 5060);
  EXPECT_TRUE((*rr)[0].uri.params.has("lr"));
  const auto& maxForwards = m.maxForwards();
  STROWGER_ASSERT_OK(maxForwards);
  EXPECT_EQ(*maxForwards, 69u);

  STROWGER_ASSERT_OK(m.parse(view(*ser)));  // the same Message, reused
  const auto& rr2 = m.recordRoutes();
  STROWGER_ASSERT_OK(rr2);
  ASSERT_EQ(rr2->size(), 1u);
  EXPECT_EQ((*rr2)[0].uri.host(), "213.192.59.75");
  EXPECT_EQ((*rr2)[0].uri.params.get("lr"), "on");
  EXPECT_EQ((*rr2)[0].uri.params.get("ftag"), "420976BC-4DB7D064000EE90C-B692BBB0");
}

}  // namespace
}  // namespace strowger::conformance
