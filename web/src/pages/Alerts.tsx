// Alerts in full: what was raised and how each channel's delivery went, the silences in force
// (made and ended by those who may edit the inventory), and the rules and channels of the
// configuration for operators and administrators. Channels are configured in certward.toml
// only: the API offers no change to them, so neither does this page.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { href } from "../router";
import { can } from "../roles";
import { Card, Empty, Problem, Show, date, display, useLoad, useAction, ConfirmButton } from "../ui";

interface Delivery {
  channel: string;
  state: string;
  attempts: number;
  last_error?: string;
  updated_at?: string;
}
interface Alert {
  id: string;
  at: string;
  severity: string;
  kind: string;
  managed_id?: string;
  managed_name?: string;
  team?: string | null;
  message: string;
  channels?: string[];
  fingerprint: string | null;
  dedupe_key?: string | null;
  deliveries?: Delivery[];
}
interface Silence {
  id: string;
  fingerprint: string | null;
  team: string | null;
  until: string;
  reason: string;
  created_by: string;
  created_at: string;
  reach: string;
}
interface Channel {
  name: string;
  type: string;
  timeout?: string;
  url?: string;
  format?: string;
  secret?: string;
  ca_file?: string;
  host?: string;
  port?: number;
  starttls?: string;
  username?: string;
  password?: string;
  from?: string;
  to?: string[];
  socket?: string;
  tag?: string;
}
interface Rules {
  enabled: boolean;
  thresholds: number[];
  lifetime_fraction: number;
  channels: string[];
  failure_channels: string[];
  escalation: { at_days: number; channels: string[] }[];
  channel: Channel[];
  evaluate_interval: string;
  policy_alerts: boolean;
  policy_min_severity: string;
  policy_channels: string[];
  policy_interval: string;
  discovery_alerts: boolean;
  discovery_channels: string[];
  max_attempts: number;
  retry_base: string;
  retry_max: string;
}

const FINGERPRINT = /^[0-9a-f]{64}$/;
const sev_class = (s: string) => `sev sev-${s === "critical" ? "high" : s === "warning" ? "medium" : "low"}`;
const names = (l: string[] | undefined, none: string) => display((l ?? []).join(", ")) || none;
const LIMITS = [20, 50, 100, 500];

