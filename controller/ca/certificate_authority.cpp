#include "controller/ca/certificate_authority.h"

#include <openssl/pem.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "core/openssl_error.h"
#include "core/x509.h"

namespace ambit::controller {
namespace {

namespace fs = std::filesystem;
using std::chrono::system_clock;

// Issued certificates start a little in the past so a peer whose clock runs behind accepts them.
constexpr auto kClockSkew = std::chrono::minutes(5);

bool valid_segment(std::string_view s) {
  if (s.empty() || s == "." || s == ".." || s.size() > 253) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A key another user can read is a key that may already be copied; refuse to sign with it.
Status check_key_file_mode(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Error::format("CA key '{}': {}", path.string(), std::strerror(errno));
  }
  if ((st.st_mode & S_IRWXO) != 0) {
    return Error::format(
        "CA key '{}' has mode {:04o}: it is accessible to all users; refusing to use it "
        "(chmod 600 '{}')",
        path.string(), st.st_mode & 07777, path.string());
  }
  return {};
}

Result<EvpPkeyPtr> load_key(const fs::path& path) {
  if (auto s = check_key_file_mode(path); !s) return s.error();
  auto pem = read_pem_file(path);
  if (!pem) return Error::format("CA key: {}", pem.error().message);
  auto key = private_key_from_pem(*pem);
  if (!key) return Error::format("CA key '{}': {}", path.string(), key.error().message);
  return std::move(*key);
}

Result<std::vector<X509Ptr>> load_certs(const fs::path& path) {
  auto pem = read_pem_file(path);
  if (!pem) return Error::format("CA certificate: {}", pem.error().message);
  auto certs = certificates_from_pem(*pem);
  if (!certs) return Error::format("CA certificate '{}': {}", path.string(), certs.error().message);
  return std::move(*certs);
}

std::string key_type_of(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
    const char* name = EVP_PKEY_get0_type_name(key);
    return name != nullptr ? name : "unknown";
  }
  char group[64] = {};
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), nullptr) != 1) return "EC (unknown curve)";
  return fmt::format("EC {}", group);
}

bool is_p256(EVP_PKEY* key) {
  char group[64] = {};
  return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
         EVP_PKEY_get_group_name(key, group, sizeof(group), nullptr) == 1 &&
         (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0);
}

// Every subjectAltName entry of the request; URIs as text, anything else as "<other>".
Result<std::vector<std::string>> csr_san_entries(X509_REQ* req) {
  ExtensionStackPtr exts(X509_REQ_get_extensions(req));
  std::vector<std::string> out;
  if (!exts) return out;
  int crit = 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(exts.get(), NID_subject_alt_name, &crit, nullptr)));
  if (!names) {
    take_openssl_errors();
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) {
      out.emplace_back("<non-URI name>");
      continue;
    }
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return out;
}

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 256)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<CertificateAuthority>> CertificateAuthority::load_or_create(
    const fs::path& dir, const Options& options) {
  std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
  ca->trust_domain_ = options.trust_domain;
  ca->options_ = options;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::format("CA directory '{}': {}", dir.string(), ec.message());

  const fs::path root_cert = dir / "root-cert.pem";
  const fs::path root_key = dir / "root-key.pem";
  const fs::path ca_cert = dir / "ca-cert.pem";
  const fs::path ca_key = dir / "ca-key.pem";
  const fs::path cert_chain = dir / "cert-chain.pem";

  if (fs::exists(ca_key)) {
    // Operator-supplied intermediate: sign with it, send it and the chain with every leaf.
    auto key = load_key(ca_key);
    if (!key) return key.error();
    auto signer = load_certs(ca_cert);
    if (!signer) return signer.error();
    auto root = load_certs(root_cert);
    if (!root) return root.error();
    ca->signer_key_ = std::move(*key);
    ca->signer_ = std::move(signer->front());
    ca->root_ = std::move(root->front());
    ca->chain_suffix_pem_ = certificate_to_pem(ca->signer_.get());
    if (fs::exists(cert_chain)) {
      auto chain = load_certs(cert_chain);
      if (!chain) return chain.error();
      for (auto& c : *chain) {
        // The root itself is not sent: peers have it.
        if (X509_cmp(c.get(), ca->root_.get()) == 0) continue;
        ca->chain_suffix_pem_ += certificate_to_pem(c.get());
        ca->intermediates_.push_back(std::move(c));
      }
    }
  } else if (fs::exists(root_key)) {
    auto key = load_key(root_key);
    if (!key) return key.error();
    auto root = load_certs(root_cert);
    if (!root) return root.error();
    ca->signer_key_ = std::move(*key);
    ca->root_ = std::move(root->front());
    ca->signer_ = share(ca->root_.get());
  } else {
    EvpPkeyPtr key = generate_p256_key();
    if (!key) return Error{"generating the root key failed"};
    auto now = system_clock::now();
    auto root =
        make_ca_certificate(key.get(), fmt::format("ambit mesh root ({})", options.trust_domain),
                            now - kClockSkew, now + options.root_lifetime);
    if (!root) return Error::format("generating the root certificate: {}", root.error().message);
    if (auto s = write_private_file(root_key, private_key_to_pem(key.get())); !s) return s.error();
    if (auto s = write_private_file(root_cert, certificate_to_pem(root->get())); !s) {
      return s.error();
    }
    ca->signer_key_ = std::move(key);
    ca->root_ = std::move(*root);
    ca->signer_ = share(ca->root_.get());
    ca->generated_ = true;
  }
  if (X509_check_private_key(ca->signer_.get(), ca->signer_key_.get()) != 1) {
    take_openssl_errors();
    return Error::format("CA directory '{}': the signing key does not match its certificate",
                         dir.string());
  }
  if (X509_check_ca(ca->signer_.get()) == 0) {
    return Error::format("CA directory '{}': the signing certificate is not a CA", dir.string());
  }
  ca->root_pem_ = certificate_to_pem(ca->root_.get());
  return ca;
}

