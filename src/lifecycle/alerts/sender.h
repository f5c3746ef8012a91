#pragma once
// Sends one alert on one channel: a webhook POST (generic JSON, Slack- or Microsoft
// Teams-compatible, signed with HMAC-SHA256), an email over SMTP (STARTTLS, authentication),
// or a syslog datagram on a local socket. One attempt, bounded by the channel's timeout;
// retries are the delivery job's (evaluator.h).
//
// The webhook signature: headers X-Certward-Timestamp: <unix seconds> and
// X-Certward-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>. A receiver
// recomputes it and refuses a timestamp more than a few minutes old, so a recorded request
// cannot be replayed later. X-Certward-Alert carries the alert id, for receivers that dedupe.
//
// Secrets (the HMAC key, the SMTP password) are read from their reference when an alert is
// sent, never logged, and wiped after use; error messages never contain them.
//
// Thread-safe: no state.

#include <span>
#include <string>

#include "common/clock.h"
#include "crypto/secret_bytes.h"
#include "lifecycle/alerts/rules.h"
#include "lifecycle/managed.h"

namespace certward::lifecycle::alerts {

// "env:NAME" or "file:/path" (trailing newlines dropped). Errors: kNotFound (unset variable,
// unreadable file), kInvalidArgument (bad reference, empty secret).
Result<crypto::SecretBytes> resolve_secret(std::string_view ref);

// The body POSTed for `a` in `format`.
std::string webhook_body(const Alert& a, WebhookFormat format);
// "v1=<hex>" over "<timestamp>.<body>".
std::string webhook_signature(std::span<const std::uint8_t> secret, std::int64_t timestamp,
                              std::string_view body);
// The email (headers and text) for `a`.
std::string email_message(const Alert& a, const SmtpChannel& smtp, SysTime now);
// The syslog datagram for `a` (RFC 3164 shape, facility daemon).
std::string syslog_message(const Alert& a, const SyslogChannel& syslog, SysTime now);

// Sends `a` on `channel` once. Errors: kUnavailable (the peer failed or refused, with what it
// said), kNotFound/kInvalidArgument (the secret, as resolve_secret()).
Status send_alert(const ChannelSpec& channel, const Alert& a, SysTime now);

}  // namespace certward::lifecycle::alerts
