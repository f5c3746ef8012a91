// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: x509::parse_ocsp_request (the body of POST /ocsp, the decoded path of GET), with
// the default limits and with tight ones. A request that parses is answered the way the
// responder answers it: x509::build_ocsp_response echoing its CertIDs and nonce, and the
// result must be an OCSP response OpenSSL reads, verifies and finds every CertID in.

#include <openssl/ocsp.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "issuer_support.h"
#include "x509/ocsp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace certward;
  const std::span<const std::uint8_t> in(data, size);
  auto tight = x509::parse_ocsp_request(in, {.max_requests = 1, .max_nonce_size = 8});
  if (!tight) (void)x509::ocsp_status_for(tight.error().code);
  auto request = x509::parse_ocsp_request(in);
  if (!request) {
    (void)x509::ocsp_error_response(x509::ocsp_status_for(request.error().code));
    return 0;
  }

  const fuzz::Issuer& issuer = fuzz::issuer();
  const SysTime at = from_unix(1735787045);
  x509::OcspResponseTemplate t;
  t.responder = issuer.cert;
  t.produced_at = at;
  t.nonce = request->nonce;
  int n = 0;
  for (const auto& id : request->cert_ids) {
    (void)id.serial_hex();
    x509::OcspSingleResponse r{
        .cert_id = id, .this_update = at, .next_update = at + std::chrono::hours(1)};
    r.status = static_cast<x509::OcspCertStatus>(n++ % 3);
    r.revocation_time = at;
    r.revocation_reason = x509::CrlReason::kKeyCompromise;
    t.responses.push_back(r);
  }
  auto der = x509::build_ocsp_response(t, *issuer.signer);
  if (!der) __builtin_trap();  // whatever parsed can be answered
  const unsigned char* p = der->data();
  crypto::Handle<OCSP_RESPONSE, OCSP_RESPONSE_free> resp(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der->size())));
  if (!resp || p != der->data() + der->size()) __builtin_trap();
  crypto::Handle<OCSP_BASICRESP, OCSP_BASICRESP_free> basic(OCSP_response_get1_basic(resp.get()));
  if (!basic || OCSP_resp_count(basic.get()) != static_cast<int>(request->cert_ids.size())) {
    __builtin_trap();
  }
  crypto::X509StackPtr certs(sk_X509_new_null());
  if (OCSP_basic_verify(basic.get(), certs.get(), nullptr, OCSP_NOVERIFY) != 1) __builtin_trap();
  return 0;
}
