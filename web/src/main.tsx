import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, type Identity } from "./api";
import { href, useRoute } from "./router";
import { session } from "./session";
import { Show, useLoad } from "./ui";
import { Certificate } from "./pages/Certificate";
import { Inventory } from "./pages/Inventory";
import { Overview } from "./pages/Overview";
import { SignIn } from "./pages/SignIn";
import "./style.css";

function useToken(): string | null {
  const [token, setToken] = useState(session.token());
  useEffect(() => session.subscribe(() => setToken(session.token())), []);
  return token;
}

const PAGES = [
  { path: "/", label: "Overview" },
  { path: "/inventory", label: "Inventory" },
] as const;

function Shell({ identity }: { identity: Identity }) {
  const route = useRoute();
  let page;
  if (route.path === "/" || route.path === "") page = <Overview />;
  else if (route.path === "/inventory") page = <Inventory route={route} />;
  else if (route.path.startsWith("/certificates/"))
    page = <Certificate fingerprint={decodeURIComponent(route.path.slice("/certificates/".length))} />;
  else
    page = (
      <main>
        <h1>Not found</h1>
        <p>There is no page {route.path}.</p>
      </main>
    );
  const section = route.path.startsWith("/certificates/") ? "/inventory" : route.path || "/";
  return (
    <>
      <header class="top">
        <a class="brand" href={href("/")}>
          certward
        </a>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p.path} href={href(p.path)} aria-current={section === p.path ? "page" : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <span class="who" data-role={identity.role}>
          {identity.principal} · {identity.role}
          {identity.team ? ` · ${identity.team}` : ""}
        </span>
        <button type="button" class="link" onClick={() => session.clear()}>
          Sign out
        </button>
      </header>
      {page}
    </>
  );
}

function App() {
  const token = useToken();
  const identity = useLoad(async () => (token ? get<Identity>("/whoami") : null), [token]);
  if (!token) return <SignIn />;
  return <Show loaded={identity}>{(id) => (id ? <Shell identity={id} /> : <SignIn />)}</Show>;
}

const root = document.getElementById("app");
if (root) render(<App />, root);
