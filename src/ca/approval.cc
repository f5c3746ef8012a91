#include "ca/approval.h"

#include <array>

#include "ca/approval_store.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "x509/names.h"

namespace certward::ca {
namespace {

using approval_detail::Held;
using nlohmann::json;

json optional_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// The principal behind a caller: what "the same requester" means, whatever token it uses.
const std::string& principal_of(const Requester& who) {
  return who.principal.empty() ? who.actor : who.principal;
}

bool is_requester(const ApprovalRequest& r, const Requester& who) {
  return r.requester == principal_of(who) || r.requested_by == who.actor;
}

Status check_pending(const ApprovalRequest& r) {
  if (r.status == ApprovalStatus::kExpired) {
    return fail(ErrorCode::kConflict,
                "approval request " + r.id + " expired at " + format_time(r.expires_at));
  }
  if (r.status != ApprovalStatus::kPending) {
    return fail(ErrorCode::kConflict, "approval request " + r.id + " is already " +
                                          std::string(approval_status_name(r.status)));
  }
  return ok();
}

// The code point at s[i] and its length in bytes; nullopt unless it is well-formed UTF-8:
// shortest form, no surrogate, at most U+10FFFF. Anything looser is refused, not repaired:
// the audit log's JSON would not take it, and other decoders read it as something else.
std::optional<std::pair<char32_t, std::size_t>> code_point_at(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return std::pair{static_cast<char32_t>(c), std::size_t{1}};
  const std::size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return std::nullopt;
  char32_t cp = c & (0x7f >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (d & 0x3f);
  }
  constexpr std::array<char32_t, 5> kShortest = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kShortest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
  return std::pair{cp, n};
}

// C0, DEL and C1 controls move terminals; U+2028 and U+2029 end lines; U+202A-U+202E and
// U+2066-U+2069 reorder what is shown after them, so a reason would read as something else.
bool moves_text(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// A reason is shown to people and written to the audit log: bounded, UTF-8, one line.
Status check_reason(std::string_view reason, bool required) {
  if (required && reason.find_first_not_of(' ') == std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "give a reason");
  }
  if (reason.size() > kMaxApprovalReason) {
    return fail(ErrorCode::kInvalidArgument,
                "reason is longer than " + std::to_string(kMaxApprovalReason) + " bytes");
  }
  for (std::size_t i = 0; i < reason.size();) {
    const auto next = code_point_at(reason, i);
    if (!next) return fail(ErrorCode::kInvalidArgument, "reason must be UTF-8");
    if (moves_text(next->first)) {
      return fail(ErrorCode::kInvalidArgument,
                  "reason must not hold control characters, line separators or bidirectional "
                  "controls");
    }
    i += next->second;
  }
  return ok();
}

}  // namespace

std::string_view approval_status_name(ApprovalStatus s) {
  switch (s) {
    case ApprovalStatus::kPending:
      return "pending";
    case ApprovalStatus::kIssued:
      return "issued";
    case ApprovalStatus::kRejected:
      return "rejected";
    case ApprovalStatus::kCancelled:
      return "cancelled";
    case ApprovalStatus::kExpired:
      return "expired";
  }
  return "pending";
}

Result<ApprovalStatus> parse_approval_status(std::string_view s) {
  for (ApprovalStatus v :
       {ApprovalStatus::kPending, ApprovalStatus::kIssued, ApprovalStatus::kRejected,
        ApprovalStatus::kCancelled, ApprovalStatus::kExpired}) {
    if (approval_status_name(v) == s) return v;
  }
  return fail(ErrorCode::kInvalidArgument,
              "unknown approval status (pending, issued, rejected, cancelled, expired)");
}

ApprovalService::ApprovalService(const Clock& clock, store::Database& db, Enrollment& ra,
                                 const ProfileSet& profiles, const audit::AuditLog& audit,
                                 std::chrono::seconds ttl)
    : clock_(clock), db_(db), ra_(ra), profiles_(profiles), audit_(audit), ttl_(ttl) {}

Status ApprovalService::migrate(store::Database& db) { return approval_detail::migrate(db); }

Result<EnrollOutcome> ApprovalService::enroll(EnrollmentRequest request) {
  auto profile = profiles_.find(request.profile);
  if (!profile || !(*profile)->requires_approval) {
    // The RA refuses an unknown profile with its own error.
    CW_ASSIGN_OR_RETURN(auto issued, ra_.enroll(std::move(request)));
    return EnrollOutcome(std::move(issued));
  }
  CW_ASSIGN_OR_RETURN(auto held, submit(std::move(request), **profile));
  return EnrollOutcome(std::move(held));
}

Result<ApprovalRequest> ApprovalService::hold(EnrollmentRequest request, const HoldStep& step) {
  CW_ASSIGN_OR_RETURN(const Profile* profile, profiles_.find(request.profile));
  if (!profile->requires_approval)
    return fail(ErrorCode::kInvalidArgument,
                "profile '" + profile->name + "' does not require approval");
  return submit(std::move(request), *profile, step);
}

Result<ApprovalRequest> ApprovalService::submit(EnrollmentRequest request, const Profile& profile,
                                                const HoldStep& step) {
  if (request.server_key) {
    return fail(ErrorCode::kInvalidArgument,
                "profile '" + profile.name +
                    "' requires approval: send a CSR (a key generated here would have to be kept "
                    "until an approver acts, and certward keeps no leaf keys)");
  }
  if (!request.csr && !request.public_key) return fail(ErrorCode::kInvalidArgument, "give a CSR");
  // Everything that would refuse the request at issuance refuses it now.
  CW_RETURN_IF_ERROR(ra_.check_with(request, Enrollment::ApprovalGate::kGranted));

  const SysTime now = clock_.now();
  ApprovalRequest v;
  v.id = to_hex(crypto::random_bytes(8));
  v.profile = profile.name;
  v.team = request.team ? request.team : request.requester.team;
  v.requester = principal_of(request.requester);
  v.requested_by = request.requester.actor;
  v.created_at = now;
  v.expires_at = now + ttl_;

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(approval_detail::insert(*tx, v, request));
  CW_ASSIGN_OR_RETURN(auto stored, approval_detail::find(*tx, v.id, now));
  if (!stored) return fail(ErrorCode::kInternal, "approval request vanished");
  const ApprovalRequest& s = stored->view;
  CW_RETURN_IF_ERROR(audit_.append(*tx, audit::Event{v.requested_by,
                                                     "approval.request",
                                                     "approval_request",
                                                     v.id,
                                                     {{"profile", s.profile},
                                                      {"team", optional_json(s.team)},
                                                      {"subject", s.subject},
                                                      {"sans", s.sans},
                                                      {"key", s.key},
                                                      {"channel", s.channel},
                                                      {"expires_at", format_time(s.expires_at)}}}));
  if (step) CW_RETURN_IF_ERROR(step(*tx, s));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info("approval_requested", {{"id", v.id}, {"profile", v.profile}});
  return stored->view;
}

Result<Held> ApprovalService::visible(store::Transaction& tx, std::string_view id,
                                      const Requester& who) const {
  auto not_found = [&] {
    return fail(ErrorCode::kNotFound, "no approval request '" + x509::escape_name_text(id) + "'");
  };
  // Ids are ours: anything else names nothing, and costs no query.
  if (id.size() != 16 || id.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return not_found();
  }
  CW_ASSIGN_OR_RETURN(auto held, approval_detail::find(tx, id, clock_.now()));
  if (!held) return not_found();
  // A team-scoped caller learns nothing of other teams' requests, not even that they exist.
  if (who.scope && held->view.team != who.team) return not_found();
  return std::move(*held);
}

Result<ApprovalRequest> ApprovalService::get(std::string_view id, const Requester& who) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto held, visible(*tx, id, who));
  return std::move(held.view);
}

