#include "protocols/acme/jws.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ostream>
#include <string>
#include <vector>

#include "crypto/crypto.h"

namespace certward::protocols::acme {

// So that a failed expectation names the problem.
void PrintTo(JwsProblem p, std::ostream* os) { *os << jws_problem_name(p); }

namespace {

using nlohmann::json;

constexpr std::string_view kUrl = "https://acme.test/acme/new-order";
constexpr std::string_view kNewAccountUrl = "https://acme.test/acme/new-account";

template <typename T>
void expect_problem(const JwsResult<T>& r, JwsProblem type) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().type, type) << r.error().detail;
}

std::string b64(std::string_view s) { return to_base64url(as_bytes(s)); }

crypto::EvpPkeyPtr keygen(const char* type, const char* curve) {
  return crypto::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve));
}
crypto::EvpPkeyPtr rsa_keygen(std::size_t bits) {
  return crypto::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}

// One key of each accepted kind, made once: RSA key generation is slow.
struct TestKey {
  const char* name;
  std::string alg;  // the one it signs with
  EVP_PKEY* key;
};
struct TestKeys {
  crypto::EvpPkeyPtr rsa = rsa_keygen(2048), p256 = keygen("EC", "P-256"),
                     p384 = keygen("EC", "P-384"), p521 = keygen("EC", "P-521"),
                     ed25519 = keygen("ED25519", nullptr);
  std::vector<TestKey> all = {{"RSA 2048", "RS256", rsa.get()},
                              {"P-256", "ES256", p256.get()},
                              {"P-384", "ES384", p384.get()},
                              {"P-521", "ES512", p521.get()},
                              {"Ed25519", "EdDSA", ed25519.get()}};
};
const std::vector<TestKey>& test_keys() {
  static const TestKeys keys;
  return keys.all;
}
EVP_PKEY* key_of(std::string_view name) {
  for (const auto& k : test_keys()) {
    if (k.name == name) return k.key;
  }
  ADD_FAILURE() << name;
  return nullptr;
}

// Signs as a JOSE client does, with OpenSSL directly: the digest follows the key (SHA-256 for
// RSA and P-256, SHA-384 for P-384, SHA-512 for P-521), whatever "alg" the header claims, and
// ECDSA signatures are converted from DER to r || s.
Bytes sign(EVP_PKEY* key, std::string_view input) {
  const int id = EVP_PKEY_get_base_id(key);
  const int bits = EVP_PKEY_get_bits(key);
  const EVP_MD* md = id == EVP_PKEY_ED25519 ? nullptr
                     : id != EVP_PKEY_EC    ? EVP_sha256()
                     : bits == 256          ? EVP_sha256()
                     : bits == 384          ? EVP_sha384()
                                            : EVP_sha512();
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  const auto data = as_bytes(input);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()), 1);
  Bytes sig(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()), 1);
  sig.resize(len);
  if (id != EVP_PKEY_EC) return sig;
  const std::uint8_t* p = sig.data();
  crypto::EcdsaSigPtr ecdsa(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  const std::size_t half = (static_cast<std::size_t>(bits) + 7) / 8;
  Bytes raw(2 * half);
  BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), raw.data(), static_cast<int>(half));
  BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), raw.data() + half, static_cast<int>(half));
  return raw;
}

json public_jwk(EVP_PKEY* key) {
  auto jwk = jwk_from_public_key(key);
  EXPECT_TRUE(jwk) << jwk.error().detail;
  return jwk ? jwk->json() : json::object();
}

// An RSA JWK made from the key's parameters directly, for keys jwk_from_public_key refuses.
json rsa_jwk(EVP_PKEY* key) {
  const auto member = [&](const char* param) {
    BIGNUM* raw = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key, param, &raw), 1);
    crypto::BignumPtr bn(raw);
    Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
    BN_bn2bin(bn.get(), out.data());
    return to_base64url(out);
  };
  return {{"kty", "RSA"}, {"n", member("n")}, {"e", member("e")}};
}

json header(std::string_view alg, EVP_PKEY* jwk_key) {
  return {{"alg", alg}, {"nonce", "bm9uY2U"}, {"url", kUrl}, {"jwk", public_jwk(jwk_key)}};
}

