#pragma once
// File observations as JSON: what `certward agent` sends to a server (and the API takes) for
// the files of its host. Everything in it comes from another machine, so decoding is strict:
// sizes are bounded, certificates and SSH keys travel as their own bytes (base64) and are
// parsed again by the server, which derives every fingerprint, type and size itself.
// Pure functions, thread-safe.

#include <nlohmann/json.hpp>

#include "discovery/discovery.h"

namespace certward::discovery {

// Bounds of one decoded observation.
inline constexpr std::size_t kMaxWirePath = 4096;
// A system CA bundle holds a few hundred; the body limit bounds the bytes whatever the count.
inline constexpr std::size_t kMaxWireCertificates = 1024;
inline constexpr std::size_t kMaxWireCertificateBytes = 64 * 1024;
inline constexpr std::size_t kMaxWireSshKeys = 1024;
inline constexpr std::size_t kMaxWireFindings = 256;

//   {"path": "/etc/ssl/a.pem", "format": "pem", "key_present": true,
//    "certificates": ["<base64 DER>", ...],
//    "ssh_keys": [{"blob": "<base64>", "comment": "...", "options": "..."}],
//    "findings": [{"code": "key_readable_by_others", "severity": "high", "detail": "..."}],
//    "error": {"code": "bad_password", "message": "..."}}
nlohmann::json file_observation_json(const FileObservation& obs);
// `obs` as parse_file_observation accepts it, at most `max_bytes` of JSON: text with control
// characters or bytes that are not UTF-8 (file names are any bytes but '/' and NUL) shown as
// \xNN, texts cut to their limits, certificates, keys and findings beyond the limits (or the
// size) left out and said so in an "observation_truncated" finding. nullopt when even the
// path does not fit.
std::optional<FileObservation> fit_for_wire(FileObservation obs, std::size_t max_bytes);

// The host is the caller's to set. Errors: kInvalidArgument (shape, bounds, a key that is not
// an SSH key, base64), never a partial observation.
Result<FileObservation> parse_file_observation(const nlohmann::json& j);

}  // namespace certward::discovery
