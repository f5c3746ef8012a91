// The delivery and outcome documents of agent deployments. Both sides bound every string
// before looking at it further: what is refused is refused whole, never repaired.

#include "lifecycle/agent_wire.h"

#include <algorithm>
#include <initializer_list>

#include "x509/bundle.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxCertificatePem = 64 * 1024;
constexpr std::size_t kMaxChainPem = 256 * 1024;
constexpr std::size_t kMaxKeyPem = 16 * 1024;
constexpr std::size_t kMaxChain = 8;
constexpr std::size_t kMaxSteps = 16;
constexpr std::size_t kMaxDetail = 1024;
constexpr std::int64_t kMaxTookMs = 24LL * 3600 * 1000;

std::unexpected<Error> malformed(std::string message) {
  return fail(ErrorCode::kMalformed, std::move(message));
}
std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::kInvalidArgument, std::move(message));
}

Status only_members(const json& j, std::string_view what,
                    std::initializer_list<std::string_view> allowed) {
  if (!j.is_object()) return malformed(std::string(what) + " must be an object");
  for (const auto& item : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      return malformed(std::string(what) + " has an unknown member");
    }
  }
  return ok();
}

Result<std::string> member_string(const json& j, const char* key, std::size_t max) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return malformed(std::string("member \"") + key + "\" must be a string");
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) return invalid(std::string("member \"") + key + "\" is too long");
  return s;
}

bool lower_hex(std::string_view s, std::size_t min, std::size_t max) {
  return s.size() >= min && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_pem(std::string_view s) { return s.starts_with("-----BEGIN "); }

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Printable and bounded: control characters become spaces.
std::string single_line(std::string_view s) {
  std::string out(s.substr(0, kMaxDetail));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

std::optional<ErrorCode> error_code_named(std::string_view name) {
  for (auto v = static_cast<std::uint16_t>(ErrorCode::kMalformed);
       v <= static_cast<std::uint16_t>(ErrorCode::kInvalidArgument); ++v) {
    const auto code = static_cast<ErrorCode>(v);
    if (error_code_name(code) == name) return code;
  }
  return std::nullopt;
}

bool known_step(std::string_view name) {
  for (std::string_view n :
       {"write", "copy", "reload", "verify", "restore", "reload-after-restore", "check"}) {
    if (n == name) return true;
  }
  return false;
}

Result<deploy::Step> parse_step(const json& j) {
  CW_RETURN_IF_ERROR(only_members(j, "a step", {"name", "ok", "detail", "took_ms"}));
  deploy::Step s;
  CW_ASSIGN_OR_RETURN(s.name, member_string(j, "name", 32));
  if (!known_step(s.name)) return invalid("unknown step name");
  auto ok_it = j.find("ok");
  if (ok_it == j.end() || !ok_it->is_boolean()) return malformed("a step needs ok (a boolean)");
  s.ok = ok_it->get<bool>();
  if (j.contains("detail")) {
    if (!j.at("detail").is_string()) return malformed("a step's detail must be a string");
    s.detail = single_line(j.at("detail").get_ref<const std::string&>());
  }
  if (j.contains("took_ms")) {
    const json& t = j.at("took_ms");
    if (!t.is_number_integer() || t.get<std::int64_t>() < 0 || t.get<std::int64_t>() > kMaxTookMs) {
      return invalid("a step's took_ms must be a whole number of milliseconds up to a day");
    }
    s.took = std::chrono::milliseconds(t.get<std::int64_t>());
  }
  return s;
}

}  // namespace

json agent_delivery_json(std::string_view id, std::string_view managed,
                         const deploy::TargetSpec& target, const x509::Certificate& certificate,
                         const std::vector<x509::Certificate>& chain, std::string_view key_pem,
                         SysTime deadline) {
  return {{"id", id},
          {"managed", managed},
          {"fingerprint", certificate.info().sha256_hex},
          {"target", deploy::target_spec_json(target)},
          {"certificate", certificate.pem()},
          {"chain", x509::to_pem(chain)},
          {"key", key_pem},
          {"deadline", format_time(deadline)}};
}

Result<AgentDelivery> parse_agent_delivery(const json& j) {
  CW_RETURN_IF_ERROR(only_members(
      j, "the deployment",
      {"id", "managed", "fingerprint", "target", "certificate", "chain", "key", "deadline"}));
  CW_ASSIGN_OR_RETURN(std::string id, member_string(j, "id", 64));
  if (!lower_hex(id, 16, 64)) return invalid("the deployment's id is not an id");
  CW_ASSIGN_OR_RETURN(std::string managed, member_string(j, "managed", 63));
  if (managed.empty()) return invalid("the deployment names no managed certificate");
  for (char c : managed) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      return invalid("the deployment's managed certificate name is not a name");
    }
  }
  CW_ASSIGN_OR_RETURN(std::string fingerprint, member_string(j, "fingerprint", 64));
  if (!lower_hex(fingerprint, 64, 64)) return invalid("the fingerprint is not a SHA-256");
  if (!j.contains("target")) return malformed("the deployment has no target");
  CW_ASSIGN_OR_RETURN(auto target, deploy::parse_target_spec(j.at("target")));
  if (target.kind != deploy::TargetKind::kAgent) {
    return invalid("the deployment's target is not an agent target");
  }

  CW_ASSIGN_OR_RETURN(std::string cert_pem, member_string(j, "certificate", kMaxCertificatePem));
  if (!is_pem(cert_pem)) return malformed("the certificate is not PEM");
  CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(bytes_of(cert_pem)));
  if (certs.size() != 1) return malformed("the certificate must be exactly one certificate");
  if (certs[0].info().sha256_hex != fingerprint) {
    return invalid("the certificate is not the one the fingerprint names");
  }

  CW_ASSIGN_OR_RETURN(std::string chain_pem, member_string(j, "chain", kMaxChainPem));
  std::vector<x509::Certificate> chain;
  if (!chain_pem.empty()) {
    if (!is_pem(chain_pem)) return malformed("the chain is not PEM");
    CW_ASSIGN_OR_RETURN(chain, x509::parse_certificates(bytes_of(chain_pem)));
    if (chain.size() > kMaxChain) return invalid("the chain has more than 8 certificates");
  }

  CW_ASSIGN_OR_RETURN(std::string key_text, member_string(j, "key", kMaxKeyPem));
  crypto::SecretBytes key_pem = crypto::SecretBytes::take(key_text);
  if (!is_pem(key_pem.chars())) {
    return malformed("the key is not PEM");
  }
  auto key = crypto::parse_private_key(key_pem.span());
  if (!key) return malformed("the key does not parse");
  if (!crypto::same_public_key(key->get(), certs[0].public_key())) {
    return invalid("the key is not the certificate's");
  }

  std::optional<SysTime> deadline;
  if (j.contains("deadline")) {
    CW_ASSIGN_OR_RETURN(std::string text, member_string(j, "deadline", 64));
    auto t = parse_time(text);
    if (!t) return invalid("the deadline is not a time");
    deadline = *t;
  }
  return AgentDelivery{.id = std::move(id),
                       .managed = std::move(managed),
                       .fingerprint = std::move(fingerprint),
                       .target = std::move(target),
                       .certificate = std::move(certs[0]),
                       .chain = std::move(chain),
                       .key = *std::move(key),
                       .deadline = deadline};
}

