#include "connection_table.h"

#include "tcp_connection.h"

namespace strowger::transport {

std::shared_ptr<TcpConnection> ConnectionTable::find(uint64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = byId_.find(id);
  if (it == byId_.end() || it->second->closed()) return nullptr;
  return it->second;
}

std::shared_ptr<TcpConnection> ConnectionTable::findByPeer(const net::SocketAddress& peer) const {
  std::lock_guard lock(mutex_);
  return findByPeerLocked(peer);
}

std::shared_ptr<TcpConnection> ConnectionTable::findByPeerLocked(
    const net::SocketAddress& peer) const {
  auto it = byPeer_.find(peer);
  if (it == byPeer_.end()) return nullptr;
  auto c = byId_.find(it->second);
  if (c == byId_.end() || c->second->closed()) return nullptr;
  return c->second;
}

void ConnectionTable::add(std::shared_ptr<TcpConnection> connection) {
  std::lock_guard lock(mutex_);
  addLocked(std::move(connection));
}

void ConnectionTable::addLocked(std::shared_ptr<TcpConnection> connection) {
  byPeer_[connection->peer()] = connection->id();
  uint64_t id = connection->id();
  byId_.emplace(id, std::move(connection));
}

void ConnectionTable::remove(const TcpConnection& connection) {
  std::shared_ptr<TcpConnection> last;  // released after the lock
  std::lock_guard lock(mutex_);
  auto it = byId_.find(connection.id());
  if (it != byId_.end()) {
    last = std::move(it->second);
    byId_.erase(it);
  }
  auto p = byPeer_.find(connection.peer());
  if (p != byPeer_.end() && p->second == connection.id()) byPeer_.erase(p);
}

std::vector<std::shared_ptr<TcpConnection>> ConnectionTable::ownedBy(unsigned worker) const {
  std::vector<std::shared_ptr<TcpConnection>> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, c] : byId_) {
    if (c->worker() == worker) out.push_back(c);
  }
  return out;
}

std::size_t ConnectionTable::size() const {
  std::lock_guard lock(mutex_);
  return byId_.size();
}

void ConnectionTable::clear() {
  std::unordered_map<uint64_t, std::shared_ptr<TcpConnection>> gone;
  {
    std::lock_guard lock(mutex_);
    gone.swap(byId_);
    byPeer_.clear();
  }
}

}  // namespace strowger::transport
