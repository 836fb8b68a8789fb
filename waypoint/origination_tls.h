// TLS the waypoint originates to an endpoint outside the mesh (DestinationRule `tls` SIMPLE or
// MUTUAL on a ServiceEntry host): one SSL_CTX per cluster, shared by its connections, which
// keep it alive past the view that made it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/v1/mesh.pb.h"
#include "core/openssl_ptr.h"
#include "core/result.h"

namespace ambit::waypoint {

struct OriginationTls {
  SslCtxPtr ctx;
  std::string sni;                 // the server name sent (tls.sni, else the host)
  std::vector<std::string> names;  // the certificate must be for one of these (unless !verify)
  bool verify = true;

  // TLS 1.2 or later; the server's chain checked against caCertificates (else the system's
  // CAs) and its name against subjectAltNames (else the SNI); MUTUAL presents the client
  // certificate and key. Files are read now: an unreadable one is an error naming `where`
  // and the field ("DestinationRule shop/stripe: trafficPolicy.tls.caCertificates: ...").
  static Result<std::shared_ptr<const OriginationTls>> build(
      const ambit::v1::ClientTLSSettings& tls, const std::string& host, std::string_view where);
  // Sets the server name and the names to check on a new connection's SSL.
  void prepare(SSL* ssl) const;
};

}  // namespace ambit::waypoint
