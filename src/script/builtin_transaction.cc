// The built-in steps of stateful relaying (docs/routing.md, "Route kinds"): relay, on_failure,
// on_reply, on_branch, append_branch, and the reply.code and reply.reason conditions of reply and
// failure routes. Kamailio's tm module is the model: t_relay, t_on_failure, t_on_reply,
// t_on_branch, append_branch, t_check_status.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "builtin.h"
#include "matcher.h"
#include "strowger/sip/headers.h"
#include "text.h"
#include "uri_edit.h"

namespace strowger::script::detail {
namespace {

// Reads a map parameter's keys: calls `read(key, value)` for each known key, reports unknown keys
// with the closest known one. Returns false when a key was unknown.
template <std::size_t N, class Read>
bool readKeys(const YAML::Node& params, const std::array<std::string_view, N>& keys,
              CompileContext& ctx, Read&& read) {
  bool ok = true;
  for (const auto& pair : params) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
      read(key, pair.second);
      continue;
    }
    std::string hint = didYouMean(key, keys);
    if (hint.empty()) hint = "; expected " + listOf(keys);
    ctx.error(pair.first, "unknown key " + inQuotes(key) + hint);
    ok = false;
  }
  return ok;
}

// --- relay -----------------------------------------------------------------------------------

class RelayAction final : public Action {
 public:
  RelayAction(std::optional<Destination> to, ForkMode mode) : to_(std::move(to)), mode_(mode) {}

  void run(MessageContext& ctx) const override {
    if (to_ && to_->value) {
      std::string text;
      to_->value->appendTo(ctx, text);
      Expected<NextHop, std::string> hop = parseNextHop(text);
      if (!hop) {
        spdlog::warn("call-id={} relay (line {}): {}; answered 503", callIdOf(ctx), to_->line,
                     hop.error());
        ctx.actions().reply(503, "Cannot Forward", {});
      } else {
        ctx.actions().relay(&*hop, mode_);
      }
    } else {
      // When no branch can be started the proxy answers upstream itself.
      ctx.actions().relay(to_ ? &*to_->hop : nullptr, mode_);
    }
    ctx.finish();
  }

  std::string describe() const override {
    std::string out = "relay (stateful)";
    if (to_) out += " to " + (to_->hop ? to_->hop->uri : to_->value->source());
    if (mode_ == ForkMode::kSerial) out += ", serial forking";
    return out;
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    if (to_) {
      if (to_->value) to_->value->appendTo(ctx, out);
    } else {
      if (ctx.nextHop()) {
        out.append("next hop ").append(ctx.nextHop()->uri);
      } else if (ctx.routeKind() == RouteKind::kRequest &&
                 ctx.message().has(sip::HeaderId::kRoute)) {
        out.append("by the Route set, else to ").append(ctx.requestUriText());
      } else {
        out.append("to ").append(ctx.requestUriText());
      }
      if (const std::size_t n = ctx.branches().size(); n > 0) {
        out.append(" + ").append(std::to_string(n)).append(n == 1 ? " branch" : " branches");
      }
    }
    const TransactionHooks& hooks = ctx.hooks();
    for (const auto& [name, route] :
         {std::pair{"on_branch ", hooks.onBranch}, std::pair{"on_reply ", hooks.onReply},
          std::pair{"on_failure ", hooks.onFailure}}) {
      if (!route) continue;
      if (!out.empty()) out += "; ";
      out.append(name).append(route->name());
    }
  }

 private:
  std::optional<Destination> to_;
  ForkMode mode_;
};

constexpr std::string_view kRelayForms =
    "no parameters, or {to: \"sip:HOST[:PORT][;transport=udp|tcp]\", fork: parallel | serial}";

}  // namespace