// A flattened JWS over `protected_header` (serialized as given) and `payload`.
json make_jws_json(EVP_PKEY* key, std::string_view protected_header, std::string_view payload) {
  const std::string p = b64(protected_header), pl = b64(payload);
  const Bytes sig = sign(key, p + "." + pl);
  return {{"protected", p}, {"payload", pl}, {"signature", to_base64url(sig)}};
}
std::string make_jws(EVP_PKEY* key, const json& protected_header,
                     std::string_view payload = R"({"termsOfServiceAgreed":true})") {
  return make_jws_json(key, protected_header.dump(), payload).dump();
}
std::string make_jws(const TestKey& k) { return make_jws(k.key, header(k.alg, k.key)); }

JwsResult<void> parse_and_verify(std::string_view body) {
  auto jws = parse_jws(body);
  if (!jws) return std::unexpected(jws.error());
  auto jwk = parse_jwk(*jws->jwk);
  if (!jwk) return std::unexpected(jwk.error());
  return verify(*jws, *jwk);
}

// ---- Signatures ----

TEST(Verify, AcceptsEachAlgorithmWithItsKey) {
  for (const auto& k : test_keys()) {
    SCOPED_TRACE(k.name);
    auto jws = parse_jws(make_jws(k));
    ASSERT_TRUE(jws) << jws.error().detail;
    EXPECT_EQ(jws_algorithm_name(jws->alg), k.alg);
    EXPECT_EQ(jws->url, kUrl);
    EXPECT_EQ(jws->nonce, "bm9uY2U");
    EXPECT_FALSE(jws->kid);
    EXPECT_EQ(jws->payload, R"({"termsOfServiceAgreed":true})");
    auto jwk = parse_jwk(*jws->jwk);
    ASSERT_TRUE(jwk) << jwk.error().detail;
    EXPECT_TRUE(same_key(*jwk, k.key));
    auto ok = verify(*jws, *jwk);
    EXPECT_TRUE(ok) << ok.error().detail;
  }
}

TEST(Verify, AcceptsAKidRequestWithTheAccountKey) {
  EVP_PKEY* key = key_of("P-256");
  const json h = {
      {"alg", "ES256"}, {"nonce", "n"}, {"url", kUrl}, {"kid", "https://acme.test/acct/7"}};
  auto jws = parse_jws(make_jws(key, h));
  ASSERT_TRUE(jws) << jws.error().detail;
  EXPECT_EQ(jws->kid, "https://acme.test/acct/7");
  EXPECT_FALSE(jws->jwk);
  auto account = jwk_from_public_key(key);
  ASSERT_TRUE(account);
  EXPECT_TRUE(verify(*jws, *account));
  auto other = jwk_from_public_key(keygen("EC", "P-256").get());
  ASSERT_TRUE(other);
  expect_problem(verify(*jws, *other), JwsProblem::kMalformed);
}

TEST(Verify, RefusesATamperedPayload) {
  for (const auto& k : test_keys()) {
    SCOPED_TRACE(k.name);
    json j = json::parse(make_jws(k));
    j["payload"] = b64(R"({"termsOfServiceAgreed":false})");
    expect_problem(parse_and_verify(j.dump()), JwsProblem::kMalformed);
  }
}

TEST(Verify, RefusesATamperedProtectedHeader) {
  for (const auto& k : test_keys()) {
    SCOPED_TRACE(k.name);
    json j = json::parse(make_jws(k));
    json h = header(k.alg, k.key);
    h["url"] = "https://acme.test/acme/revoke-cert";
    j["protected"] = b64(h.dump());
    expect_problem(parse_and_verify(j.dump()), JwsProblem::kMalformed);
  }
}

TEST(Verify, RefusesATamperedSignature) {
  for (const auto& k : test_keys()) {
    SCOPED_TRACE(k.name);
    json j = json::parse(make_jws(k));
    Bytes sig = *from_base64url(j["signature"].get<std::string>());
    sig[sig.size() / 2] ^= 0x01;
    j["signature"] = to_base64url(sig);
    expect_problem(parse_and_verify(j.dump()), JwsProblem::kMalformed);
  }
}

