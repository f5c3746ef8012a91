// The inventory: the API's filters, its orders (by expiry, soonest or latest first; the only
// orders that stay index walks at a million rows) and its keyset pages. Filters and order live
// in the URL's fragment, so a view can be bookmarked and shared.

import { useEffect, useState } from "preact/hooks";
import { get, type CertificatePage, type Identity } from "../api";
import { can } from "../roles";
import { RevokeBySelection, SelectedActions } from "./Bulk";
import { href, navigate, type Route } from "../router";
import { Empty, Show, date, display, useLoad } from "../ui";

const FILTERS = ["search", "status", "origin", "team", "owner", "issuer", "tag", "expiring_within", "sort"] as const;
const STATUSES = ["", "valid", "expiring", "expired", "revoked", "superseded"];
const ORIGINS = ["", "issued", "discovered", "imported", "upstream"];
const PAGE = 50;

export function Inventory({ route, identity }: { route: Route; identity: Identity }) {
  const filters: Record<string, string> = {};
  for (const f of FILTERS) {
    const v = route.params.get(f);
    if (v) filters[f] = v;
  }
  const cursor = route.params.get("cursor") ?? undefined;
  const latest = filters["sort"] === "-not_after";
  const back = route.params.get("back") ?? "";
  const [version, setVersion] = useState(0);
  const page = useLoad(
    () => get<CertificatePage>("/certificates", { ...filters, limit: PAGE, cursor }),
    [JSON.stringify(filters), cursor, version],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // What is selected is on the page on screen: another page or filter starts with none.
  useEffect(() => setSelected(new Set()), [JSON.stringify(filters), cursor]);
  const toggle = (fp: string) => {
    const next = new Set(selected);
    if (next.has(fp)) next.delete(fp);
    else next.add(fp);
    setSelected(next);
  };
  const selectable = can(identity.role, "edit_inventory") || can(identity.role, "revoke");
  const [draft, setDraft] = useState(filters["search"] ?? "");
  // The address may change under the page (Back, a link, a bookmark): the box follows it.
  useEffect(() => setDraft(filters["search"] ?? ""), [filters["search"]]);

  const go = (next: Record<string, string | undefined>) => navigate("/inventory", { ...filters, ...next });

  return (
    <main>
      <h1>Inventory</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ search: draft.trim() || undefined, cursor: undefined, back: undefined });
        }}
      >
        <label>
          Search
          <input
            name="search"
            type="search"
            value={draft}
            placeholder="subject, SAN or fingerprint"
            onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Status
          <select
            name="status"
            value={filters["status"] ?? ""}
            onChange={(e) => go({ status: (e.target as HTMLSelectElement).value || undefined, cursor: undefined })}
          >
            {STATUSES.map((s) => (
              <option value={s} key={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <label>
          Origin
          <select
            name="origin"
            value={filters["origin"] ?? ""}
            onChange={(e) => go({ origin: (e.target as HTMLSelectElement).value || undefined, cursor: undefined })}
          >
            {ORIGINS.map((s) => (
              <option value={s} key={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {selectable && selected.size > 0 && (
        <SelectedActions
          identity={identity}
          selected={[...selected]}
          subjects={new Map(page.state === "ready" ? page.value.items.map((c) => [c.fingerprint, c.subject]) : [])}
          onDone={(revoked) => {
            if (revoked) setSelected(new Set());
            setVersion((v) => v + 1);
          }}
        />
      )}
      <Show loaded={page}>
        {(p) =>
          p.items.length === 0 ? (
            <Empty>No certificate matches.</Empty>
          ) : (
            <>
              <table class="table" aria-label="Certificates">
                <thead>
                  <tr>
                    {selectable && (
                      <th scope="col">
                        <input
                          type="checkbox"
                          aria-label="Select every certificate of this page"
                          checked={p.items.length > 0 && p.items.every((c) => selected.has(c.fingerprint))}
                          onChange={(e) =>
                            setSelected((e.target as HTMLInputElement).checked ? new Set(p.items.map((c) => c.fingerprint)) : new Set())
                          }
                        />
                      </th>
                    )}
                    <th scope="col">Subject</th>
                    <th scope="col">Names</th>
                    <th scope="col" aria-sort={latest ? "descending" : "ascending"}>
                      <a
                        href={href("/inventory", { ...filters, sort: latest ? undefined : "-not_after", cursor: undefined, back: undefined })}
                        data-sort={latest ? "-not_after" : "not_after"}
                        title={latest ? "Latest expiry first: show the soonest first" : "Soonest expiry first: show the latest first"}
                      >
                        Expires {latest ? "▼" : "▲"}
                      </a>
                    </th>
                    <th scope="col">Status</th>
                    <th scope="col">Origin</th>
                    <th scope="col">Team</th>
                  </tr>
                </thead>
                <tbody>
                  {p.items.map((c) => (
                    <tr key={c.fingerprint} data-fingerprint={c.fingerprint}>
                      {selectable && (
                        <td>
                          <input
                            type="checkbox"
                            aria-label={`Select ${display(c.subject) || c.fingerprint}`}
                            checked={selected.has(c.fingerprint)}
                            onChange={() => toggle(c.fingerprint)}
                          />
                        </td>
                      )}
                      <td class="subject-cell">
                        <a href={href(`/certificates/${c.fingerprint}`)}>{display(c.subject, 300) || c.fingerprint}</a>
                      </td>
                      <td class="names">{display(c.sans.slice(0, 3).join(", "), 300) + (c.sans.length > 3 ? ` +${c.sans.length - 3}` : "")}</td>
                      <td>{date(c.not_after)}</td>
                      <td>
                        <span class={`status status-${c.status}`}>{c.status}</span>
                      </td>
                      <td>{c.origin}</td>
                      <td>{display(c.team)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <nav class="pager" aria-label="Pages">
                {cursor && (
                  <a
                    href={href("/inventory", {
                      ...filters,
                      cursor: back.split(",").filter(Boolean).slice(-1)[0],
                      back: back.split(",").filter(Boolean).slice(0, -1).join(",") || undefined,
                    })}
                  >
                    Previous
                  </a>
                )}
                {p.next_cursor && (
                  <a
                    href={href("/inventory", {
                      ...filters,
                      cursor: p.next_cursor,
                      back: cursor ? [back, cursor].filter(Boolean).join(",") : undefined,
                    })}
                  >
                    Next
                  </a>
                )}
              </nav>
            </>
          )
        }
      </Show>
      {can(identity.role, "manage_authorities") && <RevokeBySelection />}
    </main>
  );
}