std::unique_ptr<const Action> makeRelay(const YAML::Node& params, CompileContext& ctx) {
  if (params.IsNull()) return std::make_unique<RelayAction>(std::nullopt, ForkMode::kParallel);
  if (!params.IsMap()) {
    ctx.expected(params, kRelayForms);
    return nullptr;
  }
  std::optional<Destination> to;
  ForkMode mode = ForkMode::kParallel;
  bool ok = true;
  static constexpr std::array<std::string_view, 2> kKeys = {"to", "fork"};
  const bool keysOk =
      readKeys(params, kKeys, ctx, [&](const std::string& key, const YAML::Node& value) {
        if (key == "to") {
          to = readDestination(value, ctx);
          ok = ok && to.has_value();
        } else if (value.IsScalar() && value.Scalar() == "parallel") {
          mode = ForkMode::kParallel;
        } else if (value.IsScalar() && value.Scalar() == "serial") {
          mode = ForkMode::kSerial;
        } else {
          ctx.expected(value, "parallel or serial");
          ok = false;
        }
      });
  if (!keysOk || !ok) return nullptr;
  return std::make_unique<RelayAction>(std::move(to), mode);
}

// --- on_failure, on_reply, on_branch ---------------------------------------------------------

namespace {

class ArmHookAction final : public Action {
 public:
  ArmHookAction(RouteKind kind, const Route& route) : kind_(kind), route_(route) {}

  void run(MessageContext& ctx) const override {
    TransactionHooks& hooks = ctx.hooks();
    switch (kind_) {
      case RouteKind::kFailure:
        hooks.onFailure = &route_;
        break;
      case RouteKind::kReply:
        hooks.onReply = &route_;
        break;
      case RouteKind::kBranch:
        hooks.onBranch = &route_;
        break;
      case RouteKind::kRequest:
        break;
    }
  }

  std::string describe() const override {
    return "on_" + std::string(routeKindName(kind_)) + " " + route_.name();
  }

 private:
  RouteKind kind_;
  const Route& route_;
};

}  // namespace

ActionFactory hookFactory(RouteKind kind) {
  return [kind](const YAML::Node& params, CompileContext& ctx) -> std::unique_ptr<const Action> {
    const Route* route = ctx.findRoute(params, kind);
    if (!route) return nullptr;
    return std::make_unique<ArmHookAction>(kind, *route);
  };
}

// --- append_branch ---------------------------------------------------------------------------

namespace {

class AppendBranchAction final : public Action {
 public:
  AppendBranchAction(Value uri, double q, std::optional<Destination> nextHop, int line)
      : uri_(std::move(uri)), q_(q), nextHop_(std::move(nextHop)), line_(line) {}

  void run(MessageContext& ctx) const override {
    BranchTarget branch;
    branch.q = q_;
    if (uri_.isConstant()) {
      branch.uri = uri_.constant();
    } else {
      uri_.appendTo(ctx, branch.uri);
      if (!checkRequestUri(branch.uri)) {
        spdlog::warn("call-id={} append_branch (line {}): {} is not a SIP URI; no branch added",
                     callIdOf(ctx), line_, inQuotes(branch.uri));
        return;
      }
    }
    if (nextHop_ && nextHop_->hop) {
      branch.nextHop = nextHop_->hop;
    } else if (nextHop_) {
      std::string text;
      nextHop_->value->appendTo(ctx, text);
      Expected<NextHop, std::string> hop = parseNextHop(text);
      if (!hop) {
        spdlog::warn("call-id={} append_branch (line {}): next_hop: {}; no branch added",
                     callIdOf(ctx), nextHop_->line, hop.error());
        return;
      }
      branch.nextHop = std::move(*hop);
    }
    ctx.branches().push_back(std::move(branch));
  }

  std::string describe() const override {
    std::string out = "append_branch " + inQuotes(uri_.source());
    if (q_ != 1.0) {
      char digits[16];
      const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, q_);
      (void)ec;
      out.append(" q=").append(digits, end);
    }
    if (nextHop_) {
      out += " via " + (nextHop_->hop ? nextHop_->hop->uri : inQuotes(nextHop_->value->source()));
    }
    return out;
  }

  void explain(const MessageContext& ctx, std::string& out) const override {
    if (!uri_.isConstant()) {
      std::string text;
      uri_.appendTo(ctx, text);
      out += inQuotes(text);
    }
    if (nextHop_ && nextHop_->value) {
      if (!out.empty()) out += ' ';
      out += "via ";
      nextHop_->value->appendTo(ctx, out);
    }
  }

