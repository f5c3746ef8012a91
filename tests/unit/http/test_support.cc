#include "unit/http/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "crypto/handles.h"

namespace certward::http::testing {

RawClient::RawClient(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  timeval tv{};
  tv.tv_sec = 5;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (!connected_) connect_errno_ = errno;
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawClient::fill() {
  std::array<char, 16384> chunk;
  ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
  if (n <= 0) return false;
  buffer_.append(chunk.data(), static_cast<std::size_t>(n));
  return true;
}

std::optional<Reply> RawClient::read_reply() {
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  std::string head = buffer_.substr(0, end);
  Reply reply;
  std::size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  reply.version = status_line.substr(0, status_line.find(' '));
  reply.status = std::atoi(status_line.c_str() + status_line.find(' ') + 1);
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    std::size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t value_start = line.find_first_not_of(' ', colon + 1);
    reply.headers.emplace(name, value_start == std::string::npos ? "" : line.substr(value_start));
    pos = next + 2;
  }
  std::size_t length = static_cast<std::size_t>(std::atoll(reply.header("content-length").c_str()));
  std::size_t body_start = end + 4;
  while (buffer_.size() < body_start + length) {
    if (!fill()) return std::nullopt;
  }
  reply.body = buffer_.substr(body_start, length);
  buffer_.erase(0, body_start + length);
  return reply;
}

bool RawClient::wait_closed() {
  for (;;) {
    std::array<char, 4096> chunk;
    ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

std::optional<Reply> fetch(std::uint16_t port, std::string_view raw_request) {
  RawClient client(port);
  if (!client.connected() || !client.send(raw_request)) return std::nullopt;
  return client.read_reply();
}

std::string get_request(std::string_view target, std::string_view extra_headers) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" +
         std::string(extra_headers) + "\r\n";
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> chunk;
  std::size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0)
    result.output.append(chunk.data(), n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

namespace {

using KeyPtr = crypto::EvpPkeyPtr;
using CertPtr = crypto::X509Ptr;
using BioPtr = crypto::BioPtr;

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("openssl: ") + what);
}

std::string bio_text(BIO* bio) {
  std::string out(static_cast<std::size_t>(BIO_pending(bio)), '\0');
  require(BIO_read(bio, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size()),
          "BIO_read");
  return out;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  const crypto::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  require(ext != nullptr, "X509V3_EXT_conf_nid");
  require(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

KeyPtr load_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

CertPtr load_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return CertPtr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

Credential make_credential(std::string_view cn, CertKind kind, const Credential* issuer) {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  require(key != nullptr, "keygen");
  CertPtr cert(X509_new());
  static long serial = 1000;
  require(X509_set_version(cert.get(), 2) == 1, "version");
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  require(X509_set_pubkey(cert.get(), key.get()) == 1, "pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn_text(cn);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn_text.c_str()), -1, -1, 0);
  KeyPtr issuer_key = issuer ? load_key(issuer->key_pem) : nullptr;
  CertPtr issuer_cert = issuer ? load_cert(issuer->cert_pem) : nullptr;
  X509* signer_cert = issuer ? issuer_cert.get() : cert.get();
  EVP_PKEY* signer_key = issuer ? issuer_key.get() : key.get();
  require(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert)) == 1, "issuer");
  add_extension(cert.get(), signer_cert, NID_subject_key_identifier, "hash");
  if (issuer) add_extension(cert.get(), signer_cert, NID_authority_key_identifier, "keyid");
  switch (kind) {
    case CertKind::kCa:
      add_extension(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:TRUE");
      add_extension(cert.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
      break;
    case CertKind::kServer:
      add_extension(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE");
      add_extension(cert.get(), signer_cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
      add_extension(cert.get(), signer_cert, NID_ext_key_usage, "serverAuth");
      break;
    case CertKind::kClient:
      add_extension(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE");
      add_extension(cert.get(), signer_cert, NID_ext_key_usage, "clientAuth");
      break;
  }
  require(X509_sign(cert.get(), signer_key, EVP_sha256()) > 0, "sign");

  Credential out;
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  require(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                   nullptr) == 1,
          "write key");
  out.key_pem = bio_text(key_bio.get());
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  require(PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1, "write cert");
  out.cert_pem = bio_text(cert_bio.get());
  int len = i2d_X509(cert.get(), nullptr);
  out.cert_der.resize(static_cast<std::size_t>(len));
  unsigned char* p = out.cert_der.data();
  i2d_X509(cert.get(), &p);
  return out;
}

std::string make_temp_dir() {
  std::string pattern = "/tmp/certward-http-test-XXXXXX";
  require(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  return pattern;
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& data) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << data;
  return path;
}

}  // namespace certward::http::testing
