// What each output file holds, rendered once before anything is written, so that a failure to
// produce one file (a password file that is not private) changes nothing.

#include <fcntl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/file.h"
#include "lifecycle/deploy/internal.h"
#include "x509/bundle.h"

namespace certward::lifecycle::deploy::detail {
namespace {

constexpr mode_t kDefaultKeyMode = 0600;
constexpr mode_t kDefaultCertMode = 0644;
constexpr std::size_t kMaxPasswordFile = 1024;

// The issuers without the self-signed root: a root sent by a server is dead weight, and
// nginx's ssl_certificate and most "chain" files leave it out.
std::vector<x509::Certificate> issuers_without_root(const Material& m) {
  std::vector<x509::Certificate> out;
  for (const auto& c : m.chain) {
    const bool self_signed = c.info().self_issued && X509_verify(c.get(), c.public_key()) == 1;
    if (!self_signed) out.push_back(c);
  }
  return out;
}

// The password, the whole file less one trailing newline. The file must be this user's and
// closed to others: whoever could change it would choose the password of the key store.
Result<std::string> read_password(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return fail(ErrorCode::kNotFound,
                "cannot open pkcs12_password_file " + path + ": " + std::strerror(errno));
  }
  Status private_file = check_private_file(fd, "pkcs12_password_file " + path);
  std::string password;
  if (private_file) {
    char buf[kMaxPasswordFile + 1];
    std::size_t got = 0;
    while (got < sizeof buf) {
      const ssize_t n = ::read(fd, buf + got, sizeof buf - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    password.assign(buf, got);
    OPENSSL_cleanse(buf, sizeof buf);
  }
  ::close(fd);
  CW_RETURN_IF_ERROR(private_file);
  if (password.size() > kMaxPasswordFile) {
    crypto::cleanse(password);
    return fail(ErrorCode::kInvalidArgument, "pkcs12_password_file " + path + " is over 1 KiB");
  }
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    return fail(ErrorCode::kInvalidArgument, "pkcs12_password_file " + path + " is empty");
  }
  return password;
}

Result<std::string> pkcs12(const FileOutputs& files, const Material& m,
                           const std::vector<x509::Certificate>& issuers) {
  CW_ASSIGN_OR_RETURN(std::string password, read_password(*files.pkcs12_password_file));
  auto der =
      x509::make_pkcs12(m.key, m.certificate, issuers, password, m.certificate.info().subject_cn);
  crypto::cleanse(password);
  if (!der) return std::unexpected(der.error());
  return std::string(der->begin(), der->end());
}

}  // namespace

Result<std::vector<OutputFile>> render(const FileOutputs& files, const Material& m) {
  const mode_t key_mode = files.key_mode.value_or(kDefaultKeyMode);
  const mode_t cert_mode = files.cert_mode.value_or(kDefaultCertMode);
  const auto issuers = issuers_without_root(m);
  std::vector<OutputFile> out;
  if (files.key) {
    auto pem = m.key.to_pkcs8_pem();
    if (!pem) return std::unexpected(pem.error());
    out.push_back({*files.key, "key",
                   std::string(reinterpret_cast<const char*>(pem->data()), pem->size()), key_mode,
                   Sensitivity::kSecret});
  }
  if (files.certificate) {
    out.push_back(
        {*files.certificate, "certificate", m.certificate.pem(), cert_mode, Sensitivity::kPublic});
  }
  if (files.chain) {
    out.push_back({*files.chain, "chain", x509::to_pem(issuers), cert_mode, Sensitivity::kPublic});
  }
  if (files.fullchain) {
    out.push_back({*files.fullchain, "fullchain", m.certificate.pem() + x509::to_pem(issuers),
                   cert_mode, Sensitivity::kPublic});
  }
  if (files.pkcs12) {
    auto p12 = pkcs12(files, m, issuers);
    if (!p12) {
      cleanse(out);
      return std::unexpected(p12.error());
    }
    // Encrypted, but a key store all the same: the key's mode.
    out.push_back({*files.pkcs12, "pkcs12", std::move(*p12), key_mode, Sensitivity::kSecret});
  }
  return out;
}

void cleanse(std::vector<OutputFile>& files) {
  for (auto& f : files) {
    if (f.sensitivity == Sensitivity::kSecret) crypto::cleanse(f.data);
  }
}

}  // namespace certward::lifecycle::deploy::detail
