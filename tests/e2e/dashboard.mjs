// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core)
// against a real `certward serve`: what a person does, checked against what the API says.
//
// Environment (set by tests/integration/dashboard_browser_test.sh):
//   BASE             https URL of the server
//   ADMIN_TOKEN      an admin token; REQUESTER_TOKEN a requester's of team "payments"
//   ADMIN_TOTAL, REQUESTER_TOTAL   the certificates each may see, as the API counts them
//   HOSTILE_FP       fingerprint of an imported certificate whose names are HTML and script
//   REQUESTER_FP     a certificate of the requester's team
//   BIDI_FP          an imported certificate whose CN holds U+202E (right-to-left override)
//   CSR_FILE         a PEM CSR for app.example.test, issued through the Issue page
//   SHOTS            where screenshots go
//   CHROMIUM         the browser (default /usr/bin/chromium)
// Prints one "ok"/"FAIL" line per check and exits non-zero if any failed.

import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const { chromium } = require("playwright-core");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env("BASE");
const SHOTS = env("SHOTS");
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'none'";
mkdirSync(SHOTS, { recursive: true });

let failures = 0;
const check = (ok, what, detail = "") => {
  console.log(`${ok ? "ok" : "FAIL"}: ${what}${ok || !detail ? "" : ` (${detail})`}`);
  if (!ok) failures++;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // The test may run as root, where chromium's sandbox cannot start.
  args: ["--no-sandbox"],
  headless: true,
});

// A fresh tab with everything a check needs to see: CSP violations, page errors, dialogs (an
// alert() from hostile content), and the headers of every dashboard file.
async function tab() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const seen = { csp: [], errors: [], dialogs: [], missingCsp: [] };
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) seen.csp.push(m.text());
  });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("dialog", async (d) => {
    seen.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on("response", (r) => {
    const url = new URL(r.url());
    if (url.origin !== new URL(BASE).origin || url.pathname.startsWith("/api/")) return;
    if (r.headers()["content-security-policy"] !== CSP) seen.missingCsp.push(url.pathname);
  });
  return { context, page, seen };
}

async function signIn(page, token) {
  await page.goto(`${BASE}/`);
  await page.waitForSelector("#token");
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  try {
    await page.waitForSelector("[data-total]", { timeout: 30_000 });
    // The other cards load on their own: wait until none is loading.
    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 30_000 });
  } catch (e) {
    await page.screenshot({ path: `${SHOTS}/sign-in-failed.png`, fullPage: true });
    throw new Error(`no overview after sign-in: ${(await page.textContent("main").catch(() => "")) ?? ""}`);
  }
}

async function settle(page, seen, what) {
  const violations = await page.evaluate(() => window.__csp);
  check(violations.length === 0 && seen.csp.length === 0, `${what}: no CSP violation`, [...violations, ...seen.csp].join("; "));
  check(seen.errors.length === 0, `${what}: no script error`, seen.errors.join("; "));
  check(seen.missingCsp.length === 0, `${what}: every dashboard response has the CSP`, seen.missingCsp.join(" "));
}

