#include "discovery/net/system_trust.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/encoding.h"
#include "common/mutex.h"
#include "crypto/handles.h"

namespace certward::discovery::net {
namespace {

constexpr std::size_t kMaxBundleCertificates = 100'000;
constexpr std::size_t kMaxDirectoryEntries = 20'000;  // a directory of certificates, not a disk

// The element at p (its header and contents). With `enter`, p moves to its contents, else past it.
std::optional<std::span<const std::uint8_t>> next_element(const unsigned char*& p,
                                                          const unsigned char* end,
                                                          bool enter = false) {
  const unsigned char* contents = p;
  long length = 0;
  int tag = 0;
  int cls = 0;
  const int info = ASN1_get_object(&contents, &length, &tag, &cls, end - p);
  // 0x80: an error; 0x21: constructed with an indefinite length, which DER does not allow.
  if ((info & 0x80) != 0 || info == 0x21 || length < 0 || length > end - contents) {
    return std::nullopt;
  }
  const unsigned char* start = p;
  const unsigned char* element_end = contents + length;
  p = enter ? contents : element_end;
  return std::span<const std::uint8_t>(start, static_cast<std::size_t>(element_end - start));
}

}  // namespace

// tbsCertificate's [0] version, serial, signature algorithm, issuer, validity, then the subject.
std::optional<unsigned long> subject_name_hash(std::span<const std::uint8_t> der) {
  // What the walk and the decoders leave on OpenSSL's error queue is theirs, not the caller's.
  struct ErrorMark {
    ErrorMark() { ERR_set_mark(); }
    ~ErrorMark() { ERR_pop_to_mark(); }
    ErrorMark(const ErrorMark&) = delete;
    ErrorMark& operator=(const ErrorMark&) = delete;
  } mark;
  const unsigned char* p = der.data();
  const unsigned char* end = der.data() + der.size();
  if (!next_element(p, end, /*enter=*/true)) return std::nullopt;           // Certificate
  if (!next_element(p, end, /*enter=*/true)) return std::nullopt;           // tbsCertificate
  if (p < end && *p == 0xa0 && !next_element(p, end)) return std::nullopt;  // [0] version
  for (int skip = 0; skip < 4; ++skip) {  // serial, signature, issuer, validity
    if (!next_element(p, end)) return std::nullopt;
  }
  auto subject = next_element(p, end);
  if (!subject) return std::nullopt;
  const unsigned char* q = subject->data();
  crypto::X509NamePtr name(d2i_X509_NAME(nullptr, &q, static_cast<long>(subject->size())));
  if (!name) return std::nullopt;
  int ok = 0;
  const unsigned long hash = X509_NAME_hash_ex(name.get(), nullptr, nullptr, &ok);
  if (ok != 1) return std::nullopt;
  return hash;
}

namespace {

struct BundleEntry {
  Bytes der;
  bool aux = false;  // "TRUSTED CERTIFICATE": the certificate followed by OpenSSL's trust settings
};

// What one store's look-up knows. The entries and paths are fixed once made; `loaded` records
// the hashes whose certificates are in the store already.
struct Index {
  std::unordered_multimap<unsigned long, BundleEntry> bundle;
  std::unordered_map<unsigned long, std::vector<std::filesystem::path>> directory;
  common::Mutex mu;
  std::unordered_set<unsigned long> loaded CW_GUARDED_BY(mu);
};

Status read_bundle(const std::string& file, Index& index) {
  std::error_code ec;
  if (file.empty() || !std::filesystem::is_regular_file(file, ec)) return ok();
  crypto::BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return fail(ErrorCode::kUnavailable, "the system trust store could not be read");
  }
  std::unordered_set<std::string> seen;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) {
      const unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_REASON(err) == PEM_R_NO_START_LINE) break;  // the end of the file
      return fail(ErrorCode::kUnavailable, "the system trust store holds a block that is not PEM");
    }
    crypto::OpensslStringPtr owned_name(name);
    crypto::OpensslStringPtr owned_header(header);
    crypto::OpensslStringPtr owned_data(reinterpret_cast<char*>(data));
    const std::string_view kind(name);
    const bool aux = kind == PEM_STRING_X509_TRUSTED;
    if (kind != PEM_STRING_X509 && kind != PEM_STRING_X509_OLD && !aux) continue;
    Bytes der(data, data + length);
    // A bundle may list a root twice (Debian's does not; hand-made ones do).
    if (!seen.insert(std::string(der.begin(), der.end())).second) continue;
    const auto hash = subject_name_hash(der);
    if (!hash) continue;  // not a certificate: OpenSSL would pass over it too
    if (index.bundle.size() >= kMaxBundleCertificates) break;
    index.bundle.emplace(*hash, BundleEntry{std::move(der), aux});
  }
  return ok();
}

// c_rehash's names: eight lower-case hex digits, a dot and a sequence number ("3513523f.0").
std::optional<unsigned long> hashed_name(std::string_view name) {
  if (name.size() < 10 || name[8] != '.') return std::nullopt;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        i < 8 ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') : i == 8 || (c >= '0' && c <= '9');
    if (!ok) return std::nullopt;
  }
  return std::strtoul(std::string(name.substr(0, 8)).c_str(), nullptr, 16);
}

