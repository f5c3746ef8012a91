#pragma once
// EST's operations over the one RA (RFC 7030): who the caller is (an enrollment credential in
// HTTP Basic, a manufacturer's certificate, or the certificate being renewed, both presented
// in TLS), what it may enroll (the credential's or the label's team, profile and authority),
// and the enrollment itself, recorded with the credential's use in the same transaction.
// Encoding and HTTP are routes.cc's. Thread-safe.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/rate_limit.h"
#include "auth/auth.h"
#include "auth/enrollment_credentials.h"
#include "ca/approval.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "ca/protocol_ra.h"
#include "common/config.h"
#include "inventory/inventory.h"
#include "x509/csr.h"

namespace certward::protocols::est {

struct Deps {
  const Clock& clock;
  const EstSettings& settings;
  const CaSettings& ca;
  const ca::ProfileSet& profiles;
  ca::AuthorityService& authorities;
  ca::Enrollment& ra;
  const inventory::Inventory& inventory;
  const audit::AuditLog& audit;  // re-enrollments: which certificate replaced which
  auth::AuthService& auth;
  auth::EnrollmentCredentials* credentials;  // null: Basic authentication is refused
  // Requests for a profile that requires approval are held here and answered 202 with
  // Retry-After until an approver decides (null: such requests are refused).
  ca::ApprovalService* approvals;
  store::Database& db;  // which held request a retry is
  // Signs the packages of server-generated keys returned encrypted (null: refused, 501).
  ca::ProtocolRa* protocol_ra;
};

// Why a request is refused, as EST answers it: kUnauthenticated → 401 with a Basic challenge,
// kForbidden → 403, kRateLimited → 429 with Retry-After, kBadRequest → 400, kNotFound → 404,
// kUnavailable → 503, kNotImplemented → 501; kInternal → 500. kHeld is no refusal: the request
// waits for an approver (202 with Retry-After, RFC 7030 4.2.3).
enum class Refusal : std::uint8_t {
  kHeld,
  kBadRequest,
  kUnauthenticated,
  kForbidden,
  kNotFound,
  kRateLimited,
  kUnavailable,
  kNotImplemented,
  kInternal
};

struct Failure {
  Refusal refusal = Refusal::kInternal;
  std::string message;  // for the client: names no secret
  std::chrono::seconds retry_after{0};
};

template <typename T>
using Outcome = std::expected<T, Failure>;

// What the client sent, as the routes decoded it.
struct Call {
  std::optional<std::string> label;          // nullopt: /.well-known/est itself
  std::optional<std::string> authorization;  // the Authorization header
  std::vector<Bytes> presented_chain;        // TLS client certificate, leaf first
};

enum class Operation : std::uint8_t { kEnroll, kReenroll, kServerKeygen };

struct Enrolled {
  x509::Certificate certificate;
  std::optional<crypto::PrivateKey> private_key;  // serverkeygen
};

class Service {
 public:
  explicit Service(Deps deps);

  static Status migrate(store::Database& db);

  // Reads the labels' manufacturer CA files and checks their profiles and authorities exist.
  // Errors stop the server's start.
  Status start();

  bool label_known(const std::string& label) const { return labels_.contains(label); }
  bool serverkeygen() const { return d_.settings.serverkeygen; }
  // The CA certificates of the label's authority: the issuing one first, up to its root.
  Outcome<std::vector<x509::Certificate>> ca_certificates(const Call& call);
  // The key types of the label's profile, for csrattrs (nullopt: no label profile, 204).
  Outcome<std::vector<crypto::KeyType>> csr_key_types(const Call& call) const;
  Outcome<Enrolled> enroll(const Call& call, Operation op, const x509::Csr& csr);
  // Who signs an encrypted server-generated key (RFC 7030 4.4.2): the RA certificate of the
  // label's authority.
  Outcome<std::shared_ptr<const ca::RaCredential>> key_signer(const Call& call);

 private:
  struct Label {
    EstLabelSettings settings;
    std::vector<x509::Certificate> manufacturer_cas;
  };
  // Who asks and what it may enroll.
  struct Caller {
    ca::Requester requester;
    std::string profile;
    std::optional<std::string> authority;
    std::optional<auth::CredentialInfo> credential;
    std::optional<inventory::CertificateRecord> renewing;
    std::string rate_key;
  };
  Outcome<Caller> authenticate(const Call& call, Operation op) const;
  // A request for a profile that requires approval: held, or, sent again by the same caller
  // for the same key and subject, where its approval stands (RFC 7030 4.2.3).
  Outcome<Enrolled> hold(const Caller& caller, const x509::Csr& csr, ca::EnrollmentRequest request);
  Outcome<Caller> by_credential(const Call& call, const Label* label) const;
  Outcome<Caller> by_manufacturer(const Call& call, const Label& label) const;
  Outcome<Caller> by_renewed(const Call& call) const;
  Outcome<ca::Requester> team_requester(const std::string& team, std::string actor) const;
  const Label* label_of(const Call& call) const;

  Deps d_;
  std::map<std::string, Label> labels_;
  api::RateLimiter limiter_;
};

}  // namespace certward::protocols::est
