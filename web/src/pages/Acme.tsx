// The ACME server as the API shows it: its directories (the default one and those of the
// configuration file read-only; those made through the API changed and deleted here) and the
// External Account Binding keys that let a team's ACME clients register with a directory that
// requires them. An EAB key's HMAC key is in the creation's answer only, so it is shown once.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { can } from "../roles";
import { Card, Empty, Problem, Show, date, display, useLoad, useAction, as_error, type Loaded, ConfirmButton } from "../ui";

interface Directory {
  name: string;
  path: string;
  configured: boolean;
  profiles: string[];
  default_profile: string;
  effective_default_profile: string;
  authority: string;
  external_account_required: boolean;
  terms_of_service: string;
  website: string;
  caa_identities: string[];
  created_at?: string;
  created_by?: string;
  updated_at?: string;
  updated_by?: string;
}
interface EabKey {
  kid: string;
  team: string;
  directory: string | null;
  description: string;
  created_by: string;
  created_at: string;
  account: string | null;
  bound_at: string | null;
  revoked_at: string | null;
}
interface Profile {
  name: string;
  ca: boolean;
}
interface Authority {
  name: string;
  kind: string;
  status: string;
}

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);
// ACME clients are given the address this dashboard is reached at: the server answers ACME on
// the same listener, and its responses use the host the client connected with.
const url_of = (path: string) => `${window.location.origin}${path}`;
const title_of = (d: Directory) => (d.name === "" ? "(default)" : d.name);

interface Draft {
  name: string;
  profiles: string[];
  default_profile: string;
  authority: string;
  eab: boolean;
  tos: string;
  website: string;
  caa: string;
}
const blank: Draft = { name: "", profiles: [], default_profile: "", authority: "", eab: true, tos: "", website: "", caa: "" };
const draft_of = (d: Directory): Draft => ({
  name: d.name,
  profiles: d.profiles,
  default_profile: d.default_profile,
  authority: d.authority,
  eab: d.external_account_required,
  tos: d.terms_of_service,
  website: d.website,
  caa: d.caa_identities.join(", "),
});

