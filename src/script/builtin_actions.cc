// The built-in actions (docs/routing.md, "Actions").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "builtin.h"
#include "fields.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"
#include "strowger/sip/reply.h"
#include "text.h"
#include "uri_edit.h"

namespace strowger::script::detail {
namespace {

// Explain mode shows what a value evaluates to for this message; a constant says nothing new.
void explainValue(const Value& value, const MessageContext& ctx, std::string& out) {
  if (value.isConstant()) return;
  std::string text;
  value.appendTo(ctx, text);
  out += inQuotes(text);
}

// --- shared ----------------------------------------------------------------------------------

// A value read from a message may hold line breaks (a folded header); in a header line or a
// reason phrase they would end the line early.
void flattenLineBreaks(std::string& text, std::size_t from = 0) {
  for (std::size_t i = from; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') text[i] = ' ';
  }
}

bool hasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

// A step that takes no parameters: `- drop` or `- drop:` (an empty value).
bool noParams(const YAML::Node& params, CompileContext& ctx) {
  if (params.IsNull()) return true;
  ctx.error(params, "takes no parameters; write \"- " + std::string(ctx.stepName()) + "\", got " +
                        describeNode(params));
  return false;
}

std::optional<Value> scalarValue(const YAML::Node& node, CompileContext& ctx,
                                 std::string_view expected) {
  if (!node.IsScalar()) {
    ctx.expected(node, expected);
    return std::nullopt;
  }
  return ctx.compileValue(node);
}

// Headers the proxy keeps consistent itself (Via, Route, Record-Route, Max-Forwards,
// Content-Length) or that identify the dialog and transaction (From, To, Call-ID, CSeq, RFC 3261
// §12): a stateless script that changes them breaks forwarding or the dialog.
bool isProtectedHeader(std::string_view name) {
  switch (sip::headerIdFromName(name)) {
    case sip::HeaderId::kVia:
    case sip::HeaderId::kRoute:
    case sip::HeaderId::kRecordRoute:
    case sip::HeaderId::kMaxForwards:
    case sip::HeaderId::kContentLength:
    case sip::HeaderId::kFrom:
    case sip::HeaderId::kTo:
    case sip::HeaderId::kCallId:
    case sip::HeaderId::kCSeq:
      return true;
    default:
      return false;
  }
}

std::optional<std::string> readHeaderName(const YAML::Node& node, CompileContext& ctx) {
  if (!node.IsScalar() || !isToken(node.Scalar())) {
    ctx.expected(node, "a header name such as X-Tenant");
    return std::nullopt;
  }
  const std::string& name = node.Scalar();
  if (isProtectedHeader(name)) {
    const sip::HeaderId id = sip::headerIdFromName(name);
    ctx.error(node, inQuotes(name) + " (" + std::string(sip::canonicalHeaderName(id)) +
                        ") is maintained by the proxy or identifies the dialog; the script may "
                        "not add, remove or replace it");
    return std::nullopt;
  }
  return name;
}

// Every line of the received message with this header name, in order.
template <class Fn>
void forEachHeaderLine(const sip::Message& message, std::string_view name, sip::HeaderId id,
                       Fn&& fn) {
  if (id != sip::HeaderId::kOther) {
    for (const sip::HeaderField& h : message.all(id))
      fn(h);
    return;
  }
  for (const sip::HeaderField& h : message.headers()) {
    if (h.id == sip::HeaderId::kOther && sip::equalsIgnoreCase(h.name, name)) fn(h);
  }
}

}  // namespace

std::string_view callIdOf(const MessageContext& ctx) {
  return ctx.message().callId().valueOr(std::string_view{});
}

int lineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::optional<Destination> readDestination(const YAML::Node& node, CompileContext& ctx) {
  if (!node.IsScalar()) {
    ctx.expected(node, kDestinationForm);
    return std::nullopt;
  }
  std::optional<Value> value = ctx.compileValue(node);
  if (!value) return std::nullopt;
  Destination destination;
  if (!value->isConstant()) {
    destination.value = std::move(*value);
    destination.line = lineOf(node);
    return destination;
  }
  Expected<NextHop, std::string> hop = parseNextHop(value->constant());
  if (!hop) {
    ctx.error(node, hop.error());
    return std::nullopt;
  }
  destination.hop = std::move(*hop);
  return destination;
}

namespace {

// --- reply -----------------------------------------------------------------------------------

class ReplyAction final : public Action {
 public:
  ReplyAction(uint16_t status, std::string reason, std::vector<Value> headers)
      : status_(status), reason_(std::move(reason)), headers_(std::move(headers)) {
    constant_ = std::all_of(headers_.begin(), headers_.end(),
                            [](const Value& v) { return v.isConstant(); });
    if (constant_) {
      for (const Value& v : headers_)
        constantLines_.push_back(v.constant());
    }
  }

