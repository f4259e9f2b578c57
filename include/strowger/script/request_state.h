// What the steps of one request leave for later steps and for the later routes of its transaction
// (branch, reply and failure routes): named text variables, which values read as ${NAME}
// (`${auth.user}`, `${dst.attr.gw}`), and objects a module keeps with the request (the
// dispatcher's remaining candidates). Kamailio keeps the same things in AVPs and XAVPs.
//
// A request gets its state on first use (MessageContext::state()). A stateful relay hands it to
// the transaction, which gives the same object to every route it runs later, and releases it when
// the transaction is forgotten: an attached object's destructor then runs, on whichever thread
// forgets the transaction (so it must be thread-safe; the dispatcher's live-call count is an
// atomic decremented there). The routes of one transaction never run at once: no locking is
// needed to use the state from a step.
//
// Modules register the variable names they set (StepRegistry::addVariable), so that the compiler
// can refuse a misspelt ${...} at load time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strowger::script {

class RequestState {
 public:
  // Sets variable `name` (as registered: "auth.user", "dst.attr.gw") to `value`.
  void setVariable(std::string_view name, std::string value);
  // The variable's value, or null when no step has set it (a value reads it as empty).
  const std::string* variable(std::string_view name) const;
  void clearVariable(std::string_view name);
  // Removes every variable whose name starts with `prefix` ("dst.attr."), for a step that sets a
  // new group of them.
  void clearVariables(std::string_view prefix);

  // Keeps `object` under `key` (the module's name, or "module.purpose"), replacing any object
  // kept under it before.
  void attach(std::string_view key, std::shared_ptr<void> object);
  // The object kept under `key`, or null. The caller knows its type.
  template <typename T>
  T* attached(std::string_view key) const {
    return static_cast<T*>(find(key));
  }
  void detach(std::string_view key);

 private:
  void* find(std::string_view key) const;

  std::vector<std::pair<std::string, std::string>> variables_;
  std::vector<std::pair<std::string, std::shared_ptr<void>>> objects_;
};

}  // namespace strowger::script
