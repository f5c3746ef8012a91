// What runs by itself, as far as the API offers it: discovery scans and their reports, managed
// certificates and their renewals, alerts, and approval requests. Read here; changed through the
// few actions each role may take (renew now, approve, reject).

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { href } from "../router";
import { can } from "../roles";
import { Card, Empty, Problem, Show, date, display, useLoad, useAction } from "../ui";


interface Scan {
  id: string;
  kind: string;
  status: string;
  requested_by: string;
  created_at: string;
  finished_at?: string;
  host?: string;
  error?: string;
  report?: {
    places?: number;
    reachable?: number;
    errors?: number;
    certificates?: number;
    new_certificates?: string[];
    changed?: unknown[];
    gone?: unknown[];
    findings?: Record<string, number>;
  };
}

export function Discovery() {
  const scans = useLoad(() => get<{ items: Scan[] }>("/discovery/scans", { limit: 50 }), ["scans"]);
  return (
    <main>
      <h1>Discovery</h1>
      <p class="hint">
        Scans are started with <code>certward scan net|files</code>, <code>POST /api/v1/discovery/scans</code> or a schedule; agents
        send theirs.
      </p>
      <Show loaded={scans}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No scan yet.</Empty>
          ) : (
            <table class="table" aria-label="Scans">
              <thead>
                <tr>
                  <th scope="col">Scan</th>
                  <th scope="col">Status</th>
                  <th scope="col">By</th>
                  <th scope="col">Places</th>
                  <th scope="col">Certificates</th>
                  <th scope="col">New · changed · gone</th>
                  <th scope="col">Findings</th>
                </tr>
              </thead>
              <tbody>
                {items.map((s) => {
                  const r = s.report ?? {};
                  const findings = Object.entries(r.findings ?? {})
                    .filter(([, n]) => n > 0)
                    .map(([sev, n]) => `${n} ${sev}`)
                    .join(", ");
                  return (
                    <tr key={s.id} data-scan={s.id}>
                      <td>
                        {s.kind} {s.host ? display(s.host) : ""}
                        <div class="muted">{date(s.created_at)}</div>
                      </td>
                      <td>
                        {s.status}
                        {s.error ? `: ${display(s.error, 300)}` : ""}
                      </td>
                      <td>{display(s.requested_by)}</td>
                      <td>
                        {r.reachable ?? 0} of {r.places ?? 0}
                        {r.errors ? ` (${r.errors} errors)` : ""}
                      </td>
                      <td>{r.certificates ?? 0}</td>
                      <td>
                        {r.new_certificates?.length ?? 0} · {r.changed?.length ?? 0} · {r.gone?.length ?? 0}
                      </td>
                      <td>{findings || "none"}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )
        }
      </Show>
    </main>
  );
}

interface Managed {
  id: string;
  name: string;
  common_name: string;
  team?: string | null;
  state: string;
  fingerprint: string | null;
  not_after: string | null;
  renew_at: string | null;
  deployed: boolean;
  attempts: number;
  last_error?: string;
}
interface Alert {
  id: string;
  at: string;
  severity: string;
  kind: string;
  message: string;
  fingerprint: string | null;
}

const STATES = ["", "pending", "issuing", "active", "renewing", "failed"];

export function Automation({ identity, state }: { identity: Identity; state: string }) {
  const [version, setVersion] = useState(0);
  const managed = useLoad(() => get<{ items: Managed[] }>("/managed", { state: state || undefined, limit: 100 }), [state, version]);
  const alerts = useLoad(() => get<{ items: Alert[] }>("/alerts", { limit: 20 }), ["alerts"]);
  const { error, run: act } = useAction(() => setVersion((v) => v + 1));
  const renew = can(identity.role, "manage");
  return (
    <main>
      <h1>Automation</h1>
      <div class="grid">
        <Card title="Managed certificates" id="managed" wide>
          <nav class="row" aria-label="By state">
            {STATES.map((s) => (
              <a key={s} href={href("/automation", { state: s || undefined })} aria-current={s === state ? "page" : undefined}>
                {s || "all"}
              </a>
            ))}
          </nav>
          <Show loaded={managed}>
            {({ items }) =>
              items.length === 0 ? (
                <Empty>None{state ? ` ${state}` : ""}.</Empty>
              ) : (
                <table class="table" aria-label="Managed certificates">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">State</th>
                      <th scope="col">Expires</th>
                      <th scope="col">Renews</th>
                      <th scope="col">Deployed</th>
                      <th scope="col" />
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((m) => (
                      <tr key={m.id} data-managed={m.name}>
                        <td>
                          {display(m.name)}
                          <div class="muted">{display(m.common_name)}</div>
                        </td>
                        <td>
                          <span class={`status status-${m.state === "failed" ? "revoked" : m.state === "active" ? "valid" : "expiring"}`}>
                            {m.state}
                          </span>
                          {m.last_error ? <div class="muted">{display(m.last_error, 300)}</div> : null}
                        </td>
                        <td>
                          {m.fingerprint ? <a href={href(`/certificates/${m.fingerprint}`)}>{date(m.not_after)}</a> : "—"}
                        </td>
                        <td>{date(m.renew_at)}</td>
                        <td>{m.deployed ? "yes" : "no"}</td>
                        <td>
                          {renew && (
                            <button type="button" class="link" onClick={() => act(() => request("POST", `/managed/${encodeURIComponent(m.id)}/renew`))}>
                              Renew now
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Show>
          {error && <Problem error={error} />}
        </Card>
        <Card title="Recent alerts" id="alerts" wide>
          <Show loaded={alerts}>
            {({ items }) =>
              items.length === 0 ? (
                <Empty>No alerts.</Empty>
              ) : (
                <ul class="list">
                  {items.map((a) => (
                    <li key={a.id}>
                      <span class={`sev sev-${a.severity === "critical" ? "high" : a.severity === "warning" ? "medium" : "low"}`}>{a.severity}</span>{" "}
                      {date(a.at)} {a.kind}: {display(a.message, 500)}
                    </li>
                  ))}
                </ul>
              )
            }
          </Show>
        </Card>
      </div>
    </main>
  );
}

interface Approval {
  id: string;
  status: string;
  profile: string;
  team: string | null;
  common_name: string | null;
  subject?: string | null;
  sans: string[];
  requested_by?: string;
  created_at?: string;
}

export function Approvals({ identity }: { identity: Identity }) {
  const [version, setVersion] = useState(0);
  const pending = useLoad(() => get<{ items: Approval[] }>("/approvals", { status: "pending", limit: 100 }), ["approvals", version]);
  const { error, run: act } = useAction(() => setVersion((v) => v + 1));
  const decide = can(identity.role, "approve_requests");
  const [reason, setReason] = useState("");
  return (
    <main>
      <h1>Approval requests</h1>
      {decide && (
        <label class="row">
          Reason for a rejection (required to reject){" "}
          <input name="reject_reason" value={reason} maxLength={1024} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </label>
      )}
      <Show loaded={pending}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>Nothing waits for approval.</Empty>
          ) : (
            <table class="table" aria-label="Approval requests">
              <thead>
                <tr>
                  <th scope="col">Request</th>
                  <th scope="col">Profile</th>
                  <th scope="col">Team</th>
                  <th scope="col">By</th>
                  <th scope="col" />
                </tr>
              </thead>
              <tbody>
                {items.map((a) => (
                  <tr key={a.id} data-approval={a.id}>
                    <td>
                      {display(a.subject) || display(a.common_name) || "(no subject)"}
                      <div class="muted">{display(a.sans.join(", "), 300)}</div>
                    </td>
                    <td>{a.profile}</td>
                    <td>{display(a.team)}</td>
                    <td>
                      {display(a.requested_by)} <span class="muted">{date(a.created_at)}</span>
                    </td>
                    <td>
                      {decide && (
                        <>
                          <button type="button" onClick={() => act(() => request("POST", `/approvals/${encodeURIComponent(a.id)}/approve`, { body: {} }))}>
                            Approve
                          </button>{" "}
                          <button
                            type="button"
                            class="danger"
                            disabled={!reason.trim()}
                            onClick={() => act(() => request("POST", `/approvals/${encodeURIComponent(a.id)}/reject`, { body: { reason: reason.trim() } }))}
                          >
                            Reject
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      {error && <Problem error={error} />}
    </main>
  );
}
