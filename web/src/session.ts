// The API token lives in this tab's sessionStorage only: never in a URL, never in a cookie
// that the browser would send on its own, gone when the tab closes.

const KEY = "certward.token";
let listeners: (() => void)[] = [];
// A tab opened from this one starts with a copy of its sessionStorage: signing out in one tells
// every tab of the dashboard in this browser to forget the token too.
const others = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("certward.session");
const forget = () => {
  if (sessionStorage.getItem(KEY) === null) return;
  sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
};
if (others) others.onmessage = (e: MessageEvent) => e.data === "signed-out" && forget();

export const session = {
  token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(KEY, token);
    listeners.forEach((l) => l());
  },
  clear(): void {
    forget();
  },
  // Sign out here and in every other tab of the dashboard.
  sign_out(): void {
    forget();
    others?.postMessage("signed-out");
  },
  subscribe(listener: () => void): () => void {
    listeners.push(listener);
    return () => {
      listeners = listeners.filter((l) => l !== listener);
    };
  },
};
