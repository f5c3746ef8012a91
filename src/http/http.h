#pragma once
// certward's HTTP/1.1 server on Boost.Beast: HTTPS (TLS 1.2/1.3 through OpenSSL, optional
// client certificates) and plain-HTTP listeners, keep-alive, request size limits and timeouts.
//
// Threading: one io_context run by `io_threads` threads does all network I/O. Handlers never
// run on those threads: each parsed request is posted to a bounded worker pool, so a handler
// may block on the database or on a signature without stalling other connections; its
// response is written back on the connection's strand. A handler must be thread-safe.
//
// Nothing here throws across the face: Beast/Asio exceptions are caught inside.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"

namespace certward::http {

struct Request {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // as received: path and query
  std::string path;                               // percent-decoded path, without the query
  std::multimap<std::string, std::string> query;  // percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;  // "127.0.0.1:53412"
  bool tls = false;
  std::optional<Bytes> client_certificate;    // DER of a verified TLS client certificate
  // Every certificate the TLS client presented, leaf first, DER, whether or not it verified
  // against the listener's client CAs (TlsSettings::request_client_certificate): not proof of
  // anything until the handler verifies it against trust of its own (an EST label's
  // manufacturer CAs, certward's authorities). TLS did prove the client holds the leaf's key.
  std::vector<Bytes> presented_chain;
  std::map<std::string, std::string> params;  // route parameters ("{id}"), set by the Router

  // The path as received, still percent-encoded: `target` up to the query. The server has
  // checked that it decodes (no malformed escape, no NUL, no ".." segment, even once
  // decoded), so a handler decoding a piece of it needs no such checks of its own.
  std::string_view raw_path() const;
  // First header with this (case-insensitive) name.
  std::optional<std::string_view> header(std::string_view name) const;
  // First query value for `key`.
  std::optional<std::string_view> query_value(std::string_view key) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Kept alive until the response has been written to the peer or the connection is gone: a
  // handler's claim on what the body still costs (a report's slot among the few that may be in
  // memory at once), so that a peer reading slowly holds the claim as long as the body.
  std::shared_ptr<const void> hold{};

  Response& set_header(std::string name, std::string value);
  // Whether a header of this (case-insensitive) name is set.
  bool has_header(std::string_view name) const;
  static Response json(int status, std::string body);  // application/json
  static Response text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
  // RFC 7807 problem+json: {"type","title","status","detail"}, plus certward's stable "code"
  // member when `code` is given.
  static Response problem(int status, std::string_view title, std::string_view detail,
                          std::string_view type = "about:blank", std::string_view code = {});
};

using Handler = std::function<Response(Request&)>;
// An optional first try at a request, run on the I/O thread that read it: for answers that
// are a lookup in memory (a cached OCSP response), where handing the request to a worker and
// back would cost more than the answer. It must not block, lock for long or allocate much;
// nullopt passes the request on to the route's Handler on a worker, as usual.
using InlineHandler = std::function<std::optional<Response>(Request&)>;

struct RouteInfo {
  std::string method;   // "GET"
  std::string pattern;  // "/api/v1/certificates/{id}", as mounted
};

// Method + path pattern dispatch, on the path as received (Request::raw_path): a path is
// split at its literal '/' only, so an escaped one (%2F) stays inside its segment. A pattern is
// made of
// - literal segments, compared with the percent-decoded segment ("/api/v1/teams");
// - "{name}", which matches one non-empty segment and gives it percent-decoded;
// - "{name...}", last only, which matches the non-empty rest of the path from there on and
//   gives it exactly as received: escapes intact, '/', '+' and '=' kept. For payloads in the
//   path that the front-end decodes itself (an OCSP GET's base64, RFC 6960 A.1).
// The route with the most literal segments wins ("/certs/expiring" before "/certs/{id}"), then
// one without a rest parameter; ties go to the route added first.
//
// A front-end builds its routes on a Router of its own, relative to where it is served, and
// the server mounts it: mount("/ocsp", ocsp) serves ocsp's "GET /{der...}" at
// "/ocsp/{der...}" and its "POST /" at "/ocsp".
//
// Immutable once the server starts; lookups are thread-safe.
class Router {
 public:
  // REQUIRES: `pattern` starts with '/', has a rest parameter only as its last segment, and
  // is not routed for `method` yet (two front-ends claiming one route is a bug).
  void add(std::string method, std::string pattern, Handler handler, InlineHandler first_try = {});
  // Adds every route of `routes` under `prefix`: "" (the root) or segments like "/a/b",
  // without a trailing '/'. A route "/" of `routes` is served at `prefix` itself.
  // REQUIRES: the resulting routes satisfy add()'s requirements.
  void mount(std::string_view prefix, const Router& routes);

