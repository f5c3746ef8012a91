// Managed certificates: what certward keeps issued, renewed and deployed by itself. Listed by
// state; each one's specification, deployment targets and timeline; created, changed, renewed
// and deleted by the roles that may manage them. Deployment targets are edited as the JSON the
// API takes (docs/automation.md), and checked by the API, which answers with what is wrong.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { href } from "../router";
import { can } from "../roles";
import { Card, Empty, Problem, Show, date, display, useAction, useLoad, ConfirmButton } from "../ui";

interface Managed {
  id: string;
  name: string;
  common_name: string;
  sans: string[];
  profile: string;
  authority?: string | null;
  key: { type: string; rotate: boolean };
  renew_before?: string | null;
  validity?: string | null;
  targets: unknown[];
  owner?: string | null;
  team?: string | null;
  tags: string[];
  state: string;
  declared: boolean;
  fingerprint: string | null;
  not_after: string | null;
  renew_at: string | null;
  renew_requested?: string | null;
  next_check_at?: string | null;
  deployed: boolean;
  attempts: number;
  last_error?: string;
  created_by?: string;
  updated_at?: string;
}
interface TimelineEntry {
  seq: number;
  at: string;
  kind: string;
  actor: string;
  detail?: unknown;
}
interface Profile {
  name: string;
  key_types: string[];
  ca: boolean;
}

const STATES = ["", "pending", "issuing", "active", "renewing", "failed"];

function state_class(state: string): string {
  return `status status-${state === "failed" ? "revoked" : state === "active" ? "valid" : "expiring"}`;
}

function lines(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((t) => t.trim())
    .filter(Boolean);
}