Result<std::string> CertificateAuthority::sign(std::string_view csr_pem, const Identity& expected,
                                               std::chrono::seconds ttl) const {
  if (csr_pem.size() > 64 * 1024) return Error{"CSR refused: larger than 64 KiB"};
  clear_openssl_errors();
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  X509ReqPtr req(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!req) {
    take_openssl_errors();
    return Error{"CSR refused: not a PEM certificate request"};
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    take_openssl_errors();
    return Error{"CSR refused: it has no usable public key"};
  }
  if (!is_p256(key)) {
    return Error::format("CSR refused: key is {}, only ECDSA P-256 is accepted", key_type_of(key));
  }
  if (X509_REQ_verify(req.get(), key) != 1) {
    take_openssl_errors();
    return Error{"CSR refused: its signature does not verify"};
  }
  auto sans = csr_san_entries(req.get());
  if (!sans) return sans.error();
  const std::string want = expected.to_string();
  if (sans->size() != 1 || sans->front() != want) {
    std::string got;
    for (const auto& s : *sans) got += (got.empty() ? "" : ", ") + printable(s);
    return Error::format("CSR refused: its SAN must be exactly the URI {}, it has [{}]", want, got);
  }
  auto now = system_clock::now();
  auto not_after = now + ttl;
  // A leaf never outlives its issuer.
  if (auto signer_end = certificate_not_after(signer_.get());
      signer_end && *signer_end < not_after) {
    not_after = *signer_end;
  }
  auto leaf = sign_workload_certificate(signer_.get(), signer_key_.get(), key, expected,
                                        now - kClockSkew, not_after);
  if (!leaf) return Error::format("signing failed: {}", leaf.error().message);
  return certificate_to_pem(leaf->get()) + chain_suffix_pem_;
}

Result<Credentials> CertificateAuthority::issue_for_uri(const std::string& uri,
                                                        std::chrono::seconds lifetime) const {
  EvpPkeyPtr key = generate_p256_key();
  if (!key) return Error{"generating a key failed"};
  auto now = system_clock::now();
  auto cert = sign_certificate_with_uri_san(signer_.get(), signer_key_.get(), key.get(), uri,
                                            now - kClockSkew, now + lifetime);
  if (!cert) return Error::format("issuing {}: {}", uri, cert.error().message);
  return Credentials{certificate_to_pem(cert->get()) + chain_suffix_pem_,
                     private_key_to_pem(key.get())};
}

Result<Credentials> CertificateAuthority::issue_node_credentials(std::string_view node) const {
  if (!valid_segment(node)) {
    return Error::format(
        "node name '{}' is not usable in a SPIFFE ID (letters, digits, '.', '-', '_')",
        printable(node));
  }
  return issue_for_uri(node_spiffe_id(trust_domain_, node), options_.bootstrap_lifetime);
}

Result<Credentials> CertificateAuthority::issue_waypoint_credentials(
    std::string_view waypoint_uid) const {
  auto slash = waypoint_uid.find('/');
  if (slash == std::string_view::npos || !valid_segment(waypoint_uid.substr(0, slash)) ||
      !valid_segment(waypoint_uid.substr(slash + 1))) {
    return Error::format("waypoint '{}' must be <namespace>/<name>", printable(waypoint_uid));
  }
  return issue_for_uri(waypoint_spiffe_id(trust_domain_, waypoint_uid),
                       options_.bootstrap_lifetime);
}

Result<Credentials> CertificateAuthority::issue_controller_credentials() const {
  return issue_for_uri(controller_spiffe_id(trust_domain_), options_.bootstrap_lifetime);
}

Result<CsrAndKey> make_csr(std::string_view uri_san) {
  EvpPkeyPtr key = generate_p256_key();
  if (!key) return Error{"generating a key failed"};
  auto csr = make_certificate_request(key.get(), uri_san);
  if (!csr) return csr.error();
  return CsrAndKey{std::move(*csr), private_key_to_pem(key.get())};
}

}  // namespace ambit::controller
