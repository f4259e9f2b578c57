#include "udp_batch.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace strowger::transport {

UdpBatch::UdpBatch(unsigned size, std::size_t slotBytes)
    : size_(size == 0 ? 1 : size),
      slotBytes_(slotBytes),
      headers_(size_),
      iov_(size_),
      sources_(size_),
      control_(size_),
      data_(std::make_unique_for_overwrite<char[]>(size_ * slotBytes_)) {
  for (unsigned i = 0; i < size_; ++i) {
    iov_[i].iov_base = data_.get() + i * slotBytes_;
    iov_[i].iov_len = slotBytes_;
    msghdr& h = headers_[i].msg_hdr;
    std::memset(&h, 0, sizeof h);
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_name = sources_[i].sockaddrPtr();
  }
}

int UdpBatch::receive(int fd, bool withDestination) noexcept {
  // recvmmsg overwrites the lengths and flags of every header it fills.
  for (unsigned i = 0; i < size_; ++i) {
    msghdr& h = headers_[i].msg_hdr;
    h.msg_namelen = net::SocketAddress::capacity();
    h.msg_control = withDestination ? control_[i].bytes : nullptr;
    h.msg_controllen = withDestination ? sizeof(Control) : 0;
    h.msg_flags = 0;
    headers_[i].msg_len = 0;
  }
  int n;
  do {
    n = ::recvmmsg(fd, headers_.data(), size_, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; ++i)
    sources_[i].setLength(headers_[i].msg_hdr.msg_namelen);
  return n;
}

std::string_view UdpBatch::payload(unsigned i) const noexcept {
  std::size_t length = headers_[i].msg_len;
  if (length > slotBytes_) length = slotBytes_;
  return {data_.get() + i * slotBytes_, length};
}

bool UdpBatch::truncated(unsigned i) const noexcept {
  return (headers_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || headers_[i].msg_len >= slotBytes_;
}

bool UdpBatch::destination(unsigned i, net::SocketAddress& local) const noexcept {
  auto& h = const_cast<msghdr&>(headers_[i].msg_hdr);
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && !local.isIpv6()) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      reinterpret_cast<sockaddr_in*>(local.sockaddrPtr())->sin_addr = info.ipi_addr;
      return true;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && local.isIpv6()) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(local.sockaddrPtr());
      sin6->sin6_addr = info.ipi6_addr;
      // A link-local destination is only meaningful with the interface it arrived on.
      sin6->sin6_scope_id = IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr) ? info.ipi6_ifindex : 0;
      return true;
    }
  }
  return false;
}

void UdpSendBatch::add(int fd, const net::SocketAddress& to, std::string_view bytes) {
  entries_.push_back({fd, to, bytes_.size(), bytes.size()});
  bytes_.append(bytes);
}

std::size_t UdpSendBatch::flush(std::size_t& failed) noexcept {
  std::size_t sent = 0;
  const std::size_t count = entries_.size();
  if (headers_.size() < count) {
    headers_.resize(count);
    iov_.resize(count);
  }
  // The iovecs point into bytes_, which no longer grows: build them only now.
  for (std::size_t i = 0; i < count; ++i) {
    Entry& e = entries_[i];
    iov_[i] = {bytes_.data() + e.offset, e.length};
    msghdr& h = headers_[i].msg_hdr;
    h = {};
    h.msg_name = e.to.sockaddrPtr();
    h.msg_namelen = e.to.length();
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
  }
  // One sendmmsg per run of datagrams for the same socket.
  std::size_t begin = 0;
  while (begin < count) {
    std::size_t end = begin + 1;
    while (end < count && entries_[end].fd == entries_[begin].fd)
      ++end;
    std::size_t at = begin;
    while (at < end) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(end - at, 1024));
      const int n =
          ::sendmmsg(entries_[begin].fd, &headers_[at], chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        // The first datagram of the rest was refused (a full buffer, an unreachable peer
        // reported by ICMP): count it and carry on with the next.
        ++failed;
        ++at;
        continue;
      }
      sent += static_cast<std::size_t>(n);
      at += static_cast<std::size_t>(n);
    }
    begin = end;
  }
  entries_.clear();
  bytes_.clear();
  return sent;
}

}  // namespace strowger::transport
