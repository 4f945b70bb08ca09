// Run axe-core on every HTML page of the rendered book and fail on serious or
// critical violations. Usage: node scripts/a11y-check.mjs _book
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright";
import { AxeBuilder } from "@axe-core/playwright";

const root = resolve(process.argv[2] ?? "_book");
const pages = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== "site_libs") walk(p); }
    else if (name.endsWith(".html")) pages.push(p);
  }
})(root);

const browser = await chromium.launch();
let failures = 0;
for (const file of pages) {
  for (const scheme of ["light", "dark"]) {
    const page = await browser.newPage({ colorScheme: scheme });
    await page.goto(pathToFileURL(file).href);
    const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
    const bad = result.violations.filter((v) => ["serious", "critical"].includes(v.impact));
    for (const v of bad) {
      failures += 1;
      console.log(`${file} [${scheme}]: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.length} element(s)`);
    }
    await page.close();
  }
}
await browser.close();
console.log(`axe-core: ${pages.length} page(s), ${failures} serious/critical violation(s)`);
process.exit(failures ? 1 : 0);
