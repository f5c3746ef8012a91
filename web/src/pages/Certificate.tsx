// One certificate: its parsed fields, its chain, where it was seen, the managed certificate that
// renews it, its audit trail, and its files. Downloads go through the API with the token (a
// link could not carry it) and are handed to the browser as a blob.

import { fetch_file, get, request, type CertificateRecord, type Identity } from "../api";
import { can } from "../roles";
import { save } from "../download";
import { OwnershipFields, tag_list, type OwnershipDraft } from "../ownership";
import { Card, Empty, Problem, Show, date, display, useLoad, as_error } from "../ui";
import { AuditTrail, Chain, ManagedOf } from "./CertificateContext";
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

interface Parsed {
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  sans: string[];
  key: { algorithm: string; bits?: number; curve?: string };
  signature_algorithm: string;
  key_usage: string[];
  extended_key_usage: string[];
  is_ca: boolean;
  crl_distribution_points: string[];
  ocsp_urls: string[];
  ca_issuers_urls: string[];
  policies: string[];
  sha256: string;
  sha1: string;
}
type Detail = CertificateRecord & { certificate: Parsed; pem: string; created_at?: string };
interface Sighting {
  kind: string;
  location: string;
  first_seen: string;
  last_seen: string;
  gone_at?: string | null;
}

const FORMATS = [
  ["pem", "PEM", "crt.pem"],
  ["der", "DER", "cer"],
  ["chain", "PEM with chain", "chain.pem"],
  ["p7b", "PKCS#7", "p7b"],
] as const;

async function download(fingerprint: string, format: string, extension: string) {
  const res = await fetch_file(`/certificates/${encodeURIComponent(fingerprint)}/download`, { format });
  save(`${fingerprint.slice(0, 16)}.${extension}`, res.headers.get("Content-Type") ?? "", await res.blob());
}

// Addresses one per line, as text: a link made from a certificate's URL could be javascript:.
function Urls({ urls }: { urls: string[] }) {
  if (urls.length === 0) return <>none</>;
  return (
    <ul class="plain">
      {urls.map((u, i) => (
        <li key={i}>{display(u)}</li>
      ))}
    </ul>
  );
}

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

const REASONS = [
  "unspecified",
  "keyCompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "privilegeWithdrawn",
] as const;

// Revocation asks once more before it is sent: it cannot be undone.
function Revoke({ fingerprint, onRevoked }: { fingerprint: string; onRevoked: () => void }) {
  const [reason, setReason] = useState<string>("unspecified");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  async function revoke() {
    setBusy(true);
    setError(null);
    try {
      await request("POST", `/certificates/${encodeURIComponent(fingerprint)}/revoke`, { body: { reason } });
      onRevoked();
    } catch (e) {
      setError(as_error(e));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  }
  return (
    <Card title="Revoke" id="revoke">
      <label>
        Reason{" "}
        <select name="reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
          {REASONS.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>{" "}
      {confirming ? (
        <span role="group" aria-label="Confirm revocation">
          <strong>Revoke this certificate? This cannot be undone.</strong>{" "}
          <button type="button" class="danger" disabled={busy} onClick={revoke}>
            Revoke now
          </button>{" "}
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </span>
      ) : (
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          Revoke…
        </button>
      )}
      {error && <Problem error={error} />}
    </Card>
  );
}

// Owner, team and tags: what the inventory says about a certificate beyond its bytes.
function Edit({ cert, identity, onSaved }: { cert: CertificateRecord; identity: Identity; onSaved: () => void }) {
  const [draft, setDraft] = useState<OwnershipDraft>({
    owner: cert.owner ?? "",
    team: cert.team ?? "",
    tags: cert.tags.join(", "),
  });
  const [error, setError] = useState<Error | null>(null);
  const [saved, setSaved] = useState(false);
  const teamEditable = identity.role !== "requester";
  return (
    <Card title="Owner and tags" id="edit">
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          setSaved(false);
          const body: Record<string, unknown> = { owner: draft.owner.trim() || null, tags: tag_list(draft.tags) };
          if (teamEditable) body["team"] = draft.team.trim() || null;
          try {
            await request("PATCH", `/certificates/${encodeURIComponent(cert.fingerprint)}`, { body });
            setSaved(true);
            onSaved();
          } catch (err) {
            setError(as_error(err));
          }
        }}
      >
        <OwnershipFields draft={draft} onChange={setDraft} teamEditable={teamEditable} />
        <button type="submit">Save</button>
        {saved && <p role="status">Saved.</p>}
        {error && <Problem error={error} />}
      </form>
    </Card>
  );
}

