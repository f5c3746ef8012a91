// Governance over REST API v1: what breaks the compliance rules, the rules themselves, the
// replacement campaigns (Campaigns.tsx) and the reports. Each card is requested only when the
// role may read it, and each control shown only when the role may use it (the API refuses the
// rest anyway).

import { useState } from "preact/hooks";
import { fetch_file, get, request, type Identity, type Report } from "../api";
import { save } from "../download";
import { href } from "../router";
import { can } from "../roles";
import { Card, Empty, Problem, Show, as_error, date, display, useAction, useLoad, Confirm } from "../ui";
import { Campaigns } from "./Campaigns";

// A rule has the common members and those of its kind only (docs/governance.md).
type Rule = { id: string; kind: string; enabled?: boolean; allowed?: boolean; max_days?: number; min_bits?: Record<string, number> } & Partial<
  Record<"description" | "severity" | "source" | "match", string> &
    Record<"teams" | "tags" | "algorithms" | "curves" | "issuers" | "patterns" | "ekus", string[]>
>;
type Violation = Record<"rule" | "kind" | "severity" | "subject_type" | "subject_id" | "subject" | "message", string> & { team: string | null; origin?: string };
interface ViolationPage {
  items: Violation[];
  scanned: number;
  next_cursor: string | null;
}

const SEVERITIES = ["low", "medium", "high", "critical"];
// What breaks each kind (docs/governance.md), shown beside the kind the form offers.
const KINDS: Record<string, string> = {
  min_key_size: "a key smaller than its algorithm's minimum",
  allowed_algorithms: "a key algorithm (or ECDSA curve) not listed",
  max_validity: "a validity longer than the maximum",
  allowed_issuers: "an issuer not listed",
  wildcards: "a * in a DNS name or the CN",
  required_san_pattern: "DNS names that do not match the patterns",
  required_owner: "no owner recorded",
  forbidden_eku_combination: "all of these extended key usages together (or anyExtendedKeyUsage)",
  sha1_in_chain: "a SHA-1 signature on it or a CA above it",
};
const ALGORITHMS = ["rsa", "rsa-pss", "ecdsa", "ed25519", "dsa"];
const CURVES = ["P-256", "P-384", "P-521"];
const EKUS = ["serverAuth", "clientAuth", "codeSigning", "emailProtection", "timeStamping", "OCSPSigning", "anyExtendedKeyUsage"];
const FINGERPRINT = /^[0-9a-fA-F]{64}$/;

const words = (text: string) => text.split(/[\s,]+/).filter(Boolean);
// Issuer DNs hold commas: one a line.
const lines = (text: string) => text.split("\n").map((t) => t.trim()).filter(Boolean);
const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
const sev = (s: string | undefined) => (SEVERITIES.includes(s ?? "") ? s : "low");

function Options({ values }: { values: string[] }) {
  return <>{values.map((v) => <option key={v} value={v}>{display(v)}</option>)}</>;
}

function CertificateCell({ id, subject }: { id: string; subject: string }) {
  const text = display(subject, 300) || "(empty subject)";
  return FINGERPRINT.test(id) ? <a href={href(`/certificates/${id.toLowerCase()}`)}>{text}</a> : <>{text}</>;
}

export function Governance({ identity }: { identity: Identity }) {
  const role = identity.role;
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  const rules = useLoad(
    async () => (can(role, "read_policy") ? (await get<{ items: Rule[] }>("/policy/rules")).items : null),
    ["rules", version],
  );
  return (
    <main>
      <h1>Governance</h1>
      <div class="grid">
        {can(role, "read_inventory") && (
          <Violations identity={identity} rules={rules.state === "ready" ? rules.value : null} version={version} />
        )}
        {can(role, "read_policy") && (
          <Card title="Compliance rules" id="rules" wide>
            <Show loaded={rules}>{(items) => <Rules rules={items ?? []} manage={can(role, "manage_policy")} onChanged={reload} />}</Show>
          </Card>
        )}
        {can(role, "manage_policy") && (
          <Card title="New rule" id="new-rule" wide>
            <RuleForm onDone={reload} />
          </Card>
        )}
        {can(role, "campaign") && <Campaigns identity={identity} />}
        {can(role, "read_inventory") && <Reports identity={identity} />}
      </div>
    </main>
  );
}

