// The factories of the built-in steps; builtin_steps.cc lists them with their names.
#pragma once

#include "strowger/script/registry.h"

namespace strowger::script::detail {

// Message fields that conditions compare as strings.
enum class FieldId : uint8_t {
  kRuriUser,
  kRuriHost,
  kRuriPort,
  kRuriScheme,
  kRuriParam,  // the parameter named after "ruri.param."
  kFromUser,
  kFromHost,
  kToUser,
  kToHost,
};

// Conditions.
std::unique_ptr<const Condition> makeMethod(const YAML::Node& params, CompileContext& ctx);
ConditionFactory fieldConditionFactory(FieldId field);
std::unique_ptr<const Condition> makeHeaderCondition(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Condition> makeSrcIp(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Condition> makeTransport(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Condition> makeAddressedToMe(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Condition> makeHasToTag(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Condition> makeLooseRouteCondition(const YAML::Node& params,
                                                         CompileContext& ctx);
std::unique_ptr<const Condition> makeReplyCode(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Condition> makeReplyReason(const YAML::Node& params, CompileContext& ctx);

// Actions.
std::unique_ptr<const Action> makeReply(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeForward(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeRecordRoute(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeLooseRoute(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeDrop(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeSetRuri(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeSetRuriUser(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeSetRuriHost(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeSetRuriPort(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeSetNextHop(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeAddHeader(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeRemoveHeader(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeReplaceHeader(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeRouteCall(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeLog(const YAML::Node& params, CompileContext& ctx);
std::unique_ptr<const Action> makeRelay(const YAML::Node& params, CompileContext& ctx);
// on_failure, on_reply, on_branch: arm the hook of `kind` (failure, reply or branch).
ActionFactory hookFactory(RouteKind kind);
std::unique_ptr<const Action> makeAppendBranch(const YAML::Node& params, CompileContext& ctx);

// Whether `text` is an RFC 3261 token (method names, header names, parameter names).
bool isToken(std::string_view text);

// Reads `true` or `false`; reports anything else.
std::optional<bool> readBool(const YAML::Node& node, CompileContext& ctx);

// The Call-ID, for run-time log lines; empty when the message has none that parses.
std::string_view callIdOf(const MessageContext& ctx);

// The line a parameter is on (0 when unknown), for run-time warnings about values read from the
// message.
int lineOf(const YAML::Node& node);

// A destination parameter (`forward: {to: ...}`, `relay: {to: ...}`): read at load when it is
// constant, else a value that is read from the message and parsed at run time.
struct Destination {
  std::optional<NextHop> hop;  // constant
  std::optional<Value> value;  // read from the message
  int line = 0;                // where `value` is written
};
inline constexpr std::string_view kDestinationForm = "a SIP URI such as \"sip:192.0.2.1:5060\"";
std::optional<Destination> readDestination(const YAML::Node& node, CompileContext& ctx);

}  // namespace strowger::script::detail
