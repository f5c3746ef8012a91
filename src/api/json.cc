#include "api/json.h"

#include "x509/names.h"

namespace certward::api {

nlohmann::json certificate_json(const x509::CertificateInfo& i) {
  nlohmann::json sans = nlohmann::json::array();
  for (const auto& s : i.sans) sans.push_back(x509::format_san(s));
  nlohmann::json j = {
      {"version", i.version},
      {"subject", i.subject},
      {"issuer", i.issuer},
      {"serial", i.serial_hex},
      {"not_before", format_time(i.not_before)},
      {"not_after", format_time(i.not_after)},
      {"sans", sans},
      {"key",
       {{"algorithm", crypto::key_algorithm_name(i.key.algorithm)},
        {"bits", i.key.bits},
        {"curve", i.key.curve}}},
      {"signature_algorithm", i.signature_algorithm},
      {"key_usage", i.key_usage},
      {"extended_key_usage", i.extended_key_usage},
      {"subject_key_id", i.subject_key_id},
      {"authority_key_id", i.authority_key_id},
      {"crl_distribution_points", i.crl_distribution_points},
      {"ocsp_urls", i.ocsp_urls},
      {"ca_issuers_urls", i.ca_issuers_urls},
      {"policies", i.policies},
      {"sha256", i.sha256_hex},
      {"sha1", i.sha1_hex},
      {"is_ca", i.is_ca()},
  };
  if (i.basic_constraints && i.basic_constraints->path_length) {
    j["path_length"] = *i.basic_constraints->path_length;
  }
  if (i.name_constraints) {
    j["name_constraints"] = {{"permitted", i.name_constraints->permitted},
                             {"excluded", i.name_constraints->excluded}};
  }
  if (!i.oddities.empty()) j["oddities"] = oddities_json(i.oddities);
  return j;
}

nlohmann::json oddities_json(std::span<const x509::ParseOddity> oddities) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& o : oddities) out.push_back({{"code", o.code}, {"detail", o.detail}});
  return out;
}

nlohmann::json sighting_json(const inventory::Sighting& s) {
  nlohmann::json j = {{"fingerprint", s.fingerprint},
                      {"kind", s.kind},
                      {"location", s.location},
                      {"details", s.details},
                      {"first_seen", format_time(s.first_seen)},
                      {"last_seen", format_time(s.last_seen)},
                      {"active", s.active()}};
  if (s.team) j["team"] = *s.team;
  if (s.gone_at) j["gone_at"] = format_time(*s.gone_at);
  return j;
}

