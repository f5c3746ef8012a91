#pragma once
// The enrollment protocols' registration authority certificate, one per issuing authority:
// what SCEP clients encrypt their requests to and verify answers by (RFC 8894 2.1: an RA
// certificate beside the CA's, since the CA's own key must never decrypt or sign protocol
// messages), and what signs CMP answers and EST's encrypted server-generated keys.
//
// SCEP's key transport is RSA, so the key is RSA-2048 whatever the authority's own key is,
// with digitalSignature and keyEncipherment and id-kp-cmcRA. It is issued by the authority
// through the RA (Channel::kSystem, the internal protocol-ra profile), and its key is sealed
// with the master key and stored with it in the transaction that records the certificate:
// every replica answers with the same RA, and a client that fetched the certificate from one
// replica may send its request to another. It is renewed once two thirds of its life have
// passed; earlier ones stay usable for decryption while valid, since a client may encrypt to
// the RA certificate it fetched before the renewal. Thread-safe.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ca/authority.h"
#include "ca/enrollment.h"
#include "common/mutex.h"

namespace certward::ca {

struct RaCredential {
  std::string authority;
  x509::Certificate certificate;
  std::vector<x509::Certificate> chain;  // the authority's certificate first, up to the root
  std::shared_ptr<const crypto::PrivateKey> key;
  SysTime renew_at{};
};

class ProtocolRa {
 public:
  static constexpr std::string_view kProfile = "protocol-ra";

  // Everything passed outlives this object.
  ProtocolRa(const Clock& clock, store::Database& db, Enrollment& ra, AuthorityService& authorities,
             const inventory::Inventory& inventory, const crypto::KeyWrapper& wrapper);

  static Status migrate(store::Database& db);

  // The authority's RA credential for signing and for clients to encrypt to: the newest
  // stored one, or a new one issued when there is none or it is due for renewal.
  // Errors: kNotFound (no such authority), kPolicyRejected (the authority may not issue it:
  // a root, a disabled authority), kUnavailable.
  Result<std::shared_ptr<const RaCredential>> current(std::string_view authority);
  // Every stored RA credential of the authority valid now and not revoked, newest first: the
  // keys a request encrypted by a client may be opened with.
  Result<std::vector<std::shared_ptr<const RaCredential>>> decryptors(std::string_view authority);

 private:
  Result<std::vector<std::shared_ptr<const RaCredential>>> load(std::string_view authority) const;
  Result<std::shared_ptr<const RaCredential>> issue(std::string_view authority);

  const Clock& clock_;
  store::Database& db_;
  Enrollment& ra_;
  AuthorityService& authorities_;
  const inventory::Inventory& inventory_;
  const crypto::KeyWrapper& wrapper_;

  common::Mutex mu_;
  // Newest first, per authority: what load() found, refreshed when the newest is due.
  std::map<std::string, std::vector<std::shared_ptr<const RaCredential>>, std::less<>> cache_
      CW_GUARDED_BY(mu_);
  common::Mutex issuing_;  // one issuance at a time in this process
};

}  // namespace certward::ca
