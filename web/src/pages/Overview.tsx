// The inventory at a glance: the summary report's counts, what expires when (the expiring
// report over 90 days), policy violations and the audit trail where the role may read them.

import { ApiError, get, type Report, type ReportRow } from "../api";
import { href } from "../router";
import { Bars, Card, Empty, Show, date, display, useLoad } from "../ui";

const WEEKS = 13;
const DAY = 24 * 3600 * 1000;

function counts(rows: ReportRow[], dimension: string) {
  return rows
    .filter((r) => r["dimension"] === dimension)
    .map((r) => ({ name: String(r["value"]), count: Number(r["count"]) }));
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
interface AuditEvent {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
}

export function Overview() {
  const data = useLoad(async () => {
    const others = Promise.all([
      optional(get<{ items: Violation[] }>("/policy/violations", { limit: 10 })),
      optional(get<{ items: AuditEvent[] }>("/audit/events", { limit: 10 })),
    ]);
    // The API builds one report at a time per principal (429 for a second at once): in turn.
    const summary = await get<Report>("/reports/summary");
    const expiring = await get<Report>("/reports/expiring", { window: "90d" });
    const [violations, audit] = await others;
    return { summary, expiring, violations, audit };
  }, []);

  return (
    <main>
      <h1>Overview</h1>
      <Show loaded={data}>
        {({ summary, expiring, violations, audit }) => {
          const total = Number(summary.sections["totals"]?.[0]?.["certificates"] ?? 0);
          const rows = summary.sections["counts"] ?? [];
          const status = counts(rows, "status");
          const soon = expiring.sections["certificates"] ?? [];
          const within = (days: number) => soon.filter((r) => Number(r["days_left"]) <= days).length;
          const weeks = Array.from({ length: WEEKS }, (_, i) => ({
            name: `week ${i + 1}`,
            count: soon.filter((r) => {
              const left = (Date.parse(String(r["not_after"])) - Date.now()) / DAY;
              return left >= i * 7 && left < (i + 1) * 7;
            }).length,
          }));
          const expired = status.find((s) => s.name === "expired")?.count ?? 0;
          return (
            <div class="grid">
              <Card title="Certificates" id="totals">
                <p class="big" data-total={total}>
                  {total.toLocaleString("en")}
                </p>
                <Bars rows={status} label="Certificates by status" />
              </Card>
              <Card title="Expiring" id="expiring">
                <ul class="stats">
                  {[7, 30, 90].map((d) => (
                    <li key={d}>
                      <a href={href("/inventory", { expiring_within: `${d}d` })}>
                        <span class="big" data-within={d}>
                          {within(d).toLocaleString("en")}
                        </span>
                        <span>within {d} days</span>
                      </a>
                    </li>
                  ))}
                </ul>
              </Card>
              <Card title="Expiry timeline (next 13 weeks; expired: overdue)" id="timeline">
                <Bars rows={[{ name: "overdue", count: expired }, ...weeks]} label="Certificates expiring per week" />
              </Card>
              <Card title="By issuer" id="issuer">
                <Bars rows={counts(rows, "issuer")} label="Certificates by issuer" />
              </Card>
              <Card title="By key algorithm and size" id="algorithm">
                <Bars rows={counts(rows, "algorithm")} label="Certificates by key" />
              </Card>
              <Card title="By owner team" id="team">
                <Bars rows={counts(rows, "team")} label="Certificates by team" />
              </Card>
              <Card title="By origin" id="origin">
                <Bars rows={counts(rows, "origin")} label="Certificates by origin" />
              </Card>
              {violations && (
                <Card title="Policy violations" id="violations">
                  {violations.items.length === 0 ? (
                    <Empty>No open violations.</Empty>
                  ) : (
                    <ul class="list">
                      {violations.items.map((v, i) => (
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
              )}
              {audit && (
                <Card title="Recent audit events" id="audit" wide>
                  {audit.items.length === 0 ? (
                    <Empty>No events.</Empty>
                  ) : (
                    <table class="table">
                      <thead>
                        <tr>
                          <th scope="col">Time</th>
                          <th scope="col">Actor</th>
                          <th scope="col">Action</th>
                          <th scope="col">Target</th>
                        </tr>
                      </thead>
                      <tbody>
                        {audit.items.map((e) => (
                          <tr key={e.seq}>
                            <td>{date(e.time)}</td>
                            <td>{display(e.actor)}</td>
                            <td>{e.action}</td>
                            <td>
                              {e.target_type} {display(e.target_id, 300)}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                </Card>
              )}
            </div>
          );
        }}
      </Show>
    </main>
  );
}
