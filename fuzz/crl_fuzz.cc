// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: x509::parse_crl and x509::verify_crl_signature (CRLs imported or fetched from
// elsewhere). What parses is rebuilt with x509::build_crl from its entries, and the result
// must be DER OpenSSL reads: the writer gets hostile serials, times and reasons too.

#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "issuer_support.h"
#include "x509/crl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace certward;
  const std::span<const std::uint8_t> in(data, size);
  const fuzz::Issuer& issuer = fuzz::issuer();
  (void)x509::verify_crl_signature(in, issuer.cert);
  auto crl = x509::parse_crl(in);
  if (!crl) return 0;

  x509::CrlTemplate t;
  t.issuer = issuer.cert;
  t.number = crl->number.value_or(Bytes{1});
  t.delta_base = crl->delta_base;
  t.this_update = crl->this_update;
  t.next_update = crl->next_update.value_or(crl->this_update + std::chrono::hours(1));
  if (!crl->is_delta()) t.freshest_crl_urls = crl->freshest_crl_urls;
  for (const auto& e : crl->entries) {
    auto serial = from_hex(e.serial_hex);
    if (!serial) __builtin_trap();  // parse_crl wrote it
    t.entries.push_back({.serial = std::move(*serial),
                         .revocation_time = e.revocation_time,
                         .reason = e.reason,
                         .invalidity_date = e.invalidity_date});
  }
  auto der = x509::build_crl(t, *issuer.signer);
  if (!der) {
    // Only the template's own rules may refuse it; never a failure to encode or sign.
    if (der.error().code != ErrorCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  const unsigned char* p = der->data();
  crypto::X509CrlPtr reread(d2i_X509_CRL(nullptr, &p, static_cast<long>(der->size())));
  if (!reread || p != der->data() + der->size()) __builtin_trap();
  auto again = x509::parse_crl(*der);
  if (!again || again->entries.size() != crl->entries.size()) __builtin_trap();
  if (!x509::verify_crl_signature(*der, issuer.cert)) __builtin_trap();
  return 0;
}
