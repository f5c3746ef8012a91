#include "lifecycle/alerts/sender.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "common/encoding.h"
#include "common/file.h"
#include "lifecycle/alerts/alert_store.h"

namespace certward::lifecycle::alerts {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string_view teams_color(std::string_view severity) {
  if (severity == "critical") return "D32F2F";
  if (severity == "warning") return "F9A825";
  return "1976D2";
}

std::string title_of(const Alert& a) { return "certward " + a.severity + ": " + a.kind; }

// A syslog line's text: RFC 3164 relays may drop a packet over 1024 bytes.
constexpr std::size_t kSyslogText = 900;

// Slack reads "<...>" as a link or a mention ("<!channel>"), and a Teams card's text is
// Markdown with some HTML: a certificate's subject could page a whole channel or show a link
// of its choosing. &, < and > become entities (as Slack asks,
// https://api.slack.com/reference/surfaces/formatting#escaping), and each of `markdown` is
// shown as itself behind a backslash.
std::string escape_markup(std::string_view text, std::string_view markdown) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    if (ch == '&') {
      out += "&amp;";
    } else if (ch == '<') {
      out += "&lt;";
    } else if (ch == '>') {
      out += "&gt;";
    } else {
      if (markdown.find(ch) != std::string_view::npos) out += '\\';
      out += ch;
    }
  }
  return out;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

using CurlPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using SlistPtr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

// The receiver's answer is not needed: its status says it all.
std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

CurlPtr easy(std::chrono::seconds timeout) {
  init_curl();
  CurlPtr h(curl_easy_init(), curl_easy_cleanup);
  if (!h) return h;
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  return h;
}

Status post_webhook(const ChannelSpec& c, const Alert& a, SysTime now) {
  CW_ASSIGN_OR_RETURN(auto secret, resolve_secret(c.webhook.secret));
  const std::string body = webhook_body(a, c.webhook.format);
  const std::int64_t t = to_unix(now);
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Content-Type: application/json");
  list = curl_slist_append(list, ("X-Certward-Timestamp: " + std::to_string(t)).c_str());
  list = curl_slist_append(
      list,
      ("X-Certward-Signature: " +
       webhook_signature(std::span<const std::uint8_t>(secret.data(), secret.size()), t, body))
          .c_str());
  list = curl_slist_append(list, ("X-Certward-Alert: " + a.id).c_str());
  SlistPtr headers(list, curl_slist_free_all);
  CurlPtr h = easy(c.timeout);
  if (!h) return fail(ErrorCode::kInternal, "cannot initialise libcurl");
  curl_easy_setopt(h.get(), CURLOPT_URL, c.webhook.url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, &discard);
  if (c.webhook.ca_file) curl_easy_setopt(h.get(), CURLOPT_CAINFO, c.webhook.ca_file->c_str());
  const CURLcode rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK) {
    return fail(ErrorCode::kUnavailable, std::string("webhook: ") + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    return fail(ErrorCode::kUnavailable, "webhook answered HTTP " + std::to_string(status));
  }
  return ok();
}

struct Reader {
  std::string_view data;
  std::size_t at = 0;
};

std::size_t read_message(char* out, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<Reader*>(user);
  const std::size_t len = std::min(size * n, r->data.size() - r->at);
  std::memcpy(out, r->data.data() + r->at, len);
  r->at += len;
  return len;
}

Status send_email(const ChannelSpec& c, const Alert& a, SysTime now) {
  std::string password;
  if (c.smtp.password) {
    CW_ASSIGN_OR_RETURN(auto secret, resolve_secret(*c.smtp.password));
    password.assign(reinterpret_cast<const char*>(secret.data()), secret.size());
  }
  const std::string message = email_message(a, c.smtp, now);
  curl_slist* list = nullptr;
  for (const auto& to : c.smtp.to) list = curl_slist_append(list, ("<" + to + ">").c_str());
  SlistPtr rcpt(list, curl_slist_free_all);
  CurlPtr h = easy(c.timeout);
  if (!h) return fail(ErrorCode::kInternal, "cannot initialise libcurl");
  const std::string host =
      c.smtp.host.find(':') != std::string::npos ? "[" + c.smtp.host + "]" : c.smtp.host;
  const std::string url = fmt::format("smtp://{}:{}/certward", host, c.smtp.port);
  const std::string from = "<" + c.smtp.from + ">";
  Reader reader{message};
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "smtp");
  curl_easy_setopt(h.get(), CURLOPT_USE_SSL,
                   c.smtp.starttls == StartTls::kRequired   ? static_cast<long>(CURLUSESSL_ALL)
                   : c.smtp.starttls == StartTls::kOptional ? static_cast<long>(CURLUSESSL_TRY)
                                                            : static_cast<long>(CURLUSESSL_NONE));
  if (c.smtp.ca_file) curl_easy_setopt(h.get(), CURLOPT_CAINFO, c.smtp.ca_file->c_str());
  if (c.smtp.username) {
    curl_easy_setopt(h.get(), CURLOPT_USERNAME, c.smtp.username->c_str());
    curl_easy_setopt(h.get(), CURLOPT_PASSWORD, password.c_str());
  }
  curl_easy_setopt(h.get(), CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(h.get(), CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h.get(), CURLOPT_READFUNCTION, &read_message);
  curl_easy_setopt(h.get(), CURLOPT_READDATA, &reader);
  curl_easy_setopt(h.get(), CURLOPT_UPLOAD, 1L);
  const CURLcode rc = curl_easy_perform(h.get());
  crypto::cleanse(password);
  if (rc != CURLE_OK) {
    return fail(ErrorCode::kUnavailable, std::string("smtp: ") + curl_easy_strerror(rc));
  }
  return ok();
}

