// EST's routes: decode the request, ask the service, encode the answer as RFC 7030 says.

#include <algorithm>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "protocols/enrollment/rules.h"
#include "protocols/est/est.h"
#include "x509/bundle.h"
#include "x509/est.h"

namespace certward::protocols::est {
namespace {

http::Response refused(const Failure& f) {
  int status = 500;
  switch (f.refusal) {
    case Refusal::kHeld:
      status = 202;
      break;
    case Refusal::kBadRequest:
      status = 400;
      break;
    case Refusal::kUnauthenticated:
      status = 401;
      break;
    case Refusal::kForbidden:
      status = 403;
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
    case Refusal::kNotImplemented:
      status = 501;
      break;
    case Refusal::kInternal:
      status = 500;
      break;
  }
  auto r = enrollment::text_refusal(status, f.message, f.retry_after);
  if (status == 401) r.set_header("WWW-Authenticate", "Basic realm=\"certward EST\"");
  return r;
}

http::Response pkcs7(std::span<const x509::Certificate> certs, bool certs_only) {
  auto der = x509::make_pkcs7(certs);
  if (!der) return refused(Failure{Refusal::kInternal, "cannot encode the certificates", {}});
  auto r = http::Response::text(
      200, x509::est::encode_base64_body(*der),
      certs_only ? "application/pkcs7-mime; smime-type=certs-only" : "application/pkcs7-mime");
  r.set_header("Content-Transfer-Encoding", "base64");
  return r;
}

Call call_of(const http::Request& req, bool labelled) {
  Call c;
  if (labelled) c.label = req.params.at("label");
  if (auto a = req.header("authorization")) c.authorization = std::string(*a);
  c.presented_chain = req.presented_chain;
  return c;
}

// RFC 7030 3.2.2: EST runs over TLS only; the plain-HTTP listener has no route to it, and
// this holds should it ever be mounted there.
std::optional<http::Response> needs_tls(const http::Request& req) {
  if (req.tls) return std::nullopt;
  return refused(Failure{Refusal::kForbidden, "EST requires TLS", {}});
}

http::Response enroll(Service& service, const http::Request& req, bool labelled, Operation op) {
  if (auto r = needs_tls(req)) return *r;
  Call call = call_of(req, labelled);
  if (call.label && !service.label_known(*call.label))
    return refused(Failure{Refusal::kNotFound, "unknown label", {}});
  // RFC 7030 4.2.1: the request is application/pkcs10; a form or JSON body is a client error.
  const auto type = req.header("content-type");
  std::string media(type ? type->substr(0, type->find(';')) : "");
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media != "application/pkcs10") {
    auto r = refused(
        Failure{Refusal::kBadRequest, "the request's Content-Type must be application/pkcs10", {}});
    r.status = 415;
    return r;
  }
  auto csr = x509::est::parse_csr_body(req.body);
  if (!csr) return refused(Failure{Refusal::kBadRequest, csr.error().message, {}});
  // RFC 7030 4.4.1.2: a key returned encrypted goes to a key of the client's that it names,
  // which must be the one it proved in TLS; checked before anything is issued. A key shared
  // beforehand (4.4.1.1) is not offered: there is no such key here.
  std::optional<x509::Certificate> recipient;
  std::shared_ptr<const ca::RaCredential> signer;
  if (op == Operation::kServerKeygen) {
    auto asked = x509::est::decrypt_key_request(*csr);
    if (!asked) return refused(Failure{Refusal::kBadRequest, asked.error().message, {}});
    if (*asked && (*asked)->symmetric)
      return refused(Failure{Refusal::kNotImplemented,
                             "keys encrypted with a shared key (DecryptKeyIdentifier) are not "
                             "offered; name the TLS client certificate's key instead",
                             {}});
    if (*asked) {
      auto leaf = call.presented_chain.empty()
                      ? Result<x509::Certificate>(std::unexpected(Error{ErrorCode::kMalformed, ""}))
                      : x509::Certificate::from_der(call.presented_chain.front());
      if (!leaf || !x509::est::names_key(*leaf, (*asked)->key_id))
        return refused(Failure{Refusal::kBadRequest,
                               "the AsymmetricDecryptKeyIdentifier must name the key of the "
                               "certificate presented in TLS",
                               {}});
      if (!x509::est::can_encrypt_to(*leaf))
        return refused(Failure{Refusal::kBadRequest,
                               "the TLS certificate's key cannot receive an encrypted key (an RSA "
                               "or EC key can)",
                               {}});
      auto s = service.key_signer(call);
      if (!s) return refused(s.error());
      recipient = std::move(*leaf);
      signer = std::move(*s);
    }
  }
  auto done = service.enroll(call, op, *csr);
  if (!done) return refused(done.error());
  const std::vector<x509::Certificate> issued{done->certificate};
  if (op != Operation::kServerKeygen) return pkcs7(issued, true);

