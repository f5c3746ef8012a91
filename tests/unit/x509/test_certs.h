#pragma once
// Test-only certificate factory on raw OpenSSL calls, independent of x509::build_tbs so these
// tests check the parser against an encoder it does not share code with. Also small helpers
// to run the `openssl` command-line tool in a temporary directory.

#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"

// Specs and options are written with designated initializers naming only the fields a test
// cares about; the others keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace certward::x509::testing {

// 2025-01-02T03:04:05Z, and a year later.
constexpr std::time_t kT0 = 1735787045;
constexpr std::time_t kDay = 24 * 3600;
constexpr std::time_t kT1 = kT0 + 365 * kDay;

struct CertSpec {
  std::string subject = "/CN=test.example";  // OpenSSL slash form
  std::string issuer_name;                   // only for self-issued specs; empty = subject
  long serial = 1;
  std::time_t not_before = kT0;
  std::time_t not_after = kT1;
  // Extensions in OpenSSL config syntax, added in this order ("critical,CA:TRUE").
  std::vector<std::pair<int, std::string>> extensions;
  // Extensions given as (dotted OID, DER value), added after `extensions`; for unknown or
  // deliberately broken ones.
  std::vector<std::pair<std::string, Bytes>> raw_extensions;
  int version = X509_VERSION_3;
};

inline crypto::PrivateKey test_key(crypto::KeyType type = crypto::KeyType::kEcP256) {
  auto key = crypto::generate_key(type);
  if (!key) std::abort();
  return std::move(*key);
}

inline void add_name(X509_NAME* name, const std::string& slash_form) {
  std::stringstream in(slash_form.substr(1));
  std::string part;
  while (std::getline(in, part, '/')) {
    const auto eq = part.find('=');
    const std::string value = part.substr(eq + 1);
    X509_NAME_add_entry_by_txt(name, part.substr(0, eq).c_str(), MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  }
}

// Builds and signs one certificate. `issuer` null means self-signed with `issuer_key` (which
// must then be the subject key).
inline crypto::X509Ptr make_x509(const CertSpec& spec, const EVP_PKEY* subject_key,
                                 const X509* issuer, const EVP_PKEY* issuer_key) {
  crypto::X509Ptr x(X509_new());
  X509_set_version(x.get(), spec.version);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), spec.serial);
  add_name(X509_get_subject_name(x.get()), spec.subject);
  if (issuer) {
    X509_set_issuer_name(x.get(), X509_get_subject_name(issuer));
  } else {
    add_name(X509_get_issuer_name(x.get()),
             spec.issuer_name.empty() ? spec.subject : spec.issuer_name);
  }
  ASN1_TIME_set(X509_getm_notBefore(x.get()), spec.not_before);
  ASN1_TIME_set(X509_getm_notAfter(x.get()), spec.not_after);
  X509_set_pubkey(x.get(), const_cast<EVP_PKEY*>(subject_key));
  // An empty config database: some extension parsers insist on having one.
  crypto::Handle<CONF, NCONF_free> conf(NCONF_new(nullptr));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(issuer ? issuer : x.get()), x.get(), nullptr, nullptr, 0);
  X509V3_set_nconf(&ctx, conf.get());  // after set_ctx, which resets it
  for (const auto& [nid, value] : spec.extensions) {
    crypto::X509ExtPtr ext(X509V3_EXT_nconf_nid(conf.get(), &ctx, nid, value.c_str()));
    if (!ext) {
      std::fprintf(stderr, "bad test extension %d=%s: %s\n", nid, value.c_str(),
                   crypto::openssl_error_string().c_str());
      std::abort();
    }
    X509_add_ext(x.get(), ext.get(), -1);
  }
  for (const auto& [oid, value] : spec.raw_extensions) {
    crypto::Handle<ASN1_OBJECT, ASN1_OBJECT_free> obj(OBJ_txt2obj(oid.c_str(), 1));
    crypto::Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size()));
    crypto::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, os.get()));
    X509_add_ext(x.get(), ext.get(), -1);
  }
  X509_sign(x.get(), const_cast<EVP_PKEY*>(issuer_key), crypto::digest_for(issuer_key));
  return x;
}