TEST(Verify, RefusesEcdsaSignaturesThatAreNotRAndSOfTheCurveSize) {
  EVP_PKEY* key = key_of("P-256");
  json j = json::parse(make_jws(key, header("ES256", key)));
  Bytes sig = *from_base64url(j["signature"].get<std::string>());
  sig.pop_back();
  j["signature"] = to_base64url(sig);
  expect_problem(parse_and_verify(j.dump()), JwsProblem::kMalformed);
  // The DER form OpenSSL produces, which some clients send by mistake.
  const std::string p = j["protected"], pl = j["payload"];
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const std::string input = p + "." + pl;
  Bytes der(128);
  std::size_t len = der.size();
  ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  ASSERT_EQ(EVP_DigestSign(ctx.get(), der.data(), &len, as_bytes(input).data(), input.size()), 1);
  der.resize(len);
  j["signature"] = to_base64url(der);
  expect_problem(parse_and_verify(j.dump()), JwsProblem::kMalformed);
}

TEST(Verify, RefusesAnAlgorithmThatDoesNotFitTheKey) {
  struct Case {
    const char* alg;
    const char* key;
  };
  for (const Case& c : {Case{"ES256", "P-384"}, Case{"ES384", "P-256"}, Case{"ES512", "P-384"},
                        Case{"RS256", "P-256"}, Case{"ES256", "RSA 2048"},
                        Case{"EdDSA", "RSA 2048"}, Case{"ES256", "Ed25519"}}) {
    SCOPED_TRACE(std::string(c.alg) + " with " + c.key);
    EVP_PKEY* key = key_of(c.key);
    expect_problem(parse_and_verify(make_jws(key, header(c.alg, key))),
                   JwsProblem::kBadSignatureAlgorithm);
  }
}

// ---- The JWS shape ----

TEST(ParseJws, KeepsProtectedAndPayloadAsReceived) {
  EVP_PKEY* key = key_of("Ed25519");
  const json j = json::parse(make_jws(key, header("EdDSA", key)));
  auto jws = parse_jws(j.dump());
  ASSERT_TRUE(jws);
  EXPECT_EQ(jws->protected_b64, j["protected"].get<std::string>());
  EXPECT_EQ(jws->payload_b64, j["payload"].get<std::string>());
  EXPECT_EQ(to_base64url(jws->signature), j["signature"].get<std::string>());
}

TEST(ParseJws, TellsPostAsGetFromAnEmptyObject) {
  EVP_PKEY* key = key_of("P-256");
  auto get = parse_jws(make_jws(key, header("ES256", key), ""));
  ASSERT_TRUE(get);
  EXPECT_TRUE(get->post_as_get());
  EXPECT_TRUE(verify(*get, *parse_jwk(*get->jwk)));
  expect_problem(payload_json(*get), JwsProblem::kMalformed);

  auto empty_object = parse_jws(make_jws(key, header("ES256", key), "{}"));
  ASSERT_TRUE(empty_object);
  EXPECT_FALSE(empty_object->post_as_get());
  auto payload = payload_json(*empty_object);
  ASSERT_TRUE(payload) << payload.error().detail;
  EXPECT_EQ(*payload, json::object());
}

TEST(ParseJws, RefusesPayloadsThatAreNotOneJsonObject) {
  EVP_PKEY* key = key_of("P-256");
  for (const char* payload : {"[]", "\"x\"", "{", R"({"a":1,"a":2})", "not json"}) {
    SCOPED_TRACE(payload);
    auto jws = parse_jws(make_jws(key, header("ES256", key), payload));
    ASSERT_TRUE(jws);
    expect_problem(payload_json(*jws), JwsProblem::kMalformed);
  }
}

TEST(ParseJws, RefusesBothKidAndJwkAndNeither) {
  EVP_PKEY* key = key_of("P-256");
  json both = header("ES256", key);
  both["kid"] = "https://acme.test/acct/1";
  expect_problem(parse_jws(make_jws(key, both)), JwsProblem::kMalformed);
  json neither = header("ES256", key);
  neither.erase("jwk");
  expect_problem(parse_jws(make_jws(key, neither)), JwsProblem::kMalformed);
}