export function Certificate({ fingerprint, identity }: { fingerprint: string; identity: Identity }) {
  const [version, setVersion] = useState(0);
  const data = useLoad(async () => {
    const [cert, sightings] = await Promise.all([
      get<Detail>(`/certificates/${encodeURIComponent(fingerprint)}`),
      get<{ items: Sighting[] }>(`/certificates/${encodeURIComponent(fingerprint)}/sightings`, { limit: 100 }).catch(
        () => ({ items: [] as Sighting[] }),
      ),
    ]);
    return { cert, sightings: sightings.items };
  }, [fingerprint, version]);
  const [failed, setFailed] = useState<Error | null>(null);

  return (
    <main>
      <Show loaded={data}>
        {({ cert, sightings }) => {
          const c = cert.certificate;
          const key = [c.key.algorithm.toUpperCase(), c.key.curve || (c.key.bits ? `${c.key.bits} bits` : "")]
            .filter(Boolean)
            .join(" ");
          return (
            <>
              <h1 class="subject">{display(c.subject) || "(empty subject)"}</h1>
              <p>
                <span class={`status status-${cert.status}`}>{cert.status}</span> {cert.origin}
                {cert.team ? ` · team ${display(cert.team)}` : ""}
                {cert.owner ? ` · owner ${display(cert.owner)}` : ""}
              </p>
              <div class="grid">
                <Card title="Certificate" id="fields">
                  <dl class="fields">
                    <Field name="Subject">{display(c.subject)}</Field>
                    <Field name="Issuer">{display(c.issuer)}</Field>
                    <Field name="Names">
                      {c.sans.length ? (
                        <ul class="plain">
                          {c.sans.map((s) => (
                            <li key={s}>{display(s)}</li>
                          ))}
                        </ul>
                      ) : (
                        "none"
                      )}
                    </Field>
                    <Field name="Serial">{c.serial}</Field>
                    <Field name="Valid from">{date(c.not_before)}</Field>
                    <Field name="Valid until">{date(c.not_after)}</Field>
                    <Field name="Key">{key}</Field>
                    <Field name="Signature">{c.signature_algorithm}</Field>
                    <Field name="Key usage">{c.key_usage.join(", ") || "none"}</Field>
                    <Field name="Extended key usage">{c.extended_key_usage.join(", ") || "none"}</Field>
                    <Field name="CA">{c.is_ca ? "yes" : "no"}</Field>
                    <Field name="CRL">
                      <Urls urls={c.crl_distribution_points} />
                    </Field>
                    <Field name="OCSP">
                      <Urls urls={c.ocsp_urls} />
                    </Field>
                    <Field name="CA issuers">
                      <Urls urls={c.ca_issuers_urls} />
                    </Field>
                    <Field name="Policies">{c.policies.join(", ") || "none"}</Field>
                    <Field name="SHA-256">
                      <code>{c.sha256}</code>
                    </Field>
                    <Field name="SHA-1">
                      <code>{c.sha1}</code>
                    </Field>
                    {cert.revoked_at && (
                      <Field name="Revoked">
                        {date(cert.revoked_at)} ({cert.revocation_reason ?? "unspecified"})
                      </Field>
                    )}
                    <Field name="Tags">{display(cert.tags.join(", ")) || "none"}</Field>
                  </dl>
                </Card>
                <Card title="Files" id="files">
                  <ul class="plain">
                    {FORMATS.map(([format, label, ext]) => (
                      <li key={format}>
                        <button
                          type="button"
                          class="link"
                          onClick={() => download(cert.fingerprint, format, ext).catch(setFailed)}
                        >
                          {label}
                        </button>
                      </li>
                    ))}
                  </ul>
                  {failed && <Problem error={failed} />}
                  <pre class="pem">{cert.pem}</pre>
                </Card>
                {can(identity.role, "edit_inventory") && (
                  <Edit key={cert.fingerprint} cert={cert} identity={identity} onSaved={() => setVersion((v) => v + 1)} />
                )}
                {can(identity.role, "revoke") && cert.status !== "revoked" && cert.authority && !c.is_ca && (
                  <Revoke fingerprint={cert.fingerprint} onRevoked={() => setVersion((v) => v + 1)} />
                )}
                <Chain issuer={c.issuer} authority={cert.authority} />
                <ManagedOf fingerprint={cert.fingerprint} identity={identity} onRenewed={() => setVersion((v) => v + 1)} />
                <Card title="Seen at" id="sightings">
                  {sightings.length === 0 ? (
                    <Empty>Not seen by a scan.</Empty>
                  ) : (
                    <table class="table">
                      <thead>
                        <tr>
                          <th scope="col">Where</th>
                          <th scope="col">First seen</th>
                          <th scope="col">Last seen</th>
                        </tr>
                      </thead>
                      <tbody>
                        {sightings.map((s) => (
                          <tr key={s.kind + s.location}>
                            <td>
                              {s.kind} {display(s.location)}
                              {s.gone_at ? " (gone)" : ""}
                            </td>
                            <td>{date(s.first_seen)}</td>
                            <td>{date(s.last_seen)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                </Card>
                {can(identity.role, "read_audit") && <AuditTrail fingerprint={cert.fingerprint} />}
              </div>
            </>
          );
        }}
      </Show>
    </main>
  );
}
