// CycloneDX 1.6 CBOM (cbom.h). Field names and enumerations follow bom-1.6.schema.json's
// cryptoProperties; the document is checked against that schema by the reports integration
// test.

#include "reports/cbom.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace certward::reports {
namespace {

using nlohmann::json;

constexpr std::string_view kCertificate = "crypto/certificate/";
constexpr std::string_view kPublicKey = "crypto/public-key/";
constexpr std::string_view kSshKey = "crypto/ssh-key/";
constexpr std::string_view kAlgorithm = "crypto/algorithm/";
constexpr std::string_view kRoot = "certward/inventory";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The curve's name as CycloneDX recommends (https://neuromancer.sk/std/ naming).
std::string curve_name(std::string_view curve) {
  if (curve == "P-256" || curve == "P-384" || curve == "P-521") return "nist/" + std::string(curve);
  if (curve == "Ed25519" || curve == "Ed448") return "other/" + std::string(curve);
  return std::string(curve);
}

json crypto_functions(const AlgorithmClass& a) {
  if (a.primitive == "signature") return json::array({"sign", "verify"});
  if (a.primitive == "kem") return json::array({"keygen", "encapsulate", "decapsulate"});
  return json::array({"unknown"});
}

std::string safe_ref_part(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == ':' || c == '+' || c == '/' ||
                    c == '=';
    out += ok ? c : '_';
  }
  return out;
}

bool parse_hex64(std::string_view hex, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), out, 16);
  return ec == std::errc() && end == hex.data() + hex.size();
}

json property(std::string_view name, std::string_view value) {
  return {{"name", name}, {"value", value}};
}

}  // namespace

std::string new_bom_serial() {
  std::array<std::uint8_t, 16> b{};
  crypto::random_bytes(b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "urn:uuid:";
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 0xf];
  }
  return s;
}

Result<std::unique_ptr<CbomWriter>> CbomWriter::open(std::ostream& out, CbomHeader header) {
  std::FILE* deps = std::tmpfile();
  if (!deps) return fail(ErrorCode::kInternal, "no temporary file for the CBOM's dependencies");
  return std::unique_ptr<CbomWriter>(new CbomWriter(out, std::move(header), deps));
}

CbomWriter::CbomWriter(std::ostream& out, CbomHeader header, std::FILE* deps)
    : out_(out), header_(std::move(header)), deps_(deps) {
  json properties = json::array({property("certward:report", "cbom")});
  if (header_.team) properties.push_back(property("certward:team", *header_.team));
  const json metadata = {
      {"timestamp", header_.timestamp},
      {"tools",
       {{"components", json::array({{{"type", "application"},
                                     {"name", "certward"},
                                     {"version", header_.tool_version}}})}}},
      {"component",
       {{"type", "application"},
        {"bom-ref", kRoot},
        {"name", "certward inventory"},
        {"description", "Certificates and SSH keys in force, with their keys and algorithms"}}},
      {"properties", properties}};
  out_ << "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\",\"serialNumber\":"
       << dump(header_.serial_number) << ",\"version\":1,\"metadata\":" << dump(metadata)
       << ",\"components\":[";
}

CbomWriter::~CbomWriter() {
  if (deps_) std::fclose(deps_);
}

void CbomWriter::component(const json& c) {
  out_ << (first_component_ ? "" : ",") << dump(c);
  first_component_ = false;
}

void CbomWriter::dependency(const std::string& ref, std::initializer_list<std::string> on) {
  json d = {{"ref", ref}, {"dependsOn", json::array()}};
  for (const auto& r : on) d["dependsOn"].push_back(r);
  const std::string text = (first_dependency_ ? "" : ",") + dump(d);
  first_dependency_ = false;
  std::fwrite(text.data(), 1, text.size(), deps_);
}

std::string CbomWriter::algorithm_ref(const AlgorithmClass& a) {
  std::string ref = std::string(kAlgorithm) + safe_ref_part(a.name);
  algorithms_.try_emplace(ref, a);
  return ref;
}

