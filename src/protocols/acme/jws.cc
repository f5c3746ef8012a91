#include "protocols/acme/jws.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <vector>

#include "common/json_text.h"
#include "crypto/crypto.h"

namespace certward::protocols::acme {
namespace {

using nlohmann::json;

std::unexpected<JwsError> problem(JwsProblem type, std::string detail) {
  return std::unexpected(JwsError{type, std::move(detail)});
}
std::unexpected<JwsError> malformed(std::string detail) {
  return problem(JwsProblem::kMalformed, std::move(detail));
}
std::unexpected<JwsError> bad_key(std::string detail) {
  // What OpenSSL queued about the refused key is of no use to anyone after this.
  ERR_clear_error();
  return problem(JwsProblem::kBadPublicKey, std::move(detail));
}

constexpr std::array<std::string_view, 5> kAlgorithmNames = {"RS256", "ES256", "ES384", "ES512",
                                                             "EdDSA"};
constexpr std::size_t kMinRsaBits = 2048;
constexpr std::size_t kMaxRsaBits = 8192;

JwsResult<Bytes> decode_member(const json& b64, std::string_view what) {
  if (!b64.is_string()) return malformed(std::string(what) + " is not a string");
  auto bytes = from_base64url(b64.get_ref<const std::string&>());
  if (!bytes) return malformed(std::string(what) + " is not unpadded base64url");
  return *std::move(bytes);
}

// A string member of an object, if present. Errors: kMalformed (present, not a string).
JwsResult<std::optional<std::string>> string_member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  if (!it->is_string()) return malformed(std::string("\"") + name + "\" is not a string");
  return it->get<std::string>();
}

// A flattened JSON JWS taken apart, its protected header parsed and checked for what no JWS
// here may use. The caller checks the header's members.
struct Flattened {
  std::string protected_b64;
  std::string payload_b64;
  std::string payload;
  Bytes signature;
  json header;
};

JwsResult<Flattened> parse_flattened(const json& j, std::string_view what) {
  const std::string w(what);
  if (!j.is_object()) return malformed(w + " is not a JSON object");
  if (j.contains("signatures")) {
    return malformed(w + " uses the general serialization: send one signature, flattened");
  }
  if (j.contains("header")) return malformed(w + " has an unprotected header");
  for (const char* member : {"protected", "payload", "signature"}) {
    auto it = j.find(member);
    if (it == j.end()) return malformed(w + " has no \"" + member + "\"");
    if (!it->is_string()) return malformed(w + " \"" + member + "\" is not a string");
  }
  Flattened out;
  out.protected_b64 = j["protected"].get<std::string>();
  out.payload_b64 = j["payload"].get<std::string>();
  if (out.protected_b64.empty()) return malformed(w + " has an empty protected header");
  CW_ASSIGN_OR_RETURN(const Bytes header, decode_member(j["protected"], w + " protected header"));
  CW_ASSIGN_OR_RETURN(const Bytes payload, decode_member(j["payload"], w + " payload"));
  CW_ASSIGN_OR_RETURN(out.signature, decode_member(j["signature"], w + " signature"));
  if (out.signature.empty()) return malformed(w + " has an empty signature");
  auto parsed = parse_json_strict(as_chars(header));
  if (!parsed || !parsed->is_object()) {
    return malformed(w + " protected header is not a JSON object with distinct member names");
  }
  out.header = *std::move(parsed);
  // RFC 7797 unencoded payloads and critical extensions: none is understood, so any use of
  // them must be refused (RFC 7515 section 4.1.11).
  if (out.header.contains("b64")) return malformed(w + " uses \"b64\" (RFC 7797)");
  if (out.header.contains("crit")) return malformed(w + " has critical header parameters");
  out.payload.assign(as_chars(payload));
  return out;
}

std::optional<JwsAlgorithm> algorithm_named(std::string_view name) {
  for (std::size_t i = 0; i < kAlgorithmNames.size(); ++i) {
    if (kAlgorithmNames[i] == name) return static_cast<JwsAlgorithm>(i);
  }
  return std::nullopt;
}

// Names from the request go into problem details; long ones are cut.
std::string shown(std::string_view s) {
  constexpr std::size_t kMax = 32;
  return "\"" + std::string(s.substr(0, kMax)) + (s.size() > kMax ? "...\"" : "\"");
}

// ---- Keys ----

struct Curve {
  JwkKind kind;
  std::string_view crv;         // JOSE name
  const char* group;            // OpenSSL group name
  std::size_t coordinate_size;  // octets of x, y, r and s
  const EVP_MD* (*digest)();    // of its JWS alg (RFC 7518 section 3.4)
};
constexpr std::array<Curve, 3> kCurves = {{
    {JwkKind::kEcP256, "P-256", "prime256v1", 32, EVP_sha256},
    {JwkKind::kEcP384, "P-384", "secp384r1", 48, EVP_sha384},
    {JwkKind::kEcP521, "P-521", "secp521r1", 66, EVP_sha512},
}};
constexpr std::size_t kEd25519KeySize = 32;

const Curve* curve_of(JwkKind kind) {
  for (const auto& c : kCurves) {
    if (c.kind == kind) return &c;
  }
  return nullptr;
}

// Required member `name` of a JWK, decoded.
JwsResult<Bytes> key_member(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end()) return malformed(std::string("JWK has no \"") + name + "\"");
  return decode_member(*it, std::string("JWK \"") + name + "\"");
}