Status send_syslog(const ChannelSpec& c, const Alert& a, SysTime now) {
  const std::string datagram = syslog_message(a, c.syslog, now);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (c.syslog.socket.size() >= sizeof(addr.sun_path)) {
    return fail(ErrorCode::kInvalidArgument, "syslog socket path too long");
  }
  std::memcpy(addr.sun_path, c.syslog.socket.c_str(), c.syslog.socket.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::kUnavailable, "syslog: cannot open a socket");
  const ssize_t n = ::sendto(fd, datagram.data(), datagram.size(), 0,
                             reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(datagram.size())) {
    return fail(ErrorCode::kUnavailable,
                "syslog: cannot send to " + c.syslog.socket + ": " + std::strerror(err));
  }
  return ok();
}

}  // namespace

Result<crypto::SecretBytes> resolve_secret(std::string_view ref) {
  std::string text;
  if (ref.starts_with("env:")) {
    const std::string name(ref.substr(4));
    const char* v = std::getenv(name.c_str());
    if (!v) return fail(ErrorCode::kNotFound, "secret: environment variable " + name + " is unset");
    text = v;
  } else if (ref.starts_with("file:")) {
    const std::string path(ref.substr(5));
    auto read = read_file(path);
    if (!read) return fail(ErrorCode::kNotFound, "secret: cannot read " + path);
    text = *std::move(read);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  } else {
    return fail(ErrorCode::kInvalidArgument, "secret: not an env: or file: reference");
  }
  if (text.empty()) return fail(ErrorCode::kInvalidArgument, "secret: empty");
  return crypto::SecretBytes::take(text);
}

std::string webhook_body(const Alert& a, WebhookFormat format) {
  switch (format) {
    case WebhookFormat::kSlack:
      return dump({{"text", "*" + title_of(a) + "*\n" + escape_markup(a.message, "")}});
    case WebhookFormat::kTeams:
      return dump({{"@type", "MessageCard"},
                   {"@context", "https://schema.org/extensions"},
                   {"summary", title_of(a)},
                   {"themeColor", teams_color(a.severity)},
                   {"title", title_of(a)},
                   {"text", escape_markup(a.message, "\\`*_[]()~#")}});
    case WebhookFormat::kGeneric:
      break;
  }
  return dump({{"id", a.id},
               {"at", format_time(a.at)},
               {"severity", a.severity},
               {"kind", a.kind},
               {"message", a.message},
               {"fingerprint", a.fingerprint ? json(*a.fingerprint) : json(nullptr)},
               {"managed_name", a.managed_name.empty() ? json(nullptr) : json(a.managed_name)},
               {"team", a.team ? json(*a.team) : json(nullptr)},
               {"detail", a.detail}});
}

std::string webhook_signature(std::span<const std::uint8_t> secret, std::int64_t timestamp,
                              std::string_view body) {
  const std::string signed_text = std::to_string(timestamp) + "." + std::string(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &len);
  return "v1=" + to_hex(std::span<const std::uint8_t>(mac, len));
}

std::string email_message(const Alert& a, const SmtpChannel& smtp, SysTime now) {
  std::string to;
  for (const auto& r : smtp.to) to += (to.empty() ? "" : ", ") + r;
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[64];
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
  // The message text is ours, but it quotes names from certificates: no control character
  // may reach a header, and every line break of the text is CRLF (libcurl then escapes a
  // line's leading "."). A bare CR left in ("\r.\r\n") ends the DATA early on servers that
  // accept it as an end, and what follows would be read as commands (SMTP smuggling).
  const std::string subject = clip_text(title_of(a) + " " + a.message, 160);
  std::string body =
      a.message + "\r\n\r\n" + a.detail.dump(2, ' ', false, json::error_handler_t::replace);
  std::string text;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char ch = body[i];
    if (ch == '\r' || ch == '\n') {
      if (ch == '\r' && i + 1 < body.size() && body[i + 1] == '\n') ++i;
      text += "\r\n";
    } else {
      text += ch;
    }
  }
  return fmt::format(
      "Date: {}\r\nFrom: <{}>\r\nTo: {}\r\nMessage-ID: <{}@certward>\r\nSubject: {}\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
      date, smtp.from, to, a.id, subject, text);
}

std::string syslog_message(const Alert& a, const SyslogChannel& syslog, SysTime now) {
  const int severity = a.severity == "critical" ? 2 : a.severity == "warning" ? 4 : 6;
  const int pri = 3 * 8 + severity;  // facility daemon
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
  return fmt::format("<{}>{} {}: alert={} kind={} {}", pri, stamp, syslog.tag, a.id, a.kind,
                     clip_text(a.message, kSyslogText));
}

Status send_alert(const ChannelSpec& channel, const Alert& a, SysTime now) {
  switch (channel.type) {
    case ChannelType::kWebhook:
      return post_webhook(channel, a, now);
    case ChannelType::kSmtp:
      return send_email(channel, a, now);
    case ChannelType::kSyslog:
      return send_syslog(channel, a, now);
  }
  return fail(ErrorCode::kInternal, "unknown channel type");
}

}  // namespace certward::lifecycle::alerts