nlohmann::json record_json(const inventory::CertificateRecord& r, SysTime now) {
  nlohmann::json sans = nlohmann::json::array();
  for (const auto& s : r.sans) sans.push_back(x509::format_san(s));
  auto opt = [](const std::optional<std::string>& v) -> nlohmann::json {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {
      {"fingerprint", r.fingerprint},
      {"serial", r.serial},
      {"subject", r.subject},
      {"common_name", r.common_name},
      {"issuer", r.issuer},
      {"sans", sans},
      {"not_before", format_time(r.not_before)},
      {"not_after", format_time(r.not_after)},
      {"status", inventory::status_name(r.status(now))},
      {"key_algorithm", r.key_algorithm},
      {"key_bits", r.key_bits},
      {"signature_algorithm", r.signature_algorithm},
      {"is_ca", r.is_ca},
      {"origin", inventory::origin_name(r.meta.origin)},
      {"authority", opt(r.meta.authority)},
      {"profile", opt(r.meta.profile)},
      {"owner", opt(r.meta.owner)},
      {"team", opt(r.meta.team)},
      {"tags", r.meta.tags},
      {"created_at", format_time(r.created_at)},
  };
  if (!r.key_curve.empty()) j["key_curve"] = r.key_curve;
  if (r.meta.channel) j["channel"] = *r.meta.channel;
  if (r.revoked_at) j["revoked_at"] = format_time(*r.revoked_at);
  if (r.revocation_reason) {
    j["revocation_reason"] = ca::revocation_reason_name(*r.revocation_reason);
  }
  if (r.invalidity_date) j["invalidity_date"] = format_time(*r.invalidity_date);
  if (!r.key_sha256.empty()) j["key_sha256"] = r.key_sha256;
  if (r.superseded_by) j["superseded_by"] = *r.superseded_by;
  if (r.replace_by) j["replace_by"] = format_time(*r.replace_by);
  if (r.revoke_at) j["revoke_at"] = format_time(*r.revoke_at);
  if (!r.oddities.empty()) j["oddities"] = oddities_json(r.oddities);
  return j;
}

nlohmann::json authority_json(const ca::AuthorityInfo& a) {
  nlohmann::json j = {{"name", a.name},
                      {"kind", ca::authority_kind_name(a.kind)},
                      {"parent", a.parent ? nlohmann::json(*a.parent) : nlohmann::json(nullptr)},
                      {"status", a.status},
                      {"key_type", a.key_type},
                      {"imported", a.imported},
                      {"created_at", format_time(a.created_at)},
                      {"certificate", certificate_json(a.certificate.info())},
                      {"key_storage", a.key_storage}};
  if (a.key_token) j["key_token"] = *a.key_token;
  if (a.key_label) j["key_label"] = *a.key_label;
  return j;
}

nlohmann::json cross_certificate_json(const ca::CrossCertificate& c) {
  nlohmann::json chain = nlohmann::json::array();
  std::string chain_pem;
  for (const auto& x : c.chain) {
    chain.push_back(certificate_json(x.info()));
    chain_pem += x.pem();
  }
  return {{"authority", c.authority},
          {"fingerprint", c.fingerprint()},
          {"created_at", format_time(c.created_at)},
          {"certificate", certificate_json(c.certificate.info())},
          {"certificate_pem", c.certificate.pem()},
          {"chain", chain},
          {"chain_pem", chain_pem}};
}

nlohmann::json profile_json(const ca::Profile& pr) {
  nlohmann::json keys = nlohmann::json::array();
  for (auto k : pr.key_types) keys.push_back(crypto::key_type_name(k));
  nlohmann::json ranges = nlohmann::json::array();
  for (const auto& r : pr.allowed_ip_ranges) ranges.push_back(r.text);
  return nlohmann::json{{"name", pr.name},
                        {"description", pr.description},
                        {"key_types", keys},
                        {"default_validity", format_duration(pr.default_validity)},
                        {"max_validity", format_duration(pr.max_validity)},
                        {"key_usage", pr.key_usage},
                        {"extended_key_usage", pr.extended_key_usage},
                        {"allowed_domains", pr.allowed_domains},
                        {"allowed_ip_ranges", ranges},
                        {"allow_wildcards", pr.allow_wildcards},
                        {"allow_ip_sans", pr.allow_ip_sans},
                        {"allow_email_sans", pr.allow_email_sans},
                        {"allow_uri_sans", pr.allow_uri_sans},
                        {"require_san", pr.require_san},
                        {"subject_template", pr.subject_template},
                        {"requires_approval", pr.requires_approval},
                        {"ca", pr.ca},
                        {"issuers", pr.issuers}};
}

nlohmann::json event_json(const audit::RecordedEvent& e) {
  return {{"seq", e.seq},
          {"time", format_time(e.time)},
          {"actor", e.event.actor},
          {"action", e.event.action},
          {"target_type", e.event.target_type},
          {"target_id", e.event.target_id},
          {"details", e.event.details},
          {"prev_hash", e.prev_hash},
          {"hash", e.hash}};
}

nlohmann::json verify_report_json(const audit::VerifyReport& r, bool checkpoint_given) {
  nlohmann::json j = {{"ok", r.ok}, {"events_checked", r.events_checked}};
  // The head is only vouched for when the whole chain verified.
  if (r.ok) {
    j["head"] = {{"seq", r.head.seq},
                 {"hash", r.head.hash},
                 {"checkpoint", std::to_string(r.head.seq) + ":" + r.head.hash}};
  } else {
    j["first_bad_seq"] = r.first_bad_seq.value_or(0);
    j["problem"] = r.problem;
  }
  if (checkpoint_given) j["checkpoint_matched"] = r.checkpoint_matched;
  return j;
}

nlohmann::json bulk_revocation_json(const ca::BulkRevokeResult& r, bool dry_run) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& c : r.certificates) {
    items.push_back({{"fingerprint", c.fingerprint},
                     {"serial", c.serial},
                     {"authority", c.authority},
                     {"team", c.team ? nlohmann::json(*c.team) : nlohmann::json(nullptr)}});
  }
  return {{"matched", r.matched},
          {"revoked", r.revoked},
          {"scheduled", r.scheduled},
          {"dry_run", dry_run},
          {"items", std::move(items)}};
}

nlohmann::json team_json(const auth::Team& t) {
  return {{"name", t.name},
          {"description", t.description},
          {"allowed_profiles", t.allowed_profiles},
          {"allowed_domains", t.allowed_domains},
          {"allowed_authorities", t.allowed_authorities},
          {"created_at", format_time(t.created_at)}};
}

nlohmann::json principal_json(const auth::Principal& p) {
  return {{"name", p.name},
          {"role", auth::role_name(p.role)},
          {"team", p.team ? nlohmann::json(*p.team) : nlohmann::json(nullptr)},
          {"disabled", p.disabled},
          {"created_at", format_time(p.created_at)}};
}

nlohmann::json token_json(const auth::TokenInfo& t) {
  auto opt_time = [](const std::optional<SysTime>& v) {
    return v ? nlohmann::json(format_time(*v)) : nlohmann::json(nullptr);
  };
  return {{"id", t.id},
          {"principal", t.principal},
          {"role", auth::role_name(t.role)},
          {"team", t.team ? nlohmann::json(*t.team) : nlohmann::json(nullptr)},
          {"description", t.description},
          {"created_at", format_time(t.created_at)},
          {"expires_at", opt_time(t.expires_at)},
          {"revoked_at", opt_time(t.revoked_at)}};
}

nlohmann::json mappings_json(std::string_view principal,
                             const std::vector<auth::CertificateMapping>& mappings) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& m : mappings) {
    items.push_back({{"fingerprint", m.fingerprint}, {"created_at", format_time(m.created_at)}});
  }
  return {{"principal", principal}, {"items", std::move(items)}};
}

nlohmann::json eab_key_json(const auth::EabKeyInfo& k) {
  using nlohmann::json;
  auto opt_time = [](const std::optional<SysTime>& t) {
    return t ? json(format_time(*t)) : json(nullptr);
  };
  auto opt_text = [](const std::optional<std::string>& t) { return t ? json(*t) : json(); };
  return {{"kid", k.kid},
          {"team", k.team},
          {"directory", opt_text(k.directory)},
          {"description", k.description},
          {"created_by", k.created_by},
          {"created_at", format_time(k.created_at)},
          {"account", opt_text(k.account)},
          {"bound_at", opt_time(k.bound_at)},
          {"revoked_at", opt_time(k.revoked_at)}};
}

}  // namespace certward::api
