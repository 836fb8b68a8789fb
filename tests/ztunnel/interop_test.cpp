// Interoperability with an HBONE peer this project did not write: tests/interop/hbone_peer.py,
// on python3-h2 and Python's ssl, shaped like Istio's ztunnel on the wire. Once as a client
// against ambit's inbound (15008), once as the server ambit's outbound dials.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

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
  WorkloadCredentials credentials(const Identity& id) {
    auto cert = pki_.issue(id);
    return {id, *TlsContext::client(cert, pki_.bundle()), *TlsContext::server(cert, pki_.bundle())};
  }
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

TEST_F(InteropTest, AmbitsOutboundTunnelsThroughAForeignServer) {
  PeerProcess peer("server --listen 127.0.0.5 " + pki_args("echo"));
  ASSERT_TRUE(peer.started());
  std::string first = peer.line();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(first, m, std::regex("listening (\\d+)"))) << first;
  uint16_t port = static_cast<uint16_t>(std::stoi(m[1]));

  EngineConfig a;
  a.node = "node-a";
  auto table = std::make_shared<WorkloadTable>();
  ASSERT_TRUE(table->add_workload(test_workload("sleep", kClientId, "node-a", {"127.0.0.1"})).ok());
  Workload echo = test_workload("echo", kServerId, "node-b", {"127.0.0.6"});
  echo.hbone_address = SocketAddress(*IpAddress::parse("127.0.0.5"), port);
  ASSERT_TRUE(table->add_workload(echo).ok());
  Service svc;
  svc.name = "echo";
  svc.ns = "default";
  svc.vips = {*IpAddress::parse("10.96.0.10")};
  svc.ports = {{80, 8080}};
  svc.selector = {{"app", "echo"}};
  ASSERT_TRUE(table->add_service(svc).ok());
  a.table = table;
  a.authorizer = std::make_shared<Authorizer>(std::vector<AuthorizationPolicy>{});
  a.credentials["default/sleep"] = credentials(kClientId);
  a.listeners.push_back({ListenerKind::kOutbound, *SocketAddress::parse("127.0.0.1:0"),
                         "default/sleep", *SocketAddress::parse("10.96.0.10:80")});
  a.workers = 1;
  a.connect_timeout = 5s;
  auto engine = Engine::start(std::move(a));
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

}  // namespace
}  // namespace ambit::ztunnel
