// The HTTP layer of the ACME server: the checks every request passes (acme.h), then one call
// into the Service per resource.

#include <openssl/x509.h>

#include <algorithm>

#include "common/log.h"
#include "protocols/acme/acme.h"
#include "protocols/acme/jws.h"

namespace certward::protocols::acme {
namespace {

// A router's handlers share one of these: what they need is fixed when the router is made.
struct Frontend {
  const Directories& directories;
  bool named;  // routes of /acme/{directory}: the directory is the path's
  Service& service;
  NonceStore& nonces;
  api::RateLimiter& limiter;
};

// What the checks established about a POST.
struct Verified {
  Jws jws;
  std::optional<Jwk> key;          // set once the checks pass
  std::optional<Account> account;  // kid requests
  nlohmann::json payload;          // null for POST-as-GET
};

Problem jws_problem(const JwsError& e) {
  return problem(std::string(jws_problem_name(e.type)), e.detail);
}

http::Response respond(Frontend& f, const Context& ctx, Outcome<Reply> outcome) {
  http::Response r;
  if (!outcome) {
    r = to_response(outcome.error());
    if (outcome.error().type == "badSignatureAlgorithm") {
      nlohmann::json body = outcome.error().json();
      body["algorithms"] = nlohmann::json::array();
      for (auto alg : supported_algorithms()) body["algorithms"].push_back(std::string(alg));
      r.body = body.dump();
    }
  } else {
    r.status = outcome->status;
    if (outcome->raw) {
      r.body = std::move(*outcome->raw);
      r.set_header("Content-Type", outcome->content_type);
    } else if (!outcome->body.is_null()) {
      r.body = outcome->body.dump();
      r.set_header("Content-Type", outcome->content_type);
    }
    if (outcome->location) r.set_header("Location", *outcome->location);
    // Link may repeat (RFC 8288): "up" and "index" are both needed.
    for (const auto& link : outcome->links) r.headers.emplace_back("Link", link);
    if (outcome->retry_after) r.set_header("Retry-After", std::to_string(*outcome->retry_after));
  }
  r.set_header("Replay-Nonce", f.nonces.issue());
  r.headers.emplace_back("Link", "<" + ctx.url("/directory") + ">;rel=\"index\"");
  r.set_header("Cache-Control", "no-store");
  return r;
}

// The directory a request addressed: the default one, or the one its path names (null when
// there is none of that name, or no longer).
std::shared_ptr<const Directory> directory_of(const Frontend& f, const http::Request& req) {
  if (!f.named) return f.directories.find("");
  auto it = req.params.find("directory");
  return it == req.params.end() ? nullptr : f.directories.find(it->second);
}

http::Response no_directory() {
  Problem p = problem("malformed", "there is no ACME directory at this path");
  p.status = 404;
  return to_response(p);
}

// The scheme and host the client used: URLs in responses point back to it, and the url in a
// JWS must name it (RFC 8555 6.4).
std::optional<Context> context_of(std::shared_ptr<const Directory> directory,
                                  const http::Request& req) {
  auto host = req.header("host");
  if (!host || host->empty() || host->size() > 255 ||
      host->find_first_of("/\\@ \t") != std::string_view::npos)
    return std::nullopt;
  const Directory& d = *directory;
  return Context{d, std::string(req.tls ? "https://" : "http://") + std::string(*host),
                 req.remote_address, std::move(directory)};
}

enum class KeyRule { kJwk, kKid, kEither };

// RFC 8555 6.2-6.5, in order; nothing is changed by a request that fails one.
Outcome<Verified> verify_request(Frontend& f, const Context& ctx, const http::Request& req,
                                 KeyRule rule) {
  auto type = req.header("content-type");
  if (!type || type->substr(0, type->find(';')) != "application/jose+json") {
    Problem p = problem("malformed", "send the JWS as application/jose+json");
    p.status = 415;
    return std::unexpected(p);
  }
  auto jws = parse_jws(req.body);
  if (!jws) return std::unexpected(jws_problem(jws.error()));
  if (!jws->nonce || !f.nonces.redeem(*jws->nonce))
    return refuse("badNonce", "the nonce is unknown, used or expired: retry with a fresh one");
  if (jws->url != ctx.base + req.target)
    return refuse("unauthorized", "the JWS url is not the URL of this request");
  Verified v{std::move(*jws), std::nullopt, std::nullopt, nullptr};
  if (v.jws.jwk) {
    if (rule == KeyRule::kKid)
      return refuse("malformed", "this request must be signed by an account (kid)");
    auto key = parse_jwk(*v.jws.jwk);
    if (!key) return std::unexpected(jws_problem(key.error()));
    v.key = std::move(*key);
  } else {
    if (rule == KeyRule::kJwk)
      return refuse("malformed", "this request must carry its key (jwk), not a kid");
    const std::string prefix = ctx.url("/account/");
    const std::string& kid = *v.jws.kid;
    if (!kid.starts_with(prefix) || kid.size() == prefix.size() ||
        kid.find('/', prefix.size()) != std::string::npos)
      return refuse("accountDoesNotExist", "kid is not an account URL of this directory");
    auto account = f.service.account(ctx, std::string_view(kid).substr(prefix.size()));
    if (!account) return std::unexpected(account.error());
    v.key = (*account)->key;
    v.account = (*account)->account;
  }
  if (auto s = verify(v.jws, *v.key); !s) return std::unexpected(jws_problem(s.error()));
  if (v.account) {
    const auto decision = f.limiter.allow("acme:" + v.account->id);
    if (!decision.allowed) {
      Problem p = problem("rateLimited", "too many requests from this account");
      p.retry_after = static_cast<int>(std::max<std::int64_t>(1, decision.retry_after.count()));
      return std::unexpected(p);
    }
  }
  if (!v.jws.post_as_get()) {
    auto payload = payload_json(v.jws);
    if (!payload) return std::unexpected(jws_problem(payload.error()));
    v.payload = std::move(*payload);
  }
  return v;
}

using PostHandler =
    std::function<Outcome<Reply>(Frontend&, const Context&, Verified&, http::Request&)>;

void add_post(http::Router& router, Frontend& f, std::string pattern, KeyRule rule,
              PostHandler handler) {
  router.add("POST", std::move(pattern), [&f, rule, handler](http::Request& req) {
    auto directory = directory_of(f, req);
    if (!directory) return no_directory();
    auto ctx = context_of(std::move(directory), req);
    if (!ctx) {
      http::Response r = to_response(problem("malformed", "the request has no usable Host"));
      r.set_header("Replay-Nonce", f.nonces.issue());
      return r;
    }
    auto v = verify_request(f, *ctx, req, rule);
    if (!v) return respond(f, *ctx, std::unexpected(v.error()));
    return respond(f, *ctx, handler(f, *ctx, *v, req));
  });
}

Outcome<void> require_payload(const Verified& v) {
  if (v.payload.is_null()) return refuse("malformed", "this request needs a payload");
  return {};
}

// Resources that are only read (RFC 8555 6.3): a payload would be ignored, so it is refused
// rather than taken for a request that did something.
Outcome<void> require_post_as_get(const Verified& v) {
  if (!v.payload.is_null()) {
    return refuse("malformed", "this resource is read with POST-as-GET: the payload must be empty");
  }
  return {};
}

// keyChange (RFC 8555 7.3.5): the payload is a JWS signed by the new key over
// {"account", "oldKey"}, with the outer request's url and no nonce.
Outcome<Reply> key_change(Frontend& f, const Context& ctx, Verified& v) {
  if (auto r = require_payload(v); !r) return std::unexpected(r.error());
  auto inner = parse_jws(v.payload.dump());
  if (!inner) return std::unexpected(jws_problem(inner.error()));
  if (!inner->jwk || inner->kid) return refuse("malformed", "the inner JWS must carry a jwk");
  if (inner->nonce) return refuse("malformed", "the inner JWS must not carry a nonce");
  if (inner->url != v.jws.url) return refuse("malformed", "the inner JWS url differs");
  auto new_key = parse_jwk(*inner->jwk);
  if (!new_key) return std::unexpected(jws_problem(new_key.error()));
  if (auto s = verify(*inner, *new_key); !s) return std::unexpected(jws_problem(s.error()));
  auto body = payload_json(*inner);
  if (!body) return std::unexpected(jws_problem(body.error()));
  if (!body->contains("account") || (*body)["account"] != *v.jws.kid)
    return refuse("malformed", "the inner payload's account is not the signer's");
  if (!body->contains("oldKey")) return refuse("malformed", "the inner payload has no oldKey");
  auto old_key = parse_jwk((*body)["oldKey"]);
  if (!old_key || !(*old_key == *v.key))
    return refuse("malformed", "oldKey is not the account's current key");
  if (*new_key == *v.key) return refuse("malformed", "the new key is the old key");
  SignerKey signer{*new_key};
  return f.service.key_change(ctx, *v.account, signer);
}

Outcome<Reply> new_account(Frontend& f, const Context& ctx, Verified& v) {
  if (auto r = require_payload(v); !r) return std::unexpected(r.error());
  std::optional<std::string> eab_kid;
  if (v.payload.contains("externalAccountBinding")) {
    auto eab = parse_eab(v.payload["externalAccountBinding"], v.jws.url, *v.key);
    if (!eab) return std::unexpected(jws_problem(eab.error()));
    auto secret = f.service.eab_secret(eab->kid);
    if (!secret) return std::unexpected(secret.error());
    if (!*secret) return refuse("unauthorized", "unknown external account key");
    if (auto s = verify_eab_mac(*eab, (*secret)->key.span()); !s)
      return std::unexpected(jws_problem(s.error()));
    eab_kid = eab->kid;
  }
  SignerKey signer{*v.key};
  return f.service.new_account(ctx, signer, v.payload, eab_kid);
}

}  // namespace

std::unique_ptr<http::Router> make_router(const Directories& directories, bool named,
                                          Service& service, NonceStore& nonces,
                                          api::RateLimiter& limiter) {
  auto router = std::make_unique<http::Router>();
  // Owned by the router's handlers, which share it.
  auto f = std::make_shared<Frontend>(Frontend{directories, named, service, nonces, limiter});
  Frontend& fr = *f;

  router->add("GET", "/directory", [f](http::Request& req) {
    auto directory = directory_of(*f, req);
    if (!directory) return no_directory();
    auto ctx = context_of(std::move(directory), req);
    if (!ctx) return to_response(problem("malformed", "the request has no usable Host"));
    http::Response r = http::Response::json(200, f->service.directory(*ctx).dump());
    r.set_header("Cache-Control", "public, max-age=60");
    return r;
  });
  // RFC 8555 7.2: HEAD answers 200, GET 204, both with a nonce and never cached.
  for (const char* method : {"HEAD", "GET"}) {
    const int status = std::string_view(method) == "HEAD" ? 200 : 204;
    router->add(method, "/new-nonce", [f, status](http::Request& req) {
      auto directory = directory_of(*f, req);
      if (!directory) return no_directory();
      http::Response r;
      r.status = status;
      r.set_header("Replay-Nonce", f->nonces.issue());
      r.set_header("Cache-Control", "no-store");
      if (auto ctx = context_of(std::move(directory), req))
        r.set_header("Link", "<" + ctx->url("/directory") + ">;rel=\"index\"");
      return r;
    });
  }
  router->add("GET", "/renewal-info/{id}", [f](http::Request& req) {
    auto directory = directory_of(*f, req);
    if (!directory) return no_directory();
    auto ctx = context_of(std::move(directory), req);
    if (!ctx) return to_response(problem("malformed", "the request has no usable Host"));
    http::Response r = respond(*f, *ctx, f->service.renewal_info(*ctx, req.params.at("id")));
    return r;
  });

  add_post(*router, fr, "/new-account", KeyRule::kJwk,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request&) {
             return new_account(fe, ctx, v);
           });
  add_post(*router, fr, "/account/{id}", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             if (req.params.at("id") != v.account->id)
               return Outcome<Reply>(refuse("unauthorized", "not the signer's account"));
             if (v.payload.is_null() || v.payload.empty())
               return fe.service.get_account(ctx, *v.account);
             return fe.service.update_account(ctx, *v.account, v.payload);
           });
  add_post(*router, fr, "/account/{id}/orders", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             if (req.params.at("id") != v.account->id)
               return Outcome<Reply>(refuse("unauthorized", "not the signer's account"));
             if (auto r = require_post_as_get(v); !r)
               return Outcome<Reply>(std::unexpected(r.error()));
             return fe.service.account_orders(ctx, *v.account);
           });
  add_post(*router, fr, "/key-change", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request&) {
             return key_change(fe, ctx, v);
           });
  add_post(*router, fr, "/new-order", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request&) {
             if (auto r = require_payload(v); !r) return Outcome<Reply>(std::unexpected(r.error()));
             return fe.service.new_order(ctx, *v.account, v.payload);
           });
  add_post(*router, fr, "/order/{id}", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             if (auto r = require_post_as_get(v); !r)
               return Outcome<Reply>(std::unexpected(r.error()));
             return fe.service.get_order(ctx, *v.account, req.params.at("id"));
           });
  add_post(*router, fr, "/order/{id}/finalize", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             if (auto r = require_payload(v); !r) return Outcome<Reply>(std::unexpected(r.error()));
             return fe.service.finalize(ctx, *v.account, req.params.at("id"), v.payload);
           });
  add_post(*router, fr, "/authz/{id}", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             return fe.service.get_authorization(ctx, *v.account, req.params.at("id"),
                                                 v.payload.is_null() ? nullptr : &v.payload);
           });
  add_post(*router, fr, "/chall/{id}", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             return fe.service.challenge(ctx, *v.account, req.params.at("id"),
                                         v.payload.is_null() ? nullptr : &v.payload);
           });
  add_post(*router, fr, "/cert/{id}", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             if (auto r = require_post_as_get(v); !r)
               return Outcome<Reply>(std::unexpected(r.error()));
             return fe.service.certificate(ctx, *v.account, req.params.at("id"));
           });
  add_post(*router, fr, "/cert/{id}/{n}", KeyRule::kKid,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request& req) {
             // 1 to 99: the alternates an answer links to; anything else names none.
             const std::string& n = req.params.at("n");
             const bool number =
                 !n.empty() && n.size() <= 2 && n[0] != '0' &&
                 std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
             if (!number) return Outcome<Reply>(refuse("notFound", "no such alternate chain"));
             if (auto r = require_post_as_get(v); !r)
               return Outcome<Reply>(std::unexpected(r.error()));
             return fe.service.certificate(ctx, *v.account, req.params.at("id"),
                                           static_cast<std::size_t>(std::stoi(n)));
           });
  add_post(*router, fr, "/revoke-cert", KeyRule::kEither,
           [f](Frontend& fe, const Context& ctx, Verified& v, http::Request&) {
             if (auto r = require_payload(v); !r) return Outcome<Reply>(std::unexpected(r.error()));
             if (v.account) return fe.service.revoke(ctx, &*v.account, nullptr, v.payload);
             SignerKey signer{*v.key};
             return fe.service.revoke(ctx, nullptr, &signer, v.payload);
           });
  return router;
}

}  // namespace certward::protocols::acme
