#include "strowger/transaction/key.h"

namespace strowger::transaction {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Appends one length-prefixed component.
void put(std::string& out, std::string_view part, bool lowerCase = false) {
  out.append(std::to_string(part.size())).push_back(':');
  if (lowerCase) {
    for (char c : part)
      out.push_back(lower(c));
  } else {
    out.append(part);
  }
}

std::size_t hashLower(std::string_view text) {
  std::string folded;
  folded.reserve(text.size());
  for (char c : text)
    folded.push_back(lower(c));
  return std::hash<std::string>{}(folded);
}

// `methodOverride` replaces the request's method (INVITE for ACK and for a CANCEL's target).
Expected<TransactionKey, KeyErrc> buildServerKey(const sip::Message& request,
                                                 std::string_view methodOverride) {
  if (!request.isRequest()) return unexpected(KeyErrc::kNotARequest);
  const auto& via = request.topVia();
  if (!via) return unexpected(KeyErrc::kBadVia);
  const auto& cseq = request.cseq();
  if (!cseq) return unexpected(KeyErrc::kBadCSeq);

  std::string_view method = request.methodText();
  const bool ack = request.method() == sip::Method::kAck;
  if (ack) method = sip::methodName(sip::Method::kInvite);
  if (!methodOverride.empty()) method = methodOverride;
  const bool inviteLike = method == sip::methodName(sip::Method::kInvite);

  TransactionKey key;
  // A branch that is the bare cookie identifies nothing (RFC 4475 §3.2.1): fall back to RFC 2543.
  if (via->hasRfc3261Branch() && via->branch.size() > sip::kBranchMagicCookie.size()) {
    key.value.push_back('S');
    put(key.value, via->branch, true);
    put(key.value, via->sentBy.host, true);
    put(key.value, via->sentBy.hasPort ? std::to_string(via->sentBy.port) : std::string());
    put(key.value, method);
    key.affinity = hashLower(via->branch);
    key.seal();
    return key;
  }

  // RFC 2543 (§17.2.3, last paragraphs).
  const auto& callId = request.callId();
  if (!callId) return unexpected(KeyErrc::kBadCallId);
  const auto& from = request.from();
  const auto& to = request.to();
  if (!from || !to) return unexpected(KeyErrc::kBadFromTo);
  key.value.push_back('R');
  put(key.value, method);
  put(key.value, request.requestUriText());
  put(key.value, from->tag);
  put(key.value, *callId);
  put(key.value, std::to_string(cseq->number));
  put(key.value, via->raw);
  if (!inviteLike) put(key.value, to->tag);
  std::string affinity(*callId);
  affinity.append(from->tag).append(std::to_string(cseq->number));
  key.affinity = std::hash<std::string>{}(affinity);
  key.seal();
  return key;
}

}  // namespace

std::string_view keyErrorText(KeyErrc error) noexcept {
  switch (error) {
    case KeyErrc::kNotARequest:
      return "not a request";
    case KeyErrc::kNotAResponse:
      return "not a response";
    case KeyErrc::kBadVia:
      return "bad or missing Via";
    case KeyErrc::kBadCSeq:
      return "bad or missing CSeq";
    case KeyErrc::kBadCallId:
      return "bad or missing Call-ID";
    case KeyErrc::kBadFromTo:
      return "bad or missing From or To";
    case KeyErrc::kNoBranch:
      return "top Via without branch";
  }
  return "?";
}

Expected<TransactionKey, KeyErrc> serverKey(const sip::Message& request) {
  return buildServerKey(request, {});
}

Expected<TransactionKey, KeyErrc> inviteKeyFor(const sip::Message& request) {
  return buildServerKey(request, sip::methodName(sip::Method::kInvite));
}

Expected<TransactionKey, KeyErrc> clientKey(const sip::Message& response) {
  if (!response.isResponse()) return unexpected(KeyErrc::kNotAResponse);
  const auto& via = response.topVia();
  if (!via) return unexpected(KeyErrc::kBadVia);
  if (via->branch.empty()) return unexpected(KeyErrc::kNoBranch);
  const auto& cseq = response.cseq();
  if (!cseq) return unexpected(KeyErrc::kBadCSeq);
  return clientKey(via->branch, cseq->methodText);
}

TransactionKey clientKey(std::string_view branch, std::string_view method) {
  TransactionKey key;
  key.value.push_back('C');
  put(key.value, branch, true);
  put(key.value, method);
  key.affinity = hashLower(branch);
  key.seal();
  return key;
}

}  // namespace strowger::transaction