 private:
  Value uri_;
  double q_;
  std::optional<Destination> nextHop_;
  int line_;
};

constexpr std::string_view kAppendBranchForms =
    "a URI such as \"sip:bob@192.0.2.5\", or {uri: URI, q: 0.5, next_hop: URI}";

std::optional<Value> readBranchUri(const YAML::Node& node, CompileContext& ctx) {
  if (!node.IsScalar()) {
    ctx.expected(node, "a URI such as \"sip:bob@192.0.2.5\"");
    return std::nullopt;
  }
  std::optional<Value> uri = ctx.compileValue(node);
  if (!uri) return std::nullopt;
  if (uri->isConstant()) {
    if (Expected<void, std::string> check = checkRequestUri(uri->constant()); !check) {
      ctx.error(node, check.error());
      return std::nullopt;
    }
  }
  return uri;
}

// RFC 3261 §20.10 qvalue: 0 to 1.
std::optional<double> readQ(const YAML::Node& node, CompileContext& ctx) {
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    double q = -1;
    const auto [end, ec] =
        std::from_chars(text.data(), text.data() + text.size(), q, std::chars_format::fixed);
    if (ec == std::errc() && end == text.data() + text.size() && q >= 0 && q <= 1) return q;
  }
  ctx.expected(node, "a q-value from 0 to 1, such as 0.5");
  return std::nullopt;
}

}  // namespace

std::unique_ptr<const Action> makeAppendBranch(const YAML::Node& params, CompileContext& ctx) {
  if (params.IsScalar()) {
    std::optional<Value> uri = readBranchUri(params, ctx);
    if (!uri) return nullptr;
    return std::make_unique<AppendBranchAction>(std::move(*uri), 1.0, std::nullopt, lineOf(params));
  }
  if (!params.IsMap()) {
    ctx.expected(params, kAppendBranchForms);
    return nullptr;
  }
  std::optional<Value> uri;
  double q = 1.0;
  std::optional<Destination> nextHop;
  bool haveUri = false;
  int line = 0;
  bool ok = true;
  static constexpr std::array<std::string_view, 3> kKeys = {"uri", "q", "next_hop"};
  const bool keysOk =
      readKeys(params, kKeys, ctx, [&](const std::string& key, const YAML::Node& value) {
        if (key == "uri") {
          haveUri = true;
          uri = readBranchUri(value, ctx);
          line = lineOf(value);
          ok = ok && uri.has_value();
        } else if (key == "q") {
          const std::optional<double> read = readQ(value, ctx);
          if (read) q = *read;
          ok = ok && read.has_value();
        } else {
          nextHop = readDestination(value, ctx);
          ok = ok && nextHop.has_value();
        }
      });
  if (!haveUri) {
    ctx.error(params, "missing \"uri\"; expected " + std::string(kAppendBranchForms));
    return nullptr;
  }
  if (!keysOk || !ok) return nullptr;
  return std::make_unique<AppendBranchAction>(std::move(*uri), q, std::move(nextHop), line);
}

// --- reply.code, reply.reason ----------------------------------------------------------------

namespace {

struct CodeRange {
  uint16_t low = 0;
  uint16_t high = 0;
};

class ReplyCodeCondition final : public Condition {
 public:
  ReplyCodeCondition(std::vector<CodeRange> ranges, std::vector<std::string> texts)
      : ranges_(std::move(ranges)), texts_(std::move(texts)) {}

  bool test(MessageContext& ctx) const override {
    const ReplyView* reply = ctx.reply();
    if (!reply) return false;
    return std::any_of(ranges_.begin(), ranges_.end(), [&](const CodeRange& r) {
      return reply->code >= r.low && reply->code <= r.high;
    });
  }

  std::string describe() const override {
    if (texts_.size() == 1) {
      const bool exact = ranges_.front().low == ranges_.front().high;
      return (exact ? "reply.code == " : "reply.code in ") + texts_.front();
    }
    std::string out = "reply.code in [";
    for (std::size_t i = 0; i < texts_.size(); ++i) {
      if (i) out += ", ";
      out += texts_[i];
    }
    return out + "]";
  }

