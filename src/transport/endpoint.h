// Conversions between SocketAddress and Asio endpoints; both are a sockaddr underneath.
#pragma once

#include <cstring>

#include "strowger/net/socket_address.h"

namespace strowger::transport {

template <class Endpoint>
Endpoint toEndpoint(const net::SocketAddress& address) noexcept {
  Endpoint endpoint;
  if (address.valid()) std::memcpy(endpoint.data(), address.sockaddrPtr(), address.length());
  return endpoint;
}

template <class Endpoint>
net::SocketAddress fromEndpoint(const Endpoint& endpoint) noexcept {
  return net::SocketAddress::fromSockaddr(endpoint.data(), static_cast<socklen_t>(endpoint.size()));
}

}  // namespace strowger::transport
