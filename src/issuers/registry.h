#pragma once
// Every issuer certward knows, behind the RA's IssuerDirectory: certward's own authorities
// (ca::AuthorityService) and the upstream CAs of the configuration ([issuers.<name>]: ACME,
// CFSSL), with the failover lists profiles name (ProfileSettings::issuers).
//
// A failover list tries its issuers in order; the first that makes the certificate does, and
// when that is not the first, the switch is told to the failover observer (the server raises
// an alert). Every upstream issuance and probe updates the issuer's health, which the API and
// CLI show.
//
// Thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ca/authority.h"
#include "common/config.h"
#include "common/mutex.h"
#include "issuers/state.h"
#include "issuers/upstream.h"

namespace certward::issuers {

struct IssuerHealth {
  std::string state = "unknown";  // "ok", "failing", "unknown" (not tried since start)
  std::optional<SysTime> checked_at;
  std::optional<SysTime> last_success;
  std::optional<SysTime> last_failure;
  std::optional<std::string> last_error;
};

struct IssuerView {
  std::string name;
  std::string type;      // "internal", "acme", "cfssl"
  std::string endpoint;  // the ACME directory, CFSSL's URL; an authority's subject
  IssuerSupport support;
  IssuerHealth health;
  std::vector<std::string> profiles;  // the profiles that list it
};
nlohmann::json issuer_json(const IssuerView& v);

struct FailoverEvent {
  std::string profile;
  std::string failed;  // the first issuer of the list
  std::string error;   // why it failed (the first one's error)
  std::string used;    // the issuer that issued
};
using FailoverObserver = std::function<void(const FailoverEvent&)>;

class IssuerRegistry final : public ca::IssuerDirectory {
 public:
  // Builds the configured upstream issuers: reads their secrets (environment or a file of
  // this user's, closed to others), their trust anchors and CA files. Errors: kMalformed or
  // kNotFound naming the issuer and what is wrong (the server does not start).
  static Result<std::unique_ptr<IssuerRegistry>> create(
      const Clock& clock, store::Database& db, const crypto::KeyWrapper& wrapper,
      ca::AuthorityService& authorities, const Config& config,
      const std::map<std::string, std::string>& env);

  // ca::IssuerDirectory.
  Result<std::shared_ptr<const ca::Issuer>> issuer(std::string_view name) override;
  const std::string& default_issuer() const override { return authorities_.default_issuer(); }
  Result<std::shared_ptr<const ca::Issuer>> issuer_list(std::span<const std::string> names,
                                                        std::string_view profile) override;

  // Every issuer: the authorities that may sign leaves, then the upstream ones.
  Result<std::vector<IssuerView>> list() const;
  // Errors: kNotFound.
  Result<IssuerView> describe(std::string_view name) const;
  // Probes an upstream issuer now (an authority: whether it may issue) and records the result.
  Result<IssuerView> check(std::string_view name);
  // When the upstream issuer that made `certificate` asks for it to be renewed (ACME renewal
  // information); nullopt for authorities and CAs that do not say.
  Result<std::optional<SysTime>> renewal_time(std::string_view issuer,
                                              const x509::Certificate& certificate) const;
  // Whether `issuer` is an upstream CA that may tell when to renew (renewal_time may answer).
  bool offers_renewal_info(std::string_view issuer) const;

  Http01Board& http01() { return http01_; }
  // REQUIRES: set before serving (read without a lock).
  void set_failover_observer(FailoverObserver observer) { observer_ = std::move(observer); }

  // For the failover list (internal).
  void record(const std::string& name, const Status& outcome);
  void failed_over(const FailoverEvent& event) const;

  IssuerRegistry(const Clock& clock, store::Database& db, const crypto::KeyWrapper& wrapper,
                 ca::AuthorityService& authorities, const Config& config);

 private:
  IssuerView view_of(const UpstreamIssuer& u) const;
  std::vector<std::string> profiles_listing(std::string_view name) const;

  const Clock& clock_;
  ca::AuthorityService& authorities_;
  const Config& config_;
  AccountVault accounts_;
  Http01Board http01_;
  std::map<std::string, std::shared_ptr<UpstreamIssuer>, std::less<>> upstream_;
  FailoverObserver observer_;
  mutable common::Mutex mu_;
  std::map<std::string, IssuerHealth, std::less<>> health_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::issuers