JwsResult<crypto::EvpPkeyPtr> key_from_params(const char* type, const OSSL_PARAM* params) {
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
          1) {
    return bad_key(std::string("JWK is not a valid ") + type + " public key");
  }
  return crypto::EvpPkeyPtr(raw);
}

JwsResult<crypto::EvpPkeyPtr> rsa_key(const Bytes& n, const Bytes& e) {
  if (n.empty() || n[0] == 0 || e.empty() || e[0] == 0) {
    return bad_key("RSA JWK n and e must be minimal (no leading zero octet)");
  }
  const std::size_t bits = (n.size() - 1) * 8 + static_cast<std::size_t>(std::bit_width(n[0]));
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return bad_key("RSA key of " + std::to_string(bits) + " bits; 2048 to 8192 are accepted");
  }
  // The exponent is bounded so that a verification costs what it should; every real key uses
  // 65537. Even moduli and exponents are never RSA keys.
  if ((n.back() & 1) == 0) return bad_key("RSA modulus is even");
  if (e.size() > 4 || (e.back() & 1) == 0 || (e.size() == 1 && e[0] < 3)) {
    return bad_key("RSA exponent must be odd, at least 3 and below 2^32");
  }
  crypto::BignumPtr bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  crypto::BignumPtr bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  crypto::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return bad_key("RSA JWK could not be imported");
  }
  crypto::OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return bad_key("RSA JWK could not be imported");
  return key_from_params("RSA", params.get());
}

JwsResult<crypto::EvpPkeyPtr> ec_key(const Curve& curve, const Bytes& x, const Bytes& y) {
  if (x.size() != curve.coordinate_size || y.size() != curve.coordinate_size) {
    return bad_key("EC JWK x and y must be " + std::to_string(curve.coordinate_size) +
                   " octets for " + std::string(curve.crv));
  }
  Bytes point;
  point.reserve(1 + 2 * curve.coordinate_size);
  point.push_back(0x04);  // uncompressed (SEC 1 section 2.3.3)
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  const std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve.group),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  CW_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, key_from_params("EC", params.data()));
  // Import already refuses a point off the curve; the check says so explicitly and also
  // refuses the point at infinity, whatever the import path.
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!ctx || EVP_PKEY_public_check_quick(ctx.get()) != 1) {
    return bad_key("EC JWK is not a point on " + std::string(curve.crv));
  }
  return key;
}

JwsResult<crypto::EvpPkeyPtr> ed25519_key(const Bytes& x) {
  if (x.size() != kEd25519KeySize) return bad_key("Ed25519 JWK x must be 32 octets");
  crypto::EvpPkeyPtr key(
      EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, x.data(), x.size()));
  if (!key) return bad_key("Ed25519 JWK could not be imported");
  return key;
}

