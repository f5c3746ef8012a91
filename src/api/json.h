#pragma once
// The JSON shapes of certward's nouns, shared by the REST API and the CLI's --json output so
// that both speak exactly the same language.

#include <nlohmann/json.hpp>
#include <span>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/eab.h"
#include "ca/authority.h"
#include "ca/profile.h"
#include "ca/revocation.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"
#include "x509/certificate.h"

namespace certward::api {

nlohmann::json certificate_json(const x509::CertificateInfo& info);
// What a lenient parse found odd about a certificate from the wild: [{code, detail}].
nlohmann::json oddities_json(std::span<const x509::ParseOddity> oddities);
// Where a certificate or SSH key was seen (inventory/sightings.h).
nlohmann::json sighting_json(const inventory::Sighting& s);
nlohmann::json record_json(const inventory::CertificateRecord& r, SysTime now);
nlohmann::json authority_json(const ca::AuthorityInfo& a);
// {"authority", "fingerprint", "created_at", "certificate": {...}, "certificate_pem",
//  "chain": [{...}], "chain_pem"}
nlohmann::json cross_certificate_json(const ca::CrossCertificate& c);
nlohmann::json profile_json(const ca::Profile& p);
nlohmann::json event_json(const audit::RecordedEvent& e);
// {"ok", "events_checked", "head": {"seq", "hash", "checkpoint"}} plus "first_bad_seq" and
// "problem" when broken and "checkpoint_matched" when a checkpoint was given.
nlohmann::json verify_report_json(const audit::VerifyReport& r, bool checkpoint_given);
nlohmann::json team_json(const auth::Team& t);
// {matched, revoked, dry_run, items: [{fingerprint, serial, authority, team}]}
nlohmann::json bulk_revocation_json(const ca::BulkRevokeResult& r, bool dry_run);
nlohmann::json principal_json(const auth::Principal& p);
nlohmann::json token_json(const auth::TokenInfo& t);
// A principal's client-certificate logins: {"principal", "items": [{"fingerprint", "created_at"}]}.
nlohmann::json mappings_json(std::string_view principal,
                             const std::vector<auth::CertificateMapping>& mappings);
// An ACME EAB key without its HMAC key.
nlohmann::json eab_key_json(const auth::EabKeyInfo& k);

}  // namespace certward::api
