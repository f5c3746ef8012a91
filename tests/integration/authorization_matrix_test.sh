#!/usr/bin/env bash
# Every role against every route of the REST API, expecting exactly the allowed answers;
# the matrix must cover every operation of the OpenAPI document and nothing else.
source "$(dirname "$0")/lib.sh"

# A profile that requires approval, for the approval routes.
printf '[profiles.gated]\nallowed_domains = ["example.test"]\nrequires_approval = true\n' >"$T/certward.toml"
# The SSH user profile, with principals for team web's requesters.
printf '[ssh.profiles.ssh-user]\n[ssh.profiles.ssh-user.team_principals]\nweb = ["web-*"]\n' >>"$T/certward.toml"
start_server CERTWARD_CONFIG="$T/certward.toml"
A=$ADMIN_TOKEN
must 201 POST /api/v1/teams '{"name":"web","allowed_profiles":["tls-server","gated"],"allowed_domains":["web.example.test"]}'
must 201 POST /api/v1/teams '{"name":"other","allowed_profiles":["tls-server"],"allowed_domains":["other.example.test"]}'
declare -A TOKEN
TOKEN[admin]=$A
for spec in operator:operator:- requester:requester:web auditor:auditor:- agent:agent:- approver:approver:web; do
  IFS=: read -r name role team <<<"$spec"
  team_json=$([[ $team == - ]] && echo '' || echo ",\"team\":\"$team\"")
  must 201 POST /api/v1/principals "{\"name\":\"$name\",\"role\":\"$role\"$team_json}"
  must 201 POST /api/v1/tokens "{\"principal\":\"$name\",\"ttl\":\"1d\"}"
  TOKEN[$role]=$(jq -r .token "$T/resp")
