import { useState } from "preact/hooks";
import { ApiError, request, type Identity } from "../api";
import { session } from "../session";
import { Problem } from "../ui";

// A token is checked against /whoami before it is kept.
export function SignIn() {
  const [token, setToken] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const t = token.trim();
    if (!t) return;
    setBusy(true);
    setError(null);
    try {
      await request<Identity>("GET", "/whoami", { token: t });
      session.set(t);
    } catch (err) {
      setError(err instanceof Error ? err : new ApiError(0, "Sign-in failed", String(err)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <h1>certward</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          required
        />
        <p class="hint">
          The token is kept in this browser tab only, and sent to this server only. Tokens are
          made with <code>certward token create</code> or on the Tokens page.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {error && <Problem error={error} />}
    </main>
  );
}
