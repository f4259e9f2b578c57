#include "strowger/script/value.h"

#include <algorithm>
#include <array>

#include "address.h"
#include "builtin.h"
#include "fields.h"
#include "strowger/script/registry.h"
#include "strowger/script/request_state.h"
#include "strowger/sip/headers.h"
#include "text.h"

namespace strowger::script {

enum class Value::Field : uint8_t {
  kLiteral,
  kRuri,
  kRuriScheme,
  kRuriUser,
  kRuriHost,
  kRuriPort,
  kRuriParam,
  kFromUri,
  kFromUser,
  kFromHost,
  kFromTag,
  kToUri,
  kToUser,
  kToHost,
  kToTag,
  kCallId,
  kCSeq,
  kMethod,
  kSrcIp,
  kSrcPort,
  kDstIp,
  kDstPort,
  kTransport,
  kReplyCode,
  kReplyReason,
  kHeader,
  kStateVariable,
};

namespace {

using Field = Value::Field;

struct Variable {
  std::string_view name;
  Field field;
};

constexpr std::array<Variable, 23> kVariables = {{
    {"ruri", Field::kRuri},
    {"ruri.scheme", Field::kRuriScheme},
    {"ruri.user", Field::kRuriUser},
    {"ruri.host", Field::kRuriHost},
    {"ruri.port", Field::kRuriPort},
    {"from.uri", Field::kFromUri},
    {"from.user", Field::kFromUser},
    {"from.host", Field::kFromHost},
    {"from.tag", Field::kFromTag},
    {"to.uri", Field::kToUri},
    {"to.user", Field::kToUser},
    {"to.host", Field::kToHost},
    {"to.tag", Field::kToTag},
    {"callid", Field::kCallId},
    {"cseq", Field::kCSeq},
    {"method", Field::kMethod},
    {"src.ip", Field::kSrcIp},
    {"src.port", Field::kSrcPort},
    {"dst.ip", Field::kDstIp},
    {"dst.port", Field::kDstPort},
    {"transport", Field::kTransport},
    {"reply.code", Field::kReplyCode},
    {"reply.reason", Field::kReplyReason},
}};

constexpr std::string_view kHeaderPrefix = "hdr.";
constexpr std::string_view kParamPrefix = "ruri.param.";

// Every name, for suggestions; the two families with a placeholder.
constexpr std::array<std::string_view, kVariables.size() + 2> kAllNames = [] {
  std::array<std::string_view, kVariables.size() + 2> names{};
  for (std::size_t i = 0; i < kVariables.size(); ++i)
    names[i] = kVariables[i].name;
  names[kVariables.size()] = "ruri.param.NAME";
  names[kVariables.size() + 1] = "hdr.NAME";
  return names;
}();

void appendUser(const sip::Uri* uri, std::string& out) {
  if (uri) out.append(uri->user);
}

void appendHost(const sip::Uri* uri, std::string& out) {
  if (uri) detail::appendUriHost(*uri, out);
}

}  // namespace

std::span<const std::string_view> Value::variableNames() noexcept {
  return kAllNames;
}

Expected<Value, std::string> Value::compile(std::string_view text, const StepRegistry* registry) {
  Value value;
  value.source_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    value.constant_ += literal;
    value.parts_.push_back(Part{Field::kLiteral, std::move(literal)});
    literal.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      literal += '$';
      i += 2;
      continue;
    }
    if (c != '$' || i + 1 >= text.size() || text[i + 1] != '{') {
      literal += c;
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return unexpected("\"${\" without its closing \"}\" in " + detail::inQuotes(text) +
                        " (write $$ for a literal $)");
    }
    const std::string_view name = text.substr(i + 2, close - i - 2);
    Part part{Field::kLiteral, {}};
    const auto known = std::find_if(kVariables.begin(), kVariables.end(),
                                    [&](const Variable& v) { return v.name == name; });
    if (known != kVariables.end()) {
      part.field = known->field;
    } else if (name.starts_with(kParamPrefix) && name.size() > kParamPrefix.size()) {
      part.field = Field::kRuriParam;
      part.text = std::string(name.substr(kParamPrefix.size()));
      if (!detail::isToken(part.text)) {
        return unexpected("\"${" + std::string(name) + "}\": expected a parameter name after " +
                          "\"ruri.param.\"");
      }
    } else if (name.starts_with(kHeaderPrefix) && name.size() > kHeaderPrefix.size()) {
      part.field = Field::kHeader;
      part.text = std::string(name.substr(kHeaderPrefix.size()));
      if (!detail::isToken(part.text)) {
        return unexpected("\"${" + std::string(name) + "}\": expected a header name after " +
                          "\"hdr.\"");
      }
      part.header = sip::headerIdFromName(part.text);
    } else if (registry && registry->hasVariable(name)) {
      part.field = Field::kStateVariable;
      part.text = std::string(name);
    } else {
      std::vector<std::string> candidates(kAllNames.begin(), kAllNames.end());
      if (registry) {
        for (std::string& v : registry->variableNames())
          candidates.push_back(std::move(v));
      }
      std::vector<std::string_view> all(candidates.begin(), candidates.end());
      std::string hint = detail::didYouMean(name, all);
      if (!hint.empty()) {
        // Suggest the variable the way it is written.
        const std::optional<std::string_view> match = detail::closestMatch(name, all);
        hint = "; did you mean \"${" + std::string(*match) + "}\"?";
      } else {
        hint = "; the variables are " + detail::listOf(all);
      }
      return unexpected("unknown variable \"${" + std::string(name) + "}\"" + hint);
    }
    flush();
    value.parts_.push_back(std::move(part));
    value.hasFields_ = true;
    i = close + 1;
  }
  flush();
  return value;
}