// 1. An administrator.
{
  const { context, page, seen } = await tab();
  await page.goto(`${BASE}/`);
  await page.waitForSelector("#token");
  await page.screenshot({ path: `${SHOTS}/sign-in.png` });
  // A wrong token is refused with the API's problem, and nothing is kept.
  await page.fill("#token", "cwt_0000000000000000_wrong");
  await page.click("button[type=submit]");
  await page.waitForSelector(".problem");
  check((await page.textContent(".problem")).includes("401"), "a wrong token is refused with the API's 401");
  check((await page.evaluate(() => sessionStorage.getItem("certward.token"))) === null, "a refused token is not kept");

  const t0 = Date.now();
  await signIn(page, env("ADMIN_TOKEN"));
  console.log(`time: the overview rendered ${Date.now() - t0} ms after sign-in`);
  check((await page.getAttribute("[data-total]", "data-total")) === env("ADMIN_TOTAL"), "overview total matches the API", await page.getAttribute("[data-total]", "data-total"));
  check((await page.locator("[data-card=audit]").count()) === 1, "an administrator sees the audit trail");
  check(!page.url().includes(env("ADMIN_TOKEN")), "the token is not in the URL");
  await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });

  // The inventory: search, then open the certificate found.
  await page.click("nav a[href='#/inventory']");
  await page.waitForSelector("table[aria-label=Certificates]");
  await page.screenshot({ path: `${SHOTS}/inventory.png`, fullPage: true });
  await page.fill("input[name=search]", "pwned");
  await page.click("form[role=search] button[type=submit]");
  // The whole inventory was listed before: wait for the search's answer to replace it.
  const found = await page
    .waitForFunction(() => location.hash.includes("search=pwned") && document.querySelectorAll("tbody tr").length === 1, null, { timeout: 10_000 })
    .then(() => true, () => false);
  check(found, "the search finds the one certificate", `${await page.locator("tbody tr").count()} rows`);
  // The subject as the API gives it (RFC 4514, where '<' and '>' are escaped): as text, exactly.
  const hostileSubject = env("HOSTILE_SUBJECT");
  const listed = await page.textContent(`tr[data-fingerprint='${env("HOSTILE_FP")}'] td.subject-cell`);
  check(listed === hostileSubject, "a subject with a script element is listed as text", listed);
  await page.click(`tr[data-fingerprint='${env("HOSTILE_FP")}'] a`);
  await page.waitForSelector("h1.subject");
  const subject = await page.textContent("h1.subject");
  check(subject === hostileSubject, "the certificate page shows the subject as text", subject);
  const names = await page.textContent("[data-card=fields]");
  check(names.includes("<b>bold</b>") && names.includes("javascript:"), "its names are shown as text");
  check((await page.evaluate(() => window.__pwned)) === undefined, "no script from the certificate ran");
  check(seen.dialogs.length === 0, "no dialog opened", seen.dialogs.join("; "));
  check((await page.locator("[data-card=fields] script, [data-card=fields] img, [data-card=fields] b").count()) === 0, "no element was made from the certificate's text");
  await page.screenshot({ path: `${SHOTS}/certificate-hostile.png`, fullPage: true });

  // A name that reverses what follows it is shown with the control character spelled out.
  // Only the hash changes, so the hostile certificate's heading is still there until the
  // page has rendered the new one: wait for the new one, not for any heading.
  await page.goto(`${BASE}/#/certificates/${env("BIDI_FP")}`);
  await page
    .waitForFunction(() => (document.querySelector("h1.subject")?.textContent ?? "").includes("bidi"), null, { timeout: 10_000 })
    .catch(() => {});
  const bidi = await page.textContent("h1.subject");
  check(bidi.includes("<U+202E>") && !bidi.includes("\u202e"), "a right-to-left override in a name is shown as <U+202E>", bidi);

  // Addresses that are not a fingerprint are not found, and ask the API for nothing.
  for (const bad of ["%", "%E0%A4%A", "..", ".", "..%2F..%2Fapi"]) {
    const asked = [];
    const onRequest = (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith("/api/") && u.pathname !== "/api/v1/whoami") asked.push(u.pathname);
    };
    // Counted from the reload on: the certificate page shown before may still be asking for
    // its chain, renewal and audit trail when the address changes.
    await page.goto(`${BASE}/#/certificates/${bad}`);
    await page.waitForSelector("main h1");
    page.on("request", onRequest);
    await page.reload();
    await page.waitForSelector("main h1");
    check((await page.textContent("main h1")) === "Not found" && asked.length === 0, `#/certificates/${bad} is not found and asks the API nothing`, asked.join(" "));
    page.off("request", onRequest);
  }
  await settle(page, seen, "administrator");

  // Issue from a CSR, find it in the inventory, revoke it and see its status change.
  const api = async (path, token = env("ADMIN_TOKEN")) => {
    const r = await context.request.get(`${BASE}/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: r.status(), body: r.ok() ? await r.json() : null };
  };
  await page.click("nav a[href='#/issue']");
  await page.waitForSelector("textarea[name=csr]");
  await page.selectOption("select[name=profile]", "tls-server");
  await page.fill("textarea[name=csr]", readFileSync(env("CSR_FILE"), "utf8"));
  await page.screenshot({ path: `${SHOTS}/issue.png`, fullPage: true });
  await page.click("form.form button[type=submit]");
  await page.waitForSelector("[data-issued]");
  const issued = await page.getAttribute("[data-issued]", "data-issued");
  check((await api(`/certificates/${issued}`)).status === 200, "the certificate issued from the CSR is in the inventory (API)");
  await page.goto(`${BASE}/#/inventory?search=app.example.test`);
  const listedIssued = await page
    .waitForSelector(`tr[data-fingerprint='${issued}']`, { timeout: 10_000 })
    .then(() => true, () => false);
  check(listedIssued, "the issued certificate is found in the inventory");
  await page.click(`tr[data-fingerprint='${issued}'] a`);
  await page.waitForSelector("[data-card=revoke]");
  await page.selectOption("select[name=reason]", "keyCompromise");
  await page.click("text=Revoke…");
  await page.click("text=Revoke now");
  const revoked = await page
    .waitForFunction(() => document.querySelector("main p .status")?.textContent === "revoked", null, { timeout: 10_000 })
    .then(() => true, () => false);
  check(revoked, "after revocation the page shows it revoked");
  const after = await api(`/certificates/${issued}`);
  check(after.body?.status === "revoked" && after.body?.revocation_reason === "keyCompromise", "the API has it revoked for key compromise", JSON.stringify(after.body?.status));
  check((await page.locator("[data-card=revoke]").count()) === 0, "a revoked certificate offers no revocation");
  await page.screenshot({ path: `${SHOTS}/certificate-revoked.png`, fullPage: true });

  // Owner and tags edited on the certificate page.
  await page.goto(`${BASE}/#/certificates/${env("REQUESTER_FP")}`);
  await page.waitForSelector("[data-card=edit] input[name=owner]");
  await page.fill("[data-card=edit] input[name=owner]", "alice@example.test");
  await page.fill("[data-card=edit] input[name=tags]", "prod, web");
  await page.click("[data-card=edit] button[type=submit]");
  await page.waitForSelector("[data-card=edit] [role=status]");
  const edited = await api(`/certificates/${env("REQUESTER_FP")}`);
  check(edited.body?.owner === "alice@example.test" && edited.body?.tags?.join(",") === "prod,web", "owner and tags are saved (API)", JSON.stringify([edited.body?.owner, edited.body?.tags]));

  // Two rows selected and tagged at once; then every certificate of that tag revoked through
  // the API's bulk revocation, its dry run first.
  await page.goto(`${BASE}/#/inventory?search=bulk.example.test`);
  await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 2, null, { timeout: 10_000 });
  await page.check("thead input[type=checkbox]");
  await page.fill("input[name=bulk_tag]", "bulk-e2e");
  await page.click("text=Add tag");
  await page.waitForSelector("[data-bulk-done]");
  check((await page.getAttribute("[data-bulk-done]", "data-bulk-done")) === "2", "both selected certificates are tagged");
  const tagged = await api("/certificates?tag=bulk-e2e");
  check(tagged.body?.items?.length === 2, "the API lists both under the tag", String(tagged.body?.items?.length));
  // Revoking the selection first lists what it would revoke; cancelled, nothing is.
  await page.click("text=Revoke selected…");
  const listed2 = await page.locator("[data-confirm-list] li").allTextContents();
  check(listed2.length === 2 && listed2.every((t) => t.includes("bulk.example.test")), "the revocation's confirmation lists the two", listed2.join(" | "));
  await page.click("[aria-label='Confirm revocation'] button.secondary");
  // Another search starts with nothing selected.
  await page.goto(`${BASE}/#/inventory?search=app.example.test`);
  // The rows of the previous search stay until the new answer replaces them: wait for it.
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll("tbody tr");
    return rows.length > 0 && [...rows].every((r) => r.textContent.includes("app.example.test"));
  }, null, { timeout: 10_000 }).catch(() => {});
  check((await page.locator("[data-card=bulk]").count()) === 0 && (await page.locator("tbody input[type=checkbox]:checked").count()) === 0, "another search starts with nothing selected");
  await page.goto(`${BASE}/#/inventory?search=bulk.example.test`);
  await page.waitForSelector("[data-card=revoke-selection]");
  await page.fill("input[name=sel_tag]", "bulk-e2e");
  await page.click("text=Dry run");
  await page.waitForSelector("[data-dry-run]");
  check((await page.getAttribute("[data-dry-run]", "data-dry-run")) === "2", "the dry run matches the two");
  check((await api("/certificates?tag=bulk-e2e&status=revoked")).body?.items?.length === 0, "the dry run revoked nothing");
  await page.screenshot({ path: `${SHOTS}/inventory-bulk.png`, fullPage: true });
  await page.click("[data-dry-run] button.danger");
  await page.waitForSelector("[data-revoked]");
  check((await api("/certificates?tag=bulk-e2e&status=revoked")).body?.items?.length === 2, "both are revoked after the confirmation");

  // A token is shown once, works, and is listed without its secret afterwards.
  await page.click("nav a[href='#/tokens']");
  await page.waitForSelector("select[name=principal]");
  await page.selectOption("select[name=principal]", "alice");
  await page.fill("input[name=ttl]", "1d");
  await page.fill("input[name=description]", "made in the browser");
  await page.click("form.form button[type=submit]");
  await page.waitForSelector("[data-secret]");
  const secret = (await page.textContent("[data-secret]")).trim();
  await page.screenshot({ path: `${SHOTS}/token-created.png`, fullPage: true });
  const who = await api("/whoami", secret);
  check(secret.startsWith("cwt_") && who.body?.principal === "alice", "the new token works for its principal", secret.slice(0, 8));
  await page.click("text=I have stored it");
  await page.reload();
  await page.waitForSelector("table[aria-label=Tokens]");
  check((await page.locator("[data-secret]").count()) === 0, "the secret is not shown again");
  check((await page.content()).includes(secret) === false, "the secret is nowhere in the page");
  check((await page.locator(`tr[data-token='${secret.split("_")[1]}']`).count()) === 1, "the new token is listed");

  // A team and a principal made on the administration page, then the principal disabled.
  await page.click("nav a[href='#/people']");
  await page.waitForSelector("input[name=team_name]");
  await page.fill("input[name=team_name]", "ops");
  await page.fill("input[name=team_profiles]", "tls-server");
  await page.fill("input[name=team_domains]", "ops.example.test");
  await page.click("[data-card=new-team] button[type=submit]");
  await page.waitForSelector("tr[data-team=ops]");
  await page.fill("input[name=principal_name]", "bob");
  await page.selectOption("select[name=principal_team]", "ops");
  await page.click("[data-card=new-principal] button[type=submit]");
  await page.waitForSelector("tr[data-principal=bob]");
  await page.click("tr[data-principal=bob] button");
  await page.waitForFunction(() => document.querySelector("tr[data-principal=bob]")?.textContent?.includes("disabled"), null, { timeout: 10_000 });
  const bob = (await api("/principals")).body?.items?.find((p) => p.name === "bob");
  check(bob?.role === "requester" && bob?.team === "ops" && bob?.disabled === true, "the principal made on the page is a disabled requester of ops (API)", JSON.stringify(bob));
  const ops = (await api("/teams")).body?.items?.find((t) => t.name === "ops");
  check(ops?.allowed_domains?.join() === "ops.example.test" && ops?.allowed_profiles?.join() === "tls-server", "the team made on the page has its grants (API)", JSON.stringify(ops));
  await page.screenshot({ path: `${SHOTS}/people.png`, fullPage: true });

  // The hierarchy as a tree; the audit chain verifies.
  await page.click("nav a[href='#/authorities']");
  await page.waitForSelector("[data-authority=root] [data-authority=issuing]");
  check(true, "the issuing authority is shown under the root");
  const crlNumber = (await api("/authorities/issuing")).body?.crl?.number;
  check(
    crlNumber !== undefined && (await page.locator(`[data-authority=issuing] > .node [data-crl='${crlNumber}']`).count()) === 1,
    "the issuing authority's current CRL is shown as the API gives it",
    String(crlNumber),
  );
  const ocsp = (await api("/authorities/issuing/ocsp")).body;
  await page.waitForSelector("[data-authority=issuing] > .node [data-ocsp]", { timeout: 10_000 }).catch(() => {});
  check(
    ocsp?.answered === true && (await page.getAttribute("[data-authority=issuing] > .node [data-ocsp]", "data-ocsp").catch(() => null)) === (ocsp?.signer ?? "none"),
    "the issuing authority's OCSP state is shown as the API gives it",
    JSON.stringify(ocsp),
  );
  await page.screenshot({ path: `${SHOTS}/authorities.png`, fullPage: true });
  await page.click("nav a[href='#/audit']");
  await page.waitForSelector("table[aria-label='Audit events']");
  await page.click("text=Verify the chain");
  await page.waitForSelector("[data-verified]");
  check((await page.getAttribute("[data-verified]", "data-verified")) === "ok", "the audit chain verifies");
  await page.screenshot({ path: `${SHOTS}/audit.png`, fullPage: true });
  // Discovery, automation and approvals show what the API holds.
  await page.click("nav a[href='#/discovery']");
  await page.waitForSelector("tr[data-scan]", { timeout: 10_000 }).catch(() => {});
  check((await page.locator("tr[data-scan]").count()) >= 1, "the scan is listed");
  await page.screenshot({ path: `${SHOTS}/discovery.png`, fullPage: true });
  await page.click("nav a[href='#/automation']");
  await page.waitForSelector("tr[data-managed=web1]");
  check(true, "the managed certificate is listed");
  await page.screenshot({ path: `${SHOTS}/automation.png`, fullPage: true });
  await page.click("nav a[href='#/approvals']");
  await page.waitForSelector("main .empty, table[aria-label='Approval requests']");
  check((await page.textContent("main h1")) === "Approval requests", "the approvals page answers");
  await settle(page, seen, "administrator's actions");

  // A token's description is outside text like any other: spelled out, never reversing.
  const described = await context.request.post(`${BASE}/api/v1/tokens`, {
    headers: { Authorization: `Bearer ${env("ADMIN_TOKEN")}`, "Content-Type": "application/json" },
    data: JSON.stringify({ principal: "alice", ttl: "1h", description: "ops \u202egnp.exe" }),
  });
  const describedId = (await described.json()).id;
  await page.goto(`${BASE}/#/tokens`);
  await page.waitForSelector(`tr[data-token='${describedId}']`);
  const row = await page.textContent(`tr[data-token='${describedId}']`);
  check(row.includes("<U+202E>gnp.exe") && !row.includes("\u202e"), "a token's description is spelled out", row);

  // Addresses with "." or ".." ask the API for nothing they did not mean.
  for (const hash of ["/automation?managed=..", "/automation?managed=.", "/discovery?scan=..", "/automation?managed=%2e%2e"]) {
    const asked = [];
    const onRequest = (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith("/api/") && !/^\/api\/v1\/(whoami|managed|discovery\/scans)$/.test(u.pathname)) asked.push(u.pathname);
    };
    page.on("request", onRequest);
    await page.goto(`${BASE}/#${hash}`);
    await page.reload();
    await page.waitForSelector(".problem", { timeout: 10_000 }).catch(() => {});
    await page.waitForTimeout(300);
    page.off("request", onRequest);
    check(asked.length === 0 && (await page.locator(".problem").count()) >= 1, `#${hash} is refused in the page and asks the API nothing else`, asked.join(" "));
  }

  // Signing out forgets the token, in a tab opened from this one too.
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector("[data-total]");
  const [other] = await Promise.all([context.waitForEvent("page"), page.evaluate(() => window.open(location.href))]);
  await other.waitForSelector("[data-total]", { timeout: 30_000 });
  await page.click("text=Sign out");
  await page.waitForSelector("#token");
  check((await page.evaluate(() => sessionStorage.getItem("certward.token"))) === null, "signing out forgets the token");
  const otherOut = await other.waitForSelector("#token", { timeout: 5_000 }).then(() => true, () => false);
  check(otherOut && (await other.evaluate(() => sessionStorage.getItem("certward.token"))) === null, "the tab opened from it is signed out too");
  await other.close();
  await context.close();
}

