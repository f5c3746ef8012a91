import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, type Identity } from "./api";
import { href, useRoute } from "./router";
import { session } from "./session";
import { Show, display, useLoad } from "./ui";
import { can, type Permission } from "./roles";
import { Audit } from "./pages/Audit";
import { Authorities } from "./pages/Authorities";
import { Certificate } from "./pages/Certificate";
import { Inventory } from "./pages/Inventory";
import { Issue } from "./pages/Issue";
import { Overview } from "./pages/Overview";
import { Acme } from "./pages/Acme";
import { Alerts } from "./pages/Alerts";
import { Approvals } from "./pages/Approvals";
import { Automation } from "./pages/Automation";
import { Discovery } from "./pages/Discovery";
import { Governance } from "./pages/Governance";
import { People } from "./pages/People";
import { SignIn } from "./pages/SignIn";
import { Tokens } from "./pages/Tokens";
import "./style.css";

function useToken(): string | null {
  const [token, setToken] = useState(session.token());
  useEffect(() => session.subscribe(() => setToken(session.token())), []);
  return token;
}

// The pages, each shown to the roles that may use it (the API refuses the others anyway).
const PAGES: { path: string; label: string; needs?: Permission }[] = [
  { path: "/", label: "Overview" },
  { path: "/inventory", label: "Inventory" },
  { path: "/issue", label: "Issue", needs: "issue" },
  { path: "/authorities", label: "Authorities" },
  { path: "/discovery", label: "Discovery", needs: "scan" },
  { path: "/automation", label: "Automation", needs: "read_inventory" },
  { path: "/alerts", label: "Alerts", needs: "read_inventory" },
  { path: "/governance", label: "Governance", needs: "read_inventory" },
  { path: "/approvals", label: "Approvals", needs: "read_inventory" },
  { path: "/acme", label: "ACME", needs: "read_catalog" },
  { path: "/audit", label: "Audit", needs: "read_audit" },
  { path: "/people", label: "Teams and principals", needs: "read_principals" },
  { path: "/tokens", label: "Tokens", needs: "read_principals" },
];

function Shell({ identity }: { identity: Identity }) {
  const route = useRoute();
  const allowed = (path: string) => {
    const needs = PAGES.find((p) => p.path === path)?.needs;
    return !needs || can(identity.role, needs);
  };
  let page;
  if (!allowed(route.path))
    page = (
      <main>
        <h1>Not available</h1>
        <p>A {identity.role} token cannot use this page.</p>
      </main>
    );
  else if (route.path === "/" || route.path === "") page = <Overview identity={identity} />;
  else if (route.path === "/inventory") page = <Inventory route={route} identity={identity} />;
  else if (route.path === "/issue") page = <Issue identity={identity} />;
  else if (route.path === "/authorities") page = <Authorities identity={identity} />;
  else if (route.path === "/audit") page = <Audit route={route} />;
  else if (route.path === "/tokens") page = <Tokens identity={identity} />;
  else if (route.path === "/people") page = <People identity={identity} />;
  else if (route.path === "/discovery") page = <Discovery scan={route.params.get("scan") ?? ""} />;
  else if (route.path === "/automation") page = <Automation identity={identity} state={route.params.get("state") ?? ""} managed={route.params.get("managed") ?? ""} />;
  else if (route.path === "/approvals") page = <Approvals identity={identity} />;
  else if (route.path === "/alerts") page = <Alerts identity={identity} />;
  else if (route.path === "/governance") page = <Governance identity={identity} />;
  else if (route.path === "/acme") page = <Acme identity={identity} />;
  else if (/^\/certificates\/[0-9a-fA-F]{64}$/.test(route.path))
    page = <Certificate fingerprint={route.path.slice("/certificates/".length).toLowerCase()} identity={identity} />;
  else
    page = (
      <main>
        <h1>Not found</h1>
        <p>There is no page {display(route.path)}.</p>
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
          {PAGES.filter((p) => allowed(p.path)).map((p) => (
            <a key={p.path} href={href(p.path)} aria-current={section === p.path ? "page" : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <span class="who" data-role={identity.role}>
          {identity.principal} · {identity.role}
          {identity.team ? ` · ${identity.team}` : ""}
        </span>
        <button type="button" class="link" onClick={() => session.sign_out()}>
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
