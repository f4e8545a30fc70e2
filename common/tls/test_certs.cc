#include "common/tls/test_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"

namespace nsq::tls::testing {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Signs a certificate for `cn` with `key`; self-signed when `issuer` is null.
Cert MakeCert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
              long serial, bool ca, const char* san) {
  Cert cert(X509_new());
  if (!cert) return nullptr;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (!AddExtension(cert.get(), signer, NID_basic_constraints,
                    ca ? "critical,CA:TRUE" : "critical,CA:FALSE")) {
    return nullptr;
  }
  if (ca && !AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign")) {
    return nullptr;
  }
  if (san != nullptr && !AddExtension(cert.get(), signer, NID_subject_alt_name, san)) {
    return nullptr;
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

bool WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = cert ? PEM_write_X509(f, cert) == 1
                       : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

absl::StatusOr<TestCerts> WriteTestCerts(const std::string& dir) {
  Key ca_key(EVP_EC_gen("P-256"));
  Key server_key(EVP_EC_gen("P-256"));
  Key client_key(EVP_EC_gen("P-256"));
  Key untrusted_key(EVP_EC_gen("P-256"));
  if (!ca_key || !server_key || !client_key || !untrusted_key) {
    return absl::InternalError("cannot generate test keys");
  }
  Cert ca = MakeCert("nsq-cpp test CA", ca_key.get(), nullptr, nullptr, 1, true, nullptr);
  if (!ca) return absl::InternalError("cannot make the test CA");
  Cert server = MakeCert("localhost", server_key.get(), ca.get(), ca_key.get(), 2, false,
                         "IP:127.0.0.1,DNS:localhost");
  Cert client = MakeCert("test-client", client_key.get(), ca.get(), ca_key.get(), 3, false,
                         nullptr);
  Cert untrusted = MakeCert("untrusted-client", untrusted_key.get(), nullptr, nullptr, 4,
                            false, nullptr);
  if (!server || !client || !untrusted) return absl::InternalError("cannot make test certificates");

  TestCerts out;
  out.ca_file = absl::StrCat(dir, "/ca.pem");
  out.server_cert_file = absl::StrCat(dir, "/server.pem");
  out.server_key_file = absl::StrCat(dir, "/server.key");
  out.client_cert_file = absl::StrCat(dir, "/client.pem");
  out.client_key_file = absl::StrCat(dir, "/client.key");
  out.untrusted_cert_file = absl::StrCat(dir, "/untrusted.pem");
  out.untrusted_key_file = absl::StrCat(dir, "/untrusted.key");
  if (!WritePem(out.ca_file, ca.get(), nullptr) ||
      !WritePem(out.server_cert_file, server.get(), nullptr) ||
      !WritePem(out.server_key_file, nullptr, server_key.get()) ||
      !WritePem(out.client_cert_file, client.get(), nullptr) ||
      !WritePem(out.client_key_file, nullptr, client_key.get()) ||
      !WritePem(out.untrusted_cert_file, untrusted.get(), nullptr) ||
      !WritePem(out.untrusted_key_file, nullptr, untrusted_key.get())) {
    return absl::InternalError(absl::StrCat("cannot write test certificates into ", dir));
  }
  return out;
}

}  // namespace nsq::tls::testing
