// What each role may do, as docs/api.md ("Roles and permissions") says, so that the pages show
// only the actions a token can take. The API enforces the same table whatever a page shows.

export type Permission =
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
  | "read_policy"
  | "manage";

const TABLE: Record<string, Permission[]> = {
  admin: [
    "read_inventory", "issue", "import", "manage_authorities", "read_audit", "read_principals",
    "manage_principals", "edit_inventory", "revoke", "scan", "read_policy", "manage",
  ],
  operator: [
    "read_inventory", "issue", "import", "manage_authorities", "read_audit", "read_principals",
    "edit_inventory", "revoke", "scan", "read_policy", "manage",
  ],
  requester: ["read_inventory", "issue", "edit_inventory", "revoke", "manage"],
  auditor: ["read_inventory", "read_audit", "read_principals", "read_policy"],
  approver: ["read_inventory"],
  agent: [],
};

export function can(role: string, permission: Permission): boolean {
  return TABLE[role]?.includes(permission) ?? false;
}
