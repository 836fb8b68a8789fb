#include "waypoint/origination_tls.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/openssl_error.h"

namespace ambit::waypoint {

Result<std::shared_ptr<const OriginationTls>> OriginationTls::build(
    const ambit::v1::ClientTLSSettings& tls, const std::string& host, std::string_view where) {
  auto out = std::make_shared<OriginationTls>();
  auto fail = [&](std::string_view field, const std::string& why) {
    return Error::format("{}tls.{}: {}", where, field, why);
  };
  clear_openssl_errors();
  out->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!out->ctx) return fail("mode", "no TLS context: " + take_openssl_errors());
  SSL_CTX* ctx = out->ctx.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  out->verify = !tls.insecure_skip_verify();
  if (out->verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const std::string& ca = tls.ca_certificates();
    if (!ca.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
        return fail("caCertificates",
                    fmt::format("cannot read '{}': {}", ca, take_openssl_errors()));
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return fail("caCertificates", "no system CAs: " + take_openssl_errors());
    }
  }
  if (tls.mode() == ambit::v1::ClientTLSSettings::MUTUAL) {
    const std::string& cert = tls.client_certificate();
    const std::string& key = tls.private_key();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
      return fail("clientCertificate",
                  fmt::format("cannot read '{}': {}", cert, take_openssl_errors()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail("privateKey", fmt::format("cannot read '{}': {}", key, take_openssl_errors()));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return fail("privateKey", "does not match clientCertificate: " + take_openssl_errors());
    }
  }
  out->sni = tls.sni().empty() ? host : tls.sni();
  if (tls.subject_alt_names().empty()) {
    out->names = {out->sni};
  } else {
    out->names.assign(tls.subject_alt_names().begin(), tls.subject_alt_names().end());
  }
  return std::shared_ptr<const OriginationTls>(std::move(out));
}

void OriginationTls::prepare(SSL* ssl) const {
  SSL_set_tlsext_host_name(ssl, sni.c_str());
  if (!verify) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (size_t i = 0; i < names.size(); ++i) {
    if (i == 0) {
      X509_VERIFY_PARAM_set1_host(param, names[i].c_str(), 0);
    } else {
      X509_VERIFY_PARAM_add1_host(param, names[i].c_str(), 0);
    }
  }
}

}  // namespace ambit::waypoint