  void run(MessageContext& ctx) const override {
    if (constant_) {
      ctx.actions().reply(status_, reason_, constantLines_);
    } else {
      std::vector<std::string> lines(headers_.size());
      for (std::size_t i = 0; i < headers_.size(); ++i) {
        headers_[i].appendTo(ctx, lines[i]);
        flattenLineBreaks(lines[i]);
      }
      ctx.actions().reply(status_, reason_, lines);
    }
    ctx.finish();
  }

  std::string describe() const override {
    std::string out = "reply " + std::to_string(status_) + " " + reason_;
    for (const Value& v : headers_)
      out += " + " + inQuotes(v.source());
    return out;
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    if (constant_) return;
    for (const Value& v : headers_) {
      if (!out.empty()) out += ", ";
      std::string line;
      v.appendTo(ctx, line);
      out += inQuotes(line);
    }
  }

 private:
  uint16_t status_;
  std::string reason_;
  std::vector<Value> headers_;
  bool constant_ = true;
  std::vector<std::string> constantLines_;
};

constexpr std::string_view kReplyForms =
    "[CODE, \"REASON\"] or {code: CODE, reason: \"REASON\", headers: [\"Name: value\", ...]}";

std::optional<uint16_t> readStatus(const YAML::Node& node, CompileContext& ctx) {
  // A failure route's reply is the transaction's final response: a provisional one would leave
  // the caller waiting for one that never comes.
  const bool mustBeFinal = ctx.routeKind() == RouteKind::kFailure;
  if (node.IsScalar()) {
    const std::optional<uint64_t> code = sip::parseUnsigned(node.Scalar(), 699);
    if (code && *code >= (mustBeFinal ? 200 : 100)) return static_cast<uint16_t>(*code);
  }
  ctx.expected(node, mustBeFinal
                         ? "a final status code 200..699 (a failure route ends the transaction)"
                         : "a status code 100..699");
  return std::nullopt;
}

std::optional<std::string> readReason(const YAML::Node& node, CompileContext& ctx) {
  if (!node.IsScalar() || hasLineBreak(node.Scalar())) {
    ctx.expected(node, "a reason phrase on one line, such as \"Not Found\"");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<Value> readHeaderLine(const YAML::Node& node, CompileContext& ctx) {
  const std::string_view expected = "a header line \"Name: value\"";
  if (!node.IsScalar()) {
    ctx.expected(node, expected);
    return std::nullopt;
  }
  const std::string& line = node.Scalar();
  const std::size_t colon = line.find(':');
  const std::string_view name = colon == std::string::npos
                                    ? std::string_view{}
                                    : sip::trimLws(std::string_view(line).substr(0, colon));
  if (!isToken(name) || hasLineBreak(line)) {
    ctx.expected(node, expected);
    return std::nullopt;
  }
  if (isProtectedHeader(name)) {
    ctx.error(node,
              inQuotes(name) + " is copied from the request into every reply; it may not be added");
    return std::nullopt;
  }
  return ctx.compileValue(node);
}

}  // namespace

std::unique_ptr<const Action> makeReply(const YAML::Node& params, CompileContext& ctx) {
  std::optional<uint16_t> status;
  std::optional<std::string> reason;
  std::vector<Value> headers;
  bool ok = true;
  if (params.IsScalar()) {
    status = readStatus(params, ctx);
  } else if (params.IsSequence() && (params.size() == 1 || params.size() == 2)) {
    status = readStatus(params[0], ctx);
    if (params.size() == 2) {
      reason = readReason(params[1], ctx);
      ok = reason.has_value();
    }
  } else if (params.IsMap()) {
    bool haveCode = false;
    for (const auto& pair : params) {
      const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
      if (key == "code") {
        haveCode = true;
        status = readStatus(pair.second, ctx);
      } else if (key == "reason") {
        reason = readReason(pair.second, ctx);
        ok = ok && reason.has_value();
      } else if (key == "headers") {
        if (!pair.second.IsSequence()) {
          ctx.expected(pair.second, "a list of header lines [\"Name: value\", ...]");
          ok = false;
          continue;
        }
        for (const YAML::Node& line : pair.second) {
          if (std::optional<Value> v = readHeaderLine(line, ctx)) {
            headers.push_back(std::move(*v));
          } else {
            ok = false;
          }
        }
      } else {
        static constexpr std::array<std::string_view, 3> kKeys = {"code", "reason", "headers"};
        std::string hint = didYouMean(key, kKeys);
        if (hint.empty()) hint = "; expected code, reason and headers";
        ctx.error(pair.first, "unknown key " + inQuotes(key) + hint);
        ok = false;
      }
    }
    if (!haveCode) {
      ctx.error(params, "missing \"code\"; expected " + std::string(kReplyForms));
      return nullptr;
    }
  } else {
    ctx.expected(params, kReplyForms);
    return nullptr;
  }
  if (!status || !ok) return nullptr;
  std::string text = reason ? *reason : std::string(sip::defaultReasonPhrase(*status));
  return std::make_unique<ReplyAction>(*status, std::move(text), std::move(headers));
}

// --- forward, record_route, loose_route, drop ---------------------------------------------------

namespace {

class ForwardAction final : public Action {
 public:
  ForwardAction() = default;
  explicit ForwardAction(NextHop hop) : hop_(std::move(hop)) {}
  ForwardAction(Value to, int line) : to_(std::move(to)), line_(line) {}

  void run(MessageContext& ctx) const override {
    if (to_) {
      std::string text;
      to_->appendTo(ctx, text);
      Expected<NextHop, std::string> hop = parseNextHop(text);
      if (!hop) {
        spdlog::warn("call-id={} forward (line {}): {}; answered 503", callIdOf(ctx), line_,
                     hop.error());
        ctx.actions().reply(503, "Cannot Forward", {});
      } else {
        ctx.actions().forward(&*hop);
      }
    } else {
      // When forwarding fails the proxy answers 503 itself (never to an ACK).
      ctx.actions().forward(hop_ ? &*hop_ : nullptr);
    }
    ctx.finish();
  }

  std::string describe() const override {
    if (hop_) return "forward to " + hop_->uri;
    if (to_) return "forward to " + to_->source();
    return "forward";
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    if (to_) {
      to_->appendTo(ctx, out);
    } else if (!hop_) {
      if (ctx.nextHop()) {
        out.append("next hop ").append(ctx.nextHop()->uri);
      } else if (ctx.message().has(sip::HeaderId::kRoute)) {
        // Which Route entries name this proxy is the proxy's to decide.
        out.append("by the Route set, else to ").append(ctx.requestUriText());
      } else {
        out.append("to ").append(ctx.requestUriText());
      }
    }
  }

 private:
  std::optional<NextHop> hop_;  // a fixed destination, read at load
  std::optional<Value> to_;     // a destination read from the message
  int line_ = 0;
};

}  // namespace

std::unique_ptr<const Action> makeForward(const YAML::Node& params, CompileContext& ctx) {
  if (params.IsNull()) return std::make_unique<ForwardAction>();
  const std::string_view forms = "no parameters, or {to: \"sip:HOST[:PORT][;transport=udp|tcp]\"}";
  if (!params.IsMap()) {
    ctx.expected(params, forms);
    return nullptr;
  }
  std::optional<YAML::Node> to;
  bool ok = true;
  for (const auto& pair : params) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    if (key == "to") {
      to = pair.second;
    } else {
      static constexpr std::array<std::string_view, 1> kKeys = {"to"};
      ctx.error(pair.first, "unknown key " + inQuotes(key) + didYouMean(key, kKeys) +
                                (didYouMean(key, kKeys).empty() ? "; expected to" : ""));
      ok = false;
    }
  }
  if (!to) {
    if (ok) ctx.expected(params, forms);
    return nullptr;
  }
  std::optional<Destination> destination = readDestination(*to, ctx);
  if (!destination || !ok) return nullptr;
  if (destination->value) {
    return std::make_unique<ForwardAction>(std::move(*destination->value), destination->line);
  }
  return std::make_unique<ForwardAction>(std::move(*destination->hop));
}

namespace {

class RecordRouteAction final : public Action {
 public:
  void run(MessageContext& ctx) const override { ctx.actions().recordRoute(); }
  std::string describe() const override { return "record_route"; }
};

class LooseRouteAction final : public Action {
 public:
  void run(MessageContext& ctx) const override { ctx.actions().looseRoute(); }
  std::string describe() const override { return "loose_route"; }
};

class DropAction final : public Action {
 public:
  void run(MessageContext& ctx) const override {
    ctx.actions().drop();
    ctx.finish();
  }
  std::string describe() const override { return "drop"; }
};

}  // namespace

std::unique_ptr<const Action> makeRecordRoute(const YAML::Node& params, CompileContext& ctx) {
  if (!noParams(params, ctx)) return nullptr;
  return std::make_unique<RecordRouteAction>();
}

std::unique_ptr<const Action> makeLooseRoute(const YAML::Node& params, CompileContext& ctx) {
  if (!noParams(params, ctx)) return nullptr;
  return std::make_unique<LooseRouteAction>();
}

std::unique_ptr<const Action> makeDrop(const YAML::Node& params, CompileContext& ctx) {
  if (!noParams(params, ctx)) return nullptr;
  return std::make_unique<DropAction>();
}

// --- set_ruri, set_ruri_user, set_ruri_host, set_ruri_port, set_next_hop ----------------------

namespace {

enum class UriPart : uint8_t { kWhole, kUser, kHost, kPort };

class SetRuriAction final : public Action {
 public:
  SetRuriAction(UriPart part, Value value, int line)
      : part_(part), value_(std::move(value)), line_(line) {}

