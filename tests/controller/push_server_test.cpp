// The push server and the control client over real sockets on loopback.
#include "controller/push/push_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <condition_variable>
#include <filesystem>
#include <map>

#include "control/control_channel.h"
#include "control/control_client.h"
#include "controller/static_view_source.h"
#include "tests/core/error_assertions.h"

namespace ambit::controller {
namespace {

using control::ControlClient;
using control::ControlClientOptions;
using control::ControlConnection;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

v1::Resource workload(const std::string& uid, const std::string& node, const std::string& sa = "sa") {
  v1::Resource r;
  r.set_uid(uid);
  auto* w = r.mutable_workload();
  w->set_uid(uid);
  w->set_namespace_(uid.substr(0, uid.find('/')));
  w->set_name(uid.substr(uid.find('/') + 1));
  w->set_node(node);
  w->set_service_account(sa);
  w->add_addresses("10.0.0.1");
  return r;
}

v1::Resource policy(const std::string& uid, const std::string& principal) {
  v1::Resource r;
  r.set_uid(uid);
  auto* p = r.mutable_authorization_policy();
  p->set_uid(uid);
  p->set_namespace_(uid.substr(0, uid.find('/')));
  p->add_rules()->add_from()->add_principals(principal);
  return r;
}

// The owner's side of a ControlClient: applies updates to a map, as the agent would.
class Recorder {
 public:
  ControlClient::UpdateHandler handler() {
    return [this](const v1::Update& u) -> Status {
      std::lock_guard lock(mu_);
      updates_.push_back(u);
      cv_.notify_all();
      if (!reject_.empty()) return Error{std::exchange(reject_, "")};
      if (u.snapshot()) view_.clear();
      for (const auto& r : u.added()) view_[r.uid()] = r;
      for (const auto& k : u.removed()) view_.erase(k.uid());
      return {};
    };
  }
  bool wait_updates(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return updates_.size() >= n; });
  }
  v1::Update update(size_t i) {
    std::lock_guard lock(mu_);
    return updates_.at(i);
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return updates_.size();
  }
  std::map<std::string, v1::Resource> view() {
    std::lock_guard lock(mu_);
    return view_;
  }
  void reject_next(std::string why) {
    std::lock_guard lock(mu_);
    reject_ = std::move(why);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::Update> updates_;
  std::map<std::string, v1::Resource> view_;
  std::string reject_;
};

template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

class PushServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("ambit-push-test-{}-{}", getpid(), counter_++);
    fs::remove_all(dir_);
    auto ca = CertificateAuthority::load_or_create(dir_, {});
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = std::move(*ca);
    resources_ = {workload("default/a", "node-a"), workload("default/b", "node-b"),
                  policy("default/allow", "spiffe://cluster.local/ns/default/sa/x")};
    publish();
    start_server(SocketAddress(*IpAddress::parse("127.0.0.1"), 0));
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  void start_server(const SocketAddress& at) {
    PushServerOptions options;
    options.listen = at;
    auto server = PushServer::start(options, *ca_, state_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
  }

  uint64_t publish() {
    return state_.publish(StaticViewSource::create(resources_, "cluster.local", interner_));
  }

  ControlClientOptions options_for(const std::string& node, const std::string& cert_node = "") {
    ControlClientOptions o;
    o.controller = server_->address();
    o.node = node;
    const std::string& who = cert_node.empty() ? node : cert_node;
    auto creds = who.find('/') == std::string::npos ? ca_->issue_node_credentials(who)
                                                    : ca_->issue_waypoint_credentials(who);
    EXPECT_TRUE(creds.ok()) << creds.error().message;
    if (creds.ok()) o.credentials = *creds;
    o.root_pem = ca_->root_pem();
    o.backoff_initial = 50ms;
    o.backoff_max = 200ms;
    return o;
  }

  std::unique_ptr<ControlClient> connect(const std::string& node, Recorder& recorder,
                                         uint64_t have_version = 0) {
    auto o = options_for(node);
    o.have_version = have_version;
    auto client = ControlClient::start(std::move(o), recorder.handler());
    EXPECT_TRUE(client.ok());
    return client.ok() ? std::move(*client) : nullptr;
  }

  static inline int counter_ = 0;
  fs::path dir_;
  std::unique_ptr<CertificateAuthority> ca_;
  PushState state_;
  ResourceInterner interner_;
  std::vector<v1::Resource> resources_;
  std::unique_ptr<PushServer> server_;
};

TEST_F(PushServerTest, SnapshotThenDeltasForAddChangeRemove) {
  Recorder rec;
  auto client = connect("node-a", rec);
  ASSERT_TRUE(rec.wait_updates(1));
  v1::Update snap = rec.update(0);
  EXPECT_TRUE(snap.snapshot());
  EXPECT_EQ(snap.added_size(), 3);
  ASSERT_TRUE(eventually([&] { return client->version() == snap.version(); }));

  resources_.push_back(policy("default/deny", "spiffe://cluster.local/ns/default/sa/y"));
  uint64_t v2 = publish();
  ASSERT_TRUE(rec.wait_updates(2));
  v1::Update add = rec.update(1);
  EXPECT_FALSE(add.snapshot());
  EXPECT_EQ(add.version(), v2);
  EXPECT_EQ(add.base_version(), snap.version());
  ASSERT_EQ(add.added_size(), 1);
  EXPECT_EQ(add.added(0).uid(), "default/deny");
  EXPECT_EQ(add.removed_size(), 0);

  resources_[0].mutable_workload()->add_addresses("10.0.0.9");
  publish();
  ASSERT_TRUE(rec.wait_updates(3));
  v1::Update change = rec.update(2);
  ASSERT_EQ(change.added_size(), 1);
  EXPECT_EQ(change.added(0).uid(), "default/a");
  EXPECT_EQ(change.added(0).workload().addresses_size(), 2);

  resources_.erase(resources_.begin() + 1);
  publish();
  ASSERT_TRUE(rec.wait_updates(4));
  v1::Update remove = rec.update(3);
  EXPECT_EQ(remove.added_size(), 0);
  ASSERT_EQ(remove.removed_size(), 1);
  EXPECT_EQ(remove.removed(0).kind(), "Workload");
  EXPECT_EQ(remove.removed(0).uid(), "default/b");
  EXPECT_EQ(rec.view().size(), 3u);
}

TEST_F(PushServerTest, ResumesFromKnownVersionWithDelta) {
  Recorder first;
  auto client = connect("node-a", first);
  ASSERT_TRUE(first.wait_updates(1));
  ASSERT_TRUE(eventually([&] { return client->version() == first.update(0).version(); }));
  uint64_t had = client->version();
  client.reset();

  resources_.push_back(policy("default/new", "spiffe://cluster.local/ns/default/sa/z"));
  publish();
  Recorder second;
  auto again = connect("node-a", second, had);
  ASSERT_TRUE(second.wait_updates(1));
  v1::Update u = second.update(0);
  EXPECT_FALSE(u.snapshot());
  EXPECT_EQ(u.base_version(), had);
  ASSERT_EQ(u.added_size(), 1);
  EXPECT_EQ(u.added(0).uid(), "default/new");
}

TEST_F(PushServerTest, UnknownVersionGetsSnapshot) {
  Recorder rec;
  auto client = connect("node-a", rec, 12345);
  ASSERT_TRUE(rec.wait_updates(1));
  EXPECT_TRUE(rec.update(0).snapshot());
  EXPECT_EQ(rec.update(0).added_size(), 3);
}

TEST_F(PushServerTest, AcksAndNacksShowInStatusAndMetrics) {
  Recorder rec;
  auto client = connect("node-a", rec);
  ASSERT_TRUE(rec.wait_updates(1));
  ASSERT_TRUE(eventually([&] { return client->version() != 0; }));
  uint64_t good = client->version();
  rec.reject_next("policy default/deny: unknown field");
  resources_.push_back(policy("default/deny", "x"));
  uint64_t bad = publish();
  ASSERT_TRUE(rec.wait_updates(2));
  ASSERT_TRUE(eventually([&] {
    return state_.status_json().find("unknown field") != std::string::npos;
  }));
  std::string status = state_.status_json();
  EXPECT_CONTAINS(status, "\"node\": \"node-a\"");
  EXPECT_CONTAINS(status, "\"role\": \"agent\"");
  EXPECT_CONTAINS(status, fmt::format("\"acked_version\": {}", good));
  EXPECT_CONTAINS(status, fmt::format("\"version\": {}", bad));
  EXPECT_CONTAINS(state_.metrics_text(), "ambit_controller_nacks_total 1");
  EXPECT_EQ(client->version(), good) << "a nacked update does not move the client";

  // The next change is a delta from what the client acked, so it still gets default/deny.
  resources_.push_back(policy("default/third", "y"));
  publish();
  ASSERT_TRUE(rec.wait_updates(3));
  v1::Update u = rec.update(2);
  EXPECT_EQ(u.base_version(), good);
  EXPECT_EQ(u.added_size(), 2);
  ASSERT_TRUE(eventually([&] { return client->version() == u.version(); }));
  EXPECT_CONTAINS(state_.metrics_text(), "ambit_controller_clients_connected 1");
}

TEST_F(PushServerTest, NodeCertificateForOtherNodeIsRefused) {
  Recorder rec;
  auto o = options_for("node-b", "node-a");
  auto client = ControlClient::start(std::move(o), rec.handler());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(eventually([&] {
    return state_.metrics_text().find("ambit_controller_connections_refused_total 0") ==
           std::string::npos;
  }));
  // A second connection means the client read the refused one to its end: nothing came on it.
  ASSERT_TRUE(eventually([&] { return (*client)->connections() >= 2; }));
  EXPECT_EQ(rec.count(), 0u);
}

TEST_F(PushServerTest, CertificatesOnlyForWorkloadsOnTheNode) {
  Recorder rec;
  auto client = connect("node-a", rec);
  auto own = make_csr("spiffe://cluster.local/ns/default/sa/sa");
  auto chain = client->request_certificate("default/a", own->csr_pem, 5s);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  EXPECT_CONTAINS(*chain, "BEGIN CERTIFICATE");

  auto other = client->request_certificate("default/b", own->csr_pem, 5s);
  EXPECT_ERROR_CONTAINS(other, "workload 'default/b' is not on node 'node-a'");
  auto unknown = client->request_certificate("default/nope", own->csr_pem, 5s);
  EXPECT_ERROR_CONTAINS(unknown, "is not on node");
  auto wrong_id = make_csr("spiffe://cluster.local/ns/default/sa/admin");
  EXPECT_ERROR_CONTAINS(client->request_certificate("default/a", wrong_id->csr_pem, 5s),
                        "SAN must be exactly");
  EXPECT_CONTAINS(state_.metrics_text(), "ambit_controller_certificates_refused_total 3");
  EXPECT_CONTAINS(state_.metrics_text(), "ambit_controller_certificates_issued_total 1");
}

TEST_F(PushServerTest, PlaintextAndCertificatelessClientsAreRefused) {
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_storage ss;
    socklen_t len = server_->address().to_sockaddr(&ss);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
    const char hello[] = "\0\0\0\x04\x0a\x02\x08\x01";  // a plaintext Subscribe frame
    ASSERT_GT(::send(fd, hello, sizeof(hello) - 1, 0), 0);
    char buf[64];
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    EXPECT_LE(::recv(fd, buf, sizeof(buf), 0), 0) << "the server must close, not answer";
    ::close(fd);
  }
  {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    auto conn = ControlConnection::connect(server_->address(), ctx.get(), 5s);
    if (conn.ok()) {  // TLS 1.3: the client may finish before the server refuses it
      v1::ClientMessage m;
      m.mutable_subscribe()->set_node("node-a");
      (void)(*conn)->write_message(m);
      std::vector<std::string> frames;
      Status s;
      for (int i = 0; i < 10 && s.ok() && frames.empty(); ++i) s = (*conn)->read_frames(frames);
      EXPECT_FALSE(s.ok());
      EXPECT_TRUE(frames.empty());
    }
  }
  EXPECT_TRUE(eventually([&] {
    return state_.metrics_text().find("ambit_controller_connections_refused_total 2") !=
           std::string::npos;
  }));
}

