// Discovery: start a network or file scan, keep recurring ones (schedules), and read each scan's
// report, place by place. Everything a scanned server or file said (names, errors, findings) is
// outside text and shown through display().

import { useState } from "preact/hooks";
import { get, request } from "../api";
import { href } from "../router";
import { Card, Empty, Problem, Show, date, display, useAction, useLoad, ConfirmButton } from "../ui";

interface Finding {
  code: string;
  severity: string;
  detail?: string;
}
interface PlaceResult {
  kind: string;
  location: string;
  host?: string;
  error?: string;
  tls_version?: string;
  cipher?: string;
  group?: string;
  alpn?: string;
  ocsp_stapled?: boolean;
  legacy_protocols?: string[];
  leaf?: string;
  fingerprints?: string[];
  findings?: Finding[];
  path?: string;
}
interface Report {
  places?: number;
  reachable?: number;
  errors?: number;
  certificates?: number;
  ssh_keys?: number;
  new_certificates?: string[];
  changed?: { location?: string; from?: string; to?: string }[];
  gone?: { location?: string; fingerprint?: string }[];
  findings?: Record<string, number>;
  results?: PlaceResult[];
  results_left_out?: number;
}
interface Scan {
  id: string;
  kind: string;
  status: string;
  requested_by: string;
  created_at: string;
  finished_at?: string;
  host?: string;
  error?: string;
  spec?: Record<string, unknown>;
  report?: Report;
}
interface Schedule {
  name: string;
  interval: string;
  enabled: boolean;
  next_run: string;
  created_by: string;
  spec: Record<string, unknown>;
}

const FP = /^[0-9a-f]{64}$/;
function CertLink({ fp }: { fp: string }) {
  return FP.test(fp) ? <a href={href(`/certificates/${fp}`)}>{fp.slice(0, 16)}…</a> : <code>{display(fp, 80)}</code>;
}

// One entry per line or comma: targets, ports, SNI names, paths and globs are lists in the API.
function list(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((t) => t.trim())
    .filter(Boolean);
}

function findings_text(f: Record<string, number> | undefined): string {
  return (
    Object.entries(f ?? {})
      .filter(([, n]) => n > 0)
      .map(([sev, n]) => `${n} ${sev}`)
      .join(", ") || "none"
  );
}

function spec_text(spec: Record<string, unknown> | undefined): string {
  if (!spec) return "";
  const parts = spec.kind === "files" ? (spec.paths as string[] | undefined) : (spec.targets as string[] | undefined);
  const ports = spec.kind === "net" && spec.ports ? ` ports ${String(spec.ports)}` : "";
  return `${String(spec.kind)} ${(parts ?? []).join(", ")}${ports}`;
}

