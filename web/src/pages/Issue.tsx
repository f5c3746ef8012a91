// Issuance through POST /api/v1/certificates, the form shaped by the chosen profile: its key
// types, its maximum validity and the names it allows. From a pasted CSR, or with a key made by
// the server, which is offered once as a file (PEM or PKCS#12) and never shown again.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { base64_bytes, save } from "../download";
import { OwnershipFields, tag_list, type OwnershipDraft } from "../ownership";
import { href } from "../router";
import { Card, Problem, Show, useLoad, as_error } from "../ui";

interface Profile {
  name: string;
  description: string;
  key_types: string[];
  default_validity: string;
  max_validity: string;
  allowed_domains: string[];
  ca: boolean;
}
interface Issued {
  fingerprint: string;
  serial: string;
  certificate_pem: string;
  chain_pem: string;
  private_key_pem?: string;
  pkcs12?: string;
}

function saveKey(out: Issued) {
  if (out.pkcs12) save(`${out.fingerprint.slice(0, 16)}.p12`, "application/x-pkcs12", base64_bytes(out.pkcs12));
  else if (out.private_key_pem)
    save(`${out.fingerprint.slice(0, 16)}.key-and-chain.pem`, "application/x-pem-file", out.private_key_pem + out.chain_pem);
}

export function Issue({ identity }: { identity: Identity }) {
  const profiles = useLoad(() => get<{ items: Profile[] }>("/profiles"), []);
  const [profile, setProfile] = useState("");
  const [mode, setMode] = useState<"csr" | "server">("csr");
  const [csr, setCsr] = useState("");
  const [keyType, setKeyType] = useState("");
  const [cn, setCn] = useState("");
  const [sans, setSans] = useState("");
  const [validity, setValidity] = useState("");
  const [ownership, setOwnership] = useState<OwnershipDraft>({ owner: "", team: "", tags: "" });
  const [format, setFormat] = useState<"pem" | "pkcs12">("pem");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event, chosen: Profile) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = { profile: chosen.name };
    const names = sans
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (names.length) body["sans"] = names;
    if (cn.trim()) body["common_name"] = cn.trim();
    if (validity.trim()) body["validity"] = validity.trim();
    if (ownership.owner.trim()) body["owner"] = ownership.owner.trim();
    if (ownership.team.trim()) body["team"] = ownership.team.trim();
    const tags = tag_list(ownership.tags);
    if (tags.length) body["tags"] = tags;
    if (mode === "csr") {
      body["csr"] = csr;
    } else {
      body["key_type"] = keyType || chosen.key_types[0];
      if (format === "pkcs12") {
        body["format"] = "pkcs12";
        body["pkcs12_password"] = password;
      }
    }
    try {
      const out = await request<Issued>("POST", "/certificates", { body });
      setIssued(out);
    } catch (err) {
      setError(as_error(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main>
      <h1>Issue a certificate</h1>
      <Show loaded={profiles}>
        {({ items }) => {
          const leafProfiles = items.filter((p) => !p.ca);
          const chosen = leafProfiles.find((p) => p.name === profile) ?? leafProfiles[0];
          if (!chosen) return <Problem error={new Error("No profile allows issuance here.")} />;
          return (
            <form class="form" onSubmit={(e) => submit(e, chosen)}>
              <label>
                Profile
                <select name="profile" value={chosen.name} onChange={(e) => setProfile((e.target as HTMLSelectElement).value)}>
                  {leafProfiles.map((p) => (
                    <option key={p.name} value={p.name}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </label>
              <p class="hint">
                {chosen.description.replace(/\.?$/, ".")} Key types: {chosen.key_types.join(", ")}. Validity: {chosen.default_validity} by default,
                at most {chosen.max_validity}.
                {chosen.allowed_domains.length ? ` Names under: ${chosen.allowed_domains.join(", ")}.` : ""}
              </p>
              <fieldset>
                <legend>Key</legend>
                <label class="inline">
                  <input type="radio" name="mode" checked={mode === "csr"} onChange={() => setMode("csr")} /> From a CSR
                </label>
                <label class="inline">
                  <input type="radio" name="mode" checked={mode === "server"} onChange={() => setMode("server")} /> Made by
                  the server
                </label>
              </fieldset>
              {mode === "csr" ? (
                <label>
                  CSR (PEM)
                  <textarea
                    name="csr"
                    rows={8}
                    spellcheck={false}
                    value={csr}
                    placeholder="-----BEGIN CERTIFICATE REQUEST-----"
                    onInput={(e) => setCsr((e.target as HTMLTextAreaElement).value)}
                    required
                  />
                </label>
              ) : (
                <>
                  <label>
                    Key type
                    <select name="key_type" value={keyType || chosen.key_types[0]} onChange={(e) => setKeyType((e.target as HTMLSelectElement).value)}>
                      {chosen.key_types.map((k) => (
                        <option key={k} value={k}>
                          {k}
                        </option>
                      ))}
                    </select>
                  </label>
                  <label>
                    Key file
                    <select name="format" value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value as "pem" | "pkcs12")}>
                      <option value="pem">PEM (key and chain)</option>
                      <option value="pkcs12">PKCS#12</option>
                    </select>
                  </label>
                  {format === "pkcs12" && (
                    <label>
                      PKCS#12 password
                      <input name="pkcs12_password" type="password" autocomplete="new-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required />
                    </label>
                  )}
                </>
              )}
              <label>
                Common name {mode === "csr" ? "(default: the CSR's)" : ""}
                <input name="common_name" value={cn} onInput={(e) => setCn((e.target as HTMLInputElement).value)} />
              </label>
              <label>
                Subject alternative names (dns:, ip:, email:, uri:; one per line)
                <textarea name="sans" rows={3} spellcheck={false} value={sans} onInput={(e) => setSans((e.target as HTMLTextAreaElement).value)} />
              </label>
              <label>
                Validity (e.g. 90d; default {chosen.default_validity})
                <input name="validity" value={validity} onInput={(e) => setValidity((e.target as HTMLInputElement).value)} />
              </label>
              <OwnershipFields draft={ownership} onChange={setOwnership} teamEditable={identity.role !== "requester"} />
              <button type="submit" disabled={busy}>
                {busy ? "Issuing…" : "Issue"}
              </button>
            </form>
          );
        }}
      </Show>
      {error && <Problem error={error} />}
      {issued && (
        <Card title="Issued" id="issued">
          <p>
            <a href={href(`/certificates/${issued.fingerprint}`)} data-issued={issued.fingerprint}>
              Serial {issued.serial}
            </a>
          </p>
          {(issued.private_key_pem || issued.pkcs12) && (
            <p>
              <button type="button" onClick={() => saveKey(issued)}>
                {issued.pkcs12 ? "Save the PKCS#12 file" : "Save the key and chain (PEM)"}
              </button>{" "}
              <span class="hint">
                The key is held by this page only until you leave it; certward will not show it again.
              </span>
            </p>
          )}
          <pre class="pem">{issued.certificate_pem}</pre>
        </Card>
      )}
    </main>
  );
}
