#include "strowger/script/registry.h"

#include <algorithm>
#include <array>

#include "strowger/script/value.h"
#include "text.h"

namespace strowger::script {
namespace {

// Words of the script language itself, never step names.
constexpr std::array<std::string_view, 6> kReserved = {"if", "then", "else", "all", "any", "not"};

constexpr std::string_view kFamilySuffix = ".*";

Expected<void, std::string> checkName(std::string_view name) {
  std::string_view stem = name;
  if (stem.ends_with(kFamilySuffix)) stem.remove_suffix(kFamilySuffix.size());
  const bool wellFormed =
      !stem.empty() && stem.front() >= 'a' && stem.front() <= 'z' && stem.back() != '.' &&
      std::all_of(stem.begin(), stem.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
      });
  if (!wellFormed) {
    return unexpected("step name " + detail::inQuotes(name) +
                      " must be lower-case letters, digits, '_' and '.', starting with a letter");
  }
  if (std::find(kReserved.begin(), kReserved.end(), name) != kReserved.end()) {
    return unexpected("step name " + detail::inQuotes(name) + " is a word of the script language");
  }
  return {};
}

template <class Spec>
Expected<void, std::string> add(std::vector<Spec>& specs, Spec spec, std::string_view what) {
  if (Expected<void, std::string> ok = checkName(spec.name); !ok) return ok;
  if (!spec.factory) return unexpected(std::string(what) + " " + spec.name + " has no factory");
  if (spec.routeKinds.empty()) {
    return unexpected(std::string(what) + " " + spec.name + " may run in no kind of route");
  }
  const bool taken =
      std::any_of(specs.begin(), specs.end(), [&](const Spec& s) { return s.name == spec.name; });
  if (taken) return unexpected(std::string(what) + " " + spec.name + " is already registered");
  specs.push_back(std::move(spec));
  return {};
}

template <class Spec>
const Spec* find(const std::vector<Spec>& specs, std::string_view name) {
  const Spec* family = nullptr;
  std::size_t familyLength = 0;
  for (const Spec& spec : specs) {
    if (spec.name == name) return &spec;
    std::string_view prefix = spec.name;
    if (!prefix.ends_with(kFamilySuffix)) continue;
    prefix.remove_suffix(1);  // keep the dot: "ruri.param."
    if (name.size() > prefix.size() && name.starts_with(prefix) && prefix.size() > familyLength) {
      family = &spec;
      familyLength = prefix.size();
    }
  }
  return family;
}

template <class Spec>
std::vector<std::string> names(const std::vector<Spec>& specs) {
  std::vector<std::string> out;
  for (const Spec& spec : specs) {
    std::string name = spec.name;
    if (name.ends_with(kFamilySuffix)) name.replace(name.size() - 1, 1, "NAME");
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace

Expected<void, std::string> StepRegistry::addAction(ActionSpec spec) {
  return add(actions_, std::move(spec), "action");
}

Expected<void, std::string> StepRegistry::addCondition(ConditionSpec spec) {
  return add(conditions_, std::move(spec), "condition");
}

const ActionSpec* StepRegistry::findAction(std::string_view name) const {
  return find(actions_, name);
}

const ConditionSpec* StepRegistry::findCondition(std::string_view name) const {
  return find(conditions_, name);
}

std::vector<std::string> StepRegistry::actionNames() const {
  return names(actions_);
}
std::vector<std::string> StepRegistry::conditionNames() const {
  return names(conditions_);
}

Expected<void, std::string> StepRegistry::addVariable(std::string name) {
  if (Expected<void, std::string> ok = checkName(name); !ok) {
    return unexpected("variable" + ok.error().substr(std::string_view("step name").size()));
  }
  std::string_view stem = name;
  if (stem.ends_with(kFamilySuffix)) stem.remove_suffix(1);  // "dst.attr."
  for (std::string_view core : Value::variableNames()) {
    // The core's families are written "hdr.NAME"; compare their stems.
    if (core.ends_with(".NAME")) core.remove_suffix(4);
    if (core == stem || (core.ends_with('.') && stem.starts_with(core)) ||
        (stem.ends_with('.') && core.starts_with(stem))) {
      return unexpected("variable " + detail::inQuotes(name) + " would hide the variable ${" +
                        std::string(core) + (core.ends_with('.') ? "NAME" : "") + "}");
    }
  }
  if (std::find(variables_.begin(), variables_.end(), name) != variables_.end()) {
    return unexpected("variable " + name + " is already registered");
  }
  variables_.push_back(std::move(name));
  return {};
}

bool StepRegistry::hasVariable(std::string_view name) const {
  for (std::string_view known : variables_) {
    if (known == name) return true;
    if (known.ends_with(kFamilySuffix)) {
      known.remove_suffix(1);
      if (name.size() > known.size() && name.starts_with(known)) return true;
    }
  }
  return false;
}

std::vector<std::string> StepRegistry::variableNames() const {
  std::vector<std::string> out;
  for (std::string name : variables_) {
    if (name.ends_with(kFamilySuffix)) name.replace(name.size() - 1, 1, "NAME");
    out.push_back(std::move(name));
  }
  return out;
}

std::string describeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return detail::inQuotes(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "an empty value";
}

}  // namespace strowger::script
