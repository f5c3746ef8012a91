// Checks of one area's pages, run by dashboard.mjs with its tabs, sign-in and checks: the ACME
// page (directories, EAB keys shown once), the alerts page (silences made and ended), and the
// client-certificate mappings of the people page, each checked against what the API then says;
// and a requester, who is shown none of the administrators' controls.
import { X509Certificate } from "node:crypto";

export async function run({ BASE, SHOTS, env, check, tab, signIn, settle }) {
  // A name no earlier run of this server has used, so that the checks hold when run again.
  const suffix = Date.now().toString(36);

  // 1. An administrator.
  {
    const { context, page, seen } = await tab();
    const call = async (method, path, body, token = env("ADMIN_TOKEN")) => {
      const r = await context.request.fetch(`${BASE}/api/v1${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        data: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {}
      return { status: r.status(), body: json };
    };
    await signIn(page, env("ADMIN_TOKEN"));

    // ACME: a directory made on the page is served and is in the API.
    const dir = `e2e-${suffix}`;
    await page.goto(`${BASE}/#/acme`);
    await page.waitForSelector("table[aria-label='ACME directories']");
    check((await page.locator("tr[data-directory='']").count()) === 1, "the default ACME directory is listed");
    await page.waitForSelector("input[name=directory_name]");
    await page.fill("input[name=directory_name]", dir);
    await page.check("input[name=directory_profile][value=tls-server]");
    await page.fill("input[name=directory_tos]", "https://pki.example.test/tos");
    await page.fill("input[name=directory_caa]", "pki.example.test");
    check(await page.isChecked("input[name=directory_eab]"), "a new directory requires EAB unless unticked");
    await page.click("[data-card=directory-form] button[type=submit]");
    const made = await page.waitForSelector(`tr[data-directory='${dir}']`, { timeout: 10_000 }).then(() => true, () => false);
    check(made, "the directory made on the page is listed");
    const apiDir = await call("GET", `/acme/directories/${dir}`);
    check(
      apiDir.status === 200 &&
        apiDir.body?.external_account_required === true &&
        apiDir.body?.profiles?.join() === "tls-server" &&
        apiDir.body?.terms_of_service === "https://pki.example.test/tos" &&
        apiDir.body?.caa_identities?.join() === "pki.example.test" &&
        apiDir.body?.configured === false,
      "the directory made on the page is in the API with its settings",
      JSON.stringify(apiDir),
    );
    const shownUrl = (await page.textContent(`tr[data-directory='${dir}'] code`)) ?? "";
    check(shownUrl === `${BASE}/acme/${dir}/directory`, "the page shows the directory's URL", shownUrl);
    const served = await context.request.get(shownUrl).then(async (r) => (r.ok() ? await r.json() : null), () => null);
    check(served?.meta?.externalAccountRequired === true && typeof served?.newAccount === "string", "the URL shown serves an ACME directory that requires EAB", JSON.stringify(served));

    // An EAB key: shown once, with how a client uses it; listed afterwards without its secret.
    const description = `e2e <img src=x onerror="window.__pwned=9"> ${suffix}`;
    await page.selectOption("select[name=eab_team]", "payments");
    await page.selectOption("select[name=eab_directory]", dir);
    await page.fill("input[name=eab_description]", description);
    await page.click("[data-card=create-eab] button[type=submit]");
    await page.waitForSelector("[data-eab-secret]");
    const kid = ((await page.textContent("[data-eab-kid]")) ?? "").trim();
    const hmac = ((await page.textContent("[data-eab-secret]")) ?? "").trim();
    check(/^eab-[0-9a-f]+$/.test(kid) && /^[A-Za-z0-9_-]{32,}$/.test(hmac), "the new EAB key's kid and HMAC key are shown", `${kid} ${hmac.length}`);
    const usage = (await page.textContent("[data-card=new-eab] pre")) ?? "";
    check(usage.includes(`--eab-kid ${kid} --eab-hmac-key ${hmac}`) && usage.includes(`${BASE}/acme/${dir}/directory`), "the page shows a certbot line with the key and the directory's URL", usage.slice(0, 200));
    check((await page.locator("[data-card=create-eab]").count()) === 0, "no second key is offered while one is shown");
    let listed = await call("GET", "/acme/eab?team=payments");
    const key = listed.body?.items?.find((k) => k.kid === kid);
    check(key?.directory === dir && key?.team === "payments" && key?.description === description && key?.revoked_at === null, "the EAB key made on the page is in the API", JSON.stringify(key));
    check(listed.body?.items?.every((k) => !("hmac_key" in k)) && !JSON.stringify(listed.body).includes(hmac), "the API lists EAB keys without their HMAC keys");
    await page.click("text=I have stored it");
    await page.waitForSelector(`tr[data-eab='${kid}']`);
    check((await page.locator("[data-eab-secret]").count()) === 0 && !(await page.content()).includes(hmac), "the HMAC key is gone from the page once stored");
    await page.reload();
    await page.waitForSelector(`tr[data-eab='${kid}']`);
    check(!(await page.content()).includes(hmac), "the HMAC key is not shown again after a reload");
    const row = (await page.textContent(`tr[data-eab='${kid}']`)) ?? "";
    check(row.includes(description) && (await page.locator("[data-card=eab] img").count()) === 0, "the key's description is shown as text", row);
    check((await page.evaluate(() => window.__pwned)) === undefined, "no script from a description ran");
    await page.screenshot({ path: `${SHOTS}/acme.png`, fullPage: true });

    // Revoked on the page, then the directory deleted: a cancel first changes nothing.
    await page.click(`tr[data-eab='${kid}'] button`);
    await page.click(`tr[data-eab='${kid}'] button.danger`);
    await page.waitForFunction((k) => document.querySelector(`tr[data-eab='${k}']`)?.textContent?.includes("revoked"), kid, { timeout: 10_000 }).catch(() => {});
    listed = await call("GET", "/acme/eab?team=payments");
    check(listed.body?.items?.find((k) => k.kid === kid)?.revoked_at != null, "the EAB key revoked on the page is revoked in the API");
    await page.click(`tr[data-directory='${dir}'] >> text=Delete…`);
    await page.click(`tr[data-directory='${dir}'] button.secondary`);
    check((await call("GET", `/acme/directories/${dir}`)).status === 200, "a cancelled deletion leaves the directory");
    await page.click(`tr[data-directory='${dir}'] >> text=Delete…`);
    await page.click(`tr[data-directory='${dir}'] button.danger`);
    const gone = await page.waitForSelector(`tr[data-directory='${dir}']`, { state: "detached", timeout: 10_000 }).then(() => true, () => false);
    check(gone && (await call("GET", `/acme/directories/${dir}`)).status === 404, "the directory deleted on the page is gone from the API");

    // Alerts: the page lists what the API lists; a silence made on the page is in the API and ended again.
    await page.goto(`${BASE}/#/alerts`);
    await page.waitForSelector("[data-alerts-shown]");
    const apiAlerts = await call("GET", "/alerts?limit=50");
    const shown = Number(await page.getAttribute("[data-alerts-shown]", "data-alerts-shown"));
    check(apiAlerts.status === 200 && shown === apiAlerts.body.items.length && (await page.locator("tr[data-alert]").count()) === shown, "the alerts page lists the API's alerts", `${shown} vs ${apiAlerts.body?.items?.length}`);
    const rules = await call("GET", "/alerts/rules");
    const rulesText = (await page.textContent("[data-card=alert-rules]")) ?? "";
    check(rules.status === 200 && rulesText.includes(`${rules.body.thresholds.join(", ")} days`), "the alert rules are shown as the API gives them", rulesText.slice(0, 120));
    const fp = env("REQUESTER_FP");
    const reason = `e2e <b>silence</b> ${suffix}`;
    await page.check("input[name=silence_scope][value=certificate]");
    await page.fill("input[name=silence_certificate]", fp.slice(0, 16));
    await page.fill("input[name=silence_until]", "3d");
    await page.fill("input[name=silence_reason]", reason);
    await page.click("[data-card=new-silence] button[type=submit]");
    await page.waitForSelector("[data-silence-made]");
    const sid = await page.getAttribute("[data-silence-made]", "data-silence-made");
    let silences = await call("GET", "/alerts/silences");
    const s = silences.body?.items?.find((x) => x.id === sid);
    const days = s ? (Date.parse(s.until) - Date.now()) / 86_400_000 : 0;
    check(s?.fingerprint === fp && s?.reason === reason && s?.reach === "all" && days > 2.9 && days <= 3, "the silence made on the page is in the API", JSON.stringify(s));
    await page.waitForSelector(`tr[data-silence='${sid}']`);
    check(((await page.textContent(`tr[data-silence='${sid}']`)) ?? "").includes(reason) && (await page.locator(`tr[data-silence='${sid}'] b`).count()) === 0, "the silence's reason is shown as text");
    await page.screenshot({ path: `${SHOTS}/alerts.png`, fullPage: true });
    // Ended by keyboard: the confirmation takes the focus to its Cancel; Shift+Tab reaches End now.
    await page.focus(`tr[data-silence='${sid}'] button.link`);
    await page.keyboard.press("Enter");
    const onCancel = await page
      .waitForFunction(() => document.activeElement?.textContent === "Cancel", null, { timeout: 5_000 })
      .then(() => true, () => false);
    check(onCancel, "a confirmation puts the focus on Cancel", await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80)));
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Enter");
    const ended = await page.waitForSelector(`tr[data-silence='${sid}']`, { state: "detached", timeout: 10_000 }).then(() => true, () => false);
    silences = await call("GET", "/alerts/silences");
    check(ended && silences.status === 200 && !silences.body.items.some((x) => x.id === sid), "the silence ended on the page is gone from the API");

    // People: a client certificate mapped to alice by its PEM, another by a fingerprint in
    // openssl's notation; one removed on the page; each checked against the API's list.
    const download = await context.request.get(`${BASE}/api/v1/certificates/${fp}/download?format=pem`, { headers: { Authorization: `Bearer ${env("ADMIN_TOKEN")}` } });
    const pem = await download.text();
    check(download.ok() && new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase() === fp, "the certificate to map is downloaded");
    const other = env("HOSTILE_FP");
    await page.goto(`${BASE}/#/people`);
    await page.waitForSelector("textarea[name=mapping_certificate]");
    await page.selectOption("select[name=mapping_principal]", "alice");
    await page.fill("textarea[name=mapping_certificate]", pem);
    await page.click("[data-card=new-mapping] button[type=submit]");
    await page.waitForSelector(`[data-mapped='${fp}']`, { timeout: 10_000 }).catch(() => {});
    await page.waitForSelector(`tr[data-mapping='${fp}']`, { timeout: 10_000 }).catch(() => {});
    check((await page.getAttribute(`tr[data-mapping='${fp}']`, "data-mapping-principal").catch(() => null)) === "alice", "the certificate mapped by its PEM is listed for alice");
    await page.fill("textarea[name=mapping_certificate]", `sha256 Fingerprint=${other.toUpperCase().match(/../g).join(":")}`);
    await page.click("[data-card=new-mapping] button[type=submit]");
    await page.waitForSelector(`tr[data-mapping='${other}']`, { timeout: 10_000 }).catch(() => {});
    check((await page.locator(`tr[data-mapping='${other}'][data-mapping-principal=alice]`).count()) === 1, "a fingerprint in openssl's notation is mapped");
    const again = await call("POST", "/principals/alice/certificates", { fingerprint: fp });
    const mapped = (await call("GET", "/principals/alice/certificates")).body?.items?.map((m) => m.fingerprint) ?? [];
    check(again.status === 409 && mapped.includes(fp) && mapped.includes(other), "the mappings made on the page are in the API", `${again.status} ${mapped.join(" ")}`);
    await page.screenshot({ path: `${SHOTS}/people-mappings.png`, fullPage: true });
    await page.click(`tr[data-mapping='${fp}'] >> text=Remove…`);
    await page.click(`tr[data-mapping='${fp}'] button.danger`);
    const unmapped = await page.waitForSelector(`tr[data-mapping='${fp}']`, { state: "detached", timeout: 10_000 }).then(() => true, () => false);
    const removeAgain = await call("DELETE", `/principals/alice/certificates/${fp}`);
    const left = (await call("GET", "/principals/alice/certificates")).body?.items?.map((m) => m.fingerprint) ?? [];
    check(unmapped && removeAgain.status === 404 && !left.includes(fp) && left.includes(other), "the mapping removed on the page is gone from the API", `${removeAgain.status} ${left.join(" ")}`);
    check((await call("DELETE", `/principals/alice/certificates/${other}`)).status === 204, "the mapping by fingerprint was in the API (removed through it)");
    await page.reload();
    await page.waitForSelector("[data-card=mappings] table, [data-card=mappings] .empty");
    check((await page.locator(`tr[data-mapping='${fp}'], tr[data-mapping='${other}']`).count()) === 0, "neither mapping is listed after a reload");
    check(seen.dialogs.length === 0, "no dialog opened", seen.dialogs.join("; "));
    await settle(page, seen, "ACME, alerts and mappings");
    await context.close();
  }

  // 2. A requester: directories to read, silences of its own team; no EAB key, directory or
  // mapping control, and no request for what it may not read.
  {
    const { context, page, seen } = await tab();
    const asked = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith("/api/")) asked.push(u.pathname);
    });
    await signIn(page, env("REQUESTER_TOKEN"));
    // What these pages ask, not the overview's.
    asked.length = 0;
    await page.goto(`${BASE}/#/acme`);
    await page.waitForSelector("table[aria-label='ACME directories']");
    const controls = await page.locator("[data-card=directory-form], [data-card=eab], [data-card=create-eab], [data-directory] button").count();
    check(controls === 0, "a requester sees no directory or EAB key controls", `${controls} found`);
    await page.goto(`${BASE}/#/alerts`);
    await page.waitForSelector("[data-card=silences]");
    check((await page.locator("[data-card=alert-rules]").count()) === 0, "a requester sees no alert rules");
    check((await page.locator("[data-card=new-silence] form").count()) === 1, "a requester may silence (edit_inventory)");
    await page.check("input[name=silence_scope][value=team]");
    check((await page.inputValue("input[name=silence_team]")) === "payments" && (await page.getAttribute("input[name=silence_team]", "readonly")) !== null, "a requester silences its own team only");
    await page.goto(`${BASE}/#/people`);
    await page.waitForSelector("main h1");
    check((await page.textContent("main h1")) === "Not available" && (await page.locator("[data-mapping], [data-card=new-mapping]").count()) === 0, "a requester has no mapping controls");
    const refused = asked.filter((p) => /\/acme\/eab|\/alerts\/rules|\/audit\/|\/principals|\/teams/.test(p));
    check(refused.length === 0, "a requester's pages ask nothing it may not read", refused.join(" "));
    await settle(page, seen, "requester's ACME and alerts");
    await context.close();
  }
}
