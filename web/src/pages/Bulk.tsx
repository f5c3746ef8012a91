// What the inventory does to several certificates at once. The selected rows: a tag added, an
// owner or team set (PATCH each), or each revoked after a list of them is confirmed. A whole
// selection by authority, team or tag: revoked the way the API's bulk revocation asks, with its
// dry run shown first and its count confirmed.

import { useState } from "preact/hooks";
import { request, type Identity } from "../api";
import { can } from "../roles";
import { Card, Problem, display, as_error } from "../ui";

interface Outcome {
  done: number;
  failed: { fingerprint: string; error: string }[];
}

async function each(fingerprints: string[], act: (fp: string) => Promise<unknown>): Promise<Outcome> {
  const out: Outcome = { done: 0, failed: [] };
  for (const fp of fingerprints) {
    try {
      await act(fp);
      out.done++;
    } catch (e) {
      out.failed.push({ fingerprint: fp, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return out;
}

const path = (fp: string) => `/certificates/${encodeURIComponent(fp)}`;

// `selected` are rows of the page on screen (the inventory clears the selection when its page or
// filters change), each with the subject it shows.
export function SelectedActions({
  identity,
  selected,
  subjects,
  onDone,
}: {
  identity: Identity;
  selected: string[];
  subjects: Map<string, string>;
  onDone: (revoked: boolean) => void;
}) {
  const [tag, setTag] = useState("");
  const [owner, setOwner] = useState("");
  const [confirmRevoke, setConfirmRevoke] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const edit = can(identity.role, "edit_inventory");
  const revoke = can(identity.role, "revoke");
  if (!edit && !revoke) return null;

  async function run(act: (fp: string) => Promise<unknown>, revoking = false) {
    setBusy(true);
    setOutcome(await each(selected, act));
    setBusy(false);
    setConfirmRevoke(false);
    onDone(revoking);
  }

  return (
    <Card title={`${selected.length} selected`} id="bulk">
      {edit && (
        <div class="row">
          <label>
            Tag{" "}
            <input name="bulk_tag" value={tag} pattern="[A-Za-z0-9._:/=+\-]{1,64}" onInput={(e) => setTag((e.target as HTMLInputElement).value)} />
          </label>
          <button type="button" disabled={busy || !selected.length || !tag} onClick={() => run((fp) => request("PATCH", path(fp), { body: { add_tags: [tag] } }))}>
            Add tag
          </button>
          <label>
            Owner{" "}
            <input name="bulk_owner" value={owner} onInput={(e) => setOwner((e.target as HTMLInputElement).value)} />
          </label>
          <button
            type="button"
            disabled={busy || !selected.length || !owner.trim()}
            onClick={() => run((fp) => request("PATCH", path(fp), { body: { owner: owner.trim() } }))}
          >
            Set owner
          </button>
        </div>
      )}
      {revoke && (
        <div class="row">
          {confirmRevoke ? (
            <div role="group" aria-label="Confirm revocation">
              <strong>
                Revoke these {selected.length} certificates (reason unspecified)? This cannot be undone.
              </strong>
              <ul class="list" data-confirm-list>
                {selected.map((fp) => (
                  <li key={fp}>
                    {display(subjects.get(fp), 200) || "(no subject)"} <code>{fp.slice(0, 16)}…</code>
                  </li>
                ))}
              </ul>
              <button
                type="button"
                class="danger"
                disabled={busy}
                onClick={() => run((fp) => request("POST", `${path(fp)}/revoke`, { body: {} }), true)}
              >
                Revoke {selected.length}
              </button>{" "}
              <button type="button" class="secondary" onClick={() => setConfirmRevoke(false)}>
                Cancel
              </button>
            </div>
          ) : (
            <button type="button" class="danger" disabled={!selected.length} onClick={() => setConfirmRevoke(true)}>
              Revoke selected…
            </button>
          )}
        </div>
      )}
      {outcome && (
        <div role="status" data-bulk-done={outcome.done} data-bulk-failed={outcome.failed.length}>
          <p>
            {outcome.done} done{outcome.failed.length ? `, ${outcome.failed.length} refused:` : "."}
          </p>
          {outcome.failed.length > 0 && (
            <ul class="list">
              {outcome.failed.map((f) => (
                <li key={f.fingerprint}>
                  <code>{f.fingerprint.slice(0, 16)}…</code> {display(f.error, 500)}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </Card>
  );
}

interface BulkResult {
  matched: number;
  revoked?: boolean;
  scheduled?: boolean;
  dry_run?: boolean;
  items: { fingerprint: string; serial: string; authority: string; team: string | null }[];
}

// The API's bulk revocation: a dry run first, then the same selection with the count it showed.
export function RevokeBySelection() {
  const [selector, setSelector] = useState({ authority: "", team: "", tag: "" });
  const [reason, setReason] = useState("unspecified");
  const [preview, setPreview] = useState<BulkResult | null>(null);
  const [result, setResult] = useState<BulkResult | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const body = () => {
    const b: Record<string, unknown> = { reason };
    for (const [k, v] of Object.entries(selector)) if (v.trim()) b[k] = v.trim();
    return b;
  };
  const call = async (extra: Record<string, unknown>) => {
    setError(null);
    try {
      return await request<BulkResult>("POST", "/certificates/revoke", { body: { ...body(), ...extra } });
    } catch (e) {
      setError(as_error(e));
      return null;
    }
  };
  const field = (k: "authority" | "team" | "tag", label: string) => (
    <label>
      {label}
      <input
        name={`sel_${k}`}
        value={selector[k]}
        onInput={(e) => {
          setSelector({ ...selector, [k]: (e.target as HTMLInputElement).value });
          setPreview(null);
        }}
      />
    </label>
  );
  return (
    <Card title="Revoke by selection" id="revoke-selection">
      <div class="filters">
        {field("authority", "Authority")}
        {field("team", "Team")}
        {field("tag", "Tag")}
        <label>
          Reason
          <select name="sel_reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
            {["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"].map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="secondary" onClick={async () => setPreview(await call({ dry_run: true }))}>
          Dry run
        </button>
      </div>
      {preview && (
        <div data-dry-run={preview.matched}>
          <p>
            {preview.matched} certificate{preview.matched === 1 ? "" : "s"} would be revoked
            {preview.items.length < preview.matched ? ` (the first ${preview.items.length} below)` : ""}.
          </p>
          <ul class="list">
            {preview.items.slice(0, 20).map((i) => (
              <li key={i.fingerprint}>
                <code>{i.serial}</code> {display(i.authority)} {display(i.team)}
              </li>
            ))}
          </ul>
          {preview.matched > 0 && (
            <button
              type="button"
              class="danger"
              onClick={async () => {
                const done = await call({ expected_count: preview.matched });
                if (done) {
                  setResult(done);
                  setPreview(null);
                }
              }}
            >
              Revoke {preview.matched}
            </button>
          )}
        </div>
      )}
      {result && (
        <p role="status" data-revoked={result.matched}>
          {result.matched} revoked.
        </p>
      )}
      {error && <Problem error={error} />}
    </Card>
  );
}