TEST(ParseJws, RefusesNoneMacAndUnknownAlgorithms) {
  EVP_PKEY* key = key_of("P-256");
  for (const char* alg : {"none", "HS256", "HS512", "PS256", "RS512", "ES256K", "es256", ""}) {
    SCOPED_TRACE(alg);
    expect_problem(parse_jws(make_jws(key, header(alg, key))), JwsProblem::kBadSignatureAlgorithm);
  }
  EXPECT_EQ(
      std::vector<std::string_view>(supported_algorithms().begin(), supported_algorithms().end()),
      (std::vector<std::string_view>{"RS256", "ES256", "ES384", "ES512", "EdDSA"}));
}

TEST(ParseJws, RefusesMissingOrMistypedHeaderMembers) {
  EVP_PKEY* key = key_of("P-256");
  const json good = header("ES256", key);
  ASSERT_TRUE(parse_jws(make_jws(key, good)));
  const auto with = [&](const char* name, const json& value) {
    json h = good;
    h[name] = value;
    return make_jws(key, h);
  };
  const auto without = [&](const char* name) {
    json h = good;
    h.erase(name);
    return make_jws(key, h);
  };
  for (const std::string& body :
       {without("alg"), without("url"), with("alg", 256), with("url", ""),
        with("url", json::array()), with("nonce", 5), with("kid", json::object()),
        with("jwk", "a key"), with("b64", false), with("b64", true),
        with("crit", json::array({"b64"}))}) {
    SCOPED_TRACE(body);
    expect_problem(parse_jws(body), JwsProblem::kMalformed);
  }
}

TEST(ParseJws, RefusesUnprotectedHeadersAndOtherSerializations) {
  EVP_PKEY* key = key_of("P-256");
  const json good = json::parse(make_jws(key, header("ES256", key)));
  json unprotected = good;
  unprotected["header"] = json::object();
  json general = {
      {"payload", good["payload"]},
      {"signatures",
       json::array({{{"protected", good["protected"]}, {"signature", good["signature"]}}})}};
  const std::string compact = good["protected"].get<std::string>() + "." +
                              good["payload"].get<std::string>() + "." +
                              good["signature"].get<std::string>();
  for (const std::string& body : {unprotected.dump(), general.dump(), compact}) {
    SCOPED_TRACE(body);
    expect_problem(parse_jws(body), JwsProblem::kMalformed);
  }
}

TEST(ParseJws, RefusesBadBase64url) {
  EVP_PKEY* key = key_of("P-256");
  const json good = json::parse(make_jws(key, header("ES256", key), "{}"));
  // "{}" encodes as "e30": padded it is "e30=".
  json padded = good;
  padded["payload"] = "e30=";
  json std_alphabet = good;
  std::string p = good["protected"];
  p[p.find_first_of("-_") == std::string::npos ? 0 : p.find_first_of("-_")] = '+';
  std_alphabet["protected"] = p;
  json slash = good;
  std::string s = good["signature"];
  s[1] = '/';
  slash["signature"] = s;
  json spaced = good;
  spaced["payload"] = "e3 0";
  json trailing_bits = good;
  trailing_bits["payload"] = "e31";  // decodes to "{}" only with nonzero trailing bits
  for (const json& j : {padded, std_alphabet, slash, spaced, trailing_bits}) {
    SCOPED_TRACE(j.dump());
    expect_problem(parse_jws(j.dump()), JwsProblem::kMalformed);
  }
}

TEST(ParseJws, RefusesBodiesThatAreNotOneJsonObject) {
  for (const char* body : {"", "[]", "\"jws\"", "42", "null", "{", "{\"protected\":1}",
                           R"({"protected":"e30","payload":"","signature":""})",
                           R"({"protected":"","payload":"","signature":"AAAA"})"}) {
    SCOPED_TRACE(body);
    expect_problem(parse_jws(body), JwsProblem::kMalformed);
  }
}