void list_directory(const std::string& dir, Index& index) {
  std::error_code ec;
  std::size_t seen = 0;
  for (std::filesystem::directory_iterator it(dir, ec), stop; !ec && it != stop; it.increment(ec)) {
    if (++seen > kMaxDirectoryEntries) break;
    if (auto hash = hashed_name(it->path().filename().string())) {
      index.directory[*hash].push_back(it->path());
    }
  }
}

// Decodes the certificates filed under `hash` and adds them to the store. Those of a directory
// file are read as OpenSSL's directory look-up reads them (every certificate in the file).
void load(X509_STORE* store, const Index& index, unsigned long hash) {
  auto add = [store](X509* cert) {
    if (cert != nullptr && X509_STORE_add_cert(store, cert) != 1) ERR_clear_error();
  };
  auto [first, last] = index.bundle.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    const unsigned char* p = it->second.der.data();
    const long size = static_cast<long>(it->second.der.size());
    crypto::X509Ptr cert(it->second.aux ? d2i_X509_AUX(nullptr, &p, size)
                                        : d2i_X509(nullptr, &p, size));
    add(cert.get());
  }
  if (auto files = index.directory.find(hash); files != index.directory.end()) {
    for (const auto& path : files->second) {
      crypto::BioPtr bio(BIO_new_file(path.c_str(), "r"));
      for (int n = 0; bio && n < 64; ++n) {
        crypto::X509Ptr cert(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        add(cert.get());
      }
    }
  }
  ERR_clear_error();
}

int by_subject(X509_LOOKUP* lookup, X509_LOOKUP_TYPE type, const X509_NAME* name,
               X509_OBJECT* ret) {
  if (type != X509_LU_X509 || name == nullptr) return 0;
  auto* index = static_cast<Index*>(X509_LOOKUP_get_method_data(lookup));
  X509_STORE* store = X509_LOOKUP_get_store(lookup);
  if (index == nullptr || store == nullptr) return 0;
  int ok = 0;
  const unsigned long hash = X509_NAME_hash_ex(name, nullptr, nullptr, &ok);
  if (ok != 1) {
    ERR_clear_error();
    return 0;
  }
  // The common case for a private PKI: a name no system root has. Answered without a lock.
  if (!index->bundle.contains(hash) && !index->directory.contains(hash)) return 0;
  {
    common::MutexLock lock(index->mu);
    if (index->loaded.insert(hash).second) load(store, *index, hash);
  }
  // The store holds what was found; `ret` borrows it, as OpenSSL's own look-ups leave it (the
  // caller takes its own reference: X509_LOOKUP_meth_new(3)).
  if (X509_STORE_lock(store) != 1) return 0;
  X509_OBJECT* found =
      X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(store), X509_LU_X509, name);
  X509* cert = found != nullptr ? X509_OBJECT_get0_X509(found) : nullptr;
  if (cert != nullptr && X509_OBJECT_set1_X509(ret, cert) == 1) {
    X509_free(cert);  // the reference set1 took; the store's keeps it alive
  } else {
    cert = nullptr;
  }
  X509_STORE_unlock(store);
  return cert != nullptr ? 1 : 0;
}

void free_index(X509_LOOKUP* lookup) {
  delete static_cast<Index*>(X509_LOOKUP_get_method_data(lookup));
  X509_LOOKUP_set_method_data(lookup, nullptr);
}

// One method for the process: OpenSSL keeps a pointer to it in every look-up made from it.
X509_LOOKUP_METHOD* method() {
  static X509_LOOKUP_METHOD* const m = [] {
    X509_LOOKUP_METHOD* made = X509_LOOKUP_meth_new("certward system trust");
    if (made != nullptr) {
      X509_LOOKUP_meth_set_get_by_subject(made, by_subject);
      X509_LOOKUP_meth_set_free(made, free_index);
    }
    return made;
  }();
  return m;
}

}  // namespace

SystemTrustPaths SystemTrustPaths::from_environment() {
  SystemTrustPaths paths;
  const char* file = std::getenv(X509_get_default_cert_file_env());
  paths.file = file != nullptr ? file : X509_get_default_cert_file();
  const char* dir_env = std::getenv(X509_get_default_cert_dir_env());
  const std::string dirs = dir_env != nullptr ? dir_env : X509_get_default_cert_dir();
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    if (end > start) paths.dirs.push_back(dirs.substr(start, end - start));
    start = end + 1;
  }
  return paths;
}

Status add_system_trust(X509_STORE* store, const SystemTrustPaths& paths) {
  auto index = std::make_unique<Index>();
  CW_RETURN_IF_ERROR(read_bundle(paths.file, *index));
  for (const auto& dir : paths.dirs) list_directory(dir, *index);
  X509_LOOKUP_METHOD* m = method();
  X509_LOOKUP* lookup = m != nullptr ? X509_STORE_add_lookup(store, m) : nullptr;
  if (lookup == nullptr) {
    ERR_clear_error();
    return fail(ErrorCode::kInternal, "the system trust look-up could not be added");
  }
  // A second call for the same store finds the look-up it added: its index is replaced.
  delete static_cast<Index*>(X509_LOOKUP_get_method_data(lookup));
  X509_LOOKUP_set_method_data(lookup, index.release());
  return ok();
}

}  // namespace certward::discovery::net
