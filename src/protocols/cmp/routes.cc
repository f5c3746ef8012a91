// CMP's routes: the body is the PKIMessage, the answer too.

#include "common/encoding.h"
#include "protocols/cmp/cmp.h"
#include "protocols/enrollment/rules.h"
#include "x509/cmp.h"

namespace certward::protocols::cmp {
namespace {

http::Response refused(const Failure& f) {
  int status = 500;
  switch (f.refusal) {
    case Refusal::kBadRequest:
      status = 400;
      break;
    case Refusal::kNotFound:
      status = 404;
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

http::Response handle(Service& service, const http::Request& req) {
  if (req.body.empty() || req.body.size() > x509::cmp::kMaxMessage)
    return refused(Failure{Refusal::kBadRequest, "the message is empty or larger than 64 KiB", {}});
  std::optional<std::string> label;
  if (auto it = req.params.find("label"); it != req.params.end()) label = it->second;
  auto answer = service.handle(label, as_bytes(req.body));
  if (!answer) return refused(answer.error());
  auto r =
      http::Response::text(200, std::string(answer->begin(), answer->end()), "application/pkixcmp");
  r.set_header("Cache-Control", "no-store");
  return r;
}

}  // namespace

std::unique_ptr<http::Router> make_router(Service& service) {
  auto router = std::make_unique<http::Router>();
  for (const char* path : {"/", "/p/{label}"}) {
    router->add("POST", path, [&service](http::Request& req) { return handle(service, req); });
  }
  return router;
}

}  // namespace certward::protocols::cmp
