// The OpenAPI 3.1 document for REST API v1. tests/unit/api/openapi_test.cc keeps it true:
// every route is documented and every documented operation is routed.

#include "api/api.h"

namespace certward::api {

const std::string& openapi_document() {
  static const std::string kDocument = R"json({
  "openapi": "3.1.0",
  "info": {
    "title": "certward REST API",
    "version": "1",
    "description": "Certificate lifecycle management: private CA, inventory, issuance, audit. Authenticate with 'Authorization: Bearer <token>' or a mapped TLS client certificate. Errors are RFC 7807 problem+json with a stable 'code' member."
  },
  "servers": [{"url": "/"}],
  "security": [{"bearer": []}, {"clientCertificate": []}],
  "paths": {
    "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "alive"}}}},
    "/readyz": {"get": {"summary": "Readiness (database reachable)", "security": [], "responses": {"200": {"description": "ready"}, "503": {"$ref": "#/components/responses/Problem"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "text exposition format 0.0.4", "content": {"text/plain": {}}}}}},
    "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    "/api/v1/whoami": {"get": {"summary": "The authenticated principal", "responses": {"200": {"description": "identity", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Identity"}}}}, "401": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/profiles": {"get": {"summary": "List certificate profiles", "responses": {"200": {"description": "profiles", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProfileList"}}}}}}},
    "/api/v1/profiles/{name}": {"get": {"summary": "One profile", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"200": {"description": "profile", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Profile"}}}}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/authorities": {
      "get": {"summary": "List authorities", "responses": {"200": {"description": "authorities", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuthorityList"}}}}}},
      "post": {"summary": "Create a root, intermediate or issuing CA (admin, operator)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateAuthority"}}}}, "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Authority"}}}}, "400": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}
    },
    "/api/v1/authorities/import": {"post": {"summary": "Import an existing CA certificate and key", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportAuthority"}}}}, "responses": {"201": {"description": "imported", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Authority"}}}}, "400": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/authorities/{name}": {"get": {"summary": "One authority", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"200": {"description": "authority", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Authority"}}}}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/authorities/{name}/disable": {"post": {"summary": "Disable an authority: it signs nothing (in every replica within ca.authority_recheck); its certificates stay valid", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"200": {"description": "the authority, now disabled", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Authority"}}}}, "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/authorities/{name}/enable": {"post": {"summary": "Enable a disabled authority again", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"200": {"description": "the authority, now active", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Authority"}}}}, "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/authorities/{name}/chain": {"get": {"summary": "The authority's certificate and its issuers (PEM)", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"200": {"description": "PEM chain", "content": {"application/pem-certificate-chain": {}}}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/certificates": {
      "get": {"summary": "Query the inventory (requesters see their team's certificates)", "parameters": [
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["valid", "expiring", "expired", "revoked", "superseded", "not_yet_valid"]}},
        {"name": "expiring_within", "in": "query", "schema": {"type": "string", "example": "30d"}},
        {"name": "issuer", "in": "query", "schema": {"type": "string"}},
        {"name": "authority", "in": "query", "schema": {"type": "string"}},
        {"name": "key_algorithm", "in": "query", "schema": {"type": "string", "enum": ["rsa", "rsa-pss", "ecdsa", "ed25519"]}},
        {"name": "key_bits", "in": "query", "schema": {"type": "integer"}},
        {"name": "search", "in": "query", "schema": {"type": "string"}, "description": "substring of the subject or any SAN"},
        {"name": "owner", "in": "query", "schema": {"type": "string"}},
        {"name": "team", "in": "query", "schema": {"type": "string"}},
        {"name": "origin", "in": "query", "schema": {"type": "string", "enum": ["issued", "imported", "discovered", "upstream"]}},
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "a page, soonest expiry first", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CertificatePage"}}}}, "400": {"$ref": "#/components/responses/Problem"}}},
      "post": {"summary": "Issue a certificate from a CSR or with a server-side key", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IssueRequest"}}}},
        "responses": {"201": {"description": "issued and durable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Issued"}}}}, "400": {"$ref": "#/components/responses/Problem"}, "403": {"$ref": "#/components/responses/Problem"}, "415": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"}}}
    },
    "/api/v1/certificates/import": {"post": {"summary": "Import certificates into the inventory (all or nothing)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportRequest"}}}}, "responses": {"200": {"description": "all already present"}, "201": {"description": "imported", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportReport"}}}}, "400": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/certificates/{id}": {"get": {"summary": "One certificate: inventory record, parsed fields and PEM", "parameters": [{"$ref": "#/components/parameters/id"}], "responses": {"200": {"description": "certificate", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CertificateRecord"}}}}, "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}},
      "patch": {"summary": "Change owner, team and tags (JSON merge patch: absent keeps, null clears; add_tags/remove_tags edit the set)", "parameters": [{"$ref": "#/components/parameters/id"}], "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UpdateCertificate"}}}}, "responses": {"200": {"description": "the updated record", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CertificateRecord"}}}}, "400": {"$ref": "#/components/responses/Problem"}, "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/certificates/{id}/download": {"get": {"summary": "Download as PEM, DER, chain, PKCS#7 or certificates-only PKCS#12", "parameters": [{"$ref": "#/components/parameters/id"}, {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["pem", "der", "chain", "p7b", "p12"], "default": "pem"}}, {"name": "X-PKCS12-Password", "in": "header", "schema": {"type": "string"}, "description": "required for p12"}], "responses": {"200": {"description": "the file", "content": {"application/x-pem-file": {}, "application/pkix-cert": {}, "application/pem-certificate-chain": {}, "application/pkcs7-mime": {}, "application/x-pkcs12": {}}}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/audit/events": {"get": {"summary": "Audit events, newest first", "parameters": [
        {"name": "actor", "in": "query", "schema": {"type": "string"}}, {"name": "action", "in": "query", "schema": {"type": "string"}},
        {"name": "target_type", "in": "query", "schema": {"type": "string"}}, {"name": "target_id", "in": "query", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}}, {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "before_seq", "in": "query", "schema": {"type": "integer"}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
      "responses": {"200": {"description": "events", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventPage"}}}}}}},
    "/api/v1/audit/verify": {"get": {"summary": "Recompute the hash chain", "parameters": [
        {"name": "checkpoint", "in": "query", "description": "SEQ:HASH recorded outside certward from an earlier head; the chain must still hold it", "schema": {"type": "string", "pattern": "^[1-9][0-9]*:[0-9a-f]{64}$"}}],
      "responses": {"200": {"description": "report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VerifyReport"}}}}, "400": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/teams": {
      "get": {"summary": "List teams", "responses": {"200": {"description": "teams"}}},
      "post": {"summary": "Create a team (admin)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Team"}}}}, "responses": {"201": {"description": "created"}, "400": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}
    },
    "/api/v1/principals": {
      "get": {"summary": "List principals", "responses": {"200": {"description": "principals"}}},
      "post": {"summary": "Create a principal (admin)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Principal"}}}}, "responses": {"201": {"description": "created"}, "400": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}
    },
    "/api/v1/principals/{name}/disable": {"post": {"summary": "Disable a principal: its tokens and certificates stop authenticating", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"200": {"description": "disabled"}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/principals/{name}/enable": {"post": {"summary": "Enable a principal", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"200": {"description": "enabled"}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/principals/{name}/certificates": {"post": {"summary": "Map a TLS client certificate to the principal", "parameters": [{"$ref": "#/components/parameters/name"}], "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"certificate_pem": {"type": "string"}, "fingerprint": {"type": "string"}}, "additionalProperties": false}}}}, "responses": {"201": {"description": "mapped"}, "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/principals/{name}/certificates/{fingerprint}": {"delete": {"summary": "Remove a client-certificate mapping; the certificate stops authenticating at once", "parameters": [{"$ref": "#/components/parameters/name"}, {"name": "fingerprint", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}], "responses": {"204": {"description": "removed"}, "400": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/v1/tokens": {
      "get": {"summary": "List tokens (never their secrets)", "parameters": [{"name": "principal", "in": "query", "schema": {"type": "string"}}], "responses": {"200": {"description": "tokens"}}},
      "post": {"summary": "Create a token; the secret is in this response only", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}}}, "responses": {"201": {"description": "created; 'token' holds the secret"}, "404": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}
    },
    "/api/v1/tokens/{id}": {"delete": {"summary": "Revoke a token", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"204": {"description": "revoked"}, "404": {"$ref": "#/components/responses/Problem"}}}}
  },
  "components": {
    "securitySchemes": {
      "bearer": {"type": "http", "scheme": "bearer", "description": "an API token 'cwt_<id>_<secret>'"},
      "clientCertificate": {"type": "mutualTLS"}
    },
    "parameters": {
      "name": {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
      "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "SHA-256 fingerprint, a unique prefix of 8+ hex digits, or a serial"}
    },
    "responses": {
      "Problem": {"description": "RFC 7807 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    },
    "schemas": {
      "Problem": {"type": "object", "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}, "code": {"type": "string", "enum": ["malformed", "bad_signature", "not_found", "conflict", "policy_rejected", "unauthorized", "unavailable", "internal", "bad_password", "invalid_argument", "rate_limited", "method_not_allowed", "length_required", "payload_too_large", "header_too_large"]}}},
      "Identity": {"type": "object", "properties": {"principal": {"type": "string"}, "role": {"type": "string"}, "team": {"type": ["string", "null"]}, "actor": {"type": "string"}}},
      "Profile": {"type": "object", "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "key_types": {"type": "array", "items": {"type": "string"}}, "default_validity": {"type": "string"}, "max_validity": {"type": "string"}, "key_usage": {"type": "array", "items": {"type": "string"}}, "extended_key_usage": {"type": "array", "items": {"type": "string"}}, "allowed_domains": {"type": "array", "items": {"type": "string"}}, "ca": {"type": "boolean"}}},
      "ProfileList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Profile"}}}},
      "Certificate": {"type": "object", "description": "parsed X.509 fields", "properties": {"subject": {"type": "string"}, "issuer": {"type": "string"}, "serial": {"type": "string"}, "not_before": {"type": "string", "format": "date-time"}, "not_after": {"type": "string", "format": "date-time"}, "sans": {"type": "array", "items": {"type": "string"}}, "sha256": {"type": "string"}}},
      "Authority": {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["root", "intermediate", "issuing"]}, "parent": {"type": ["string", "null"]}, "status": {"type": "string"}, "key_type": {"type": "string"}, "certificate": {"$ref": "#/components/schemas/Certificate"}}},
      "AuthorityList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Authority"}}}},
      "CreateAuthority": {"type": "object", "required": ["name", "kind", "subject"], "additionalProperties": false, "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["root", "intermediate", "issuing"]}, "parent": {"type": "string"}, "subject": {"type": "string"}, "key_type": {"type": "string"}, "validity": {"type": "string"}, "path_length": {"type": "integer"}, "permitted": {"type": "array", "items": {"type": "string"}}, "excluded": {"type": "array", "items": {"type": "string"}}}},
      "ImportAuthority": {"type": "object", "required": ["name", "certificate_pem", "private_key_pem"], "additionalProperties": false, "properties": {"name": {"type": "string"}, "certificate_pem": {"type": "string"}, "private_key_pem": {"type": "string"}, "key_passphrase": {"type": "string"}, "chain_pem": {"type": "string"}, "parent": {"type": "string"}, "kind": {"type": "string"}}},
      "UpdateCertificate": {"type": "object", "additionalProperties": false, "properties": {"owner": {"type": ["string", "null"], "maxLength": 256}, "team": {"type": ["string", "null"]}, "tags": {"type": ["array", "null"], "maxItems": 32, "items": {"type": "string", "pattern": "^[A-Za-z0-9._:/=+-]{1,64}$"}}, "add_tags": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9._:/=+-]{1,64}$"}}, "remove_tags": {"type": "array", "items": {"type": "string"}}}},
      "CertificateRecord": {"type": "object", "properties": {"fingerprint": {"type": "string"}, "serial": {"type": "string"}, "subject": {"type": "string"}, "sans": {"type": "array", "items": {"type": "string"}}, "not_after": {"type": "string", "format": "date-time"}, "status": {"type": "string"}, "origin": {"type": "string"}, "authority": {"type": ["string", "null"]}, "profile": {"type": ["string", "null"]}, "owner": {"type": ["string", "null"]}, "team": {"type": ["string", "null"]}, "tags": {"type": "array", "items": {"type": "string"}}}},
      "CertificatePage": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/CertificateRecord"}}, "next_cursor": {"type": ["string", "null"]}}},
      "IssueRequest": {"type": "object", "required": ["profile"], "additionalProperties": false, "properties": {"profile": {"type": "string"}, "csr": {"type": "string", "description": "PEM PKCS#10"}, "key_type": {"type": "string", "enum": ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519", "rsa-pss-2048", "rsa-pss-3072", "rsa-pss-4096"]}, "common_name": {"type": "string"}, "sans": {"type": "array", "items": {"type": "string"}, "description": "dns:, ip:, email:, uri:"}, "authority": {"type": "string"}, "validity": {"type": "string"}, "owner": {"type": "string"}, "team": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}, "format": {"type": "string", "enum": ["pem", "pkcs12"]}, "pkcs12_password": {"type": "string"}, "key_password": {"type": "string"}}},
      "Issued": {"type": "object", "properties": {"fingerprint": {"type": "string"}, "serial": {"type": "string"}, "authority": {"type": "string"}, "profile": {"type": "string"}, "certificate": {"$ref": "#/components/schemas/Certificate"}, "certificate_pem": {"type": "string"}, "chain_pem": {"type": "string"}, "private_key_pem": {"type": "string"}, "pkcs12": {"type": "string", "contentEncoding": "base64"}}},
      "ImportRequest": {"type": "object", "additionalProperties": false, "properties": {"pem": {"type": "string"}, "der": {"type": "string", "contentEncoding": "base64"}, "pkcs12": {"type": "string", "contentEncoding": "base64"}, "password": {"type": "string"}, "owner": {"type": "string"}, "team": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}},
      "ImportReport": {"type": "object", "properties": {"inserted": {"type": "integer"}, "duplicates": {"type": "integer"}, "items": {"type": "array", "items": {"type": "object"}}}},
      "EventPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}, "next_before_seq": {"type": ["integer", "null"]}}},
      "VerifyReport": {"type": "object", "required": ["ok", "events_checked", "head"], "properties": {"ok": {"type": "boolean"}, "events_checked": {"type": "integer"}, "first_bad_seq": {"type": "integer"}, "problem": {"type": "string"}, "head": {"type": "object", "properties": {"seq": {"type": "integer"}, "hash": {"type": "string"}, "checkpoint": {"type": "string"}}}, "checkpoint_matched": {"type": "boolean"}}},
      "Team": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "allowed_profiles": {"type": "array", "items": {"type": "string"}}, "allowed_domains": {"type": "array", "items": {"type": "string"}}, "allowed_authorities": {"type": "array", "items": {"type": "string"}, "description": "authorities its requesters may name; empty: only the default authority. Neither CA profiles nor root authorities can be granted."}}},
      "Principal": {"type": "object", "required": ["name", "role"], "additionalProperties": false, "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "operator", "requester", "auditor"]}, "team": {"type": "string"}}},
      "TokenRequest": {"type": "object", "required": ["principal"], "additionalProperties": false, "properties": {"principal": {"type": "string"}, "role": {"type": "string"}, "team": {"type": "string"}, "description": {"type": "string"}, "ttl": {"type": "string", "example": "90d"}, "no_expiry": {"type": "boolean"}}}
    }
  }
})json";
  return kDocument;
}

}  // namespace certward::api
