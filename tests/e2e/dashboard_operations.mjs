// Discovery, automation and the inventory's order, run by dashboard.mjs with its tabs, sign-in
// and checks: a scan started on the page and its report read place by place, a schedule kept
// and deleted, a managed certificate created, changed, renewed and deleted, the inventory sorted
// by latest expiry, and the overview's failures card. Each page's action is checked against
// what the API then holds.

export async function run({ BASE, SHOTS, env, check, tab, signIn, settle }) {
  const { context, page, seen } = await tab();
  const token = env("ADMIN_TOKEN");
  const call = async (method, path, body) => {
    const r = await context.request.fetch(`${BASE}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      data: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status(), body: r.status() === 204 ? null : await r.json().catch(() => null) };
  };
  const until = async (what, test, seconds = 20) => {
    for (let i = 0; i < seconds * 4; i++) {
      if (await test()) return true;
      await page.waitForTimeout(250);
    }
    console.log(`(waited ${seconds} s for ${what})`);
    return false;
  };
  await signIn(page, token);

  // The overview has its failures card, empty or not.
  check((await page.locator("[data-card=failures]").count()) === 1, "the overview shows renewal and deployment failures");

  // A scan of the server itself, started on the page; its report names the place and the leaf.
  const port = new URL(BASE).port;
  await page.goto(`${BASE}/#/discovery`);
  await page.waitForSelector("textarea[name=scan_targets]");
  await page.fill("textarea[name=scan_targets]", "127.0.0.1");
  await page.fill("input[name=scan_ports]", port);
  await page.click("[data-card=new-scan] button[type=submit]");
  await page.waitForSelector("[data-started]");
  const scanId = await page.getAttribute("[data-started]", "data-started");
  const done = await until("the scan", async () => (await call("GET", `/discovery/scans/${scanId}`)).body?.status === "done");
  check(done, "the scan started on the page runs to its end (API)");
  await page.click("[data-started] a");
  await page.waitForSelector(`tr[data-place='127.0.0.1:${port}']`, { timeout: 10_000 }).catch(() => {});
  const place = (await page.textContent(`tr[data-place='127.0.0.1:${port}']`).catch(() => "")) ?? "";
  const leaf = (await call("GET", `/discovery/scans/${scanId}`)).body?.report?.results?.find((r) => r.port === Number(port))?.leaf;
  check(place.includes("TLSv1.3") && !!leaf, "the report shows the place with its TLS version", place);
  check(
    leaf && (await page.locator(`tr[data-place='127.0.0.1:${port}'] a[href='#/certificates/${leaf}']`).count()) === 1,
    "the report links the leaf it found to its certificate page",
  );
  await page.screenshot({ path: `${SHOTS}/discovery-report.png`, fullPage: true });

  // A schedule kept from the same form, then deleted after a confirmation.
  await page.goto(`${BASE}/#/discovery`);
  await page.waitForSelector("textarea[name=scan_targets]");
  await page.fill("textarea[name=scan_targets]", "127.0.0.1");
  await page.fill("input[name=scan_ports]", "tls");
  await page.fill("input[name=schedule_name]", "nightly-e2e");
  await page.fill("input[name=schedule_interval]", "12h");
  await page.click("text=Save the schedule");
  await page.waitForSelector("tr[data-schedule=nightly-e2e]", { timeout: 10_000 }).catch(() => {});
  const kept = (await call("GET", "/discovery/schedules")).body?.items?.find((s) => s.name === "nightly-e2e");
  check(kept?.interval === "12h" && kept?.spec?.targets?.[0] === "127.0.0.1", "the schedule saved on the page is in the API", JSON.stringify(kept));
  await page.screenshot({ path: `${SHOTS}/discovery.png`, fullPage: true });
  await page.click("tr[data-schedule=nightly-e2e] >> text=Delete…");
  await page.click("tr[data-schedule=nightly-e2e] >> text=Keep");
  check((await call("GET", "/discovery/schedules")).body?.items?.some((s) => s.name === "nightly-e2e"), "a deletion not confirmed deletes nothing");
  await page.click("tr[data-schedule=nightly-e2e] >> text=Delete…");
  await page.click("tr[data-schedule=nightly-e2e] button.danger");
  await page.waitForSelector("tr[data-schedule=nightly-e2e]", { state: "detached", timeout: 10_000 }).catch(() => {});
  check(!(await call("GET", "/discovery/schedules")).body?.items?.some((s) => s.name === "nightly-e2e"), "the schedule deleted on the page is gone (API)");

  // A schedule name a URL would fold away is refused, and nothing is kept.
  await page.fill("textarea[name=scan_targets]", "127.0.0.1");
  await page.fill("input[name=schedule_name]", "..");
  await page.click("text=Save the schedule");
  await page.waitForSelector("[data-card=new-scan] .problem", { timeout: 10_000 }).catch(() => {});
  check(
    /400/.test((await page.textContent("[data-card=new-scan] .problem").catch(() => "")) ?? "") &&
      !(await call("GET", "/discovery/schedules")).body?.items?.some((s) => s.name === ".."),
    "a schedule named '..' is refused with the API's 400 and not kept",
  );

  // A managed certificate made on the page, issued by the reconciler, changed and renewed.
  await page.goto(`${BASE}/#/automation`);
  await page.click("text=New managed certificate…");
  await page.waitForSelector("input[name=managed_name]");
  await page.fill("input[name=managed_name]", "web-e2e");
  await page.fill("textarea[name=managed_sans]", "web-e2e.example.test");
  await page.fill("input[name=managed_tags]", "e2e");
  await page.click("[data-card=new-managed] button[type=submit]");
  await page.waitForSelector("[data-managed-name=web-e2e]", { timeout: 10_000 }).catch(() => {});
  const active = await until("web-e2e to be issued", async () => (await call("GET", "/managed/web-e2e")).body?.state === "active");
  check(active, "the managed certificate made on the page is issued (API)");
  await page.reload();
  await page.waitForSelector("tr[data-timeline=issued]", { timeout: 10_000 }).catch(() => {});
  check((await page.locator("tr[data-timeline=issued]").count()) >= 1, "its timeline shows the issuance");
  await page.click("text=Change…");
  await page.fill("[data-card=managed-edit] input[name=managed_tags]", "e2e, changed");
  await page.fill("[data-card=managed-edit] input[name=managed_owner]", "ops@example.test");
  await page.click("[data-card=managed-edit] button[type=submit]");
  const changed = await until("the change", async () => {
    const m = (await call("GET", "/managed/web-e2e")).body;
    return [...(m?.tags ?? [])].sort().join() === "changed,e2e" && m?.owner === "ops@example.test";
  }, 10);
  check(changed, "the change made on the page is in the API", JSON.stringify((await call("GET", "/managed/web-e2e")).body?.tags));
  const before = (await call("GET", "/managed/web-e2e")).body?.fingerprint;
  await page.waitForSelector("text=Renew now");
  await page.click("[data-card=managed-now] >> text=Renew now");
  const renewed = await until("the renewal", async () => {
    const m = (await call("GET", "/managed/web-e2e")).body;
    return m?.state === "active" && m?.fingerprint && m.fingerprint !== before;
  });
  check(renewed, "Renew now gives it a new certificate (API)");
  await page.reload();
  await page.waitForSelector("tr[data-timeline=renewed], tr[data-timeline=renew_requested]", { timeout: 10_000 }).catch(() => {});
  await page.screenshot({ path: `${SHOTS}/automation-managed.png`, fullPage: true });
  // Its certificate's page names the managed certificate that renews it, its chain up to the
  // root, and its audit trail.
  const current = (await call("GET", "/managed/web-e2e")).body?.fingerprint;
  await page.goto(`${BASE}/#/certificates/${current}`);
  await page.waitForSelector("[data-card=managed-of] a", { timeout: 10_000 }).catch(() => {});
  check((await page.getAttribute("[data-card=managed-of] a", "href").catch(() => null)) === "#/automation?managed=web-e2e", "the certificate page links its managed certificate");
  await page.waitForSelector("[data-chain=root]", { timeout: 10_000 }).catch(() => {});
  const chain = await page.locator("[data-chain]").evaluateAll((li) => li.map((l) => l.getAttribute("data-chain")));
  check(chain.join(" ") === "issuing root", "the chain goes from the issuing authority to the root", chain.join(" "));
  await page.waitForSelector("[data-card=certificate-audit] tbody tr", { timeout: 10_000 }).catch(() => {});
  const trail = await page.locator("[data-card=certificate-audit] tbody tr").allTextContents();
  check(trail.some((t) => t.includes("certificate.issue")), "its audit trail shows its issuance", trail.slice(0, 3).join(" | "));
  await page.screenshot({ path: `${SHOTS}/certificate-managed.png`, fullPage: true });
  // An owner that reverses what follows is spelled out beside its field.
  check((await call("PATCH", `/certificates/${current}`, { owner: "ops\u202emoc.elpmaxe" })).status === 200, "an owner with U+202E is set through the API");
  await page.reload();
  await page.waitForSelector("[data-card=edit] [data-spelled]", { timeout: 10_000 }).catch(() => {});
  const spelled = (await page.textContent("[data-card=edit] [data-spelled]").catch(() => "")) ?? "";
  check(spelled.includes("ops<U+202E>moc.elpmaxe"), "the owner field's reversing character is spelled out beside it", spelled);
  await page.goto(`${BASE}/#/automation?managed=web-e2e`);
  await page.waitForSelector("[data-managed-name=web-e2e]");
  await page.click("text=Delete…");
  await page.click("[aria-label='Confirm deletion'] button.danger");
  await page.waitForSelector("[role=status] >> text=Deleted", { timeout: 10_000 }).catch(() => {});
  const gone = await call("GET", "/managed?deleted=true");
  check(
    (await call("GET", "/managed")).body?.items?.every((m) => m.name !== "web-e2e") && gone.body?.items?.some((m) => m.name === "web-e2e"),
    "the managed certificate deleted on the page is no longer reconciled (API)",
  );

  // The inventory in the other order: the first row is the API's latest expiry.
  await page.goto(`${BASE}/#/inventory`);
  await page.waitForSelector("th[aria-sort=ascending] a");
  await page.click("th[aria-sort] a");
  await page.waitForSelector("th[aria-sort=descending]");
  await page.waitForFunction(() => location.hash.includes("sort=-not_after"));
  const latest = (await call("GET", "/certificates?sort=-not_after&limit=1")).body?.items?.[0]?.fingerprint;
  await page.waitForFunction((fp) => document.querySelector("tbody tr")?.getAttribute("data-fingerprint") === fp, latest, { timeout: 10_000 }).catch(() => {});
  check((await page.getAttribute("tbody tr", "data-fingerprint")) === latest, "sorted by latest expiry, the first row is the API's", latest);
  await settle(page, seen, "discovery, automation and order");
  await context.close();
}
