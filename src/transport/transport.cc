#include "strowger/transport/transport.h"

#include "asio_transport.h"

namespace strowger::transport {

std::string_view protocolName(Protocol p) noexcept {
  switch (p) {
    case Protocol::kUdp:
      return "UDP";
    case Protocol::kTcp:
      return "TCP";
  }
  return "UDP";
}

Expected<std::unique_ptr<TransportLayer>, std::string> TransportLayer::create(
    const Options& options, MessageHandler& handler) {
  // Boost.Asio reports errors through error_code here, but allocation failures and the
  // standard library still throw; nothing may escape to the caller.
  try {
    auto transport = std::make_unique<AsioTransport>(options, handler);
    auto opened = transport->open();
    if (!opened) return unexpected(opened.error());
    return std::unique_ptr<TransportLayer>(std::move(transport));
  } catch (const std::exception& e) {
    return unexpected(std::string("cannot set up the transports: ") + e.what());
  }
}

}  // namespace strowger::transport