// 2. A requester of team "payments": its own certificates only, and no audit trail.
{
  const { context, page, seen } = await tab();
  await signIn(page, env("REQUESTER_TOKEN"));
  check((await page.getAttribute("[data-total]", "data-total")) === env("REQUESTER_TOTAL"), "a requester's overview counts its team's certificates only", await page.getAttribute("[data-total]", "data-total"));
  check((await page.locator("[data-card=audit]").count()) === 0, "a requester sees no audit trail");
  const links = await page.locator("header nav a").allTextContents();
  check(!links.includes("Tokens") && !links.includes("Audit") && !links.includes("Teams and principals") && links.includes("Issue"), "a requester's menu has no administration pages", links.join(" "));
  await page.goto(`${BASE}/#/tokens`);
  await page.waitForSelector("main h1");
  check((await page.textContent("main h1")) === "Not available", "the tokens page is not available to a requester");
  await page.screenshot({ path: `${SHOTS}/overview-requester.png`, fullPage: true });
  await page.goto(`${BASE}/#/inventory`);
  await page.waitForSelector("table[aria-label=Certificates], .empty");
  const rows = await page.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-fingerprint")));
  check(rows.includes(env("REQUESTER_FP")) && !rows.includes(env("HOSTILE_FP")), "a requester lists its team's certificates and not others'", rows.join(" "));
  await page.goto(`${BASE}/#/certificates/${env("HOSTILE_FP")}`);
  await page.waitForSelector(".problem");
  check(/404/.test(await page.textContent(".problem")), "another team's certificate is not found for a requester");
  await settle(page, seen, "requester");
  await context.close();
}