done
# The agent (a discovery agent's token) may only report: every route a row does not give it an
# answer for is 403 to it.
ROLES=(admin operator requester auditor agent approver)
declare -A TOKEN_ID EAB_KID CROSS_FP CRED_ID
for r in "${ROLES[@]}"; do
  must 201 POST /api/v1/principals "{\"name\":\"victim-$r\",\"role\":\"auditor\"}"
  must 201 POST /api/v1/tokens "{\"principal\":\"victim-$r\"}"
  TOKEN_ID[$r]=$(jq -r .id "$T/resp")
  must 201 POST /api/v1/acme/eab '{"team":"web"}'
  EAB_KID[$r]=$(jq -r .kid "$T/resp")
  must 201 POST /api/v1/enrollment/credentials '{"kind":"est","team":"web","profile":"tls-server"}'
  CRED_ID[$r]=$(jq -r .id "$T/resp")
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca-$r.key" -out "$T/ca-$r.pem" -days 30 \
    -subj "/CN=external CA $r" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/leaf-$r.key" -out "$T/leaf-$r.pem" -days 30 -subj "/CN=leaf-$r" 2>/dev/null
  # The root's subject and key certified by that external CA: a cross-certificate per role.
  printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' >"$T/cross.ext"
  openssl x509 -in "$T/root.pem" -CA "$T/ca-$r.pem" -CAkey "$T/ca-$r.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 20 -extfile "$T/cross.ext" -out "$T/cross-$r.pem" 2>/dev/null
  CROSS_FP[$r]=$(openssl x509 -in "$T/cross-$r.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
done
must 201 POST /api/v1/certificates '{"profile":"tls-server","key_type":"ec-p256","common_name":"site.web.example.test","team":"web"}'
FP_WEB=$(jq -r .fingerprint "$T/resp")
must 202 POST /api/v1/discovery/scans '{"kind":"net","targets":["127.0.0.1"],"ports":"1","probe_legacy":false}'
SCAN_ID=$(jq -r .id "$T/resp")
for r in "${ROLES[@]}"; do
  must 201 POST /api/v1/discovery/schedules "{\"name\":\"del-$r\",\"interval\":\"1d\",\"spec\":{\"kind\":\"net\",\"targets\":[\"127.0.0.1\"],\"ports\":\"1\"}}"
done
declare -A REVOKE_FP
for r in "${ROLES[@]}"; do
  must 201 POST /api/v1/certificates "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"revoke-$r.web.example.test\",\"team\":\"web\"}"
  REVOKE_FP[$r]=$(jq -r .fingerprint "$T/resp")
done
must 201 POST /api/v1/certificates '{"profile":"tls-server","key_type":"ec-p256","common_name":"site.other.example.test","team":"other"}'
FP_OTHER=$(jq -r .fingerprint "$T/resp")
must 201 POST /api/v1/managed '{"name":"m-shared","sans":["m-shared.web.example.test"],"team":"web"}'
for r in "${ROLES[@]}"; do
  for n in "m-$r" "m-del-$r"; do
    must 201 POST /api/v1/managed "{\"name\":\"$n\",\"sans\":[\"$n.web.example.test\"],\"team\":\"web\"}"
  done
done

# Replacement campaigns, one per role and route (ids are random); a campaign that matches
# nothing stays planned until started.
declare -A CAMPAIGN_START CAMPAIGN_CANCEL
must 201 POST /api/v1/campaigns '{"name":"c-shared","selector":{"tag":"no-such-tag"}}'
CAMPAIGN_SHARED=$(jq -r .id "$T/resp")
for r in "${ROLES[@]}"; do
  must 201 POST /api/v1/campaigns "{\"name\":\"cs-$r\",\"selector\":{\"tag\":\"no-such-tag\"}}"
  CAMPAIGN_START[$r]=$(jq -r .id "$T/resp")
  must 201 POST /api/v1/campaigns "{\"name\":\"cc-$r\",\"selector\":{\"tag\":\"no-such-tag\"}}"
  CAMPAIGN_CANCEL[$r]=$(jq -r .id "$T/resp")
done

# SSH: a CA, a key to certify, a certificate of team web to read and one per role to revoke.
must 201 POST /api/v1/ssh/authorities '{"name":"ssh"}'
ssh-keygen -q -N '' -t ed25519 -f "$T/ssh_user"
SSH_SIGN=$(jq -n --rawfile k "$T/ssh_user.pub" '{public_key: $k, principals: ["web-matrix"]}')
declare -A SSH_REVOKE
sign_web() { api POST /api/v1/ssh/certificates "${TOKEN[requester]}" "$SSH_SIGN" >/dev/null; jq -r .id "$T/resp"; }
SSH_WEB=$(sign_web)
for r in "${ROLES[@]}"; do SSH_REVOKE[$r]=$(sign_web); done

# ACME directories: one to read, and one per role to delete.
must 201 PUT /api/v1/acme/directories/dir-shared '{"profiles":["tls-server"]}'
for r in "${ROLES[@]}"; do
  must 201 PUT "/api/v1/acme/directories/del-$r" '{"profiles":["tls-server"]}'
done

# Compliance rules: one to read, and one per role to replace and to delete. They apply to a
# tag nothing carries, so they refuse no issuance of this test.
must 201 POST /api/v1/policy/rules '{"id":"p-shared","kind":"required_owner","tags":["no-such-tag"]}'
for r in "${ROLES[@]}"; do
  for n in "pr-$r" "pd-$r"; do
    must 201 POST /api/v1/policy/rules "{\"id\":\"$n\",\"kind\":\"required_owner\",\"tags\":[\"no-such-tag\"]}"
  done
done

# Approval requests, made by the requester (team web): one to read, and one per role to
# approve, to reject and to cancel.
approval_request() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=$1.web.example.test" -out "$T/req.csr" 2>/dev/null
  [[ $(api POST /api/v1/certificates "${TOKEN[requester]}" "$(jq -n --rawfile c "$T/req.csr" '{profile: "gated", csr: $c}')") == 202 ]] ||
    { echo "setup failed: approval request: $(cat "$T/resp")" >&2; exit 1; }
  jq -r .id "$T/resp"
}
APPROVAL_SHARED=$(approval_request shared)
declare -A APPROVE REJECT CANCEL
for r in "${ROLES[@]}"; do
  APPROVE[$r]=$(approval_request "approve-$r")
  REJECT[$r]=$(approval_request "reject-$r")
  CANCEL[$r]=$(approval_request "cancel-$r")