  void run(MessageContext& ctx) const override {
    std::string text;
    value_.appendTo(ctx, text);
    std::string uri;
    const sip::Uri* current = requestUriOf(ctx);
    bool ok = false;
    switch (part_) {
      case UriPart::kWhole:
        ok = checkRequestUri(text).hasValue();
        uri = std::move(text);
        break;
      case UriPart::kUser:
        ok = current && rewriteUser(*current, text, uri) && checkRequestUri(uri).hasValue();
        break;
      case UriPart::kHost:
        ok = current && rewriteHost(*current, text, uri) && checkRequestUri(uri).hasValue();
        break;
      case UriPart::kPort:
        ok = current && rewritePort(*current, text, uri) && checkRequestUri(uri).hasValue();
        break;
    }
    if (!ok) {
      // Only a value read from the message can fail here; the constant ones were checked at load.
      std::string shown;
      value_.appendTo(ctx, shown);
      spdlog::warn("call-id={} {} (line {}): {} does not fit the Request-URI {}; left unchanged",
                   callIdOf(ctx), name(), line_, inQuotes(shown), inQuotes(ctx.requestUriText()));
      return;
    }
    ctx.setRequestUri(std::move(uri));
  }

  std::string describe() const override {
    return std::string(name()) + " " + inQuotes(value_.source());
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    explainValue(value_, ctx, out);
  }

