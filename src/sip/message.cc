#include "strowger/sip/message.h"

#include <cstring>

#include "chars.h"

namespace strowger::sip {
namespace {

ParseError err(ParseErrc code, std::string_view reason, uint16_t status = 400) {
  return {code, reason, status};
}

// Finds the end of the line starting at `from`: the offset of its '\n', or npos.
inline std::size_t findLf(std::string_view b, std::size_t from) {
  if (from >= b.size()) return std::string_view::npos;
  const void* p = std::memchr(b.data() + from, '\n', b.size() - from);
  return p ? static_cast<std::size_t>(static_cast<const char*>(p) - b.data())
           : std::string_view::npos;
}

bool isSipVersion(std::string_view v) {
  return equalsIgnoreCase(v, "SIP/2.0");
}

// "SIP/" 1*DIGIT "." 1*DIGIT: a version we understand the shape of but do not speak.
bool looksLikeSipVersion(std::string_view v) {
  if (v.size() < 7 || !equalsIgnoreCase(v.substr(0, 4), "SIP/")) return false;
  auto dot = v.find('.', 4);
  if (dot == std::string_view::npos || dot == 4 || dot + 1 == v.size()) return false;
  for (std::size_t i = 4; i < v.size(); ++i) {
    if (i != dot && !chars::isDigit(v[i])) return false;
  }
  return true;
}

}  // namespace

// Typed values, filled on first access. Each is reset by parse().
struct Message::Cache {
  std::optional<ParseResult<Uri>> requestUri;
  std::optional<ParseResult<Via>> topVia;
  std::optional<ParseResult<std::vector<Via>>> vias;
  std::optional<ParseResult<NameAddr>> from;
  std::optional<ParseResult<NameAddr>> to;
  std::optional<ParseResult<std::string_view>> callId;
  std::optional<ParseResult<CSeq>> cseq;
  std::optional<ParseResult<uint32_t>> maxForwards;
  std::optional<ParseResult<uint32_t>> expires;
  std::optional<ParseResult<uint32_t>> contentLength;
  std::optional<ParseResult<ContentType>> contentType;
  std::optional<ParseResult<ContactList>> contacts;
  std::optional<ParseResult<std::vector<NameAddr>>> routes;
  std::optional<ParseResult<std::vector<NameAddr>>> recordRoutes;
  std::optional<ParseResult<std::vector<NameAddr>>> paths;
  std::optional<ParseResult<std::vector<Credentials>>> authorization;
  std::optional<ParseResult<std::vector<Credentials>>> proxyAuthorization;
  std::optional<ParseResult<std::vector<Challenge>>> wwwAuthenticate;
  std::optional<ParseResult<std::vector<Challenge>>> proxyAuthenticate;
  std::optional<ParseResult<std::vector<std::string_view>>> optionTags[4];

