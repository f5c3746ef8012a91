# Helpers of the managed-certificate integration tests (sourced after lib.sh).

managed_count() { db_scalar "SELECT COUNT(*) FROM managed_certificates"; }

# refused TOKEN STATUS CODE MESSAGE BODY: POST /api/v1/managed is refused with STATUS and the
# problem CODE, and neither a managed certificate nor anything else in the database changed.
refused() {
  local n0 s0
  n0=$(managed_count)
  s0=$(state)
  assert_eq "$2" "$(api POST /api/v1/managed "$1" "$5")" "$4"
  assert_eq "$3" "$(jq -r .code "$T/resp")" "$4 (code)"
  assert_eq "$n0" "$(managed_count)" "$4 created a managed certificate"
  assert_eq "$s0" "$(state)" "$4 changed the database"
}