 private:
  std::string_view name() const {
    switch (part_) {
      case UriPart::kWhole:
        return "set_ruri";
      case UriPart::kUser:
        return "set_ruri_user";
      case UriPart::kHost:
        return "set_ruri_host";
      case UriPart::kPort:
        return "set_ruri_port";
    }
    return "set_ruri";
  }

  UriPart part_;
  Value value_;
  int line_;
};

std::unique_ptr<const Action> makeSetUriPart(UriPart part, const YAML::Node& params,
                                             CompileContext& ctx) {
  static constexpr std::array<std::string_view, 4> kExpected = {
      "a URI such as \"sip:alice@example.com\"",
      "a user part such as \"alice\" or \"${to.user}\" (empty removes it)",
      "a host such as \"pbx.example.com\", \"192.0.2.1\" or \"[2001:db8::1]\"",
      "a port 1..65535 (empty removes it)",
  };
  const std::string_view expected = kExpected[static_cast<std::size_t>(part)];
  std::optional<Value> value = scalarValue(params, ctx, expected);
  if (!value) return nullptr;
  if (value->isConstant()) {
    const std::string& text = value->constant();
    bool ok = true;
    switch (part) {
      case UriPart::kWhole:
        if (Expected<void, std::string> check = checkRequestUri(text); !check) {
          ctx.error(params, check.error());
          return nullptr;
        }
        break;
      case UriPart::kUser:
        ok = !hasLineBreak(text);
        break;
      case UriPart::kHost:
        ok = isValidHost(text);
        break;
      case UriPart::kPort:
        ok = isValidPort(text);
        break;
    }
    if (!ok) {
      ctx.expected(params, expected);
      return nullptr;
    }
  }
  return std::make_unique<SetRuriAction>(part, std::move(*value), lineOf(params));
}

class SetNextHopAction final : public Action {
 public:
  explicit SetNextHopAction(NextHop hop) : hop_(std::move(hop)) {}
  SetNextHopAction(Value value, int line) : value_(std::move(value)), line_(line) {}

