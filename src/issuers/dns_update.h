#pragma once
// RFC 2136 dynamic updates signed with TSIG (RFC 8945): how the upstream ACME issuer puts its
// dns-01 answers (_acme-challenge TXT records) into the organisation's authoritative DNS
// server and takes them out again.
//
// One UPDATE message per call, over UDP (TCP when the answer is truncated or the message is too
// large), bounded by a timeout; the server's answer must carry a valid TSIG signed with the
// same key over our request's MAC, else it is not believed.
//
// Thread-safe: nothing is shared between calls.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"
#include "crypto/secret_bytes.h"

namespace certward::issuers {

struct TsigKey {
  std::string name;                       // "certward-acme." (a domain name; trailing dot optional)
  std::string algorithm = "hmac-sha256";  // hmac-sha256, hmac-sha384, hmac-sha512
  crypto::SecretBytes secret;             // the decoded key (base64 in knot/bind configuration)
};

struct DnsUpdateServer {
  std::string address;  // IPv4 or IPv6 literal
  std::uint16_t port = 53;
  std::string zone;  // the zone the records are in ("example.com"); trailing dot optional
  TsigKey key;
  std::chrono::milliseconds timeout{5000};
};

// Adds TXT `value` at `name` (a name within the zone, e.g. "_acme-challenge.www.example.com")
// with `ttl`, leaving any other TXT records of that name in place.
// Errors, their messages starting "DNS update to <address>:<port>: ": kInvalidArgument (a name
// outside the zone, a bad name, value, key, address or timeout), kUnavailable (no answer in
// time: at most two UDP sends, and TCP once if the answer is truncated), kUnauthorized (the server
// refused the key: NOTAUTH, BADKEY, BADSIG, BADTIME), kPolicyRejected (REFUSED, NOTZONE and other
// refusals, with the RCODE's name), kBadSignature (an answer whose TSIG does not verify).
Status dns_add_txt(const DnsUpdateServer& server, const std::string& name, const std::string& value,
                   std::uint32_t ttl = 60);
// Deletes that one TXT record (the others of the name stay). Errors: as dns_add_txt.
Status dns_delete_txt(const DnsUpdateServer& server, const std::string& name,
                      const std::string& value);

// For tests and the fuzzer: the wire form of an UPDATE message (unsigned: TSIG is appended by
// sign_message) and the check of an answer to it.
namespace dns_wire {
struct UpdateRecord {
  std::string name;
  bool add = true;  // false: delete this RR (class NONE, RFC 2136 2.5.4)
  std::string txt;
  std::uint32_t ttl = 0;
};
// Names are written as given (no case folding, no compression); a record's name must be the zone
// or below it, compared case-insensitively.
// Errors: kInvalidArgument (an empty label or one over 63 octets, a name over 255 octets, a name
// outside the zone, a TXT value over 65535 octets of RDATA, a TTL over 2^31-1).
Result<Bytes> encode_update(std::uint16_t id, const std::string& zone,
                            const std::vector<UpdateRecord>& records);
// Appends a TSIG record (RFC 8945 4.2) at time `now` (seconds since the epoch) with fudge 300;
// returns the MAC, which the answer's MAC covers. Errors: kInvalidArgument (unknown algorithm,
// a key without a name or secret).
Result<Bytes> sign_message(Bytes& message, const TsigKey& key, std::uint64_t now);
// Checks an answer to the message with this id and request MAC: the header, the RCODE, and its
// TSIG (present, same key and algorithm, MAC valid, time within fudge of `now`). An error answer
// is believed unsigned (a server that does not know the key cannot sign; a forger could only make
// the update fail), a success only signed. `answer` is hostile: every read is bounds-checked.
// Errors: as dns_add_txt; kMalformed (not a DNS message, or not an answer to it).
Status check_answer(std::span<const std::uint8_t> answer, std::uint16_t id,
                    std::span<const std::uint8_t> request_mac, const TsigKey& key,
                    std::uint64_t now);
}  // namespace dns_wire

}  // namespace certward::issuers
