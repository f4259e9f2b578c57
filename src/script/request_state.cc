#include "strowger/script/request_state.h"

#include <algorithm>

namespace strowger::script {

void RequestState::setVariable(std::string_view name, std::string value) {
  for (auto& [key, current] : variables_) {
    if (key == name) {
      current = std::move(value);
      return;
    }
  }
  variables_.emplace_back(std::string(name), std::move(value));
}

const std::string* RequestState::variable(std::string_view name) const {
  for (const auto& [key, value] : variables_) {
    if (key == name) return &value;
  }
  return nullptr;
}

void RequestState::clearVariable(std::string_view name) {
  std::erase_if(variables_, [&](const auto& entry) { return entry.first == name; });
}

void RequestState::clearVariables(std::string_view prefix) {
  std::erase_if(variables_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
}

void RequestState::attach(std::string_view key, std::shared_ptr<void> object) {
  for (auto& [name, current] : objects_) {
    if (name == key) {
      current = std::move(object);
      return;
    }
  }
  objects_.emplace_back(std::string(key), std::move(object));
}

void* RequestState::find(std::string_view key) const {
  for (const auto& [name, object] : objects_) {
    if (name == key) return object.get();
  }
  return nullptr;
}

void RequestState::detach(std::string_view key) {
  std::erase_if(objects_, [&](const auto& entry) { return entry.first == key; });
}

}  // namespace strowger::script
