// Audit events as a table, for the audit page (with each event's number and details) and the
// overview (the latest few). Actors, targets and details come from outside: shown as text.

import { date, display } from "./ui";

export interface AuditEvent {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  details?: unknown;
}

export function EventsTable({ items, full }: { items: AuditEvent[]; full?: boolean }) {
  return (
    <table class="table" aria-label="Audit events">
      <thead>
        <tr>
          {full && <th scope="col">#</th>}
          <th scope="col">Time</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          {full && <th scope="col">Details</th>}
        </tr>
      </thead>
      <tbody>
        {items.map((e) => (
          <tr key={e.seq}>
            {full && <td>{e.seq}</td>}
            <td>{date(e.time)}</td>
            <td>{display(e.actor)}</td>
            <td>{e.action}</td>
            <td>
              {e.target_type} {display(e.target_id, 300)}
            </td>
            {full && (
              <td>
                <code class="details">{display(JSON.stringify(e.details), 2000)}</code>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
