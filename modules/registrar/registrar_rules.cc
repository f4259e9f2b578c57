#include "registrar_rules.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"

namespace strowger::registrar {

using location::Binding;
using location::BindingChanges;

namespace {

// RFC 3261 §10.3 step 7 allows 423 only for an interval "smaller than one hour".
constexpr uint32_t kOneHour = 3600;
// A User-Agent is kept for display; a hostile one must not cost kilobytes per binding.
constexpr std::size_t kMaxUserAgentBytes = 256;

constexpr char kUpperHex[] = "0123456789ABCDEF";

char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

void appendLower(std::string& out, std::string_view s) {
  for (char c : s)
    out.push_back(lowerAscii(c));
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3261 §19.1.4: "Characters other than those in the reserved set are equivalent to their
// encoding". Reserved characters (and '%' itself) stay escaped, with upper-case hex so that
// "%3b" and "%3B" agree; every other escape is decoded.
void appendUserinfoKey(std::string& out, std::string_view s) {
  static constexpr std::string_view kKeepEscaped = ";/?:@&=+$,%";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexValue(s[i + 1]);
      int lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        char c = static_cast<char>(hi * 16 + lo);
        if (kKeepEscaped.find(c) != std::string_view::npos) {
          out.push_back('%');
          out.push_back(kUpperHex[hi]);
          out.push_back(kUpperHex[lo]);
        } else {
          out.push_back(c);
        }
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
}

void appendHost(std::string& out, const sip::HostPort& hp) {
  // Held without brackets; put them back so that "alice@[2001:db8::1]" reads as SIP writes it.
  if (hp.kind == sip::HostKind::kIpv6) {
    out.push_back('[');
    appendLower(out, hp.host);
    out.push_back(']');
  } else {
    appendLower(out, hp.host);
  }
}

void appendUnsigned(std::string& out, uint64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, end);
}

// q-values as RFC 3261 §20.10 writes them: "0.5", "0.05", "0"; "1" for 1000.
void appendQValue(std::string& out, uint16_t qMilli) {
  if (qMilli >= 1000) {
    out.push_back('1');
    return;
  }
  out.push_back('0');
  if (qMilli == 0) return;
  char digits[3] = {static_cast<char>('0' + qMilli / 100),
                    static_cast<char>('0' + qMilli / 10 % 10),
                    static_cast<char>('0' + qMilli % 10)};
  std::size_t n = 3;
  while (digits[n - 1] == '0')
    --n;
  out.push_back('.');
  out.append(digits, n);
}

// Cut at a UTF-8 character boundary, so that a truncated User-Agent is still valid text.
std::string_view truncateUtf8(std::string_view s, std::size_t maxBytes) {
  if (s.size() <= maxBytes) return s;
  std::size_t n = maxBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return s.substr(0, n);
}

Rejection rejection(uint16_t status, std::string_view reason) {
  return Rejection{status, reason, {}};
}

Rejection rejection(const sip::ParseError& e) {
  return Rejection{e.status, e.reason, {}};
}

// Text the registrar copies into its 200 (+sip.instance, Path) and into the Route of requests to
// the phone (Path) may hold no control character but HTAB and no line break but folding (CRLF
// and SP/HT): the parser tolerates a bare CR inside a header value, and a peer that took it for a
// line end would read headers of the registering UA's choosing in replies to other devices.
bool unsafeText(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r' && i + 2 < s.size() && s[i + 1] == '\n' &&
        (s[i + 2] == ' ' || s[i + 2] == '\t')) {
      ++i;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

bool hasTag(const std::vector<std::string_view>& tags, std::string_view tag) {
  return std::any_of(tags.begin(), tags.end(),
                     [tag](std::string_view t) { return sip::equalsIgnoreCase(t, tag); });
}

// The expiry of one Contact (RFC 3261 §10.3 step 7): its expires parameter, else the Expires
// header, else the default; then clamped to the settings. Empty optional: 423.
std::optional<uint32_t> contactExpires(const sip::Contact& c, std::optional<uint32_t> header,
                                       const RegistrarSettings& settings) {
  std::optional<uint32_t> asked = c.expires ? c.expires : header;
  uint32_t expires = asked.value_or(settings.defaultExpires);
  if (expires == 0) return 0u;
  // Only what the UA asked for can be too brief; the default is ours to honour. Between one hour
  // and a minimum set above it, 423 is not allowed: the interval is raised instead.
  if (asked && expires < settings.minExpires && expires < kOneHour) return std::nullopt;
  // Raise first, cap last: should the settings ever cross, the cap wins and the binding still
  // expires no later than the operator allows.
  expires = std::max(expires, settings.minExpires);
  expires = std::min(expires, settings.maxExpires);
  return expires;
}

const Binding* findBinding(const std::vector<Binding>& bindings, std::string_view id) {
  for (const Binding& b : bindings) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

bool namedByRequest(const ParsedRegister& request, std::string_view id) {
  return std::any_of(request.contacts.begin(), request.contacts.end(),
                     [id](const RegisteredContact& c) { return c.id == id; });
}

BindingChanges refuse(Decision& out, uint16_t status, std::string_view reason) {
  out = Decision{};
  out.status = status;
  out.reason = reason;
  return {};
}

}  // namespace

Expected<std::string, AorErrc> addressOfRecord(const sip::Uri& uri, bool useDomain) {
  if (!uri.isSip()) return unexpected(AorErrc::kNotSip);
  if (uri.user.empty()) return unexpected(AorErrc::kNoUser);
  // RFC 3261 §10.3 step 5: parameters removed, escapes converted to their unescaped form; the
  // user part stays case-sensitive (§19.1.4), the host does not.
  std::string aor = uri.unescapedUser();
  for (char c : aor) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return unexpected(AorErrc::kBadUser);
  }
  if (useDomain) {
    aor.push_back('@');
    appendHost(aor, uri.hostPort);
  }
  return aor;
}

Expected<std::string, AorErrc> requestAddressOfRecord(const sip::Message& request, bool useDomain) {
  const auto& uri = request.requestUri();
  if (!uri) return unexpected(AorErrc::kNotSip);
  return addressOfRecord(*uri, useDomain);
}

std::string contactKey(const sip::Uri& uri) {
  if (!uri.isSip()) return std::string(uri.raw);
  std::string key;
  key.reserve(uri.raw.size());
  key += uri.scheme == sip::UriScheme::kSips ? "sips:" : "sip:";
  if (uri.hasUserInfo) {
    appendUserinfoKey(key, uri.user);
    if (!uri.password.empty()) {
      key.push_back(':');
      appendUserinfoKey(key, uri.password);
    }
    key.push_back('@');
  }
  appendHost(key, uri.hostPort);
  // A URI without a port never equals one that names the default port (§19.1.4).
  if (uri.hostPort.hasPort) {
    key.push_back(':');
    appendUnsigned(key, uri.hostPort.port);
  }
  // These parameters make URIs differ when present in only one of them; any other parameter is
  // ignored unless present in both (§19.1.4). A canonical text cannot say "in both", so the
  // others never count: a UA adding ";ob" or a new ";rinstance" keeps its binding.
  for (std::string_view name : {"maddr", "method", "transport", "ttl", "user"}) {
    auto p = uri.params.find(name);
    if (!p) continue;
    key.push_back(';');
    key += name;
    if (p->hasValue) {
      key.push_back('=');
      appendLower(key, p->value);
    }
  }
  if (!uri.headers.empty()) {
    key.push_back('?');
    appendLower(key, uri.headers);
  }
  return key;
}

Expected<ParsedRegister, Rejection> parseRegister(const sip::Message& request, const Origin& origin,
                                                  const RegistrarSettings& settings) {
  using sip::HeaderId;
  ParsedRegister parsed;
  parsed.origin = origin;

  // Step 2: Require is processed as by any UAS (RFC 3261 §8.2.2.3). The only extension this
  // registrar implements is path, and only while it honours Path.
  const auto& require = request.optionTags(HeaderId::kRequire);
  if (!require) return unexpected(rejection(require.error()));
  std::string unsupported;
  for (std::string_view tag : *require) {
    if (settings.storePath && sip::equalsIgnoreCase(tag, "path")) continue;
    if (!unsupported.empty()) unsupported += ", ";
    unsupported += tag;
  }
  if (!unsupported.empty()) {
    return unexpected(Rejection{420, "Bad Extension", {"Unsupported: " + unsupported}});
  }

  // Step 5: the address of record, from To. A To this registrar cannot index (no user, not SIP)
  // is "not valid for the domain": 404.
  const auto& to = request.to();
  if (!to) return unexpected(rejection(to.error()));
  auto aor = addressOfRecord(to->uri, settings.useDomain);
  if (!aor) return unexpected(rejection(404, "Not Found"));
  parsed.aor = std::move(*aor);

  const auto& callId = request.callId();
  if (!callId) return unexpected(rejection(callId.error()));
  parsed.callId = std::string(*callId);
  const auto& cseq = request.cseq();
  if (!cseq) return unexpected(rejection(cseq.error()));
  parsed.cseq = cseq->number;

  // A malformed Expires is refused rather than guessed at (RFC 4475 §3.1.2.3): whether the UA
  // meant to remove its bindings or to keep them is exactly what it would tell us.
  std::optional<uint32_t> headerExpires;
  if (request.has(HeaderId::kExpires)) {
    const auto& e = request.expires();
    if (!e) return unexpected(rejection(e.error()));
    headerExpires = *e;
  }

  if (request.has(HeaderId::kContact)) {
    const auto& list = request.contacts();
    if (!list) return unexpected(rejection(list.error()));
    if (list->star) {
      // Step 6: `*` removes every binding, so it stands alone (the parser refuses it beside
      // other values) and needs an explicit Expires of zero.
      if (headerExpires != 0u) return unexpected(rejection(400, "Invalid Request"));
      parsed.star = true;
    }
    parsed.contacts.reserve(list->contacts.size());
    std::size_t nonZero = 0;
    bool anyRegId = false;
    for (const sip::Contact& c : list->contacts) {
      // Only SIP URIs can be routed to by a lookup.
      if (!c.address.uri.isSip()) return unexpected(rejection(400, "Unsupported Contact Scheme"));
      auto expires = contactExpires(c, headerExpires, settings);
      if (!expires) {
        return unexpected(Rejection{
            423, "Interval Too Brief", {"Min-Expires: " + std::to_string(settings.minExpires)}});
      }
      RegisteredContact rc;
      rc.uri = std::string(c.address.uri.raw);
      rc.expires = *expires;
      rc.qMilli = c.qMilli.value_or(1000);
      if (unsafeText(c.instance)) return unexpected(rejection(400, "Invalid +sip.instance"));
      rc.instance = std::string(c.instance);
      // RFC 5626 §6: without +sip.instance the reg-id is ignored.
      if (!rc.instance.empty()) rc.regId = c.regId;
      rc.id = location::bindingId(parsed.aor, rc.instance.empty() ? contactKey(c.address.uri) : "",
                                  rc.instance, rc.regId);
      if (rc.expires != 0) {
        ++nonZero;
        anyRegId = anyRegId || rc.regId.has_value();
      }
      // The same binding twice in one request: the later value is the one meant, as if the two
      // had arrived one after the other.
      auto same = std::find_if(parsed.contacts.begin(), parsed.contacts.end(),
                               [&rc](const RegisteredContact& o) { return o.id == rc.id; });
      if (same != parsed.contacts.end()) {
        *same = std::move(rc);
      } else {
        parsed.contacts.push_back(std::move(rc));
      }
    }
    // RFC 5626 §6: a flow (reg-id) is registered one per REGISTER; more than one binding added
    // or refreshed beside a reg-id is refused.
    if (anyRegId && nonZero > 1) {
      return unexpected(rejection(400, "Multiple Contacts With reg-id"));
    }
  }

  // RFC 3327 §5.3: the Path is stored with the bindings and, when the UA says it supports path,
  // copied into the 200 so that the UA learns the route its requests will come back over.
  if (settings.storePath && request.has(HeaderId::kPath)) {
    const auto& paths = request.paths();
    if (!paths) return unexpected(rejection(paths.error()));
    const auto& supported = request.optionTags(HeaderId::kSupported);
    if (!supported) return unexpected(rejection(supported.error()));
    bool uaSupportsPath = hasTag(*supported, "path");
    // Without an Unsupported header: the registrar supports path; the UA is the one that does not.
    if (!uaSupportsPath && settings.rejectPathWithoutSupport) {
      return unexpected(rejection(420, "Bad Extension"));
    }
    for (const sip::NameAddr& hop : *paths) {
      if (unsafeText(hop.raw)) return unexpected(rejection(400, "Invalid Path"));
      if (!parsed.path.empty()) parsed.path += ", ";
      parsed.path += hop.raw;
    }
    parsed.echoPath = uaSupportsPath;
  }

  if (const sip::HeaderField* ua = request.find(HeaderId::kUserAgent)) {
    parsed.userAgent = std::string(truncateUtf8(ua->value, kMaxUserAgentBytes));
  }
  return parsed;
}

location::BindingChanges decide(const ParsedRegister& request, const RegistrarSettings& settings,
                                const std::vector<Binding>& current, int64_t now, Decision& out) {
  out = Decision{};
  // A query reads; it does not sweep expired bindings either (the store's expiry timer does),
  // so that it never costs a database write.
  if (request.isQuery()) return {};

  const auto live = [now](const Binding& b) { return b.expiresAt > now; };
  // RFC 3261 §10.3 steps 6 and 7: a binding last written by this Call-ID with a higher CSeq
  // means this request is older than one already applied, and it fails as a whole. The RFC
  // names no status; 500 is what §12.2.2 answers an out-of-order request inside a dialog with,
  // the same situation. An equal CSeq is the same request again (a retransmission whose 200 was
  // lost, handled by a node without its transaction, or after a restart): applying it again
  // changes nothing, whereas refusing it would tell the UA a registration that succeeded failed.
  // A different Call-ID is a new registration run (a rebooted UA) and always wins. Expired
  // bindings are gone as far as the UA can know; they order nothing.
  const auto outOfOrder = [&](const Binding& b) {
    return live(b) && b.callId == request.callId && request.cseq < b.cseq;
  };

  BindingChanges changes;
  if (request.star) {
    // The same ordering rule for `*`: the RFC removes only on a higher CSeq, which an equal one
    // (a retransmission of this very `*`) is treated like, as above.
    if (std::any_of(current.begin(), current.end(), outOfOrder)) {
      return refuse(out, 500, "Out of Order");
    }
    changes.remove.reserve(current.size());
    for (const Binding& b : current) {
      changes.remove.push_back(b.id);
      ++(live(b) ? out.removed : out.expired);
    }
    return changes;
  }

  for (const RegisteredContact& c : request.contacts) {
    const Binding* b = findBinding(current, c.id);
    if (b && outOfOrder(*b)) return refuse(out, 500, "Out of Order");
  }

  // The limit counts what the AOR would hold afterwards. A request that adds nothing (refreshes,
  // removals) always passes, even over a limit lowered since: refusing a refresh would only let
  // the binding expire.
  std::size_t untouched = 0;  // live bindings this request does not name
  for (const Binding& b : current) {
    if (live(b) && !namedByRequest(request, b.id)) ++untouched;
  }
  std::size_t kept = 0;
  std::size_t added = 0;
  for (const RegisteredContact& c : request.contacts) {
    if (c.expires == 0) continue;
    ++kept;
    const Binding* b = findBinding(current, c.id);
    if (!b || !live(*b)) ++added;
  }
  std::size_t toDrop = 0;
  const std::size_t total = untouched + kept;
  if (settings.maxContacts != 0 && added != 0 && total > settings.maxContacts) {
    toDrop = total - settings.maxContacts;
    // 403, not the 503 some registrars send: 503 tells the UA to try another server (RFC 3261
    // §21.5.4), and every node of a cluster enforces the same limit; 403 says that repeating
    // the request will not help (§21.4.4). Dropping can only make room among the bindings this
    // request leaves alone.
    if (settings.onMaxContacts == RegistrarSettings::OnMaxContacts::kReject || toDrop > untouched) {
      return refuse(out, 403, "Too Many Registered Contacts");
    }
  }

  changes.upsert.reserve(kept);
  for (const RegisteredContact& c : request.contacts) {
    const Binding* existing = findBinding(current, c.id);
    if (c.expires == 0) {
      if (existing) {
        changes.remove.push_back(c.id);
        ++(live(*existing) ? out.removed : out.expired);
      }
      continue;
    }
    ++((existing && live(*existing)) ? out.refreshed : out.added);
    Binding& b = changes.upsert.emplace_back();
    b.id = c.id;
    b.aor = request.aor;
    b.contact = c.uri;
    b.path = request.path;
    b.callId = request.callId;
    b.cseq = request.cseq;
    b.qMilli = c.qMilli;
    b.instance = c.instance;
    b.regId = c.regId;
    b.userAgent = request.userAgent;
    b.protocol = request.origin.protocol;
    b.source = request.origin.source;
    b.listener = request.origin.listener;
    b.connection = request.origin.connection;
    b.node = settings.node;
    b.expiresAt = now + c.expires;
    b.updatedAt = now;
    b.natted = request.natted;
  }

  // Bindings expired at `now` go with this change; the 200 must not list them.
  for (const Binding& b : current) {
    if (!live(b) && !namedByRequest(request, b.id)) {
      changes.remove.push_back(b.id);
      ++out.expired;
    }
  }

  if (toDrop != 0) {
    std::vector<const Binding*> candidates;
    candidates.reserve(untouched);
    for (const Binding& b : current) {
      if (live(b) && !namedByRequest(request, b.id)) candidates.push_back(&b);
    }
    // Oldest update first; the ties broken so that every node drops the same ones.
    const auto older = [](const Binding* a, const Binding* b) {
      if (a->updatedAt != b->updatedAt) return a->updatedAt < b->updatedAt;
      if (a->expiresAt != b->expiresAt) return a->expiresAt < b->expiresAt;
      return a->id < b->id;
    };
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(toDrop),
                      candidates.end(), older);
    for (std::size_t i = 0; i < toDrop; ++i)
      changes.remove.push_back(candidates[i]->id);
    out.dropped = static_cast<uint32_t>(toDrop);
  }
  return changes;
}

std::string formatHttpDate(int64_t unixSeconds);

std::vector<std::string> okHeaderLines(const ParsedRegister& request,
                                       const std::vector<Binding>& bindings, int64_t now) {
  std::vector<std::string> lines;
  lines.reserve(bindings.size() + 2);
  for (const Binding& b : bindings) {
    if (b.expiresAt <= now) continue;
    std::string line;
    line.reserve(b.contact.size() + b.instance.size() + 64);
    line += "Contact: <";
    line += b.contact;
    line += ">;expires=";
    appendUnsigned(line, static_cast<uint64_t>(b.expiresAt - now));
    if (b.qMilli != 1000) {
      line += ";q=";
      appendQValue(line, b.qMilli);
    }
    if (!b.instance.empty()) {
      line += ";+sip.instance=\"";
      line += b.instance;
      line += '"';
      if (b.regId) {
        line += ";reg-id=";
        appendUnsigned(line, *b.regId);
      }
    }
    lines.push_back(std::move(line));
  }
  // RFC 3261 §10.3 step 8: a Date, so that a UA without a clock can set one.
  lines.push_back("Date: " + httpDate(now));
  // RFC 3327 §5.3 asks only for the copy; no Require: path, which the UA did not need to ask for.
  if (request.echoPath && !request.path.empty()) lines.push_back("Path: " + request.path);
  return lines;
}

std::string httpDate(int64_t unixSeconds) {
  // Every 200 carries one; within a second they are all the same.
  thread_local int64_t cachedSecond = INT64_MIN;
  thread_local std::string cached;
  if (unixSeconds == cachedSecond) return cached;
  cached = formatHttpDate(unixSeconds);
  cachedSecond = unixSeconds;
  return cached;
}

std::string formatHttpDate(int64_t unixSeconds) {
  // Fixed English names: strftime's %a and %b follow the locale.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unixSeconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
    return "Thu, 01 Jan 1970 00:00:00 GMT";
  }
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                        tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                        tm.tm_sec);
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace strowger::registrar