  void run(MessageContext& ctx) const override {
    if (!value_) {
      ctx.nextHop() = *hop_;
      return;
    }
    std::string text;
    value_->appendTo(ctx, text);
    Expected<NextHop, std::string> hop = parseNextHop(text);
    if (!hop) {
      spdlog::warn("call-id={} set_next_hop (line {}): {}; next hop left unchanged", callIdOf(ctx),
                   line_, hop.error());
      return;
    }
    ctx.nextHop() = std::move(*hop);
  }

  std::string describe() const override {
    return "set_next_hop " + (hop_ ? hop_->uri : value_->source());
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    if (value_) value_->appendTo(ctx, out);
  }

 private:
  std::optional<NextHop> hop_;
  std::optional<Value> value_;
  int line_ = 0;
};

}  // namespace

std::unique_ptr<const Action> makeSetRuri(const YAML::Node& params, CompileContext& ctx) {
  return makeSetUriPart(UriPart::kWhole, params, ctx);
}

std::unique_ptr<const Action> makeSetRuriUser(const YAML::Node& params, CompileContext& ctx) {
  return makeSetUriPart(UriPart::kUser, params, ctx);
}

std::unique_ptr<const Action> makeSetRuriHost(const YAML::Node& params, CompileContext& ctx) {
  return makeSetUriPart(UriPart::kHost, params, ctx);
}

std::unique_ptr<const Action> makeSetRuriPort(const YAML::Node& params, CompileContext& ctx) {
  return makeSetUriPart(UriPart::kPort, params, ctx);
}

std::unique_ptr<const Action> makeSetNextHop(const YAML::Node& params, CompileContext& ctx) {
  std::optional<Value> value =
      scalarValue(params, ctx, "a SIP URI such as \"sip:192.0.2.1:5060;transport=udp\"");
  if (!value) return nullptr;
  if (!value->isConstant()) {
    return std::make_unique<SetNextHopAction>(std::move(*value), lineOf(params));
  }
  Expected<NextHop, std::string> hop = parseNextHop(value->constant());
  if (!hop) {
    ctx.error(params, hop.error());
    return nullptr;
  }
  return std::make_unique<SetNextHopAction>(std::move(*hop));
}

// --- add_header, remove_header, replace_header -------------------------------------------------
//
// These edit the received message through the MessageEditor. A line of the received message is
// edited once: a second replacement of the same line is ignored, and a removal wins over a
// replacement (the editor skips overlapping splices). Headers the script added are not seen by
// later steps: conditions and ${hdr.*} read the message as received.

namespace {

class AddHeaderAction final : public Action {
 public:
  AddHeaderAction(std::string name, Value value)
      : name_(std::move(name)), value_(std::move(value)) {}

  void run(MessageContext& ctx) const override {
    if (value_.isConstant()) {
      ctx.editor().appendHeader(name_, value_.constant());
      return;
    }
    std::string text;
    value_.appendTo(ctx, text);
    flattenLineBreaks(text);
    ctx.editor().appendHeader(name_, text);
  }