Result<ApprovalPage> ApprovalService::list(const ApprovalFilter& filter,
                                           const Requester& who) const {
  std::optional<std::string> team = filter.team;
  if (who.scope) {
    if (team && team != who.team) {
      return fail(ErrorCode::kUnauthorized, who.actor + " sees only its own team's requests");
    }
    team = who.team.value_or("");
  }
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  return approval_detail::list(*tx, filter, team, clock_.now());
}

// Long enough for any signature (an HSM's included); a replica that dies holding a claim
// blocks the request's approval this long.
constexpr std::chrono::minutes kClaimTime{5};

Result<bool> ApprovalService::claim(const std::string& id, const std::string& token) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  const SysTime now = clock_.now();
  CW_ASSIGN_OR_RETURN(const bool claimed,
                      approval_detail::claim(*tx, id, token, now, now + kClaimTime));
  CW_RETURN_IF_ERROR(tx->commit());
  return claimed;
}

void ApprovalService::release(const std::string& id, const std::string& token) const {
  // Best effort: an unreleased claim ends by itself at its time.
  auto tx = db_.begin(store::TxMode::kWrite);
  if (tx && approval_detail::release_claim(**tx, id, token).has_value() &&
      (*tx)->commit().has_value()) {
    return;
  }
  log::warn("approval_claim_not_released", {{"id", id}});
}

