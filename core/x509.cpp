#include "core/x509.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "core/openssl_error.h"
#include "core/unique_fd.h"

namespace ambit {
namespace {

// Generous for any certificate chain or key; bounds what a bad path or a hostile peer can make us
// buffer.
constexpr size_t kMaxPemBytes = 1 << 20;

// The SPIFFE X.509-SVID specification caps a SPIFFE ID at 2048 bytes.
constexpr size_t kMaxSpiffeIdBytes = 2048;

Error openssl_failure(std::string_view what) {
  std::string detail = take_openssl_errors();
  if (detail.empty()) return Error{std::string(what)};
  return Error::format("{}: {}", what, detail);
}

Error errno_failure(std::string_view what, const std::filesystem::path& path) {
  return Error::format("{} '{}': {}", what, path.string(), std::strerror(errno));
}

// A URI SAN comes from whoever built the certificate, possibly a hostile peer; escape it before it
// reaches an error message and from there a log line.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    }
  }
  return out;
}

bool is_printable_ascii(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

Status set_random_serial(X509* cert) {
  BignumPtr serial(BN_new());
  // 159 random bits with the top one set: positive, non-zero and exactly 20 bytes in DER (the RFC
  // 5280 maximum). Randomness alone keeps serials unique, so the CA keeps no serial counter.
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1) {
    return openssl_failure("generating a random serial number failed");
  }
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return openssl_failure("setting the serial number failed");
  }
  return {};
}

Status set_validity(X509* cert, CertificateTime not_before, CertificateTime not_after) {
  if (not_after <= not_before) return Error{"not_after must be later than not_before"};
  auto to_time_t = [](CertificateTime t) { return std::chrono::system_clock::to_time_t(t); };
  if (ASN1_TIME_set(X509_getm_notBefore(cert), to_time_t(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), to_time_t(not_after)) == nullptr) {
    return openssl_failure("setting the validity period failed");
  }
  return {};
}

Result<X509NamePtr> name_with_common_name(std::string_view common_name) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return openssl_failure("allocating a subject name failed");
  if (common_name.empty()) return name;
  if (common_name.size() > INT_MAX ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return openssl_failure(fmt::format("common name '{}' is not usable", printable(common_name)));
  }
  return name;
}

// Everything but extensions and the signature: version 3, random serial, names, validity, key.
// A null `issuer` means self-signed.
Result<X509Ptr> new_certificate(X509* issuer, EVP_PKEY* subject_public_key, X509_NAME* subject,
                                CertificateTime not_before, CertificateTime not_after) {
  if (subject_public_key == nullptr) return Error{"subject public key is null"};
  X509Ptr cert(X509_new());
  if (!cert) return openssl_failure("allocating a certificate failed");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_failure("setting the certificate version failed");
  }
  if (auto s = set_random_serial(cert.get()); !s) return s.error();
  if (auto s = set_validity(cert.get(), not_before, not_after); !s) return s.error();
  X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer) : subject;
  if (X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer_name) != 1) {
    return openssl_failure("setting the certificate names failed");
  }
  if (X509_set_pubkey(cert.get(), subject_public_key) != 1) {
    return openssl_failure("setting the subject public key failed");
  }
  return cert;
}

// `value` uses the openssl.cnf extension syntax, e.g. "critical,CA:TRUE".
Status add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_failure(fmt::format("adding extension {} '{}' failed", OBJ_nid2sn(nid), value));
  }
  return {};
}

// Built as a GENERAL_NAME rather than through the config syntax, which would split on commas.
Status add_critical_uri_san(X509* cert, std::string_view uri) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  GeneralNamePtr name(GENERAL_NAME_new());
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  if (!names || !name || value == nullptr || uri.size() > INT_MAX ||
      ASN1_STRING_set(value, uri.data(), static_cast<int>(uri.size())) != 1) {
    ASN1_IA5STRING_free(value);
    return openssl_failure("building the URI SAN failed");
  }
  GENERAL_NAME_set0_value(name.get(), GEN_URI, value);
  if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
    return openssl_failure("building the URI SAN failed");
  }
  name.release();  // now owned by `names`
  // Critical because the subject is empty: RFC 5280 4.2.1.6.
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 1, X509V3_ADD_DEFAULT) != 1) {
    return openssl_failure("adding the URI SAN failed");
  }
  return {};
}