  // Resets only what was filled: most messages touch a handful of these.
  void clear() {
    requestUri.reset();
    topVia.reset();
    vias.reset();
    from.reset();
    to.reset();
    callId.reset();
    cseq.reset();
    maxForwards.reset();
    expires.reset();
    contentLength.reset();
    contentType.reset();
    contacts.reset();
    routes.reset();
    recordRoutes.reset();
    paths.reset();
    authorization.reset();
    proxyAuthorization.reset();
    wwwAuthenticate.reset();
    proxyAuthenticate.reset();
    for (auto& tags : optionTags)
      tags.reset();
  }
};

void Message::CacheDeleter::operator()(Cache* c) const noexcept {
  delete c;
}

Message::Message() {
  reset();
}
Message::~Message() = default;
Message::Message(Message&&) noexcept = default;
Message& Message::operator=(Message&&) noexcept = default;

Message::Cache& Message::cache() const {
  if (!cache_) cache_.reset(new Cache());
  return *cache_;
}

void Message::reset() {
  bytes_ = {};
  startLine_ = methodText_ = requestUriText_ = version_ = reason_ = {};
  bodyOffset_ = headersEnd_ = 0;
  trailing_ = 0;
  statusCode_ = 0;
  method_ = Method::kUnknown;
  isRequest_ = false;
  headers_.clear();
  first_.fill(kNoHeader);
  last_.fill(kNoHeader);
  if (cache_) cache_->clear();
}

// Request-Line = Method SP Request-URI SP SIP-Version CRLF
// Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
// Exactly one SP between elements: extra or trailing SP is malformed (RFC 4475 §3.1.2.9, .10),
// and a forwarded request must not carry it anyway.
Expected<void, ParseError> Message::parseStartLine(std::string_view line) {
  startLine_ = line;
  if (line.size() >= 4 && equalsIgnoreCase(line.substr(0, 4), "SIP/")) {
    isRequest_ = false;
    auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos)
      return unexpected(err(ParseErrc::kBadStartLine, "Bad status line"));
    version_ = line.substr(0, sp1);
    if (!isSipVersion(version_)) return unexpected(err(ParseErrc::kBadVersion, "Bad SIP version"));
    std::string_view rest = line.substr(sp1 + 1);
    auto sp2 = rest.find(' ');
    std::string_view code = rest.substr(0, sp2);
    // Status-Code = 3DIGIT; anything longer is not a code (RFC 4475 §3.1.2.19).
    if (code.size() != 3 || !chars::isDigit(code[0]) || !chars::isDigit(code[1]) ||
        !chars::isDigit(code[2])) {
      return unexpected(err(ParseErrc::kBadStatusCode, "Bad status code"));
    }
    statusCode_ =
        static_cast<uint16_t>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
    if (statusCode_ < 100 || statusCode_ > 699) {
      return unexpected(err(ParseErrc::kBadStatusCode, "Bad status code"));
    }
    reason_ = sp2 == std::string_view::npos ? std::string_view{} : rest.substr(sp2 + 1);
    return {};
  }
  isRequest_ = true;
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) {
    return unexpected(err(ParseErrc::kBadStartLine, "Bad request line"));
  }
  methodText_ = line.substr(0, sp1);
  for (char c : methodText_) {
    if (!chars::isToken(c)) return unexpected(err(ParseErrc::kBadStartLine, "Bad method"));
  }
  // Known before the rest of the line is checked: a reply to a broken request must still know
  // it was an ACK, which is never answered.
  method_ = methodFromToken(methodText_);
  std::string_view rest = line.substr(sp1 + 1);
  auto sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos || sp2 == 0) {
    return unexpected(err(ParseErrc::kBadStartLine, "Bad request line"));
  }
  requestUriText_ = rest.substr(0, sp2);
  version_ = rest.substr(sp2 + 1);
  if (!isSipVersion(version_)) {
    if (looksLikeSipVersion(version_)) {
      return unexpected(err(ParseErrc::kBadVersion, "Version Not Supported", 505));
    }
    return unexpected(err(ParseErrc::kBadStartLine, "Bad request line"));
  }
  // The Request-URI's characters are checked by parseUri() when it is first used.
  return {};
}

Expected<void, ParseError> Message::parse(std::string_view input, Framing framing,
                                          const ParseLimits& limits) {
  return index(input, framing, limits, false);
}

Expected<void, ParseError> Message::parseForReply(std::string_view input,
                                                  const ParseLimits& limits) {
  if (input.size() > limits.maxMessageBytes) input = input.substr(0, limits.maxMessageBytes);
  auto r = index(input, Framing::kDatagram, limits, true);
  if (r && !isRequest_) {
    reset();
    return unexpected(err(ParseErrc::kBadStartLine, "Not a request"));
  }
  return r;
}

