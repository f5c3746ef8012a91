#include "protocols/est/service.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/file.h"
#include "common/log.h"
#include "http/http.h"
#include "protocols/enrollment/rules.h"
#include "store/schema.h"
#include "x509/bundle.h"
#include "x509/verify.h"

namespace certward::protocols::est {
namespace {

Failure failure(Refusal r, std::string message) { return Failure{r, std::move(message), {}}; }

constexpr store::Migration kMigrations[] = {
    {1, "est_holds",
     R"sql(
CREATE TABLE est_holds (
  approval TEXT PRIMARY KEY,
  caller TEXT NOT NULL,
  key_sha256 TEXT NOT NULL,
  subject TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX est_holds_caller ON est_holds (caller, key_sha256);
)sql"},
};

// How long a client is asked to wait before asking again whether its request was approved.
constexpr std::chrono::seconds kHeldRetryAfter{60};

std::string key_sha256(const x509::Csr& csr) {
  const Bytes spki = [&] {
    unsigned char* buf = nullptr;
    const int n = i2d_PUBKEY(csr.public_key(), &buf);
    Bytes out(buf, buf + std::max(n, 0));
    OPENSSL_free(buf);
    return out;
  }();
  return to_hex(crypto::sha256(spki));
}

// The RA's and the stores' errors as EST answers them.
Failure from_error(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kMalformed:
    case ErrorCode::kBadSignature:
      return failure(Refusal::kBadRequest, e.message);
    case ErrorCode::kUnauthorized:
    case ErrorCode::kPolicyRejected:
    case ErrorCode::kConflict:
      return failure(Refusal::kForbidden, e.message);
    case ErrorCode::kNotFound:
      return failure(Refusal::kForbidden, e.message);
    case ErrorCode::kUnavailable:
      return failure(Refusal::kUnavailable, "the service is unavailable; retry later");
    default:
      return failure(Refusal::kInternal, "the request could not be processed");
  }
}

}  // namespace

Service::Service(Deps deps)
    : d_(deps), limiter_(deps.settings.requests_per_second, deps.settings.burst) {}

const store::SchemaModule kSchema{"est", kMigrations};

Status Service::migrate(store::Database& db) { return db.migrate("est", kMigrations); }

Status Service::start() {
  for (const auto& [name, l] : d_.settings.labels) {
    Label label{l, {}};
    CW_ASSIGN_OR_RETURN(const ca::Profile* profile, d_.profiles.find(l.profile));
    if (profile->ca || profile->internal)
      return fail(ErrorCode::kMalformed,
                  "est.labels." + name + ": profile '" + l.profile + "' is not for end entities");
    if (!l.authority.empty()) {
      if (auto a = d_.authorities.info(l.authority); !a)
        return fail(ErrorCode::kMalformed, "est.labels." + name + ": " + a.error().message);
    }
    if (!l.manufacturer_ca_file.empty()) {
      CW_ASSIGN_OR_RETURN(auto pem, read_file(l.manufacturer_ca_file));
      auto cas = x509::parse_certificates(as_bytes(pem));
      if (!cas || cas->empty())
        return fail(ErrorCode::kMalformed, "est.labels." + name + ".manufacturer_ca_file: " +
                                               (cas ? "no certificate" : cas.error().message));
      label.manufacturer_cas = std::move(*cas);
    }
    labels_.emplace(name, std::move(label));
  }
  return ok();
}

const Service::Label* Service::label_of(const Call& call) const {
  if (!call.label) return nullptr;
  auto it = labels_.find(*call.label);
  return it == labels_.end() ? nullptr : &it->second;
}

Outcome<std::vector<x509::Certificate>> Service::ca_certificates(const Call& call) {
  const Label* label = label_of(call);
  const std::string name = label && !label->settings.authority.empty() ? label->settings.authority
                                                                       : d_.ca.default_authority;
  auto authority = d_.authorities.load(name);
  if (!authority) return std::unexpected(from_error(authority.error()));
  std::vector<x509::Certificate> out{(*authority)->certificate()};
  for (const auto& c : (*authority)->chain()) {
    if (c.info().sha256_hex != out.front().info().sha256_hex) out.push_back(c);
  }
  return out;
}

Outcome<std::shared_ptr<const ca::RaCredential>> Service::key_signer(const Call& call) {
  if (d_.protocol_ra == nullptr)
    return std::unexpected(
        failure(Refusal::kNotImplemented, "encrypted server-generated keys are not offered here"));
  const Label* label = label_of(call);
  const std::string name = label && !label->settings.authority.empty() ? label->settings.authority
                                                                       : d_.ca.default_authority;
  auto ra = d_.protocol_ra->current(name);
  if (!ra) return std::unexpected(from_error(ra.error()));
  return *ra;
}

Outcome<std::vector<crypto::KeyType>> Service::csr_key_types(const Call& call) const {
  const Label* label = label_of(call);
  if (!label) return std::vector<crypto::KeyType>{};
  auto profile = d_.profiles.find(label->settings.profile);
  if (!profile) return std::unexpected(from_error(profile.error()));
  return (*profile)->key_types;
}

Outcome<ca::Requester> Service::team_requester(const std::string& team, std::string actor) const {
  auto scope = d_.auth.team_scope(team);
  if (!scope) {
    if (scope.error().code == ErrorCode::kNotFound)
      return std::unexpected(failure(Refusal::kForbidden, "the team no longer exists"));
    return std::unexpected(from_error(scope.error()));
  }
  return ca::Requester{.actor = std::move(actor), .team = team, .scope = *scope};
}

Outcome<Service::Caller> Service::by_credential(const Call& call, const Label* label) const {
  auto basic = http::basic_credentials(*call.authorization);
  if (!basic || d_.credentials == nullptr)
    return std::unexpected(failure(Refusal::kUnauthenticated, "give an EST credential"));
  auto found =
      d_.credentials->authenticate(auth::CredentialKind::kEst, basic->first, basic->second);
  if (!found) return std::unexpected(from_error(found.error()));
  if (!*found) {
    // The username is not logged: a client that swapped its fields would log its password.
    log::info("est_authentication_failed", {{"label", call.label.value_or("")}});
    return std::unexpected(failure(Refusal::kUnauthenticated, "unknown username or password"));
  }
  const auth::CredentialInfo& c = **found;
  // Whether it may still be used is enroll()'s question: a retry of a request held for
  // approval comes with the one-time credential the hold used up.
  // A credential made for a label is used there only; at a label, only credentials for the
  // label's profile (and authority) may enroll, so that the label's choice holds.
  if (c.label && c.label != call.label)
    return std::unexpected(failure(Refusal::kForbidden, "the credential is for another label"));
  if (label &&
      (c.profile != label->settings.profile || (!label->settings.authority.empty() && c.authority &&
                                                *c.authority != label->settings.authority)))
    return std::unexpected(
        failure(Refusal::kForbidden,
                "the credential is for another profile or authority than this label's"));
  auto requester = team_requester(c.team, "est:" + c.id);
  if (!requester) return std::unexpected(requester.error());
  requester->principal = "enrollment-credential:" + c.id;
  Caller caller{*requester, c.profile, c.authority, c, std::nullopt, "est:" + c.id};
  if (!caller.authority && label && !label->settings.authority.empty())
    caller.authority = label->settings.authority;
  return caller;
}

Outcome<Service::Caller> Service::by_manufacturer(const Call& call, const Label& label) const {
  auto leaf = x509::Certificate::from_der(call.presented_chain.front());
  if (!leaf) return std::unexpected(failure(Refusal::kUnauthenticated, "unreadable certificate"));
  std::vector<x509::Certificate> untrusted;
  for (std::size_t i = 1; i < call.presented_chain.size(); ++i) {
    if (auto c = x509::Certificate::from_der(call.presented_chain[i])) untrusted.push_back(*c);
  }
  x509::VerifyOptions options;
  options.at = d_.clock.now();
  options.purpose = x509::Purpose::kTlsClient;
  auto verified = x509::verify_chain(*leaf, untrusted, label.manufacturer_cas, options);
  if (!verified) {
    log::info("est_device_certificate_refused",
              {{"label", label.settings.name}, {"reason", verified.error().message}});
    return std::unexpected(
        failure(Refusal::kUnauthenticated, "the certificate presented is not a manufacturer's"));
  }
  const std::string fp = leaf->info().sha256_hex;
  auto requester = team_requester(label.settings.team, "est-device:" + fp.substr(0, 16));
  if (!requester) return std::unexpected(requester.error());
  requester->principal = "device:" + fp;
  std::optional<std::string> authority;
  if (!label.settings.authority.empty()) authority = label.settings.authority;
  return Caller{*requester,   label.settings.profile, authority,
                std::nullopt, std::nullopt,           "est-device:" + fp};
}

Outcome<Service::Caller> Service::by_renewed(const Call& call) const {
  if (call.presented_chain.empty())
    return std::unexpected(failure(Refusal::kUnauthenticated,
                                   "present the certificate being renewed as the TLS client "
                                   "certificate"));
  const std::string fp = to_hex(crypto::sha256(call.presented_chain.front()));
  auto record = d_.inventory.get(fp);
  if (!record) return std::unexpected(from_error(record.error()));
  // TLS proved the client holds the certificate's key; the inventory says certward issued it.
  if (!*record || (*record)->meta.origin != inventory::Origin::kIssued ||
      !(*record)->meta.profile || !(*record)->meta.authority)
    return std::unexpected(
        failure(Refusal::kUnauthenticated, "the certificate presented was not issued here"));
  const inventory::CertificateRecord& old = **record;
  const SysTime now = d_.clock.now();
  // Only what was enrolled over EST renews over EST: a certificate issued through the API, the
  // CLI or to certward itself (its serving certificate) is renewed the way it was issued.
  if (old.meta.channel != std::optional<std::string>(ca::channel_name(ca::Channel::kEst)))
    return std::unexpected(
        failure(Refusal::kForbidden, "the certificate presented was not enrolled over EST"));
  if (old.revoked_at)
    return std::unexpected(failure(Refusal::kForbidden, "the certificate presented is revoked"));
  if (old.superseded_by)
    return std::unexpected(
        failure(Refusal::kForbidden, "the certificate presented has been renewed already"));
  if (old.not_after <= now || old.not_before > now)
    return std::unexpected(
        failure(Refusal::kForbidden, "the certificate presented is not valid now"));
  auto profile = d_.profiles.find(*old.meta.profile);
  if (!profile || (*profile)->ca || (*profile)->internal || old.is_ca)
    return std::unexpected(
        failure(Refusal::kForbidden, "the certificate presented cannot be renewed over EST"));
  ca::Requester requester{
      .actor = "est-renewal:" + fp.substr(0, 16), .team = std::nullopt, .scope = std::nullopt};
  if (old.meta.team) {
    auto r = team_requester(*old.meta.team, requester.actor);
    if (!r) return std::unexpected(r.error());
    requester = *r;
  }
  requester.principal = "certificate:" + fp;
  return Caller{requester, *old.meta.profile,  old.meta.authority, std::nullopt,
                old,       "est-renewal:" + fp};
}

Outcome<Service::Caller> Service::authenticate(const Call& call, Operation op) const {
  const Label* label = label_of(call);
  if (call.label && !label) return std::unexpected(failure(Refusal::kNotFound, "unknown label"));
  if (op == Operation::kReenroll) return by_renewed(call);
  if (call.authorization) return by_credential(call, label);
  if (!call.presented_chain.empty() && label && !label->manufacturer_cas.empty())
    return by_manufacturer(call, *label);
  return std::unexpected(failure(Refusal::kUnauthenticated, "authentication required"));
}

Outcome<Enrolled> Service::hold(const Caller& caller, const x509::Csr& csr,
                                ca::EnrollmentRequest request) {
  const std::string key = key_sha256(csr);
  const std::string subject = csr.info().subject;
  auto tx = d_.db.begin(store::TxMode::kRead);
  if (!tx) return std::unexpected(from_error(tx.error()));
  auto held = (*tx)->query_one(
      "SELECT approval FROM est_holds WHERE caller = ? AND key_sha256 = ? AND subject = ? "
      "ORDER BY created_at DESC LIMIT 1",
      store::params(caller.rate_key, key, subject));
  tx->reset();
  if (!held) return std::unexpected(from_error(held.error()));
  if (*held) {
    auto a = d_.approvals->get(
        (*held)->text(0),
        ca::Requester{.actor = "est", .team = std::nullopt, .scope = std::nullopt});
    if (!a) return std::unexpected(from_error(a.error()));
    switch (a->status) {
      case ca::ApprovalStatus::kPending:
        return std::unexpected(
            Failure{Refusal::kHeld, "waiting for approval " + a->id, kHeldRetryAfter});
      case ca::ApprovalStatus::kIssued: {
        auto cert = d_.inventory.certificate(a->certificate.value_or(""));
        if (!cert) return std::unexpected(from_error(cert.error()));
        return Enrolled{*cert, std::nullopt};
      }
      default:
        return std::unexpected(
            failure(Refusal::kForbidden, "approval request " + a->id + " was " +
                                             std::string(ca::approval_status_name(a->status))));
    }
  }
  if (caller.credential && !caller.credential->usable(d_.clock.now()))
    return std::unexpected(
        failure(Refusal::kForbidden,
                "the credential is " + std::string(caller.credential->state(d_.clock.now()))));
  if (auto d = limiter_.allow(caller.rate_key); !d.allowed)
    return std::unexpected(
        Failure{Refusal::kRateLimited, "too many requests; retry later", d.retry_after});
  auth::EnrollmentCredentials* creds = d_.credentials;
  const std::optional<std::string> credential =
      caller.credential ? std::optional(caller.credential->id) : std::nullopt;
  const std::string who = caller.rate_key;
  const std::int64_t now = to_unix(d_.clock.now());
  auto stored = d_.approvals->hold(
      std::move(request), [&](store::Transaction& t, const ca::ApprovalRequest& h) -> Status {
        // The one-time credential is used by the request held; its use names the approval.
        if (credential)
          CW_RETURN_IF_ERROR(creds->consume(t, *credential, "approval:" + h.id, "est"));
        return t.execute(
            "INSERT INTO est_holds (approval, caller, key_sha256, subject, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            store::params(h.id, who, key, subject, now));
      });
  if (!stored) return std::unexpected(from_error(stored.error()));
  log::info("est_held", {{"approval", stored->id}});
  return std::unexpected(
      Failure{Refusal::kHeld, "waiting for approval " + stored->id, kHeldRetryAfter});
}

Outcome<Enrolled> Service::enroll(const Call& call, Operation op, const x509::Csr& csr) {
  auto caller = authenticate(call, op);
  if (!caller) return std::unexpected(caller.error());
  auto profile = d_.profiles.find(caller->profile);
  const bool held = profile && (*profile)->requires_approval && d_.approvals != nullptr &&
                    op != Operation::kServerKeygen && !caller->renewing;
  if (!held && caller->credential && !caller->credential->usable(d_.clock.now()))
    return std::unexpected(
        failure(Refusal::kForbidden,
                "the credential is " + std::string(caller->credential->state(d_.clock.now()))));
  if (!held) {
    if (auto d = limiter_.allow(caller->rate_key); !d.allowed)
      return std::unexpected(
          Failure{Refusal::kRateLimited, "too many requests; retry later", d.retry_after});
  }
  const x509::CsrInfo& info = csr.info();
  if (caller->credential &&
      !enrollment::names_expected_device(*caller->credential, info.subject_cn, info.sans))
    return std::unexpected(failure(Refusal::kForbidden,
                                   "the request names another device than the credential is for"));
  // RFC 7030 4.2.2: a re-enrollment keeps the subject and the subject alternative names.
  if (caller->renewing && !enrollment::keeps_names(info.subject, info.sans, *caller->renewing))
    return std::unexpected(failure(Refusal::kBadRequest,
                                   "a re-enrollment keeps the certificate's subject and "
                                   "subject alternative names (RFC 7030 4.2.2)"));

  ca::EnrollmentRequest request;
  if (op == Operation::kServerKeygen) {
    // The CSR's key only says which kind of key the client wants.
    auto type = info.key.key_type();
    if (!type)
      return std::unexpected(failure(Refusal::kBadRequest, "the request's key type is unknown"));
    request.server_key = *type;
    request.common_name = info.subject_cn.empty() ? std::nullopt : std::optional(info.subject_cn);
    request.sans = info.sans;
  } else {
    request.csr = csr;
  }
  if (caller->renewing) {
    request.common_name = caller->renewing->common_name.empty()
                              ? std::nullopt
                              : std::optional(caller->renewing->common_name);
    request.sans = caller->renewing->sans;
    request.owner = caller->renewing->meta.owner;
    request.tags = caller->renewing->meta.tags;
  }
  request.profile = caller->profile;
  request.authority = caller->authority;
  request.requester = caller->requester;
  request.channel = ca::Channel::kEst;
  request.team = caller->requester.team;
  if (caller->credential) request.tags.push_back("credential:" + caller->credential->id);

  if (held) return hold(*caller, csr, std::move(request));

  Result<ca::IssuedCertificate> issued;
  if (caller->credential) {
    auth::EnrollmentCredentials* creds = d_.credentials;
    const std::string id = caller->credential->id;
    issued = d_.ra.enroll_and_record(
        std::move(request), [creds, id](store::Transaction& tx, const x509::Certificate& cert,
                                        const crypto::PrivateKey*) {
          return creds->consume(tx, id, cert.info().sha256_hex, "est");
        });
  } else if (caller->renewing) {
    // The renewed certificate is superseded with its replacement's commit: of two renewals of
    // one certificate racing, the second finds it superseded and has nothing stored.
    const inventory::Inventory& inventory = d_.inventory;
    const audit::AuditLog& audit = d_.audit;
    const std::string old = caller->renewing->fingerprint;
    const std::string actor = caller->requester.actor;
    issued = d_.ra.enroll_and_record(
        std::move(request),
        [&inventory, &audit, old, actor](store::Transaction& tx, const x509::Certificate& cert,
                                         const crypto::PrivateKey*) -> Status {
          auto s = inventory.mark_superseded(tx, old, cert.info().sha256_hex);
          if (!s && s.error().code == ErrorCode::kConflict)
            return fail(ErrorCode::kConflict, "the certificate presented has been renewed already");
          CW_RETURN_IF_ERROR(s);
          // mark_superseded leaves the audit to its caller.
          audit::Event e;
          e.actor = actor;
          e.action = "est.reenroll";
          e.target_type = "certificate";
          e.target_id = old;
          e.details = {{"replaced_by", cert.info().sha256_hex}};
          return audit.append(tx, e);
        });
  } else {
    issued = d_.ra.enroll(std::move(request));
  }
  if (!issued) return std::unexpected(from_error(issued.error()));
  return Enrolled{issued->certificate, std::move(issued->private_key)};
}

}  // namespace certward::protocols::est
