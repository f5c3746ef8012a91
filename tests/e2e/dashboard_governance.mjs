// Checks of one area's pages, run by dashboard.mjs with its tabs, sign-in and checks.
//
// Governance: a compliance rule made, changed and deleted on the page, its violations against the
// API's; a replacement campaign previewed, planned, its items shown, cancelled and finished, and
// another started; a report shown and downloaded as CSV; and a requester, who gets none of the
// rule or campaign controls and whose page asks the API nothing it may not read.
//
// What the page changes must not change what later checks see: the rule is scoped to a tag only
// this file sets (and is deleted again), the campaign that takes a certificate is cancelled
// before it starts, and the one that is started takes nothing.

import { readFileSync } from "node:fs";

export async function run({ BASE, SHOTS, env, check, tab, signIn, settle }) {
  const ADMIN = env("ADMIN_TOKEN");
  const FP = env("REQUESTER_FP");
  const stamp = Date.now().toString(36);
  const TAG = `gov-e2e-${stamp}`;
  const RULE = `gov-e2e-ecdsa-${stamp}`;
  const until = (page, fn, arg, timeout = 15_000) => page.waitForFunction(fn, arg, { timeout }).then(() => true, () => false);

  const admin = await tab();
  const api = async (method, path, { token = ADMIN, body } = {}) => {
    const r = await admin.context.request.fetch(`${BASE}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      ...(body ? { data: JSON.stringify(body) } : {}),
    });
    return { status: r.status(), body: await r.json().catch(() => null) };
  };
  // Every violation the API lists for a query, following its cursors.
  const violations = async (query, token) => {
    const all = [];
    let cursor = "";
    for (let i = 0; i < 50; i++) {
      const r = await api("GET", `/policy/violations?limit=100${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
      if (r.status !== 200) return null;
      all.push(...r.body.items);
      if (!r.body.next_cursor) return all;
      cursor = r.body.next_cursor;
    }
    return null;
  };
  const campaign = async (id) => (await api("GET", `/campaigns/${id}`)).body;

  const before = (await api("GET", `/certificates/${FP}`)).body;
  let requesterTab = null;
  try {
    check(before?.fingerprint === FP, "governance: the requester's certificate is there to tag (API)");
    // The rule below binds this tag only: the requester's (P-256) certificate carries it.
    await api("PATCH", `/certificates/${FP}`, { body: { tags: [...(before?.tags ?? []), TAG] } });

    const { page, seen } = admin;
    page.setDefaultTimeout(15_000);
    await signIn(page, ADMIN);
    await page.goto(`${BASE}/#/governance`);
    await page.waitForSelector("[data-card=new-rule] input[name=rule_id]");

    // A rule made on the page is listed by the API with the members its kind takes.
    await page.fill("[data-card=new-rule] input[name=rule_id]", RULE);
    await page.selectOption("[data-card=new-rule] select[name=rule_kind]", "min_key_size");
    await page.fill("[data-card=new-rule] input[name=min_bits_ecdsa]", "384");
    await page.selectOption("[data-card=new-rule] select[name=rule_severity]", "medium");
    await page.fill("[data-card=new-rule] input[name=rule_tags]", TAG);
    await page.fill("[data-card=new-rule] input[name=rule_description]", "browser check <b>not bold</b>");
    await page.click("[data-card=new-rule] button[type=submit]");
    const made = await page.waitForSelector(`tr[data-rule='${RULE}']`, { timeout: 15_000 }).then(() => true, () => false);
    check(made, "governance: the new rule is listed on the page");
    const listed = (await api("GET", "/policy/rules")).body?.items?.find((r) => r.id === RULE);
    check(
      listed?.kind === "min_key_size" && listed?.min_bits?.ecdsa === 384 && listed?.severity === "medium" && listed?.tags?.join() === TAG && listed?.source === "api",
      "governance: the rule made on the page is listed by the API as made",
      JSON.stringify(listed),
    );
    check((await page.locator(`tr[data-rule='${RULE}'] b`).count()) === 0, "governance: a rule's description is shown as text");

    // Its violations on the page are the API's: the one tagged certificate, linked.
    await page.selectOption("select[name=violation_rule]", RULE);
    await until(page, (rule) => {
      const rows = [...document.querySelectorAll("tr[data-violation]")];
      return !document.querySelector("[data-card=violations] [aria-busy]") && rows.length > 0 && rows.every((r) => r.dataset.violation.startsWith(`${rule}:`));
    }, RULE);
    const apiRule = await violations(`&rule=${RULE}`);
    // The list may be drawn again (a second answer of the same filter): read it once it is still.
    let shown = [];
    for (let i = 0; i < 20; i++) {
      shown = await page.locator("tr[data-violation]").evaluateAll((trs) => trs.map((t) => t.dataset.violation));
      if (shown.length === apiRule?.length && shown[0] === `${RULE}:${FP}`) break;
      await page.waitForTimeout(250);
    }
    check(
      apiRule?.length === 1 && shown.length === apiRule.length && shown[0] === `${RULE}:${FP}`,
      "governance: the rule's violations on the page match the API's",
      `page ${shown.join(" ")}; API ${apiRule?.map((v) => `${v.rule}:${v.subject_id}`).join(" ")}; card: ${(await page.textContent("[data-card=violations]")).slice(0, 400)}`,
    );
    check((await page.getAttribute(`tr[data-violation='${RULE}:${FP}'] a`, "href")) === `#/certificates/${FP}`, "governance: a violation links to its certificate");
    await page.selectOption("select[name=violation_rule]", "");
    await until(page, () => !document.querySelector("[data-card=violations] [aria-busy]") && document.querySelector("[data-violations]"));
    const firstPage = (await api("GET", "/policy/violations?limit=100")).body;
    const onPage = Number(await page.getAttribute("[data-violations]", "data-violations"));
    check(firstPage && onPage === firstPage.items.length && (await page.locator("tr[data-violation]").count()) === onPage, "governance: the first page of all violations has the API's count", `${onPage} vs ${firstPage?.items?.length}`);

    // Edited on the page: the API has the new severity and still the kind's parameters.
    await page.click(`tr[data-rule='${RULE}'] button[data-action=edit]`);
    await page.selectOption(`[data-editing='${RULE}'] select[name=rule_severity]`, "critical");
    await page.click(`[data-editing='${RULE}'] button[type=submit]`);
    await until(page, (rule) => document.querySelector(`tr[data-rule='${rule}']`)?.dataset.severity === "critical", RULE);
    const edited = (await api("GET", `/policy/rules/${RULE}`)).body;
    check(edited?.severity === "critical" && edited?.min_bits?.ecdsa === 384 && edited?.tags?.join() === TAG, "governance: the rule edited on the page is replaced as edited (API)", JSON.stringify(edited));

    // A campaign previewed (nothing stored), planned, its items shown, cancelled after a
    // confirmation, and finished without revoking.
    const nameA = `gov-e2e-a-${stamp}`;
    await page.fill("input[name=campaign_name]", nameA);
    await page.fill("input[name=campaign_tag]", TAG);
    await page.click("text=Preview (dry run)");
    await page.waitForSelector("[data-preview]", { timeout: 15_000 }).catch(() => null);
    const previewed = await page.getAttribute("[data-preview]", "data-preview").catch(() => null);
    const stored = (await api("GET", "/campaigns?limit=1000")).body?.items ?? [];
    check(previewed === "1" && (await page.locator(`[data-preview] tr[data-item='${FP}']`).count()) === 1, "governance: the dry run lists the tagged certificate", String(previewed));
    check(!stored.some((c) => c.name === nameA), "governance: the dry run stored no campaign (API)");
    await page.click("[data-card=new-campaign] button[type=submit]");
    await page.waitForSelector("[data-planned]", { timeout: 15_000 }).catch(() => null);
    const idA = await page.getAttribute("[data-planned]", "data-planned").catch(() => null);
    const a = idA ? await campaign(idA) : null;
    check(a?.name === nameA && a?.state === "planned" && a?.selector?.tag === TAG && a?.counts?.total === 1, "governance: the campaign planned on the page is stored as planned (API)", JSON.stringify(a));
    const itemsShown = await page.waitForSelector(`[data-open='${idA}'] tr[data-item='${FP}']`, { timeout: 15_000 }).then(() => true, () => false);
    const apiItems = idA ? (await api("GET", `/campaigns/${idA}/items`)).body?.items ?? [] : [];
    check(itemsShown && apiItems.length === (await page.locator(`[data-open='${idA}'] tr[data-item]`).count()), "governance: the campaign's items are shown as the API lists them", `${apiItems.length} in the API`);
    check((await page.locator(`tr[data-campaign='${idA}'] button[data-action=pause]`).count()) === 0 && (await page.locator(`tr[data-campaign='${idA}'] button[data-action=start]`).count()) === 1, "governance: a planned campaign offers start, not pause");
    await page.screenshot({ path: `${SHOTS}/governance-campaigns.png`, fullPage: true });
    await page.click(`tr[data-campaign='${idA}'] button[data-action=cancel]`);
    // Given the time a cancellation without a question would take to arrive.
    const asked = await page.waitForSelector(`tr[data-campaign='${idA}'] [role=group]`, { timeout: 3_000 }).then(() => true, () => false);
    check(asked && (await campaign(idA))?.state === "planned", "governance: cancelling asks first and changes nothing yet");
    await page.click(`tr[data-campaign='${idA}'] button[data-action=cancel-confirm]`);
    await until(page, (id) => document.querySelector(`tr[data-campaign='${id}']`)?.dataset.state === "cancelled", idA);
    check((await campaign(idA))?.state === "cancelled", "governance: the campaign cancelled on the page is cancelled (API)");
    check((await page.locator(`tr[data-campaign='${idA}'] button[data-action=start]`).count()) === 0, "governance: a cancelled campaign offers no start");
    await page.click(`[data-finish='${idA}'] button[data-action=finish]`);
    await page.click(`[data-finish='${idA}'] button[data-action=finish-confirm]`);
    await until(page, (id) => document.querySelector(`tr[data-campaign='${id}']`)?.dataset.state === "finished", idA);
    const finished = await campaign(idA);
    check(finished?.state === "finished" && finished?.finish?.revoke === false, "governance: the campaign finished on the page is finished without revoking (API)", JSON.stringify(finished?.finish));
    check((await api("GET", `/certificates/${FP}`)).body?.status !== "revoked", "governance: its certificate is not revoked (API)");

    // Another, which takes nothing, started on the page.
    const nameB = `gov-e2e-b-${stamp}`;
    await page.fill("input[name=campaign_name]", nameB);
    await page.fill("input[name=campaign_tag]", `${TAG}-none`);
    await page.click("[data-card=new-campaign] button[type=submit]");
    await until(page, (id) => { const p = document.querySelector("[data-planned]"); return p && p.dataset.planned !== id; }, idA);
    const idB = await page.getAttribute("[data-planned]", "data-planned").catch(() => null);
    await page.waitForSelector(`tr[data-campaign='${idB}'] button[data-action=start]`, { timeout: 15_000 }).catch(() => null);
    await page.click(`tr[data-campaign='${idB}'] button[data-action=start]`).catch(() => null);
    await until(page, (id) => ["running", "completed"].includes(document.querySelector(`tr[data-campaign='${id}']`)?.dataset.state), idB);
    const b = idB && idB !== idA ? await campaign(idB) : null;
    check(b?.name === nameB && ["running", "completed"].includes(b?.state) && b?.started_at, "governance: the campaign started on the page runs (API)", JSON.stringify(b?.state));

    // A report: its section has the API's rows, and its CSV comes as a file.
    await page.selectOption("select[name=report_kind]", "violations");
    await page.click("[data-card=reports] button:text-is('Show')");
    const reported = await page.waitForSelector("[data-report=violations] [data-section=violations]", { timeout: 30_000 }).then(() => true, () => false);
    const rows = Number(await page.getAttribute("[data-section=violations]", "data-rows").catch(() => -1));
    const report = (await api("GET", "/reports/violations")).body;
    check(reported && rows === report?.sections?.violations?.length && rows >= 1, "governance: the violations report has the API's rows", `${rows} vs ${report?.sections?.violations?.length}`);
    check((await page.locator("[data-section=violations] td").allTextContents()).includes(RULE), "governance: the report names the rule");
    const [file] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }).catch(() => null), page.click("[data-download=csv]")]);
    const csv = file ? readFileSync(await file.path(), "utf8") : "";
    check(/^certward-violations-.*\.csv$/.test(file?.suggestedFilename() ?? "") && csv.split("\r\n")[0].includes("rule") && csv.includes(RULE), "governance: the report downloads as CSV", file?.suggestedFilename());
    check(!page.url().includes(ADMIN) && !(await page.content()).includes(ADMIN), "governance: the token is in no URL or page");
    await page.screenshot({ path: `${SHOTS}/governance.png`, fullPage: true });

    // A requester: its team's violations, no rules or campaigns, not even asked for.
    requesterTab = await tab();
    requesterTab.page.setDefaultTimeout(15_000);
    const asked2 = [];
    requesterTab.page.on("request", (r) => asked2.push(new URL(r.url()).pathname));
    await signIn(requesterTab.page, env("REQUESTER_TOKEN"));
    await requesterTab.page.goto(`${BASE}/#/governance`);
    await requesterTab.page.waitForSelector("[data-violations]", { timeout: 30_000 }).catch(() => null);
    const rp = requesterTab.page;
    const theirs = await violations("", env("REQUESTER_TOKEN"));
    const theirsShown = Number(await rp.getAttribute("[data-violations]", "data-violations").catch(() => -1));
    check(theirs && theirs.length >= 1 && theirsShown === theirs.length, "governance: a requester sees its team's violations as the API counts them", `${theirsShown} vs ${theirs?.length}`);
    check(
      (await rp.locator("[data-card=rules], [data-card=new-rule], [data-card=campaigns], [data-card=new-campaign], [data-action]").count()) === 0,
      "governance: a requester gets no rule or campaign controls",
    );
    check(!asked2.some((p) => /^\/api\/v1\/(policy\/rules|campaigns)/.test(p)), "governance: a requester's page asks for no rules or campaigns", asked2.filter((p) => p.startsWith("/api/")).join(" "));
    check((await rp.locator("[data-card=reports] select[name=report_kind]").count()) === 1, "governance: a requester may take reports");
    await rp.screenshot({ path: `${SHOTS}/governance-requester.png`, fullPage: true });
    await settle(rp, requesterTab.seen, "governance requester");

    // The rule deleted on the page, after a confirmation.
    await page.click(`tr[data-rule='${RULE}'] button[data-action=delete]`);
    const confirming = await page.waitForSelector(`tr[data-rule='${RULE}'] [role=group]`, { timeout: 3_000 }).then(() => true, () => false);
    check(confirming && (await api("GET", `/policy/rules/${RULE}`)).status === 200, "governance: deleting asks first and deletes nothing yet");
    await page.click(`tr[data-rule='${RULE}'] button[data-action=delete-confirm]`);
    const gone = await until(page, (rule) => !document.querySelector(`tr[data-rule='${rule}']`), RULE);
    check(gone && (await api("GET", `/policy/rules/${RULE}`)).status === 404, "governance: the rule deleted on the page is gone (API)");
    await settle(page, seen, "governance");
  } catch (e) {
    // A step that could not be taken fails here, and the other areas' checks still run.
    check(false, "governance: every step could be taken", String(e).split("\n")[0]);
  } finally {
    await api("DELETE", `/policy/rules/${RULE}`).catch(() => null);
    if (before) await api("PATCH", `/certificates/${FP}`, { body: { tags: before.tags } }).catch(() => null);
    await requesterTab?.context.close();
    await admin.context.close();
  }
}