Expected<void, ParseError> Message::index(std::string_view input, Framing framing,
                                          const ParseLimits& limits, bool lenient) {
  reset();
  auto fail = [this](ParseError e) {
    reset();
    return unexpected(e);
  };
  if (input.size() > limits.maxMessageBytes) {
    return fail(err(ParseErrc::kTooLarge, "Message Too Large", 513));
  }
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  std::size_t start = 0;
  while (start < input.size() && (input[start] == '\r' || input[start] == '\n'))
    ++start;
  if (start == input.size()) return fail(err(ParseErrc::kEmpty, "Empty message"));
  const std::string_view b = input.substr(start);
  const std::size_t n = b.size();

  // Start line.
  std::size_t lf = findLf(b, 0);
  if (lf == std::string_view::npos) return fail(err(ParseErrc::kTruncated, "Truncated message"));
  std::size_t lineEnd = (lf > 0 && b[lf - 1] == '\r') ? lf - 1 : lf;
  if (lineEnd > limits.maxLineBytes && !lenient) {
    return fail(err(ParseErrc::kLineTooLong, "Line Too Long"));
  }
  if (auto r = parseStartLine(b.substr(0, lineEnd)); !r) {
    if (!lenient || !isRequest_) return fail(r.error());
  }

  // Header lines, each with its folded continuations (lines starting with SP or HTAB).
  std::size_t p = lf + 1;
  bool terminated = false;
  while (p < n) {
    char c = b[p];
    if (c == '\r' && p + 1 < n && b[p + 1] == '\n') {
      p += 2;
      terminated = true;
      break;
    }
    if (c == '\n') {
      p += 1;
      terminated = true;
      break;
    }
    if (c == ' ' || c == '\t') {
      if (lenient) break;
      return fail(err(ParseErrc::kBadHeaderLine, "Bad header line"));
    }
    const std::size_t lineBegin = p;
    std::size_t eol = findLf(b, p);
    while (eol != std::string_view::npos && eol + 1 < n &&
           (b[eol + 1] == ' ' || b[eol + 1] == '\t')) {
      eol = findLf(b, eol + 1);
    }
    // The last header of a datagram may lack its line end (RFC 4475 §3.1.2.15).
    std::size_t next = eol == std::string_view::npos ? n : eol + 1;
    std::size_t contentEnd = eol == std::string_view::npos ? n : eol;
    if (contentEnd > lineBegin && b[contentEnd - 1] == '\r') --contentEnd;
    if (contentEnd - lineBegin > limits.maxLineBytes) {
      if (lenient) break;
      return fail(err(ParseErrc::kLineTooLong, "Header Too Long"));
    }
    if (headers_.size() >= limits.maxHeaders) {
      if (lenient) break;
      return fail(err(ParseErrc::kTooManyHeaders, "Too Many Headers"));
    }
    // header-name HCOLON: a token, optional SP/HTAB, ':'. The colon is found with memchr; a
    // name that matches a known header is a valid token, so only unknown names are checked
    // character by character.
    const void* colonPtr = std::memchr(b.data() + lineBegin, ':', contentEnd - lineBegin);
    if (!colonPtr) {
      if (lenient) break;
      return fail(err(ParseErrc::kBadHeaderLine, "Bad header line"));
    }
    const std::size_t colon =
        static_cast<std::size_t>(static_cast<const char*>(colonPtr) - b.data());
    std::size_t nameEnd = colon;
    while (nameEnd > lineBegin && (b[nameEnd - 1] == ' ' || b[nameEnd - 1] == '\t'))
      --nameEnd;
    HeaderField h;
    h.name = b.substr(lineBegin, nameEnd - lineBegin);
    h.id = headerIdFromName(h.name);
    if (h.id == HeaderId::kOther && !chars::allToken(h.name)) {
      if (lenient) break;
      return fail(err(ParseErrc::kBadHeaderLine, "Bad header line"));
    }
    h.value = trimLws(b.substr(colon + 1, contentEnd - colon - 1));
    h.lineBegin = static_cast<uint32_t>(lineBegin);
    h.lineEnd = static_cast<uint32_t>(next);
    auto index = static_cast<uint16_t>(headers_.size());
    auto id = idx(h.id);
    if (first_[id] == kNoHeader) {
      first_[id] = index;
    } else {
      headers_[last_[id]].nextSame = index;
    }
    last_[id] = index;
    headers_.push_back(h);
    p = next;
  }
  if (!terminated && framing == Framing::kStream) {
    return fail(err(ParseErrc::kTruncated, "Truncated message"));
  }
  headersEnd_ = static_cast<uint32_t>(terminated ? p - ((p >= 2 && b[p - 2] == '\r') ? 2 : 1) : p);
  const std::size_t bodyStart = p;

  // Body: Content-Length octets; without it, the rest of a datagram (RFC 3261 §18.3).
  std::size_t bodyLength = n - bodyStart;
  if (lenient) {
    bodyLength = 0;  // the reply needs headers only
  } else if (uint16_t cl = first_[idx(HeaderId::kContentLength)]; cl != kNoHeader) {
    auto length = parseContentLength(headers_[cl].value);
    if (!length) return fail(length.error());
    // A repeated Content-Length makes the framing ambiguous: refuse it (RFC 4475 §3.3.9).
    if (headers_[cl].nextSame != kNoHeader) {
      return fail(err(ParseErrc::kMultipleContentLength, "Multiple Content-Length"));
    }
    if (*length > n - bodyStart) {
      return fail(err(ParseErrc::kTruncated, "Content-Length larger than message"));
    }
    bodyLength = *length;
  } else if (framing == Framing::kStream) {
    return fail(err(ParseErrc::kBadContentLength, "Missing Content-Length"));
  }
  bytes_ = b.substr(0, bodyStart + bodyLength);
  bodyOffset_ = static_cast<uint32_t>(bodyStart);
  trailing_ = n - bytes_.size();
  return {};
}

