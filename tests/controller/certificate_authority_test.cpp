#include "controller/ca/certificate_authority.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/x509.h"
#include "tests/core/error_assertions.h"

namespace ambit::controller {
namespace {

namespace fs = std::filesystem;

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("ambit-ca-test-{}-{}", getpid(), counter_++);
    fs::remove_all(dir_);
    auto ca = CertificateAuthority::load_or_create(dir_, {});
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = std::move(*ca);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static int mode_of(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
  }

  // A CSR signed by `key` with one URI SAN.
  static std::string csr_with_key(EVP_PKEY* key, const std::string& uri) {
    X509_REQ* req = X509_REQ_new();
    X509_REQ_set_version(req, 0);
    X509_REQ_set_pubkey(req, key);
    STACK_OF(X509_EXTENSION)* exts = nullptr;
    GENERAL_NAMES* names = GENERAL_NAMES_new();
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    ASN1_STRING_set(value, uri.data(), static_cast<int>(uri.size()));
    GENERAL_NAME_set0_value(name, GEN_URI, value);
    sk_GENERAL_NAME_push(names, name);
    X509V3_add1_i2d(&exts, NID_subject_alt_name, names, 1, X509V3_ADD_DEFAULT);
    X509_REQ_add_extensions(req, exts);
    X509_REQ_sign(req, key, EVP_sha256());
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(bio, req);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(names);
    X509_REQ_free(req);
    return pem;
  }

  static inline int counter_ = 0;
  fs::path dir_;
  std::unique_ptr<CertificateAuthority> ca_;
  const Identity sleep_{"cluster.local", "default", "sleep"};
};

TEST_F(CertificateAuthorityTest, GeneratesRootOnceAndReusesIt) {
  EXPECT_TRUE(ca_->generated());
  EXPECT_EQ(mode_of(dir_ / "root-key.pem"), 0600);
  std::string root = ca_->root_pem();
  auto again = CertificateAuthority::load_or_create(dir_, {});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE((*again)->generated());
  EXPECT_EQ((*again)->root_pem(), root);
}

TEST_F(CertificateAuthorityTest, RefusesWorldReadableKey) {
  ::chmod((dir_ / "root-key.pem").c_str(), 0644);
  auto ca = CertificateAuthority::load_or_create(dir_, {});
  EXPECT_ERROR_CONTAINS(ca, "accessible to all users");
}

TEST_F(CertificateAuthorityTest, SignsGoodCsr) {
  auto csr = make_csr(sleep_.to_string());
  ASSERT_TRUE(csr.ok()) << csr.error().message;
  auto chain = ca_->sign(csr->csr_pem, sleep_, std::chrono::hours(24));
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  auto leaf = certificate_from_pem(*chain);
  ASSERT_TRUE(leaf.ok()) << leaf.error().message;
  auto id = identity_from_certificate(leaf->get());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, sleep_);
  EXPECT_EQ(X509_verify(leaf->get(), X509_get0_pubkey(ca_->root())), 1);
  auto not_after = certificate_not_after(leaf->get());
  auto left = *not_after - std::chrono::system_clock::now();
  EXPECT_GT(left, std::chrono::hours(23));
  EXPECT_LE(left, std::chrono::hours(24));
}

TEST_F(CertificateAuthorityTest, RefusesWrongSpiffeId) {
  auto csr = make_csr("spiffe://cluster.local/ns/default/sa/other");
  ASSERT_TRUE(csr.ok());
  EXPECT_ERROR_CONTAINS(ca_->sign(csr->csr_pem, sleep_, std::chrono::hours(1)),
                        "SAN must be exactly the URI spiffe://cluster.local/ns/default/sa/sleep");
}

TEST_F(CertificateAuthorityTest, RefusesWrongKeyType) {
  EvpPkeyPtr rsa(EVP_RSA_gen(2048));
  ASSERT_TRUE(rsa);
  EXPECT_ERROR_CONTAINS(ca_->sign(csr_with_key(rsa.get(), sleep_.to_string()), sleep_,
                                  std::chrono::hours(1)),
                        "only ECDSA P-256");
  EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_TRUE(p384);
  EXPECT_ERROR_CONTAINS(ca_->sign(csr_with_key(p384.get(), sleep_.to_string()), sleep_,
                                  std::chrono::hours(1)),
                        "only ECDSA P-256");
}

TEST_F(CertificateAuthorityTest, RefusesBadSignature) {
  auto csr = make_csr(sleep_.to_string());
  ASSERT_TRUE(csr.ok());
  BIO* in = BIO_new_mem_buf(csr->csr_pem.data(), static_cast<int>(csr->csr_pem.size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  ASSERT_NE(req, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req, &der);
  X509_REQ_free(req);
  der[len - 1] ^= 0x01;  // the last byte belongs to the signature's s value
  const unsigned char* p = der;
  X509_REQ* bad = d2i_X509_REQ(nullptr, &p, len);
  OPENSSL_free(der);
  ASSERT_NE(bad, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(out, bad);
  X509_REQ_free(bad);
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(out);
  EXPECT_ERROR_CONTAINS(ca_->sign(pem, sleep_, std::chrono::hours(1)), "signature does not verify");
}

TEST_F(CertificateAuthorityTest, RefusesGarbage) {
  EXPECT_ERROR_CONTAINS(ca_->sign("not a csr", sleep_, std::chrono::hours(1)),
                        "not a PEM certificate request");
}

TEST_F(CertificateAuthorityTest, NodeCredentialsCarryNodeIdentity) {
  auto creds = ca_->issue_node_credentials("node-1");
  ASSERT_TRUE(creds.ok()) << creds.error().message;
  auto cert = certificate_from_pem(creds->certificate_chain_pem);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(uri_sans(cert->get()),
            std::vector<std::string>{"spiffe://cluster.local/ambit/node/node-1"});
  EXPECT_ERROR_CONTAINS(ca_->issue_node_credentials("../etc"), "not usable in a SPIFFE ID");
}

TEST_F(CertificateAuthorityTest, UsesOperatorIntermediate) {
  // An operator's root with an intermediate for the mesh.
  EvpPkeyPtr root_key = generate_p256_key();
  auto now = std::chrono::system_clock::now();
  auto root = make_ca_certificate(root_key.get(), "org root", now - std::chrono::hours(1),
                                  now + std::chrono::hours(24 * 365));
  EvpPkeyPtr int_key = generate_p256_key();
  auto inter = sign_intermediate_ca_certificate(root->get(), root_key.get(), int_key.get(), "mesh",
                                                now - std::chrono::hours(1),
                                                now + std::chrono::hours(24 * 30));
  fs::path d = dir_ / "plugged";
  fs::create_directories(d);
  ASSERT_TRUE(write_private_file(d / "ca-key.pem", private_key_to_pem(int_key.get())).ok());
  ASSERT_TRUE(write_private_file(d / "ca-cert.pem", certificate_to_pem(inter->get())).ok());
  ASSERT_TRUE(write_private_file(d / "root-cert.pem", certificate_to_pem(root->get())).ok());
  auto ca = CertificateAuthority::load_or_create(d, {});
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  auto csr = make_csr(sleep_.to_string());
  auto chain = (*ca)->sign(csr->csr_pem, sleep_, std::chrono::hours(24));
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  auto certs = certificates_from_pem(*chain);
  ASSERT_EQ(certs->size(), 2u) << "leaf + intermediate";
  EXPECT_EQ(X509_verify((*certs)[0].get(), int_key.get()), 1);
}

}  // namespace
}  // namespace ambit::controller
