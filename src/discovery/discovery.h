#pragma once
// What discovery observes, before it is recorded: the network scanner (net/), the file
// scanner (files/) and agents produce these; sightings.h turns them into inventory rows and
// sightings. Plain values, thread-compatible.
//
// Certificates travel as the DER that was found, not as parsed x509::Certificate: a
// certificate found in the wild is recorded even when certward's strict parser would refuse
// one of its extensions (x509::Certificate::from_der_lenient says what is odd about it).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/error.h"

namespace certward::discovery {

enum class Severity : std::uint8_t { kInfo, kLow, kMedium, kHigh, kCritical };
std::string_view severity_name(Severity s);  // "info", "low", "medium", "high", "critical"
Result<Severity> parse_severity(std::string_view s);

// One problem found at a place or on a certificate. `code` is stable and documented in
// docs/discovery.md ("expired", "hostname_mismatch", "weak_key", "legacy_protocol",
// "key_readable_by_others", "malformed_extension", ...); `detail` is for people.
struct Finding {
  std::string code;
  Severity severity = Severity::kInfo;
  std::string detail;
  // The certificate it is about (SHA-256 of the DER, hex), empty for the place itself.
  std::string fingerprint;
  bool operator==(const Finding&) const = default;
};

// An SSH public key or certificate (RFC 4253 / OpenSSH PROTOCOL.certkeys).
struct SshKey {
  std::string type;         // "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ssh-dss", ...
  int bits = 0;             // RSA/DSA modulus size, EC curve size, 256 for Ed25519
  std::string fingerprint;  // "SHA256:<base64 without padding>", as ssh-keygen -l prints
  Bytes blob;               // the wire-format key (or certificate)
  std::string comment;      // authorized_keys / known_hosts comment
  std::string options;      // authorized_keys options, known_hosts host patterns
  // Set for a certificate ("ssh-ed25519-cert-v01@openssh.com", ...).
  struct Cert {
    bool host = false;  // host or user certificate
    std::uint64_t serial = 0;
    std::string key_id;
    std::vector<std::string> principals;
    SysTime valid_after{};
    SysTime valid_before{};
    std::string ca_fingerprint;  // the signing CA key, "SHA256:..."
    std::string ca_type;
  };
  std::optional<Cert> cert;
};

// A TLS or SSH service as the scanner dialled it.
struct Endpoint {
  std::string host;     // as given (name or address text)
  std::string address;  // the address dialled, canonical text
  std::uint16_t port = 0;
  std::string sni;       // server name sent, empty for none
  std::string starttls;  // "", "smtp", "imap", "pop3", "ldap", "ftp", "postgres"
};

struct TlsObservation {
  Endpoint endpoint;
  std::vector<Bytes> chain;  // DER as served, leaf first; empty when no handshake completed
  std::string tls_version;   // "TLSv1.3", ...
  std::string cipher;        // IANA/OpenSSL name
  std::string group;         // key exchange group, "X25519", "P-256", ...
  std::string alpn;          // negotiated protocol, empty for none
  bool ocsp_stapled = false;
  std::vector<std::string> legacy_protocols;  // "TLSv1", "TLSv1.1" when the server accepts them
  std::vector<Finding> findings;              // about the endpoint and the chain it served
  std::optional<Error> error;  // unreachable, refused, timed out, not TLS, handshake failed
};

struct SshObservation {
  Endpoint endpoint;
  std::string banner;        // "SSH-2.0-OpenSSH_9.2p1 Debian-2"
  std::vector<SshKey> keys;  // host keys and host certificates offered
  std::vector<Finding> findings;
  std::optional<Error> error;
};

// One file the file scanner looked at.
struct FileObservation {
  std::string host;    // the machine it is on (hostname of the scanner or agent)
  std::string path;    // absolute
  std::string format;  // "pem", "der", "pkcs7", "pkcs12", "jks", "jceks", "authorized_keys",
                       // "known_hosts", "private_key"; empty when nothing was recognised
  std::vector<Bytes> certificates;  // DER, in file order
  std::vector<SshKey> ssh_keys;
  bool key_present = false;  // a private key matching the (first) certificate is in the file
                             // or beside it (same stem, .key/.pem)
  std::vector<Finding> findings;
  std::optional<Error> error;  // unreadable, truncated, wrong password, too large
};

}  // namespace certward::discovery