const HeaderField* Message::find(HeaderId id) const noexcept {
  uint16_t i = first_[idx(id)];
  return i == kNoHeader ? nullptr : &headers_[i];
}

const HeaderField* Message::find(std::string_view name) const noexcept {
  HeaderId id = headerIdFromName(name);
  if (id != HeaderId::kOther) return find(id);
  for (uint16_t i = first_[idx(HeaderId::kOther)]; i != kNoHeader; i = headers_[i].nextSame) {
    if (equalsIgnoreCase(headers_[i].name, name)) return &headers_[i];
  }
  return nullptr;
}

const HeaderField* Message::next(const HeaderField& h) const noexcept {
  if (h.nextSame == kNoHeader) return nullptr;
  const HeaderField* n = &headers_[h.nextSame];
  if (h.id != HeaderId::kOther) return n;
  // Unknown headers share one chain; keep to the same name.
  while (n && !equalsIgnoreCase(n->name, h.name)) {
    n = n->nextSame == kNoHeader ? nullptr : &headers_[n->nextSame];
  }
  return n;
}

std::size_t Message::count(HeaderId id) const noexcept {
  std::size_t c = 0;
  for (uint16_t i = first_[idx(id)]; i != kNoHeader; i = headers_[i].nextSame)
    ++c;
  return c;
}

const HeaderField* Message::single(HeaderId id, ParseError* error) const {
  const HeaderField* h = find(id);
  if (!h) {
    *error = err(ParseErrc::kMissingHeader, "Missing header");
    return nullptr;
  }
  if (h->nextSame != kNoHeader) {
    *error = err(ParseErrc::kDuplicateHeader, "Duplicate header");
    return nullptr;
  }
  return h;
}

namespace {

// Runs `parse` on the single header `id` of `m`, or reports why there is none to parse.
template <class T, class Fn>
ParseResult<T> parseSingle(const HeaderField* h, const ParseError& missing, Fn&& parse) {
  if (!h) return unexpected(missing);
  return parse(h->value);
}

}  // namespace

const ParseResult<Uri>& Message::requestUri() const {
  auto& slot = cache().requestUri;
  if (!slot) {
    if (!isRequest_) {
      slot.emplace(unexpected(err(ParseErrc::kBadStartLine, "Not a request")));
    } else {
      auto uri = parseUri(requestUriText_);
      if (uri && uri->isSip() && !uri->headers.empty()) {
        // Headers are not allowed in a Request-URI (RFC 3261 §19.1.5, RFC 4475 §3.1.2.11).
        slot.emplace(unexpected(err(ParseErrc::kBadUri, "Headers in Request-URI")));
      } else {
        slot.emplace(std::move(uri));
      }
    }
  }
  return *slot;
}

const ParseResult<Via>& Message::topVia() const {
  auto& slot = cache().topVia;
  if (!slot) {
    const HeaderField* h = find(HeaderId::kVia);
    if (!h) {
      slot.emplace(unexpected(err(ParseErrc::kMissingHeader, "Missing Via")));
    } else {
      // Only the first via-parm of the first line: the rest is never looked at on the hot path.
      // A quoted parameter value may hide a comma; only then is the full list splitter needed.
      std::string_view value = h->value;
      std::size_t cut = value.find(',');
      if (value.substr(0, cut).find('"') == std::string_view::npos) {
        slot.emplace(parseVia(value.substr(0, cut)));
      } else {
        std::string_view first;
        bool found = false;
        bool balanced = forEachListElement(value, [&](std::string_view e) {
          if (!found) {
            first = e;
            found = true;
          }
        });
        if (!balanced) {
          slot.emplace(unexpected(err(ParseErrc::kBadVia, "Bad Via")));
        } else {
          slot.emplace(parseVia(first));
        }
      }
    }
  }
  return *slot;
}

