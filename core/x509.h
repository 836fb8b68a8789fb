// X.509 certificates for the mesh: generating CA and workload certificates (tests today, the
// controller's CA later), reading the SPIFFE identity back out, and PEM encoding.
//
// Workload certificates follow the X.509-SVID shape Istio issues: empty subject, exactly one URI
// SAN carrying the SPIFFE ID (critical, because the subject is empty), ECDSA P-256, SHA-256.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/identity.h"
#include "core/openssl_ptr.h"
#include "core/result.h"

namespace ambit {

using CertificateTime = std::chrono::system_clock::time_point;

// --- Keys ---

// A fresh ECDSA P-256 key pair. Null only if OpenSSL cannot allocate.
EvpPkeyPtr generate_p256_key();

// --- Generation ---

// A self-signed root: basicConstraints CA:TRUE (critical), keyUsage keyCertSign+cRLSign
// (critical), subject key identifier.
Result<X509Ptr> make_ca_certificate(EVP_PKEY* key, std::string_view common_name,
                                    CertificateTime not_before, CertificateTime not_after);

// An intermediate CA signed by `ca_cert`/`ca_key`, for deployments whose mesh CA sits under an
// organisation's root.
Result<X509Ptr> sign_intermediate_ca_certificate(X509* ca_cert, EVP_PKEY* ca_key,
                                                 EVP_PKEY* subject_public_key,
                                                 std::string_view common_name,
                                                 CertificateTime not_before,
                                                 CertificateTime not_after);

// A workload leaf: URI SAN = identity.to_string(), empty subject, keyUsage
// digitalSignature+keyEncipherment, extKeyUsage serverAuth+clientAuth, CA:FALSE, random serial.
Result<X509Ptr> sign_workload_certificate(X509* ca_cert, EVP_PKEY* ca_key,
                                          EVP_PKEY* subject_public_key, const Identity& identity,
                                          CertificateTime not_before, CertificateTime not_after);

// Same leaf shape but with any URI in the SAN, unchecked; lets tests present a certificate whose
// URI SAN is not a SPIFFE ID.
Result<X509Ptr> sign_certificate_with_uri_san(X509* ca_cert, EVP_PKEY* ca_key,
                                              EVP_PKEY* subject_public_key, std::string_view uri,
                                              CertificateTime not_before,
                                              CertificateTime not_after);

// A leaf with no SAN at all, only subject CN; lets tests present a certificate without identity.
Result<X509Ptr> sign_certificate_without_uri_san(X509* ca_cert, EVP_PKEY* ca_key,
                                                 EVP_PKEY* subject_public_key,
                                                 std::string_view common_name,
                                                 CertificateTime not_before,
                                                 CertificateTime not_after);

// A PKCS#10 request signed with `key`, its only SAN the URI `uri_san` (a SPIFFE ID for a
// workload), as PEM: what a client sends the CA.
Result<std::string> make_certificate_request(EVP_PKEY* key, std::string_view uri_san);

// --- Inspection ---

// All URI entries of the subjectAltName extension, in order.
std::vector<std::string> uri_sans(X509* cert);

// The SPIFFE identity in the certificate's single URI SAN. Errors start with "certificate has no
// URI SAN", "certificate has N URI SANs", or "URI SAN '<uri>' is not a SPIFFE ID: <why>", so a
// caller can prefix them ("peer ", "leaf ").
Result<Identity> identity_from_certificate(X509* cert);

Result<CertificateTime> certificate_not_before(const X509* cert);
Result<CertificateTime> certificate_not_after(const X509* cert);

// --- PEM ---

// Both encoders return an empty string only if OpenSSL cannot allocate.
std::string certificate_to_pem(X509* cert);
// Unencrypted PKCS#8. The returned string holds secret material: write it only with
// write_private_file and never log it.
std::string private_key_to_pem(EVP_PKEY* key);

// Exactly one certificate; use certificates_from_pem for chains and bundles.
Result<X509Ptr> certificate_from_pem(std::string_view pem);
// One or more certificates, in file order.
Result<std::vector<X509Ptr>> certificates_from_pem(std::string_view pem);
// Unencrypted keys only: an encrypted key is an error rather than a passphrase prompt.
Result<EvpPkeyPtr> private_key_from_pem(std::string_view pem);

// --- Files ---

// Reads a whole PEM file (certificates or key); refuses files over 1 MiB.
Result<std::string> read_pem_file(const std::filesystem::path& path);

// Replaces `path` atomically with `contents`, mode 0600 from the moment the file exists, so a key
// is never world-readable, not even briefly, and readers never see a half-written key.
Status write_private_file(const std::filesystem::path& path, std::string_view contents);

}  // namespace ambit
