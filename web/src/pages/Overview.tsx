// The inventory at a glance: the API's overview (one walk of the inventory, kept for a
// minute), policy violations and the audit trail where the role may read them.

import { ApiError, get, type Identity } from "../api";
import { ExpiryChart } from "../chart";
import { EventsTable, type AuditEvent } from "../events";
import { href } from "../router";
import { can } from "../roles";
import { Bars, Card, Empty, Show, date, display, useLoad } from "../ui";

interface InventoryOverview {
  computed_at: string;
  total: number;
  status: Record<string, number>;
  expiring: { "7d": number; "30d": number; "90d": number };
  weeks: number[];
  counts: { dimension: string; value: string; count: number }[];
  others: Record<string, number>;
}

function counts(o: InventoryOverview, dimension: string) {
  const rows = o.counts.filter((c) => c.dimension === dimension).map((c) => ({ name: c.value, count: c.count }));
  const rest = o.others[dimension];
  return rest ? [...rows, { name: "all other values", count: rest, muted: true }] : rows;
}

// A section the token's role may not read is left out, not shown as an error.
async function optional<T>(load: Promise<T>): Promise<T | null> {
  try {
    return await load;
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return null;
    throw e;
  }
}

interface Violation {
  rule: string;
  severity: string;
  subject_type: "certificate" | "ssh_key";
  subject_id: string;
  subject: string;
  message: string;
}

interface FailedManaged {
  id: string;
  name: string;
  common_name: string;
  attempts: number;
  last_error?: string;
  updated_at?: string;
}
interface Alert {
  id: string;
  at: string;
  kind: string;
  message: string;
  managed?: string | null;
}

export function Overview({ identity }: { identity: Identity }) {
  // Each card loads on its own: the counts do not wait for the violations or the audit trail.
  // What the role may not read is not asked for.
  const data = useLoad(() => get<InventoryOverview>("/inventory/overview"), []);
  const violations = useLoad(() => optional(get<{ items: Violation[] }>("/policy/violations", { limit: 10 })), []);
  const audit = useLoad(
    async () => (can(identity.role, "read_audit") ? get<{ items: AuditEvent[] }>("/audit/events", { limit: 10 }) : null),
    [identity.role],
  );
  // Renewal and deployment failures: managed certificates that failed, and the latest failure
  // alerts (a deployment that failed and was rolled back leaves its certificate active).
  const failed = useLoad(() => get<{ items: FailedManaged[] }>("/managed", { state: "failed", limit: 10 }), []);
  const failures = useLoad(
    async () =>
      (await get<{ items: Alert[] }>("/alerts", { limit: 100 })).items
        .filter((a) => a.kind === "deploy_failed" || a.kind === "reconcile_failed")
        .slice(0, 10),
    [],
  );

  return (
    <main>
      <h1>Overview</h1>
      <Show loaded={data}>
        {(overview) => {
          const total = overview.total;
          const status = Object.entries(overview.status)
            .filter(([, n]) => n > 0)
            .map(([name, count]) => ({ name, count }))
            .sort((a, b) => b.count - a.count);
          const expiring = [
            [7, overview.expiring["7d"]],
            [30, overview.expiring["30d"]],
            [90, overview.expiring["90d"]],
          ] as const;
          const weeks = overview.weeks.map((count, i) => ({
            name: `week ${i + 1} (from ${new Date(Date.parse(overview.computed_at) + i * 7 * 86400_000).toISOString().slice(0, 10)})`,
            count,
          }));
          return (
            <div class="grid">
              <p class="wide muted" data-computed-at={overview.computed_at}>
                Counted {date(overview.computed_at)}; counts are kept for a minute.
              </p>
              <Card title="Certificates" id="totals">
                <p class="big" data-total={total}>
                  {total.toLocaleString("en")}
                </p>
                <Bars rows={status} label="Certificates by status" />
              </Card>
              <Card title="Expiring" id="expiring">
                <ul class="stats">
                  {expiring.map(([d, n]) => (
                    <li key={d}>
                      <a href={href("/inventory", { expiring_within: `${d}d` })}>
                        <span class="big" data-within={d}>
                          {n.toLocaleString("en")}
                        </span>
                        <span>within {d} days</span>
                      </a>
                    </li>
                  ))}
                </ul>
              </Card>
              <Card title="Expiry timeline (next 13 weeks; expired: overdue)" id="timeline">
                <ExpiryChart overdue={overview.status["expired"] ?? 0} weeks={overview.weeks} now={new Date(overview.computed_at)} />
                <details>
                  <summary>The numbers</summary>
                  <Bars rows={[{ name: "overdue", count: overview.status["expired"] ?? 0 }, ...weeks]} label="Certificates expiring per week" />
                </details>
              </Card>
              <Card title="By issuer" id="issuer">
                <Bars rows={counts(overview, "issuer")} label="Certificates by issuer" />
              </Card>
              <Card title="By key algorithm and size" id="algorithm">
                <Bars rows={counts(overview, "algorithm")} label="Certificates by key" />
              </Card>
              <Card title="By owner team" id="team">
                <Bars rows={counts(overview, "team")} label="Certificates by team" />
              </Card>
              <Card title="By origin" id="origin">
                <Bars rows={counts(overview, "origin")} label="Certificates by origin" />
              </Card>
              <Show loaded={violations}>
                {(v) =>
                  v && (
                    <Card title="Policy violations" id="violations">
                      {v.items.length === 0 ? (
                        <Empty>No open violations.</Empty>
                      ) : (
                        <ul class="list">
                          {v.items.map((v, i) => (
                            <li key={i}>
                              <span class={`sev sev-${v.severity}`}>{v.severity}</span> {display(v.rule)}: {display(v.message)}{" "}
                              {v.subject_type === "certificate" ? (
                                <a href={href(`/certificates/${v.subject_id}`)}>{display(v.subject, 300) || v.subject_id}</a>
                              ) : (
                                <span>{display(v.subject, 300) || v.subject_id}</span>
                              )}
                            </li>
                          ))}
                        </ul>
                      )}
                    </Card>
                  )
                }
              </Show>
              <Card title="Renewal and deployment failures" id="failures">
                <Show loaded={failed}>
                  {({ items }) =>
                    items.length === 0 ? (
                      <Empty>No managed certificate is failing.</Empty>
                    ) : (
                      <ul class="list" aria-label="Failing managed certificates">
                        {items.map((m) => (
                          <li key={m.id} data-failed={m.name}>
                            <a href={href("/automation", { managed: m.name })}>{display(m.name, 200)}</a> ({m.attempts} attempts):{" "}
                            {display(m.last_error, 300)}
                          </li>
                        ))}
                      </ul>
                    )
                  }
                </Show>
                <Show loaded={failures}>
                  {(items) =>
                    items.length > 0 && (
                      <>
                        <h3>Latest failure alerts</h3>
                        <ul class="list" aria-label="Failure alerts">
                          {items.map((a) => (
                            <li key={a.id}>
                              {date(a.at)} {a.kind}: {display(a.message, 300)}
                            </li>
                          ))}
                        </ul>
                      </>
                    )
                  }
                </Show>
              </Card>
              <Show loaded={audit}>
                {(a) =>
                  a && (
                <Card title="Recent audit events" id="audit" wide>
                  {a.items.length === 0 ? (
                    <Empty>No events.</Empty>
                  ) : (
                    <EventsTable items={a.items} />
                  )}
                </Card>
                  )
                }
              </Show>
            </div>
          );
        }}
      </Show>
    </main>
  );
}
