// Whether a requester recorded earlier still stands (AuthService::requester_stands): what an
// approval asks before it issues in that requester's name.

#include "auth/auth.h"

namespace certward::auth {

Status AuthService::requester_stands(store::Transaction& tx, const ca::Requester& who) const {
  if (who.principal.empty()) return ok();
  CW_ASSIGN_OR_RETURN(auto principal, tx.query_one("SELECT disabled FROM principals WHERE name = ?",
                                                   store::params(who.principal)));
  if (!principal) {
    return fail(ErrorCode::kPolicyRejected,
                "the requester '" + who.principal + "' no longer exists: reject the request");
  }
  if (principal->int64(0) != 0) {
    return fail(ErrorCode::kPolicyRejected,
                "the requester '" + who.principal + "' is disabled: reject the request");
  }
  constexpr std::string_view kTokenActor = "token:";
  if (!who.actor.starts_with(kTokenActor)) return ok();
  CW_ASSIGN_OR_RETURN(auto token,
                      tx.query_one("SELECT revoked_at FROM tokens WHERE id = ?",
                                   store::params(who.actor.substr(kTokenActor.size()))));
  if (!token || !token->is_null(0)) {
    return fail(ErrorCode::kPolicyRejected,
                "the token " + who.actor + " that asked has been revoked: reject the request");
  }
  return ok();
}

}  // namespace certward::auth
