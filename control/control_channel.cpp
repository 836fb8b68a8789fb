#include "control/control_channel.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/openssl_error.h"
#include "core/tls_context.h"
#include "core/x509.h"

namespace ambit::control {
namespace {

Error openssl_failure(std::string_view what) {
  std::string detail = take_openssl_errors();
  if (detail.empty()) return Error{std::string(what)};
  return Error::format("{}: {}", what, detail);
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void put_length_prefix(std::string& out, size_t n) {
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
}

}  // namespace

void block_sigpipe_in_this_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Result<SslCtxPtr> make_control_context(bool server, const Credentials& credentials,
                                       std::string_view root_pem) {
  clear_openssl_errors();
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return openssl_failure("control TLS: SSL_CTX_new failed");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    return openssl_failure("control TLS: restricting to TLS 1.3 failed");
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
  // A blocking read must come back after a non-data record, so the loop can push meanwhile.
  SSL_CTX_clear_mode(c, SSL_MODE_AUTO_RETRY);

  auto chain = certificates_from_pem(credentials.certificate_chain_pem);
  if (!chain) return Error::format("control TLS: certificate: {}", chain.error().message);
  auto key = private_key_from_pem(credentials.key_pem);
  if (!key) return Error::format("control TLS: key: {}", key.error().message);
  if (SSL_CTX_use_certificate(c, chain->front().get()) != 1) {
    return openssl_failure("control TLS: using the certificate failed");
  }
  for (size_t i = 1; i < chain->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(c, (*chain)[i].get()) != 1) {
      return openssl_failure("control TLS: adding the chain failed");
    }
  }
  if (SSL_CTX_use_PrivateKey(c, key->get()) != 1 || SSL_CTX_check_private_key(c) != 1) {
    return openssl_failure("control TLS: the key does not match the certificate");
  }
  auto roots = certificates_from_pem(root_pem);
  if (!roots) return Error::format("control TLS: root: {}", roots.error().message);
  X509_STORE* store = SSL_CTX_get_cert_store(c);
  for (auto& root : *roots) {
    if (X509_STORE_add_cert(store, root.get()) != 1) {
      return openssl_failure("control TLS: adding the root failed");
    }
  }
  if (server) {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

Result<ControlPeer> control_peer(SSL* ssl, std::string_view trust_domain) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) return Error{"peer presented no certificate"};
  if (SSL_get_verify_result(ssl) != X509_V_OK) return Error{"peer certificate did not verify"};
  std::vector<std::string> uris = uri_sans(peer);
  if (uris.size() != 1)
    return Error::format("peer certificate has {} URI SANs, not 1", uris.size());
  const std::string& uri = uris.front();
  const std::string prefix = fmt::format("spiffe://{}/ambit/", trust_domain);
  ControlPeer out;
  if (uri.compare(0, prefix.size(), prefix) == 0) {
    std::string_view rest = std::string_view(uri).substr(prefix.size());
    if (rest.starts_with("node/") && rest.size() > 5 &&
        rest.find('/', 5) == std::string_view::npos) {
      out.role = v1::Subscribe::AGENT;
      out.name = rest.substr(5);
      return out;
    }
    if (rest.starts_with("waypoint/") && rest.size() > 9) {
      out.role = v1::Subscribe::WAYPOINT;
      out.name = rest.substr(9);
      return out;
    }
    if (rest == "controller") {
      out.is_controller = true;
      return out;
    }
  }
  std::string shown = uri.substr(0, 200);
  for (char& ch : shown) {
    if (ch < 0x20 || ch >= 0x7f) ch = '?';
  }
  return Error::format(
      "peer identity '{}' is not a node, waypoint or controller of trust domain {}", shown,
      trust_domain);
}

Result<std::unique_ptr<ControlConnection>> ControlConnection::handshake(
    UniqueFd fd, SSL_CTX* ctx, bool server, std::chrono::milliseconds timeout) {
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  set_timeouts(fd.get(), timeout);
  clear_openssl_errors();
  SslPtr ssl(SSL_new(ctx));
  if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) return openssl_failure("SSL_new failed");
  if (server) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
  }
  while (true) {
    int rc = SSL_do_handshake(ssl.get());
    if (rc == 1) break;
    int err = SSL_get_error(ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Error{"TLS handshake timed out"};
      continue;
    }
    return Error::format("TLS handshake failed: {}", describe_handshake_failure(ssl.get(), err));
  }
  return std::unique_ptr<ControlConnection>(new ControlConnection(std::move(fd), std::move(ssl)));
}

Result<std::unique_ptr<ControlConnection>> ControlConnection::connect(
    const SocketAddress& address, SSL_CTX* ctx, std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Error::format("socket: {}", std::strerror(errno));
  sockaddr_storage ss;
  socklen_t len = address.to_sockaddr(&ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      return Error::format("connect {}: {}", address.to_string(), std::strerror(errno));
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n <= 0) return Error::format("connect {}: timed out", address.to_string());
    int err = 0;
    socklen_t elen = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err != 0) return Error::format("connect {}: {}", address.to_string(), std::strerror(err));
  }
  int flags = fcntl(fd.get(), F_GETFL);
  fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return handshake(std::move(fd), ctx, false, timeout);
}

