// Approval requests: what a profile holds for a person's decision before anything is issued.
// Read by the roles that may see the team's requests; approved or rejected (with the reason
// the API requires) by those that may decide, never their own.

import { useState } from "preact/hooks";
import { get, request, type Identity } from "../api";
import { can } from "../roles";
import { Empty, Problem, Show, date, display, useLoad, useAction } from "../ui";

interface Approval {
  id: string;
  status: string;
  profile: string;
  team: string | null;
  common_name: string | null;
  subject?: string | null;
  sans: string[];
  requested_by?: string;
  created_at?: string;
}

export function Approvals({ identity }: { identity: Identity }) {
  const [version, setVersion] = useState(0);
  const pending = useLoad(() => get<{ items: Approval[] }>("/approvals", { status: "pending", limit: 100 }), ["approvals", version]);
  const { error, run: act } = useAction(() => setVersion((v) => v + 1));
  const decide = can(identity.role, "approve_requests");
  const [reason, setReason] = useState("");
  return (
    <main>
      <h1>Approval requests</h1>
      {decide && (
        <label class="row">
          Reason for a rejection (required to reject){" "}
          <input name="reject_reason" value={reason} maxLength={1024} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </label>
      )}
      <Show loaded={pending}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>Nothing waits for approval.</Empty>
          ) : (
            <table class="table" aria-label="Approval requests">
              <thead>
                <tr>
                  <th scope="col">Request</th>
                  <th scope="col">Profile</th>
                  <th scope="col">Team</th>
                  <th scope="col">By</th>
                  <th scope="col" />
                </tr>
              </thead>
              <tbody>
                {items.map((a) => (
                  <tr key={a.id} data-approval={a.id}>
                    <td>
                      {display(a.subject) || display(a.common_name) || "(no subject)"}
                      <div class="muted">{display(a.sans.join(", "), 300)}</div>
                    </td>
                    <td>{a.profile}</td>
                    <td>{display(a.team)}</td>
                    <td>
                      {display(a.requested_by)} <span class="muted">{date(a.created_at)}</span>
                    </td>
                    <td>
                      {decide && (
                        <>
                          <button type="button" onClick={() => act(() => request("POST", `/approvals/${encodeURIComponent(a.id)}/approve`, { body: {} }))}>
                            Approve
                          </button>{" "}
                          <button
                            type="button"
                            class="danger"
                            disabled={!reason.trim()}
                            onClick={() => act(() => request("POST", `/approvals/${encodeURIComponent(a.id)}/reject`, { body: { reason: reason.trim() } }))}
                          >
                            Reject
                          </button>
                        </>
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
    </main>
  );
}
