// Run axe-core (WCAG 2.0 + 2.1, levels A and AA) on every HTML page of the
// rendered book, once in the light and once in the dark theme, and fail on
// serious or critical violations.
//
// Usage:   node scripts/a11y-check.mjs [_book]
// Needs:   npm install --no-save playwright@1 @axe-core/playwright@4
//
// Environment:
//   CHROMIUM_PATH or PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH
//            use this Chromium binary instead of Playwright's own download
//            (e.g. /usr/bin/chromium from Debian's "chromium" package)
//   A11Y_SELECTORS   how many element selectors to print per violation (3)
//
// The dark pass switches the theme the way a reader does: it clicks Quarto's
// own light/dark toggle (.quarto-color-scheme-toggle), falling back to calling
// window.quartoToggleColorScheme(), which is what the toggle's onclick does.
// (The browser's prefers-color-scheme alone does not switch a Quarto site; and
// for file:// pages Quarto keeps the choice in memory, not in localStorage, so
// every page is switched on its own.) The pass then checks that <body> has the
// class "quarto-dark", that the alternate (dark) Bootstrap stylesheet is
// enabled and loaded, and that the page background really is dark; if not, the
// page counts as a failure instead of being checked in the wrong theme.
//
// Exit status: 0 = no serious/critical violations; 1 = serious/critical
// violations, a page that failed to load, or a theme switch that did not work;
// 2 = usage error (no pages found, browser could not start).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright";
import { AxeBuilder } from "@axe-core/playwright";

const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const FAIL_IMPACTS = new Set(["serious", "critical"]);
const THEMES = ["light", "dark"];
const MAX_SELECTORS = Number(process.env.A11Y_SELECTORS ?? 3);

const root = resolve(process.argv[2] ?? "_book");
if (!existsSync(root) || !statSync(root).isDirectory()) {
  console.error(`a11y-check: ${root} is not a directory (render the book first)`);
  process.exit(2);
}
const pages = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "site_libs" && name !== "node_modules") walk(p);
    } else if (name.endsWith(".html")) pages.push(p);
  }
})(root);
if (!pages.length) {
  console.error(`a11y-check: no .html files under ${root}`);
  process.exit(2);
}

const executablePath =
  process.env.CHROMIUM_PATH || process.env.PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH || undefined;
let browser;
try {
  browser = await chromium.launch(executablePath ? { executablePath } : {});
} catch (err) {
  console.error(`a11y-check: could not start Chromium${executablePath ? ` (${executablePath})` : ""}: ${err.message}`);
  console.error("Set CHROMIUM_PATH to a Chromium binary, or run `npx playwright install chromium`.");
  process.exit(2);
}

// --- theme switching -------------------------------------------------------

// State of Quarto's colour scheme machinery on the current page.
function themeState(page) {
  return page.evaluate(() => {
    const alt = document.querySelector("link#quarto-bootstrap.quarto-color-alternate");
    const rgb = (getComputedStyle(document.body).backgroundColor.match(/[\d.]+/g) || []).map(Number);
    const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    const transparent = rgb.length === 4 && rgb[3] === 0;
    return {
      hasScheme: typeof window.quartoToggleColorScheme === "function" || !!alt,
      dark: document.body.classList.contains("quarto-dark"),
      light: document.body.classList.contains("quarto-light"),
      altEnabled: !!alt && alt.rel === "stylesheet",
      altLoaded: !!alt && alt.rel === "stylesheet" && !!alt.sheet,
      // relative luminance of the page background (a transparent body shows white)
      bgLuminance:
        rgb.length >= 3 && !transparent
          ? 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
          : 1,
    };
  });
}

async function clickToggle(page) {
  const toggle = page.locator(".quarto-color-scheme-toggle").filter({ visible: true }).first();
  if ((await toggle.count()) === 0) return false;
  await toggle.click();
  return true;
}