const ParseResult<std::vector<Via>>& Message::vias() const {
  auto& slot = cache().vias;
  if (!slot) {
    std::vector<Via> list;
    ParseResult<std::vector<Via>> result{std::vector<Via>{}};
    if (!has(HeaderId::kVia)) {
      result = unexpected(err(ParseErrc::kMissingHeader, "Missing Via"));
    } else {
      for (const HeaderField& h : all(HeaderId::kVia)) {
        if (auto r = parseViaList(h.value, list); !r) {
          result = unexpected(r.error());
          break;
        }
      }
      if (result) result = std::move(list);
    }
    slot.emplace(std::move(result));
  }
  return *slot;
}

namespace {
// parseNameAddr refuses a second top-level value (a ',' after the first is neither a parameter
// nor part of a display name), so one From or To line cannot smuggle in two (RFC 4475 §3.3.8).
ParseResult<NameAddr> parseFromTo(const HeaderField* h, const ParseError& why) {
  if (!h) return unexpected(why);
  return parseNameAddr(h->value);
}
}  // namespace

const ParseResult<NameAddr>& Message::from() const {
  auto& slot = cache().from;
  if (!slot) {
    ParseError why;
    const HeaderField* h = single(HeaderId::kFrom, &why);
    slot.emplace(parseFromTo(h, why));
  }
  return *slot;
}

const ParseResult<NameAddr>& Message::to() const {
  auto& slot = cache().to;
  if (!slot) {
    ParseError why;
    const HeaderField* h = single(HeaderId::kTo, &why);
    slot.emplace(parseFromTo(h, why));
  }
  return *slot;
}

const ParseResult<std::string_view>& Message::callId() const {
  auto& slot = cache().callId;
  if (!slot) {
    ParseError why;
    slot.emplace(parseSingle<std::string_view>(single(HeaderId::kCallId, &why), why, parseCallId));
  }
  return *slot;
}

const ParseResult<CSeq>& Message::cseq() const {
  auto& slot = cache().cseq;
  if (!slot) {
    ParseError why;
    slot.emplace(parseSingle<CSeq>(single(HeaderId::kCSeq, &why), why, parseCSeq));
  }
  return *slot;
}

const ParseResult<uint32_t>& Message::maxForwards() const {
  auto& slot = cache().maxForwards;
  if (!slot) {
    ParseError why;
    slot.emplace(
        parseSingle<uint32_t>(single(HeaderId::kMaxForwards, &why), why, parseMaxForwards));
  }
  return *slot;
}

const ParseResult<uint32_t>& Message::expires() const {
  auto& slot = cache().expires;
  if (!slot) {
    ParseError why;
    slot.emplace(parseSingle<uint32_t>(single(HeaderId::kExpires, &why), why, parseExpires));
  }
  return *slot;
}

const ParseResult<uint32_t>& Message::contentLength() const {
  auto& slot = cache().contentLength;
  if (!slot) {
    // parse() has already refused repeated or malformed values.
    const HeaderField* h = find(HeaderId::kContentLength);
    if (!h) {
      slot.emplace(unexpected(err(ParseErrc::kMissingHeader, "Missing Content-Length")));
    } else {
      slot.emplace(parseContentLength(h->value));
    }
  }
  return *slot;
}

const ParseResult<ContentType>& Message::contentType() const {
  auto& slot = cache().contentType;
  if (!slot) {
    ParseError why;
    slot.emplace(
        parseSingle<ContentType>(single(HeaderId::kContentType, &why), why, parseContentType));
  }
  return *slot;
}

const ParseResult<ContactList>& Message::contacts() const {
  auto& slot = cache().contacts;
  if (!slot) {
    ContactList list;
    ParseResult<ContactList> result{ContactList{}};
    for (const HeaderField& h : all(HeaderId::kContact)) {
      if (auto r = parseContactList(h.value, list); !r) {
        result = unexpected(r.error());
        break;
      }
    }
    if (result) result = std::move(list);
    slot.emplace(std::move(result));
  }
  return *slot;
}

