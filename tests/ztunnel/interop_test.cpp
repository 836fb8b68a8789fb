// Interoperability with an HBONE peer this project did not write: tests/interop/hbone_peer.py,
// on python3-h2 and Python's ssl, shaped like Istio's ztunnel on the wire. Once as a client
// against ambit's inbound (15008), once as the server ambit's outbound dials.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/net_helpers.h"
#include "tests/support/test_pki.h"
#include "tests/ztunnel/test_workload.h"
#include "ztunnel/engine.h"

namespace ambit::ztunnel {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::test_workload;

const Identity kClientId("cluster.local", "default", "sleep");
const Identity kServerId("cluster.local", "default", "echo");
constexpr const char* kPython = "/usr/bin/python3";

// The peer's process: stdout read line by line; `timeout` bounds it whatever happens.
class PeerProcess {
 public:
  explicit PeerProcess(const std::string& args) {
    std::string cmd = "timeout 60 " + std::string(kPython) +
                      " " AMBIT_SOURCE_DIR "/tests/interop/hbone_peer.py " + args + " 2>&1";
    pipe_ = ::popen(cmd.c_str(), "r");
  }
  ~PeerProcess() { finish(); }
  bool started() const { return pipe_ != nullptr; }
  // The next line, or "" at the end.
  std::string line() {
    char buf[65536];
    if (pipe_ == nullptr || std::fgets(buf, sizeof(buf), pipe_) == nullptr) return {};
    output_ += buf;
    return buf;
  }
  // Exit status once everything it printed has been read.
  int finish() {
    if (pipe_ == nullptr) return status_;
    while (!line().empty()) {
    }
    int raw = ::pclose(pipe_);
    pipe_ = nullptr;
    status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
    return status_;
  }
  const std::string& output() const { return output_; }

 private:
  FILE* pipe_ = nullptr;
  int status_ = -1;
  std::string output_;
};

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system((std::string(kPython) + " -c 'import h2' 2>/dev/null").c_str()) != 0) {
      GTEST_SKIP() << "python3-h2 is not installed (scripts/install-deps.sh installs it)";
    }
    dir_ = fs::temp_directory_path() / ("ambit-interop-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    write(dir_ / "root.pem", pki_.root_pem());
    for (const Identity* id : {&kClientId, &kServerId}) {
      auto pem = pki_.issue_pem(*id);
      write(dir_ / (id->service_account() + ".pem"), pem.certificate);
      write(dir_ / (id->service_account() + ".key"), pem.key);
      ::chmod((dir_ / (id->service_account() + ".key")).c_str(), 0600);
    }
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  std::string pki_args(const std::string& who) const {
    return "--ca " + (dir_ / "root.pem").string() + " --cert " + (dir_ / (who + ".pem")).string() +
           " --key " + (dir_ / (who + ".key")).string();
  }

 public:
  WorkloadCredentials credentials(const Identity& id) {
    auto cert = pki_.issue(id);
    return {id, *TlsContext::client(cert, pki_.bundle()), *TlsContext::server(cert, pki_.bundle())};
  }

 protected:
  testing::TestPki pki_;
  fs::path dir_;
};

TEST_F(InteropTest, ForeignClientTunnelsThroughAmbitsInbound) {
  testing::EchoServer echo("127.0.0.3");
  EngineConfig b;
  b.node = "node-b";
  auto table = std::make_shared<WorkloadTable>();
  ASSERT_TRUE(table->add_workload(test_workload("echo", kServerId, "node-b", {"127.0.0.3"})).ok());
  b.table = table;
  b.authorizer = std::make_shared<Authorizer>(std::vector<AuthorizationPolicy>{});
  b.credentials["default/echo"] = credentials(kServerId);
  b.listeners.push_back(
      {ListenerKind::kInbound, *SocketAddress::parse("127.0.0.2:0"), "default/echo", std::nullopt});
  b.workers = 1;
  auto engine = Engine::start(std::move(b));
  ASSERT_TRUE(engine.ok()) << engine.error().message;

  PeerProcess peer("client --connect " + (*engine)->listener_addresses()[0].to_string() +
                   " --authority " + echo.address().to_string() + " " + pki_args("sleep"));
  ASSERT_TRUE(peer.started());
  int status = peer.finish();
  EXPECT_EQ(status, 0) << peer.output();
  EXPECT_NE(peer.output().find("\"ok\": true"), std::string::npos) << peer.output();
  EXPECT_EQ(echo.accepted(), 1u) << "only the tunnel reached the destination";
}

// ambit's outbound for default/sleep, sending 10.96.0.10:80 (Service echo) to the foreign server
// listening on 127.0.0.5:port as echo's node.
Result<std::unique_ptr<Engine>> start_outbound_to(uint16_t port, InteropTest& t) {
  EngineConfig a;
  a.node = "node-a";
  auto table = std::make_shared<WorkloadTable>();
  if (auto ok = table->add_workload(test_workload("sleep", kClientId, "node-a", {"127.0.0.1"}));
      !ok)
    return ok.error();
  Workload echo = test_workload("echo", kServerId, "node-b", {"127.0.0.6"});
  echo.hbone_address = SocketAddress(*IpAddress::parse("127.0.0.5"), port);
  if (auto ok = table->add_workload(echo); !ok) return ok.error();
  Service svc;
  svc.name = "echo";
  svc.ns = "default";
  svc.vips = {*IpAddress::parse("10.96.0.10")};
  svc.ports = {{80, 8080}};
  svc.selector = {{"app", "echo"}};
  if (auto ok = table->add_service(svc); !ok) return ok.error();
  a.table = table;
  a.authorizer = std::make_shared<Authorizer>(std::vector<AuthorizationPolicy>{});
  a.credentials["default/sleep"] = t.credentials(kClientId);
  a.listeners.push_back({ListenerKind::kOutbound, *SocketAddress::parse("127.0.0.1:0"),
                         "default/sleep", *SocketAddress::parse("10.96.0.10:80")});
  a.workers = 1;
  a.connect_timeout = 5s;
  return Engine::start(std::move(a));
}

