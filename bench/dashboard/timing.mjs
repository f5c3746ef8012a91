// Times the dashboard in Debian's chromium (headless, playwright-core): from a reload of the page
// to the overview's numbers on screen, to the inventory's first page of rows, and to that page
// sorted by latest expiry. Prints one line per run, "overview <ms>", "inventory <ms>" or
// "latest <ms>".
// Environment: BASE, TOKEN, RUNS (default 5), SHOTS (screenshots), CHROMIUM.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const { chromium } = require("playwright-core");

const { BASE, TOKEN } = process.env;
const RUNS = Number(process.env.RUNS || 5);
const SHOTS = process.env.SHOTS || ".";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
  headless: true,
});
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(`${BASE}/`);
await page.fill("#token", TOKEN);
await page.click("button[type=submit]");
await page.waitForSelector("[data-total]", { timeout: 120_000 });

async function timed(hash, selector) {
  await page.goto(`${BASE}/#${hash}`);
  const t0 = Date.now();
  await page.reload();
  await page.waitForSelector(selector, { timeout: 120_000 });
  return Date.now() - t0;
}
for (let i = 0; i < RUNS; i++) console.log(`overview ${await timed("/", "[data-total]")}`);
await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });
for (let i = 0; i < RUNS; i++) console.log(`inventory ${await timed("/inventory", "tbody tr[data-fingerprint]")}`);
await page.screenshot({ path: `${SHOTS}/inventory.png`, fullPage: true });
for (let i = 0; i < RUNS; i++) console.log(`latest ${await timed("/inventory?sort=-not_after", "table:has(th[aria-sort=descending]) tbody tr[data-fingerprint]")}`);
console.log(`total ${await page.evaluate(() => document.querySelectorAll("tbody tr").length)} rows`);
await browser.close();
