import type { Identity } from "../api";

export function Alerts({ identity }: { identity: Identity }) {
  return <main><h1>Alerts</h1><p>{identity.role}</p></main>;
}
