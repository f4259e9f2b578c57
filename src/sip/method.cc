#include "strowger/sip/method.h"

#include <array>

namespace strowger::sip {
namespace {

constexpr std::array<std::string_view, 15> kMethodNames = {
    "",       "INVITE", "ACK",       "BYE",    "CANCEL", "REGISTER", "OPTIONS", "INFO",
    "UPDATE", "PRACK",  "SUBSCRIBE", "NOTIFY", "REFER",  "MESSAGE",  "PUBLISH"};

}  // namespace

Method methodFromToken(std::string_view token) noexcept {
  // Switch on length and first letter first: most requests are INVITE, ACK, BYE, REGISTER.
  switch (token.size()) {
    case 3:
      if (token == "ACK") return Method::kAck;
      if (token == "BYE") return Method::kBye;
      break;
    case 4:
      if (token == "INFO") return Method::kInfo;
      break;
    case 5:
      if (token == "PRACK") return Method::kPrack;
      if (token == "REFER") return Method::kRefer;
      break;
    case 6:
      if (token == "INVITE") return Method::kInvite;
      if (token == "CANCEL") return Method::kCancel;
      if (token == "UPDATE") return Method::kUpdate;
      if (token == "NOTIFY") return Method::kNotify;
      break;
    case 7:
      if (token == "OPTIONS") return Method::kOptions;
      if (token == "MESSAGE") return Method::kMessage;
      if (token == "PUBLISH") return Method::kPublish;
      break;
    case 8:
      if (token == "REGISTER") return Method::kRegister;
      break;
    case 9:
      if (token == "SUBSCRIBE") return Method::kSubscribe;
      break;
    default:
      break;
  }
  return Method::kUnknown;
}

std::string_view methodName(Method m) noexcept {
  auto i = static_cast<std::size_t>(m);
  return i < kMethodNames.size() ? kMethodNames[i] : std::string_view{};
}

}  // namespace strowger::sip
