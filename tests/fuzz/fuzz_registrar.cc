// libFuzzer target: the registrar's rules (modules/registrar/registrar_rules.h) on arbitrary bytes.
// The input is parsed as a SIP message, as a datagram and then stream-framed (as
// fuzz_sip_parser does); when it is a REGISTER, parseRegister() runs with a fixed Origin under
// three fixed settings profiles, and what it accepts goes through decide() against a small
// simulated store, in the sequence a registrar sees:
//
//   1. no bindings;
//   2. the same request again at the same instant, over what step 1 left (a retransmission);
//   3. the same Call-ID with a lower CSeq (out of order) over the same bindings;
//   4. another Call-ID with a lower CSeq (a rebooted UA) over the same bindings;
//   5. a crowded AOR: copies of step 1's bindings under other ids, older, plus an expired one
//      (the max_contacts reject/drop-oldest paths and the sweep of expired bindings);
//   6. step 1's bindings long after they expired;
//
// each followed by okHeaderLines() over the resulting bindings. When the request passes the
// proxy's sanity checks the 200 is built with those lines and parsed back.
//
// Besides crashes and sanitizer reports, the target traps (__builtin_trap) when an invariant
// breaks, after printing it:
//   - a refusal of parseRegister is not 4xx-6xx with a reason, or a header line holds CR or LF;
//   - an accepted request has an empty AOR, a contact without id, two contacts with the same
//     id, a reg-id without an instance, `*` with contacts, or an expiry outside the settings;
//   - decide() refuses (not 200) with changes, or with another status than 403 or 500;
//   - an upsert has an empty id, an AOR other than the request's, expiresAt <= now, or an id
//     seen twice (among the upserts, or also among the removals); a removal names a binding
//     that is not there, or twice; the Decision's counters disagree with the changes;
//   - a query changes anything; after `*` bindings are left; a Contact of the request is not
//     in the resulting bindings as asked (or still there after expires=0);
//   - the AOR holds more than max_contacts after a request that added bindings; drop-oldest
//     dropped a binding newer than one it kept; an expired binding survives a change;
//   - step 2 is refused or changes the bindings at all; step 3 is not refused 500 when step 1
//     stored bindings; step 4 is refused 500;
//   - okHeaderLines() lists another number of Contacts than unexpired bindings, has no Date
//     or two, a Path when it must not (or none when it must), a line with a bare CR or LF;
//   - the 200 built from a sane request does not parse, or its Contacts differ from the
//     bindings (URI, expires, q, +sip.instance, reg-id), or its Path does not parse.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "registrar_rules.h"
#include "strowger/location/binding.h"
#include "strowger/net/socket_address.h"
#include "strowger/sip/message.h"
#include "strowger/sip/reply.h"
#include "strowger/sip/sanity.h"

