// What a certificate page shows around the certificate itself: the chain up to its root, the
// managed certificate it is the current certificate of (with its state, timeline and Renew
// now), and its audit trail. Each asks the API only what the role may read.

import { get, request, type Identity } from "../api";
import { EventsTable, type AuditEvent } from "../events";
import { href } from "../router";
import { can } from "../roles";
import { Card, Empty, Problem, Show, date, display, useAction, useLoad } from "../ui";

interface Authority {
  name: string;
  kind: string;
  parent: string | null;
  status: string;
  certificate: { subject: string; not_after: string; sha256: string };
}

// The chain from the certificate's issuer up: through certward's authorities when one issued it
// (or when an authority's subject is the issuer's name), else the issuer's name alone, which is
// all a certificate says of it.
export function Chain({ issuer, authority }: { issuer: string; authority: string | null }) {
  const authorities = useLoad(() => get<{ items: Authority[] }>("/authorities"), ["authorities"]);
  return (
    <Card title="Chain" id="chain">
      <Show loaded={authorities}>
        {({ items }) => {
          const by_name = new Map(items.map((a) => [a.name, a]));
          let next = authority ? by_name.get(authority) : items.find((a) => a.certificate.subject === issuer);
          const chain: Authority[] = [];
          while (next && chain.length < 16 && !chain.includes(next)) {
            chain.push(next);
            next = next.parent ? by_name.get(next.parent) : undefined;
          }
          if (chain.length === 0) {
            return (
              <p>
                Issued by {display(issuer, 500) || "(empty name)"}, which is not a certward authority.{" "}
                <a href={href("/inventory", { issuer: issuer.length >= 3 ? issuer : undefined })}>Certificates of this issuer</a>
              </p>
            );
          }
          return (
            <ol class="plain" aria-label="Issuers, nearest first">
              {chain.map((a) => (
                <li key={a.name} data-chain={a.name}>
                  ↑ <a href={href(`/certificates/${a.certificate.sha256}`)}>{display(a.certificate.subject, 300)}</a>{" "}
                  <span class="muted">
                    {a.kind} “{display(a.name)}”, {a.status}, until {date(a.certificate.not_after)}
                  </span>
                </li>
              ))}
            </ol>
          );
        }}
      </Show>
    </Card>
  );
}

interface Managed {
  id: string;
  name: string;
  state: string;
  renew_at: string | null;
  deployed: boolean;
  targets: unknown[];
  last_error?: string;
}
interface TimelineEntry {
  seq: number;
  at: string;
  kind: string;
  actor: string;
}

export function ManagedOf({ fingerprint, identity, onRenewed }: { fingerprint: string; identity: Identity; onRenewed: () => void }) {
  const managed = useLoad(async () => {
    const page = await get<{ items: Managed[] }>("/managed", { fingerprint, limit: 1 });
    const m = page.items[0];
    if (!m) return null;
    const timeline = await get<{ items: TimelineEntry[] }>(`/managed/${encodeURIComponent(m.id)}/timeline`, { limit: 200 });
    return { m, timeline: timeline.items.slice(-8).reverse() };
  }, [fingerprint]);
  const { error, run } = useAction(onRenewed);
  return (
    <Card title="Managed" id="managed-of">
      <Show loaded={managed}>
        {(found) =>
          !found ? (
            <Empty>Not the current certificate of a managed certificate: nothing renews it.</Empty>
          ) : (
            <>
              <p>
                The current certificate of <a href={href("/automation", { managed: found.m.name })}>{display(found.m.name)}</a>:{" "}
                <span class="status">{found.m.state}</span>, renews {date(found.m.renew_at) || "when due"},{" "}
                {found.m.targets.length === 0 ? "deployed nowhere" : found.m.deployed ? "deployed" : "not deployed yet"}.
              </p>
              {found.m.last_error && <p class="sev sev-high">{display(found.m.last_error, 500)}</p>}
              <ul class="list" aria-label="Latest of its timeline">
                {found.timeline.map((t) => (
                  <li key={t.seq}>
                    {date(t.at)} {display(t.kind, 64)} <span class="muted">{display(t.actor, 120)}</span>
                  </li>
                ))}
              </ul>
              {can(identity.role, "manage") && (
                <button type="button" onClick={() => run(() => request("POST", `/managed/${encodeURIComponent(found.m.id)}/renew`, { body: {} }))}>
                  Renew now
                </button>
              )}
              {error && <Problem error={error} />}
            </>
          )
        }
      </Show>
    </Card>
  );
}

export function AuditTrail({ fingerprint }: { fingerprint: string }) {
  const events = useLoad(
    () => get<{ items: AuditEvent[] }>("/audit/events", { target_type: "certificate", target_id: fingerprint, limit: 50 }),
    [fingerprint],
  );
  return (
    <Card title="Audit trail" id="certificate-audit" wide>
      <Show loaded={events}>
        {({ items }) => (items.length === 0 ? <Empty>No event names this certificate.</Empty> : <EventsTable items={items} />)}
      </Show>
    </Card>
  );
}