json agent_outcome_json(const deploy::Outcome& o) {
  json j = deploy::outcome_json(o);
  j.erase("started");
  return j;
}

Result<deploy::Outcome> parse_agent_outcome(const json& j) {
  CW_RETURN_IF_ERROR(
      only_members(j, "the outcome", {"deployed", "rolled_back", "steps", "error", "started"}));
  deploy::Outcome o;
  auto deployed = j.find("deployed");
  if (deployed == j.end() || !deployed->is_boolean()) {
    return malformed("the outcome needs deployed (a boolean)");
  }
  o.deployed = deployed->get<bool>();
  if (auto rb = j.find("rolled_back"); rb != j.end()) {
    if (!rb->is_boolean()) return malformed("rolled_back must be a boolean");
    o.rolled_back = rb->get<bool>();
  }
  if (auto started = j.find("started"); started != j.end() && !started->is_string()) {
    return malformed("started must be a string");
  }
  auto steps = j.find("steps");
  if (steps == j.end() || !steps->is_array()) return malformed("the outcome needs steps (a list)");
  if (steps->size() > kMaxSteps) return invalid("more than 16 steps");
  for (const auto& s : *steps) {
    CW_ASSIGN_OR_RETURN(auto step, parse_step(s));
    o.steps.push_back(std::move(step));
  }
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    CW_RETURN_IF_ERROR(only_members(*e, "the error", {"code", "message"}));
    CW_ASSIGN_OR_RETURN(std::string code, member_string(*e, "code", 32));
    auto c = error_code_named(code);
    if (!c) return invalid("unknown error code");
    CW_ASSIGN_OR_RETURN(std::string message, member_string(*e, "message", 4096));
    o.error = Error{*c, single_line(message)};
  }
  const bool all_ok =
      std::all_of(o.steps.begin(), o.steps.end(), [](const auto& s) { return s.ok; });
  if (o.deployed && (o.error || !all_ok)) {
    return invalid("a deployment with an error or a failed step is not deployed");
  }
  if (!o.deployed && !o.error) return invalid("a failed deployment needs its error");
  if (o.deployed && o.rolled_back) return invalid("a deployment is rolled back or deployed");
  return o;
}

}  // namespace certward::lifecycle