// The canonical JWK and its thumbprint (RFC 7638 section 3): required members only, sorted by
// name (nlohmann's object is an ordered map), no whitespace. Every value is base64url or a
// fixed ASCII name, so nothing needs escaping.
std::string thumbprint_of(const json& canonical) {
  const std::string text = canonical.dump();
  return to_base64url(crypto::sha256(as_bytes(text)));
}

std::string b64(const Bytes& b) { return to_base64url(b); }

// ---- Signatures ----

// An ECDSA r || s as the DER ECDSA-Sig-Value OpenSSL verifies.
std::optional<Bytes> ecdsa_der(std::span<const std::uint8_t> raw, std::size_t coordinate_size) {
  const int half = static_cast<int>(coordinate_size);
  crypto::BignumPtr r(BN_bin2bn(raw.data(), half, nullptr));
  crypto::BignumPtr s(BN_bin2bn(raw.data() + coordinate_size, half, nullptr));
  crypto::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // now owned by sig
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  Bytes der(static_cast<std::size_t>(len));
  std::uint8_t* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return std::nullopt;
  return der;
}

bool verify_signature(EVP_PKEY* key, const EVP_MD* md, std::span<const std::uint8_t> sig,
                      std::string_view signed_text) {
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const auto data = as_bytes(signed_text);
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

constexpr std::array<std::string_view, 3> kMacNames = {"HS256", "HS384", "HS512"};

const EVP_MD* mac_digest(MacAlgorithm alg) {
  switch (alg) {
    case MacAlgorithm::kHs256:
      return EVP_sha256();
    case MacAlgorithm::kHs384:
      return EVP_sha384();
    case MacAlgorithm::kHs512:
      return EVP_sha512();
  }
  return nullptr;
}

}  // namespace

std::string_view jws_problem_name(JwsProblem problem) {
  switch (problem) {
    case JwsProblem::kMalformed:
      return "malformed";
    case JwsProblem::kBadSignatureAlgorithm:
      return "badSignatureAlgorithm";
    case JwsProblem::kBadPublicKey:
      return "badPublicKey";
    case JwsProblem::kUnauthorized:
      return "unauthorized";
  }
  return "malformed";
}

std::string_view jws_algorithm_name(JwsAlgorithm alg) {
  return kAlgorithmNames[static_cast<std::size_t>(alg)];
}

std::span<const std::string_view> supported_algorithms() { return kAlgorithmNames; }

std::string_view Jwk::kty() const {
  switch (kind_) {
    case JwkKind::kRsa:
      return "RSA";
    case JwkKind::kEcP256:
    case JwkKind::kEcP384:
    case JwkKind::kEcP521:
      return "EC";
    case JwkKind::kEd25519:
      return "OKP";
  }
  return "";
}

JwsAlgorithm Jwk::algorithm() const {
  switch (kind_) {
    case JwkKind::kRsa:
      return JwsAlgorithm::kRs256;
    case JwkKind::kEcP256:
      return JwsAlgorithm::kEs256;
    case JwkKind::kEcP384:
      return JwsAlgorithm::kEs384;
    case JwkKind::kEcP521:
      return JwsAlgorithm::kEs512;
    case JwkKind::kEd25519:
      return JwsAlgorithm::kEdDsa;
  }
  return JwsAlgorithm::kRs256;
}

