// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: acme::parse_jws on the bytes as a request body, then what the ACME front-end
// does with a JWS: parse_jwk of its "jwk" (a fixed account key stands for a "kid"), verify,
// payload_json, and verify_eab of a newAccount payload's "externalAccountBinding" (MAC key
// kEabKey for kid "fuzz-kid"). The same bytes are also tried as a protected header (wrapped in
// a JWS here, so that mutations reach the header parser without breaking base64url), and, when
// they are JSON, as a JWK and as an External Account Binding for the fixed account key.
// A key that parse_jwk accepts must come back with the same thumbprint from its canonical JSON
// and from jwk_from_public_key: the thumbprint is the account's identity.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/acme/jws.h"

namespace {

namespace acme = certward::protocols::acme;
using nlohmann::json;

constexpr std::string_view kEabKid = "fuzz-kid";
constexpr std::string_view kEabKey = "certward-fuzz-eab-key-0123456789";
constexpr std::string_view kNewAccountUrl = "https://acme.test/acme/new-account";

const acme::Jwk& account_key() {
  static const acme::Jwk key =
      *acme::parse_jwk({{"kty", "EC"},
                        {"crv", "P-256"},
                        {"x", "TrcXoO5ZQpn_jpDhCMeCCx3sEAzJE-oYLoO6Hf6BTxE"},
                        {"y", "BNY89_fpdM09sTXvGaZOLZB10zJNi2xNQ7pMTWZkwhc"}});
  return key;
}

std::optional<certward::crypto::SecretBytes> lookup(std::string_view kid) {
  if (kid != kEabKid) return std::nullopt;
  return certward::crypto::SecretBytes::copy_of(kEabKey);
}

void check_round_trip(const acme::Jwk& jwk) {
  auto again = acme::parse_jwk(jwk.json());
  auto from_key = acme::jwk_from_public_key(jwk.key());
  if (!again || again->thumbprint() != jwk.thumbprint() || !from_key ||
      from_key->thumbprint() != jwk.thumbprint() || !acme::same_key(*from_key, jwk.key())) {
    std::abort();
  }
}

void use_jws(std::string_view body) {
  auto jws = acme::parse_jws(body);
  if (!jws) return;
  std::optional<acme::Jwk> key;
  if (jws->jwk) {
    auto parsed = acme::parse_jwk(*jws->jwk);
    if (!parsed) return;
    check_round_trip(*parsed);
    key = *std::move(parsed);
  } else {
    key = account_key();
  }
  (void)acme::verify(*jws, *key);
  auto payload = acme::payload_json(*jws);
  if (payload && jws->jwk) {
    if (auto eab = payload->find("externalAccountBinding"); eab != payload->end()) {
      (void)acme::verify_eab(*eab, jws->url, *key, lookup);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  use_jws(bytes);
  use_jws(json{{"protected", certward::to_base64url(certward::as_bytes(bytes))},
               {"payload", "e30"},
               {"signature", "AAAA"}}
              .dump());
  const json j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    if (auto jwk = acme::parse_jwk(j)) check_round_trip(*jwk);
    (void)acme::verify_eab(j, kNewAccountUrl, account_key(), lookup);
  }
  return 0;
}
