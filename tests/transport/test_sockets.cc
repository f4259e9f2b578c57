#include "test_sockets.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace strowger::transport::testing {
namespace {

bool waitReadable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

net::SocketAddress address(std::string_view ip, uint16_t port) {
  return net::SocketAddress::parse(ip, port).value_or(net::SocketAddress());
}

net::SocketAddress localAddress(int fd) {
  net::SocketAddress a;
  socklen_t length = net::SocketAddress::capacity();
  if (::getsockname(fd, a.sockaddrPtr(), &length) == 0) a.setLength(length);
  return a;
}

bool ipv6LoopbackAvailable() {
  Fd s(::socket(AF_INET6, SOCK_DGRAM, 0));
  if (!s) return false;
  auto a = address("::1", 0);
  return ::bind(s.get(), a.sockaddrPtr(), a.length()) == 0;
}

Fd udpSocket(const net::SocketAddress& bindTo) {
  Fd s(::socket(bindTo.isIpv6() ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s || ::bind(s.get(), bindTo.sockaddrPtr(), bindTo.length()) != 0) return Fd();
  return s;
}

bool sendDatagram(int fd, const net::SocketAddress& to, std::string_view bytes) {
  return ::sendto(fd, bytes.data(), bytes.size(), 0, to.sockaddrPtr(), to.length()) ==
         static_cast<ssize_t>(bytes.size());
}

std::optional<std::string> receiveDatagram(int fd, std::chrono::milliseconds timeout,
                                           net::SocketAddress* from) {
  if (!waitReadable(fd, timeout)) return std::nullopt;
  std::string buffer(65536, '\0');
  net::SocketAddress source;
  socklen_t length = net::SocketAddress::capacity();
  ssize_t n = ::recvfrom(fd, buffer.data(), buffer.size(), 0, source.sockaddrPtr(), &length);
  if (n < 0) return std::nullopt;
  source.setLength(length);
  if (from) *from = source;
  buffer.resize(static_cast<std::size_t>(n));
  return buffer;
}

Fd tcpListen(const net::SocketAddress& bindTo) {
  Fd s(::socket(bindTo.isIpv6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return Fd();
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(s.get(), bindTo.sockaddrPtr(), bindTo.length()) != 0) return Fd();
  if (::listen(s.get(), 16) != 0) return Fd();
  return s;
}

Fd tcpConnect(const net::SocketAddress& to) {
  Fd s(::socket(to.isIpv6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return Fd();
  if (::connect(s.get(), to.sockaddrPtr(), to.length()) != 0) return Fd();
  int one = 1;
  ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

Fd tcpAccept(int listenFd, std::chrono::milliseconds timeout) {
  if (!waitReadable(listenFd, timeout)) return Fd();
  return Fd(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC));
}

bool sendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string receiveAtLeast(int fd, std::size_t want, std::chrono::milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[8192];
  while (out.size() < want) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !waitReadable(fd, left)) break;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

bool closedByPeer(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !waitReadable(fd, left)) return false;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
}

std::unique_ptr<TransportLayer> startTransport(const TransportLayer::Options& options,
                                               MessageHandler& handler) {
  auto created = TransportLayer::create(options, handler);
  EXPECT_TRUE(created.hasValue()) << (created ? "" : created.error());
  if (!created) return nullptr;
  auto transport = std::move(created).value();
  transport->start();
  return transport;
}

namespace {
TransportLayer::Options listenOn(Protocol protocol, std::string host, unsigned workers) {
  TransportLayer::Options o;
  o.listen.push_back({protocol, std::move(host), 0});
  o.workers = workers;
  return o;
}
}  // namespace

TransportLayer::Options udpOn(std::string host, unsigned workers) {
  return listenOn(Protocol::kUdp, std::move(host), workers);
}

TransportLayer::Options tcpOn(std::string host, unsigned workers) {
  return listenOn(Protocol::kTcp, std::move(host), workers);
}

std::string sipRequest(std::string_view callId, std::size_t bodyBytes, std::string_view transport) {
  std::string m = "MESSAGE sip:bob@example.com SIP/2.0\r\n";
  m += "Via: SIP/2.0/";
  m += transport;
  m += " 192.0.2.10:5060;branch=z9hG4bK-";
  m += callId;
  m += "\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
       "To: <sip:bob@example.com>\r\nCall-ID: ";
  m += callId;
  m += "\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: ";
  m += std::to_string(bodyBytes);
  m += "\r\n\r\n";
  m.append(bodyBytes, 'x');
  return m;
}

void Collector::onMessage(const ReceivedMessage& message) {
  {
    std::lock_guard lock(mutex_);
    messages_.push_back({std::string(message.bytes), message.source, message.local,
                         message.protocol, message.listener, message.connection, message.worker});
  }
  cv_.notify_all();
  if (onEach) onEach(message);
}

bool Collector::waitFor(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

std::vector<Received> Collector::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::size_t Collector::count() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace strowger::transport::testing