namespace {
ParseResult<std::vector<NameAddr>> nameAddrs(const Message& m, HeaderId id) {
  std::vector<NameAddr> list;
  for (const HeaderField& h : m.all(id)) {
    if (auto r = parseNameAddrList(h.value, list); !r) return unexpected(r.error());
  }
  return list;
}
}  // namespace

const ParseResult<std::vector<NameAddr>>& Message::routes() const {
  auto& slot = cache().routes;
  if (!slot) slot.emplace(nameAddrs(*this, HeaderId::kRoute));
  return *slot;
}

const ParseResult<std::vector<NameAddr>>& Message::recordRoutes() const {
  auto& slot = cache().recordRoutes;
  if (!slot) slot.emplace(nameAddrs(*this, HeaderId::kRecordRoute));
  return *slot;
}

const ParseResult<std::vector<NameAddr>>& Message::paths() const {
  auto& slot = cache().paths;
  if (!slot) slot.emplace(nameAddrs(*this, HeaderId::kPath));
  return *slot;
}

const ParseResult<std::vector<Credentials>>& Message::credentials(HeaderId id) const {
  static const ParseResult<std::vector<Credentials>> kWrongId =
      unexpected(ParseError{ParseErrc::kBadAuthorization, "Not a credentials header", 400});
  std::optional<ParseResult<std::vector<Credentials>>>* slot = nullptr;
  if (id == HeaderId::kAuthorization)
    slot = &cache().authorization;
  else if (id == HeaderId::kProxyAuthorization)
    slot = &cache().proxyAuthorization;
  else
    return kWrongId;
  if (!*slot) {
    std::vector<Credentials> list;
    ParseResult<std::vector<Credentials>> result{std::vector<Credentials>{}};
    for (const HeaderField& h : all(id)) {
      auto c = parseCredentials(h.value);
      if (!c) {
        result = unexpected(c.error());
        break;
      }
      list.push_back(std::move(*c));
    }
    if (result) result = std::move(list);
    slot->emplace(std::move(result));
  }
  return **slot;
}

const ParseResult<std::vector<Challenge>>& Message::challenges(HeaderId id) const {
  static const ParseResult<std::vector<Challenge>> kWrongId =
      unexpected(ParseError{ParseErrc::kBadChallenge, "Not a challenge header", 400});
  std::optional<ParseResult<std::vector<Challenge>>>* slot = nullptr;
  if (id == HeaderId::kWwwAuthenticate)
    slot = &cache().wwwAuthenticate;
  else if (id == HeaderId::kProxyAuthenticate)
    slot = &cache().proxyAuthenticate;
  else
    return kWrongId;
  if (!*slot) {
    std::vector<Challenge> list;
    ParseResult<std::vector<Challenge>> result{std::vector<Challenge>{}};
    for (const HeaderField& h : all(id)) {
      auto c = parseChallenge(h.value);
      if (!c) {
        result = unexpected(c.error());
        break;
      }
      list.push_back(std::move(*c));
    }
    if (result) result = std::move(list);
    slot->emplace(std::move(result));
  }
  return **slot;
}

const ParseResult<std::vector<std::string_view>>& Message::optionTags(HeaderId id) const {
  static const ParseResult<std::vector<std::string_view>> kWrongId =
      unexpected(ParseError{ParseErrc::kBadOptionTag, "Not an option-tag header", 400});
  int which = id == HeaderId::kSupported      ? 0
              : id == HeaderId::kRequire      ? 1
              : id == HeaderId::kProxyRequire ? 2
              : id == HeaderId::kUnsupported  ? 3
                                              : -1;
  if (which < 0) return kWrongId;
  auto& slot = cache().optionTags[which];
  if (!slot) {
    std::vector<std::string_view> tags;
    ParseResult<std::vector<std::string_view>> result{std::vector<std::string_view>{}};
    for (const HeaderField& h : all(id)) {
      if (auto r = parseOptionTags(h.value, tags); !r) {
        result = unexpected(r.error());
        break;
      }
    }
    if (result) result = std::move(tags);
    slot.emplace(std::move(result));
  }
  return *slot;
}

}  // namespace strowger::sip
