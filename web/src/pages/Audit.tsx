// The audit trail with the API's filters, newest first, a page at a time (before_seq), and the
// chain's verification.

import { useState } from "preact/hooks";
import { get, type Query } from "../api";
import { EventsTable, type AuditEvent } from "../events";
import { href, navigate, type Route } from "../router";
import { Card, Empty, Problem, Show, useLoad, as_error } from "../ui";

interface Verify {
  ok: boolean;
  events_checked: number;
  first_bad_seq?: number;
  problem?: string;
  head: { seq: number; hash: string };
}

const FILTERS = ["actor", "action", "target_type", "target_id"] as const;

export function Audit({ route }: { route: Route }) {
  const filters: Query = {};
  for (const f of FILTERS) filters[f] = route.params.get(f) ?? undefined;
  const before = route.params.get("before_seq") ?? undefined;
  const events = useLoad(
    () => get<{ items: AuditEvent[]; next_before_seq: number | null }>("/audit/events", { ...filters, before_seq: before, limit: 50 }),
    [JSON.stringify(filters), before],
  );
  const [verify, setVerify] = useState<Verify | Error | null>(null);

  return (
    <main>
      <h1>Audit log</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const data = new FormData(e.target as HTMLFormElement);
          const next: Record<string, string | undefined> = {};
          for (const f of FILTERS) next[f] = String(data.get(f) ?? "").trim() || undefined;
          navigate("/audit", next);
        }}
      >
        {FILTERS.map((f) => (
          <label key={f}>
            {f.replace("_", " ")}
            <input name={f} defaultValue={String(filters[f] ?? "")} />
          </label>
        ))}
        <button type="submit">Filter</button>
        <button
          type="button"
          class="secondary"
          onClick={() =>
            get<Verify>("/audit/verify").then(setVerify, (e: unknown) => setVerify(as_error(e)))
          }
        >
          Verify the chain
        </button>
      </form>
      {verify instanceof Error && <Problem error={verify} />}
      {verify && !(verify instanceof Error) && (
        <Card title="Chain verification" id="verify">
          <p data-verified={verify.ok ? "ok" : "broken"}>
            {verify.ok
              ? `Intact: ${verify.events_checked} events checked, head ${verify.head.seq} (${verify.head.hash.slice(0, 16)}…).`
              : `Broken at event ${verify.first_bad_seq ?? "?"}: ${verify.problem ?? ""}`}
          </p>
        </Card>
      )}
      <Show loaded={events}>
        {({ items, next_before_seq }) =>
          items.length === 0 ? (
            <Empty>No events match.</Empty>
          ) : (
            <>
              <EventsTable items={items} full />
              {next_before_seq !== null && (
                <nav class="pager">
                  <a href={href("/audit", { ...(filters as Record<string, string | undefined>), before_seq: String(next_before_seq) })}>Older</a>
                </nav>
              )}
            </>
          )
        }
      </Show>
    </main>
  );
}
