// Administration: teams (what their requesters may issue) and principals (who acts, in which
// role and team), listed for the roles that may read them, made and disabled by administrators.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { can } from "../roles";
import { Card, Empty, Problem, Show, date, display, useLoad, useAction } from "../ui";

interface Team {
  name: string;
  description?: string;
  allowed_profiles: string[];
  allowed_domains: string[];
  allowed_authorities: string[];
  created_at?: string;
}
interface Principal {
  name: string;
  role: string;
  team: string | null;
  disabled: boolean;
  created_at: string;
}

const ROLES = ["requester", "operator", "auditor", "approver", "agent", "admin"];
const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);


function NewTeam({ onDone }: { onDone: () => void }) {
  const [draft, setDraft] = useState({ name: "", profiles: "", domains: "", authorities: "" });
  const { error, run } = useAction(onDone);
  const field = (k: keyof typeof draft) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="form"
      onSubmit={(e) => {
        e.preventDefault();
        run(() =>
          request("POST", "/teams", {
            body: {
              name: draft.name.trim(),
              allowed_profiles: list(draft.profiles),
              allowed_domains: list(draft.domains),
              allowed_authorities: list(draft.authorities),
            },
          }),
        );
      }}
    >
      <label>
        Name
        <input name="team_name" value={draft.name} onInput={field("name")} required />
      </label>
      <label>
        Profiles its requesters may use (e.g. tls-server, tls-client)
        <input name="team_profiles" value={draft.profiles} onInput={field("profiles")} />
      </label>
      <label>
        Domains their names must be under (e.g. payments.example.com)
        <input name="team_domains" value={draft.domains} onInput={field("domains")} />
      </label>
      <label>
        Authorities they may name (empty: the default one)
        <input name="team_authorities" value={draft.authorities} onInput={field("authorities")} />
      </label>
      <button type="submit">Create team</button>
      {error && <Problem error={error} />}
    </form>
  );
}

function NewPrincipal({ teams, onDone }: { teams: Team[]; onDone: () => void }) {
  const [draft, setDraft] = useState({ name: "", role: "requester", team: "" });
  const { error, run } = useAction(onDone);
  return (
    <form
      class="form"
      onSubmit={(e) => {
        e.preventDefault();
        const body: Record<string, unknown> = { name: draft.name.trim(), role: draft.role };
        if (draft.team) body["team"] = draft.team;
        run(() => request("POST", "/principals", { body }));
      }}
    >
      <label>
        Name
        <input name="principal_name" value={draft.name} onInput={(e) => setDraft({ ...draft, name: (e.target as HTMLInputElement).value })} required />
      </label>
      <label>
        Role
        <select name="principal_role" value={draft.role} onChange={(e) => setDraft({ ...draft, role: (e.target as HTMLSelectElement).value })}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <label>
        Team (requesters and approvers need one)
        <select name="principal_team" value={draft.team} onChange={(e) => setDraft({ ...draft, team: (e.target as HTMLSelectElement).value })}>
          <option value="">none</option>
          {teams.map((t) => (
            <option key={t.name} value={t.name}>
              {display(t.name)}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">Create principal</button>
      {error && <Problem error={error} />}
    </form>
  );
}

export function People({ identity }: { identity: Identity }) {
  const [version, setVersion] = useState(0);
  const data = useLoad(async () => {
    const [teams, principals] = await Promise.all([
      get<{ items: Team[] }>("/teams"),
      get<{ items: Principal[] }>("/principals"),
    ]);
    return { teams: teams.items, principals: principals.items };
  }, ["people", version]);
  const manage = can(identity.role, "manage_principals");
  const reload = () => setVersion((v) => v + 1);
  const { error, run } = useAction(reload);
  return (
    <main>
      <h1>Teams and principals</h1>
      <Show loaded={data}>
        {({ teams, principals }) => (
          <div class="grid">
            <Card title="Teams" id="teams" wide>
              {teams.length === 0 ? (
                <Empty>No teams.</Empty>
              ) : (
                <table class="table" aria-label="Teams">
                  <thead>
                    <tr>
                      <th scope="col">Team</th>
                      <th scope="col">Profiles</th>
                      <th scope="col">Domains</th>
                      <th scope="col">Authorities</th>
                    </tr>
                  </thead>
                  <tbody>
                    {teams.map((t) => (
                      <tr key={t.name} data-team={t.name}>
                        <td>{display(t.name)}</td>
                        <td>{display(t.allowed_profiles.join(", ")) || "none"}</td>
                        <td>{display(t.allowed_domains.join(", ")) || "none"}</td>
                        <td>{display(t.allowed_authorities.join(", ")) || "the default"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Card>
            <Card title="Principals" id="principals" wide>
              <table class="table" aria-label="Principals">
                <thead>
                  <tr>
                    <th scope="col">Principal</th>
                    <th scope="col">Role</th>
                    <th scope="col">Team</th>
                    <th scope="col">Since</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {principals.map((p) => (
                    <tr key={p.name} data-principal={p.name}>
                      <td>{display(p.name)}</td>
                      <td>{p.role}</td>
                      <td>{display(p.team)}</td>
                      <td>{date(p.created_at)}</td>
                      <td>
                        {p.disabled ? "disabled" : "active"}{" "}
                        {manage && p.name !== identity.principal && (
                          <button
                            type="button"
                            class="link"
                            onClick={() =>
                              run(() => request("POST", `/principals/${encodeURIComponent(p.name)}/${p.disabled ? "enable" : "disable"}`))
                            }
                          >
                            {p.disabled ? "Enable" : "Disable"}
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {error && <Problem error={error} />}
            </Card>
            {manage && (
              <>
                <Card title="New team" id="new-team">
                  <NewTeam onDone={reload} />
                </Card>
                <Card title="New principal" id="new-principal">
                  <NewPrincipal teams={teams} onDone={reload} />
                </Card>
              </>
            )}
          </div>
        )}
      </Show>
    </main>
  );
}