void Value::appendTo(const MessageContext& ctx, std::string& out) const {
  const sip::Message& message = ctx.message();
  for (const Part& part : parts_) {
    switch (part.field) {
      case Field::kLiteral:
        out.append(part.text);
        break;
      case Field::kRuri:
        out.append(ctx.requestUriText());
        break;
      case Field::kRuriScheme:
        if (const sip::Uri* uri = detail::requestUriOf(ctx)) out.append(uri->schemeText);
        break;
      case Field::kRuriUser:
        appendUser(detail::requestUriOf(ctx), out);
        break;
      case Field::kRuriHost:
        appendHost(detail::requestUriOf(ctx), out);
        break;
      case Field::kRuriPort:
        if (const sip::Uri* uri = detail::requestUriOf(ctx); uri && uri->hostPort.hasPort) {
          detail::appendNumber(uri->port(), out);
        }
        break;
      case Field::kRuriParam:
        if (const sip::Uri* uri = detail::requestUriOf(ctx)) out.append(uri->params.get(part.text));
        break;
      case Field::kFromUri:
        if (const sip::NameAddr* from = detail::fromOf(ctx)) out.append(from->uri.raw);
        break;
      case Field::kFromUser:
        if (const sip::NameAddr* from = detail::fromOf(ctx)) appendUser(&from->uri, out);
        break;
      case Field::kFromHost:
        if (const sip::NameAddr* from = detail::fromOf(ctx)) appendHost(&from->uri, out);
        break;
      case Field::kFromTag:
        if (const sip::NameAddr* from = detail::fromOf(ctx)) out.append(from->tag);
        break;
      case Field::kToUri:
        if (const sip::NameAddr* to = detail::toOf(ctx)) out.append(to->uri.raw);
        break;
      case Field::kToUser:
        if (const sip::NameAddr* to = detail::toOf(ctx)) appendUser(&to->uri, out);
        break;
      case Field::kToHost:
        if (const sip::NameAddr* to = detail::toOf(ctx)) appendHost(&to->uri, out);
        break;
      case Field::kToTag:
        if (const sip::NameAddr* to = detail::toOf(ctx)) out.append(to->tag);
        break;
      case Field::kCallId:
        if (const auto& callId = message.callId()) out.append(*callId);
        break;
      case Field::kCSeq:
        if (const auto& cseq = message.cseq()) detail::appendNumber(cseq->number, out);
        break;
      case Field::kMethod:
        out.append(detail::methodOf(message));
        break;
      case Field::kSrcIp:
        detail::appendIp(ctx.received().source, out);
        break;
      case Field::kSrcPort:
        if (ctx.received().source.valid()) {
          detail::appendNumber(detail::portOf(ctx.received().source), out);
        }
        break;
      case Field::kDstIp:
        detail::appendIp(ctx.received().local, out);
        break;
      case Field::kDstPort:
        if (ctx.received().local.valid()) {
          detail::appendNumber(detail::portOf(ctx.received().local), out);
        }
        break;
      case Field::kTransport:
        out.append(detail::transportText(ctx.received().protocol));
        break;
      case Field::kReplyCode:
        if (const ReplyView* reply = ctx.reply()) detail::appendNumber(reply->code, out);
        break;
      case Field::kReplyReason:
        if (const ReplyView* reply = ctx.reply()) out.append(reply->reason);
        break;
      case Field::kHeader: {
        const sip::HeaderField* h = part.header == sip::HeaderId::kOther
                                        ? message.find(std::string_view(part.text))
                                        : message.find(part.header);
        if (h) out.append(h->value);
        break;
      }
      case Field::kStateVariable:
        if (const RequestState* state = ctx.stateIfAny()) {
          if (const std::string* v = state->variable(part.text)) out.append(*v);
        }
        break;
    }
  }
}

}  // namespace strowger::script