done

body_for() {  # key role
  local r=$2
  case $1 in
    authority) echo "{\"name\":\"ca-$r\",\"kind\":\"issuing\",\"parent\":\"root\",\"subject\":\"CN=$r CA\"}" ;;
    import_ca) jq -n --rawfile c "$T/ca-$r.pem" --rawfile k "$T/ca-$r.key" --arg n "ext-$r" '{name: $n, certificate_pem: $c, private_key_pem: $k, kind: "issuing"}' ;;
    issue) echo "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"common_name\":\"$r.web.example.test\"}" ;;
    acme_directory) echo '{"profiles":["tls-server"]}' ;;
    import) jq -n --rawfile p "$T/leaf-$r.pem" '{pem: $p}' ;;
    cross) jq -n --rawfile c "$T/cross-$r.pem" --rawfile ch "$T/ca-$r.pem" '{certificate_pem: $c, chain_pem: $ch}' ;;
    team) echo "{\"name\":\"team-$r\"}" ;;
    principal) echo "{\"name\":\"p-$r\",\"role\":\"auditor\"}" ;;
    mapping) echo "{\"fingerprint\":\"$(printf '%s' "$r" | sha256sum | cut -d' ' -f1)\"}" ;;
    token) echo "{\"principal\":\"victim-$r\",\"role\":\"auditor\"}" ;;
    eab) echo '{"team":"web"}' ;;
    credential) echo '{"kind":"est","team":"web","profile":"tls-server"}' ;;
    credential_batch) echo '{"kind":"scep","team":"web","profile":"tls-server","count":2}' ;;
    scan) echo '{"kind":"net","targets":["127.0.0.1"],"ports":"1","probe_legacy":false}' ;;
    schedule) echo "{\"name\":\"s-$r\",\"interval\":\"1d\",\"spec\":{\"kind\":\"net\",\"targets\":[\"127.0.0.1\"],\"ports\":\"1\"}}" ;;
    agent) echo "{\"host\":\"host-$r\",\"roots\":[\"/srv\"],\"final\":true,\"observations\":[]}" ;;
    label) echo "{\"add_tags\":[\"seen-by-$r\"]}" ;;
    revoke) echo '{"reason":"superseded"}' ;;
    reject) echo '{"reason":"matrix"}' ;;
    bulk_revoke) echo '{"tag":"no-such-tag","dry_run":true}' ;;
    managed) echo "{\"name\":\"new-$r\",\"sans\":[\"new-$r.web.example.test\"]}" ;;
    managed_patch) echo "{\"tags\":[\"seen-by-$r\"]}" ;;
    campaign) echo "{\"name\":\"new-$r\",\"selector\":{\"tag\":\"no-such-tag\"}}" ;;
    policy_rule) echo "{\"id\":\"new-$r\",\"kind\":\"required_owner\",\"tags\":[\"no-such-tag\"]}" ;;
    policy_rule_put) echo '{"kind":"max_validity","max_days":398,"tags":["no-such-tag"]}' ;;
    agent_outcome) echo '{"deployed":true,"steps":[]}' ;;
    silence) echo '{"team":"web","until":"1h","reason":"matrix"}' ;;
    ssh_authority) echo "{\"name\":\"ssh-$r\"}" ;;
    ssh_sign) echo "$SSH_SIGN" ;;
    -) echo "" ;;
  esac
}

