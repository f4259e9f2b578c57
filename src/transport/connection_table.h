// Open TCP connections by id and by peer address, shared by all workers. A lookup happens once per
// TCP send; one mutex is enough at that rate (a connection's own I/O never takes it).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "strowger/net/socket_address.h"

namespace strowger::transport {

class TcpConnection;

class ConnectionTable {
 public:
  std::shared_ptr<TcpConnection> find(uint64_t id) const;
  // The most recently opened connection to `peer`.
  std::shared_ptr<TcpConnection> findByPeer(const net::SocketAddress& peer) const;
  void add(std::shared_ptr<TcpConnection> connection);
  // The open connection to `peer`, or the one `make()` returns, added; `second` says which.
  template <class Make>
  std::pair<std::shared_ptr<TcpConnection>, bool> findOrAdd(const net::SocketAddress& peer,
                                                            Make&& make);
  void remove(const TcpConnection& connection);
  std::vector<std::shared_ptr<TcpConnection>> ownedBy(unsigned worker) const;
  std::size_t size() const;
  void clear();

 private:
  std::shared_ptr<TcpConnection> findByPeerLocked(const net::SocketAddress& peer) const;
  void addLocked(std::shared_ptr<TcpConnection> connection);

  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, std::shared_ptr<TcpConnection>> byId_;
  std::unordered_map<net::SocketAddress, uint64_t> byPeer_;
};

template <class Make>
std::pair<std::shared_ptr<TcpConnection>, bool> ConnectionTable::findOrAdd(
    const net::SocketAddress& peer, Make&& make) {
  std::lock_guard lock(mutex_);
  if (auto found = findByPeerLocked(peer)) return {std::move(found), false};
  std::shared_ptr<TcpConnection> made = make();
  addLocked(made);
  return {std::move(made), true};
}

}  // namespace strowger::transport
