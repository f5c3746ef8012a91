#include "ca/master_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/file.h"

namespace certward::ca {
namespace {

Result<crypto::SecretBytes> key_from_base64_text(std::string_view text, std::string_view source) {
  auto raw = from_base64(text);
  // Adopted, not copied: the decoded key lives only in SecretBytes from here.
  crypto::SecretBytes key = raw ? crypto::SecretBytes(std::move(*raw)) : crypto::SecretBytes();
  if (!raw || key.size() != crypto::KeyWrapper::kKeySize) {
    return fail(ErrorCode::kMalformed,
                std::string(source) + " must hold the base64 encoding of exactly 32 bytes");
  }
  return key;
}

bool key_in_env(const std::map<std::string, std::string>& env) {
  auto it = env.find("CERTWARD_MASTER_KEY");
  return it != env.end() && !it->second.empty();
}

Result<crypto::SecretBytes> read_key_bytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return fail(ErrorCode::kUnavailable, "cannot open " + path + ": " + std::strerror(errno));
  if (Status mine = check_private_file(fd, "master key file " + path); !mine) {
    ::close(fd);
    return std::unexpected(mine.error());
  }
  crypto::SecretBytes buf(256);
  const ssize_t n = ::read(fd, buf.data(), buf.size());
  ::close(fd);
  if (n < 0) return fail(ErrorCode::kUnavailable, "cannot read " + path);
  buf.truncate(static_cast<std::size_t>(n));
  return key_from_base64_text(as_chars(buf.span()), "master key file " + path);
}

Result<crypto::KeyWrapper> read_key_file(const std::string& path) {
  CW_ASSIGN_OR_RETURN(crypto::SecretBytes key, read_key_bytes(path));
  return crypto::KeyWrapper::create(std::move(key));
}

crypto::SecretBytes base64_line(const crypto::SecretBytes& key) {
  std::string b64 = to_base64(key.span());
  crypto::SecretBytes text(b64.size() + 1);
  std::copy(b64.begin(), b64.end(), text.data());
  text.data()[b64.size()] = '\n';
  crypto::cleanse(b64);
  return text;
}

Result<crypto::KeyWrapper> create_key_file(const std::string& path) {
  crypto::SecretBytes key(crypto::KeyWrapper::kKeySize);
  crypto::random_bytes(std::span<std::uint8_t>(key.data(), key.size()));
  const crypto::SecretBytes text = base64_line(key);
  // Exclusive: two processes initialising at once must not both write a different key; and
  // whole or not at all: a crash must not leave a truncated key that seals nothing.
  auto created = create_file_exclusive(path, text.chars(), 0600);
  if (!created) {
    if (created.error().code == ErrorCode::kConflict) return read_key_file(path);
    return std::unexpected(created.error());
  }
  return crypto::KeyWrapper::create(std::move(key));
}

}  // namespace

Result<crypto::KeyWrapper> load_master_key(const CaSettings& settings,
                                           const std::map<std::string, std::string>& env,
                                           MasterKeyMode mode) {
  if (mode == MasterKeyMode::kCreateIfMissing && !key_in_env(env) &&
      ::access(settings.master_key_file.c_str(), F_OK) != 0) {
    return create_key_file(settings.master_key_file);
  }
  CW_ASSIGN_OR_RETURN(crypto::SecretBytes key, read_master_key(settings, env));
  return crypto::KeyWrapper::create(std::move(key));
}

Result<crypto::SecretBytes> read_master_key(const CaSettings& settings,
                                            const std::map<std::string, std::string>& env) {
  if (key_in_env(env))
    return key_from_base64_text(env.at("CERTWARD_MASTER_KEY"), "CERTWARD_MASTER_KEY");
  const std::string& path = settings.master_key_file;
  if (::access(path.c_str(), F_OK) != 0) {
    return fail(ErrorCode::kNotFound,
                "no master key at " + path + " (run 'certward init', or set CERTWARD_MASTER_KEY)");
  }
  return read_key_bytes(path);
}

std::string master_key_source(const CaSettings& settings,
                              const std::map<std::string, std::string>& env) {
  return key_in_env(env) ? "CERTWARD_MASTER_KEY" : settings.master_key_file;
}

Status write_master_key_file(const std::string& path, const crypto::SecretBytes& key) {
  if (key.size() != crypto::KeyWrapper::kKeySize) {
    return fail(ErrorCode::kInvalidArgument, "a master key is 32 bytes");
  }
  const crypto::SecretBytes text = base64_line(key);
  return create_file_exclusive(path, text.chars(), 0600);
}

}  // namespace certward::ca
