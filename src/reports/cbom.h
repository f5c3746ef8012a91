#pragma once
// The inventory as a CycloneDX 1.6 cryptographic bill of materials (CBOM): every certificate
// and SSH key, each public key and each algorithm, as components of type
// "cryptographic-asset", and the dependency graph certificate → public key → algorithm
// (a certificate also depends on its signature algorithm).
//
// bom-refs are stable across runs: "crypto/certificate/<SHA-256 of the DER>",
// "crypto/public-key/<SHA-256 of the SubjectPublicKeyInfo>", "crypto/ssh-key/<SHA256:...>",
// "crypto/algorithm/<name>". A key two certificates share is one component.
//
// Written as it is fed: components go straight to the output; the dependency entries wait in
// a temporary file, since CycloneDX puts them after every component; what is held in memory is
// the set of algorithms and of keys already written (16 bytes a key).
//
// Not thread-safe: one writer per document.

#include <cstdio>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <unordered_set>

#include "inventory/inventory.h"
#include "reports/aggregate.h"
#include "reports/classify.h"

namespace certward::reports {

struct CbomHeader {
  std::string serial_number;  // "urn:uuid:..." (new_bom_serial())
  std::string timestamp;      // RFC 3339
  std::string tool_version;
  std::optional<std::string> team;  // the BOM covers this team's assets only
};

// A fresh random RFC 4122 version 4 UUID as a URN: every BOM gets its own.
std::string new_bom_serial();

class CbomWriter {
 public:
  // Errors: kInternal when no temporary file can be made.
  static Result<std::unique_ptr<CbomWriter>> open(std::ostream& out, CbomHeader header);
  ~CbomWriter();

  void add_certificate(const inventory::CertificateRecord& r, Renewal renewal);
  // An SSH key (type as its blob names it, "SHA256:..." fingerprint).
  void add_ssh_key(std::string_view fingerprint, std::string_view type, int bits,
                   SysTime first_seen, const std::optional<std::string>& team);
  // Writes the algorithms, the dependencies and the end of the document.
  // Errors: kInternal when the temporary file failed.
  Status finish();

 private:
  CbomWriter(std::ostream& out, CbomHeader header, std::FILE* deps);
  void component(const nlohmann::json& c);
  void dependency(const std::string& ref, std::initializer_list<std::string> on);
  std::string algorithm_ref(const AlgorithmClass& a);

  std::ostream& out_;
  const CbomHeader header_;
  std::FILE* deps_;  // owned: the dependency entries until finish()
  bool first_component_ = true;
  bool first_dependency_ = true;
  std::map<std::string, AlgorithmClass> algorithms_;  // by bom-ref
  struct KeyId {
    std::uint64_t hi = 0, lo = 0;
    bool operator==(const KeyId&) const = default;
  };
  struct KeyIdHash {
    std::size_t operator()(const KeyId& k) const noexcept { return k.hi ^ (k.lo * 31); }
  };
  std::unordered_set<KeyId, KeyIdHash> keys_;
};

}  // namespace certward::reports