# method | pattern (as in the OpenAPI document) | concrete path | body | admin operator requester auditor
# [agent [approver]] (missing: 403)
MATRIX="
GET|/api/v1/whoami|/api/v1/whoami|-|200 200 200 200 403 200
GET|/api/v1/profiles|/api/v1/profiles|-|200 200 200 200 403 200
GET|/api/v1/profiles/{name}|/api/v1/profiles/tls-server|-|200 200 200 200 403 200
GET|/api/v1/authorities|/api/v1/authorities|-|200 200 200 200 403 200
POST|/api/v1/authorities|/api/v1/authorities|authority|201 201 403 403
POST|/api/v1/authorities/import|/api/v1/authorities/import|import_ca|201 201 403 403
GET|/api/v1/authorities/{name}|/api/v1/authorities/issuing|-|200 200 200 200 403 200
GET|/api/v1/authorities/{name}/chain|/api/v1/authorities/issuing/chain|-|200 200 200 200 403 200
GET|/api/v1/authorities/{name}/ocsp|/api/v1/authorities/issuing/ocsp|-|200 200 200 200 403 200
GET|/api/v1/authorities/{name}/cross-certificates|/api/v1/authorities/root/cross-certificates|-|200 200 200 200 403 200
POST|/api/v1/authorities/{name}/cross-certificates|/api/v1/authorities/root/cross-certificates|cross|201 201 403 403
DELETE|/api/v1/authorities/{name}/cross-certificates/{fingerprint}|/api/v1/authorities/root/cross-certificates/@CROSS_FP@|-|204 204 403 403
POST|/api/v1/authorities/{name}/disable|/api/v1/authorities/ca-@R@/disable|-|200 200 403 403
POST|/api/v1/authorities/{name}/enable|/api/v1/authorities/ca-@R@/enable|-|200 200 403 403
POST|/api/v1/authorities/{name}/revoke|/api/v1/authorities/ca-@R@/revoke|revoke|200 200 403 403
GET|/api/v1/issuers|/api/v1/issuers|-|200 200 200 200 403 200
GET|/api/v1/issuers/{name}|/api/v1/issuers/issuing|-|200 200 200 200 403 200
POST|/api/v1/issuers/{name}/check|/api/v1/issuers/issuing/check|-|200 200 403 403
GET|/api/v1/certificates|/api/v1/certificates|-|200 200 200 200 403 200
POST|/api/v1/certificates|/api/v1/certificates|issue|201 201 201 403
POST|/api/v1/certificates/import|/api/v1/certificates/import|import|201 201 403 403
GET|/api/v1/certificates/{id}|/api/v1/certificates/$FP_WEB|-|200 200 200 200 403 200
GET|/api/v1/certificates/{id}/sightings|/api/v1/certificates/$FP_WEB/sightings|-|200 200 200 200 403 200
GET|/api/v1/discovery/scans|/api/v1/discovery/scans|-|200 200 403 403
POST|/api/v1/discovery/scans|/api/v1/discovery/scans|scan|202 202 403 403
GET|/api/v1/discovery/scans/{id}|/api/v1/discovery/scans/$SCAN_ID|-|200 200 403 403
GET|/api/v1/discovery/schedules|/api/v1/discovery/schedules|-|200 200 403 403
POST|/api/v1/discovery/schedules|/api/v1/discovery/schedules|schedule|201 201 403 403
DELETE|/api/v1/discovery/schedules/{name}|/api/v1/discovery/schedules/del-@R@|-|200 200 403 403
POST|/api/v1/discovery/agent-reports|/api/v1/discovery/agent-reports|agent|201 201 403 403 201
GET|/api/v1/discovery/sightings|/api/v1/discovery/sightings|-|200 200 200 200 403 200
GET|/api/v1/managed|/api/v1/managed|-|200 200 200 200 403 200
POST|/api/v1/managed|/api/v1/managed|managed|201 201 201 403
GET|/api/v1/managed/{id}|/api/v1/managed/m-shared|-|200 200 200 200 403 200
PATCH|/api/v1/managed/{id}|/api/v1/managed/m-@R@|managed_patch|200 200 200 403
POST|/api/v1/managed/{id}/renew|/api/v1/managed/m-@R@/renew|-|202 202 202 403
GET|/api/v1/managed/{id}/timeline|/api/v1/managed/m-shared/timeline|-|200 200 200 200 403 200
DELETE|/api/v1/managed/{id}|/api/v1/managed/m-del-@R@|-|200 200 200 403
GET|/api/v1/alerts|/api/v1/alerts|-|200 200 200 200 403 200
GET|/api/v1/agent/deployments|/api/v1/agent/deployments|-|403 403 403 403 200
GET|/api/v1/agent/deployments/{id}|/api/v1/agent/deployments/00112233445566778899aabb|-|403 403 403 403 404
POST|/api/v1/agent/deployments/{id}/outcome|/api/v1/agent/deployments/00112233445566778899aabb/outcome|agent_outcome|403 403 403 403 404
GET|/api/v1/alerts/rules|/api/v1/alerts/rules|-|200 200 403 403
GET|/api/v1/alerts/silences|/api/v1/alerts/silences|-|200 200 200 200 403 200
POST|/api/v1/alerts/silences|/api/v1/alerts/silences|silence|201 201 201 403
DELETE|/api/v1/alerts/silences/{id}|/api/v1/alerts/silences/no-such-silence|-|404 404 404 403
GET|/api/v1/approvals|/api/v1/approvals|-|200 200 200 200 403 200
GET|/api/v1/approvals/{id}|/api/v1/approvals/$APPROVAL_SHARED|-|200 200 200 200 403 200
POST|/api/v1/approvals/{id}/approve|/api/v1/approvals/@APPROVE@/approve|-|200 403 403 403 403 200
POST|/api/v1/approvals/{id}/reject|/api/v1/approvals/@REJECT@/reject|reject|200 403 403 403 403 200
POST|/api/v1/approvals/{id}/cancel|/api/v1/approvals/@CANCEL@/cancel|-|403 403 200 403 403 403
GET|/api/v1/campaigns|/api/v1/campaigns|-|200 200 403 403
POST|/api/v1/campaigns|/api/v1/campaigns|campaign|201 201 403 403
GET|/api/v1/campaigns/{id}|/api/v1/campaigns/$CAMPAIGN_SHARED|-|200 200 403 403
GET|/api/v1/campaigns/{id}/items|/api/v1/campaigns/$CAMPAIGN_SHARED/items|-|200 200 403 403
POST|/api/v1/campaigns/{id}/start|/api/v1/campaigns/@CAMPAIGN_START@/start|-|200 200 403 403
POST|/api/v1/campaigns/{id}/pause|/api/v1/campaigns/$CAMPAIGN_SHARED/pause|-|409 409 403 403
POST|/api/v1/campaigns/{id}/cancel|/api/v1/campaigns/@CAMPAIGN_CANCEL@/cancel|-|200 200 403 403
POST|/api/v1/campaigns/{id}/finish|/api/v1/campaigns/$CAMPAIGN_SHARED/finish|-|409 409 403 403
PATCH|/api/v1/certificates/{id}|/api/v1/certificates/$FP_WEB|label|200 200 200 403
GET|/api/v1/certificates/{id}/download|/api/v1/certificates/$FP_WEB/download|-|200 200 200 200 403 200
POST|/api/v1/certificates/{id}/revoke|/api/v1/certificates/@REVOKE_FP@/revoke|revoke|200 200 200 403
POST|/api/v1/certificates/revoke|/api/v1/certificates/revoke|bulk_revoke|200 200 200 403
GET|/api/v1/policy/rules|/api/v1/policy/rules|-|200 200 403 200
POST|/api/v1/policy/rules|/api/v1/policy/rules|policy_rule|201 403 403 403
GET|/api/v1/policy/rules/{id}|/api/v1/policy/rules/p-shared|-|200 200 403 200
PUT|/api/v1/policy/rules/{id}|/api/v1/policy/rules/pr-@R@|policy_rule_put|200 403 403 403
DELETE|/api/v1/policy/rules/{id}|/api/v1/policy/rules/pd-@R@|-|200 403 403 403
GET|/api/v1/policy/violations|/api/v1/policy/violations|-|200 200 200 200 403 200
GET|/api/v1/reports/{kind}|/api/v1/reports/posture|-|200 200 200 200 403 200
GET|/api/v1/inventory/overview|/api/v1/inventory/overview|-|200 200 200 200 403 200
GET|/api/v1/audit/events|/api/v1/audit/events|-|200 200 403 200
GET|/api/v1/audit/verify|/api/v1/audit/verify|-|200 200 403 200
GET|/api/v1/teams|/api/v1/teams|-|200 200 403 200
POST|/api/v1/teams|/api/v1/teams|team|201 403 403 403
GET|/api/v1/principals|/api/v1/principals|-|200 200 403 200
POST|/api/v1/principals|/api/v1/principals|principal|201 403 403 403
POST|/api/v1/principals/{name}/disable|/api/v1/principals/victim-@R@/disable|-|200 403 403 403
POST|/api/v1/principals/{name}/enable|/api/v1/principals/victim-@R@/enable|-|200 403 403 403
GET|/api/v1/principals/{name}/certificates|/api/v1/principals/victim-@R@/certificates|-|200 200 403 200
POST|/api/v1/principals/{name}/certificates|/api/v1/principals/victim-@R@/certificates|mapping|201 403 403 403
DELETE|/api/v1/principals/{name}/certificates/{fingerprint}|/api/v1/principals/victim-@R@/certificates/@MAPFP@|-|204 403 403 403
GET|/api/v1/tokens|/api/v1/tokens|-|200 200 403 200
POST|/api/v1/tokens|/api/v1/tokens|token|201 403 403 403
DELETE|/api/v1/tokens/{id}|/api/v1/tokens/@TOKEN_ID@|-|204 403 403 403
GET|/api/v1/acme/eab|/api/v1/acme/eab|-|200 200 403 200
POST|/api/v1/acme/eab|/api/v1/acme/eab|eab|201 403 403 403
DELETE|/api/v1/acme/eab/{kid}|/api/v1/acme/eab/@EAB_KID@|-|200 403 403 403
GET|/api/v1/enrollment/credentials|/api/v1/enrollment/credentials|-|200 200 403 200
POST|/api/v1/enrollment/credentials|/api/v1/enrollment/credentials|credential|201 403 403 403
POST|/api/v1/enrollment/credentials/batch|/api/v1/enrollment/credentials/batch|credential_batch|201 403 403 403
GET|/api/v1/enrollment/credentials/{id}|/api/v1/enrollment/credentials/@CRED_ID@|-|200 200 403 200
DELETE|/api/v1/enrollment/credentials/{id}|/api/v1/enrollment/credentials/@CRED_ID@|-|200 403 403 403
GET|/api/v1/ssh/authorities|/api/v1/ssh/authorities|-|200 200 200 200 403 200
POST|/api/v1/ssh/authorities|/api/v1/ssh/authorities|ssh_authority|201 201 403 403
GET|/api/v1/ssh/authorities/{name}|/api/v1/ssh/authorities/ssh|-|200 200 200 200 403 200
GET|/api/v1/ssh/profiles|/api/v1/ssh/profiles|-|200 200 200 200 403 200
POST|/api/v1/ssh/certificates|/api/v1/ssh/certificates|ssh_sign|201 201 201 403
GET|/api/v1/ssh/certificates|/api/v1/ssh/certificates|-|200 200 200 200 403 200
GET|/api/v1/ssh/certificates/{id}|/api/v1/ssh/certificates/$SSH_WEB|-|200 200 200 200 403 200
POST|/api/v1/ssh/certificates/{id}/revoke|/api/v1/ssh/certificates/@SSH_REVOKE@/revoke|revoke|200 200 200 403
GET|/api/v1/acme/directories|/api/v1/acme/directories|-|200 200 200 200 403 200
GET|/api/v1/acme/directories/{name}|/api/v1/acme/directories/dir-shared|-|200 200 200 200 403 200
PUT|/api/v1/acme/directories/{name}|/api/v1/acme/directories/put-@R@|acme_directory|201 201 403 403
DELETE|/api/v1/acme/directories/{name}|/api/v1/acme/directories/del-@R@|-|204 204 403 403
GET|/api/v1/openapi.json|/api/v1/openapi.json|-|public
GET|/healthz|/healthz|-|public
GET|/readyz|/readyz|-|public
GET|/metrics|/metrics|-|public
"