Status sign_sha256(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return openssl_failure("signing failed");
  return {};
}

Status check_issuer(X509* ca_cert, EVP_PKEY* ca_key) {
  if (ca_cert == nullptr || ca_key == nullptr) return Error{"CA certificate or key is null"};
  if (X509_check_ca(ca_cert) == 0) return Error{"issuer certificate is not a CA"};
  if (X509_check_private_key(ca_cert, ca_key) != 1) {
    take_openssl_errors();  // the mismatch is the whole story
    return Error{"CA private key does not match the CA certificate"};
  }
  return {};
}

Status add_ca_extensions(X509* cert, X509* issuer) {
  if (auto s = add_extension(cert, issuer, NID_basic_constraints, "critical,CA:TRUE"); !s) return s;
  if (auto s = add_extension(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign"); !s) {
    return s;
  }
  return add_extension(cert, issuer, NID_subject_key_identifier, "hash");
}

// The leaf profile shared by workload certificates and the test-only variants. An empty `uri`
// leaves out the SAN and puts `common_name` in the subject instead.
Result<X509Ptr> sign_leaf(X509* ca_cert, EVP_PKEY* ca_key, EVP_PKEY* subject_public_key,
                          std::string_view uri, std::string_view common_name,
                          CertificateTime not_before, CertificateTime not_after) {
  if (auto s = check_issuer(ca_cert, ca_key); !s) return s.error();
  auto subject = name_with_common_name(uri.empty() ? common_name : std::string_view{});
  if (!subject) return subject.error();
  auto cert = new_certificate(ca_cert, subject_public_key, subject->get(), not_before, not_after);
  if (!cert) return cert.error();
  X509* c = cert->get();
  if (auto s = add_extension(c, ca_cert, NID_basic_constraints, "critical,CA:FALSE"); !s) {
    return s.error();
  }
  if (auto s =
          add_extension(c, ca_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
      !s) {
    return s.error();
  }
  // Both: the same certificate serves a pod's outbound (client) and inbound (server) tunnels.
  if (auto s = add_extension(c, ca_cert, NID_ext_key_usage, "serverAuth,clientAuth"); !s) {
    return s.error();
  }
  if (auto s = add_extension(c, ca_cert, NID_authority_key_identifier, "keyid"); !s) {
    return s.error();
  }
  if (!uri.empty()) {
    if (auto s = add_critical_uri_san(c, uri); !s) return s.error();
  }
  if (auto s = sign_sha256(c, ca_key); !s) return s.error();
  return std::move(*cert);
}

BioPtr memory_bio_over(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string memory_bio_contents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

Result<CertificateTime> to_time_point(const ASN1_TIME* time, std::string_view which) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return openssl_failure(fmt::format("certificate {} is not a valid time", which));
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// Refuses the passphrase prompt OpenSSL would otherwise put on the terminal for encrypted keys.
int refuse_passphrase(char*, int, int, void*) { return 0; }

}  // namespace

EvpPkeyPtr generate_p256_key() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1 ||
      EVP_PKEY_generate(ctx.get(), &key) != 1) {
    take_openssl_errors();
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

Result<X509Ptr> make_ca_certificate(EVP_PKEY* key, std::string_view common_name,
                                    CertificateTime not_before, CertificateTime not_after) {
  if (key == nullptr) return Error{"CA key is null"};
  auto subject = name_with_common_name(common_name);
  if (!subject) return subject.error();
  auto cert = new_certificate(nullptr, key, subject->get(), not_before, not_after);
  if (!cert) return cert.error();
  if (auto s = add_ca_extensions(cert->get(), cert->get()); !s) return s.error();
  if (auto s = sign_sha256(cert->get(), key); !s) return s.error();
  return std::move(*cert);
}

Result<X509Ptr> sign_intermediate_ca_certificate(X509* ca_cert, EVP_PKEY* ca_key,
                                                 EVP_PKEY* subject_public_key,
                                                 std::string_view common_name,
                                                 CertificateTime not_before,
                                                 CertificateTime not_after) {
  if (auto s = check_issuer(ca_cert, ca_key); !s) return s.error();
  auto subject = name_with_common_name(common_name);
  if (!subject) return subject.error();
  auto cert = new_certificate(ca_cert, subject_public_key, subject->get(), not_before, not_after);
  if (!cert) return cert.error();
  if (auto s = add_ca_extensions(cert->get(), ca_cert); !s) return s.error();
  if (auto s = add_extension(cert->get(), ca_cert, NID_authority_key_identifier, "keyid"); !s) {
    return s.error();
  }
  if (auto s = sign_sha256(cert->get(), ca_key); !s) return s.error();
  return std::move(*cert);
}

Result<X509Ptr> sign_workload_certificate(X509* ca_cert, EVP_PKEY* ca_key,
                                          EVP_PKEY* subject_public_key, const Identity& identity,
                                          CertificateTime not_before, CertificateTime not_after) {
  // Identity's constructor does not validate, so re-parse what would go into the certificate.
  std::string uri = identity.to_string();
  if (identity.empty()) return Error{"workload identity is empty"};
  if (auto parsed = Identity::parse(uri); !parsed) {
    return Error::format("workload identity is not a valid SPIFFE ID: {}", parsed.error().message);
  }
  return sign_leaf(ca_cert, ca_key, subject_public_key, uri, {}, not_before, not_after);
}

Result<X509Ptr> sign_certificate_with_uri_san(X509* ca_cert, EVP_PKEY* ca_key,
                                              EVP_PKEY* subject_public_key, std::string_view uri,
                                              CertificateTime not_before,
                                              CertificateTime not_after) {
  if (uri.empty()) return Error{"URI SAN is empty"};
  return sign_leaf(ca_cert, ca_key, subject_public_key, uri, {}, not_before, not_after);
}

Result<X509Ptr> sign_certificate_without_uri_san(X509* ca_cert, EVP_PKEY* ca_key,
                                                 EVP_PKEY* subject_public_key,
                                                 std::string_view common_name,
                                                 CertificateTime not_before,
                                                 CertificateTime not_after) {
  if (common_name.empty()) return Error{"common name is empty"};
  return sign_leaf(ca_cert, ca_key, subject_public_key, {}, common_name, not_before, not_after);
}

std::vector<std::string> uri_sans(X509* cert) {
  std::vector<std::string> uris;
  if (cert == nullptr) return uris;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return uris;
}

Result<Identity> identity_from_certificate(X509* cert) {
  if (cert == nullptr) return Error{"certificate is null"};
  std::vector<std::string> uris = uri_sans(cert);
  if (uris.empty()) return Error{"certificate has no URI SAN"};
  // X.509-SVID: exactly one URI SAN, so there is never a question of which identity is meant.
  if (uris.size() > 1) {
    return Error::format("certificate has {} URI SANs; an X.509-SVID has exactly one", uris.size());
  }
  const std::string& uri = uris.front();
  if (uri.size() > kMaxSpiffeIdBytes) {
    return Error::format("URI SAN is not a SPIFFE ID: it is {} bytes, longer than {}", uri.size(),
                         kMaxSpiffeIdBytes);
  }
  if (!is_printable_ascii(uri)) {
    return Error::format("URI SAN '{}' is not a SPIFFE ID: it has non-printable characters",
                         printable(uri));
  }
  auto identity = Identity::parse(uri);
  if (!identity) {
    return Error::format("URI SAN '{}' is not a SPIFFE ID: {}", uri, identity.error().message);
  }
  return std::move(*identity);
}

Result<CertificateTime> certificate_not_before(const X509* cert) {
  if (cert == nullptr) return Error{"certificate is null"};
  return to_time_point(X509_get0_notBefore(cert), "notBefore");
}

Result<CertificateTime> certificate_not_after(const X509* cert) {
  if (cert == nullptr) return Error{"certificate is null"};
  return to_time_point(X509_get0_notAfter(cert), "notAfter");
}

std::string certificate_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || cert == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    take_openssl_errors();
    return {};
  }
  return memory_bio_contents(bio.get());
}

