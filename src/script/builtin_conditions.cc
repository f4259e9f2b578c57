// The built-in conditions (docs/routing.md, "Conditions").
#include <algorithm>
#include <array>
#include <charconv>

#include "address.h"
#include "builtin.h"
#include "fields.h"
#include "matcher.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"
#include "strowger/sip/method.h"
#include "text.h"

namespace strowger::script::detail {

bool isToken(std::string_view text) {
  // RFC 3261 §25.1 token.
  auto tokenChar = [](char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
  };
  return !text.empty() && std::all_of(text.begin(), text.end(), tokenChar);
}

std::optional<bool> readBool(const YAML::Node& node, CompileContext& ctx) {
  if (node.IsScalar() && node.Scalar() == "true") return true;
  if (node.IsScalar() && node.Scalar() == "false") return false;
  ctx.expected(node, "true or false");
  return std::nullopt;
}

namespace {

// --- method ----------------------------------------------------------------------------------

class MethodCondition final : public Condition {
 public:
  explicit MethodCondition(std::vector<std::string> methods) : methods_(std::move(methods)) {}

  bool test(MessageContext& ctx) const override {
    // Methods are case-sensitive (RFC 3261 §7.1).
    const std::string_view method = methodOf(ctx.message());
    return std::find(methods_.begin(), methods_.end(), method) != methods_.end();
  }

  std::string describe() const override {
    if (methods_.size() == 1) return "method == " + methods_.front();
    std::string out = "method in [";
    for (std::size_t i = 0; i < methods_.size(); ++i) {
      if (i) out += ", ";
      out += methods_[i];
    }
    return out + "]";
  }

 private:
  std::vector<std::string> methods_;
};

std::optional<std::string> readMethod(const YAML::Node& node, CompileContext& ctx) {
  if (!node.IsScalar() || !isToken(node.Scalar())) {
    ctx.expected(node, "a method name such as INVITE");
    return std::nullopt;
  }
  const std::string& text = node.Scalar();
  if (sip::methodFromToken(text) == sip::Method::kUnknown) {
    std::string upper = text;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
    if (sip::methodFromToken(upper) != sip::Method::kUnknown) {
      ctx.error(node, "methods are case-sensitive (RFC 3261 §7.1): " + inQuotes(text) +
                          " never matches; did you mean " + inQuotes(upper) + "?");
      return std::nullopt;
    }
  }
  return text;
}

}  // namespace

std::unique_ptr<const Condition> makeMethod(const YAML::Node& params, CompileContext& ctx) {
  std::vector<std::string> methods;
  if (params.IsSequence() && params.size() > 0) {
    bool ok = true;
    for (const YAML::Node& item : params) {
      if (std::optional<std::string> method = readMethod(item, ctx)) {
        methods.push_back(std::move(*method));
      } else {
        ok = false;
      }
    }
    if (!ok) return nullptr;
  } else if (params.IsScalar()) {
    std::optional<std::string> method = readMethod(params, ctx);
    if (!method) return nullptr;
    methods.push_back(std::move(*method));
  } else {
    ctx.expected(params, "a method name such as INVITE, or a list of them");
    return nullptr;
  }
  return std::make_unique<MethodCondition>(std::move(methods));
}

// --- fields of the Request-URI, From and To ---------------------------------------------------

namespace {

class FieldCondition final : public Condition {
 public:
  FieldCondition(FieldId field, std::string name, std::string param, StringMatcher matcher)
      : field_(field),
        name_(std::move(name)),
        param_(std::move(param)),
        matcher_(std::move(matcher)) {}