// Puts the page in `scheme`; returns { how } or { error } or { skip }.
async function applyTheme(page, scheme) {
  let s = await themeState(page);
  if (!s.hasScheme) {
    return scheme === "light"
      ? { how: "no light/dark toggle on this page" }
      : { skip: "page has no light/dark toggle (only one theme)" };
  }
  const want = scheme === "dark";
  let how = "default";
  if (s.dark !== want) {
    if (await clickToggle(page)) {
      how = "clicked .quarto-color-scheme-toggle";
      await page
        .waitForFunction((d) => document.body.classList.contains("quarto-dark") === d, want, { timeout: 2000 })
        .catch(() => {});
    }
    s = await themeState(page);
    if (s.dark !== want) {
      await page.evaluate(() => window.quartoToggleColorScheme && window.quartoToggleColorScheme());
      how = (how ? `${how}, then ` : "") + "window.quartoToggleColorScheme()";
    }
  }
  try {
    await page.waitForFunction(
      (wantDark) => {
        const body = document.body;
        const alt = document.querySelector("link#quarto-bootstrap.quarto-color-alternate");
        if (body.classList.contains("quarto-dark") !== wantDark) return false;
        if (wantDark && (!alt || alt.rel !== "stylesheet" || !alt.sheet)) return false;
        const rgb = (getComputedStyle(body).backgroundColor.match(/[\d.]+/g) || []).map(Number);
        if (rgb.length === 4 && rgb[3] === 0) return !wantDark; // transparent body = white
        const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
        const L = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
        return wantDark ? L < 0.2 : L > 0.4;
      },
      want,
      { timeout: 10000 },
    );
  } catch {
    s = await themeState(page);
    return {
      error:
        `could not switch to the ${scheme} theme (tried: ${how || "nothing"}); ` +
        `body class quarto-dark=${s.dark}, quarto-light=${s.light}, ` +
        `dark stylesheet enabled=${s.altEnabled} loaded=${s.altLoaded}, ` +
        `background luminance=${s.bgLuminance.toFixed(2)}`,
    };
  }
  // let fonts and any colour transitions settle before measuring contrast
  await page.evaluate(() => document.fonts && document.fonts.ready);
  await page.evaluate(
    () => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => {}))),
  );
  return { how };
}

// --- main loop -------------------------------------------------------------

let serious = 0; // serious/critical violations (rule x page x theme)
let minor = 0; // moderate/minor violations, reported only
let errors = 0; // pages that failed to load or to switch theme
let checked = 0;
const skipped = [];
const byRule = new Map();

for (const scheme of THEMES) {
  const context = await browser.newContext({
    colorScheme: scheme,
    viewport: { width: 1280, height: 900 },
  });
  for (const file of pages) {
    const rel = relative(root, file);
    const page = await context.newPage();
    try {
      await page.goto(pathToFileURL(file).href, { waitUntil: "load", timeout: 60000 });
      const t = await applyTheme(page, scheme);
      if (t.skip) {
        skipped.push(`${rel} [${scheme}]: ${t.skip}`);
        console.log(`${rel} [${scheme}]: skipped, ${t.skip}`);
        continue;
      }
      if (t.error) {
        errors += 1;
        console.log(`${rel} [${scheme}]: ERROR ${t.error}`);
        continue;
      }
      const result = await new AxeBuilder({ page }).withTags(TAGS).analyze();
      checked += 1;
      const v = result.violations;
      const nBad = v.filter((x) => FAIL_IMPACTS.has(x.impact)).length;
      console.log(
        `${rel} [${scheme}${t.how !== "default" ? `: ${t.how}` : ""}]: ` +
          (v.length ? `${v.length} violation(s), ${nBad} serious/critical` : "no violations"),
      );
      for (const x of v) {
        const bad = FAIL_IMPACTS.has(x.impact);
        if (bad) serious += 1;
        else minor += 1;
        const key = `${x.id} (${x.impact})`;
        byRule.set(key, (byRule.get(key) ?? 0) + x.nodes.length);
        const sel = x.nodes.slice(0, MAX_SELECTORS).map((n) => n.target.join(" >>> "));
        const more = x.nodes.length > sel.length ? `, … (+${x.nodes.length - sel.length})` : "";
        console.log(
          `  ${bad ? "FAIL" : "warn"} ${x.id} (${x.impact}) ×${x.nodes.length}: ${x.help}\n` +
            `       ${sel.join(", ")}${more}`,
        );
      }
    } catch (err) {
      errors += 1;
      console.log(`${rel} [${scheme}]: ERROR ${err.message.split("\n")[0]}`);
    } finally {
      await page.close();
    }
  }
  await context.close();
}
await browser.close();

console.log("");
if (byRule.size) {
  console.log("Elements per rule (all pages and themes):");
  for (const [k, n] of [...byRule].sort((a, b) => b[1] - a[1])) console.log(`  ${k}: ${n}`);
}
console.log(
  `axe-core (${TAGS.join(", ")}): ${pages.length} page(s) x ${THEMES.length} themes, ` +
    `${checked} checked, ${skipped.length} skipped, ${errors} error(s); ` +
    `${serious} serious/critical and ${minor} moderate/minor violation(s)`,
);
process.exit(serious || errors ? 1 : 0);