  std::string describe() const override {
    return "add_header " + name_ + ": " + inQuotes(value_.source());
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    explainValue(value_, ctx, out);
  }

 private:
  std::string name_;
  Value value_;
};

class RemoveHeaderAction final : public Action {
 public:
  explicit RemoveHeaderAction(std::string name)
      : name_(std::move(name)), id_(sip::headerIdFromName(name_)) {}

  void run(MessageContext& ctx) const override {
    forEachHeaderLine(ctx.message(), name_, id_,
                      [&](const sip::HeaderField& h) { ctx.editor().removeHeader(h); });
  }

  std::string describe() const override { return "remove_header " + name_; }

 private:
  std::string name_;
  sip::HeaderId id_;
};

// Replaces the value of the first line of the name and removes the others; adds the header when
// the message has none.
class ReplaceHeaderAction final : public Action {
 public:
  ReplaceHeaderAction(std::string name, Value value)
      : name_(std::move(name)), id_(sip::headerIdFromName(name_)), value_(std::move(value)) {}

  void run(MessageContext& ctx) const override {
    std::string text;
    if (value_.isConstant()) {
      text = value_.constant();
    } else {
      value_.appendTo(ctx, text);
      flattenLineBreaks(text);
    }
    bool first = true;
    forEachHeaderLine(ctx.message(), name_, id_, [&](const sip::HeaderField& h) {
      if (first) {
        ctx.editor().replaceHeaderValue(h, text);
        first = false;
      } else {
        ctx.editor().removeHeader(h);
      }
    });
    if (first) ctx.editor().appendHeader(name_, text);
  }

  std::string describe() const override {
    return "replace_header " + name_ + ": " + inQuotes(value_.source());
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    explainValue(value_, ctx, out);
  }

 private:
  std::string name_;
  sip::HeaderId id_;
  Value value_;
};

struct NameAndValue {
  std::string name;
  Value value;
};

std::optional<NameAndValue> readNameAndValue(const YAML::Node& params, CompileContext& ctx) {
  const std::string forms = "{name: NAME, value: \"...\"}";
  if (!params.IsMap()) {
    ctx.expected(params, forms);
    return std::nullopt;
  }
  std::optional<std::string> name;
  std::optional<Value> value;
  bool ok = true;
  bool haveName = false;
  bool haveValue = false;
  for (const auto& pair : params) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    if (key == "name") {
      haveName = true;
      name = readHeaderName(pair.second, ctx);
    } else if (key == "value") {
      haveValue = true;
      if (pair.second.IsScalar() && hasLineBreak(pair.second.Scalar())) {
        ctx.expected(pair.second, "a header value on one line");
        ok = false;
        continue;
      }
      value = scalarValue(pair.second, ctx, "a header value");
    } else {
      static constexpr std::array<std::string_view, 2> kKeys = {"name", "value"};
      std::string hint = didYouMean(key, kKeys);
      if (hint.empty()) hint = "; expected name and value";
      ctx.error(pair.first, "unknown key " + inQuotes(key) + hint);
      ok = false;
    }
  }
  if (!haveName || !haveValue) {
    ctx.error(params,
              std::string("missing \"") + (haveName ? "value" : "name") + "\"; expected " + forms);
    return std::nullopt;
  }
  if (!ok || !name || !value) return std::nullopt;
  return NameAndValue{std::move(*name), std::move(*value)};
}

}  // namespace

std::unique_ptr<const Action> makeAddHeader(const YAML::Node& params, CompileContext& ctx) {
  std::optional<NameAndValue> nv = readNameAndValue(params, ctx);
  if (!nv) return nullptr;
  return std::make_unique<AddHeaderAction>(std::move(nv->name), std::move(nv->value));
}

std::unique_ptr<const Action> makeRemoveHeader(const YAML::Node& params, CompileContext& ctx) {
  std::optional<std::string> name = readHeaderName(params, ctx);
  if (!name) return nullptr;
  return std::make_unique<RemoveHeaderAction>(std::move(*name));
}

std::unique_ptr<const Action> makeReplaceHeader(const YAML::Node& params, CompileContext& ctx) {
  std::optional<NameAndValue> nv = readNameAndValue(params, ctx);
  if (!nv) return nullptr;
  return std::make_unique<ReplaceHeaderAction>(std::move(nv->name), std::move(nv->value));
}

// --- route, log --------------------------------------------------------------------------------

namespace {

class RouteCallAction final : public Action {
 public:
  RouteCallAction(const Route& route, int line) : route_(route), line_(line) {}
  void run(MessageContext& ctx) const override { route_.call(ctx, line_); }
  std::string describe() const override { return "route " + route_.name(); }