  bool test(MessageContext& ctx) const override {
    char digits[8];
    std::string decoded;
    std::optional<std::string_view> value;
    switch (field_) {
      case FieldId::kRuriUser:
        value = user(requestUriOf(ctx), decoded);
        break;
      case FieldId::kRuriHost:
        value = host(requestUriOf(ctx));
        break;
      case FieldId::kRuriPort:
        if (const sip::Uri* uri = requestUriOf(ctx); uri && uri->hostPort.hasPort) {
          auto [end, ec] = std::to_chars(digits, digits + sizeof digits, uri->port());
          (void)ec;
          value = std::string_view(digits, static_cast<std::size_t>(end - digits));
        }
        break;
      case FieldId::kRuriScheme:
        if (const sip::Uri* uri = requestUriOf(ctx)) value = uri->schemeText;
        break;
      case FieldId::kRuriParam:
        if (const sip::Uri* uri = requestUriOf(ctx)) {
          if (const std::optional<sip::Param> p = uri->params.find(param_)) value = p->value;
        }
        break;
      case FieldId::kFromUser:
        if (const sip::NameAddr* from = fromOf(ctx)) value = user(&from->uri, decoded);
        break;
      case FieldId::kFromHost:
        if (const sip::NameAddr* from = fromOf(ctx)) value = host(&from->uri);
        break;
      case FieldId::kToUser:
        if (const sip::NameAddr* to = toOf(ctx)) value = user(&to->uri, decoded);
        break;
      case FieldId::kToHost:
        if (const sip::NameAddr* to = toOf(ctx)) value = host(&to->uri);
        break;
    }
    return matcher_.matches(value);
  }

  std::string describe() const override { return matcher_.describe(name_); }

 private:
  // The user as RFC 3261 §19.1.4 compares it: %-escapes decoded (only when there are any).
  static std::optional<std::string_view> user(const sip::Uri* uri, std::string& decoded) {
    if (!uri || (!uri->hasUserInfo && uri->scheme != sip::UriScheme::kTel)) return std::nullopt;
    if (uri->user.find('%') == std::string_view::npos) return uri->user;
    decoded = uri->unescapedUser();
    return std::string_view(decoded);
  }

  static std::optional<std::string_view> host(const sip::Uri* uri) {
    if (!uri || uri->host().empty()) return std::nullopt;
    return uri->host();
  }

  FieldId field_;
  std::string name_;
  std::string param_;
  StringMatcher matcher_;
};

Case caseOf(FieldId field) {
  switch (field) {
    case FieldId::kRuriUser:
    case FieldId::kFromUser:
    case FieldId::kToUser:
    case FieldId::kRuriPort:
      return Case::kSensitive;
    case FieldId::kRuriHost:
    case FieldId::kRuriScheme:
    case FieldId::kRuriParam:
    case FieldId::kFromHost:
    case FieldId::kToHost:
      break;
  }
  return Case::kInsensitive;
}

bool isHostField(FieldId field) {
  return field == FieldId::kRuriHost || field == FieldId::kFromHost || field == FieldId::kToHost;
}

}  // namespace

ConditionFactory fieldConditionFactory(FieldId field) {
  return [field](const YAML::Node& params,
                 CompileContext& ctx) -> std::unique_ptr<const Condition> {
    const std::string name(ctx.stepName());
    std::string param;
    if (field == FieldId::kRuriParam) {
      param = name.substr(name.rfind('.') + 1);
      if (!isToken(param)) {
        ctx.error(params,
                  "expected a parameter name after \"ruri.param.\", got " + inQuotes(param));
        return nullptr;
      }
    }
    // An IPv6 host is compared without its brackets, however the configuration writes it.
    YAML::Node matcherNode = params;
    if (isHostField(field) && params.IsScalar()) {
      const std::string& text = params.Scalar();
      if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
        matcherNode = YAML::Node(text.substr(1, text.size() - 2));
      }
    }
    std::optional<StringMatcher> matcher = StringMatcher::compile(matcherNode, caseOf(field), ctx);
    if (!matcher) return nullptr;
    return std::make_unique<FieldCondition>(field, name, std::move(param), std::move(*matcher));
  };
}

// --- header ----------------------------------------------------------------------------------

namespace {

class HeaderCondition final : public Condition {
 public:
  HeaderCondition(std::string name, std::optional<StringMatcher> matcher)
      : name_(std::move(name)), id_(sip::headerIdFromName(name_)), matcher_(std::move(matcher)) {}

  bool test(MessageContext& ctx) const override {
    const sip::Message& message = ctx.message();
    if (!matcher_) return find(message) != nullptr;
    const sip::HeaderField* h = find(message);
    if (!h) return matcher_->matches(std::nullopt);
    // Any line of that name may match.
    for (; h; h = next(message, *h)) {
      if (matcher_->matches(h->value)) return true;
    }
    return false;
  }

