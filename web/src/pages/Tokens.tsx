// API tokens: listed without their secrets; made for a principal and shown once; revoked.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { can } from "../roles";
import { Card, Empty, Problem, Show, date, display, useLoad, as_error } from "../ui";

interface Token {
  id: string;
  principal: string;
  role: string;
  team: string | null;
  description: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}
interface Principal {
  name: string;
  role: string;
  team: string | null;
  disabled: boolean;
}

function CreateToken({ onCreated }: { onCreated: (secret: string) => void }) {
  const principals = useLoad(() => get<{ items: Principal[] }>("/principals"), []);
  const [principal, setPrincipal] = useState("");
  const [ttl, setTtl] = useState("90d");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<Error | null>(null);
  return (
    <Show loaded={principals}>
      {({ items }) => {
        const usable = items.filter((p) => !p.disabled);
        const chosen = principal || usable[0]?.name || "";
        return (
          <form
            class="form"
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              try {
                const made = await request<Token & { token: string }>("POST", "/tokens", {
                  body: { principal: chosen, ttl, description },
                });
                onCreated(made.token);
              } catch (err) {
                setError(as_error(err));
              }
            }}
          >
            <label>
              Principal
              <select name="principal" value={chosen} onChange={(e) => setPrincipal((e.target as HTMLSelectElement).value)}>
                {usable.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name} ({p.role}
                    {p.team ? `, ${p.team}` : ""})
                  </option>
                ))}
              </select>
            </label>
            <label>
              Lifetime (e.g. 90d, 12h)
              <input name="ttl" value={ttl} onInput={(e) => setTtl((e.target as HTMLInputElement).value)} required />
            </label>
            <label>
              Description
              <input name="description" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit">Create token</button>
            {error && <Problem error={error} />}
          </form>
        );
      }}
    </Show>
  );
}

export function Tokens({ identity }: { identity: Identity }) {
  const [version, setVersion] = useState(0);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const tokens = useLoad(() => get<{ items: Token[] }>("/tokens"), ["tokens", version]);
  const manage = can(identity.role, "manage_principals");

  async function revoke(id: string) {
    if (!window.confirm(`Revoke token ${id}? Whoever uses it is refused from now on.`)) return;
    try {
      await request("DELETE", `/tokens/${encodeURIComponent(id)}`);
      setVersion((v) => v + 1);
    } catch (err) {
      setError(as_error(err));
    }
  }

  return (
    <main>
      <h1>Tokens</h1>
      {secret && (
        <Card title="New token: copy it now" id="new-token">
          <p>This is the only time it is shown. certward keeps only a hash of it.</p>
          <pre class="pem" data-secret>
            {secret}
          </pre>
          <button type="button" class="secondary" onClick={() => setSecret(null)}>
            I have stored it
          </button>
        </Card>
      )}
      {manage && !secret && (
        <Card title="Create a token" id="create-token">
          <CreateToken
            onCreated={(s) => {
              setSecret(s);
              setVersion((v) => v + 1);
            }}
          />
        </Card>
      )}
      {error && <Problem error={error} />}
      <Show loaded={tokens}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No tokens.</Empty>
          ) : (
            <table class="table" aria-label="Tokens">
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Principal</th>
                  <th scope="col">Role</th>
                  <th scope="col">Description</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {items.map((t) => (
                  <tr key={t.id} data-token={t.id}>
                    <td>
                      <code>{t.id}</code>
                    </td>
                    <td>{t.principal}</td>
                    <td>
                      {t.role}
                      {t.team ? ` (${t.team})` : ""}
                    </td>
                    <td class="wrap">{display(t.description, 300)}</td>
                    <td>{date(t.created_at)}</td>
                    <td>{t.expires_at ? date(t.expires_at) : "never"}</td>
                    <td>
                      {t.revoked_at ? (
                        `revoked ${date(t.revoked_at)}`
                      ) : manage ? (
                        <button type="button" class="link" onClick={() => revoke(t.id)}>
                          Revoke
                        </button>
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
    </main>
  );
}