Result<Approved> ApprovalService::approve(std::string_view id_text, const Requester& approver) {
  const std::string id(id_text);
  Held held;
  {
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(held, visible(*tx, id, approver));
  }
  if (is_requester(held.view, approver)) {
    return fail(ErrorCode::kUnauthorized, "approval request " + id + " was made by " +
                                              held.view.requester +
                                              ": the requester cannot approve its own request");
  }
  CW_RETURN_IF_ERROR(check_pending(held.view));
  // A requester disabled (or whose token was revoked) since it asked gets nothing more: its
  // requests wait to be rejected. Checked here so a refusal costs no signature, and again
  // below where the certificate is recorded, so a change made meanwhile is not missed.
  const Requester asker = held.request.requester;  // held.request moves into the RA below
  auto requester_stands = [&](store::Transaction& tx) -> Status {
    return requester_check_ ? requester_check_(tx, asker) : ok();
  };
  {
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
    CW_RETURN_IF_ERROR(requester_stands(*tx));
  }
  const std::string token = to_hex(crypto::random_bytes(8));
  CW_ASSIGN_OR_RETURN(const bool claimed, claim(id, token));
  if (!claimed) {
    // Another approval holds it, here or on another replica, or it left pending meanwhile:
    // refused before anything is signed.
    return fail(ErrorCode::kConflict, "approval request " + id + " is being approved");
  }
  struct Release {
    const ApprovalService* self;
    const std::string& id;
    const std::string& token;
    ~Release() { self->release(id, token); }
  } release_claim{this, id, token};

  // The decision commits with the certificate or not at all: the conditional UPDATE runs in
  // the RA's transaction, so a request decided or expired meanwhile stores no certificate.
  auto record = [&](store::Transaction& tx, const x509::Certificate& cert,
                    const crypto::PrivateKey*) -> Status {
    const auto& info = cert.info();
    CW_RETURN_IF_ERROR(requester_stands(tx));
    CW_ASSIGN_OR_RETURN(const bool moved,
                        approval_detail::transition(tx, id, ApprovalStatus::kIssued, approver.actor,
                                                    clock_.now(), std::nullopt, info.sha256_hex));
    if (!moved) {
      return fail(ErrorCode::kConflict,
                  "approval request " + id + " was decided, cancelled or expired meanwhile");
    }
    return audit_.append(tx, audit::Event{approver.actor,
                                          "approval.approve",
                                          "approval_request",
                                          id,
                                          {{"requester", held.view.requester},
                                           {"profile", held.view.profile},
                                           {"certificate", info.sha256_hex},
                                           {"serial", info.serial_hex}}});
  };
  CW_ASSIGN_OR_RETURN(auto issued, ra_.enroll_with(std::move(held.request), record,
                                                   Enrollment::ApprovalGate::kGranted));
  log::info("approval_approved",
            {{"id", id}, {"fingerprint", issued.certificate.info().sha256_hex}});
  CW_ASSIGN_OR_RETURN(auto view, get(id, Requester{.actor = approver.actor,
                                                   .team = {},
                                                   .scope = {},
                                                   .principal = approver.principal}));
  return Approved{std::move(view), std::move(issued)};
}