void CbomWriter::add_certificate(const inventory::CertificateRecord& r, Renewal renewal) {
  const AlgorithmClass key_alg = classify_certificate_key(r);
  const std::string key_alg_ref = algorithm_ref(key_alg);
  const std::string sig_ref = algorithm_ref(classify_signature(r.signature_algorithm));

  // One component per distinct public key: keyed by the first 128 bits of its SHA-256.
  // A record without the key's hash (none should lack it) gets a key of its own.
  KeyId id;
  const std::string_view hash = r.key_sha256;
  const bool hashed = hash.size() >= 32 && parse_hex64(hash.substr(0, 16), id.hi) &&
                      parse_hex64(hash.substr(16, 16), id.lo);
  const std::string key_ref = std::string(kPublicKey) +
                              (hashed ? safe_ref_part(hash) : "of-" + safe_ref_part(r.fingerprint));
  if (!hashed || keys_.insert(id).second) {
    json material = {{"type", "public-key"},
                     {"state", "active"},
                     {"algorithmRef", key_alg_ref},
                     {"format", "SubjectPublicKeyInfo"}};
    if (!r.key_sha256.empty()) material["id"] = r.key_sha256;
    if (r.key_bits > 0) material["size"] = r.key_bits;
    component({{"type", "cryptographic-asset"},
               {"bom-ref", key_ref},
               {"name", key_alg.name + " public key"},
               {"cryptoProperties",
                {{"assetType", "related-crypto-material"},
                 {"relatedCryptoMaterialProperties", material}}}});
    dependency(key_ref, {key_alg_ref});
  }

  const std::string cert_ref = std::string(kCertificate) + safe_ref_part(r.fingerprint);
  json properties = json::array({property("certward:fingerprint", r.fingerprint),
                                 property("certward:serial", r.serial),
                                 property("certward:origin", inventory::origin_name(r.meta.origin)),
                                 property("certward:renewal", renewal_name(renewal))});
  if (r.meta.team) properties.push_back(property("certward:team", *r.meta.team));
  if (r.meta.owner) properties.push_back(property("certward:owner", *r.meta.owner));
  component({{"type", "cryptographic-asset"},
             {"bom-ref", cert_ref},
             {"name", r.common_name.empty() ? r.subject : r.common_name},
             {"cryptoProperties",
              {{"assetType", "certificate"},
               {"certificateProperties",
                {{"subjectName", r.subject},
                 {"issuerName", r.issuer},
                 {"notValidBefore", format_time(r.not_before)},
                 {"notValidAfter", format_time(r.not_after)},
                 {"signatureAlgorithmRef", sig_ref},
                 {"subjectPublicKeyRef", key_ref},
                 {"certificateFormat", "X.509"},
                 {"certificateExtension", "crt"}}}}},
             {"properties", properties}});
  dependency(cert_ref, {key_ref, sig_ref});
}

void CbomWriter::add_ssh_key(std::string_view fingerprint, std::string_view type, int bits,
                             SysTime first_seen, const std::optional<std::string>& team) {
  const AlgorithmClass alg = classify_ssh_key(type, bits);
  const std::string alg_ref = algorithm_ref(alg);
  const std::string ref = std::string(kSshKey) + safe_ref_part(fingerprint);
  json material = {{"type", "public-key"},
                   {"id", fingerprint},
                   {"state", "active"},
                   {"algorithmRef", alg_ref},
                   {"creationDate", format_time(first_seen)},
                   {"format", "SSH"}};
  if (bits > 0) material["size"] = bits;
  json properties = json::array({property("certward:ssh-key-type", type)});
  if (team) properties.push_back(property("certward:team", *team));
  component(
      {{"type", "cryptographic-asset"},
       {"bom-ref", ref},
       {"name", "SSH " + alg.name + " key " + std::string(fingerprint)},
       {"cryptoProperties",
        {{"assetType", "related-crypto-material"}, {"relatedCryptoMaterialProperties", material}}},
       {"properties", properties}});
  dependency(ref, {alg_ref});
}

Status CbomWriter::finish() {
  for (const auto& [ref, a] : algorithms_) {
    json props = {{"primitive", a.primitive},
                  {"cryptoFunctions", crypto_functions(a)},
                  {"nistQuantumSecurityLevel", a.nist_quantum_level}};
    if (!a.parameter_set.empty()) props["parameterSetIdentifier"] = a.parameter_set;
    if (!a.curve.empty()) props["curve"] = curve_name(a.curve);
    if (a.classical_bits > 0) props["classicalSecurityLevel"] = a.classical_bits;
    json crypto = {{"assetType", "algorithm"}, {"algorithmProperties", props}};
    if (!a.oid.empty()) crypto["oid"] = a.oid;
    component({{"type", "cryptographic-asset"},
               {"bom-ref", ref},
               {"name", a.name},
               {"cryptoProperties", crypto},
               {"properties", json::array({property("certward:quantum-vulnerable",
                                                    a.quantum_vulnerable ? "true" : "false")})}});
    dependency(ref, {});
  }
  out_ << "],\"dependencies\":[";
  if (std::fflush(deps_) != 0 || std::fseek(deps_, 0, SEEK_SET) != 0) {
    return fail(ErrorCode::kInternal, "the CBOM's temporary file failed");
  }
  char buf[1 << 16];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, deps_)) > 0;) out_.write(buf, n);
  if (std::ferror(deps_)) return fail(ErrorCode::kInternal, "the CBOM's temporary file failed");
  out_ << "]}\n";
  out_.flush();
  return ok();
}

}  // namespace certward::reports