  std::string describe() const override {
    if (!matcher_) return "header " + name_ + " present";
    return matcher_->describe("header " + name_);
  }

 private:
  const sip::HeaderField* find(const sip::Message& message) const {
    return id_ == sip::HeaderId::kOther ? message.find(std::string_view(name_)) : message.find(id_);
  }

  // The next line of the same name: known headers are chained by id, others compared by name.
  const sip::HeaderField* next(const sip::Message& message, const sip::HeaderField& h) const {
    if (id_ != sip::HeaderId::kOther) return message.next(h);
    const std::span<const sip::HeaderField> all = message.headers();
    for (std::size_t i = static_cast<std::size_t>(&h - all.data()) + 1; i < all.size(); ++i) {
      if (all[i].id == sip::HeaderId::kOther && sip::equalsIgnoreCase(all[i].name, name_)) {
        return &all[i];
      }
    }
    return nullptr;
  }

  std::string name_;
  sip::HeaderId id_;
  std::optional<StringMatcher> matcher_;  // absent: the header's presence is the test
};

constexpr std::string_view kHeaderForms =
    "a header name, or {name: NAME, equals | regex | prefix | present: ...}";

}  // namespace

std::unique_ptr<const Condition> makeHeaderCondition(const YAML::Node& params,
                                                     CompileContext& ctx) {
  if (params.IsScalar()) {
    if (!isToken(params.Scalar())) {
      ctx.expected(params, "a header name such as X-Tenant");
      return nullptr;
    }
    return std::make_unique<HeaderCondition>(params.Scalar(), std::nullopt);
  }
  if (!params.IsMap()) {
    ctx.expected(params, kHeaderForms);
    return nullptr;
  }
  std::optional<std::string> name;
  bool nameOk = true;
  std::size_t tests = 0;
  for (const auto& pair : params) {
    if (!pair.first.IsScalar() || pair.first.Scalar() != "name") {
      ++tests;
      continue;
    }
    if (!pair.second.IsScalar() || !isToken(pair.second.Scalar())) {
      ctx.expected(pair.second, "a header name such as X-Tenant");
      nameOk = false;
    } else {
      name = pair.second.Scalar();
    }
  }
  // {name: X} alone tests presence, like the plain form.
  std::optional<StringMatcher> matcher;
  if (tests > 0) {
    matcher = StringMatcher::compile(params, Case::kSensitive, ctx, /*allowEquals=*/true);
    if (!matcher) return nullptr;
  }
  if (!name) {
    if (nameOk) ctx.error(params, "missing \"name\"; expected " + std::string(kHeaderForms));
    return nullptr;
  }
  return std::make_unique<HeaderCondition>(std::move(*name), std::move(matcher));
}

// --- src_ip, transport -------------------------------------------------------------------------

namespace {

class SrcIpCondition final : public Condition {
 public:
  SrcIpCondition(std::vector<Cidr> cidrs, std::vector<std::string> texts)
      : cidrs_(std::move(cidrs)), texts_(std::move(texts)) {}

  bool test(MessageContext& ctx) const override {
    const std::optional<IpAddress> ip = ipOf(ctx.received().source);
    if (!ip) return false;
    return std::any_of(cidrs_.begin(), cidrs_.end(),
                       [&](const Cidr& cidr) { return cidr.contains(*ip); });
  }

  std::string describe() const override {
    std::string out = "src_ip in [";
    for (std::size_t i = 0; i < texts_.size(); ++i) {
      if (i) out += ", ";
      out += texts_[i];
    }
    return out + "]";
  }

 private:
  std::vector<Cidr> cidrs_;
  std::vector<std::string> texts_;
};

class TransportCondition final : public Condition {
 public:
  TransportCondition(bool udp, bool tcp) : udp_(udp), tcp_(tcp) {}

  bool test(MessageContext& ctx) const override {
    return ctx.received().protocol == transport::Protocol::kTcp ? tcp_ : udp_;
  }

  std::string describe() const override {
    if (udp_ && tcp_) return "transport in [udp, tcp]";
    return udp_ ? "transport == udp" : "transport == tcp";
  }