// The form of a scan, used to start one now or to keep it as a schedule.
function ScanForm({ onDone }: { onDone: () => void }) {
  const [kind, setKind] = useState<"net" | "files">("net");
  const [targets, setTargets] = useState("");
  const [ports, setPorts] = useState("tls");
  const [sni, setSni] = useState("");
  const [legacy, setLegacy] = useState(false);
  const [revocation, setRevocation] = useState(false);
  const [paths, setPaths] = useState("");
  const [include, setInclude] = useState("");
  const [exclude, setExclude] = useState("");
  const [name, setName] = useState("");
  const [interval, setInterval] = useState("1d");
  const [started, setStarted] = useState<Scan | null>(null);
  const { error, run } = useAction(onDone);

  const spec = (): Record<string, unknown> => {
    if (kind === "net") {
      const s: Record<string, unknown> = { kind, targets: list(targets), ports: ports.trim() || "tls" };
      if (sni.trim()) s.sni = list(sni);
      if (legacy) s.probe_legacy = true;
      if (revocation) s.check_revocation = true;
      return s;
    }
    const s: Record<string, unknown> = { kind, paths: list(paths) };
    if (include.trim()) s.include = list(include);
    if (exclude.trim()) s.exclude = list(exclude);
    return s;
  };
  const text = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);

  return (
    <form
      class="form"
      onSubmit={(e) => {
        e.preventDefault();
        setStarted(null);
        run(async () => setStarted(await request<Scan>("POST", "/discovery/scans", { body: spec() })));
      }}
    >
      <fieldset>
        <legend>Kind</legend>
        <label class="inline">
          <input type="radio" name="scan_kind" value="net" checked={kind === "net"} onChange={() => setKind("net")} /> Network (TLS, STARTTLS, SSH)
        </label>
        <label class="inline">
          <input type="radio" name="scan_kind" value="files" checked={kind === "files"} onChange={() => setKind("files")} /> Files on the server
        </label>
      </fieldset>
      {kind === "net" ? (
        <>
          <label>
            Targets: host names, addresses and CIDR ranges, one per line or comma
            <textarea name="scan_targets" rows={3} value={targets} onInput={text(setTargets)} required />
          </label>
          <label>
            Ports: lists and ranges (443, 8443, 2525/smtp, 10000-10010) or groups (tls, mail, ldap, ftp, postgres, ssh)
            <input name="scan_ports" value={ports} onInput={text(setPorts)} />
          </label>
          <label>
            Names to send as SNI (optional)
            <input name="scan_sni" value={sni} onInput={text(setSni)} />
          </label>
          <label class="inline">
            <input type="checkbox" name="scan_legacy" checked={legacy} onChange={(e) => setLegacy((e.target as HTMLInputElement).checked)} /> Probe
            for TLS 1.0 and 1.1
          </label>
          <label class="inline">
            <input
              type="checkbox"
              name="scan_revocation"
              checked={revocation}
              onChange={(e) => setRevocation((e.target as HTMLInputElement).checked)}
            />{" "}
            Ask each certificate's OCSP responder or CRL
          </label>
        </>
      ) : (
        <>
          <label>
            Paths (under the server's <code>[discovery] allowed_paths</code>), one per line or comma
            <textarea name="scan_paths" rows={3} value={paths} onInput={text(setPaths)} required />
          </label>
          <label>
            Include globs (optional)
            <input name="scan_include" value={include} onInput={text(setInclude)} />
          </label>
          <label>
            Exclude globs (optional)
            <input name="scan_exclude" value={exclude} onInput={text(setExclude)} />
          </label>
        </>
      )}
      <div class="row">
        <button type="submit">Start the scan</button>
        <span class="muted">or keep it as a schedule:</span>
        <label class="inline">
          Name <input name="schedule_name" value={name} maxLength={64} onInput={text(setName)} />
        </label>
        <label class="inline">
          every <input name="schedule_interval" value={interval} size={5} onInput={text(setInterval)} />
        </label>
        <button
          type="button"
          class="secondary"
          disabled={!name.trim()}
          onClick={() => run(() => request("POST", "/discovery/schedules", { body: { name: name.trim(), interval: interval.trim(), spec: spec() } }))}
        >
          Save the schedule
        </button>
      </div>
      {started && (
        <p role="status" data-started={started.id}>
          Scan queued: <a href={href("/discovery", { scan: started.id })}>{started.id}</a>
        </p>
      )}
      {error && <Problem error={error} />}
    </form>
  );
}

