import type { Identity } from "../api";

export function Governance({ identity }: { identity: Identity }) {
  return <main><h1>Governance</h1><p>{identity.role}</p></main>;
}