// The form of a managed certificate: empty to create one, filled to change one (PATCH: the
// members sent replace the stored ones; nothing else is touched).
function ManagedForm({ current, team, onDone }: { current?: Managed; team: string | null; onDone: (name: string) => void }) {
  const profiles = useLoad(() => get<{ items: Profile[] }>("/profiles"), []);
  const [name, setName] = useState(current?.name ?? "");
  const [commonName, setCommonName] = useState(current?.common_name ?? "");
  const [sans, setSans] = useState((current?.sans ?? []).join("\n"));
  const [profile, setProfile] = useState(current?.profile ?? "");
  const [keyType, setKeyType] = useState(current?.key.type ?? "");
  const [renewBefore, setRenewBefore] = useState(current?.renew_before ?? "");
  const [validity, setValidity] = useState(current?.validity ?? "");
  const [owner, setOwner] = useState(current?.owner ?? "");
  const [tags, setTags] = useState((current?.tags ?? []).join(", "));
  const [targets, setTargets] = useState(JSON.stringify(current?.targets ?? [], null, 2));
  const [error, setError] = useState<Error | null>(null);
  const text = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);

  return (
    <Show loaded={profiles}>
      {({ items }) => {
        const usable = items.filter((p) => !p.ca);
        const chosen = usable.find((p) => p.name === profile) ?? usable.find((p) => p.name === "tls-server") ?? usable[0];
        return (
          <form
            class="form"
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              let parsedTargets: unknown;
              try {
                parsedTargets = JSON.parse(targets || "[]");
                if (!Array.isArray(parsedTargets)) throw new Error("the targets must be a JSON array");
              } catch (err) {
                setError(new Error(`Targets: ${err instanceof Error ? err.message : String(err)}`));
                return;
              }
              const body: Record<string, unknown> = {
                sans: lines(sans),
                profile: chosen?.name,
                key: { type: keyType || chosen?.key_types[0], rotate: current?.key.rotate ?? true },
                renew_before: renewBefore.trim() || null,
                validity: validity.trim() || null,
                owner: owner.trim() || null,
                tags: lines(tags),
                targets: parsedTargets,
              };
              if (commonName.trim()) body.common_name = commonName.trim();
              try {
                if (current) {
                  await request("PATCH", `/managed/${encodeURIComponent(current.id)}`, { body });
                  onDone(current.name);
                } else {
                  body.name = name.trim();
                  // A null means "clear" to PATCH; on creation a member left out is the default.
                  for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
                  if (team) body.team = team;
                  await request("POST", "/managed", { body });
                  onDone(name.trim());
                }
              } catch (err) {
                setError(err instanceof Error ? err : new Error(String(err)));
              }
            }}
          >
            {!current && (
              <label>
                Name (unique; how the CLI and the API address it)
                <input name="managed_name" value={name} onInput={text(setName)} required maxLength={64} />
              </label>
            )}
            <label>
              Common name (optional)
              <input name="managed_cn" value={commonName} onInput={text(setCommonName)} />
            </label>
            <label>
              Names (SANs), one per line: <code>www.example.com</code>, <code>dns:…</code>, <code>ip:…</code>
              <textarea name="managed_sans" rows={3} value={sans} onInput={text(setSans)} />
            </label>
            <div class="row">
              <label>
                Profile{" "}
                <select name="managed_profile" value={chosen?.name} onChange={(e) => setProfile((e.target as HTMLSelectElement).value)}>
                  {usable.map((p) => (
                    <option key={p.name} value={p.name}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Key{" "}
                <select name="managed_key" value={keyType || chosen?.key_types[0]} onChange={(e) => setKeyType((e.target as HTMLSelectElement).value)}>
                  {(chosen?.key_types ?? []).map((k) => (
                    <option key={k} value={k}>
                      {k}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Renew before expiry <input name="managed_renew_before" value={renewBefore} size={6} placeholder="⅓ of validity" onInput={text(setRenewBefore)} />
              </label>
              <label>
                Validity <input name="managed_validity" value={validity} size={6} placeholder="profile's" onInput={text(setValidity)} />
              </label>
            </div>
            <div class="row">
              <label>
                Owner <input name="managed_owner" value={owner} onInput={text(setOwner)} />
              </label>
              <label>
                Tags <input name="managed_tags" value={tags} onInput={text(setTags)} />
              </label>
            </div>
            <label>
              Deployment targets (JSON array; see the documentation's "Deployment targets")
              <textarea name="managed_targets" rows={6} value={targets} onInput={text(setTargets)} spellcheck={false} />
            </label>
            <button type="submit">{current ? "Save the changes" : "Create"}</button>
            {error && <Problem error={error} />}
          </form>
        );
      }}
    </Show>
  );
}

function ManagedDetail({ name, identity }: { name: string; identity: Identity }) {
  const [version, setVersion] = useState(0);
  const managed = useLoad(() => get<Managed>(`/managed/${encodeURIComponent(name)}`), [name, version]);
  const timeline = useLoad(() => get<{ items: TimelineEntry[] }>(`/managed/${encodeURIComponent(name)}/timeline`, { limit: 200 }), [name, version]);
  const [editing, setEditing] = useState(false);
  const [rotate, setRotate] = useState(true);
  const [deleted, setDeleted] = useState(false);
  const { error, run } = useAction(() => setVersion((v) => v + 1));
  const manage = can(identity.role, "manage");
  return (
    <main>
      <p>
        <a href={href("/automation")}>← Managed certificates</a>
      </p>
      <Show loaded={managed}>
        {(m) => (
          <>
            <h1 data-managed-name={m.name}>{display(m.name)}</h1>
            <p>
              <span class={state_class(m.state)}>{m.state}</span> {m.declared ? <span class="muted">declared in the configuration</span> : null}
              {deleted && <strong role="status"> Deleted: no longer renewed.</strong>}
            </p>
            <div class="grid">
              <Card title="Specification" id="managed-spec">
                <dl class="fields">
                  <dt>Names</dt>
                  <dd>{display([m.common_name, ...m.sans].filter(Boolean).join(", "), 2000)}</dd>
                  <dt>Profile</dt>
                  <dd>
                    {display(m.profile)}
                    {m.authority ? ` from ${display(m.authority)}` : ""}
                  </dd>
                  <dt>Key</dt>
                  <dd>
                    {m.key.type}
                    {m.key.rotate ? ", a new one at each renewal" : ", kept across renewals"}
                  </dd>
                  <dt>Renews</dt>
                  <dd>
                    {m.renew_before ? `${display(m.renew_before)} before expiry` : "at the default point"}
                    {m.validity ? `; validity ${display(m.validity)}` : ""}
                  </dd>
                  <dt>Owner, team</dt>
                  <dd>
                    {display(m.owner) || "—"}, {display(m.team) || "—"}
                  </dd>
                  <dt>Tags</dt>
                  <dd>{display(m.tags.join(", ")) || "—"}</dd>
                </dl>
              </Card>
              <Card title="Now" id="managed-now">
                <dl class="fields">
                  <dt>Certificate</dt>
                  <dd>{m.fingerprint ? <a href={href(`/certificates/${m.fingerprint}`)}>expires {date(m.not_after)}</a> : "none yet"}</dd>
                  <dt>Renewal</dt>
                  <dd>{date(m.renew_requested) ? `requested ${date(m.renew_requested)}` : date(m.renew_at) || "—"}</dd>
                  <dt>Deployed</dt>
                  <dd>{m.targets.length === 0 ? "no targets" : m.deployed ? "yes, to every target" : "not yet"}</dd>
                  <dt>Next check</dt>
                  <dd>{date(m.next_check_at) || "—"}</dd>
                  {m.last_error && (
                    <>
                      <dt>Last error</dt>
                      <dd class="sev sev-high">
                        {display(m.last_error, 2000)} ({m.attempts} attempts)
                      </dd>
                    </>
                  )}
                </dl>
                {manage && !deleted && (
                  <div class="row">
                    <button type="button" onClick={() => run(() => request("POST", `/managed/${encodeURIComponent(m.id)}/renew`, { body: { rotate_key: rotate } }))}>
                      Renew now
                    </button>
                    <label class="inline">
                      <input type="checkbox" name="rotate_key" checked={rotate} onChange={(e) => setRotate((e.target as HTMLInputElement).checked)} /> with a new
                      key
                    </label>
                  </div>
                )}
                {error && <Problem error={error} />}
              </Card>
              <Card title="Deployment targets" id="managed-targets" wide>
                {m.targets.length === 0 ? (
                  <Empty>None: issued and renewed, deployed nowhere.</Empty>
                ) : (
                  <pre class="pem">{display(JSON.stringify(m.targets, null, 2), 20000)}</pre>
                )}
              </Card>
              {manage && !m.declared && !deleted && (
                <Card title="Change or delete" id="managed-edit" wide>
                  {editing ? (
                    <ManagedForm
                      current={m}
                      team={null}
                      onDone={() => {
                        setEditing(false);
                        setVersion((v) => v + 1);
                      }}
                    />
                  ) : (
                    <div class="row">
                      <button type="button" class="secondary" onClick={() => setEditing(true)}>
                        Change…
                      </button>
                      <ConfirmButton
                        opener="Delete…"
                        label="Confirm deletion"
                        question={`Stop renewing ${display(m.name)}? Its files stay where they are.`}
                        action="Delete"
                        back="Keep"
                        onYes={() =>
                          run(async () => {
                            await request("DELETE", `/managed/${encodeURIComponent(m.id)}`);
                            setDeleted(true);
                          })
                        }
                      />
                    </div>
                  )}
                </Card>
              )}
            </div>
          </>
        )}
      </Show>
      <Card title="Timeline" id="managed-timeline" wide>
        <Show loaded={timeline}>
          {({ items }) =>
            items.length === 0 ? (
              <Empty>Nothing yet.</Empty>
            ) : (
              <table class="table" aria-label="Timeline">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">What</th>
                    <th scope="col">By</th>
                    <th scope="col">Detail</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((t) => (
                    <tr key={t.seq} data-timeline={t.kind}>
                      <td>{date(t.at)}</td>
                      <td>{display(t.kind, 64)}</td>
                      <td>{display(t.actor, 200)}</td>
                      <td>
                        <code class="details">{display(t.detail === undefined ? "" : JSON.stringify(t.detail), 1500)}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </Card>
    </main>
  );
}

function ManagedList({ identity, state }: { identity: Identity; state: string }) {
  const [version, setVersion] = useState(0);
  const [creating, setCreating] = useState(false);
  // Keyset pages: the cursors of the pages before this one, the last being this page's.
  // They belong to the state filter they were made under: another filter starts at page one.
  const [paging, setPaging] = useState<{ state: string; cursors: string[] }>({ state, cursors: [] });
  const cursors = paging.state === state ? paging.cursors : [];
  const setCursors = (next: string[]) => setPaging({ state, cursors: next });
  const cursor = cursors[cursors.length - 1];
  const managed = useLoad(
    () => get<{ items: Managed[]; next_cursor: string | null }>("/managed", { state: state || undefined, limit: 100, cursor }),
    [`${state}/${cursor ?? ""}`, version],
  );
  const { error, run } = useAction(() => setVersion((v) => v + 1));
  const manage = can(identity.role, "manage");
  return (
    <main>
      <h1>Automation</h1>
      <div class="grid">
        {manage && (
          <Card title="Manage a certificate" id="new-managed" wide>
            {creating ? (
              <ManagedForm
                team={identity.role === "requester" ? identity.team : null}
                onDone={(name) => {
                  setCreating(false);
                  window.location.hash = href("/automation", { managed: name });
                }}
              />
            ) : (
              <button type="button" onClick={() => setCreating(true)}>
                New managed certificate…
              </button>
            )}
          </Card>
        )}
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
                          <a href={href("/automation", { managed: m.name })}>{display(m.name)}</a>
                          <div class="muted">{display(m.common_name)}</div>
                        </td>
                        <td>
                          <span class={state_class(m.state)}>{m.state}</span>
                          {m.last_error ? <div class="muted">{display(m.last_error, 300)}</div> : null}
                        </td>
                        <td>{m.fingerprint ? <a href={href(`/certificates/${m.fingerprint}`)}>{date(m.not_after)}</a> : "—"}</td>
                        <td>{date(m.renew_at)}</td>
                        <td>{m.targets.length === 0 ? "no targets" : m.deployed ? "yes" : "no"}</td>
                        <td>
                          {manage && (
                            <button type="button" class="link" onClick={() => run(() => request("POST", `/managed/${encodeURIComponent(m.id)}/renew`))}>
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
          <Show loaded={managed}>
            {({ next_cursor }) => (
              <nav class="pager" aria-label="Pages">
                {cursors.length > 0 && (
                  <button type="button" class="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
                    Previous
                  </button>
                )}
                {next_cursor && (
                  <button type="button" class="secondary" onClick={() => setCursors([...cursors, next_cursor])}>
                    Next
                  </button>
                )}
              </nav>
            )}
          </Show>
          {error && <Problem error={error} />}
          <p class="hint">
            Alerts raised for these are on the <a href={href("/alerts")}>Alerts</a> page.
          </p>
        </Card>
      </div>
    </main>
  );
}

export function Automation({ identity, state, managed }: { identity: Identity; state: string; managed: string }) {
  return managed ? <ManagedDetail name={managed} identity={identity} /> : <ManagedList identity={identity} state={state} />;
}