inline Bytes der_of(const X509* x) {
  const int n = i2d_X509(x, nullptr);
  Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_X509(x, &p);
  return out;
}

inline Certificate make_cert(const CertSpec& spec, const EVP_PKEY* subject_key,
                             const Certificate* issuer, const EVP_PKEY* issuer_key) {
  auto cert = Certificate::from_der(
      der_of(make_x509(spec, subject_key, issuer ? issuer->get() : nullptr, issuer_key).get()));
  if (!cert) {
    std::fprintf(stderr, "test certificate does not parse: %s\n", cert.error().message.c_str());
    std::abort();
  }
  return *cert;
}

inline std::vector<std::pair<int, std::string>> ca_extensions(const std::string& bc) {
  return {{NID_basic_constraints, bc},
          {NID_key_usage, "critical,keyCertSign,cRLSign"},
          {NID_subject_key_identifier, "hash"},
          {NID_authority_key_identifier, "keyid:always"}};
}

inline std::vector<std::pair<int, std::string>> leaf_extensions(const std::string& san) {
  return {{NID_basic_constraints, "critical,CA:FALSE"},
          {NID_key_usage, "critical,digitalSignature"},
          {NID_ext_key_usage, "serverAuth"},
          {NID_subject_alt_name, san},
          {NID_subject_key_identifier, "hash"},
          {NID_authority_key_identifier, "keyid:always"}};
}

// A three-level PKI: root -> intermediate (pathlen 0) -> leaf "leaf.example".
struct Pki {
  crypto::PrivateKey root_key = test_key();
  crypto::PrivateKey int_key = test_key();
  crypto::PrivateKey leaf_key = test_key();
  Certificate root;
  Certificate intermediate;
  Certificate leaf;

  explicit Pki(const std::string& root_bc = "critical,CA:TRUE", std::string root_cn = "Test Root")
      : root(make_cert({.subject = "/O=Certward Test/CN=" + root_cn,
                        .serial = 100,
                        .not_before = kT0 - 30 * kDay,
                        .not_after = kT0 + 3650 * kDay,
                        .extensions = ca_extensions(root_bc)},
                       root_key.get(), nullptr, root_key.get())),
        intermediate(make_cert({.subject = "/O=Certward Test/CN=Test Intermediate",
                                .serial = 200,
                                .not_before = kT0 - 10 * kDay,
                                .not_after = kT0 + 1000 * kDay,
                                .extensions = ca_extensions("critical,CA:TRUE,pathlen:0")},
                               int_key.get(), &root, root_key.get())),
        leaf(make_cert({.subject = "/CN=leaf.example",
                        .serial = 300,
                        .not_before = kT0,
                        .not_after = kT0 + 90 * kDay,
                        .extensions = leaf_extensions("DNS:leaf.example,IP:192.0.2.10")},
                       leaf_key.get(), &intermediate, int_key.get())) {}
};

// A private temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "certward-x509-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }

  void write(const std::string& name, std::span<const std::uint8_t> data) const {
    std::ofstream out(file(name), std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  }
  void write(const std::string& name, std::string_view text) const { write(name, as_bytes(text)); }

  Bytes read(const std::string& name) const {
    std::ifstream in(file(name), std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Runs a shell command in this directory; returns its exit status (0 = success).
  int run(const std::string& command) const {
    const std::string full = "cd '" + path_.string() + "' && " + command + " >/dev/null 2>&1";
    return std::system(full.c_str());
  }

  enum class Stderr : std::uint8_t { kDiscard, kCapture };
  // Runs a shell command in this directory and returns its standard output (and its standard
  // error, for tools like `openssl pkcs12 -info` that report there).
  std::string output(const std::string& command, Stderr err = Stderr::kDiscard) const {
    const std::string full = "cd '" + path_.string() + "' && " + command +
                             (err == Stderr::kCapture ? " 2>&1" : " 2>/dev/null");
    std::string out;
    if (FILE* pipe = popen(full.c_str(), "r")) {
      char buf[4096];
      std::size_t n = 0;
      while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
      pclose(pipe);
    }
    return out;
  }

 private:
  std::filesystem::path path_;
};

inline SysTime sys_time(std::time_t t) { return from_unix(static_cast<std::int64_t>(t)); }

}  // namespace certward::x509::testing