 private:
  std::vector<CodeRange> ranges_;
  std::vector<std::string> texts_;
};

constexpr std::string_view kCodeForms =
    "a status code 100..699, a class such as \"4xx\" or \"18x\", or a range such as "
    "\"500-599\"";

std::optional<uint16_t> statusCode(std::string_view text) {
  if (text.size() != 3) return std::nullopt;
  const std::optional<uint64_t> code = sip::parseUnsigned(text, 699);
  if (!code || *code < 100) return std::nullopt;
  return static_cast<uint16_t>(*code);
}

// "486", "4xx", "18x" or "500-599".
std::optional<CodeRange> parseCodeRange(std::string_view text) {
  if (const std::optional<uint16_t> code = statusCode(text)) return CodeRange{*code, *code};
  if (const std::size_t dash = text.find('-'); dash != std::string_view::npos) {
    const std::optional<uint16_t> low = statusCode(text.substr(0, dash));
    const std::optional<uint16_t> high = statusCode(text.substr(dash + 1));
    if (!low || !high || *low > *high) return std::nullopt;
    return CodeRange{*low, *high};
  }
  // A class: digits, then at least one x to the end ("4xx", "18x").
  const std::size_t wild = text.find_first_of("xX");
  if (text.size() != 3 || wild == 0 || wild == std::string_view::npos ||
      text.find_first_not_of("xX", wild) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string low(text);
  std::string high(text);
  std::replace_if(
      low.begin(), low.end(), [](char c) { return c == 'x' || c == 'X'; }, '0');
  std::replace_if(
      high.begin(), high.end(), [](char c) { return c == 'x' || c == 'X'; }, '9');
  const std::optional<uint16_t> lowCode = statusCode(low);
  const std::optional<uint16_t> highCode = statusCode(high);
  if (!lowCode || !highCode) return std::nullopt;
  return CodeRange{*lowCode, *highCode};
}

}  // namespace

std::unique_ptr<const Condition> makeReplyCode(const YAML::Node& params, CompileContext& ctx) {
  std::vector<CodeRange> ranges;
  std::vector<std::string> texts;
  bool ok = true;
  auto readOne = [&](const YAML::Node& item) {
    std::optional<CodeRange> range = item.IsScalar() ? parseCodeRange(item.Scalar()) : std::nullopt;
    if (!range) {
      ctx.expected(item, kCodeForms);
      ok = false;
      return;
    }
    ranges.push_back(*range);
    texts.push_back(item.Scalar());
  };
  if (params.IsScalar()) {
    readOne(params);
  } else if (params.IsSequence() && params.size() > 0) {
    for (const YAML::Node& item : params)
      readOne(item);
  } else {
    ctx.expected(params, std::string(kCodeForms) + ", or a list of them");
    return nullptr;
  }
  if (!ok) return nullptr;
  return std::make_unique<ReplyCodeCondition>(std::move(ranges), std::move(texts));
}

namespace {

class ReplyReasonCondition final : public Condition {
 public:
  explicit ReplyReasonCondition(StringMatcher matcher) : matcher_(std::move(matcher)) {}

  bool test(MessageContext& ctx) const override {
    const ReplyView* reply = ctx.reply();
    return matcher_.matches(reply ? std::optional(reply->reason) : std::nullopt);
  }

  std::string describe() const override { return matcher_.describe("reply.reason"); }

 private:
  StringMatcher matcher_;
};

}  // namespace

std::unique_ptr<const Condition> makeReplyReason(const YAML::Node& params, CompileContext& ctx) {
  // Reason phrases are text for people (RFC 3261 §21): vendors write "Busy here" as often as
  // "Busy Here", so they compare case-insensitively.
  std::optional<StringMatcher> matcher = StringMatcher::compile(params, Case::kInsensitive, ctx);
  if (!matcher) return nullptr;
  return std::make_unique<ReplyReasonCondition>(std::move(*matcher));
}

}  // namespace strowger::script::detail
