// Every built-in step, in one list: what a routing script can name without loading a module.
#include "builtin.h"

namespace strowger::script {

using namespace detail;

Expected<void, std::string> registerBuiltinSteps(StepRegistry& registry) {
  // Where each step may run (docs/routing.md, "Route kinds"). In a reply route the message is the
  // reply; in failure and branch routes it is the request.
  const RouteKinds request = RouteKind::kRequest;
  const RouteKinds all = RouteKinds::all();
  const RouteKinds requestLike = RouteKind::kRequest | RouteKind::kFailure | RouteKind::kBranch;
  const RouteKinds relaying = RouteKind::kRequest | RouteKind::kFailure;
  const RouteKinds replies = RouteKind::kReply | RouteKind::kFailure;
  const RouteKinds dropping = RouteKind::kRequest | RouteKind::kReply | RouteKind::kBranch;

  const ConditionSpec conditions[] = {
      // In a reply route, the method of the CSeq: the request's the reply answers.
      {"method", "METHOD or [METHOD, ...]", all, makeMethod},
      {"ruri.user", "a string matcher", requestLike, fieldConditionFactory(FieldId::kRuriUser)},
      {"ruri.host", "a string matcher", requestLike, fieldConditionFactory(FieldId::kRuriHost)},
      {"ruri.port", "a string matcher", requestLike, fieldConditionFactory(FieldId::kRuriPort)},
      {"ruri.scheme", "a string matcher", requestLike, fieldConditionFactory(FieldId::kRuriScheme)},
      {"ruri.param.*", "a string matcher", requestLike, fieldConditionFactory(FieldId::kRuriParam)},
      {"from.user", "a string matcher", all, fieldConditionFactory(FieldId::kFromUser)},
      {"from.host", "a string matcher", all, fieldConditionFactory(FieldId::kFromHost)},
      {"to.user", "a string matcher", all, fieldConditionFactory(FieldId::kToUser)},
      {"to.host", "a string matcher", all, fieldConditionFactory(FieldId::kToHost)},
      {"header", "NAME or {name: NAME, equals | regex | prefix | present: ...}", all,
       makeHeaderCondition},
      {"src_ip", "CIDR or [CIDR, ...]", all, makeSrcIp},
      {"transport", "udp | tcp or a list", all, makeTransport},
      {"addressed_to_me", "true | false", request, makeAddressedToMe},
      {"has_to_tag", "true | false", requestLike, makeHasToTag},
      {"loose_route", "true | false", request, makeLooseRouteCondition},
      {"reply.code", "CODE, CLASS (4xx), RANGE (500-599) or a list", replies, makeReplyCode},
      {"reply.reason", "a string matcher", replies, makeReplyReason},
  };
  const ActionSpec actions[] = {
      {"reply", "[CODE, REASON] or {code, reason, headers}", relaying, makeReply},
      {"forward", "nothing, or {to: URI}", request, makeForward},
      {"relay", "nothing, or {to: URI, fork: parallel | serial}", relaying, makeRelay},
      {"on_failure", "FAILURE ROUTE NAME", relaying, hookFactory(RouteKind::kFailure)},
      {"on_reply", "REPLY ROUTE NAME", relaying, hookFactory(RouteKind::kReply)},
      {"on_branch", "BRANCH ROUTE NAME", relaying, hookFactory(RouteKind::kBranch)},
      {"append_branch", "URI or {uri, q, next_hop}", relaying, makeAppendBranch},
      {"record_route", "nothing", request, makeRecordRoute},
      {"loose_route", "nothing", request, makeLooseRoute},
      {"drop", "nothing", dropping, makeDrop},
      {"set_ruri", "URI", requestLike, makeSetRuri},
      {"set_ruri_user", "USER", requestLike, makeSetRuriUser},
      {"set_ruri_host", "HOST", requestLike, makeSetRuriHost},
      {"set_ruri_port", "PORT", requestLike, makeSetRuriPort},
      {"set_next_hop", "URI", requestLike, makeSetNextHop},
      {"add_header", "{name, value}", all, makeAddHeader},
      {"remove_header", "NAME", all, makeRemoveHeader},
      {"replace_header", "{name, value}", all, makeReplaceHeader},
      {"route", "ROUTE NAME", all, makeRouteCall},
      {"log", "TEXT or {level, message}", all, makeLog},
  };
  for (const ConditionSpec& spec : conditions) {
    if (Expected<void, std::string> added = registry.addCondition(spec); !added) return added;
  }
  for (const ActionSpec& spec : actions) {
    if (Expected<void, std::string> added = registry.addAction(spec); !added) return added;
  }
  return {};
}

}  // namespace strowger::script
