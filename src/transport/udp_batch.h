// The buffers for one recvmmsg call: a slot per datagram for its payload, its source address and
// its control data (the destination address on wildcard sockets). Allocated once per worker and
// reused for every batch, so receiving a datagram allocates nothing.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/net/socket_address.h"

namespace strowger::transport {

class UdpBatch {
 public:
  // `slotBytes` is one more than the largest datagram accepted, so that a longer one shows as
  // truncated rather than as a message cut short.
  UdpBatch(unsigned size, std::size_t slotBytes);
  UdpBatch(const UdpBatch&) = delete;
  UdpBatch& operator=(const UdpBatch&) = delete;

  // One recvmmsg(MSG_DONTWAIT) on `fd`: the number of datagrams received, or -1 with errno set
  // (EAGAIN when there is nothing to read).
  int receive(int fd, bool withDestination) noexcept;

  unsigned size() const noexcept { return size_; }
  std::string_view payload(unsigned i) const noexcept;
  bool truncated(unsigned i) const noexcept;
  const net::SocketAddress& source(unsigned i) const noexcept { return sources_[i]; }
  // Writes the datagram's destination address (IP_PKTINFO / IPV6_PKTINFO) into `local`, whose
  // family and port are the listener's; false when the kernel gave none.
  bool destination(unsigned i, net::SocketAddress& local) const noexcept;

 private:
  union Control {
    cmsghdr align;
    unsigned char bytes[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo))];
  };

  unsigned size_;
  std::size_t slotBytes_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iov_;
  std::vector<net::SocketAddress> sources_;
  std::vector<Control> control_;
  std::unique_ptr<char[]> data_;
};

// Datagrams a worker sends while it handles one receive batch, written with one sendmmsg per
// socket when the batch is done: under load a proxy answers a burst of datagrams with a burst,
// and one system call for it costs far less than one each. The bytes are copied (the caller's
// buffer is reused for the next message); the storage grows to the largest burst seen and is then
// reused, so the steady state allocates nothing.
class UdpSendBatch {
 public:
  // Queues one datagram for socket `fd`.
  void add(int fd, const net::SocketAddress& to, std::string_view bytes);
  bool empty() const noexcept { return entries_.empty(); }
  // Sends everything queued; returns the number of datagrams the kernel took and adds the number
  // it refused to `failed`.
  std::size_t flush(std::size_t& failed) noexcept;

 private:
  struct Entry {
    int fd;
    net::SocketAddress to;
    std::size_t offset;
    std::size_t length;
  };
  std::vector<Entry> entries_;
  std::string bytes_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iov_;
};

}  // namespace strowger::transport