// PUT takes the whole directory: what the form leaves empty takes the server's default.
function DirectoryForm({ start, existing, onDone }: { start: Draft; existing: Directory[]; onDone: () => void }) {
  const catalog = useLoad(async () => {
    const [p, a] = await Promise.all([get<{ items: Profile[] }>("/profiles"), get<{ items: Authority[] }>("/authorities")]);
    return {
      profiles: p.items.filter((x) => !x.ca).map((x) => x.name),
      // A root signs only CA certificates: the server refuses it for a directory.
      authorities: a.items.filter((x) => x.kind !== "root" && x.status === "active").map((x) => x.name),
    };
  }, ["acme-catalog"]);
  const [draft, setDraft] = useState<Draft>(start);
  const [saved, setSaved] = useState<string | null>(null);
  const { error, run } = useAction(onDone);
  const name = draft.name.trim();
  const replacing = existing.find((d) => d.name === name && !d.configured);
  const set = (k: keyof Draft) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });
  const toggle = (p: string) =>
    setDraft({ ...draft, profiles: draft.profiles.includes(p) ? draft.profiles.filter((x) => x !== p) : [...draft.profiles, p] });
  return (
    <Show loaded={catalog}>
      {({ profiles, authorities }) => (
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault();
            setSaved(null);
            const body: Record<string, unknown> = { profiles: draft.profiles, external_account_required: draft.eab };
            if (draft.default_profile) body["default_profile"] = draft.default_profile;
            if (draft.authority) body["authority"] = draft.authority;
            if (draft.tos.trim()) body["terms_of_service"] = draft.tos.trim();
            if (draft.website.trim()) body["website"] = draft.website.trim();
            const caa = list(draft.caa);
            if (caa.length) body["caa_identities"] = caa;
            run(async () => {
              await request("PUT", `/acme/directories/${encodeURIComponent(name)}`, { body });
              setSaved(name);
            });
          }}
        >
          <label>
            Name (a-z, 0-9, - and _; served at /acme/&lt;name&gt;/directory)
            <input name="directory_name" value={draft.name} onInput={set("name")} required maxLength={64} pattern="[a-z0-9_\-]{1,64}" />
          </label>
          <fieldset>
            <legend>Profiles a client may order</legend>
            {profiles.map((p) => (
              <label key={p} class="inline">
                <input type="checkbox" name="directory_profile" value={p} checked={draft.profiles.includes(p)} onChange={() => toggle(p)} />
                {display(p)}
              </label>
            ))}
          </fieldset>
          <label>
            Default profile
            <select name="directory_default_profile" value={draft.default_profile} onChange={set("default_profile")}>
              <option value="">the first chosen</option>
              {draft.profiles.map((p) => (
                <option key={p} value={p}>
                  {display(p)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Authority
            <select name="directory_authority" value={draft.authority} onChange={set("authority")}>
              <option value="">the default authority</option>
              {authorities.map((a) => (
                <option key={a} value={a}>
                  {display(a)}
                </option>
              ))}
            </select>
          </label>
          <label class="inline">
            <input type="checkbox" name="directory_eab" checked={draft.eab} onChange={(e) => setDraft({ ...draft, eab: (e.target as HTMLInputElement).checked })} />
            Require External Account Binding (without it anyone who reaches the URL may order under these profiles)
          </label>
          <label>
            Terms of service URL (clients must agree)
            <input name="directory_tos" type="url" value={draft.tos} onInput={set("tos")} />
          </label>
          <label>
            Website URL
            <input name="directory_website" type="url" value={draft.website} onInput={set("website")} />
          </label>
          <label>
            CAA identities (domain names, comma separated)
            <input name="directory_caa" value={draft.caa} onInput={set("caa")} />
          </label>
          <button type="submit" disabled={!name || draft.profiles.length === 0}>
            {replacing ? `Replace the settings of ${display(name)}` : "Make directory"}
          </button>
          {saved !== null && <p role="status">Saved: served at {url_of(`/acme/${saved}/directory`)} from the next request.</p>}
          {error && <Problem error={error} />}
        </form>
      )}
    </Show>
  );
}

function Directories({ identity, dirs, reload }: { identity: Identity; dirs: Loaded<{ items: Directory[] }>; reload: () => void }) {
  const [editing, setEditing] = useState<Draft>(blank);
  // Each "Edit" starts the form afresh, even for the directory already in it.
  const [edits, setEdits] = useState(0);
  const edit = (d: Draft) => {
    setEditing(d);
    setEdits((n) => n + 1);
    // Keyboard users land in the form they asked for, below the table.
    requestAnimationFrame(() => document.querySelector<HTMLInputElement>("input[name=directory_name]")?.focus());
  };
  const { error, run } = useAction(reload);
  const manage = can(identity.role, "manage_authorities");
  return (
    <Show loaded={dirs}>
      {({ items }) => (
        <>
          <Card title="Directories" id="directories" wide>
            {items.length === 0 ? (
              <Empty>No directory.</Empty>
            ) : (
              <table class="table" aria-label="ACME directories">
                <thead>
                  <tr>
                    <th scope="col">Directory and URL</th>
                    <th scope="col">Profiles</th>
                    <th scope="col">Authority</th>
                    <th scope="col">EAB</th>
                    <th scope="col">Terms, website, CAA</th>
                    <th scope="col">Source</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((d) => (
                    <tr key={d.name} data-directory={d.name}>
                      <td>
                        <strong>{display(title_of(d))}</strong>
                        <div>
                          <code>{display(url_of(d.path))}</code>
                        </div>
                      </td>
                      <td>
                        {display(d.profiles.join(", "))}
                        <div class="muted">default {display(d.effective_default_profile)}{d.default_profile ? "" : " (the first)"}</div>
                      </td>
                      <td>{display(d.authority) || "the default authority"}</td>
                      <td>{d.external_account_required ? "required" : "not required: open to anyone who reaches it"}</td>
                      <td>
                        <ul class="plain">
                          <li>terms: {display(d.terms_of_service) || "none"}</li>
                          <li>website: {display(d.website) || "none"}</li>
                          <li>CAA: {display(d.caa_identities.join(", ")) || "none"}</li>
                        </ul>
                      </td>
                      <td>
                        {d.configured ? (
                          `${d.name === "" ? "[acme]" : `[acme.directories.${display(d.name)}]`} of the configuration (read-only here)`
                        ) : (
                          <>
                            made by {display(d.created_by)} {date(d.created_at)}
                            {d.updated_at && d.updated_at !== d.created_at && (
                              <div class="muted">
                                changed by {display(d.updated_by)} {date(d.updated_at)}
                              </div>
                            )}
                          </>
                        )}
                        {manage && !d.configured && (
                          <div class="row">
                            <button type="button" class="link" onClick={() => edit(draft_of(d))}>
                              Edit
                            </button>
                            <ConfirmButton
                              opener="Delete…"
                              label={`Confirm deleting ${d.name}`}
                              question="Delete it? Its URLs stop answering at once; its accounts stay."
                              action="Delete now"
                              onYes={() => run(() => request("DELETE", `/acme/directories/${encodeURIComponent(d.name)}`))}
                            />
                          </div>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {error && <Problem error={error} />}
            <p class="hint">
              Clients must trust certward's root (<code>certward ca export root &gt; root.pem</code>), e.g.{" "}
              <code>REQUESTS_CA_BUNDLE=root.pem certbot certonly --server {url_of("/acme/directory")} -d www.example.com</code>.
            </p>
          </Card>
          {manage && (
            <Card title={editing.name ? `Directory ${editing.name}` : "Make a directory"} id="directory-form">
              <DirectoryForm key={edits} start={editing} existing={items} onDone={reload} />
              {editing.name && (
                <button type="button" class="secondary" onClick={() => edit(blank)}>
                  A new one instead
                </button>
              )}
            </Card>
          )}
        </>
      )}
    </Show>
  );
}

interface Created extends EabKey {
  hmac_key: string;
}

// The key's secret with what a client is given: kept in this card's state only, until dismissed.
function ShownOnce({ made, onStored }: { made: Created; onStored: () => void }) {
  const url = url_of(made.directory ? `/acme/${made.directory}/directory` : "/acme/directory");
  return (
    <Card title="New EAB key: copy it now" id="new-eab" wide>
      <p>This is the only time the HMAC key is shown; certward keeps it sealed and never answers it again.</p>
      <dl class="fields">
        <dt>Key id (kid)</dt>
        <dd>
          <code data-eab-kid>{display(made.kid)}</code>
        </dd>
        <dt>HMAC key</dt>
        <dd>
          <code data-eab-secret>{display(made.hmac_key)}</code>
        </dd>
        <dt>For</dt>
        <dd>
          team {display(made.team)}, {made.directory ? `directory ${display(made.directory)}` : "any directory"}
        </dd>
      </dl>
      <p>A client registers once with it; the account it binds belongs to team {display(made.team)}.</p>
      <pre class="pem">
        {display(
          [
            `# certbot`,
            `REQUESTS_CA_BUNDLE=root.pem certbot register --server ${url} \\`,
            `  --eab-kid ${made.kid} --eab-hmac-key ${made.hmac_key} -m ops@example.com --agree-tos`,
            `# lego`,
            `LEGO_CA_CERTIFICATES=root.pem lego --server ${url} --eab --kid ${made.kid} --hmac ${made.hmac_key} ...`,
            `# acme.sh`,
            `acme.sh --register-account --server ${url} --ca-bundle root.pem --eab-kid ${made.kid} --eab-hmac-key ${made.hmac_key}`,
          ].join("\n"),
        )}
      </pre>
      <button type="button" class="secondary" onClick={onStored}>
        I have stored it
      </button>
    </Card>
  );
}

function NewEab({ directories, onCreated }: { directories: string[]; onCreated: (made: Created) => void }) {
  const teams = useLoad(() => get<{ items: { name: string }[] }>("/teams"), ["eab-teams"]);
  const [team, setTeam] = useState("");
  const [directory, setDirectory] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<Error | null>(null);
  return (
    <Show loaded={teams}>
      {({ items }) => {
        const chosen = team || items[0]?.name || "";
        return items.length === 0 ? (
          <Empty>An EAB key is for a team: make one first.</Empty>
        ) : (
          <form
            class="form"
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              const body: Record<string, unknown> = { team: chosen };
              if (directory) body["directory"] = directory;
              if (description.trim()) body["description"] = description.trim();
              try {
                onCreated(await request<Created>("POST", "/acme/eab", { body }));
                setDescription("");
              } catch (err) {
                setError(as_error(err));
              }
            }}
          >
            <label>
              Team (its domains and profiles limit what the account orders)
              <select name="eab_team" value={chosen} onChange={(e) => setTeam((e.target as HTMLSelectElement).value)}>
                {items.map((t) => (
                  <option key={t.name} value={t.name}>
                    {display(t.name)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Directory
              <select name="eab_directory" value={directory} onChange={(e) => setDirectory((e.target as HTMLSelectElement).value)}>
                <option value="">any directory</option>
                {directories.map((d) => (
                  <option key={d} value={d}>
                    {display(d)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Description (at most 256 characters)
              <input name="eab_description" value={description} maxLength={256} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit">Create EAB key</button>
            {error && <Problem error={error} />}
          </form>
        );
      }}
    </Show>
  );
}

function EabKeys({ identity, dirs }: { identity: Identity; dirs: Loaded<{ items: Directory[] }> }) {
  const [version, setVersion] = useState(0);
  const [team, setTeam] = useState("");
  const [teamDraft, setTeamDraft] = useState("");
  const [made, setMade] = useState<Created | null>(null);
  const reload = () => setVersion((v) => v + 1);
  const { error, run } = useAction(reload);
  const manage = can(identity.role, "manage_principals");
  const keys = useLoad(() => get<{ items: EabKey[] }>("/acme/eab", { team: team || undefined }), [team, version]);
  return (
    <>
      {made && (
        <ShownOnce
          made={made}
          onStored={() => {
            setMade(null);
            reload();
          }}
        />
      )}
      <Card title="External Account Binding keys" id="eab" wide>
        <form
          class="filters"
          role="search"
          aria-label="EAB keys of a team"
          onSubmit={(e) => {
            e.preventDefault();
            setTeam(teamDraft.trim());
          }}
        >
          <label>
            Team (empty: every team)
            <input name="eab_filter_team" value={teamDraft} onInput={(e) => setTeamDraft((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit">Filter</button>
        </form>
        <Show loaded={keys}>
          {({ items }) =>
            items.length === 0 ? (
              <Empty>No EAB key{team ? ` for ${display(team)}` : ""}.</Empty>
            ) : (
              <table class="table" aria-label="EAB keys">
                <thead>
                  <tr>
                    <th scope="col">Key id</th>
                    <th scope="col">For</th>
                    <th scope="col">Description</th>
                    <th scope="col">Created</th>
                    <th scope="col">Account</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((k) => (
                    <tr key={k.kid} data-eab={k.kid}>
                      <td>
                        <code>{display(k.kid)}</code>
                      </td>
                      <td>
                        team {display(k.team)}
                        <div class="muted">{k.directory === null ? "any directory" : `directory ${display(k.directory)}`}</div>
                      </td>
                      <td>{display(k.description)}</td>
                      <td>
                        {date(k.created_at)} <div class="muted">{display(k.created_by)}</div>
                      </td>
                      <td>{k.account ? <>{display(k.account, 200)} <div class="muted">bound {date(k.bound_at)}</div></> : "not bound yet"}</td>
                      <td>
                        {k.revoked_at !== null ? (
                          `revoked ${date(k.revoked_at)}`
                        ) : manage ? (
                          <ConfirmButton
                            opener="Revoke…"
                            label={`Confirm revoking ${k.kid}`}
                            question="Revoke it? It binds no further account; one it bound stays."
                            action="Revoke now"
                            onYes={() => run(() => request("DELETE", `/acme/eab/${encodeURIComponent(k.kid)}`))}
                          />
                        ) : (
                          "active"
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
      {manage && !made && (
        <Card title="Create an EAB key" id="create-eab">
          <Show loaded={dirs}>
            {({ items }) => (
              <NewEab
                directories={items.filter((d) => d.name !== "").map((d) => d.name)}
                onCreated={(m) => {
                  setMade(m);
                  reload();
                }}
              />
            )}
          </Show>
        </Card>
      )}
    </>
  );
}

export function Acme({ identity }: { identity: Identity }) {
  // One list for both parts: a directory made above is offered for a key below at once.
  const [version, setVersion] = useState(0);
  const dirs = useLoad(() => get<{ items: Directory[] }>("/acme/directories"), ["acme-directories", version]);
  return (
    <main>
      <h1>ACME</h1>
      <div class="grid">
        <Directories identity={identity} dirs={dirs} reload={() => setVersion((v) => v + 1)} />
        {can(identity.role, "read_principals") && <EabKeys identity={identity} dirs={dirs} />}
      </div>
    </main>
  );
}
