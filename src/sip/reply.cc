#include "strowger/sip/reply.h"

#include <charconv>

namespace strowger::sip {
namespace {

void appendNumber(std::string& out, uint64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, static_cast<std::size_t>(end - digits));
}

void appendLine(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

bool topViaAsReceived(const Message& message, std::string_view sourceIp, uint16_t sourcePort,
                      std::string& out, bool forceRport) {
  const HeaderField* h = message.find(HeaderId::kVia);
  const auto& via = message.topVia();
  if (!h || !via) return false;
  std::string_view value = h->value;
  const char* base = value.data();
  std::size_t elementEnd = static_cast<std::size_t>(via->raw.data() - base) + via->raw.size();
  std::size_t rportNameEnd = std::string_view::npos;
  if (via->hasRport && !via->rport && sourcePort != 0) {
    if (auto p = via->params.find("rport")) {
      rportNameEnd = static_cast<std::size_t>(p->name.data() - base) + p->name.size();
    }
  }
  bool addRport = forceRport && !via->hasRport && sourcePort != 0;
  bool addReceived =
      via->received.empty() && (via->hasRport || addRport || via->sentBy.host != sourceIp);
  if (!addReceived && !addRport && rportNameEnd == std::string_view::npos) return false;
  if (rportNameEnd != std::string_view::npos) {
    out.append(value.substr(0, rportNameEnd)).append("=");
    appendNumber(out, sourcePort);
    out.append(value.substr(rportNameEnd, elementEnd - rportNameEnd));
  } else {
    out.append(value.substr(0, elementEnd));
  }
  if (addReceived) out.append(";received=").append(sourceIp);
  if (addRport) {
    out.append(";rport=");
    appendNumber(out, sourcePort);
  }
  out.append(value.substr(elementEnd));
  return true;
}

namespace {

void appendTopVia(std::string& out, const Message& request, const HeaderField& h,
                  const ReplyOptions& options) {
  out.append("Via: ");
  if (!options.receivedIp ||
      !topViaAsReceived(request, *options.receivedIp, options.receivedPort.value_or(0), out)) {
    out.append(h.value);
  }
  out.append("\r\n");
}

}  // namespace

void buildReply(const Message& request, uint16_t status, std::string_view reason,
                const ReplyOptions& options, std::string& out) {
  out.append("SIP/2.0 ");
  appendNumber(out, status);
  out.append(" ").append(reason.empty() ? defaultReasonPhrase(status) : reason).append("\r\n");
  bool first = true;
  for (const HeaderField& h : request.all(HeaderId::kVia)) {
    if (first) {
      appendTopVia(out, request, h, options);
      first = false;
    } else {
      appendLine(out, "Via", h.value);
    }
  }
  if (const HeaderField* from = request.find(HeaderId::kFrom)) appendLine(out, "From", from->value);
  if (const HeaderField* to = request.find(HeaderId::kTo)) {
    out.append("To: ").append(to->value);
    const auto& parsed = request.to();
    // §8.2.6.2: a tag on every reply but 100, unless the request's To already has one.
    if (status > 100 && !options.toTag.empty() && parsed && parsed->tag.empty()) {
      out.append(";tag=").append(options.toTag);
    }
    out.append("\r\n");
  }
  if (const HeaderField* callId = request.find(HeaderId::kCallId)) {
    appendLine(out, "Call-ID", callId->value);
  }
  if (const HeaderField* cseq = request.find(HeaderId::kCSeq)) appendLine(out, "CSeq", cseq->value);
  for (std::string_view line : options.extraHeaders)
    out.append(line).append("\r\n");
  if (!options.body.empty() && !options.contentType.empty()) {
    appendLine(out, "Content-Type", options.contentType);
  }
  out.append("Content-Length: ");
  appendNumber(out, options.body.size());
  out.append("\r\n\r\n").append(options.body);
}

std::string_view defaultReasonPhrase(uint16_t status) noexcept {
  switch (status) {
    case 100:
      return "Trying";
    case 180:
      return "Ringing";
    case 181:
      return "Call Is Being Forwarded";
    case 182:
      return "Queued";
    case 183:
      return "Session Progress";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Moved Temporarily";
    case 305:
      return "Use Proxy";
    case 380:
      return "Alternative Service";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Unsupported URI Scheme";
    case 420:
      return "Bad Extension";
    case 421:
      return "Extension Required";
    case 423:
      return "Interval Too Brief";
    case 480:
      return "Temporarily Unavailable";
    case 481:
      return "Call/Transaction Does Not Exist";
    case 482:
      return "Loop Detected";
    case 483:
      return "Too Many Hops";
    case 484:
      return "Address Incomplete";
    case 485:
      return "Ambiguous";
    case 486:
      return "Busy Here";
    case 487:
      return "Request Terminated";
    case 488:
      return "Not Acceptable Here";
    case 491:
      return "Request Pending";
    case 493:
      return "Undecipherable";
    case 500:
      return "Server Internal Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Server Time-out";
    case 505:
      return "Version Not Supported";
    case 513:
      return "Message Too Large";
    case 600:
      return "Busy Everywhere";
    case 603:
      return "Decline";
    case 604:
      return "Does Not Exist Anywhere";
    case 606:
      return "Not Acceptable";
    default:
      return "Unknown";
  }
}

}  // namespace strowger::sip
