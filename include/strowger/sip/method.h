#pragma once

#include <cstdint>
#include <string_view>

namespace strowger::sip {

// Methods are case-sensitive (RFC 3261 §7.1): "invite" is an unknown extension method.
enum class Method : uint8_t {
  kUnknown = 0,
  kInvite,
  kAck,
  kBye,
  kCancel,
  kRegister,
  kOptions,
  kInfo,
  kUpdate,
  kPrack,
  kSubscribe,
  kNotify,
  kRefer,
  kMessage,
  kPublish,
};

Method methodFromToken(std::string_view token) noexcept;
std::string_view methodName(Method m) noexcept;  // empty for kUnknown

}  // namespace strowger::sip