TEST(ParseJws, RefusesRepeatedMemberNames) {
  EVP_PKEY* key = key_of("P-256");
  const std::string jwk = public_jwk(key).dump();
  // The second "alg" would win in a parser that keeps the last one.
  const std::string twice_alg = R"({"alg":"ES256","alg":"none","nonce":"n","url":")" +
                                std::string(kUrl) + R"(","jwk":)" + jwk + "}";
  expect_problem(parse_jws(make_jws_json(key, twice_alg, "{}").dump()), JwsProblem::kMalformed);
  const std::string twice_in_jwk = R"({"alg":"ES256","nonce":"n","url":")" + std::string(kUrl) +
                                   R"(","jwk":)" + jwk.substr(0, jwk.size() - 1) +
                                   R"(,"kty":"RSA"}})";
  expect_problem(parse_jws(make_jws_json(key, twice_in_jwk, "{}").dump()), JwsProblem::kMalformed);
  // The same header written once is accepted: the refusal is the repetition.
  const std::string once =
      R"({"alg":"ES256","nonce":"n","url":")" + std::string(kUrl) + R"(","jwk":)" + jwk + "}";
  ASSERT_TRUE(parse_jws(make_jws_json(key, once, "{}").dump()));
  // And at the top level.
  const json good = make_jws_json(key, once, "{}");
  const std::string body = R"({"protected":")" + good["protected"].get<std::string>() +
                           R"(","payload":"e30","payload":")" + good["payload"].get<std::string>() +
                           R"(","signature":")" + good["signature"].get<std::string>() + R"("})";
  expect_problem(parse_jws(body), JwsProblem::kMalformed);
}

TEST(ParseJws, IgnoresUnknownMembersAsRfc7515Says) {
  EVP_PKEY* key = key_of("P-256");
  json h = header("ES256", key);
  h["typ"] = "JOSE+JSON";
  json j = json::parse(make_jws(key, h));
  j["extension"] = 1;
  EXPECT_TRUE(parse_and_verify(j.dump()));
}

TEST(ParseJws, RefusesABodyOverTheLimitBeforeParsing) {
  EVP_PKEY* key = key_of("P-256");
  json j = json::parse(make_jws(key, header("ES256", key)));
  j["padding"] = "";
  const std::string small = j.dump();
  j["padding"] = std::string(kMaxJwsBytes - small.size(), 'x');
  ASSERT_EQ(j.dump().size(), kMaxJwsBytes);
  EXPECT_TRUE(parse_jws(j.dump()));
  j["padding"] = std::string(kMaxJwsBytes - small.size() + 1, 'x');
  expect_problem(parse_jws(j.dump()), JwsProblem::kMalformed);
}

// ---- Keys ----

TEST(ParseJwk, ComputesTheRfc7638Thumbprint) {
  // RFC 7638 section 3.1, with its "alg" and "kid", which are not part of the thumbprint.
  const json jwk = {
      {"kty", "RSA"},
      {"n",
       "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
       "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
       "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
       "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"}};
  auto parsed = parse_jwk(jwk);
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_EQ(parsed->thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EXPECT_EQ(parsed->json(), (json{{"kty", "RSA"}, {"n", jwk["n"]}, {"e", "AQAB"}}));
  EXPECT_EQ(parsed->kind(), JwkKind::kRsa);
  EXPECT_EQ(parsed->algorithm(), JwsAlgorithm::kRs256);
}

TEST(ParseJwk, GivesTheSameKeyBackFromItsCanonicalJson) {
  for (const auto& k : test_keys()) {
    SCOPED_TRACE(k.name);
    auto jwk = jwk_from_public_key(k.key);
    ASSERT_TRUE(jwk) << jwk.error().detail;
    auto again = parse_jwk(jwk->json());
    ASSERT_TRUE(again) << again.error().detail;
    EXPECT_EQ(again->thumbprint(), jwk->thumbprint());
    EXPECT_EQ(*again, *jwk);
    EXPECT_TRUE(same_key(*again, k.key));
    EXPECT_EQ(jws_algorithm_name(again->algorithm()), k.alg);
  }
}

TEST(ParseJwk, TellsKeysApart) {
  auto a = jwk_from_public_key(key_of("P-256"));
  auto b = jwk_from_public_key(keygen("EC", "P-256").get());
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->thumbprint(), b->thumbprint());
  EXPECT_FALSE(*a == *b);
  EXPECT_FALSE(same_key(*a, key_of("P-384")));
  EXPECT_FALSE(same_key(*a, b->key()));
}