// One page of violations at a time: a request looks at a bounded number of records, so a page
// may hold fewer than asked, even none, and still have a next one.
function Violations({ identity, rules, version }: { identity: Identity; rules: Rule[] | null; version: number }) {
  const scoped = identity.role === "requester" || identity.role === "approver";
  const [filters, setFilters] = useState({ rule: "", severity: "", team: "" });
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  // A rule deleted since it was chosen filters nothing (the API would refuse its name).
  const query = { ...filters, rule: rules && !rules.some((r) => r.id === filters.rule) ? "" : filters.rule };
  const page = useLoad(
    () => get<ViolationPage>("/policy/violations", { ...query, cursor, limit: 100 }),
    [JSON.stringify(query) + (cursor ?? ""), version],
  );
  const filter = (k: keyof typeof filters) => (e: Event) => {
    setCursors([]);
    setFilters({ ...filters, [k]: (e.target as HTMLInputElement).value.trim() });
  };
  return (
    <Card title="Policy violations" id="violations" wide>
      <div class="filters">
        <label>
          Rule
          {rules ? (
            <select name="violation_rule" value={query.rule} onChange={filter("rule")}>
              <option value="">all</option>
              <Options values={rules.map((r) => r.id)} />
            </select>
          ) : (
            <input name="violation_rule" value={filters.rule} onChange={filter("rule")} />
          )}
        </label>
        <label>
          Severity and above
          <select name="violation_severity" value={filters.severity} onChange={filter("severity")}>
            <option value="">any</option>
            <Options values={SEVERITIES} />
          </select>
        </label>
        {!scoped && (
          <label>
            Team
            <input name="violation_team" value={filters.team} onChange={filter("team")} />
          </label>
        )}
      </div>
      <Show loaded={page}>
        {(p) => (
          <>
            <p class="muted" data-violations={p.items.length} data-scanned={p.scanned}>
              Page {cursors.length + 1}: {count(p.items.length, "violation")} in {count(p.scanned, "certificate or SSH key", "certificates and SSH keys")}{" "}
              looked at{p.next_cursor ? "; more to look at" : ""}.
            </p>
            {p.items.length === 0 ? (
              <Empty>
                {p.next_cursor
                  ? "None among the records looked at so far."
                  : cursors.length
                    ? "No more violations."
                    : query.rule || query.severity || query.team
                      ? "No violation matches."
                      : "No certificate or SSH key breaks a rule in force."}
              </Empty>
            ) : (
              <table class="table" aria-label="Policy violations">
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Certificate or key</th>
                    <th scope="col">Severity</th>
                    <th scope="col">What</th>
                  </tr>
                </thead>
                <tbody>
                  {p.items.map((v, i) => (
                    <tr key={i} data-violation={`${v.rule}:${v.subject_id}`}>
                      <td>
                        {display(v.rule)} <div class="muted">{display(v.kind)}</div>
                      </td>
                      <td>
                        <CertificateCell id={v.subject_type === "certificate" ? v.subject_id : ""} subject={v.subject} />
                        <div class="muted">
                          {display(v.subject_type)}
                          {v.team ? ` · team ${display(v.team)}` : ""}
                          {v.origin ? ` · ${display(v.origin)}` : ""}
                        </div>
                      </td>
                      <td class={`sev sev-${sev(v.severity)}`}>{display(v.severity)}</td>
                      <td>{display(v.message, 1000)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <nav class="pager" aria-label="Violation pages">
              {cursors.length > 0 && <button type="button" class="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>Previous</button>}
              {p.next_cursor && <button type="button" class="secondary" onClick={() => setCursors([...cursors, p.next_cursor ?? ""])}>Next</button>}
            </nav>
          </>
        )}
      </Show>
    </Card>
  );
}

function parameters(r: Rule): string {
  switch (r.kind) {
    case "min_key_size":
      return Object.entries(r.min_bits ?? {}).map(([a, b]) => `${a} ≥ ${b} bits`).join(", ");
    case "allowed_algorithms":
      return [...(r.algorithms ?? []), ...(r.curves ?? [])].join(", ");
    case "max_validity":
      return `at most ${r.max_days ?? "?"} days`;
    case "allowed_issuers":
      return (r.issuers ?? []).join("; ");
    case "wildcards":
      return r.allowed ? "allowed" : "refused";
    case "required_san_pattern":
      return `${r.match ?? "all"} of: ${(r.patterns ?? []).join(", ")}`;
    case "forbidden_eku_combination":
      return (r.ekus ?? []).join(" + ");
    default:
      return "";
  }
}

const scope = (r: Rule) =>
  [r.teams?.length ? `teams ${r.teams.join(", ")}` : "", r.tags?.length ? `tags ${r.tags.join(", ")}` : ""].filter(Boolean).join("; ");

function Rules({ rules, manage, onChanged }: { rules: Rule[]; manage: boolean; onChanged: () => void }) {
  const [editing, setEditing] = useState<Rule | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const { error, run } = useAction(() => {
    setDeleting(null);
    onChanged();
  });
  if (rules.length === 0) return <Empty>No rules: no certificate is checked, and no issuance is refused by a rule.</Empty>;
  return (
    <>
      <table class="table" aria-label="Compliance rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Broken by</th>
            <th scope="col">Severity</th>
            <th scope="col">Applies to</th>
            <th scope="col">State</th>
            {manage && <th scope="col" />}
          </tr>
        </thead>
        <tbody>
          {rules.map((r) => (
            <tr key={r.id} data-rule={r.id} data-severity={r.severity} data-source={r.source}>
              <td>
                {display(r.id)}
                {r.description ? <div class="muted">{display(r.description, 256)}</div> : null}
              </td>
              <td>
                {display(r.kind)}
                <div class="muted">{display(parameters(r), 600)}</div>
              </td>
              <td class={`sev sev-${sev(r.severity)}`}>{display(r.severity)}</td>
              <td>{display(scope(r), 600) || "everything"}</td>
              <td>
                {r.enabled === false ? "disabled" : "enabled"}
                {r.source === "config" ? <div class="muted">declared in certward.toml</div> : null}
              </td>
              {manage && (
                <td>
                  {r.source === "config" ? (
                    <span class="muted">read-only</span>
                  ) : deleting === r.id ? (
                    <Confirm
                      label={`Confirm deletion of ${display(r.id)}`}
                      question={`Delete rule ${display(r.id)}?`}
                      action="Delete now"
                      back="Keep"
                      dataAction="delete-confirm"
                      onYes={() => run(() => request("DELETE", `/policy/rules/${encodeURIComponent(r.id)}`))}
                      onNo={() => setDeleting(null)}
                    />
                  ) : (
                    <>
                      <button type="button" class="link" data-action="edit" onClick={() => setEditing(r)}>Edit</button>{" "}
                      <button type="button" class="link" data-action="delete" onClick={() => setDeleting(r.id)}>Delete…</button>
                    </>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {error && <Problem error={error} />}
      {manage && editing && (
        <section data-editing={editing.id} aria-label={`Edit rule ${display(editing.id)}`}>
          <h3>Edit rule {display(editing.id)}</h3>
          <RuleForm
            key={editing.id}
            initial={editing}
            onDone={() => {
              setEditing(null);
              onChanged();
            }}
            onCancel={() => setEditing(null)}
          />
        </section>
      )}
    </>
  );
}

function draft_of(r?: Rule) {
  const known = (e: string) => EKUS.find((k) => k.toLowerCase() === e.toLowerCase());
  return {
    id: r?.id ?? "",
    kind: r?.kind ?? "min_key_size",
    description: r?.description ?? "",
    severity: r?.severity ?? "high",
    enabled: r?.enabled ?? true,
    teams: (r?.teams ?? []).join(", "),
    tags: (r?.tags ?? []).join(", "),
    min_bits: Object.fromEntries(Object.entries(r?.min_bits ?? {}).map(([a, b]) => [a, String(b)])),
    algorithms: r?.algorithms ?? [],
    curves: r?.curves ?? [],
    max_days: r?.max_days ? String(r.max_days) : "",
    issuers: (r?.issuers ?? []).join("\n"),
    allowed: r?.allowed ?? false,
    patterns: (r?.patterns ?? []).join(", "),
    match: r?.match ?? "all",
    ekus: (r?.ekus ?? []).map(known).filter((e): e is string => !!e),
    other_ekus: (r?.ekus ?? []).filter((e) => !known(e)).join(", "),
  };
}

type Draft = ReturnType<typeof draft_of>;

// The body of POST and PUT: the common members and those of the rule's kind only, since the
// API refuses a member of another kind.
function body_of(d: Draft): Record<string, unknown> {
  const b: Record<string, unknown> = {
    id: d.id.trim(),
    kind: d.kind,
    description: d.description.trim(),
    severity: d.severity,
    enabled: d.enabled,
    teams: words(d.teams),
    tags: words(d.tags),
  };
  if (d.kind === "min_key_size")
    b["min_bits"] = Object.fromEntries(Object.entries(d.min_bits).filter(([, v]) => v.trim()).map(([a, v]) => [a, Number(v)]));
  if (d.kind === "allowed_algorithms") {
    b["algorithms"] = d.algorithms;
    if (d.curves.length) b["curves"] = d.curves;
  }
  if (d.kind === "max_validity") b["max_days"] = d.max_days.trim() ? Number(d.max_days) : null;
  if (d.kind === "allowed_issuers") b["issuers"] = lines(d.issuers);
  if (d.kind === "wildcards") b["allowed"] = d.allowed;
  if (d.kind === "required_san_pattern") {
    b["patterns"] = words(d.patterns);
    b["match"] = d.match;
  }
  if (d.kind === "forbidden_eku_combination") b["ekus"] = [...d.ekus, ...words(d.other_ekus)];
  return b;
}

function Checks({ name, legend, all, chosen, onChange }: { name: string; legend: string; all: string[]; chosen: string[]; onChange: (next: string[]) => void }) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      {all.map((a) => (
        <label key={a} class="inline">
          <input
            type="checkbox"
            name={`${name}_${a}`}
            checked={chosen.includes(a)}
            onChange={(e) => onChange((e.target as HTMLInputElement).checked ? [...chosen, a] : chosen.filter((c) => c !== a))}
          />
          {a}
        </label>
      ))}
    </fieldset>
  );
}

function RuleForm({ initial, onDone, onCancel }: { initial?: Rule; onDone: () => void; onCancel?: () => void }) {
  const [d, setD] = useState<Draft>(() => draft_of(initial));
  const [saved, setSaved] = useState<string | null>(null);
  const { error, run } = useAction(() => {
    setSaved(d.id.trim());
    if (!initial) setD(draft_of());
    onDone();
  });
  type Text = "id" | "description" | "teams" | "tags" | "max_days" | "issuers" | "patterns" | "other_ekus";
  const text = (k: Text) => (e: Event) => setD({ ...d, [k]: (e.target as HTMLInputElement).value });
  const pick = (k: "kind" | "severity" | "match") => (e: Event) => setD({ ...d, [k]: (e.target as HTMLSelectElement).value });
  const field = (k: Text, label: string, extra: { type?: string; min?: number; max?: number; maxLength?: number; required?: boolean } = {}) => (
    <label>
      {label}
      <input name={`rule_${k}`} value={d[k]} onInput={text(k)} {...extra} />
    </label>
  );
  const check = (k: "enabled" | "allowed", label: string) => (
    <label class="inline">
      <input type="checkbox" name={`rule_${k}`} checked={d[k]} onChange={(e) => setD({ ...d, [k]: (e.target as HTMLInputElement).checked })} />
      {label}
    </label>
  );
  return (
    <form
      class="form"
      data-rule-form={initial ? "edit" : "new"}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(null);
        run(() =>
          initial
            ? request("PUT", `/policy/rules/${encodeURIComponent(initial.id)}`, { body: body_of(d) })
            : request("POST", "/policy/rules", { body: body_of(d) }),
        );
      }}
    >
      {!initial && field("id", "Id (a-z, 0-9 and . _ -, e.g. min-rsa-2048)", { maxLength: 64, required: true })}
      <label>
        Kind
        <select name="rule_kind" value={d.kind} onChange={pick("kind")}>
          <Options values={Object.keys(KINDS)} />
        </select>
        <span class="hint">Broken by {KINDS[d.kind] ?? "?"}.</span>
      </label>
      {d.kind === "min_key_size" && (
        <fieldset>
          <legend>Minimum bits by algorithm (empty: no minimum; rsa binds rsa-pss unless it has its own)</legend>
          {ALGORITHMS.map((a) => (
            <label key={a}>
              {a}
              <input
                type="number"
                min={1}
                max={16384}
                name={`min_bits_${a}`}
                value={d.min_bits[a] ?? ""}
                onInput={(e) => setD({ ...d, min_bits: { ...d.min_bits, [a]: (e.target as HTMLInputElement).value } })}
              />
            </label>
          ))}
        </fieldset>
      )}
      {d.kind === "allowed_algorithms" && (
        <>
          <Checks name="algorithms" legend="Allowed key algorithms" all={ALGORITHMS} chosen={d.algorithms} onChange={(algorithms) => setD({ ...d, algorithms })} />
          <Checks name="curves" legend="Allowed ECDSA curves (none ticked: any)" all={CURVES} chosen={d.curves} onChange={(curves) => setD({ ...d, curves })} />
        </>
      )}
      {d.kind === "max_validity" && field("max_days", "Maximum validity (days, 1 to 36500)", { type: "number", min: 1, max: 36500, required: true })}
      {d.kind === "allowed_issuers" && (
        <label>
          Issuers, one a line: a DN as the inventory shows it, or authority:&lt;name&gt;
          <textarea name="rule_issuers" rows={3} value={d.issuers} onInput={text("issuers")} />
        </label>
      )}
      {d.kind === "wildcards" && check("allowed", "Wildcards allowed")}
      {d.kind === "required_san_pattern" && (
        <>
          {field("patterns", "DNS name patterns (comma-separated; * one label, ** as first label one or more)")}
          <label>
            Must match
            <select name="rule_match" value={d.match} onChange={pick("match")}>
              <option value="all">every DNS name</option>
              <option value="any">at least one DNS name</option>
            </select>
          </label>
        </>
      )}
      {d.kind === "forbidden_eku_combination" && (
        <>
          <Checks name="ekus" legend="Extended key usages not allowed together" all={EKUS} chosen={d.ekus} onChange={(ekus) => setD({ ...d, ekus })} />
          {field("other_ekus", "Other usages (dotted OIDs, comma-separated)")}
        </>
      )}
      <label>
        Severity
        <select name="rule_severity" value={d.severity} onChange={pick("severity")}>
          <Options values={SEVERITIES} />
        </select>
      </label>
      {field("teams", "Teams it applies to (comma-separated; empty: every team)")}
      {field("tags", "Tags it applies to (comma-separated; empty: any; requesters choose their tags)")}
      {field("description", "Description", { maxLength: 256 })}
      {check("enabled", "Enabled (an enabled rule also refuses issuance that breaks it, whatever its severity)")}
      <div class="row">
        <button type="submit">{initial ? "Save rule" : "Create rule"}</button>
        {onCancel && <button type="button" class="secondary" onClick={onCancel}>Cancel</button>}
      </div>
      {saved && !initial && <p role="status" data-saved-rule={saved}>Rule {display(saved)} created.</p>}
      {error && <Problem error={error} />}
    </form>
  );
}

const REPORTS = ["expiring", "violations", "summary", "posture", "lifetimes", "cbom"];
const SHOWN_ROWS = 500;

async function download(kind: string, format: string, query: Record<string, string>) {
  const res = await fetch_file(`/reports/${encodeURIComponent(kind)}`, { ...query, format });
  const named = /filename="([A-Za-z0-9._-]+)"/.exec(res.headers.get("Content-Disposition") ?? "")?.[1];
  const ext = format === "cbom" ? "cdx.json" : format;
  save(named ?? `certward-${kind}.${ext}`, res.headers.get("Content-Type") ?? "", await res.blob());
}

function Reports({ identity }: { identity: Identity }) {
  const scoped = identity.role === "requester" || identity.role === "approver";
  const [kind, setKind] = useState("summary");
  const [within, setWithin] = useState("30d");
  const [team, setTeam] = useState("");
  const [asked, setAsked] = useState<{ kind: string; query: Record<string, string>; at: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<Error | null>(null);
  const query = (): Record<string, string> => ({
    ...(kind === "expiring" && within.trim() ? { window: within.trim() } : {}),
    ...(!scoped && team.trim() ? { team: team.trim() } : {}),
  });
  const report = useLoad(
    async () => (asked ? get<Report & { parameters?: Record<string, string> }>(`/reports/${encodeURIComponent(asked.kind)}`, asked.query) : null),
    [JSON.stringify(asked)],
  );
  // The server builds one report per principal at a time: one request at once from here.
  const fetching = busy || (asked !== null && report.state === "loading");
  const file = (format: string) => {
    setBusy(true);
    setFailed(null);
    download(kind, format, query())
      .catch((e: unknown) => setFailed(as_error(e)))
      .finally(() => setBusy(false));
  };
  return (
    <Card title="Reports" id="reports" wide>
      <div class="filters">
        <label>
          Report
          <select name="report_kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            <Options values={REPORTS} />
          </select>
        </label>
        {kind === "expiring" && (
          <label>
            Within (e.g. 30d, 12h, 1y)
            <input name="report_window" value={within} onInput={(e) => setWithin((e.target as HTMLInputElement).value)} />
          </label>
        )}
        {!scoped && (
          <label>
            Team (empty: every team)
            <input name="report_team" value={team} onInput={(e) => setTeam((e.target as HTMLInputElement).value)} />
          </label>
        )}
        {/* The CBOM is a CycloneDX document, not sections of rows: it is only downloaded. */}
        {kind !== "cbom" && <button type="button" disabled={fetching} onClick={() => setAsked({ kind, query: query(), at: Date.now() })}>Show</button>}
        {(kind === "cbom" ? ["cbom"] : ["csv", "html"]).map((f) => (
          <button key={f} type="button" class="secondary" data-download={f} disabled={fetching} onClick={() => file(f)}>
            Download {f.toUpperCase()}
          </button>
        ))}
      </div>
      {scoped && <p class="hint">Reports cover team {display(identity.team)} only.</p>}
      {failed && <Problem error={failed} />}
      {asked && (
        <Show loaded={report}>
          {(r) =>
            r && (
              <div data-report={r.report}>
                <h3>{display(r.title)}</h3>
                <p class="muted">
                  Made {date(r.generated_at)}
                  {Object.entries(r.parameters ?? {}).map(([k, v]) => ` · ${display(k)} ${display(v)}`)}
                </p>
                {Object.entries(r.sections).map(([name, rows]) => (
                  <Section key={name} name={name} rows={rows} />
                ))}
              </div>
            )
          }
        </Show>
      )}
    </Card>
  );
}

function Section({ name, rows }: { name: string; rows: Report["sections"][string] }) {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (column: string, v: string | number | null | undefined) => {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return v.toLocaleString("en");
    if (["fingerprint", "subject_id"].includes(column) && FINGERPRINT.test(v))
      return <a href={href(`/certificates/${v.toLowerCase()}`)} title={v}>{`${v.slice(0, 16)}…`}</a>;
    return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v) ? date(v) : display(v, 500);
  };
  return (
    <section data-section={name} data-rows={rows.length}>
      <h4>{`${display(name)} (${count(rows.length, "row")})`}</h4>
      {rows.length === 0 ? (
        <Empty>No rows.</Empty>
      ) : (
        <>
          <table class="table" aria-label={display(name)}>
            <thead>
              <tr>
                {columns.map((c) => <th key={c} scope="col">{display(c.replaceAll("_", " "))}</th>)}
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, SHOWN_ROWS).map((r, i) => (
                <tr key={i}>{columns.map((c) => <td key={c}>{cell(c, r[c])}</td>)}</tr>
              ))}
            </tbody>
          </table>
          {rows.length > SHOWN_ROWS && <p class="hint">The first {SHOWN_ROWS} rows are shown; the CSV holds all {rows.length.toLocaleString("en")}.</p>}
        </>
      )}
    </section>
  );
}
