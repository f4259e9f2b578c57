#include "strowger/sip/sanity.h"

#include <algorithm>

namespace strowger::sip {
namespace {

template <class T>
bool failed(const ParseResult<T>& r, ParseError* out) {
  if (r) return false;
  *out = r.error();
  return true;
}

}  // namespace

Expected<void, ParseError> checkRequest(const Message& request, const SanityOptions& options) {
  ParseError e;
  const auto& uri = request.requestUri();
  if (failed(uri, &e)) return unexpected(e);
  // RFC 3261 §16.3 / RFC 4475 §3.3.2: a scheme the proxy cannot route is 416; never fall back
  // to routing on To.
  if (uri->scheme == UriScheme::kOther) {
    return unexpected(ParseError{ParseErrc::kUnsupportedUriScheme, "Unsupported URI Scheme", 416});
  }
  if (failed(request.vias(), &e) || failed(request.from(), &e) || failed(request.to(), &e) ||
      failed(request.callId(), &e) || failed(request.cseq(), &e)) {
    return unexpected(e);
  }
  if (request.cseq()->methodText != request.methodText()) {
    // For an unknown method 501 is the more future-proof answer (RFC 4475 §3.1.2.18).
    uint16_t status = request.method() == Method::kUnknown ? 501 : 400;
    return unexpected(
        ParseError{ParseErrc::kCSeqMethodMismatch, "CSeq method does not match", status});
  }
  if (request.has(HeaderId::kMaxForwards) && failed(request.maxForwards(), &e)) {
    return unexpected(e);
  }
  const auto& proxyRequire = request.optionTags(HeaderId::kProxyRequire);
  if (failed(proxyRequire, &e)) return unexpected(e);
  if (!unsupportedProxyRequire(request, options.supportedProxyRequire).empty()) {
    return unexpected(ParseError{ParseErrc::kBadExtension, "Bad Extension", 420});
  }
  return {};
}

Expected<void, ParseError> checkResponse(const Message& response) {
  ParseError e;
  if (failed(response.vias(), &e) || failed(response.from(), &e) || failed(response.to(), &e) ||
      failed(response.callId(), &e) || failed(response.cseq(), &e)) {
    return unexpected(e);
  }
  return {};
}

std::vector<std::string_view> unsupportedProxyRequire(const Message& request,
                                                      std::span<const std::string_view> supported) {
  std::vector<std::string_view> unsupported;
  const auto& tags = request.optionTags(HeaderId::kProxyRequire);
  if (!tags) return unsupported;
  for (std::string_view tag : *tags) {
    if (std::find(supported.begin(), supported.end(), tag) == supported.end()) {
      unsupported.push_back(tag);
    }
  }
  return unsupported;
}

}  // namespace strowger::sip