TEST(ParseJwk, RefusesRsaKeysOutsideTheAcceptedSizes) {
  auto small = rsa_keygen(1024);
  const json small_jwk = rsa_jwk(small.get());
  expect_problem(parse_jwk(small_jwk), JwsProblem::kBadPublicKey);
  // The same code accepts a 2048-bit key given the same way.
  EXPECT_TRUE(parse_jwk(rsa_jwk(key_of("RSA 2048"))));
  expect_problem(jwk_from_public_key(small.get()), JwsProblem::kBadPublicKey);
  // An 8200-bit modulus: refused on its size, before any arithmetic.
  Bytes n(1025, 0xab);
  n[0] = 0x01;
  expect_problem(parse_jwk({{"kty", "RSA"}, {"n", to_base64url(n)}, {"e", "AQAB"}}),
                 JwsProblem::kBadPublicKey);
}

TEST(ParseJwk, RefusesRsaMembersThatAreNotMinimalOrSane) {
  const json good = public_jwk(key_of("RSA 2048"));
  ASSERT_TRUE(parse_jwk(good));
  Bytes n = *from_base64url(good["n"].get<std::string>());
  Bytes zero_n = n;
  zero_n.insert(zero_n.begin(), 0);
  Bytes even_n = n;
  even_n.back() &= 0xfe;
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"n", to_base64url(zero_n)},
                                                        {"n", to_base64url(even_n)},
                                                        {"e", "AAEAAQ"},   // leading zero
                                                        {"e", "AQAA"},     // even
                                                        {"e", "AQ"},       // 1
                                                        {"e", "AQAAAAE"},  // over 32 bits
                                                        {"e", ""}}) {
    SCOPED_TRACE(name + "=" + value);
    json jwk = good;
    jwk[name] = value;
    expect_problem(parse_jwk(jwk), JwsProblem::kBadPublicKey);
  }
}

TEST(ParseJwk, RefusesEcPointsOffTheCurveAndWrongSizes) {
  const json good = public_jwk(key_of("P-256"));
  ASSERT_TRUE(parse_jwk(good));
  Bytes y = *from_base64url(good["y"].get<std::string>());
  y.back() ^= 0x01;
  json off_curve = good;
  off_curve["y"] = to_base64url(y);
  expect_problem(parse_jwk(off_curve), JwsProblem::kBadPublicKey);

  Bytes x = *from_base64url(good["x"].get<std::string>());
  json short_x = good;
  short_x["x"] = to_base64url(std::span(x).subspan(1));
  expect_problem(parse_jwk(short_x), JwsProblem::kBadPublicKey);

  // The same point split differently between x and y: OpenSSL would import the concatenation,
  // but the JWK would not be the canonical one its thumbprint needs.
  Bytes good_y = *from_base64url(good["y"].get<std::string>());
  Bytes long_x = x;
  long_x.push_back(good_y.front());
  json shifted = good;
  shifted["x"] = to_base64url(long_x);
  shifted["y"] = to_base64url(std::span(good_y).subspan(1));
  expect_problem(parse_jwk(shifted), JwsProblem::kBadPublicKey);

  json wrong_curve = good;  // P-256 coordinates claimed for P-384
  wrong_curve["crv"] = "P-384";
  expect_problem(parse_jwk(wrong_curve), JwsProblem::kBadPublicKey);

  json zero = good;  // (0, 0) is no point of P-256
  zero["x"] = zero["y"] = to_base64url(Bytes(32, 0));
  expect_problem(parse_jwk(zero), JwsProblem::kBadPublicKey);
}