JwsResult<Jwk> parse_jwk(const json& jwk) {
  if (!jwk.is_object()) return malformed("JWK is not a JSON object");
  // A client that sends its private key has leaked it; refuse rather than quietly drop it.
  for (const char* name : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(name)) return bad_key(std::string("JWK has private member \"") + name + "\"");
  }
  CW_ASSIGN_OR_RETURN(const auto kty, string_member(jwk, "kty"));
  if (!kty) return malformed("JWK has no \"kty\"");
  CW_ASSIGN_OR_RETURN(const auto crv, string_member(jwk, "crv"));

  crypto::EvpPkeyPtr key;
  JwkKind kind;
  json canonical;
  if (*kty == "RSA") {
    CW_ASSIGN_OR_RETURN(const Bytes n, key_member(jwk, "n"));
    CW_ASSIGN_OR_RETURN(const Bytes e, key_member(jwk, "e"));
    CW_ASSIGN_OR_RETURN(key, rsa_key(n, e));
    kind = JwkKind::kRsa;
    canonical = {{"kty", "RSA"}, {"n", b64(n)}, {"e", b64(e)}};
  } else if (*kty == "EC") {
    if (!crv) return malformed("EC JWK has no \"crv\"");
    const auto curve =
        std::find_if(kCurves.begin(), kCurves.end(), [&](const Curve& c) { return c.crv == *crv; });
    if (curve == kCurves.end()) return bad_key("EC JWK curve " + shown(*crv) + " not accepted");
    CW_ASSIGN_OR_RETURN(const Bytes x, key_member(jwk, "x"));
    CW_ASSIGN_OR_RETURN(const Bytes y, key_member(jwk, "y"));
    CW_ASSIGN_OR_RETURN(key, ec_key(*curve, x, y));
    kind = curve->kind;
    canonical = {{"kty", "EC"}, {"crv", curve->crv}, {"x", b64(x)}, {"y", b64(y)}};
  } else if (*kty == "OKP") {
    if (!crv) return malformed("OKP JWK has no \"crv\"");
    if (*crv != "Ed25519") return bad_key("OKP JWK curve " + shown(*crv) + " not accepted");
    CW_ASSIGN_OR_RETURN(const Bytes x, key_member(jwk, "x"));
    CW_ASSIGN_OR_RETURN(key, ed25519_key(x));
    kind = JwkKind::kEd25519;
    canonical = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64(x)}};
  } else {
    return bad_key("JWK kty " + shown(*kty) + " not accepted");
  }
  std::string thumbprint = thumbprint_of(canonical);
  return Jwk(std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free), kind, std::move(canonical),
             std::move(thumbprint));
}

JwsResult<Jwk> jwk_from_public_key(const EVP_PKEY* key) {
  if (!key) return bad_key("no public key");
  json members;
  const auto bn_member = [&](const char* param) -> std::optional<Bytes> {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &raw) != 1) return std::nullopt;
    crypto::BignumPtr bn(raw);
    Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
    BN_bn2bin(bn.get(), out.data());
    return out;
  };
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      const auto n = bn_member(OSSL_PKEY_PARAM_RSA_N);
      const auto e = bn_member(OSSL_PKEY_PARAM_RSA_E);
      if (!n || !e) return bad_key("RSA key without n or e");
      members = {{"kty", "RSA"}, {"n", b64(*n)}, {"e", b64(*e)}};
      break;
    }
    case EVP_PKEY_EC: {
      const crypto::KeyInfo info = crypto::describe_key(key);
      const auto curve = std::find_if(kCurves.begin(), kCurves.end(),
                                      [&](const Curve& c) { return c.crv == info.curve; });
      if (curve == kCurves.end()) return bad_key("EC key on a curve not accepted");
      auto x = bn_member(OSSL_PKEY_PARAM_EC_PUB_X);
      auto y = bn_member(OSSL_PKEY_PARAM_EC_PUB_Y);
      if (!x || !y || x->size() > curve->coordinate_size || y->size() > curve->coordinate_size) {
        return bad_key("EC key without a usable public point");
      }
      // JWK coordinates are fixed-size: left-pad what BN_bn2bin made minimal.
      x->insert(x->begin(), curve->coordinate_size - x->size(), 0);
      y->insert(y->begin(), curve->coordinate_size - y->size(), 0);
      members = {{"kty", "EC"}, {"crv", curve->crv}, {"x", b64(*x)}, {"y", b64(*y)}};
      break;
    }
    case EVP_PKEY_ED25519: {
      Bytes x(kEd25519KeySize);
      std::size_t len = x.size();
      if (EVP_PKEY_get_raw_public_key(key, x.data(), &len) != 1 || len != x.size()) {
        return bad_key("Ed25519 key without a public key");
      }
      members = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64(x)}};
      break;
    }
    default:
      return bad_key("key algorithm not accepted for ACME");
  }
  ERR_clear_error();
  return parse_jwk(members);
}

