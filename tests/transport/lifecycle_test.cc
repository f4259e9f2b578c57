// Creating, starting and stopping the transport layer; running work on a chosen worker.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "test_sockets.h"

namespace strowger::transport::testing {
namespace {

using Options = TransportLayer::Options;

TEST(Lifecycle, ProtocolNames) {
  EXPECT_EQ(protocolName(Protocol::kUdp), "UDP");
  EXPECT_EQ(protocolName(Protocol::kTcp), "TCP");
}

TEST(Lifecycle, CreateNamesTheAddressThatFails) {
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "example.com", 5060}};
  auto r = TransportLayer::create(o, collector);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("udp:example.com:5060"), std::string::npos) << r.error();

  // A port already taken is an error at start, for UDP as well as TCP.
  Fd udpTaken = udpSocket(address("127.0.0.1", 0));
  o.listen = {{Protocol::kUdp, "127.0.0.1", localAddress(udpTaken.get()).port()}};
  r = TransportLayer::create(o, collector);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot bind"), std::string::npos) << r.error();

  Fd tcpTaken = tcpListen(address("127.0.0.1", 0));
  o.listen = {{Protocol::kTcp, "127.0.0.1", localAddress(tcpTaken.get()).port()}};
  r = TransportLayer::create(o, collector);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("tcp:127.0.0.1:"), std::string::npos) << r.error();

  o.listen = {};
  EXPECT_FALSE(TransportLayer::create(o, collector));
}

TEST(Lifecycle, AutoWorkersIsOnePerCore) {
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}};
  o.workers = 0;
  auto r = TransportLayer::create(o, collector);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->workerCount(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(Lifecycle, PostRunsOnTheChosenWorker) {
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}};
  o.workers = 2;
  auto r = TransportLayer::create(o, collector);
  ASSERT_TRUE(r);
  auto transport = std::move(r).value();
  transport->start();
  EXPECT_EQ(transport->workerCount(), 2u);
  EXPECT_EQ(transport->currentWorker(), -1);
  EXPECT_NE(transport->ioContext(0), nullptr);
  EXPECT_NE(transport->ioContext(1), nullptr);
  EXPECT_EQ(transport->ioContext(2), nullptr);
  for (unsigned w = 0; w < 2; ++w) {
    std::promise<int> seen;
    transport->post(w, [&] { seen.set_value(transport->currentWorker()); });
    auto f = seen.get_future();
    ASSERT_EQ(f.wait_for(3s), std::future_status::ready);
    EXPECT_EQ(f.get(), static_cast<int>(w));
  }
}

TEST(Lifecycle, HandlerExceptionIsCountedAndReadingGoesOn) {
  Collector collector;
  collector.onEach = [](const ReceivedMessage& m) {
    if (m.bytes == "throw") throw std::runtime_error("handler bug");
  };
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}};
  o.workers = 1;
  auto r = TransportLayer::create(o, collector);
  ASSERT_TRUE(r);
  auto transport = std::move(r).value();
  transport->start();
  Fd client = udpSocket(address("127.0.0.1", 0));
  ASSERT_TRUE(sendDatagram(client.get(), transport->listeners()[0].address, "throw"));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  ASSERT_TRUE(sendDatagram(client.get(), transport->listeners()[0].address, "fine"));
  ASSERT_TRUE(collector.waitFor(2, 3s));
  EXPECT_TRUE(eventually([&] { return transport->stats().handlerExceptions == 1; }));
}

TEST(Lifecycle, StopWithoutStartAndTwice) {
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}, {Protocol::kTcp, "127.0.0.1", 0}};
  auto r = TransportLayer::create(o, collector);
  ASSERT_TRUE(r);
  auto transport = std::move(r).value();
  transport->stop();
  transport->stop();
  transport->start();  // after stop: does nothing
  Destination to;
  to.address = address("127.0.0.1", 5060);
  EXPECT_EQ(transport->send(to, "x", false), SendStatus::kError);
}

// stop() must come back promptly while datagrams and stream messages keep arriving.
TEST(Lifecycle, StopWhileTrafficFlows) {
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}, {Protocol::kTcp, "127.0.0.1", 0}};
  o.workers = 2;
  std::atomic<TransportLayer*> layer{nullptr};
  collector.onEach = [&](const ReceivedMessage& m) {
    // Answer everything, so that writes are in flight too.
    Destination to;
    to.protocol = m.protocol;
    to.address = m.source;
    to.connection = m.connection;
    layer.load()->send(to, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", false);
  };
  auto r = TransportLayer::create(o, collector);
  ASSERT_TRUE(r);
  auto transport = std::move(r).value();
  layer = transport.get();
  transport->start();
  const net::SocketAddress udp = transport->listeners()[0].address;
  const net::SocketAddress tcp = transport->listeners()[1].address;

  std::atomic<bool> running{true};
  std::thread udpSender([&] {
    Fd s = udpSocket(address("127.0.0.1", 0));
    const std::string m = sipRequest("flood");
    while (running.load())
      sendDatagram(s.get(), udp, m);
  });
  std::thread tcpSender([&] {
    Fd s = tcpConnect(tcp);
    const std::string m = sipRequest("stream", 10, "TCP");
    while (running.load() && sendAll(s.get(), m)) {
    }
  });
  ASSERT_TRUE(collector.waitFor(200, 3s));

  const auto start = std::chrono::steady_clock::now();
  transport->stop();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 2s);
  running = false;
  udpSender.join();
  tcpSender.join();

  transport->stop();  // again: nothing to do
  Destination to;
  to.address = udp;
  EXPECT_EQ(transport->send(to, "late", false), SendStatus::kError);
  const std::size_t delivered = collector.count();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(collector.count(), delivered) << "delivered after stop() returned";
}

}  // namespace
}  // namespace strowger::transport::testing
