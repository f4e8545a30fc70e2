#include "common/grpc/tls.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/client_interceptor.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/flags/flags.h"

namespace nsq::grpcutil {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* c) const { X509_free(c); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

absl::StatusOr<std::string> ReadFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  return out.str();
}

std::unique_ptr<BIO, BioFree> MemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM text, or null.
std::unique_ptr<X509, X509Free> FirstCert(const std::string& pem) {
  auto bio = MemBio(pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

// The certificate chain and key, read and checked as a pair.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

absl::StatusOr<KeyPair> LoadKeyPair(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a TLS certificate and its key must be given together (certificate \"", cert_file,
        "\", key \"", key_file, "\")"));
  }
  KeyPair pair;
  absl::StatusOr<std::string> cert = ReadFile("TLS certificate", cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile("TLS key", key_file);
  if (!key.ok()) return key.status();
  auto x509 = FirstCert(*cert);
  if (!x509) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS certificate ", cert_file, " holds no PEM certificate"));
  }
  auto bio = MemBio(*key);
  std::unique_ptr<EVP_PKEY, KeyFree> pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!pkey) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS key ", key_file, " holds no PEM private key"));
  }
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("TLS key ", key_file,
                                                   " does not match the certificate ", cert_file));
  }
  pair.cert_pem = *std::move(cert);
  pair.key_pem = *std::move(key);
  return pair;
}

absl::StatusOr<std::string> LoadCa(const std::string& what, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(what, path);
  if (!pem.ok()) return pem.status();
  if (!FirstCert(*pem)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " holds no PEM certificate"));
  }
  return pem;
}

// Adds "authorization: Bearer <secret>" to the initial metadata of every call.
class AuthInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit AuthInterceptor(const std::string* value) : value_(value) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({kAuthMetadataKey, *value_});
    }
    methods->Proceed();
  }

 private:
  const std::string* const value_;  // owned by the factory, which outlives the channel's calls
};

class AuthInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit AuthInterceptorFactory(const std::string& secret)
      : value_(absl::StrCat(kAuthBearerPrefix, secret)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new AuthInterceptor(&value_);
  }

 private:
  const std::string value_;
};

}  // namespace

absl::Status ValidateServerTls(const ServerTlsOptions& options) {
  return MakeServerCredentials(options).status();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options) {
  if (!options.enabled()) {
    if (!options.client_ca_file.empty() || options.require_client_cert) {
      return absl::InvalidArgumentError(
          "client certificates on gRPC need TLS: a certificate and key to serve it with");
    }
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<KeyPair> pair = LoadKeyPair(options.cert_file, options.key_file);
  if (!pair.ok()) return pair.status();
  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  std::string roots;
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = LoadCa("TLS client CA file", options.client_ca_file);
    if (!ca.ok()) return ca.status();
    roots = *std::move(ca);
    request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else if (options.require_client_cert) {
    request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY;
  }
  grpc::SslServerCredentialsOptions ssl(request);
  ssl.pem_root_certs = std::move(roots);
  ssl.pem_key_cert_pairs.push_back({pair->key_pem, pair->cert_pem});
  return grpc::SslServerCredentials(ssl);
}

void RegisterClientFlags(flags::FlagSet* f, ClientOptions* o, const std::string& prefix,
                         bool auth_secret) {
  f->AddBool(prefix + "tls", &o->tls,
             "use TLS toward the gRPC server, verified with the system's roots (implied by the other --" +
                 prefix + "tls-* flags)");
  f->AddString(prefix + "tls-ca", &o->ca_file,
               "PEM file of the CA certificates that verify the gRPC server (enables TLS)");
  f->AddString(prefix + "tls-cert", &o->cert_file,
               "PEM client certificate presented to a gRPC server that requires one (enables TLS)");
  f->AddString(prefix + "tls-key", &o->key_file, "PEM private key of --" + prefix + "tls-cert");
  f->AddString(prefix + "tls-server-name", &o->server_name,
               "name expected in the gRPC server's certificate instead of the address's host (enables TLS)");
  if (auth_secret) {
    f->AddString(prefix + "auth-secret", &o->auth_secret,
                 "secret sent on every gRPC call as 'authorization: Bearer <secret>' (brokers with --auth-http-address)");
  }
}

absl::Status ValidateClientOptions(const ClientOptions& options) {
  return MakeChannelCredentials(options).status();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientOptions& options) {
  if (!options.UseTls()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    absl::StatusOr<std::string> ca = LoadCa("TLS CA file", options.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    absl::StatusOr<KeyPair> pair = LoadKeyPair(options.cert_file, options.key_file);
    if (!pair.ok()) return pair.status();
    ssl.pem_cert_chain = std::move(pair->cert_pem);
    ssl.pem_private_key = std::move(pair->key_pem);
  }
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> CreateChannel(
    const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const ClientOptions& options, const grpc::ChannelArguments& args) {
  grpc::ChannelArguments channel_args = args;
  if (options.UseTls() && !options.server_name.empty()) {
    channel_args.SetSslTargetNameOverride(options.server_name);
  }
  if (options.auth_secret.empty()) {
    return grpc::CreateCustomChannel(address, credentials, channel_args);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<AuthInterceptorFactory>(options.auth_secret));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, credentials, channel_args,
                                                                 std::move(interceptors));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ClientOptions& options,
                                                           const grpc::ChannelArguments& args) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  return CreateChannel(address, *credentials, options, args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ClientOptions& options) {
  return MakeChannel(address, options, grpc::ChannelArguments());
}

std::string_view SecretFromAuthMetadata(std::string_view value) {
  constexpr std::string_view kPrefix = kAuthBearerPrefix;
  if (value.substr(0, kPrefix.size()) != kPrefix) return {};
  return value.substr(kPrefix.size());
}

}  // namespace nsq::grpcutil
