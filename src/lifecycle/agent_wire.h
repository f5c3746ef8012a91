#pragma once
// The two documents a deployment to an agent target travels in, between a server and
// `certward agent`, each hostile to the side that reads it:
//   - the delivery (server -> agent): the target (files, reload, verify), the certificate, its
//     chain and its key. An agent reads it as it reads anything from the network: a server
//     that was taken over must not make it write what does not belong together or run what
//     its allow-list does not name (the allow-list itself is deploy::check_agent_host);
//   - the outcome (agent -> server): what the agent's Deployer did, step by step. A server
//     reads it as it reads any request body: bounded, single-line, known step names only.
//
// As JSON:
//   delivery: {"id": "<hex>", "managed": "web", "fingerprint": "<sha256 hex>",
//              "target": {deploy::TargetSpec of kind "agent"},
//              "certificate": "<PEM>", "chain": "<PEM issuers, nearest first>",
//              "key": "<PKCS#8 PEM>", "deadline": "<RFC 3339>"}
//   outcome:  {"deployed": false, "rolled_back": true,
//              "steps": [{"name": "write", "ok": true, "detail": "...", "took_ms": 3}, ...],
//              "error": {"code": "policy_rejected", "message": "..."}}
//
// Pure functions; thread-safe.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "lifecycle/deploy/target.h"
#include "x509/certificate.h"

namespace certward::lifecycle {

// A delivery as an agent has checked it: the key is the certificate's, the fingerprint is the
// certificate's, the target is an agent target that parse_target_spec accepts.
struct AgentDelivery {
  std::string id;
  std::string managed;
  std::string fingerprint;
  deploy::TargetSpec target;
  x509::Certificate certificate;
  std::vector<x509::Certificate> chain;  // issuers, nearest first; at most 8
  crypto::PrivateKey key;
  std::optional<SysTime> deadline;
};

// The server's document. `key_pem` is the PKCS#8 PEM of the key (the caller cleanses it).
nlohmann::json agent_delivery_json(std::string_view id, std::string_view managed,
                                   const deploy::TargetSpec& target,
                                   const x509::Certificate& certificate,
                                   const std::vector<x509::Certificate>& chain,
                                   std::string_view key_pem, SysTime deadline);

// Errors: kMalformed (shape, unknown member, not PEM, not one certificate, no key),
// kInvalidArgument (bad id or name, a target parse_target_spec refuses or that is not an agent
// target, a fingerprint or key that is not the certificate's, too many certificates).
Result<AgentDelivery> parse_agent_delivery(const nlohmann::json& j);

// The agent's report of `o` (deploy::outcome_json without the agent's clock).
nlohmann::json agent_outcome_json(const deploy::Outcome& o);

// The server's reading of an agent's report; `started` is left at its default (the server
// records when it received it). Details and messages are made single-line and bounded.
// Errors: kMalformed (shape, unknown member), kInvalidArgument (an unknown step name or error
// code, more than 16 steps, deployed with an error or a failed step, not deployed without an
// error).
Result<deploy::Outcome> parse_agent_outcome(const nlohmann::json& j);

}  // namespace certward::lifecycle
