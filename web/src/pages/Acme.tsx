import type { Identity } from "../api";

export function Acme({ identity }: { identity: Identity }) {
  return <main><h1>Acme</h1><p>{identity.role}</p></main>;
}