namespace {

using strowger::location::Binding;
using strowger::location::BindingChanges;
using strowger::registrar::Decision;
using strowger::registrar::Origin;
using strowger::registrar::ParsedRegister;
using strowger::registrar::RegistrarSettings;

constexpr int64_t kNow = 1'700'000'000;

// Prints what broke and where, then traps.
[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz_registrar: invariant violated: %s\n", what);
  if (!detail.empty()) {
    std::fprintf(stderr, "  %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  __builtin_trap();
}

#define REQUIRE(cond, what)             \
  do {                                  \
    if (!(cond)) violated(what, #cond); \
  } while (0)

const Origin& origin() {
  static const Origin o = [] {
    Origin x;
    x.protocol = strowger::transport::Protocol::kUdp;
    x.source = *strowger::net::SocketAddress::parse("192.0.2.10", 5070);
    x.listener = 0;
    x.connection = 0;
    return x;
  }();
  return o;
}

// Three fixed profiles: the defaults with a limit that refuses; a small limit that drops the
// oldest, no domain, no minimum, Path stored without support; no limit, Path ignored, and a
// minimum above one hour (raised, never 423).
const std::vector<RegistrarSettings>& profiles() {
  static const std::vector<RegistrarSettings> all = [] {
    std::vector<RegistrarSettings> v(3);
    v[0].maxContacts = 3;
    v[0].node = "fuzz-a";
    v[1].defaultExpires = 600;
    v[1].minExpires = 0;
    v[1].maxExpires = 3600;
    v[1].maxContacts = 2;
    v[1].onMaxContacts = RegistrarSettings::OnMaxContacts::kDropOldest;
    v[1].useDomain = false;
    v[1].rejectPathWithoutSupport = false;
    v[1].node = "fuzz-b";
    v[2].defaultExpires = 5000;
    v[2].minExpires = 4000;
    v[2].maxExpires = 7200;
    v[2].maxContacts = 0;
    v[2].storePath = false;
    v[2].node = "fuzz-c";
    return v;
  }();
  return all;
}

bool live(const Binding& b, int64_t now) {
  return b.expiresAt > now;
}

std::vector<Binding> unexpired(const std::vector<Binding>& bindings, int64_t now) {
  std::vector<Binding> out;
  for (const Binding& b : bindings) {
    if (live(b, now)) out.push_back(b);
  }
  return out;
}

const Binding* findId(const std::vector<Binding>& bindings, std::string_view id) {
  for (const Binding& b : bindings) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

// The memory store's applyChanges: removals first, then upserts by id.
std::vector<Binding> apply(std::vector<Binding> bindings, const BindingChanges& changes) {
  for (const std::string& id : changes.remove) {
    bindings.erase(std::remove_if(bindings.begin(), bindings.end(),
                                  [&id](const Binding& b) { return b.id == id; }),
                   bindings.end());
  }
  for (const Binding& b : changes.upsert) {
    auto same = std::find_if(bindings.begin(), bindings.end(),
                             [&b](const Binding& x) { return x.id == b.id; });
    if (same != bindings.end()) {
      *same = b;
    } else {
      bindings.push_back(b);
    }
  }
  return bindings;
}

std::vector<Binding> sortedById(std::vector<Binding> v) {
  std::sort(v.begin(), v.end(), [](const Binding& a, const Binding& b) { return a.id < b.id; });
  return v;
}

bool hasBareLineBreak(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      if (i == 0 || s[i - 1] != '\r') return true;
      // A folded line (LWS) must go on with SP or HT.
      if (i + 1 >= s.size() || (s[i + 1] != ' ' && s[i + 1] != '\t')) return true;
    } else if (s[i] == '\r') {
      if (i + 1 >= s.size() || s[i + 1] != '\n') return true;
    }
  }
  return false;
}

void checkParsed(const ParsedRegister& r, const RegistrarSettings& settings) {
  REQUIRE(!r.aor.empty(), "accepted REGISTER without an AOR");
  REQUIRE(!r.star || r.contacts.empty(), "`*` beside other contacts");
  std::set<std::string> ids;
  for (const auto& c : r.contacts) {
    REQUIRE(!c.id.empty(), "contact without id");
    REQUIRE(ids.insert(c.id).second, "two contacts with one id");
    REQUIRE(!c.regId || !c.instance.empty(), "reg-id kept without +sip.instance");
    REQUIRE(c.expires <= settings.maxExpires, "contact expiry above max_expires");
    REQUIRE(c.expires == 0 || c.expires >= std::min(settings.minExpires, settings.maxExpires),
            "contact expiry below min_expires");
    REQUIRE(c.qMilli <= 1000, "q above 1");
  }
  REQUIRE(settings.storePath || r.path.empty(), "Path kept although Path is not honoured");
  REQUIRE(!r.echoPath || !r.path.empty(), "echoPath without a Path");
}

// What decide() returned, against the request and the bindings it saw. Returns the bindings
// after the change.
std::vector<Binding> checkDecision(const ParsedRegister& request, const RegistrarSettings& settings,
                                   const std::vector<Binding>& current, int64_t now,
                                   const BindingChanges& changes, const Decision& d) {
  if (!d.ok()) {
    REQUIRE(changes.empty(), "refused with changes");
    REQUIRE(d.status == 403 || d.status == 500, "decide() status other than 200, 403, 500");
    REQUIRE(!d.reason.empty(), "refusal without a reason");
    return current;
  }
  if (request.isQuery()) REQUIRE(changes.empty(), "a query changed bindings");
  std::set<std::string> upserted;
  for (const Binding& b : changes.upsert) {
    REQUIRE(!b.id.empty(), "upsert with an empty id");
    REQUIRE(b.aor == request.aor, "upsert for another AOR");
    REQUIRE(b.expiresAt > now, "upsert already expired");
    REQUIRE(upserted.insert(b.id).second, "an id upserted twice");
    REQUIRE(b.callId == request.callId && b.cseq == request.cseq, "upsert without Call-ID/CSeq");
  }
  std::set<std::string> removed;
  for (const std::string& id : changes.remove) {
    REQUIRE(removed.insert(id).second, "an id removed twice");
    REQUIRE(upserted.count(id) == 0, "an id both upserted and removed");
    REQUIRE(findId(current, id) != nullptr, "removal of a binding that is not there");
  }
  REQUIRE(d.added + d.refreshed == changes.upsert.size(), "added + refreshed != upserts");
  REQUIRE(d.removed + d.expired + d.dropped == changes.remove.size(),
          "removed + expired + dropped != removals");

  std::vector<Binding> after = apply(current, changes);
  // A query changes nothing, not even the expired bindings (the store's timer sweeps those).
  for (const Binding& b : after) {
    REQUIRE(request.isQuery() || live(b, now), "an expired binding survived a change");
  }
  if (request.star) REQUIRE(after.empty(), "bindings left after `*`");
  for (const auto& c : request.contacts) {
    const Binding* b = findId(after, c.id);
    if (c.expires == 0) {
      REQUIRE(b == nullptr, "binding still there after expires=0");
    } else {
      REQUIRE(b != nullptr, "a Contact of the request is not stored");
      REQUIRE(b->contact == c.uri && b->expiresAt == now + c.expires && b->qMilli == c.qMilli &&
                  b->instance == c.instance && b->regId == c.regId,
              "a stored binding differs from its Contact");
    }
  }
  if (settings.maxContacts != 0 && d.added != 0) {
    REQUIRE(after.size() <= settings.maxContacts, "more than max_contacts after adding");
  }
  if (d.dropped != 0) {
    REQUIRE(settings.onMaxContacts == RegistrarSettings::OnMaxContacts::kDropOldest,
            "dropped bindings under `reject`");
    int64_t newestDropped = INT64_MIN;
    for (const std::string& id : changes.remove) {
      const Binding* b = findId(current, id);
      bool named = std::any_of(request.contacts.begin(), request.contacts.end(),
                               [&id](const auto& c) { return c.id == id; });
      if (b && live(*b, now) && !named) newestDropped = std::max(newestDropped, b->updatedAt);
    }
    for (const Binding& b : after) {
      if (upserted.count(b.id) == 0) {
        REQUIRE(b.updatedAt >= newestDropped, "drop-oldest kept an older binding");
      }
    }
  }
  return after;
}

// okHeaderLines over `bindings` at `now`; with `sane`, the 200 built from them parses back.
void checkOk(const strowger::sip::Message& message, bool sane, const ParsedRegister& request,
             const std::vector<Binding>& bindings, int64_t now) {
  const std::vector<std::string> lines = strowger::registrar::okHeaderLines(request, bindings, now);
  std::size_t contacts = 0, dates = 0, paths = 0;
  for (const std::string& line : lines) {
    REQUIRE(!hasBareLineBreak(line), "a 200 header line with a bare CR or LF");
    std::string_view l = line;
    if (l.starts_with("Contact: <")) {
      ++contacts;
    } else if (l.starts_with("Date: ")) {
      ++dates;
      REQUIRE(l.size() == 6 + 29 && l.ends_with(" GMT"), "Date not in the RFC 1123 form");
    } else if (l.starts_with("Path: ")) {
      ++paths;
    } else {
      violated("an unexpected 200 header line", l);
    }
  }
  const std::vector<Binding> current = unexpired(bindings, now);
  REQUIRE(contacts == current.size(), "Contacts in the 200 != unexpired bindings");
  REQUIRE(dates == 1, "not exactly one Date");
  REQUIRE(paths == (request.echoPath && !request.path.empty() ? 1u : 0u), "Path echo wrong");
  if (!sane) return;

  std::vector<std::string_view> extra(lines.begin(), lines.end());
  strowger::sip::ReplyOptions options;
  options.toTag = "fz";
  options.extraHeaders = extra;
  std::string text;
  strowger::sip::buildReply(message, 200, "OK", options, text);
  strowger::sip::Message reply;
  if (!reply.parse(text)) violated("the 200 does not parse", text);
  if (!strowger::sip::checkResponse(reply)) violated("the 200 fails checkResponse", text);
  if (current.empty()) {
    REQUIRE(!reply.has(strowger::sip::HeaderId::kContact), "a Contact in a 200 with no bindings");
  } else {
    const auto& list = reply.contacts();
    if (!list) violated("the 200's Contacts do not parse", text);
    if (list->star || list->contacts.size() != current.size()) {
      violated("the 200's Contacts are not the bindings", text);
    }
    for (std::size_t i = 0; i < current.size(); ++i) {
      const auto& c = list->contacts[i];
      const Binding& b = current[i];
      if (c.address.uri.raw != b.contact || c.expires != uint32_t(b.expiresAt - now) ||
          c.qMilli.value_or(1000) != b.qMilli || c.instance != b.instance ||
          c.regId != (b.instance.empty() ? std::nullopt : b.regId)) {
        violated("a Contact of the 200 differs from its binding", text);
      }
    }
  }
  if (paths != 0 && !reply.paths()) violated("the 200's Path does not parse", text);
}

void run(const strowger::sip::Message& message, bool sane, const RegistrarSettings& settings) {
  auto parsed = strowger::registrar::parseRegister(message, origin(), settings);
  if (!parsed) {
    const auto& e = parsed.error();
    REQUIRE(e.status >= 400 && e.status <= 699, "refusal status not 4xx-6xx");
    REQUIRE(!e.reason.empty(), "refusal without a reason");
    for (const std::string& line : e.headerLines) {
      REQUIRE(line.find_first_of("\r\n") == std::string::npos, "refusal header line with CR/LF");
    }
    if (e.status == 423) {
      REQUIRE(e.headerLines.size() == 1 && e.headerLines[0].starts_with("Min-Expires: "),
              "423 without Min-Expires");
    }
    return;
  }
  const ParsedRegister& request = *parsed;
  checkParsed(request, settings);

  // 1. No bindings.
  Decision d1;
  const std::vector<Binding> none;
  BindingChanges c1 = strowger::registrar::decide(request, settings, none, kNow, d1);
  const std::vector<Binding> state1 = checkDecision(request, settings, none, kNow, c1, d1);
  checkOk(message, sane, request, state1, kNow);

  // 2. The same request again, at the same instant: accepted, and nothing changes.
  Decision d2;
  BindingChanges c2 = strowger::registrar::decide(request, settings, state1, kNow, d2);
  const std::vector<Binding> state2 = checkDecision(request, settings, state1, kNow, c2, d2);
  if (d1.ok()) {
    REQUIRE(d2.ok(), "a retransmission of an accepted REGISTER refused");
    REQUIRE(d2.added == 0, "a retransmission added bindings");
    REQUIRE(sortedById(state2) == sortedById(state1), "a retransmission changed the bindings");
  }
  checkOk(message, sane, request, state2, kNow);

  // 3. The same Call-ID, a lower CSeq: out of order when it names what step 1 stored.
  if (request.cseq > 0) {
    ParsedRegister older = request;
    --older.cseq;
    Decision d3;
    BindingChanges c3 = strowger::registrar::decide(older, settings, state1, kNow, d3);
    checkDecision(older, settings, state1, kNow, c3, d3);
    if (d1.ok() && !c1.upsert.empty()) {
      REQUIRE(d3.status == 500, "an out-of-order REGISTER accepted");
    }
  }

  // 4. Another Call-ID with a lower CSeq: a new registration run, never out of order.
  {
    ParsedRegister rebooted = request;
    rebooted.callId += ".reboot";
    rebooted.cseq /= 2;
    Decision d4;
    BindingChanges c4 = strowger::registrar::decide(rebooted, settings, state1, kNow, d4);
    const std::vector<Binding> state4 = checkDecision(rebooted, settings, state1, kNow, c4, d4);
    REQUIRE(d4.status != 500, "a new Call-ID refused as out of order");
    checkOk(message, sane, rebooted, state4, kNow);
  }

  // 5. A crowded AOR: step 1's bindings (or the request's contacts) again under other ids,
  // older, from another Call-ID, and one expired binding.
  {
    std::vector<Binding> crowd;
    std::vector<Binding> base = state1;
    if (base.empty()) {
      for (const auto& c : request.contacts) {
        Binding b;
        b.id = c.id;
        b.aor = request.aor;
        b.contact = c.uri;
        base.push_back(std::move(b));
      }
    }
    int64_t age = 0;
    for (const Binding& from : base) {
      for (int copy = 0; copy < 2; ++copy) {
        Binding b = from;
        b.id = from.id + "-old" + std::to_string(copy);
        b.callId = "other@fuzz";
        b.cseq = 1;
        b.updatedAt = kNow - 1000 + age;
        b.expiresAt = kNow + 60 + age;
        ++age;
        crowd.push_back(std::move(b));
      }
    }
    Binding gone;
    gone.id = "expired";
    gone.aor = request.aor;
    gone.contact = "sip:gone@192.0.2.99";
    gone.expiresAt = kNow - 1;
    crowd.push_back(gone);
    Decision d5;
    BindingChanges c5 = strowger::registrar::decide(request, settings, crowd, kNow, d5);
    const std::vector<Binding> state5 = checkDecision(request, settings, crowd, kNow, c5, d5);
    if (d5.ok() && !request.isQuery()) {
      REQUIRE(std::find(c5.remove.begin(), c5.remove.end(), "expired") != c5.remove.end(),
              "an expired binding not swept with the change");
    }
    checkOk(message, sane, request, state5, kNow);
  }

  // 6. Long after: every binding step 1 stored has expired.
  {
    const int64_t later = kNow + 2 * int64_t{settings.maxExpires} + 1;
    Decision d6;
    BindingChanges c6 = strowger::registrar::decide(request, settings, state1, later, d6);
    const std::vector<Binding> state6 = checkDecision(request, settings, state1, later, c6, d6);
    checkOk(message, sane, request, state1, later);
    checkOk(message, sane, request, state6, later);
  }
}

void exercise(strowger::sip::Message& message, std::string_view bytes,
              strowger::sip::Framing framing) {
  if (!message.parse(bytes, framing)) return;
  if (!message.isRequest() || message.method() != strowger::sip::Method::kRegister) return;
  const bool sane = static_cast<bool>(strowger::sip::checkRequest(message));
  for (const RegistrarSettings& settings : profiles())
    run(message, sane, settings);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  strowger::sip::Message message;
  exercise(message, bytes, strowger::sip::Framing::kDatagram);
  // The same Message again: a reused Message must not carry anything over.
  exercise(message, bytes, strowger::sip::Framing::kStream);
  return 0;
}
