// What each role may do, as docs/api.md ("Roles and permissions") says, so that the pages show
// only the actions a token can take. The API enforces the same table whatever a page shows.

export type Permission =
  | "read_catalog"
  | "read_inventory"
  | "issue"
  | "import"
  | "manage_authorities"
  | "read_audit"
  | "read_principals"
  | "manage_principals"
  | "edit_inventory"
  | "revoke"
  | "scan"
  | "manage"
  | "campaign"
  | "read_policy"
  | "manage_policy"
  | "approve_requests";

const TABLE: Record<string, Permission[]> = {
  admin: [
    "read_catalog", "read_inventory", "issue", "import", "manage_authorities", "read_audit",
    "read_principals", "manage_principals", "edit_inventory", "revoke", "scan", "manage",
    "campaign", "read_policy", "manage_policy", "approve_requests",
  ],
  operator: [
    "read_catalog", "read_inventory", "issue", "import", "manage_authorities", "read_audit",
    "read_principals", "edit_inventory", "revoke", "scan", "manage", "campaign", "read_policy",
  ],
  requester: ["read_catalog", "read_inventory", "issue", "edit_inventory", "revoke", "manage"],
  auditor: ["read_catalog", "read_inventory", "read_audit", "read_principals", "read_policy"],
  approver: ["read_catalog", "read_inventory", "approve_requests"],
  agent: [],
};

export function can(role: string, permission: Permission): boolean {
  return TABLE[role]?.includes(permission) ?? false;
}