TEST(ParseJwk, RefusesUnknownKeyTypesAndCurves) {
  const json ec = public_jwk(key_of("P-256"));
  const json okp = public_jwk(key_of("Ed25519"));
  json secp256k1 = ec;
  secp256k1["crv"] = "secp256k1";
  json x25519 = okp;
  x25519["crv"] = "X25519";
  json ed448 = okp;
  ed448["crv"] = "Ed448";
  json oct = {{"kty", "oct"}, {"alg", "HS256"}};
  json lower = ec;
  lower["kty"] = "ec";
  json short_ed = okp;
  short_ed["x"] = to_base64url(Bytes(31, 1));
  for (const json& jwk : {secp256k1, x25519, ed448, oct, lower, short_ed}) {
    SCOPED_TRACE(jwk.dump());
    expect_problem(parse_jwk(jwk), JwsProblem::kBadPublicKey);
  }
  auto ed448_key = keygen("ED448", nullptr);
  expect_problem(jwk_from_public_key(ed448_key.get()), JwsProblem::kBadPublicKey);
  auto pss = crypto::generate_key(crypto::KeyType::kRsaPss2048);
  ASSERT_TRUE(pss);
  expect_problem(jwk_from_public_key(pss->get()), JwsProblem::kBadPublicKey);
}

TEST(ParseJwk, RefusesPrivateMembers) {
  for (const auto& [key, member] :
       std::vector<std::pair<std::string, std::string>>{{"P-256", "d"},
                                                        {"Ed25519", "d"},
                                                        {"RSA 2048", "d"},
                                                        {"RSA 2048", "p"},
                                                        {"RSA 2048", "qi"}}) {
    SCOPED_TRACE(key + " " + member);
    json jwk = public_jwk(key_of(key));
    ASSERT_TRUE(parse_jwk(jwk));
    jwk[member] = "AQAB";
    expect_problem(parse_jwk(jwk), JwsProblem::kBadPublicKey);
  }
}

TEST(ParseJwk, RefusesMalformedMembers) {
  const json ec = public_jwk(key_of("P-256"));
  json no_kty = ec;
  no_kty.erase("kty");
  json numeric_x = ec;
  numeric_x["x"] = 1;
  json padded_x = ec;
  padded_x["x"] = ec["x"].get<std::string>() + "=";
  json no_y = ec;
  no_y.erase("y");
  json no_crv = ec;
  no_crv.erase("crv");
  for (const json& jwk : {json::array(), json("RSA"), no_kty, numeric_x, padded_x, no_y, no_crv}) {
    SCOPED_TRACE(jwk.dump());
    expect_problem(parse_jwk(jwk), JwsProblem::kMalformed);
  }
}

TEST(ParseJwk, KeepsOnlyTheRequiredMembers) {
  json jwk = public_jwk(key_of("P-384"));
  const json canonical = jwk;
  jwk["use"] = "sig";
  jwk["kid"] = "mine";
  auto parsed = parse_jwk(jwk);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->json(), canonical);
  EXPECT_EQ(parsed->json().size(), 4u);
}

// ---- External Account Binding ----

const Bytes kEabKey = {0x5c, 0x11, 0x9e, 0x42, 0x07, 0xd3, 0x61, 0xaa, 0x10, 0x2f, 0x33,
                       0x8b, 0xc4, 0x55, 0x90, 0x0e, 0x71, 0x2a, 0xe8, 0x04, 0x39, 0xbb,
                       0x66, 0x1d, 0xf0, 0x08, 0x93, 0x47, 0x2c, 0xde, 0x15, 0x7f};

json make_eab(const json& protected_header, const json& payload, const Bytes& key = kEabKey) {
  const std::string p = b64(protected_header.dump()), pl = b64(payload.dump());
  const std::string input = p + "." + pl;
  const std::string alg = protected_header.value("alg", "HS256");
  const EVP_MD* md = alg == "HS384" ? EVP_sha384() : alg == "HS512" ? EVP_sha512() : EVP_sha256();
  Bytes mac(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), as_bytes(input).data(), input.size(),
       mac.data(), &len);
  mac.resize(len);
  return {{"protected", p}, {"payload", pl}, {"signature", to_base64url(mac)}};
}

json eab_header(std::string_view alg = "HS256") {
  return {{"alg", alg}, {"kid", "eab-kid-1"}, {"url", kNewAccountUrl}};
}

EabKeyLookup lookup_of(const Bytes& key) {
  return [key](std::string_view kid) -> std::optional<crypto::SecretBytes> {
    if (kid != "eab-kid-1") return std::nullopt;
    return crypto::SecretBytes(std::span<const std::uint8_t>(key));
  };
}

Jwk account_key() { return *jwk_from_public_key(key_of("P-256")); }