covered=()
while IFS='|' read -r method pattern path body expect; do
  [[ -n $method ]] || continue
  covered+=("$method $pattern")
  if [[ $expect == public ]]; then
    assert_eq 200 "$(api "$method" "$path")" "$method $pattern without a token"
    continue
  fi
  # Without credentials every guarded route answers 401.
  assert_eq 401 "$(api "$method" "${path//@R@/admin}" "" "$(body_for "$body" admin)")" "$method $pattern without a token"
  read -r -a want <<<"$expect"
  while [[ ${#want[@]} -lt 6 ]]; do want+=(403); done
  for i in 0 1 2 3 4 5; do
    r=${ROLES[$i]}
    p=${path//@R@/$r}
    p=${p//@TOKEN_ID@/${TOKEN_ID[$r]}}
    p=${p//@EAB_KID@/${EAB_KID[$r]}}
    p=${p//@CRED_ID@/${CRED_ID[$r]}}
    p=${p//@REVOKE_FP@/${REVOKE_FP[$r]}}
    p=${p//@CAMPAIGN_START@/${CAMPAIGN_START[$r]}}
    p=${p//@CAMPAIGN_CANCEL@/${CAMPAIGN_CANCEL[$r]}}
    p=${p//@APPROVE@/${APPROVE[$r]}}
    p=${p//@REJECT@/${REJECT[$r]}}
    p=${p//@CANCEL@/${CANCEL[$r]}}
    p=${p//@CROSS_FP@/${CROSS_FP[$r]}}
    p=${p//@SSH_REVOKE@/${SSH_REVOKE[$r]}}
    p=${p//@MAPFP@/$(printf '%s' "$r" | sha256sum | cut -d' ' -f1)}
    got=$(api "$method" "$p" "${TOKEN[$r]}" "$(body_for "$body" "$r")")
    assert_eq "${want[$i]}" "$got" "$r: $method $pattern ($(head -c 200 "$T/resp"))"
  done
done <<<"$MATRIX"

# The matrix and the OpenAPI document list the same operations.
api GET /api/v1/openapi.json >/dev/null
jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | ascii_upcase + " " + $p' "$T/resp" | sort >"$T/documented"
printf '%s\n' "${covered[@]}" | sort >"$T/covered"
assert_eq "" "$(comm -3 "$T/documented" "$T/covered" | tr '\n' ';')" "operations documented but not in the matrix, or the reverse"

# Scope: a requester sees only its team's certificates and issues only within its domains.
R=${TOKEN[requester]}
assert_eq 404 "$(api GET "/api/v1/certificates/$FP_OTHER" "$R")" "requester reading another team's certificate"
assert_eq 200 "$(api GET /api/v1/certificates "$R")" "requester list"
assert_eq 0 "$(jq "[.items[] | select(.team != \"web\")] | length" "$T/resp")" "requester list holds only its team"
assert_eq 403 "$(api GET '/api/v1/certificates?team=other' "$R")" "requester asking for another team"
assert_eq 404 "$(api PATCH "/api/v1/certificates/$FP_OTHER" "$R" '{"add_tags":["x"]}')" "requester labelling another team's certificate"
assert_eq 403 "$(api PATCH "/api/v1/certificates/$FP_WEB" "$R" '{"team":"other"}')" "requester moving a certificate to another team"
assert_eq 403 "$(api PATCH "/api/v1/certificates/$FP_WEB" "$R" '{"team":null}')" "requester taking a certificate out of its team"
assert_eq 200 "$(api PATCH "/api/v1/certificates/$FP_WEB" "$R" '{"owner":"web-oncall@example.test"}')" "requester setting the owner"
assert_eq 403 "$(api POST /api/v1/certificates "$R" '{"profile":"tls-client","key_type":"ec-p256","common_name":"x.web.example.test"}')" "requester outside its profiles"
# Every mutation above was audited with its principal.
assert_eq 200 "$(api GET '/api/v1/audit/events?action=team.create&limit=10' "$A")" "audit list"
assert_eq "token:$(echo "$A" | cut -d_ -f2)" "$(jq -r '.items[-1].actor' "$T/resp")" "team.create audited with the admin token"
stop_server
finish
