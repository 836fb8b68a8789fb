#include "core/x509.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/core/error_assertions.h"

namespace ambit {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

class X509Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_key_ = generate_p256_key();
    ASSERT_TRUE(ca_key_);
    auto ca = make_ca_certificate(ca_key_.get(), "ambit test root", now_ - hours(1),
                                  now_ + hours(24 * 365));
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_cert_ = std::move(*ca);
  }

  X509Ptr sign(EVP_PKEY* subject_key, const Identity& id) {
    auto cert = sign_workload_certificate(ca_cert_.get(), ca_key_.get(), subject_key, id,
                                          now_ - hours(1), now_ + hours(24));
    EXPECT_TRUE(cert.ok()) << cert.error().message;
    return cert.ok() ? std::move(*cert) : nullptr;
  }

  static bool extension_is_critical(X509* cert, int nid) {
    int index = X509_get_ext_by_NID(cert, nid, -1);
    return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
  }

  const system_clock::time_point now_ = system_clock::now();
  const Identity sleep_{"cluster.local", "default", "sleep"};
  EvpPkeyPtr ca_key_;
  X509Ptr ca_cert_;
};

TEST_F(X509Test, GeneratesP256Keys) {
  EvpPkeyPtr key = generate_p256_key();
  ASSERT_TRUE(key);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group, sizeof(group), nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
}

TEST_F(X509Test, CaCertificateHasCaExtensions) {
  X509* ca = ca_cert_.get();
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_TRUE(extension_is_critical(ca, NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(ca), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(ca), nullptr);
  EXPECT_EQ(X509_verify(ca, ca_key_.get()), 1) << "self-signed";
  EXPECT_EQ(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);
}

TEST_F(X509Test, WorkloadCertificateCarriesSpiffeIdInCriticalUriSan) {
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr cert = sign(key.get(), sleep_);
  ASSERT_TRUE(cert);

  EXPECT_EQ(uri_sans(cert.get()), std::vector<std::string>{sleep_.to_string()});
  EXPECT_TRUE(extension_is_critical(cert.get(), NID_subject_alt_name));
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(cert.get())), 0) << "empty subject";
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_TRUE(extension_is_critical(cert.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);

  auto id = identity_from_certificate(cert.get());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, sleep_);

  // Chains to the CA under OpenSSL's own verifier (which also honours the critical SAN).
  X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca_cert_.get());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr), 1);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

TEST_F(X509Test, SerialNumbersAreRandomPositiveAndTwentyBytes) {
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr a = sign(key.get(), sleep_);
  X509Ptr b = sign(key.get(), sleep_);
  ASSERT_TRUE(a && b);
  const ASN1_INTEGER* serial_a = X509_get0_serialNumber(a.get());
  EXPECT_NE(ASN1_INTEGER_cmp(serial_a, X509_get0_serialNumber(b.get())), 0);
  BignumPtr bn(ASN1_INTEGER_to_BN(serial_a, nullptr));
  EXPECT_FALSE(BN_is_negative(bn.get()));
  EXPECT_EQ(BN_num_bytes(bn.get()), 20);
}

TEST_F(X509Test, ValidityReadsBackToTheSecond) {
  EvpPkeyPtr key = generate_p256_key();
  auto not_before = system_clock::from_time_t(1700000000);
  auto not_after = not_before + hours(24);
  auto cert = sign_workload_certificate(ca_cert_.get(), ca_key_.get(), key.get(), sleep_,
                                        not_before, not_after);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  auto read_before = certificate_not_before(cert->get());
  auto read_after = certificate_not_after(cert->get());
  ASSERT_TRUE(read_before.ok() && read_after.ok());
  EXPECT_EQ(*read_before, not_before);
  EXPECT_EQ(*read_after, not_after);
}

TEST_F(X509Test, RefusesValidityThatEndsBeforeItStarts) {
  EvpPkeyPtr key = generate_p256_key();
  EXPECT_ERROR_CONTAINS(sign_workload_certificate(ca_cert_.get(), ca_key_.get(), key.get(), sleep_,
                                                  now_, now_ - hours(1)),
                        "not_after must be later than not_before");
}

TEST_F(X509Test, RefusesCaKeyThatDoesNotMatchCaCertificate) {
  EvpPkeyPtr key = generate_p256_key();
  EvpPkeyPtr other = generate_p256_key();
  EXPECT_ERROR_CONTAINS(sign_workload_certificate(ca_cert_.get(), other.get(), key.get(), sleep_,
                                                  now_, now_ + hours(1)),
                        "CA private key does not match the CA certificate");
}

TEST_F(X509Test, RefusesLeafAsIssuer) {
  EvpPkeyPtr leaf_key = generate_p256_key();
  X509Ptr leaf = sign(leaf_key.get(), sleep_);
  EvpPkeyPtr key = generate_p256_key();
  EXPECT_ERROR_CONTAINS(sign_workload_certificate(leaf.get(), leaf_key.get(), key.get(), sleep_,
                                                  now_, now_ + hours(1)),
                        "issuer certificate is not a CA");
}

TEST_F(X509Test, RefusesIdentityThatIsNotAValidSpiffeId) {
  EvpPkeyPtr key = generate_p256_key();
  EXPECT_ERROR_CONTAINS(
      sign_workload_certificate(ca_cert_.get(), ca_key_.get(), key.get(),
                                Identity("Bad Domain", "ns", "sa"), now_, now_ + hours(1)),
      "workload identity is not a valid SPIFFE ID");
}