TEST(VerifyEab, AcceptsAGoodMacWithEachAlgorithm) {
  const Jwk account = account_key();
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    SCOPED_TRACE(alg);
    auto kid = verify_eab(make_eab(eab_header(alg), account.json()), kNewAccountUrl, account,
                          lookup_of(kEabKey));
    ASSERT_TRUE(kid) << kid.error().detail;
    EXPECT_EQ(*kid, "eab-kid-1");
  }
}

TEST(VerifyEab, RefusesAWrongMac) {
  const Jwk account = account_key();
  Bytes other = kEabKey;
  other[0] ^= 1;
  expect_problem(verify_eab(make_eab(eab_header(), account.json(), other), kNewAccountUrl, account,
                            lookup_of(kEabKey)),
                 JwsProblem::kUnauthorized);
  json truncated = make_eab(eab_header(), account.json());
  Bytes mac = *from_base64url(truncated["signature"].get<std::string>());
  mac.resize(16);
  truncated["signature"] = to_base64url(mac);
  expect_problem(verify_eab(truncated, kNewAccountUrl, account, lookup_of(kEabKey)),
                 JwsProblem::kUnauthorized);
}

TEST(VerifyEab, RefusesAnUnknownKid) {
  const Jwk account = account_key();
  json h = eab_header();
  h["kid"] = "eab-kid-2";
  expect_problem(
      verify_eab(make_eab(h, account.json()), kNewAccountUrl, account, lookup_of(kEabKey)),
      JwsProblem::kUnauthorized);
}

TEST(VerifyEab, RefusesAnotherUrl) {
  const Jwk account = account_key();
  json h = eab_header();
  h["url"] = kUrl;
  expect_problem(
      verify_eab(make_eab(h, account.json()), kNewAccountUrl, account, lookup_of(kEabKey)),
      JwsProblem::kMalformed);
}

TEST(VerifyEab, RefusesAPayloadThatIsNotTheAccountKey) {
  const Jwk account = account_key();
  const json other = public_jwk(key_of("P-384"));
  expect_problem(
      verify_eab(make_eab(eab_header(), other), kNewAccountUrl, account, lookup_of(kEabKey)),
      JwsProblem::kMalformed);
  expect_problem(verify_eab(make_eab(eab_header(), json{{"kty", "EC"}}), kNewAccountUrl, account,
                            lookup_of(kEabKey)),
                 JwsProblem::kMalformed);
}

TEST(VerifyEab, RefusesANonceAJwkAndAccountAlgorithms) {
  const Jwk account = account_key();
  json nonce = eab_header();
  nonce["nonce"] = "bm9uY2U";
  json jwk = eab_header();
  jwk["jwk"] = account.json();
  json no_kid = eab_header();
  no_kid.erase("kid");
  for (const json& h :
       {nonce, jwk, no_kid, eab_header("RS256"), eab_header("none"), eab_header("ES256")}) {
    SCOPED_TRACE(h.dump());
    expect_problem(
        verify_eab(make_eab(h, account.json()), kNewAccountUrl, account, lookup_of(kEabKey)),
        JwsProblem::kMalformed);
  }
}

TEST(VerifyEab, RefusesAnUnprotectedHeaderAndNonObjects) {
  const Jwk account = account_key();
  json unprotected = make_eab(eab_header(), account.json());
  unprotected["header"] = {{"kid", "eab-kid-1"}};
  for (const json& eab : {unprotected, json("eab"), json::array()}) {
    expect_problem(verify_eab(eab, kNewAccountUrl, account, lookup_of(kEabKey)),
                   JwsProblem::kMalformed);
  }
}

TEST(ProblemNames, AreTheAcmeErrorTypes) {
  EXPECT_EQ(jws_problem_name(JwsProblem::kMalformed), "malformed");
  EXPECT_EQ(jws_problem_name(JwsProblem::kBadSignatureAlgorithm), "badSignatureAlgorithm");
  EXPECT_EQ(jws_problem_name(JwsProblem::kBadPublicKey), "badPublicKey");
  EXPECT_EQ(jws_problem_name(JwsProblem::kUnauthorized), "unauthorized");
}

}  // namespace
}  // namespace certward::protocols::acme