// One page of alerts, newest first. The API pages by the last alert's id and filters nothing
// else, so severity and kind narrow only the page on screen, and say so.
function AlertList({ onSilence }: { onSilence: ((fingerprint: string) => void) | null }) {
  const [limit, setLimit] = useState(50);
  const [pages, setPages] = useState<string[]>([]);
  const [severity, setSeverity] = useState("");
  const [kind, setKind] = useState("");
  const before = pages[pages.length - 1];
  const alerts = useLoad(
    () => get<{ items: Alert[]; next_before: string | null }>("/alerts", { limit, before }),
    [`${limit}|${before ?? ""}`],
  );
  return (
    <Card title="Alerts" id="alert-list" wide>
      <div class="filters">
        <label>
          Per page
          <select
            name="alert_limit"
            value={String(limit)}
            onChange={(e) => {
              setLimit(Number((e.target as HTMLSelectElement).value));
              setPages([]);
            }}
          >
            {LIMITS.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity (this page)
          <select name="alert_severity" value={severity} onChange={(e) => setSeverity((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            <option value="critical">critical</option>
            <option value="warning">warning</option>
            <option value="info">info</option>
          </select>
        </label>
        <label>
          Kind (this page)
          <select name="alert_kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {["expiry", "deploy_failed", "reconcile_failed", "policy_violation", "discovery_change"].map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Show loaded={alerts}>
        {({ items, next_before }) => {
          const shown = items.filter((a) => (!severity || a.severity === severity) && (!kind || a.kind === kind));
          return (
            <>
              <p class="muted" data-alerts-shown={shown.length}>
                {shown.length} of the {items.length} alerts on this page{pages.length ? ` (page ${pages.length + 1})` : ""}.
              </p>
              {shown.length === 0 ? (
                <Empty>No alerts{items.length ? " of that severity and kind on this page" : ""}.</Empty>
              ) : (
                <table class="table" aria-label="Alerts">
                  <thead>
                    <tr>
                      <th scope="col">Raised</th>
                      <th scope="col">Alert</th>
                      <th scope="col">About</th>
                      <th scope="col">Deliveries</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((a) => (
                      <tr key={a.id} data-alert={a.id}>
                        <td>
                          {date(a.at)}
                          <div>
                            <span class={sev_class(a.severity)}>{display(a.severity)}</span> {display(a.kind)}
                          </div>
                        </td>
                        <td>{display(a.message, 1000)}</td>
                        <td>
                          {a.fingerprint && FINGERPRINT.test(a.fingerprint) ? (
                            <a href={href(`/certificates/${a.fingerprint}`)}>
                              <code>{a.fingerprint.slice(0, 16)}…</code>
                            </a>
                          ) : (
                            display(a.fingerprint)
                          )}
                          {a.managed_name ? <div>managed {display(a.managed_name)}</div> : null}
                          {a.team ? <div class="muted">team {display(a.team)}</div> : null}
                          {onSilence && a.fingerprint && (
                            <button type="button" class="link" onClick={() => onSilence(a.fingerprint ?? "")}>
                              Silence this certificate…
                            </button>
                          )}
                        </td>
                        <td>
                          {(a.deliveries ?? []).length === 0 ? (
                            <span class="muted">none</span>
                          ) : (
                            <ul class="plain">
                              {(a.deliveries ?? []).map((d) => (
                                <li key={d.channel}>
                                  {display(d.channel)}: <span class={d.state === "failed" ? "sev sev-high" : d.state === "sent" ? "" : "sev sev-medium"}>{display(d.state)}</span>
                                  {d.attempts ? ` after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}` : ""}
                                  {d.last_error ? <div class="muted">{display(d.last_error, 300)}</div> : null}
                                </li>
                              ))}
                            </ul>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <nav class="pager" aria-label="Alert pages">
                {pages.length > 0 && (
                  <button type="button" class="secondary" onClick={() => setPages(pages.slice(0, -1))}>
                    Newer
                  </button>
                )}
                {next_before && (
                  <button type="button" class="secondary" onClick={() => setPages([...pages, next_before])}>
                    Older
                  </button>
                )}
              </nav>
            </>
          );
        }}
      </Show>
    </Card>
  );
}

function NewSilence({ identity, certificate, onDone }: { identity: Identity; certificate: string; onDone: () => void }) {
  // A requester silences its own team only; the others name any team or certificate.
  const ownTeam = identity.role === "requester" ? identity.team ?? "" : null;
  const teams = useLoad(
    async () => (can(identity.role, "read_principals") ? (await get<{ items: { name: string }[] }>("/teams")).items.map((t) => t.name) : []),
    ["silence-teams"],
  );
  const [scope, setScope] = useState<"certificate" | "team">(certificate ? "certificate" : "team");
  const [draft, setDraft] = useState({ certificate, team: ownTeam ?? "", until: "7d", reason: "" });
  const [made, setMade] = useState<Silence | null>(null);
  const { error, run } = useAction(onDone);
  const set = (k: keyof typeof draft) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="form"
      onSubmit={(e) => {
        e.preventDefault();
        setMade(null);
        const body: Record<string, unknown> = { until: draft.until.trim() };
        if (scope === "certificate") body["certificate"] = draft.certificate.trim();
        else body["team"] = (ownTeam ?? draft.team).trim();
        if (draft.reason.trim()) body["reason"] = draft.reason.trim();
        run(async () => setMade(await request<Silence>("POST", "/alerts/silences", { body })));
      }}
    >
      <fieldset>
        <legend>Silence</legend>
        <label class="inline">
          <input type="radio" name="silence_scope" value="certificate" checked={scope === "certificate"} onChange={() => setScope("certificate")} />
          one certificate
        </label>
        <label class="inline">
          <input type="radio" name="silence_scope" value="team" checked={scope === "team"} onChange={() => setScope("team")} />
          every certificate of a team
        </label>
      </fieldset>
      {scope === "certificate" ? (
        <label>
          Certificate (fingerprint, a prefix of at least 8 hex digits, or serial)
          <input name="silence_certificate" value={draft.certificate} onInput={set("certificate")} required />
        </label>
      ) : (
        <label>
          {ownTeam !== null ? "Team (your own: the only one you may silence)" : "Team"}
          {ownTeam !== null ? (
            <input name="silence_team" value={ownTeam} readOnly aria-readonly="true" />
          ) : (
            <>
              <input name="silence_team" value={draft.team} onInput={set("team")} list="silence-teams" required />
              <datalist id="silence-teams">
                {teams.state === "ready" && teams.value.map((t) => <option key={t} value={t} />)}
              </datalist>
            </>
          )}
        </label>
      )}
      <label>
        Until (a duration from now such as 7d or 12h, or a time such as 2026-12-24T00:00:00Z; at most a year)
        <input name="silence_until" value={draft.until} onInput={set("until")} required />
      </label>
      <label>
        Reason
        <input name="silence_reason" value={draft.reason} maxLength={512} onInput={set("reason")} />
      </label>
      {ownTeam !== null && <p class="hint">Your silence holds back expiry alerts only; policy and discovery alerts still come.</p>}
      <button type="submit">Silence</button>
      {made && (
        <p role="status" data-silence-made={made.id}>
          Silenced until {date(made.until)} ({display(made.reach)}).
        </p>
      )}
      {error && <Problem error={error} />}
    </form>
  );
}

function Silences({ identity, version, onChange }: { identity: Identity; version: number; onChange: () => void }) {
  const silences = useLoad(() => get<{ items: Silence[] }>("/alerts/silences"), ["silences", version]);
  const { error, run } = useAction(onChange);
  const edit = can(identity.role, "edit_inventory");
  return (
    <Card title="Silences in force" id="silences" wide>
      <Show loaded={silences}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No silence.</Empty>
          ) : (
            <table class="table" aria-label="Silences">
              <thead>
                <tr>
                  <th scope="col">Silenced</th>
                  <th scope="col">Until</th>
                  <th scope="col">Holds back</th>
                  <th scope="col">Reason</th>
                  <th scope="col">By</th>
                  <th scope="col" />
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <tr key={s.id} data-silence={s.id}>
                    <td>
                      {s.fingerprint ? (
                        FINGERPRINT.test(s.fingerprint) ? (
                          <>
                            certificate <a href={href(`/certificates/${s.fingerprint}`)}><code>{s.fingerprint.slice(0, 16)}…</code></a>
                          </>
                        ) : (
                          `certificate ${display(s.fingerprint)}`
                        )
                      ) : (
                        `team ${display(s.team)}`
                      )}
                    </td>
                    <td>{date(s.until)}</td>
                    <td>{s.reach === "all" ? "every alert" : s.reach === "expiry" ? "expiry alerts only" : display(s.reach)}</td>
                    <td>{display(s.reason, 512)}</td>
                    <td>
                      {display(s.created_by)} <div class="muted">{date(s.created_at)}</div>
                    </td>
                    <td>
                      {edit && (
                        <ConfirmButton
                          opener="End…"
                          label={`Confirm ending silence ${s.id}`}
                          question="End this silence now?"
                          action="End now"
                          onYes={() => run(() => request("DELETE", `/alerts/silences/${encodeURIComponent(s.id)}`))}
                        />
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
  );
}

function Channels({ channels }: { channels: Channel[] }) {
  if (channels.length === 0) return <Empty>No channel is configured: alerts are recorded and sent nowhere.</Empty>;
  return (
    <table class="table" aria-label="Alert channels">
      <thead>
        <tr>
          <th scope="col">Channel</th>
          <th scope="col">Goes to</th>
          <th scope="col">Secret read from</th>
          <th scope="col">Timeout</th>
        </tr>
      </thead>
      <tbody>
        {channels.map((c) => (
          <tr key={c.name} data-channel={c.name}>
            <td>
              {display(c.name)} <span class="muted">{display(c.type)}</span>
            </td>
            <td>
              {c.type === "webhook" && (
                <>
                  {display(c.url)} <span class="muted">({display(c.format)}; the path is not shown)</span>
                </>
              )}
              {c.type === "smtp" && (
                <>
                  {display(c.to?.join(", "))} from {display(c.from)}
                  <div class="muted">
                    via {display(c.host)}:{c.port ?? ""}, STARTTLS {display(c.starttls)}
                  </div>
                </>
              )}
              {c.type === "syslog" && (
                <>
                  {display(c.socket)} <span class="muted">tag {display(c.tag)}</span>
                </>
              )}
              {c.ca_file ? <div class="muted">trusting {display(c.ca_file)}</div> : null}
            </td>
            <td>
              {c.secret ? display(c.secret) : c.password ? `${display(c.username)}: ${display(c.password)}` : "none"}
            </td>
            <td>{display(c.timeout)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AlertRules() {
  const rules = useLoad(() => get<Rules>("/alerts/rules"), ["alert-rules"]);
  return (
    <Card title="Alert rules and channels (certward.toml)" id="alert-rules" wide>
      <Show loaded={rules}>
        {(r) => (
          <>
            <dl class="fields">
              <dt>Evaluation</dt>
              <dd>{r.enabled ? `on, every ${display(r.evaluate_interval)}` : "off: nothing is evaluated or sent"}</dd>
              <dt>Expiry thresholds</dt>
              <dd>
                {r.thresholds.join(", ")} days before expiry, each at most {Math.round(r.lifetime_fraction * 1000) / 10} % of a certificate's
                lifetime
              </dd>
              <dt>Expiry alerts go to</dt>
              <dd>{names(r.channels, "no channel")}</dd>
              <dt>Escalation</dt>
              <dd>
                {r.escalation.length === 0
                  ? "none"
                  : r.escalation.map((e) => `from ${e.at_days} days also ${names(e.channels, "nothing")}`).join("; ")}
              </dd>
              <dt>Managed certificates' failures go to</dt>
              <dd>{names(r.failure_channels, "no channel")} (unless a managed certificate names its own)</dd>
              <dt>Policy violations</dt>
              <dd>
                {r.policy_alerts
                  ? `digests of ${display(r.policy_min_severity)} and above, every ${display(r.policy_interval)}, to ${names(r.policy_channels, "the expiry channels")}`
                  : "not alerted"}
              </dd>
              <dt>Discovery changes</dt>
              <dd>{r.discovery_alerts ? `to ${names(r.discovery_channels, "the expiry channels")}` : "not alerted"}</dd>
              <dt>Delivery</dt>
              <dd>
                at most {r.max_attempts} attempts, retried after {display(r.retry_base)} up to {display(r.retry_max)} apart
              </dd>
            </dl>
            <h3>Channels</h3>
            <Channels channels={r.channel} />
          </>
        )}
      </Show>
    </Card>
  );
}

export function Alerts({ identity }: { identity: Identity }) {
  const [version, setVersion] = useState(0);
  // The certificate an alert's "Silence" put into the form; each click starts the form anew.
  const [target, setTarget] = useState({ certificate: "", n: 0 });
  const edit = can(identity.role, "edit_inventory");
  const silence = (fingerprint: string) => {
    setTarget((t) => ({ certificate: fingerprint, n: t.n + 1 }));
    requestAnimationFrame(() => document.querySelector<HTMLInputElement>("input[name=silence_until]")?.focus());
  };
  return (
    <main>
      <h1>Alerts</h1>
      <div class="grid">
        <AlertList onSilence={edit ? silence : null} />
        <Silences identity={identity} version={version} onChange={() => setVersion((v) => v + 1)} />
        {edit && (
          <Card title="Silence alerts" id="new-silence">
            <NewSilence key={target.n} identity={identity} certificate={target.certificate} onDone={() => setVersion((v) => v + 1)} />
          </Card>
        )}
        {can(identity.role, "campaign") && <AlertRules />}
      </div>
    </main>
  );
}
