// Whether a requester recorded earlier still stands (AuthService::requester_stands): what an
// approval asks before it issues in that requester's name.

#include "auth/auth.h"

namespace certward::auth {
namespace {

// A role read back from the database that may issue; a role no longer known may not.
bool issues(std::string_view role) {
  auto r = parse_role(role);
  return r && role_allows(*r, Permission::kIssue);
}

}  // namespace

Status AuthService::requester_stands(store::Transaction& tx, const ca::Requester& who) const {
  if (who.principal.empty()) return ok();
  // A device that asked with an enrollment credential (a SCEP challenge) stands while the
  // credential is not revoked; its use was counted when the request was held.
  constexpr std::string_view kCredential = "enrollment-credential:";
  if (who.principal.starts_with(kCredential)) {
    CW_ASSIGN_OR_RETURN(auto c,
                        tx.query_one("SELECT revoked_at FROM enrollment_credentials WHERE id = ?",
                                     store::params(who.principal.substr(kCredential.size()))));
    if (!c || !c->is_null(0))
      return fail(ErrorCode::kPolicyRejected, "the enrollment credential that asked (" +
                                                  who.principal.substr(kCredential.size()) +
                                                  ") has been revoked: reject the request");
    return ok();
  }
  // A device that asked by signing with a certificate issued here (an EST, SCEP or CMP
  // renewal) stands while that certificate is not revoked.
  constexpr std::string_view kCertificate = "certificate:";
  if (who.principal.starts_with(kCertificate)) {
    const std::string fp = who.principal.substr(kCertificate.size());
    CW_ASSIGN_OR_RETURN(auto c,
                        tx.query_one("SELECT revoked_at FROM certificates WHERE fingerprint = ?",
                                     store::params(fp)));
    if (!c || !c->is_null(0))
      return fail(ErrorCode::kPolicyRejected,
                  "the certificate that asked (" + fp + ") has been revoked: reject the request");
    return ok();
  }
  CW_ASSIGN_OR_RETURN(auto principal,
                      tx.query_one("SELECT disabled, role FROM principals WHERE name = ?",
                                   store::params(who.principal)));
  if (!principal) {
    return fail(ErrorCode::kPolicyRejected,
                "the requester '" + who.principal + "' no longer exists: reject the request");
  }
  if (principal->int64(0) != 0) {
    return fail(ErrorCode::kPolicyRejected,
                "the requester '" + who.principal + "' is disabled: reject the request");
  }
  // No API changes roles, but one changed in the database is obeyed, as at authentication.
  if (!issues(principal->text(1))) {
    return fail(ErrorCode::kPolicyRejected,
                "the requester '" + who.principal + "' may no longer issue: reject the request");
  }
  constexpr std::string_view kTokenActor = "token:";
  if (!who.actor.starts_with(kTokenActor)) return ok();
  CW_ASSIGN_OR_RETURN(auto token,
                      tx.query_one("SELECT revoked_at, role FROM tokens WHERE id = ?",
                                   store::params(who.actor.substr(kTokenActor.size()))));
  if (!token || !token->is_null(0)) {
    return fail(ErrorCode::kPolicyRejected,
                "the token " + who.actor + " that asked has been revoked: reject the request");
  }
  if (!issues(token->text(1))) {
    return fail(ErrorCode::kPolicyRejected,
                "the token " + who.actor + " that asked may no longer issue: reject the request");
  }
  return ok();
}

}  // namespace certward::auth