TEST_F(X509Test, IdentityFromCertificateNamesTheFailedCheck) {
  EvpPkeyPtr key = generate_p256_key();
  auto no_san = sign_certificate_without_uri_san(ca_cert_.get(), ca_key_.get(), key.get(),
                                                 "legacy-client", now_, now_ + hours(1));
  ASSERT_TRUE(no_san.ok()) << no_san.error().message;
  EXPECT_ERROR_CONTAINS(identity_from_certificate(no_san->get()), "certificate has no URI SAN");

  auto https = sign_certificate_with_uri_san(ca_cert_.get(), ca_key_.get(), key.get(),
                                             "https://example.com/a,b", now_, now_ + hours(1));
  ASSERT_TRUE(https.ok()) << https.error().message;
  EXPECT_EQ(uri_sans(https->get()), std::vector<std::string>{"https://example.com/a,b"});
  EXPECT_ERROR_CONTAINS(identity_from_certificate(https->get()),
                        "URI SAN 'https://example.com/a,b' is not a SPIFFE ID: ");

  // Control characters from a peer must not reach a log line verbatim.
  auto hostile = sign_certificate_with_uri_san(ca_cert_.get(), ca_key_.get(), key.get(),
                                               "spiffe://td/ns/a\n/sa/b", now_, now_ + hours(1));
  ASSERT_TRUE(hostile.ok()) << hostile.error().message;
  EXPECT_ERROR_CONTAINS(identity_from_certificate(hostile->get()),
                        "URI SAN 'spiffe://td/ns/a\\x0a/sa/b' is not a SPIFFE ID");
}

TEST_F(X509Test, CertificatePemRoundTrips) {
  std::string pem = certificate_to_pem(ca_cert_.get());
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  auto back = certificate_from_pem(pem);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(X509_cmp(back->get(), ca_cert_.get()), 0);
}

TEST_F(X509Test, PrivateKeyPemRoundTrips) {
  std::string pem = private_key_to_pem(ca_key_.get());
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  auto back = private_key_from_pem(pem);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(EVP_PKEY_eq(back->get(), ca_key_.get()), 1);
}

TEST_F(X509Test, ReadsCertificateChainsInOrder) {
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr leaf = sign(key.get(), sleep_);
  std::string chain = certificate_to_pem(leaf.get()) + certificate_to_pem(ca_cert_.get());
  auto certs = certificates_from_pem(chain);
  ASSERT_TRUE(certs.ok()) << certs.error().message;
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(X509_cmp((*certs)[0].get(), leaf.get()), 0);
  EXPECT_EQ(X509_cmp((*certs)[1].get(), ca_cert_.get()), 0);
  EXPECT_ERROR_CONTAINS(certificate_from_pem(chain), "expected one PEM certificate, found 2");
}

TEST_F(X509Test, RefusesPemWithoutCertificates) {
  EXPECT_ERROR_CONTAINS(certificates_from_pem(""), "no PEM certificate found");
  EXPECT_ERROR_CONTAINS(certificates_from_pem("hello"), "no PEM certificate found");
  std::string good = certificate_to_pem(ca_cert_.get());
  std::string corrupt = good + "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
  EXPECT_ERROR_CONTAINS(certificates_from_pem(corrupt), "PEM certificate 2 is malformed");
}

TEST_F(X509Test, RefusesEncryptedOrMissingPrivateKeyWithoutPrompting) {
  EXPECT_ERROR_CONTAINS(private_key_from_pem("not a key"), "no usable PEM private key found");

  BioPtr bio(BIO_new(BIO_s_mem()));
  static const char kPassphrase[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), ca_key_.get(), EVP_aes_256_cbc(), kPassphrase,
                                          sizeof(kPassphrase) - 1, nullptr, nullptr),
            1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  // Would block on a terminal prompt if the passphrase callback were left to OpenSSL's default.
  EXPECT_ERROR_CONTAINS(private_key_from_pem(std::string_view(data, static_cast<size_t>(size))),
                        "encrypted keys are not supported");
}

class PrivateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "ambit-x509-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static mode_t mode_of(const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
  }

  std::filesystem::path dir_;
};

TEST_F(PrivateFileTest, WritesKeyWithMode0600) {
  auto path = dir_ / "key.pem";
  ASSERT_TRUE(write_private_file(path, "KEY MATERIAL").ok());
  EXPECT_EQ(mode_of(path), 0600u);
  auto read = read_pem_file(path);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, "KEY MATERIAL");
}

TEST_F(PrivateFileTest, ReplacingAWorldReadableFileLeavesIt0600AndNoTemporaries) {
  auto path = dir_ / "key.pem";
  std::ofstream(path) << "old";
  std::filesystem::permissions(path, std::filesystem::perms(0644));
  ASSERT_TRUE(write_private_file(path, "new").ok());
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(*read_pem_file(path), "new");
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(PrivateFileTest, ErrorsNameThePath) {
  auto missing = dir_ / "no-such-dir" / "key.pem";
  EXPECT_ERROR_CONTAINS(write_private_file(missing, "x"), "cannot create a temporary file for");
  EXPECT_ERROR_CONTAINS(read_pem_file(missing), "cannot open '" + missing.string());
}

}  // namespace
}  // namespace ambit
