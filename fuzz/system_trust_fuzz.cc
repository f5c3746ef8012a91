// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: discovery::net::subject_name_hash, the walk to a certificate's subject that
// indexes the system trust bundle without decoding its certificates. Whenever OpenSSL decodes
// the bytes as a certificate (with nothing after it), the walk must find the subject OpenSSL
// files it under (X509_subject_name_hash); otherwise it may refuse, never crash.

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/handles.h"
#include "discovery/net/system_trust.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto walked = certward::discovery::net::subject_name_hash(std::span(data, size));
  const unsigned char* p = data;
  certward::crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(size)));
  if (cert && p == data + size) {
    if (!walked || *walked != X509_subject_name_hash(cert.get())) __builtin_trap();
  }
  ERR_clear_error();
  return 0;
}