std::string private_key_to_pem(EVP_PKEY* key) {
  // The secure-memory BIO wipes its buffer when freed, so only the returned string holds the key.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || key == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    take_openssl_errors();
    return {};
  }
  return memory_bio_contents(bio.get());
}

namespace {

// A read-only BIO over untrusted PEM text, refused when it is larger than any bundle we expect.
Result<BioPtr> pem_input(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return Error::format("PEM input is {} bytes, more than the {} allowed", pem.size(),
                         kMaxPemBytes);
  }
  clear_openssl_errors();
  BioPtr bio = memory_bio_over(pem);
  if (!bio) return Error{"allocating a memory BIO failed"};
  return bio;
}

}  // namespace

Result<std::vector<X509Ptr>> certificates_from_pem(std::string_view pem) {
  auto bio_or = pem_input(pem);
  if (!bio_or) return bio_or.error();
  BioPtr bio = std::move(*bio_or);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop always ends in a failed read; "no start line" just means the input ran out.
  unsigned long last = ERR_peek_last_error();
  bool ran_out = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (ran_out) {
    clear_openssl_errors();
    if (certs.empty()) return Error{"no PEM certificate found"};
    return certs;
  }
  return openssl_failure(fmt::format("PEM certificate {} is malformed", certs.size() + 1));
}