// 3. By keyboard alone, at 200 % zoom (a 1280x800 window seen as 640x400 CSS pixels): sign in
// with Tab and Enter, reach the inventory through the menu, and nothing is wider than the window.
{
  const { context, page, seen } = await tab();
  await page.setViewportSize({ width: 640, height: 400 });
  await page.goto(`${BASE}/`);
  await page.waitForSelector("#token");
  await page.keyboard.press("Tab");
  check((await page.evaluate(() => document.activeElement?.id)) === "token", "Tab reaches the token field first");
  await page.keyboard.type(env("ADMIN_TOKEN"));
  await page.keyboard.press("Enter");
  await page.waitForSelector("[data-total]", { timeout: 30_000 });
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = (await page.evaluate(() => document.activeElement?.getAttribute("href"))) === "#/inventory";
  }
  check(reached, "the menu's Inventory link is reached with Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("tbody tr");
  for (const [name, hash] of [["inventory", "/inventory"], ["overview", "/"]]) {
    await page.goto(`${BASE}/#${hash}`);
    await page.waitForSelector(hash === "/" ? "[data-total]" : "tbody tr");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `the ${name} fits at 200 % zoom`, `${overflow}px too wide`);
  }
  await page.screenshot({ path: `${SHOTS}/overview-zoom200.png`, fullPage: true });
  await settle(page, seen, "keyboard");
  await context.close();
}

