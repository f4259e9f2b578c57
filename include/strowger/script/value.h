// Values that read message fields: "sip:${ruri.user}@pbx.example.com", "${hdr.X-Tenant}".
//
// A Value is compiled once, at load, into a list of literal parts and field references; evaluating
// it for a message appends to a caller's string and looks nothing up by name. The variables are
// listed in docs/routing.md ("Values").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/script/context.h"
#include "strowger/sip/header_id.h"

namespace strowger::script {

class Value {
 public:
  // Compiles `text`. `${name}` reads a field, `$$` is a literal `$`, any other `$` is itself. The
  // error names the unknown or unterminated variable and, when there is one, a likely intended
  // name; it fits after "KEY: ".
  // With `registry`, the variables modules registered there (StepRegistry::addVariable) are
  // known too: they read the request's state (request_state.h).
  static Expected<Value, std::string> compile(std::string_view text,
                                              const class StepRegistry* registry = nullptr);

  // The variable names `${...}` accepts; `hdr.` and `ruri.param.` take a name after the dot.
  static std::span<const std::string_view> variableNames() noexcept;

  // True when the value reads no field: constant() then is the whole value.
  bool isConstant() const noexcept { return !hasFields_; }
  // The value with `$$` unescaped; meaningful only when isConstant().
  const std::string& constant() const noexcept { return constant_; }
  // The value as written in the configuration.
  const std::string& source() const noexcept { return source_; }

  // Appends the value for this message. A field the message lacks (no user in the Request-URI, an
  // absent header) reads as empty. Never throws.
  void appendTo(const MessageContext& ctx, std::string& out) const;

  enum class Field : uint8_t;  // what a part reads; defined in src/script/value.cc

 private:
  struct Part {
    Field field;
    std::string text;  // the literal text, or the header or parameter name
    sip::HeaderId header = sip::HeaderId::kOther;
  };
  std::vector<Part> parts_;
  std::string source_;
  std::string constant_;
  bool hasFields_ = false;
};

}  // namespace strowger::script