Result<ApprovalRequest> ApprovalService::reject(std::string_view id, std::string_view reason,
                                                const Requester& approver) {
  CW_RETURN_IF_ERROR(check_reason(reason, /*required=*/true));
  return decide(id, ApprovalStatus::kRejected, reason, approver);
}

Result<ApprovalRequest> ApprovalService::cancel(std::string_view id, std::string_view reason,
                                                const Requester& who) {
  CW_RETURN_IF_ERROR(check_reason(reason, /*required=*/false));
  return decide(id, ApprovalStatus::kCancelled, reason, who);
}

Result<ApprovalRequest> ApprovalService::decide(std::string_view id, ApprovalStatus to,
                                                std::string_view reason, const Requester& who) {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(Held held, visible(*tx, id, who));
  const ApprovalRequest& view = held.view;
  const bool own = is_requester(view, who);
  if (to == ApprovalStatus::kRejected && own) {
    return fail(ErrorCode::kUnauthorized, "approval request " + view.id + " was made by " +
                                              view.requester +
                                              ": the requester cannot reject its own request "
                                              "(cancel it instead)");
  }
  if (to == ApprovalStatus::kCancelled && !own) {
    return fail(ErrorCode::kUnauthorized,
                "only its requester cancels approval request " + view.id + " (reject it instead)");
  }
  CW_RETURN_IF_ERROR(check_pending(view));
  const std::optional<std::string> why =
      reason.empty() ? std::nullopt : std::optional<std::string>(reason);
  CW_ASSIGN_OR_RETURN(
      const bool moved,
      approval_detail::transition(*tx, view.id, to, who.actor, clock_.now(), why, std::nullopt));
  if (!moved) {
    return fail(ErrorCode::kConflict, "approval request " + view.id + " is no longer pending");
  }
  const std::string action =
      to == ApprovalStatus::kRejected ? "approval.reject" : "approval.cancel";
  CW_RETURN_IF_ERROR(
      audit_.append(*tx, audit::Event{who.actor,
                                      action,
                                      "approval_request",
                                      view.id,
                                      {{"requester", view.requester},
                                       {"profile", view.profile},
                                       {"reason", why ? json(*why) : json(nullptr)}}}));
  CW_ASSIGN_OR_RETURN(auto stored, approval_detail::find(*tx, view.id, clock_.now()));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info(to == ApprovalStatus::kRejected ? "approval_rejected" : "approval_cancelled",
            {{"id", view.id}});
  if (!stored) return fail(ErrorCode::kInternal, "approval request vanished");
  return stored->view;
}

json approval_json(const ApprovalRequest& r) {
  auto time_json = [](const std::optional<SysTime>& t) {
    return t ? json(format_time(*t)) : json(nullptr);
  };
  return {{"id", r.id},
          {"status", approval_status_name(r.status)},
          {"profile", r.profile},
          {"authority", optional_json(r.authority)},
          {"team", optional_json(r.team)},
          {"owner", optional_json(r.owner)},
          {"tags", r.tags},
          {"common_name", optional_json(r.common_name)},
          {"sans", r.sans},
          {"validity", r.validity ? json(format_duration(*r.validity)) : json(nullptr)},
          {"subject", r.subject},
          {"key", r.key},
          {"csr_pem", r.csr_pem},
          {"requester", r.requester},
          {"requested_by", r.requested_by},
          {"channel", r.channel},
          {"created_at", format_time(r.created_at)},
          {"expires_at", format_time(r.expires_at)},
          {"decided_by", optional_json(r.decided_by)},
          {"decided_at", time_json(r.decided_at)},
          {"reason", optional_json(r.reason)},
          {"certificate", optional_json(r.certificate)}};
}

}  // namespace certward::ca
