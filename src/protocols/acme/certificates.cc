// Finalization and issuance through the RA (RFC 8555 7.4), certificate download (7.4.2),
// revocation (7.6) and renewal information (RFC 9773).

#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "common/encoding.h"
#include "common/log.h"
#include "protocols/acme/jws.h"
#include "protocols/acme/service.h"
#include "x509/bundle.h"
#include "x509/csr.h"

namespace certward::protocols::acme {
namespace {

// RFC 5280 reasons an ACME client may give (RFC 8555 7.6): not those a subscriber cannot know
// (cACompromise, aACompromise) nor the ones that are not final (certificateHold, removeFromCRL).
bool client_reason(int code) {
  return code == 0 || code == 1 || code == 3 || code == 4 || code == 5 || code == 9;
}

std::string identifier_text(const x509::SubjectAltName& s) { return s.value; }

// RFC 8555 7.4: the CSR must ask for exactly the order's identifiers.
Outcome<void> check_csr(const x509::CsrInfo& info, const std::vector<Identifier>& identifiers) {
  std::set<std::string> wanted;
  for (const auto& id : identifiers) wanted.insert(id.type + ":" + id.value);
  std::set<std::string> asked;
  for (const auto& san : info.sans) {
    if (san.type != x509::SanType::kDns && san.type != x509::SanType::kIp)
      return refuse("badCSR", "the CSR asks for a name type ACME does not validate");
    std::string value = identifier_text(san);
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    asked.insert(std::string(san.type == x509::SanType::kIp ? "ip:" : "dns:") + value);
  }
  if (!info.subject_cn.empty()) {
    std::string cn = info.subject_cn;
    std::transform(cn.begin(), cn.end(), cn.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!wanted.contains("dns:" + cn) && !wanted.contains("ip:" + cn))
      return refuse("badCSR", "the CSR's common name is not one of the order's identifiers");
    if (asked.empty()) asked.insert(wanted.contains("dns:" + cn) ? "dns:" + cn : "ip:" + cn);
  }
  if (asked != wanted)
    return refuse("badCSR", "the CSR's names differ from the order's identifiers");
  if (info.requests_ca) return refuse("badCSR", "the CSR asks for a CA certificate");
  return {};
}

}  // namespace

Result<SysTime> parse_rfc3339(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"
  int y, mo, d, h, mi, s;
  char rest[40] = {};
  const std::string str(text.substr(0, 64));
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%39s", &y, &mo, &d, &h, &mi, &s, rest) < 6)
    return fail(ErrorCode::kMalformed, "not an RFC 3339 time");
  std::string_view tail(rest);
  if (!tail.empty() && tail.front() == '.') {
    std::size_t i = 1;
    while (i < tail.size() && std::isdigit(static_cast<unsigned char>(tail[i]))) ++i;
    tail.remove_prefix(i);
  }
  long offset = 0;
  if (tail == "Z" || tail == "z") {
  } else if (tail.size() == 6 && (tail[0] == '+' || tail[0] == '-') && tail[3] == ':') {
    const int oh = (tail[1] - '0') * 10 + (tail[2] - '0');
    const int om = (tail[4] - '0') * 10 + (tail[5] - '0');
    offset = (oh * 60 + om) * 60 * (tail[0] == '-' ? -1 : 1);
  } else {
    return fail(ErrorCode::kMalformed, "not an RFC 3339 time");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 1970)
    return fail(ErrorCode::kMalformed, "not an RFC 3339 time");
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return from_unix(static_cast<std::int64_t>(timegm(&tm)) - offset);
}

std::string registered_domain(const Identifier& id) {
  if (id.type != "dns") return id.value;
  std::string v = id.value.starts_with("*.") ? id.value.substr(2) : id.value;
  const auto last = v.rfind('.');
  if (last == std::string::npos || last == 0) return v;
  const auto second = v.rfind('.', last - 1);
  return second == std::string::npos ? v : v.substr(second + 1);
}

Outcome<Reply> Service::finalize(const Context& ctx, const Account& account, std::string_view id,
                                 const nlohmann::json& payload) {
  if (!payload.is_object() || !payload.contains("csr") || !payload["csr"].is_string())
    return refuse("malformed", "finalize needs {\"csr\": base64url DER}");
  auto der = from_base64url(payload["csr"].get<std::string>());
  if (!der) return refuse("badCSR", "the CSR is not base64url");
  auto csr = x509::parse_csr(*der);
  if (!csr) return refuse("badCSR", csr.error().message);

  // Claimed in the shared transaction: of concurrent finalizes, one moves it to processing.
  auto ready = write<Order>([&](store::Transaction& tx) -> Outcome<Order> {
    Order order;
    auto found = find_order(tx, id);
    if (!found) return std::unexpected(problem_for(found.error()));
    if (!*found || (*found)->account != account.id) return refuse("notFound", "no such order");
    order = std::move(**found);
    Order shown = order;
    auto body = order_json(ctx, tx, shown);
    if (!body) return std::unexpected(body.error());
    if (shown.status != "ready")
      return refuse("orderNotReady", "the order is " + shown.status + ", not ready");
    if (auto ok_csr = check_csr(csr->info(), order.identifiers); !ok_csr)
      return std::unexpected(ok_csr.error());
    // What the RA would refuse about the key is the CSR's fault (RFC 8555 7.4: badCSR), and
    // leaves the order ready for a better one.
    auto profile = s_.profiles.find(order.profile);
    if (!profile) return refuse("serverInternal", "the order's profile is gone");
    if (!(*profile)->allows_key(csr->info().key))
      return refuse("badCSR", "the profile does not allow the CSR's key type or size");
    // RFC 8555 11.1: the account key must not become a certificate key.
    if (auto account_key = parse_jwk(account.jwk);
        account_key && same_key(*account_key, csr->public_key()))
      return refuse("badCSR", "the certificate key must differ from the account key");
    auto claimed = claim_order(tx, order.id, s_.clock.now());
    if (!claimed) return std::unexpected(problem_for(claimed.error()));
    if (!*claimed) return refuse("orderNotReady", "the order is being finalized already");
    return order;
  });
  if (!ready) return std::unexpected(ready.error());
  Order order = std::move(*ready);
  auto issued = issue(ctx, account, std::move(order), *csr);
  if (!issued) return std::unexpected(issued.error());
  auto tx = s_.db.begin(store::TxMode::kRead);
  if (!tx) return std::unexpected(problem_for(tx.error()));
  auto body = order_json(ctx, **tx, *issued);
  if (!body) return std::unexpected(body.error());
  Reply r;
  r.body = std::move(*body);
  r.location = ctx.url("/order/" + issued->id);
  return r;
}

Outcome<Order> Service::issue(const Context& ctx, const Account& account, Order order,
                              const x509::Csr& csr) {
  auto scope = scope_of(account);
  if (!scope) return std::unexpected(scope.error());
  ca::EnrollmentRequest req;
  req.csr = csr;
  req.profile = order.profile;
  if (!ctx.directory.settings.authority.empty()) req.authority = ctx.directory.settings.authority;
  if (order.not_after) {
    req.validity =
        std::chrono::duration_cast<std::chrono::seconds>(*order.not_after - s_.clock.now());
  }
  req.requester = requester_of(account, *scope);
  req.channel = ca::Channel::kAcme;
  req.team = account.team;
  auto issued = s_.ra.enroll(std::move(req));

  // The order records the outcome either way; a refusal by the RA is answered after that.
  std::optional<Problem> refused;
  if (!issued) refused = problem_for(issued.error());
  auto recorded = write<Order>([&](store::Transaction& tx) -> Outcome<Order> {
    audit::Event e;
    e.actor = "acme:" + account.id;
    e.target_type = "acme_order";
    e.target_id = order.id;
    if (!issued) {
      Problem p = problem_for(issued.error());
      if (issued.error().code == ErrorCode::kUnavailable) {
        // Nothing was issued: the order goes back to ready, and the client may retry.
        order.status = "pending";
      } else {
        order.status = "invalid";
        order.error = p.json();
      }
      e.action = order.status == "invalid" ? "acme.order.invalid" : "acme.order.retry";
      e.details = {{"error", issued.error().message}};
      if (auto s = update_order(tx, order); !s) return std::unexpected(problem_for(s.error()));
      if (auto s = s_.audit.append(tx, e); !s) return std::unexpected(problem_for(s.error()));
      return order;
    }
    const auto& cert = issued->certificate;
    std::vector<x509::Certificate> chain{cert};
    chain.insert(chain.end(), issued->chain.begin(), issued->chain.end());
    // A client installs what it downloads: the leaf and the intermediates, not the root.
    if (chain.size() > 1 && chain.back().info().self_issued) chain.pop_back();
    order.status = "valid";
    order.certificate = cert.info().sha256_hex;
    order.chain_pem = x509::to_pem(chain);
    if (auto s = update_order(tx, order); !s) return std::unexpected(problem_for(s.error()));
    std::set<std::string> domains;
    for (const auto& id : order.identifiers) domains.insert(registered_domain(id));
    for (const auto& d : domains) {
      if (auto s = record_domain_issuance(tx, d, order.id, s_.clock.now()); !s)
        return std::unexpected(problem_for(s.error()));
    }
    e.action = "acme.order.valid";
    e.details = {{"certificate", *order.certificate}};
    if (order.replaces) {
      // Two orders replacing one certificate both reached issuance: the first one supersedes
      // it; the second certificate stands on its own (it is issued and durable already).
      auto s = s_.inventory.mark_superseded(tx, *order.replaces, *order.certificate);
      if (s) {
        e.details["supersedes"] = *order.replaces;
      } else if (s.error().code != ErrorCode::kConflict) {
        return std::unexpected(problem_for(s.error()));
      }
    }
    if (auto s = s_.audit.append(tx, e); !s) return std::unexpected(problem_for(s.error()));
    return order;
  });
  if (!recorded) {
    // The certificate (if any) is issued and durable (the RA); only the order's record failed.
    log::error("acme_order_not_updated", {{"order", order.id}, {"error", recorded.error().detail}});
    return std::unexpected(recorded.error());
  }
  if (refused) return std::unexpected(*refused);
  return recorded;
}

Outcome<Reply> Service::certificate(const Context& ctx, const Account& account, std::string_view id,
                                    std::size_t alternate) {
  auto tx = s_.db.begin(store::TxMode::kRead);
  if (!tx) return std::unexpected(problem_for(tx.error()));
  auto order = find_order(**tx, id);
  if (!order) return std::unexpected(problem_for(order.error()));
  if (!*order || (*order)->account != account.id || !(*order)->chain_pem)
    return refuse("notFound", "no such certificate");
  const std::string& pem = *(*order)->chain_pem;
  auto alternates = s_.authorities.alternate_chains(**tx, pem);
  if (!alternates) return std::unexpected(problem_for(alternates.error()));
  if (alternate > alternates->size()) return refuse("notFound", "no such alternate chain");
  Reply r;
  r.raw = alternate == 0 ? pem : x509::to_pem((*alternates)[alternate - 1]);
  r.content_type = "application/pem-certificate-chain";
  const std::string base = ctx.url("/cert/" + std::string(id));
  for (std::size_t i = 0; i <= alternates->size(); ++i) {
    if (i == alternate) continue;
    r.links.push_back("<" + (i == 0 ? base : base + "/" + std::to_string(i)) +
                      ">;rel=\"alternate\"");
  }
  return r;
}

Outcome<Reply> Service::revoke(const Context& ctx, const Account* account, const SignerKey* key,
                               const nlohmann::json& payload) {
  if (!payload.is_object() || !payload.contains("certificate") ||
      !payload["certificate"].is_string())
    return refuse("malformed", "revokeCert needs {\"certificate\": base64url DER}");
  auto der = from_base64url(payload["certificate"].get<std::string>());
  if (!der) return refuse("malformed", "the certificate is not base64url");
  auto cert = x509::Certificate::from_der(*der);
  if (!cert) return refuse("malformed", "the certificate does not parse");
  int reason = 0;
  if (payload.contains("reason")) {
    const auto& r = payload["reason"];
    const bool small =
        r.is_number_unsigned()
            ? r.get<std::uint64_t>() <= 10
            : r.is_number_integer() && r.get<std::int64_t>() >= 0 && r.get<std::int64_t>() <= 10;
    if (!small) return refuse("badRevocationReason", "reason is an RFC 5280 reason code");
    reason = static_cast<int>(r.get<std::int64_t>());
    if (!client_reason(reason))
      return refuse("badRevocationReason", "reason " + std::to_string(reason) + " is not allowed");
  }
  const std::string fp = cert->info().sha256_hex;
  auto record = s_.inventory.get(fp);
  if (!record) return std::unexpected(problem_for(record.error()));
  if (!*record) return refuse("unauthorized", "certward did not issue this certificate");

  std::string actor;
  if (key) {
    // Signed by the certificate's own key: whoever holds it may revoke (RFC 8555 7.6).
    if (!same_key(key->key, cert->public_key()))
      return refuse("unauthorized", "the JWS is not signed by the certificate's key");
    actor = "acme:certificate-key";
  } else {
    // Signed by an account: the one that ordered it, or one that controls all its names now.
    auto tx = s_.db.begin(store::TxMode::kRead);
    if (!tx) return std::unexpected(problem_for(tx.error()));
    auto order = order_for_certificate(**tx, fp);
    if (!order) return std::unexpected(problem_for(order.error()));
    bool allowed = *order && (*order)->account == account->id;
    if (!allowed && !cert->info().sans.empty()) {
      allowed = true;
      for (const auto& san : cert->info().sans) {
        Identifier id{san.type == x509::SanType::kIp ? "ip" : "dns", san.value};
        const bool wildcard = id.value.starts_with("*.");
        if (wildcard) id.value = id.value.substr(2);
        auto authz = reusable_authorization(**tx, account->id, id, wildcard, s_.clock.now());
        if (!authz) return std::unexpected(problem_for(authz.error()));
        if (!*authz || (san.type != x509::SanType::kDns && san.type != x509::SanType::kIp)) {
          allowed = false;
          break;
        }
      }
    }
    if (!allowed) return refuse("unauthorized", "this account may not revoke this certificate");
    actor = "acme:" + account->id;
  }
  ca::RevokeRequest req;
  req.id = fp;
  req.reason = static_cast<ca::RevocationReason>(reason);
  req.requester = ca::Requester{.actor = actor, .team = std::nullopt, .scope = std::nullopt};
  req.channel = ca::Channel::kAcme;
  auto revoked = s_.revocation.revoke(req);
  if (!revoked) {
    if (revoked.error().code == ErrorCode::kConflict)
      return refuse("alreadyRevoked", "the certificate is already revoked");
    if (revoked.error().code == ErrorCode::kInvalidArgument ||
        revoked.error().code == ErrorCode::kNotFound)
      return refuse("unauthorized", revoked.error().message);
    return std::unexpected(problem_for(revoked.error()));
  }
  (void)ctx;
  Reply r;
  r.body = nullptr;
  return r;
}

Outcome<inventory::CertificateRecord> Service::find_by_cert_id(std::string_view cert_id) {
  // RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(serial DER, sign byte included)
  const auto dot = cert_id.find('.');
  if (dot == std::string_view::npos || cert_id.size() > 512)
    return refuse("malformed", "a certID is <AKI>.<serial> in base64url");
  auto aki = from_base64url(cert_id.substr(0, dot));
  auto serial = from_base64url(cert_id.substr(dot + 1));
  if (!aki || !serial || aki->empty() || serial->empty() || serial->size() > 21)
    return refuse("malformed", "a certID is <AKI>.<serial> in base64url");
  Bytes magnitude = *serial;
  while (magnitude.size() > 1 && magnitude.front() == 0) magnitude.erase(magnitude.begin());
  const std::string serial_hex = to_hex(magnitude);
  const std::string aki_hex = to_hex(*aki);
  auto authorities = s_.authorities.list();
  if (!authorities) return std::unexpected(problem_for(authorities.error()));
  for (const auto& a : *authorities) {
    if (a.certificate.info().subject_key_id != aki_hex) continue;
    auto status = s_.inventory.serial_status(a.name, serial_hex);
    if (!status) return std::unexpected(problem_for(status.error()));
    if (!*status) continue;
    auto record = s_.inventory.get((*status)->fingerprint);
    if (!record) return std::unexpected(problem_for(record.error()));
    if (*record) return std::move(**record);
  }
  return refuse("notFound", "no certificate with this certID");
}

Outcome<std::string> Service::replaced_certificate(const Context& ctx, store::Transaction& tx,
                                                   const Account& account, std::string_view cert_id,
                                                   const std::vector<Identifier>& identifiers) {
  auto record = find_by_cert_id(cert_id);
  if (!record) {
    if (record.error().type == "notFound")
      return refuse("malformed", "replaces names no certificate certward issued");
    return std::unexpected(record.error());
  }
  auto order = order_for_certificate(tx, record->fingerprint);
  if (!order) return std::unexpected(problem_for(order.error()));
  if (!*order || (*order)->account != account.id)
    return refuse("unauthorized", "replaces names a certificate this account was not issued");
  const bool shared = std::any_of(identifiers.begin(), identifiers.end(), [&](const auto& id) {
    return std::find((*order)->identifiers.begin(), (*order)->identifiers.end(), id) !=
           (*order)->identifiers.end();
  });
  if (!shared)
    return refuse("malformed", "the order shares no identifier with the certificate it replaces");
  if (record->superseded_by)
    return refuse("alreadyReplaced", "the certificate has been replaced already");
  // RFC 9773 5: only an order that is not invalid blocks another replacement; a pending one
  // whose authorization failed or expired is invalid already.
  auto replacing = orders_replacing(tx, record->fingerprint, s_.clock.now());
  if (!replacing) return std::unexpected(problem_for(replacing.error()));
  for (auto& other : *replacing) {
    auto shown = order_json(ctx, tx, other);
    if (!shown) return std::unexpected(shown.error());
    if (other.status != "invalid")
      return refuse("alreadyReplaced", "another order already replaces that certificate");
  }
  return record->fingerprint;
}

Outcome<Reply> Service::renewal_info(const Context& ctx, std::string_view cert_id) {
  (void)ctx;
  auto record = find_by_cert_id(cert_id);
  if (!record) return std::unexpected(record.error());
  const SysTime now = s_.clock.now();
  SysTime start, end;
  std::string explanation;
  if (record->revoked_at || (record->replace_by && *record->replace_by <= now)) {
    // RFC 9773 4.2: a window in the past tells the client to renew at once.
    end = now - std::chrono::minutes(1);
    start = end - std::chrono::hours(1);
  } else {
    // The last third of the lifetime: renew when a third is left, and before a quarter is.
    const auto life = record->not_after - record->not_before;
    start = record->not_after - life / 3;
    end = record->not_after - life / 4;
  }
  Reply r;
  r.body = {{"suggestedWindow", {{"start", format_time(start)}, {"end", format_time(end)}}}};
  r.retry_after = 6 * 3600;
  return r;
}

}  // namespace certward::protocols::acme
