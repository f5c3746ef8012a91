// Replacement campaigns (docs/automation.md): plan one from a selector over the inventory, see
// what it takes before and after it is stored, and move it through the states the API allows.
// Shown only to roles with the campaign permission; a campaign is organisation-wide.

import { useEffect, useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { href } from "../router";
import { can } from "../roles";
import { Card, Empty, Problem, Show, as_error, date, display, useAction, useLoad, Confirm } from "../ui";

interface Counts {
  total: number;
  managed: number;
  not_managed: number;
  pending: number;
  replacing: number;
  done: number;
  failed: number;
  revoked: number;
  revoke_failed: number;
}
type Selector = Partial<Record<"authority" | "issuer" | "key_algorithm" | "search" | "team" | "profile" | "tag" | "origin", string>> & {
  key_bits?: number;
};
type Target = Partial<Record<"authority" | "profile" | "key_type", string>>;
interface Campaign {
  id: string;
  name?: string;
  state: string;
  selector: Selector;
  target: Target;
  wave_size: number;
  max_failures: number | null;
  item_timeout: string;
  current_wave: number;
  waves: number;
  created_by: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  last_error: string;
  finish: { revoke?: boolean; reason?: string; force?: boolean } | null;
  counts: Counts;
}
interface Item {
  seq: number;
  wave: number;
  fingerprint: string;
  subject: string;
  authority: string | null;
  key: string;
  not_after: string;
  managed: { id: string; name: string } | null;
  targets: { name?: string; kind?: string; host?: string; path?: string }[];
  state: string;
  error: string;
  new_fingerprint: string | null;
  revoked: boolean;
  revoke_error: string;
}
interface Plan {
  counts: Counts;
  waves: number;
  items: Item[];
  items_truncated: boolean;
}

// Which actions the API takes in which state (docs/api.md, "Replacement campaigns"); anything
// else is 409.
const STARTS = ["planned", "paused"];
const PAUSES = ["running"];
const CANCELS = ["planned", "running", "paused"];
const FINISHES = ["completed", "cancelled"];
const MOVING = ["running", "finishing"];
const ITEM_STATES = ["", "pending", "replacing", "done", "failed", "not_managed"];
const KEY_ALGORITHMS = ["rsa", "rsa-pss", "ecdsa", "ed25519"];
const ORIGINS = ["issued", "imported", "discovered", "upstream"];
const KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519", "rsa-pss-2048", "rsa-pss-3072", "rsa-pss-4096"];
const REASONS = ["superseded", "cACompromise", "keyCompromise", "affiliationChanged", "cessationOfOperation", "privilegeWithdrawn", "unspecified"];
const FINGERPRINT = /^[0-9a-fA-F]{64}$/;
const PAGE = 20;

const members = (o: Record<string, string | number | undefined>) =>
  Object.entries(o)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
const count = (n: number, one: string) => `${n.toLocaleString("en")} ${one}${n === 1 ? "" : "s"}`;
const pill = (state: string) =>
  ["failed", "cancelled"].includes(state) ? "revoked" : ["completed", "finished", "done"].includes(state) ? "valid" : "expiring";

function Counted({ c }: { c: Counts }) {
  return (
    <span data-total={c.total}>
      {c.done} of {c.total} done{c.failed ? `, ${c.failed} failed` : ""}
      <span class="muted">
        {" "}
        ({c.replacing} replacing, {c.pending} pending, {c.not_managed} not managed
        {c.revoked || c.revoke_failed ? `; ${c.revoked} revoked, ${c.revoke_failed} not revocable` : ""})
      </span>
    </span>
  );
}

function Items({ items, label }: { items: Item[]; label: string }) {
  if (items.length === 0) return <Empty>No certificate.</Empty>;
  return (
    <table class="table" aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Wave</th>
          <th scope="col">Certificate</th>
          <th scope="col">Expires</th>
          <th scope="col">Managed by, deployed to</th>
          <th scope="col">State</th>
          <th scope="col">Replacement</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr key={i.seq} data-item={i.fingerprint} data-state={i.state}>
            <td>{i.wave + 1}</td>
            <td>
              {FINGERPRINT.test(i.fingerprint) ? (
                <a href={href(`/certificates/${i.fingerprint.toLowerCase()}`)}>{display(i.subject, 300) || "(empty subject)"}</a>
              ) : (
                display(i.subject, 300)
              )}
              <div class="muted">
                {display(i.key)}
                {i.authority ? ` · ${display(i.authority)}` : ""}
              </div>
            </td>
            <td>{date(i.not_after)}</td>
            <td>
              {i.managed ? display(i.managed.name) : <span class="muted">none: its client is asked to renew (ARI)</span>}
              {i.targets.map((t, n) => (
                <div key={n} class="muted">
                  {display(t.kind)} {display(t.name)} {display(t.host ?? t.path ?? "", 300)}
                </div>
              ))}
            </td>
            <td>
              <span class={`status status-${pill(i.state)}`}>{display(i.state)}</span>
              {i.error ? <div class="muted">{display(i.error, 500)}</div> : null}
            </td>
            <td>
              {i.new_fingerprint && FINGERPRINT.test(i.new_fingerprint) ? (
                <a href={href(`/certificates/${i.new_fingerprint.toLowerCase()}`)}>{i.new_fingerprint.slice(0, 16)}…</a>
              ) : (
                "—"
              )}
              {i.revoked ? <div>old one revoked</div> : null}
              {i.revoke_error ? <div class="muted">{display(i.revoke_error, 300)}</div> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Campaigns({ identity }: { identity: Identity }) {
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  const [befores, setBefores] = useState<string[]>([]);
  const before = befores[befores.length - 1];
  const list = useLoad(() => get<{ items: Campaign[]; next_before: string | null }>("/campaigns", { limit: PAGE, before }), [before ?? "", version]);
  const [open, setOpen] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<string | null>(null);
  const { error, run } = useAction(() => {
    setCancelling(null);
    reload();
  });
  const act = (c: Campaign, what: string) => run(() => request("POST", `/campaigns/${encodeURIComponent(c.id)}/${what}`));
  // Waves run on the server: while one moves, look again every few seconds.
  const moving = list.state === "ready" && list.value.items.some((c) => MOVING.includes(c.state));
  useEffect(() => {
    if (!moving) return;
    const t = setTimeout(reload, 3000);
    return () => clearTimeout(t);
  }, [moving, version]);
  return (
    <>
      <Card title="Replacement campaigns" id="campaigns" wide>
        <Show loaded={list}>
          {({ items, next_before }) => (
            <>
              {items.length === 0 ? (
                <Empty>No campaign yet.</Empty>
              ) : (
                <table class="table" aria-label="Replacement campaigns">
                  <thead>
                    <tr>
                      <th scope="col">Campaign</th>
                      <th scope="col">Takes · moves to</th>
                      <th scope="col">Progress</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((c) => (
                      <tr key={c.id} data-campaign={c.id} data-state={c.state}>
                        <td>
                          {display(c.name) || <code>{display(c.id)}</code>} <span class={`status status-${pill(c.state)}`}>{display(c.state)}</span>
                          <div class="muted">
                            {display(c.id)} · {display(c.created_by)} · {date(c.created_at)}
                          </div>
                          {c.last_error ? <div class="problem">{display(c.last_error, 500)}</div> : null}
                          {cancelling === c.id ? (
                            <Confirm
                              label={`Confirm cancelling ${display(c.name) || display(c.id)}`}
                              question="Cancel it? No further wave starts; it cannot be resumed."
                              action="Cancel campaign"
                              back="Keep it"
                              dataAction="cancel-confirm"
                              onYes={() => act(c, "cancel")}
                              onNo={() => setCancelling(null)}
                            />
                          ) : (
                            <div class="row">
                              <button type="button" class="link" data-action="items" aria-pressed={open === c.id} onClick={() => setOpen(open === c.id ? null : c.id)}>
                                {open === c.id ? "Hide items" : "Items"}
                              </button>
                              {STARTS.includes(c.state) && (
                                <button type="button" data-action="start" onClick={() => act(c, "start")}>
                                  {c.state === "paused" ? "Resume" : "Start"}
                                </button>
                              )}
                              {PAUSES.includes(c.state) && (
                                <button type="button" class="secondary" data-action="pause" onClick={() => act(c, "pause")}>
                                  Pause
                                </button>
                              )}
                              {CANCELS.includes(c.state) && (
                                <button type="button" class="danger" data-action="cancel" onClick={() => setCancelling(c.id)}>
                                  Cancel…
                                </button>
                              )}
                            </div>
                          )}
                        </td>
                        <td>
                          {display(members(c.selector), 500)}
                          <div class="muted">→ {display(members(c.target)) || "the same, with a new key"}</div>
                        </td>
                        <td>
                          <Counted c={c.counts} />
                          <div class="muted">
                            {c.waves ? `wave ${Math.min(c.current_wave + 1, c.waves)} of ${c.waves}` : "no wave"}, {c.wave_size} at a time
                          </div>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {error && <Problem error={error} />}
              <nav class="pager" aria-label="Campaign pages">
                {befores.length > 0 && (
                  <button type="button" class="secondary" onClick={() => setBefores(befores.slice(0, -1))}>
                    Newer
                  </button>
                )}
                {next_before && (
                  <button type="button" class="secondary" onClick={() => setBefores([...befores, next_before])}>
                    Older
                  </button>
                )}
                <button type="button" class="secondary" onClick={reload}>
                  Refresh
                </button>
              </nav>
            </>
          )}
        </Show>
      </Card>
      {open && <Detail key={open} id={open} version={version} onChanged={reload} />}
      <Card title="Plan a replacement campaign" id="new-campaign" wide>
        <PlanForm
          catalog={can(identity.role, "read_catalog")}
          onPlanned={(id) => {
            setBefores([]);
            setOpen(id);
            reload();
          }}
        />
      </Card>
    </>
  );
}

// One campaign: its items a page at a time, and its finish once the API allows it.
function Detail({ id, version, onChanged }: { id: string; version: number; onChanged: () => void }) {
  const [state, setState] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const data = useLoad(async () => {
    const path = `/campaigns/${encodeURIComponent(id)}`;
    const [campaign, items] = await Promise.all([
      get<Campaign>(path),
      get<{ items: Item[]; next_cursor: string | null }>(`${path}/items`, { state, cursor, limit: 100 }),
    ]);
    return { campaign, items };
  }, [state + (cursor ?? ""), version]);
  return (
    <Card title="Campaign items" id="campaign-items" wide>
      <Show loaded={data}>
        {({ campaign: c, items }) => (
          <div data-open={c.id}>
            <p>
              <strong>{display(c.name) || display(c.id)}</strong> · <Counted c={c.counts} />
            </p>
            <p class="muted">
              Wave size {c.wave_size}, item timeout {display(c.item_timeout)}, {c.max_failures === null ? "no failure limit" : `pauses after ${c.max_failures} failures`}
              {c.started_at ? ` · started ${date(c.started_at)}` : ""}
              {c.completed_at ? ` · completed ${date(c.completed_at)}` : ""}
              {c.finish
                ? ` · finished ${c.finish.revoke ? `revoking the old certificates (${display(c.finish.reason)}${c.finish.force ? ", failed ones too" : ""})` : "without revoking"}`
                : ""}
            </p>
            {FINISHES.includes(c.state) && <Finish campaign={c} onDone={onChanged} />}
            <div class="filters">
              <label>
                Items in state
                <select
                  name="item_state"
                  value={state}
                  onChange={(e) => {
                    setCursors([]);
                    setState((e.target as HTMLSelectElement).value);
                  }}
                >
                  {ITEM_STATES.map((s) => (
                    <option key={s} value={s}>
                      {s || "any"}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <Items items={items.items} label="Campaign items" />
            <nav class="pager" aria-label="Item pages">
              {cursors.length > 0 && (
                <button type="button" class="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
                  Previous
                </button>
              )}
              {items.next_cursor && (
                <button type="button" class="secondary" onClick={() => setCursors([...cursors, items.next_cursor ?? ""])}>
                  Next
                </button>
              )}
            </nav>
          </div>
        )}
      </Show>
    </Card>
  );
}

// Finishing with revocation cannot be undone: it asks once more.
function Finish({ campaign, onDone }: { campaign: Campaign; onDone: () => void }) {
  const [revoke, setRevoke] = useState(false);
  const [reason, setReason] = useState("superseded");
  const [force, setForce] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const { error, run } = useAction(onDone);
  const body = revoke ? { revoke, reason, force } : {};
  return (
    <fieldset class="row" data-finish={campaign.id}>
      <legend>Finish</legend>
      <label class="row">
        <input type="checkbox" name="finish_revoke" checked={revoke} onChange={(e) => setRevoke((e.target as HTMLInputElement).checked)} />
        Revoke the old certificates of the replaced items
      </label>
      {revoke && (
        <>
          <label>
            Reason{" "}
            <select name="finish_reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
              {REASONS.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label class="row">
            <input type="checkbox" name="finish_force" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} />
            Also those whose replacement failed (they are what is still served)
          </label>
        </>
      )}
      {confirming ? (
        <Confirm
          label="Confirm finishing"
          question={revoke ? "Finish and revoke? Revocation cannot be undone." : "Finish without revoking?"}
          action="Finish now"
          back="Not yet"
          danger={revoke}
          dataAction="finish-confirm"
          onYes={() => run(() => request("POST", `/campaigns/${encodeURIComponent(campaign.id)}/finish`, { body }))}
          onNo={() => setConfirming(false)}
        />
      ) : (
        <button type="button" data-action="finish" onClick={() => setConfirming(true)}>
          Finish…
        </button>
      )}
      {error && <Problem error={error} />}
    </fieldset>
  );
}

const EMPTY = {
  name: "", authority: "", issuer: "", key_algorithm: "", key_bits: "", search: "", team: "", profile: "", tag: "", origin: "",
  to_authority: "", to_profile: "", to_key_type: "", wave_size: "", max_failures: "", item_timeout: "",
};
type PlanDraft = typeof EMPTY;

function plan_body(d: PlanDraft, dry_run: boolean): Record<string, unknown> {
  const t = (v: string) => v.trim() || undefined;
  const n = (v: string) => (v.trim() ? Number(v) : undefined);
  const selector = { authority: t(d.authority), issuer: t(d.issuer), key_algorithm: t(d.key_algorithm), key_bits: n(d.key_bits), search: t(d.search), team: t(d.team), profile: t(d.profile), tag: t(d.tag), origin: t(d.origin) };
  const target = { authority: t(d.to_authority), profile: t(d.to_profile), key_type: t(d.to_key_type) };
  // JSON leaves out the undefined members: the API refuses an empty string where a name goes.
  return { name: t(d.name), selector, target, wave_size: n(d.wave_size), max_failures: n(d.max_failures), item_timeout: t(d.item_timeout), dry_run };
}

function PlanForm({ catalog, onPlanned }: { catalog: boolean; onPlanned: (id: string) => void }) {
  const [d, setD] = useState<PlanDraft>(EMPTY);
  const [preview, setPreview] = useState<Plan | null>(null);
  const [planned, setPlanned] = useState<Campaign | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const names = useLoad(async () => {
    if (!catalog) return { authorities: [], profiles: [] };
    const [a, p] = await Promise.all([get<{ items: { name: string }[] }>("/authorities"), get<{ items: { name: string }[] }>("/profiles")]);
    return { authorities: a.items.map((x) => x.name), profiles: p.items.map((x) => x.name) };
  }, ["catalog"]);
  const known = names.state === "ready" ? names.value : { authorities: [], profiles: [] };
  const send = async (dry: boolean) => {
    setError(null);
    setPlanned(null);
    setPreview(null);
    try {
      if (dry) setPreview(await request<Plan>("POST", "/campaigns", { body: plan_body(d, true) }));
      else {
        const c = await request<Campaign>("POST", "/campaigns", { body: plan_body(d, false) });
        setPlanned(c);
        onPlanned(c.id);
      }
    } catch (e) {
      setError(as_error(e));
    }
  };
  const text = (k: keyof PlanDraft, label: string, extra: { list?: string; type?: string; min?: number; max?: number } = {}) => (
    <label>
      {label}
      <input name={`campaign_${k}`} value={d[k]} onInput={(e) => setD({ ...d, [k]: (e.target as HTMLInputElement).value })} {...extra} />
    </label>
  );
  const choice = (k: keyof PlanDraft, label: string, values: string[], none: string) => (
    <label>
      {label}
      <select name={`campaign_${k}`} value={d[k]} onChange={(e) => setD({ ...d, [k]: (e.target as HTMLSelectElement).value })}>
        <option value="">{none}</option>
        {values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <form
      class="form"
      onSubmit={(e) => {
        e.preventDefault();
        void send(false);
      }}
    >
      <datalist id="campaign-authorities">
        {known.authorities.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <datalist id="campaign-profiles">
        {known.profiles.map((p) => (
          <option key={p} value={p} />
        ))}
      </datalist>
      {text("name", "Name (optional; a-z, 0-9 and . _ -)")}
      <fieldset>
        <legend>Which active certificates it takes (at least one; together they narrow)</legend>
        {text("authority", "Issued by authority", { list: "campaign-authorities" })}
        {text("issuer", "Issuer DN contains")}
        {choice("key_algorithm", "Key algorithm", KEY_ALGORITHMS, "any")}
        {text("key_bits", "Key size (bits)", { type: "number", min: 1 })}
        {text("search", "Subject or name contains")}
        {text("team", "Team")}
        {text("profile", "Profile", { list: "campaign-profiles" })}
        {text("tag", "Tag")}
        {choice("origin", "Origin", ORIGINS, "any")}
      </fieldset>
      <fieldset>
        <legend>What the managed ones move to (empty: the same, renewed with a new key)</legend>
        {text("to_authority", "Authority", { list: "campaign-authorities" })}
        {text("to_profile", "Profile", { list: "campaign-profiles" })}
        {choice("to_key_type", "Key type", KEY_TYPES, "unchanged")}
      </fieldset>
      <fieldset>
        <legend>How it runs</legend>
        {text("wave_size", "Wave size (1 to 1000; default 25)", { type: "number", min: 1, max: 1000 })}
        {text("max_failures", "Pause after this many failures (empty: never)", { type: "number", min: 0 })}
        {text("item_timeout", "Item timeout (1m to 7d; default 1h)")}
      </fieldset>
      <div class="row">
        <button type="button" class="secondary" onClick={() => void send(true)}>
          Preview (dry run)
        </button>
        <button type="submit">Plan campaign</button>
      </div>
      {error && <Problem error={error} />}
      {planned && (
        <p role="status" data-planned={planned.id}>
          Planned {display(planned.name) || display(planned.id)}: {count(planned.counts.total, "certificate")} in {count(planned.waves, "wave")}. Nothing
          changes until it is started.
        </p>
      )}
      {preview && (
        <div data-preview={preview.counts.total}>
          <p role="status">
            Dry run, nothing stored: {count(preview.counts.total, "certificate")} ({preview.counts.managed} managed, {preview.counts.not_managed} not managed) in{" "}
            {count(preview.waves, "wave")}.
            {preview.items_truncated ? " The first 1,000 are listed." : ""}
          </p>
          <Items items={preview.items} label="Planned certificates" />
        </div>
      )}
    </form>
  );
}