bool same_key(const Jwk& jwk, const EVP_PKEY* key) {
  return crypto::same_public_key(jwk.key(), key);
}

JwsResult<Jws> parse_jws(std::string_view body) {
  if (body.size() > kMaxJwsBytes) {
    return malformed("JWS larger than " + std::to_string(kMaxJwsBytes) + " octets");
  }
  auto j = parse_json_strict(body);
  if (!j) {
    const bool compact =
        std::count(body.begin(), body.end(), '.') == 2 && body.find('{') == std::string_view::npos;
    return malformed(compact ? "JWS compact serialization: send the flattened JSON serialization"
                             : "JWS is not JSON with distinct member names");
  }
  CW_ASSIGN_OR_RETURN(Flattened f, parse_flattened(*j, "JWS"));
  const json& h = f.header;

  Jws jws;
  CW_ASSIGN_OR_RETURN(const auto alg, string_member(h, "alg"));
  if (!alg) return malformed("JWS protected header has no \"alg\"");
  const auto algorithm = algorithm_named(*alg);
  if (!algorithm) {
    return problem(JwsProblem::kBadSignatureAlgorithm,
                   "JWS alg " + shown(*alg) + " not accepted for account requests");
  }
  jws.alg = *algorithm;
  CW_ASSIGN_OR_RETURN(const auto url, string_member(h, "url"));
  if (!url || url->empty()) return malformed("JWS protected header has no \"url\"");
  jws.url = *url;
  CW_ASSIGN_OR_RETURN(jws.nonce, string_member(h, "nonce"));
  CW_ASSIGN_OR_RETURN(jws.kid, string_member(h, "kid"));
  if (jws.kid && jws.kid->empty()) return malformed("JWS \"kid\" is empty");
  if (auto it = h.find("jwk"); it != h.end()) {
    if (!it->is_object()) return malformed("JWS \"jwk\" is not a JSON object");
    jws.jwk = *it;
  }
  if (jws.kid && jws.jwk) return malformed("JWS has both \"kid\" and \"jwk\"");
  if (!jws.kid && !jws.jwk) return malformed("JWS has neither \"kid\" nor \"jwk\"");

  jws.protected_b64 = std::move(f.protected_b64);
  jws.payload_b64 = std::move(f.payload_b64);
  jws.payload = std::move(f.payload);
  jws.signature = std::move(f.signature);
  return jws;
}

JwsResult<json> payload_json(const Jws& jws) {
  if (jws.post_as_get()) return malformed("JWS payload is empty (POST-as-GET)");
  auto j = parse_json_strict(jws.payload);
  if (!j || !j->is_object()) {
    return malformed("JWS payload is not a JSON object with distinct member names");
  }
  return *std::move(j);
}

JwsResult<void> verify(const Jws& jws, const Jwk& key) {
  if (jws.alg != key.algorithm()) {
    return problem(JwsProblem::kBadSignatureAlgorithm,
                   "JWS alg " + std::string(jws_algorithm_name(jws.alg)) + " does not fit a " +
                       std::string(key.kty()) + " key; it signs with " +
                       std::string(jws_algorithm_name(key.algorithm())));
  }
  const std::string signed_text = jws.protected_b64 + "." + jws.payload_b64;
  bool ok = false;
  switch (key.kind()) {
    case JwkKind::kRsa:
      ok = verify_signature(key.key(), EVP_sha256(), jws.signature, signed_text);
      break;
    case JwkKind::kEcP256:
    case JwkKind::kEcP384:
    case JwkKind::kEcP521: {
      const Curve& curve = *curve_of(key.kind());
      if (jws.signature.size() != 2 * curve.coordinate_size) {
        return malformed("JWS " + std::string(jws_algorithm_name(jws.alg)) + " signature must be " +
                         std::to_string(2 * curve.coordinate_size) + " octets (r || s)");
      }
      const auto der = ecdsa_der(jws.signature, curve.coordinate_size);
      ok = der && verify_signature(key.key(), curve.digest(), *der, signed_text);
      break;
    }
    case JwkKind::kEd25519:
      ok = verify_signature(key.key(), nullptr, jws.signature, signed_text);
      break;
  }
  if (!ok) return malformed("JWS signature does not verify");
  return {};
}

