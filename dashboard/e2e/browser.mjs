// The headless browser of the end-to-end tests: the system's Chromium
// (PICLOUD_CHROMIUM, default /usr/bin/chromium) driven by playwright-core.
// Every page records what a person would not see but the tests must:
// Content-Security-Policy violations (the event and the console's report),
// uncaught page errors, and when the sign-in form became usable.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

export function chromiumPath() {
  return process.env.PICLOUD_CHROMIUM || "/usr/bin/chromium";
}

export function haveChromium() {
  return existsSync(chromiumPath());
}

export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    timeout: 30000,
    // Running as root (containers, CI) needs --no-sandbox; the pages are our own.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
  });
}

// Runs in every page before its own scripts: records CSP violations, and the
// moment the sign-in form can be used (a password field that is enabled,
// inside a form with an enabled submit button), in ms since navigation start.
const PROBE = () => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(`${e.violatedDirective}: ${e.blockedURI || "inline"} (${e.sourceFile || ""}:${e.lineNumber || 0})`);
  });
  const usable = () => {
    const pw = document.querySelector('input[type="password"]');
    const form = pw && pw.closest("form");
    const submit = form && form.querySelector('button[type="submit"], button:not([type])');
    return !!(pw && !pw.disabled && submit && !submit.disabled);
  };
  const watch = new MutationObserver(() => {
    if (window.__signInUsableAt === undefined && usable()) {
      window.__signInUsableAt = performance.now();
      watch.disconnect();
    }
  });
  watch.observe(document, { childList: true, subtree: true, attributes: true });
};

/** A fresh browser context (no cookies) and page with the probes; `problems` collects what went wrong. */
export async function openPage(browser, { bypassCSP = false } = {}) {
  const context = await browser.newContext({ bypassCSP, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10000);
  context.setDefaultNavigationTimeout(15000);
  await context.addInitScript(PROBE);
  const page = await context.newPage();
  const problems = { csp: [], errors: [] };
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.csp.push(m.text());
  });
  page.on("pageerror", (e) => problems.errors.push(String(e)));
  return { context, page, problems };
}

/** The CSP violations the page's listener saw, with those the console reported. */
export async function cspViolations(page, problems, { clear = false } = {}) {
  const seen = await page
    .evaluate((reset) => {
      const list = window.__csp ?? [];
      if (reset) window.__csp = [];
      return list;
    }, clear)
    .catch(() => []);
  const logged = clear ? problems.csp.splice(0) : [...problems.csp];
  return [...seen, ...logged];
}

const require = createRequire(import.meta.url);

/**
 * Runs axe-core on the page and answers the serious and critical violations.
 * The page's CSP forbids inline scripts, so axe's source goes in through the
 * DevTools protocol's evaluate, which CSP does not govern.
 */
export async function axeViolations(page, { exclude = [] } = {}) {
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const result = await page.evaluate(
    (ex) => window.axe.run({ exclude: ex.map((s) => [s]) }, { resultTypes: ["violations"] }),
    exclude,
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
}