// 4. A phone-sized window: the pages still lay out.
{
  const { context, page, seen } = await tab();
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, env("ADMIN_TOKEN"));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, "the overview fits a phone's width", `${overflow}px too wide`);
  await page.screenshot({ path: `${SHOTS}/overview-phone.png`, fullPage: true });
  // Every page, on the phone and at 200 % zoom of a 1280x800 window: nothing wider than the window.
  for (const [width, height] of [[390, 844], [640, 400]]) {
    await page.setViewportSize({ width, height });
    for (const hash of ["/inventory", "/issue", "/authorities", "/discovery", "/automation", "/alerts", "/governance", "/approvals", "/acme", "/audit", "/people", "/tokens", `/certificates/${env("REQUESTER_FP")}`]) {
      await page.goto(`${BASE}/#${hash}`);
      await page.waitForSelector("main h1");
      await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 15_000 }).catch(() => {});
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(wide <= 0, `#${hash} fits ${width} px`, `${wide}px too wide`);
    }
  }
  await settle(page, seen, "phone");
  await context.close();
}

// 5. The pages of each area, checked by their own files (tests/e2e/dashboard_*.mjs), each with
// the same tabs, sign-in and checks.
for (const area of ["governance", "acme_alerts", "operations"]) {
  const { run } = await import(`./dashboard_${area}.mjs`);
  await run({ BASE, SHOTS, env, check, tab, signIn, settle });
}

await browser.close();
console.log(`${failures === 0 ? "all checks passed" : `${failures} failed`}`);
process.exit(failures === 0 ? 0 : 1);