 private:
  bool udp_;
  bool tcp_;
};

// Every item of a string-or-list parameter.
template <class Fn>
bool forEachItem(const YAML::Node& params, CompileContext& ctx, std::string_view what, Fn&& fn) {
  if (params.IsScalar()) return fn(params);
  if (!params.IsSequence() || params.size() == 0) {
    ctx.expected(params, std::string(what) + ", or a list of them");
    return false;
  }
  bool ok = true;
  for (const YAML::Node& item : params) {
    if (!item.IsScalar()) {
      ctx.expected(item, what);
      ok = false;
    } else if (!fn(item)) {
      ok = false;
    }
  }
  return ok;
}

}  // namespace

std::unique_ptr<const Condition> makeSrcIp(const YAML::Node& params, CompileContext& ctx) {
  std::vector<Cidr> cidrs;
  std::vector<std::string> texts;
  const bool ok = forEachItem(params, ctx, "an address or network such as \"10.0.0.0/8\"",
                              [&](const YAML::Node& item) {
                                CidrResult result = parseCidr(item.Scalar());
                                if (!result.cidr) {
                                  ctx.error(item, result.error);
                                  return false;
                                }
                                cidrs.push_back(*result.cidr);
                                texts.push_back(item.Scalar());
                                return true;
                              });
  if (!ok) return nullptr;
  return std::make_unique<SrcIpCondition>(std::move(cidrs), std::move(texts));
}

std::unique_ptr<const Condition> makeTransport(const YAML::Node& params, CompileContext& ctx) {
  bool udp = false;
  bool tcp = false;
  const bool ok = forEachItem(params, ctx, "udp or tcp", [&](const YAML::Node& item) {
    const std::string& text = item.Scalar();
    if (text == "udp") {
      udp = true;
    } else if (text == "tcp") {
      tcp = true;
    } else if (text == "tls" || text == "ws" || text == "wss") {
      ctx.error(item, "transport " + inQuotes(text) +
                          " is not supported by this version; expected udp or tcp");
      return false;
    } else {
      ctx.expected(item, "udp or tcp");
      return false;
    }
    return true;
  });
  if (!ok) return nullptr;
  return std::make_unique<TransportCondition>(udp, tcp);
}

// --- addressed_to_me, has_to_tag, loose_route ---------------------------------------------------

namespace {

// A yes/no property of the message, compared with the configured true or false.
template <class Test>
class FlagCondition final : public Condition {
 public:
  FlagCondition(std::string_view name, bool expected, Test test)
      : name_(name), expected_(expected), test_(std::move(test)) {}

  bool test(MessageContext& ctx) const override { return test_(ctx) == expected_; }
  std::string describe() const override { return expected_ ? name_ : "not " + name_; }

 private:
  std::string name_;
  bool expected_;
  Test test_;
};

template <class Test>
std::unique_ptr<const Condition> makeFlag(const YAML::Node& params, CompileContext& ctx,
                                          Test test) {
  const std::optional<bool> expected = readBool(params, ctx);
  if (!expected) return nullptr;
  return std::make_unique<FlagCondition<Test>>(ctx.stepName(), *expected, std::move(test));
}

}  // namespace

std::unique_ptr<const Condition> makeAddressedToMe(const YAML::Node& params, CompileContext& ctx) {
  return makeFlag(params, ctx, [](MessageContext& m) {
    const sip::Uri* uri = requestUriOf(m);
    if (!uri || !uri->isSip()) return false;
    return m.actions().isLocal(uri->host(), uri->hostPort.hasPort ? uri->port() : 0);
  });
}

std::unique_ptr<const Condition> makeHasToTag(const YAML::Node& params, CompileContext& ctx) {
  return makeFlag(params, ctx, [](MessageContext& m) {
    const sip::NameAddr* to = toOf(m);
    return to && !to->tag.empty();
  });
}

std::unique_ptr<const Condition> makeLooseRouteCondition(const YAML::Node& params,
                                                         CompileContext& ctx) {
  return makeFlag(params, ctx, [](MessageContext& m) { return m.actions().looseRoute(); });
}

}  // namespace strowger::script::detail
