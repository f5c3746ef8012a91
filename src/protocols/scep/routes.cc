// SCEP's routes: the operation from the query, the message from the query or the body, the
// answer in the media type RFC 8894 4 gives it.

#include <algorithm>

#include "common/encoding.h"
#include "protocols/enrollment/rules.h"
#include "protocols/scep/scep.h"
#include "x509/bundle.h"

namespace certward::protocols::scep {
namespace {

http::Response refused(const Failure& f) {
  int status = 500;
  switch (f.refusal) {
    case Refusal::kBadRequest:
      status = 400;
      break;
    case Refusal::kRateLimited:
      status = 429;
      break;
    case Refusal::kUnavailable:
      status = 503;
      break;
    case Refusal::kInternal:
      status = 500;
      break;
  }
  return enrollment::text_refusal(status, f.message, f.retry_after);
}

http::Response binary(std::span<const std::uint8_t> der, std::string type) {
  auto r = http::Response::text(200, std::string(der.begin(), der.end()), std::move(type));
  r.set_header("Cache-Control", "no-store");
  return r;
}

// The message of a GET: base64 (with '+' turned into a space by form decoding when the client
// did not percent-encode it), or the unpadded base64url some clients send.
Result<Bytes> query_message(std::string_view text) {
  if (text.size() > x509::scep::kMaxMessage * 4 / 3 + 8)
    return fail(ErrorCode::kMalformed, "the message is larger than 64 KiB");
  std::string b64(text);
  std::replace(b64.begin(), b64.end(), ' ', '+');
  if (b64.find_first_of("-_") != std::string::npos) return from_base64url(b64);
  return from_base64(b64);
}

http::Response pki_operation(Service& service, std::span<const std::uint8_t> message) {
  auto answer = service.pki_operation(message);
  if (!answer) return refused(answer.error());
  return binary(*answer, "application/x-pki-message");
}

http::Response handle(Service& service, const http::Request& req) {
  const auto op = req.query_value("operation");
  if (!op) return refused(Failure{Refusal::kBadRequest, "no operation", {}});
  if (*op == "GetCACaps")
    return http::Response::text(200, std::string(Service::capabilities()), "text/plain");
  if (*op == "GetCACert") {
    auto certs = service.ca_certificates();
    if (!certs) return refused(certs.error());
    auto p7 = x509::make_pkcs7(*certs);
    if (!p7) return refused(Failure{Refusal::kInternal, "cannot encode the certificates", {}});
    return binary(*p7, "application/x-x509-ca-ra-cert");
  }
  if (*op != "PKIOperation") return refused(Failure{Refusal::kBadRequest, "unknown operation", {}});
  if (req.method == "POST") {
    if (req.body.empty() || req.body.size() > x509::scep::kMaxMessage)
      return refused(
          Failure{Refusal::kBadRequest, "the message is empty or larger than 64 KiB", {}});
    return pki_operation(service, as_bytes(req.body));
  }
  const auto text = req.query_value("message");
  if (!text) return refused(Failure{Refusal::kBadRequest, "no message", {}});
  auto der = query_message(*text);
  if (!der || der->empty())
    return refused(Failure{Refusal::kBadRequest, "the message is not base64", {}});
  return pki_operation(service, *der);
}

}  // namespace

std::unique_ptr<http::Router> make_router(Service& service) {
  auto router = std::make_unique<http::Router>();
  for (const char* path : {"/", "/pkiclient.exe"}) {
    router->add("GET", path, [&service](http::Request& req) { return handle(service, req); });
    router->add("POST", path, [&service](http::Request& req) { return handle(service, req); });
  }
  return router;
}

}  // namespace certward::protocols::scep