bool ControlConnection::has_buffered() const { return SSL_pending(ssl_.get()) > 0; }

void ControlConnection::set_io_timeout(std::chrono::milliseconds timeout) {
  set_timeouts(fd_.get(), timeout);
}

Status ControlConnection::write_raw(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    size_t chunk = std::min<size_t>(bytes.size() - off, 1 << 20);
    size_t written = 0;
    clear_openssl_errors();
    int rc = SSL_write_ex(ssl_.get(), bytes.data() + off, chunk, &written);
    if (rc != 1) {
      int err = SSL_get_error(ssl_.get(), 0);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Error{"write timed out"};
        continue;
      }
      return Error::format("write failed: {}", describe_handshake_failure(ssl_.get(), err));
    }
    off += written;
  }
  return {};
}

Status ControlConnection::write_message(const google::protobuf::MessageLite& message) {
  size_t size = message.ByteSizeLong();
  if (size > kMaxFrameBytes)
    return Error::format("message of {} bytes exceeds the frame limit", size);
  std::string frame;
  frame.reserve(4 + size);
  put_length_prefix(frame, size);
  if (!message.AppendToString(&frame)) return Error{"serializing a message failed"};
  return write_raw(frame);
}

Status ControlConnection::read_frames(std::vector<std::string>& frames) {
  char buf[64 * 1024];
  size_t got = 0;
  clear_openssl_errors();
  int rc = SSL_read_ex(ssl_.get(), buf, sizeof(buf), &got);
  if (rc != 1) {
    int err = SSL_get_error(ssl_.get(), 0);
    if (err == SSL_ERROR_ZERO_RETURN) return Error{"closed by peer"};
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Error{"read timed out"};
      return {};  // a non-data record was processed
    }
    if (err == SSL_ERROR_SYSCALL && take_openssl_errors().empty())
      return Error{"connection closed"};
    return Error::format("read failed: {}", describe_handshake_failure(ssl_.get(), err));
  }
  in_.append(buf, got);
  return split_frames(in_, frames);
}

Status split_frames(std::string& buffer, std::vector<std::string>& frames) {
  size_t off = 0;
  Status status;
  while (buffer.size() - off >= 4) {
    auto b = [&](size_t i) {
      return static_cast<uint32_t>(static_cast<unsigned char>(buffer[off + i]));
    };
    size_t len = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
    if (len > kMaxFrameBytes) {
      status = Error::format("frame of {} bytes exceeds the {} byte limit", len, kMaxFrameBytes);
      break;
    }
    if (buffer.size() - off - 4 < len) break;
    frames.emplace_back(buffer, off + 4, len);
    off += 4 + len;
  }
  buffer.erase(0, off);
  return status;
}

Status encode_update_frame(const UpdateParts& parts, size_t chunk_bytes,
                           const std::function<Status(std::string_view)>& sink) {
  std::vector<std::string> removed;
  removed.reserve(parts.removed.size());
  size_t body = 1 + varint_size(parts.version);
  if (parts.snapshot) body += 2;
  if (parts.base_version != 0) body += 1 + varint_size(parts.base_version);
  for (size_t i = 0; i < parts.added_count(); ++i) {
    const std::string& r = parts.added_at(i);
    body += 1 + varint_size(r.size()) + r.size();
  }
  for (const auto& key : parts.removed) {
    removed.push_back(key.SerializeAsString());
    body += 1 + varint_size(removed.back().size()) + removed.back().size();
  }
  size_t message = 1 + varint_size(body) + body;
  if (message > kMaxFrameBytes) {
    return Error::format("update for version {} is {} bytes, over the {} byte frame limit",
                         parts.version, message, kMaxFrameBytes);
  }
  std::string out;
  out.reserve(std::min(4 + message, chunk_bytes + (64u << 10)));
  auto flush_if_full = [&]() -> Status {
    if (out.size() < chunk_bytes) return {};
    Status s = sink(out);
    out.clear();
    return s;
  };
  put_length_prefix(out, message);
  out.push_back(0x0a);  // ServerMessage.update
  put_varint(out, body);
  out.push_back(0x08);  // Update.version
  put_varint(out, parts.version);
  if (parts.snapshot) {
    out.push_back(0x10);
    out.push_back(0x01);
  }
  for (size_t i = 0; i < parts.added_count(); ++i) {
    const std::string& r = parts.added_at(i);
    out.push_back(0x1a);
    put_varint(out, r.size());
    out.append(r);
    if (auto s = flush_if_full(); !s) return s;
  }
  for (const std::string& k : removed) {
    out.push_back(0x22);
    put_varint(out, k.size());
    out.append(k);
    if (auto s = flush_if_full(); !s) return s;
  }
  if (parts.base_version != 0) {
    out.push_back(0x28);
    put_varint(out, parts.base_version);
  }
  return out.empty() ? Status{} : sink(out);
}

std::string encode_update_frame(const UpdateParts& parts) {
  std::string frame;
  auto s = encode_update_frame(parts, SIZE_MAX, [&](std::string_view bytes) -> Status {
    frame.append(bytes);
    return {};
  });
  return s ? frame : std::string();
}

}  // namespace ambit::control