function Schedules({ version, onChange }: { version: number; onChange: () => void }) {
  const schedules = useLoad(() => get<{ items: Schedule[] }>("/discovery/schedules"), ["schedules", version]);
  const { error, run } = useAction(onChange);
  return (
    <Card title="Schedules" id="schedules" wide>
      <Show loaded={schedules}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No recurring scan.</Empty>
          ) : (
            <table class="table" aria-label="Schedules">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Scan</th>
                  <th scope="col">Every</th>
                  <th scope="col">Next run</th>
                  <th scope="col" />
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <tr key={s.name} data-schedule={s.name}>
                    <td>
                      {display(s.name)}
                      <div class="muted">{display(s.created_by)}</div>
                    </td>
                    <td>{display(spec_text(s.spec), 300)}</td>
                    <td>{display(s.interval)}</td>
                    <td>{s.enabled ? date(s.next_run) : "disabled"}</td>
                    <td>
                      {<ConfirmButton opener="Delete…" label={`Delete schedule ${s.name}`} question="Stop this recurring scan?" action="Delete" back="Keep" onYes={() => run(() => request("DELETE", `/discovery/schedules/${encodeURIComponent(s.name)}`))} />}
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

function ScanReport({ id }: { id: string }) {
  const scan = useLoad(() => get<Scan>(`/discovery/scans/${encodeURIComponent(id)}`), [id]);
  return (
    <main>
      <p>
        <a href={href("/discovery")}>← Discovery</a>
      </p>
      <Show loaded={scan}>
        {(s) => {
          const r = s.report ?? {};
          return (
            <>
              <h1>
                Scan {s.id} ({s.status})
              </h1>
              <div class="grid">
                <Card title="Summary" id="scan-summary">
                  <dl class="fields">
                    <dt>What</dt>
                    <dd>{display(spec_text(s.spec), 500)}</dd>
                    <dt>By</dt>
                    <dd>{display(s.requested_by)}</dd>
                    <dt>Started</dt>
                    <dd>{date(s.created_at)}</dd>
                    <dt>Finished</dt>
                    <dd>{date(s.finished_at) || "not yet"}</dd>
                    <dt>Places</dt>
                    <dd>
                      {r.reachable ?? 0} answered of {r.places ?? 0}
                      {r.errors ? `, ${r.errors} errors` : ""}
                    </dd>
                    <dt>Found</dt>
                    <dd>
                      {r.certificates ?? 0} certificates, {r.ssh_keys ?? 0} SSH keys
                    </dd>
                    <dt>Findings</dt>
                    <dd>{findings_text(r.findings)}</dd>
                    {s.error && (
                      <>
                        <dt>Error</dt>
                        <dd>{display(s.error, 2000)}</dd>
                      </>
                    )}
                  </dl>
                </Card>
                <Card title="New, changed and gone" id="scan-changes">
                  {(r.new_certificates?.length ?? 0) + (r.changed?.length ?? 0) + (r.gone?.length ?? 0) === 0 ? (
                    <Empty>Nothing new, changed or gone.</Empty>
                  ) : (
                    <ul class="list">
                      {(r.new_certificates ?? []).slice(0, 200).map((fp) => (
                        <li key={`n${fp}`}>
                          new <CertLink fp={fp} />
                        </li>
                      ))}
                      {(r.changed ?? []).slice(0, 200).map((c, i) => (
                        <li key={`c${i}`}>
                          changed at {display(c.location, 200)}: {c.from ? <CertLink fp={c.from} /> : "—"} → {c.to ? <CertLink fp={c.to} /> : "—"}
                        </li>
                      ))}
                      {(r.gone ?? []).slice(0, 200).map((g, i) => (
                        <li key={`g${i}`}>
                          gone from {display(g.location, 200)}: {g.fingerprint ? <CertLink fp={g.fingerprint} /> : ""}
                        </li>
                      ))}
                    </ul>
                  )}
                </Card>
                <Card title="Places" id="scan-places" wide>
                  {!r.results || r.results.length === 0 ? (
                    <Empty>{s.status === "done" ? "No place was scanned." : "No result yet."}</Empty>
                  ) : (
                    <table class="table" aria-label="Places scanned">
                      <thead>
                        <tr>
                          <th scope="col">Place</th>
                          <th scope="col">Answer</th>
                          <th scope="col">Certificate</th>
                          <th scope="col">Findings</th>
                        </tr>
                      </thead>
                      <tbody>
                        {r.results.map((p, i) => (
                          <tr key={i} data-place={p.location}>
                            <td>{display(p.location || p.path, 300)}</td>
                            <td>
                              {p.error
                                ? display(p.error, 300)
                                : [p.tls_version, p.cipher, p.group, p.alpn ? `ALPN ${p.alpn}` : "", p.ocsp_stapled ? "OCSP stapled" : ""]
                                    .filter(Boolean)
                                    .map((t) => display(t, 80))
                                    .join(" · ")}
                              {p.legacy_protocols && p.legacy_protocols.length > 0 && (
                                <div class="sev sev-medium">also {display(p.legacy_protocols.join(", "), 80)}</div>
                              )}
                            </td>
                            <td>{p.leaf ? <CertLink fp={p.leaf} /> : (p.fingerprints ?? []).slice(0, 5).map((fp) => <CertLink key={fp} fp={fp} />)}</td>
                            <td>
                              {(p.findings ?? []).length === 0 ? (
                                "none"
                              ) : (
                                <ul class="plain">
                                  {(p.findings ?? []).slice(0, 20).map((f, j) => (
                                    <li key={j}>
                                      <span class={`sev sev-${f.severity}`}>{display(f.severity, 16)}</span> {display(f.code, 64)}
                                      {f.detail ? `: ${display(f.detail, 300)}` : ""}
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
                  {(r.results_left_out ?? 0) > 0 && (
                    <p class="muted">
                      {r.results_left_out} more places are not in the report; every one is a sighting in the inventory.
                    </p>
                  )}
                </Card>
              </div>
            </>
          );
        }}
      </Show>
    </main>
  );
}

export function Discovery({ scan }: { scan: string }) {
  return scan ? <ScanReport id={scan} /> : <Scans />;
}

function Scans() {
  const [version, setVersion] = useState(0);
  const scans = useLoad(() => get<{ items: Scan[] }>("/discovery/scans", { limit: 50 }), ["scans", version]);
  const reload = () => setVersion((v) => v + 1);
  return (
    <main>
      <h1>Discovery</h1>
      <div class="grid">
        <Card title="Scan now" id="new-scan" wide>
          <ScanForm onDone={reload} />
        </Card>
        <Schedules version={version} onChange={reload} />
        <Card title="Scans" id="scans" wide>
          <p class="hint">
            Also started with <code>certward scan net|files</code>; agents send theirs. <button type="button" class="link" onClick={reload}>Refresh</button>
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
                      return (
                        <tr key={s.id} data-scan={s.id}>
                          <td>
                            <a href={href("/discovery", { scan: s.id })}>
                              {s.kind} {s.host ? display(s.host) : display(spec_text(s.spec), 120)}
                            </a>
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
                          <td>{findings_text(r.findings)}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )
            }
          </Show>
        </Card>
      </div>
    </main>
  );
}

