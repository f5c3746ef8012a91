#pragma once
// How commands speak: aligned tables for people, JSON for scripts, one-line errors, and the
// documented exit codes (docs/cli.md).

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/json.h"
#include "common/error.h"
#include "common/file.h"
#include "crypto/secret_bytes.h"
#include "inventory/inventory.h"
#include "x509/certificate.h"

namespace certward::cli {

using api::authority_json;
using api::certificate_json;
using api::cross_certificate_json;
using api::event_json;
using api::profile_json;
using api::record_json;

// Exit codes; stable, documented in docs/cli.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInvalidInput = 3;
inline constexpr int kExitNotFound = 4;
inline constexpr int kExitConflict = 5;
inline constexpr int kExitRefused = 6;
inline constexpr int kExitUnavailable = 7;
inline constexpr int kExitAuditBroken = 8;
inline constexpr int kExitPending = 9;  // accepted, waiting for an approver: nothing issued yet
inline constexpr int kExitInterrupted = 130;  // Ctrl-C: stopped cleanly, what was done is kept

int exit_code_for(ErrorCode code);
// Prints "certward: <message>" on stderr (with --json: one line
// {"error":{"code":"<stable code>","message":"..."}}, the codes of the REST API's problems) and
// returns the exit code for the error.
int report_error(const Error& e);
// A public document (a certificate, a CRL) to `out` (0644, atomically) or to stdout.
// Errors: those of write_file_atomic.
Status write_document(const std::optional<std::string>& out, std::string_view data);
// Where report_error reads --json from; set once in main before the command line is parsed.
void set_error_format_source(const bool* json_flag);

// `text` safe to put on a terminal: control characters (C0, DEL, C1 as UTF-8) become \xNN or
// \u00NN, so that no line is added or terminal state changed.
std::string printable(std::string_view text);

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::FILE* out = stdout) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

void print_json(const nlohmann::json& j);
// The string member `key` of `j`, or `missing` when it is absent, null or not a string.
std::string json_text(const nlohmann::json& j, const char* key, std::string_view missing = "");

// Human-readable multi-line description of a certificate.
void print_certificate(const x509::CertificateInfo& info);

// Reads a file ("-": stdin). Errors: kNotFound with the path in the message. Files are
// read and written with common/file.h; this adds only the "-".
Result<std::string> read_file(const std::string& path);
// A secret from --X-file or --X-env; nullopt if neither was given. Trailing newlines of a
// file are dropped.
Result<std::optional<std::string>> read_secret(const std::optional<std::string>& file,
                                               const std::optional<std::string>& env_var);
// The same, straight into SecretBytes, for consumers that take the secret as bytes or a
// string_view (keys, passphrases): no stream buffer or string copy is left behind.
Result<std::optional<crypto::SecretBytes>> read_secret_bytes(
    const std::optional<std::string>& file, const std::optional<std::string>& env_var);
// A whole file holding a secret (a private key), "-" for stdin. Errors as read_file.
Result<crypto::SecretBytes> read_secret_file(const std::string& path);

}  // namespace certward::cli
