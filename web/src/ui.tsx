// Small pieces every page uses. Everything from the server is rendered as text (Preact escapes
// it): no page sets HTML from data.

import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

// Whatever a promise was rejected with, as an Error to show.
export function as_error(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

// An action a page runs on a click: its error as state (cleared when it runs again), and
// `onDone` after it succeeds (a reload, mostly).
export function useAction(onDone: () => void) {
  const [error, setError] = useState<Error | null>(null);
  const run = async (act: () => Promise<unknown>) => {
    setError(null);
    try {
      await act();
      onDone();
    } catch (e) {
      setError(as_error(e));
    }
  };
  return { error, run };
}

export type Loaded<T> =
  | { state: "loading" }
  | { state: "error"; error: ApiError | Error }
  | { state: "ready"; value: T };

// Runs `load` when `key` changes; the latest answer wins. When only the later members of
// `key` change (a reload after an action), what was shown stays until the answer replaces it,
// so that the page keeps its forms and messages; when its first member changes (another
// certificate, another filter), nothing of the previous one is shown under the new address.
export function useLoad<T>(load: () => Promise<T>, key: unknown[]): Loaded<T> {
  const [result, setResult] = useState<Loaded<T>>({ state: "loading" });
  const shownFor = useRef<unknown>(undefined);
  useEffect(() => {
    let live = true;
    const same = shownFor.current === key[0];
    shownFor.current = key[0];
    setResult((shown) => (same && shown.state === "ready" ? shown : { state: "loading" }));
    load().then(
      (value) => live && setResult({ state: "ready", value }),
      (error: unknown) =>
        live && setResult({ state: "error", error: as_error(error) }),
    );
    return () => {
      live = false;
    };
  }, key);
  return result;
}

export function Problem({ error }: { error: Error }) {
  const api = error instanceof ApiError ? error : null;
  return (
    <div class="problem" role="alert">
      <strong>{api ? `${api.status} ${display(api.title, 200)}` : "Request failed"}</strong>
      {api?.detail ? <p>{display(api.detail, 2000)}</p> : !api ? <p>{display(error.message, 2000)}</p> : null}
    </div>
  );
}

export function Show<T>({ loaded, children }: { loaded: Loaded<T>; children: (v: T) => ComponentChildren }) {
  if (loaded.state === "loading") return <p class="muted" aria-busy="true">Loading…</p>;
  if (loaded.state === "error") return <Problem error={loaded.error} />;
  return <>{children(loaded.value)}</>;
}

export function Card({
  title,
  children,
  id,
  wide,
}: {
  title: string;
  children: ComponentChildren;
  id?: string;
  wide?: boolean;
}) {
  return (
    <section class={wide ? "card wide" : "card"} aria-labelledby={id ? `${id}-title` : undefined} data-card={id}>
      <h2 id={id ? `${id}-title` : undefined}>{title}</h2>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

// Text from certificates and other outside sources, made safe to read: characters that change
// the direction or visibility of what follows (U+202E turns "moc.elpmaxe" into "example.com")
// are shown as their code points, and text beyond `max` characters is cut with an ellipsis.
const INVISIBLE = /[\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g;
export function display(text: string | null | undefined, max = 4096): string {
  if (!text) return "";
  const shown = text.replace(INVISIBLE, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);
  return shown.length > max ? `${shown.slice(0, max)}…` : shown;
}

export function date(text: string | undefined | null): string {
  if (!text) return "";
  return text.replace("T", " ").replace(/Z$/, " UTC");
}

// Counts as horizontal bars, widest first, each with its number as text.
// `muted` rows (a sum of the rest) are set apart in italics, so that no value can pass for one.
export function Bars({ rows, label }: { rows: { name: string; count: number; muted?: boolean }[]; label: string }) {
  if (rows.length === 0) return <Empty>None.</Empty>;
  const max = Math.max(...rows.map((r) => r.count), 1);
  return (
    <table class="bars" aria-label={label}>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i} class={r.muted ? "muted-row" : undefined}>
            <th scope="row" title={r.name.length > 160 ? display(r.name) : undefined}>
              {display(r.name, 160)}
            </th>
            <td class="bar-cell">
              <span class="bar" style={{ width: `${(100 * r.count) / max}%` }} />
            </td>
            <td class="num">{r.count.toLocaleString("en")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// A second question asked in the page itself, in place of the button that opened it (a browser
// dialog can be dismissed unseen). Focus goes to the way back, the safe choice, since the
// button that had it is gone.
export function Confirm({
  label,
  question,
  action,
  back = "Cancel",
  danger = true,
  dataAction,
  onYes,
  onNo,
}: {
  label: string;
  question: ComponentChildren;
  action: string;
  back?: string;
  danger?: boolean;
  dataAction?: string;
  onYes: () => void;
  onNo: () => void;
}) {
  const cancel = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => cancel.current?.focus(), []);
  return (
    <span role="group" aria-label={label}>
      <strong>{question}</strong>{" "}
      <button type="button" class={danger ? "danger" : undefined} data-action={dataAction} onClick={onYes}>
        {action}
      </button>{" "}
      <button type="button" class="secondary" ref={cancel} onClick={onNo}>
        {back}
      </button>
    </span>
  );
}

// A link that opens that question in its place: the usual way to ask before something that
// cannot be undone. `onYes` runs after the question is answered yes; either answer closes it.
export function ConfirmButton({
  opener,
  onYes,
  ...question
}: Omit<Parameters<typeof Confirm>[0], "onYes" | "onNo"> & { opener: string; onYes: () => void }) {
  const [open, setOpen] = useState(false);
  if (!open) {
    return (
      <button type="button" class="link" onClick={() => setOpen(true)}>
        {opener}
      </button>
    );
  }
  return (
    <Confirm
      {...question}
      onYes={() => {
        setOpen(false);
        onYes();
      }}
      onNo={() => setOpen(false)}
    />
  );
}