JwsResult<ExternalAccountBinding> parse_eab(const json& eab, std::string_view outer_url,
                                            const Jwk& account_key) {
  CW_ASSIGN_OR_RETURN(Flattened f, parse_flattened(eab, "externalAccountBinding"));
  const json& h = f.header;
  ExternalAccountBinding out;
  CW_ASSIGN_OR_RETURN(const auto alg, string_member(h, "alg"));
  const auto mac = alg ? std::find(kMacNames.begin(), kMacNames.end(), *alg) : kMacNames.end();
  if (mac == kMacNames.end()) {
    return malformed("externalAccountBinding alg must be HS256, HS384 or HS512");
  }
  out.alg = static_cast<MacAlgorithm>(mac - kMacNames.begin());
  if (h.contains("nonce")) return malformed("externalAccountBinding must not have a nonce");
  if (h.contains("jwk")) return malformed("externalAccountBinding must not have a jwk");
  CW_ASSIGN_OR_RETURN(const auto kid, string_member(h, "kid"));
  if (!kid || kid->empty()) return malformed("externalAccountBinding has no \"kid\"");
  CW_ASSIGN_OR_RETURN(const auto url, string_member(h, "url"));
  if (!url || *url != outer_url) {
    return malformed("externalAccountBinding url is not the newAccount request's");
  }
  const auto payload = parse_json_strict(f.payload);
  if (!payload) return malformed("externalAccountBinding payload is not a JWK");
  auto bound = parse_jwk(*payload);
  if (!bound) return malformed("externalAccountBinding payload is not a JWK");
  if (*bound != account_key) {
    return malformed("externalAccountBinding payload is not the account key");
  }
  out.kid = *kid;
  out.signing_input = f.protected_b64 + "." + f.payload_b64;
  out.mac = std::move(f.signature);
  return out;
}

JwsResult<void> verify_eab_mac(const ExternalAccountBinding& eab,
                               std::span<const std::uint8_t> hmac_key) {
  if (hmac_key.empty() || hmac_key.size() > static_cast<std::size_t>(INT_MAX)) {
    return problem(JwsProblem::kUnauthorized, "externalAccountBinding key unusable");
  }
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> expected{};
  unsigned int len = 0;
  const auto data = as_bytes(eab.signing_input);
  const bool computed =
      HMAC(mac_digest(eab.alg), hmac_key.data(), static_cast<int>(hmac_key.size()), data.data(),
           data.size(), expected.data(), &len) != nullptr;
  // The length is public (it follows from alg); only the content is compared in constant time.
  const bool ok =
      computed && eab.mac.size() == len && CRYPTO_memcmp(expected.data(), eab.mac.data(), len) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  if (!computed) ERR_clear_error();
  if (!ok) return problem(JwsProblem::kUnauthorized, "externalAccountBinding MAC does not verify");
  return {};
}

JwsResult<std::string> verify_eab(const json& eab, std::string_view outer_url,
                                  const Jwk& account_key, const EabKeyLookup& lookup) {
  CW_ASSIGN_OR_RETURN(ExternalAccountBinding binding, parse_eab(eab, outer_url, account_key));
  const auto key = lookup(binding.kid);
  if (!key) return problem(JwsProblem::kUnauthorized, "externalAccountBinding kid is unknown");
  CW_RETURN_IF_ERROR(verify_eab_mac(binding, key->span()));
  return std::move(binding.kid);
}

}  // namespace certward::protocols::acme