Result<X509Ptr> certificate_from_pem(std::string_view pem) {
  auto certs = certificates_from_pem(pem);
  if (!certs) return certs.error();
  if (certs->size() != 1) {
    return Error::format("expected one PEM certificate, found {}", certs->size());
  }
  return std::move(certs->front());
}

Result<EvpPkeyPtr> private_key_from_pem(std::string_view pem) {
  auto bio_or = pem_input(pem);
  if (!bio_or) return bio_or.error();
  BioPtr bio = std::move(*bio_or);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr);
  if (key == nullptr) {
    return openssl_failure("no usable PEM private key found (encrypted keys are not supported)");
  }
  return EvpPkeyPtr(key);
}

Result<std::string> read_pem_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_failure("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_failure("cannot stat", path);
  if (!S_ISREG(st.st_mode)) return Error::format("'{}' is not a regular file", path.string());
  if (static_cast<size_t>(st.st_size) > kMaxPemBytes) {
    return Error::format("'{}' is {} bytes, more than the {} allowed", path.string(), st.st_size,
                         kMaxPemBytes);
  }
  std::string contents(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::read(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_failure("cannot read", path);
    if (n == 0) break;  // file shrank while we read it
    done += static_cast<size_t>(n);
  }
  contents.resize(done);
  return contents;
}

Status write_private_file(const std::filesystem::path& path, std::string_view contents) {
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  // A temporary in the same directory, so the rename below is atomic. mkostemp creates it 0600.
  std::string temp = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return errno_failure("cannot create a temporary file for", path);

  auto fail = [&](std::string_view what) {
    Error error = errno_failure(what, temp);
    ::unlink(temp.c_str());
    return error;
  };
  // mkostemp already asked for 0600; fchmod makes it so whatever the umask or filesystem did.
  if (::fchmod(fd.get(), S_IRUSR | S_IWUSR) != 0) return fail("cannot chmod");
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot fsync");
  if (::close(fd.release()) != 0) return fail("cannot close");
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    Error error = errno_failure("cannot rename into place", path);
    ::unlink(temp.c_str());
    return error;
  }
  return {};
}

Result<std::string> make_certificate_request(EVP_PKEY* key, std::string_view uri_san) {
  auto failure = [](std::string_view what) {
    std::string detail = take_openssl_errors();
    return detail.empty() ? Error{std::string(what)} : Error::format("{}: {}", what, detail);
  };
  X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    return failure("building the CSR failed");
  }
  GeneralNamesPtr names(GENERAL_NAMES_new());
  GeneralNamePtr name(GENERAL_NAME_new());
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  if (!names || !name || value == nullptr ||
      ASN1_STRING_set(value, uri_san.data(), static_cast<int>(uri_san.size())) != 1) {
    ASN1_IA5STRING_free(value);
    return failure("building the CSR SAN failed");
  }
  GENERAL_NAME_set0_value(name.get(), GEN_URI, value);
  sk_GENERAL_NAME_push(names.get(), name.release());
  STACK_OF(X509_EXTENSION)* raw_exts = nullptr;
  int added = X509V3_add1_i2d(&raw_exts, NID_subject_alt_name, names.get(), 1, X509V3_ADD_DEFAULT);
  ExtensionStackPtr exts(raw_exts);
  if (added != 1 || !exts || X509_REQ_add_extensions(req.get(), exts.get()) != 1 ||
      X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return failure("signing the CSR failed");
  }
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) {
    return failure("encoding the CSR failed");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace ambit
