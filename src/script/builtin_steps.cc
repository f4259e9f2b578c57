// Every built-in step, in one list: what a routing script can name without loading a module.
#include "builtin.h"

namespace strowger::script {

using namespace detail;

Expected<void, std::string> registerBuiltinSteps(StepRegistry& registry) {
  const RouteKinds request = RouteKind::kRequest;

  const ConditionSpec conditions[] = {
      {"method", "METHOD or [METHOD, ...]", request, makeMethod},
      {"ruri.user", "a string matcher", request, fieldConditionFactory(FieldId::kRuriUser)},
      {"ruri.host", "a string matcher", request, fieldConditionFactory(FieldId::kRuriHost)},
      {"ruri.port", "a string matcher", request, fieldConditionFactory(FieldId::kRuriPort)},
      {"ruri.scheme", "a string matcher", request, fieldConditionFactory(FieldId::kRuriScheme)},
      {"ruri.param.*", "a string matcher", request, fieldConditionFactory(FieldId::kRuriParam)},
      {"from.user", "a string matcher", request, fieldConditionFactory(FieldId::kFromUser)},
      {"from.host", "a string matcher", request, fieldConditionFactory(FieldId::kFromHost)},
      {"to.user", "a string matcher", request, fieldConditionFactory(FieldId::kToUser)},
      {"to.host", "a string matcher", request, fieldConditionFactory(FieldId::kToHost)},
      {"header", "NAME or {name: NAME, equals | regex | prefix | present: ...}", request,
       makeHeaderCondition},
      {"src_ip", "CIDR or [CIDR, ...]", request, makeSrcIp},
      {"transport", "udp | tcp or a list", request, makeTransport},
      {"addressed_to_me", "true | false", request, makeAddressedToMe},
      {"has_to_tag", "true | false", request, makeHasToTag},
      {"loose_route", "true | false", request, makeLooseRouteCondition},
  };
  const ActionSpec actions[] = {
      {"reply", "[CODE, REASON] or {code, reason, headers}", request, makeReply},
      {"forward", "nothing, or {to: URI}", request, makeForward},
      {"record_route", "nothing", request, makeRecordRoute},
      {"loose_route", "nothing", request, makeLooseRoute},
      {"drop", "nothing", request, makeDrop},
      {"set_ruri", "URI", request, makeSetRuri},
      {"set_ruri_user", "USER", request, makeSetRuriUser},
      {"set_ruri_host", "HOST", request, makeSetRuriHost},
      {"set_ruri_port", "PORT", request, makeSetRuriPort},
      {"set_next_hop", "URI", request, makeSetNextHop},
      {"add_header", "{name, value}", request, makeAddHeader},
      {"remove_header", "NAME", request, makeRemoveHeader},
      {"replace_header", "{name, value}", request, makeReplaceHeader},
      {"route", "ROUTE NAME", request, makeRouteCall},
      {"log", "TEXT or {level, message}", request, makeLog},
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