 private:
  const Route& route_;
  int line_;
};

constexpr std::array<std::string_view, 6> kLogLevels = {"trace",   "debug", "info",
                                                        "warning", "error", "critical"};
constexpr std::array<spdlog::level::level_enum, 6> kSpdlogLevels = {
    spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
    spdlog::level::warn,  spdlog::level::err,   spdlog::level::critical};

class LogAction final : public Action {
 public:
  LogAction(std::size_t level, Value message) : level_(level), message_(std::move(message)) {}

  void run(MessageContext& ctx) const override {
    spdlog::logger* logger = spdlog::default_logger_raw();
    if (!logger || !logger->should_log(kSpdlogLevels[level_])) return;
    // Reused by every message this thread logs.
    thread_local std::string raw;
    thread_local std::string line;
    raw.clear();
    line.clear();
    message_.appendTo(ctx, raw);
    appendPrintable(raw, line);
    logger->log(kSpdlogLevels[level_], "{}", line);
  }

  std::string describe() const override {
    return "log " + std::string(kLogLevels[level_]) + " " + inQuotes(message_.source());
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    if (message_.isConstant()) return;
    std::string text;
    message_.appendTo(ctx, text);
    out += inQuotes(text);
  }

 private:
  std::size_t level_;
  Value message_;
};

}  // namespace

std::unique_ptr<const Action> makeRouteCall(const YAML::Node& params, CompileContext& ctx) {
  // A route of another kind runs at another time, with another message (a reply, or the request
  // after its branches failed): only the transaction may run it, armed with on_failure etc.
  const Route* route = ctx.findRoute(params, ctx.routeKind());
  if (!route) return nullptr;
  return std::make_unique<RouteCallAction>(*route, lineOf(params));
}

std::unique_ptr<const Action> makeLog(const YAML::Node& params, CompileContext& ctx) {
  const std::string forms = "\"text with ${...}\" or {level: LEVEL, message: \"...\"}";
  std::size_t level = 2;  // info
  std::optional<Value> message;
  if (params.IsScalar()) {
    message = ctx.compileValue(params);
    if (!message) return nullptr;
    return std::make_unique<LogAction>(level, std::move(*message));
  }
  if (!params.IsMap()) {
    ctx.expected(params, forms);
    return nullptr;
  }
  bool ok = true;
  bool haveMessage = false;
  for (const auto& pair : params) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    if (key == "level") {
      const std::string text = pair.second.IsScalar() ? pair.second.Scalar() : std::string();
      const auto found = std::find(kLogLevels.begin(), kLogLevels.end(), text);
      if (found == kLogLevels.end()) {
        ctx.error(pair.second, "expected one of " + listOf(kLogLevels) + ", got " +
                                   describeNode(pair.second) + didYouMean(text, kLogLevels));
        ok = false;
      } else {
        level = static_cast<std::size_t>(found - kLogLevels.begin());
      }
    } else if (key == "message") {
      haveMessage = true;
      message = scalarValue(pair.second, ctx, "a message such as \"call to ${ruri.user}\"");
      ok = ok && message.has_value();
    } else {
      static constexpr std::array<std::string_view, 2> kKeys = {"level", "message"};
      std::string hint = didYouMean(key, kKeys);
      if (hint.empty()) hint = "; expected level and message";
      ctx.error(pair.first, "unknown key " + inQuotes(key) + hint);
      ok = false;
    }
  }
  if (!haveMessage) {
    ctx.error(params, "missing \"message\"; expected " + forms);
    return nullptr;
  }
  if (!ok || !message) return nullptr;
  return std::make_unique<LogAction>(level, std::move(*message));
}

}  // namespace strowger::script::detail