  auto p7 = x509::make_pkcs7(issued);
  auto p8 = done->private_key ? done->private_key->to_pkcs8_der()
                              : Result<crypto::SecretBytes>(std::unexpected(
                                    Error{ErrorCode::kInternal, "no key was generated"}));
  if (!p7 || !p8) return refused(Failure{Refusal::kInternal, "cannot encode the answer", {}});
  const std::string boundary = "est-" + to_hex(crypto::random_bytes(12));
  std::string body;
  if (recipient) {
    auto sealed = x509::est::make_encrypted_key(p8->span(), signer->certificate, *signer->key,
                                                signer->chain, *recipient);
    if (!sealed) return refused(Failure{Refusal::kInternal, "cannot encrypt the key", {}});
    body = x509::est::make_serverkeygen_body(*sealed, *p7, boundary, true);
  } else {
    body = x509::est::make_serverkeygen_body(p8->span(), *p7, boundary);
  }
  auto r = http::Response::text(200, std::move(body), "multipart/mixed; boundary=" + boundary);
  r.set_header("Cache-Control", "no-store");
  return r;
}

void add_routes(http::Router& router, Service& service, bool labelled) {
  const std::string p = labelled ? "/{label}" : "";
  router.add("GET", p + "/cacerts", [&service, labelled](http::Request& req) {
    if (auto r = needs_tls(req)) return *r;
    Call call = call_of(req, labelled);
    if (call.label && !service.label_known(*call.label))
      return refused(Failure{Refusal::kNotFound, "unknown label", {}});
    auto certs = service.ca_certificates(call);
    if (!certs) return refused(certs.error());
    return pkcs7(*certs, false);
  });
  router.add("GET", p + "/csrattrs", [&service, labelled](http::Request& req) {
    if (auto r = needs_tls(req)) return *r;
    Call call = call_of(req, labelled);
    if (call.label && !service.label_known(*call.label))
      return refused(Failure{Refusal::kNotFound, "unknown label", {}});
    auto types = service.csr_key_types(call);
    if (!types) return refused(types.error());
    // Without a label the credential decides the profile, which is not known before the
    // client authenticates: nothing to say (RFC 7030 4.5.2: 204).
    if (types->empty()) return http::Response::text(204, "");
    auto r =
        http::Response::text(200, x509::est::encode_base64_body(x509::est::make_csr_attrs(*types)),
                             "application/csrattrs");
    r.set_header("Content-Transfer-Encoding", "base64");
    return r;
  });
  router.add("POST", p + "/simpleenroll", [&service, labelled](http::Request& req) {
    return enroll(service, req, labelled, Operation::kEnroll);
  });
  router.add("POST", p + "/simplereenroll", [&service, labelled](http::Request& req) {
    return enroll(service, req, labelled, Operation::kReenroll);
  });
  router.add("POST", p + "/serverkeygen", [&service, labelled](http::Request& req) {
    if (!service.serverkeygen())
      return refused(Failure{Refusal::kNotFound, "serverkeygen is not offered here", {}});
    return enroll(service, req, labelled, Operation::kServerKeygen);
  });
}

}  // namespace

std::unique_ptr<http::Router> make_router(Service& service, bool labelled) {
  auto router = std::make_unique<http::Router>();
  add_routes(*router, service, labelled);
  return router;
}

}  // namespace certward::protocols::est