  struct Match {
    const Handler* handler = nullptr;
    const InlineHandler* first_try = nullptr;  // null when the route has none
    const RouteInfo* route = nullptr;
    std::map<std::string, std::string> params;
    bool path_known = false;  // the path matched some route with another method (-> 405)
  };
  // `raw_path`: the path as received, without the query. A path with a malformed escape
  // matches nothing.
  Match match(std::string_view method, std::string_view raw_path) const;
  // The methods routed for `raw_path`, in the order they were added: "GET, PATCH" (the Allow
  // header of a 405).
  std::string allowed_methods(std::string_view raw_path) const;
  const std::vector<RouteInfo>& routes() const { return infos_; }

 private:
  std::vector<RouteInfo> infos_;
  std::vector<Handler> handlers_;
  std::vector<InlineHandler> first_tries_;
};

// An IMF-fixdate (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT", for Date, Last-Modified
// and Expires.
std::string http_date(std::time_t t);

// Decodes the %XX escapes of a piece of a path as received (a rest parameter), for the
// front-end that routes it raw: "MEow%2FBQ+%3D" -> "MEow/BQ+=" ('+' stays a plus: in a path it
// is not a space). Errors: kMalformed on a malformed escape (the server has already refused
// those in a request's path).
Result<std::string> decode_path(std::string_view raw);

// The user and password of an "Authorization: Basic ..." header (RFC 7617): nullopt for any
// other scheme, or when the credentials are not base64 of "user:password". The password may
// hold ':'. Secret: never log what this returns.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header);

struct TlsSettings {
  std::string certificate_chain_pem;  // leaf first
  std::string private_key_pem;        // secret: never logged
  // When set, clients may present a certificate; one that verifies against these CAs is
  // passed to handlers in Request::client_certificate. Clients without one are still served.
  std::optional<std::string> client_ca_pem;
  // Ask every client for a certificate even without client_ca_pem, accept whatever it
  // presents, and pass it on in Request::presented_chain (EST: device certificates, the
  // certificate being renewed). Clients without one are still served.
  bool request_client_certificate = false;
  // The CAs named in that request (PEM; not trusted for anything): clients that pick a
  // certificate by the names asked for (browsers, Java) offer one of these CAs', and a
  // browser holding none shows no certificate picker.
  std::string requested_client_ca_names_pem;
};

struct ListenerSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;          // 0: pick a free port (tests)
  std::optional<TlsSettings> tls;  // absent: plain HTTP
  std::string name = "https";      // for logs and metrics
};

struct ServerOptions {
  int io_threads = 2;                       // REQUIRES >= 1; default: the number of cores
  int worker_threads = 4;                   // handler pool size; REQUIRES >= 1
  std::size_t max_queued = 4096;            // requests waiting for a worker; beyond: 503
  std::size_t max_body_bytes = 1 << 20;     // larger bodies: 413
  std::size_t max_header_bytes = 16 << 10;  // larger headers: 431
  std::chrono::seconds read_timeout{30};    // to receive one whole request
  std::chrono::seconds idle_timeout{75};    // keep-alive between requests
  std::chrono::seconds drain_timeout{25};   // graceful shutdown bound
  std::string thread_name = "http";         // threads are "<name>-io" and "<name>-worker"
};

// Called after every response with what metrics and access logs need.
struct Exchange {
  std::string_view listener;
  std::string_view method;
  std::string_view route;  // the matched pattern, or "unmatched"
  int status = 0;
  std::chrono::nanoseconds duration{};
  std::string_view remote_address;
};
using Observer = std::function<void(const Exchange&)>;

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<const Router> router, Observer observer = {});
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds a listener; returns the bound port. Call before start().
  // Errors: kInvalidArgument (bad TLS material), kUnavailable (cannot bind).
  Result<std::uint16_t> listen(const ListenerSettings& settings);
  // Replaces the certificate, key and client CAs of a TLS listener, before or after start().
  // New connections use them; established ones keep what they negotiated. Thread-safe.
  // Errors: kNotFound (no listener of that name), kInvalidArgument (not a TLS listener, or bad
  // TLS material; the old material then stays in use).
  Status reload_tls(std::string_view listener_name, const TlsSettings& tls);
  // Starts the I/O and worker threads; returns at once.
  Status start();
  // Stops accepting, lets in-flight requests finish (up to drain_timeout), closes idle
  // connections, then stops the threads. Safe to call from a signal-watching thread; idempotent.
  void stop();
  // Blocks until stop() has completed.
  void wait();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace certward::http
