// The CA hierarchy as a tree (each authority under its parent), with each one's certificate
// and status; an operator or administrator may create a subordinate of an active one.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { href } from "../router";
import { can } from "../roles";
import { Card, Problem, Show, date, display, useLoad, as_error } from "../ui";

interface Authority {
  name: string;
  kind: "root" | "intermediate" | "issuing";
  parent: string | null;
  status: string;
  key_type: string;
  imported: boolean;
  certificate: { subject: string; not_after: string; sha256: string; crl_distribution_points: string[]; ocsp_urls: string[] };
  crl?: Crl | null;
  delta_crl?: Crl | null;
}
interface Crl {
  number: number;
  this_update: string;
  next_update: string;
  entries: number;
  overdue: boolean;
}

interface OcspState {
  answered: boolean;
  signer: "delegated" | "authority" | null;
  responder: { subject: string; not_after: string; sha256: string } | null;
  responder_renew_at: string | null;
  revocations_seen_at: string | null;
}

// What the OCSP responder does for this authority's certificates.
function OcspStatus({ name }: { name: string }) {
  const state = useLoad(() => get<OcspState>(`/authorities/${encodeURIComponent(name)}/ocsp`), [name]);
  if (state.state !== "ready") return null;
  const o = state.value;
  if (!o.answered) return <div class="muted">OCSP: not answered by this server</div>;
  return (
    <div class="muted" data-ocsp={o.signer ?? "none"}>
      OCSP: answered
      {o.signer === "delegated" && o.responder ? (
        <>
          {" "}
          by its responder{" "}
          <a href={href(`/certificates/${o.responder.sha256}`)}>until {date(o.responder.not_after)}</a>
          {o.responder_renew_at ? `, renewed from ${date(o.responder_renew_at)}` : ""}
        </>
      ) : o.signer === "authority" ? (
        ", signed by the authority itself"
      ) : (
        ", no answer signed yet"
      )}
      {o.revocations_seen_at ? `; revocations seen up to ${date(o.revocations_seen_at)}` : ""}
    </div>
  );
}

// The CRL an authority publishes for what it issued (not the one that lists the authority).
function CrlStatus({ label, crl }: { label: string; crl: Crl | null | undefined }) {
  if (crl === undefined) return null;
  if (crl === null) return <div class="muted">{label}: none published yet</div>;
  return (
    <div data-crl={crl.number} class={crl.overdue ? "sev sev-high" : "muted"}>
      {label} #{crl.number}: {crl.entries} revoked, published {date(crl.this_update)}, next by {date(crl.next_update)}
      {crl.overdue ? " — overdue" : ""}
    </div>
  );
}

function Node({ a, all, manage, onCreate }: { a: Authority; all: Authority[]; manage: boolean; onCreate: (parent: string) => void }) {
  const children = all.filter((c) => c.parent === a.name);
  return (
    <li data-authority={a.name}>
      <div class="node">
        <strong>{a.name}</strong> <span class="muted">{a.kind}</span>{" "}
        <span class={`status status-${a.status === "active" ? "valid" : "revoked"}`}>{a.status}</span>
        <div>
          <a href={href(`/certificates/${a.certificate.sha256}`)}>{display(a.certificate.subject)}</a>
        </div>
        <div class="muted">
          {a.key_type} · until {date(a.certificate.not_after)}
          {a.imported ? " · imported" : ""}
        </div>
        <CrlStatus label="Its CRL" crl={a.crl} />
        {a.delta_crl && <CrlStatus label="Its delta CRL" crl={a.delta_crl} />}
        <OcspStatus name={a.name} />
        <div class="muted">
          Checked by relying parties at: CRL {display(a.certificate.crl_distribution_points.join(" | ")) || "none"} · OCSP{" "}
          {display(a.certificate.ocsp_urls.join(" | ")) || "none"}
        </div>
        {manage && a.status === "active" && a.kind !== "issuing" && (
          <button type="button" class="link" onClick={() => onCreate(a.name)}>
            Create a subordinate
          </button>
        )}
      </div>
      {children.length > 0 && (
        <ul class="tree">
          {children.map((c) => (
            <Node key={c.name} a={c} all={all} manage={manage} onCreate={onCreate} />
          ))}
        </ul>
      )}
    </li>
  );
}

function CreateSubordinate({ parent, onDone }: { parent: string; onDone: () => void }) {
  const [name, setName] = useState("");
  const [kind, setKind] = useState("issuing");
  const [subject, setSubject] = useState("");
  const [error, setError] = useState<Error | null>(null);
  return (
    <Card title={`A subordinate of ${parent}`} id="create-authority">
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          try {
            await request("POST", "/authorities", { body: { name, kind, parent, subject } });
            onDone();
          } catch (err) {
            setError(as_error(err));
          }
        }}
      >
        <label>
          Name
          <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        </label>
        <label>
          Kind
          <select name="kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            <option value="issuing">issuing</option>
            <option value="intermediate">intermediate</option>
          </select>
        </label>
        <label>
          Subject (e.g. CN=Web Issuing CA,O=Example)
          <input name="subject" value={subject} onInput={(e) => setSubject((e.target as HTMLInputElement).value)} required />
        </label>
        <button type="submit">Create</button>
        {error && <Problem error={error} />}
      </form>
    </Card>
  );
}

export function Authorities({ identity }: { identity: Identity }) {
  const [version, setVersion] = useState(0);
  const [parent, setParent] = useState<string | null>(null);
  const list = useLoad(() => get<{ items: Authority[] }>("/authorities"), ["authorities", version]);
  const manage = can(identity.role, "manage_authorities");
  return (
    <main>
      <h1>Authorities</h1>
      {parent && (
        <CreateSubordinate
          parent={parent}
          onDone={() => {
            setParent(null);
            setVersion((v) => v + 1);
          }}
        />
      )}
      <Show loaded={list}>
        {({ items }) => (
          <ul class="tree root">
            {items
              .filter((a) => a.parent === null || !items.some((p) => p.name === a.parent))
              .map((a) => (
                <Node key={a.name} a={a} all={items} manage={manage} onCreate={setParent} />
              ))}
          </ul>
        )}
      </Show>
    </main>
  );
}