TEST_F(PushServerTest, ClientReconnectsAfterServerRestartAndResumes) {
  Recorder rec;
  auto client = connect("node-a", rec);
  ASSERT_TRUE(rec.wait_updates(1));
  ASSERT_TRUE(eventually([&] { return client->version() != 0; }));
  uint64_t had = client->version();
  SocketAddress at = server_->address();
  server_.reset();
  ASSERT_TRUE(eventually([&] { return !client->connected(); }));

  resources_.push_back(policy("default/while-down", "z"));
  uint64_t v = publish();
  start_server(at);
  ASSERT_TRUE(rec.wait_updates(2, 10s));
  v1::Update u = rec.update(1);
  EXPECT_FALSE(u.snapshot()) << "the controller still knows the client's version";
  EXPECT_EQ(u.base_version(), had);
  ASSERT_EQ(u.added_size(), 1);
  EXPECT_EQ(u.added(0).uid(), "default/while-down");
  ASSERT_TRUE(eventually([&] { return client->version() == v; }));
  EXPECT_EQ(rec.view().size(), 4u);
  EXPECT_EQ(client->connections(), 2u);
}

TEST_F(PushServerTest, WaypointGetsTheMeshAndThePoliciesThatReachIt) {
  v1::Resource svc;
  svc.set_uid("default/reviews");
  svc.mutable_service()->set_namespace_("default");
  svc.mutable_service()->set_waypoint("default/wp");
  (*svc.mutable_service()->mutable_selector())["app"] = "reviews";
  v1::Resource other;
  other.set_uid("default/ratings");
  other.mutable_service()->set_name("ratings");
  v1::Resource pod = workload("default/reviews-1", "node-b");
  (*pod.mutable_workload()->mutable_labels())["app"] = "reviews";
  resources_.insert(resources_.end(), {svc, other, pod});
  publish();
  Recorder rec;
  ControlClientOptions o = options_for("default/wp");
  o.role = v1::Subscribe::WAYPOINT;
  auto client = ControlClient::start(std::move(o), rec.handler());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(rec.wait_updates(1));
  auto view = rec.view();
  EXPECT_TRUE(view.count("default/reviews"));
  // The rest of the mesh too: a route may name ratings, and default/a may be a client.
  EXPECT_TRUE(view.count("default/ratings"));
  EXPECT_TRUE(view.count("default/reviews-1"));
  EXPECT_TRUE(view.count("default/a"));
  EXPECT_TRUE(view.count("default/allow"));
}

}  // namespace
}  // namespace ambit::controller
