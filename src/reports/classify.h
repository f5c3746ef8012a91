#pragma once
// What a key or signature algorithm is, for crypto posture and the CBOM: its family, a stable
// display name ("RSA-2048", "ECDSA-P-256", "Ed25519", "ML-DSA-65"), its CycloneDX primitive and
// parameters, and whether a cryptographically relevant quantum computer breaks it.
//
// Every RSA, ECDSA, EdDSA, DSA and (EC)DH key falls to Shor's algorithm, whatever its size; the
// NIST post-quantum schemes (ML-DSA, SLH-DSA, ML-KEM: FIPS 203-205) do not. An algorithm this
// code does not know is reported as "unknown" and counted as quantum-vulnerable: a posture
// report must not call an unknown key safe.
//
// Pure functions of their arguments; thread-safe.

#include <string>
#include <string_view>

#include "inventory/inventory.h"

namespace certward::reports {

struct AlgorithmClass {
  std::string family;  // "RSA", "ECDSA", "EdDSA", "DSA", "ML-DSA", "SLH-DSA", "ML-KEM", "unknown"
  std::string name;    // family with its size or parameter set: the posture's row and bom-ref
  std::string primitive;      // CycloneDX algorithmProperties.primitive: "signature", "kem", ...
  std::string parameter_set;  // "2048", "65"; empty when the curve says it
  std::string curve;          // "P-256", "Ed25519"; empty for RSA
  std::string oid;            // of the algorithm (not of the parameters), empty when unknown
  bool quantum_vulnerable = true;
  // NIST PQC security category (1..5); 0 for algorithms a quantum computer breaks.
  int nist_quantum_level = 0;
  // Classical security in bits (SP 800-57 part 1, table 2); 0 when unknown.
  int classical_bits = 0;
};

// The public key of an inventory certificate (its key_algorithm, key_bits, key_curve).
AlgorithmClass classify_certificate_key(const inventory::CertificateRecord& record);
// An SSH key's type as its blob names it ("ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519",
// "ssh-dss", "sk-...", "...-cert-v01@openssh.com") and its size in bits.
AlgorithmClass classify_ssh_key(std::string_view type, int bits);
// A certificate's signature algorithm, as the inventory records it (OpenSSL's long or short
// name: "ecdsa-with-SHA256", "sha256WithRSAEncryption", "RSASSA-PSS", "ED25519").
AlgorithmClass classify_signature(std::string_view name);

}  // namespace certward::reports