uint16_t listening_port(PeerProcess& peer) {
  std::string first = peer.line();
  std::smatch m;
  if (!std::regex_search(first, m, std::regex("listening (\\d+)"))) {
    ADD_FAILURE() << "the peer did not start: " << first;
    return 0;
  }
  return static_cast<uint16_t>(std::stoi(m[1]));
}

TEST_F(InteropTest, AmbitsOutboundTunnelsThroughAForeignServer) {
  PeerProcess peer("server --listen 127.0.0.5 " + pki_args("echo"));
  ASSERT_TRUE(peer.started());
  uint16_t port = listening_port(peer);
  ASSERT_NE(port, 0);
  auto engine = start_outbound_to(port, *this);
  ASSERT_TRUE(engine.ok()) << engine.error().message;

  auto fd = testing::connect_to((*engine)->listener_addresses()[0], 10'000);
  ASSERT_TRUE(fd.valid());
  auto app_source = SocketAddress::local_of(fd.get());
  ASSERT_TRUE(app_source.ok());
  std::string message = "through a foreign ztunnel";
  ASSERT_TRUE(testing::send_all(fd.get(), message.data(), message.size()));
  ::shutdown(fd.get(), SHUT_WR);
  int err = 1;
  EXPECT_EQ(testing::read_all(fd.get(), message.size() + 10, &err), message);
  EXPECT_EQ(err, 0) << "the peer's END_STREAM arrives as a FIN";

  std::string json = peer.line();
  EXPECT_EQ(peer.finish(), 0) << peer.output();
  EXPECT_NE(json.find("\":authority\": \"127.0.0.6:8080\""), std::string::npos) << json;
  std::string forwarded = "\"forwarded\": \"for=\\\"" + app_source->to_string() +
                          "\\\";host=echo.default.svc.cluster.local\"";
  EXPECT_NE(json.find(forwarded), std::string::npos) << forwarded << "\n" << json;
  EXPECT_NE(json.find("k8s.namespace.name=default,k8s.pod.name=sleep,service.name=sleep"),
            std::string::npos)
      << json;
  EXPECT_TRUE(std::regex_search(
      json, std::regex("\"traceparent\": \"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\"")))
      << json;
  EXPECT_NE(json.find("spiffe://cluster.local/ns/default/sa/sleep"), std::string::npos) << json;
}

// 1 MiB through the foreign echo server; returns the largest DATA frame it received from ambit.
int largest_frame_sending_a_mebibyte(InteropTest& t, const std::string& peer_args) {
  PeerProcess peer("server --listen 127.0.0.5 " + peer_args);
  if (!peer.started()) return -1;
  uint16_t port = listening_port(peer);
  if (port == 0) return -1;
  auto engine = start_outbound_to(port, t);
  if (!engine.ok()) {
    ADD_FAILURE() << engine.error().message;
    return -1;
  }
  auto fd = testing::connect_to((*engine)->listener_addresses()[0], 10'000);
  std::string payload(1 << 20, 'x');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 % 251);
  // A writer thread: the echo comes back while we send, and neither side may stall the other.
  std::thread writer([&] {
    testing::send_all(fd.get(), payload.data(), payload.size());
    ::shutdown(fd.get(), SHUT_WR);
  });
  int err = 1;
  std::string echoed = testing::read_all(fd.get(), payload.size() + 10, &err);
  writer.join();
  EXPECT_EQ(err, 0);
  EXPECT_TRUE(echoed == payload) << "echoed " << echoed.size() << " bytes, not the 1 MiB sent";
  std::string json = peer.line();
  EXPECT_EQ(peer.finish(), 0) << peer.output();
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"largest_data_frame\": (\\d+)"))) {
    ADD_FAILURE() << json;
    return -1;
  }
  return std::stoi(m[1]);
}

TEST_F(InteropTest, AmbitKeepsToTheDefaultFrameSizeOfAPeerThatAdvertisesNoOther) {
  // The peer would fail the connection (FRAME_SIZE_ERROR) on a larger frame.
  EXPECT_EQ(largest_frame_sending_a_mebibyte(*this, pki_args("echo")), 16384);
}

TEST_F(InteropTest, AmbitSendsLargerFramesToAPeerThatAllowsThem) {
  // As ztunnel advertises (1 MiB): ambit's frames grow to a send-buffer block, 65,527 bytes,
  // which with its header is four full TLS records.
  int largest = largest_frame_sending_a_mebibyte(
      *this, pki_args("echo") + " --max-frame-size " + std::to_string(1 << 20));
  EXPECT_GT(largest, 16384);
  EXPECT_LE(largest, 65527);
}

}  // namespace
}  // namespace ambit::ztunnel
