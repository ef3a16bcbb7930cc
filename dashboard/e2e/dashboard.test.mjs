// The dashboard end to end, in a real headless Chromium against a real
// picloud serving it at /admin/: what an operator does, found on the page by
// role and label as a person would. The steps build on each other (the app
// made in one is used by the next), so they run in order in one browser.
//
//   npm run e2e          (after `npm run build`, with PICLOUD_BINARY etc.;
//                         see server.mjs and browser.mjs for the variables)
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { axeViolations, cspViolations, haveChromium, launch, openPage } from "./browser.mjs";
import { OWNER, PiCloud, locate, until } from "./server.mjs";

const where = locate();
const skip = !where.exists
  ? where.explicit
    ? false // named but missing: let start-up fail loudly
    : `no picloud binary at ${where.binary} (set PICLOUD_BINARY)`
  : !haveChromium() && !process.env.PICLOUD_CHROMIUM
    ? "no Chromium (install Debian's chromium or set PICLOUD_CHROMIUM)"
    : false;

const APP = { slug: "shop", host: "shop.localhost" };
const VIEWER = { username: "vera", password: "viewer of the shop 9407" };

// A script that compiles, and the same with an unknown name on line 3, column 11.
const GOOD = 'void handle(request@ req, response@ res) {\n  res.text("hello from the shop");\n}\n';
const BAD = 'void handle(request@ req, response@ res) {\n  res.text("hello from the shop");\n  int x = nothing_here;\n}\n';

describe("dashboard", { skip }, () => {
  let server;
  let browser;
  let page;
  let problems;
  const pages = []; // every page opened, checked for CSP violations after each step

  before(async () => {
    server = await PiCloud.start();
    browser = await launch();
    ({ page, problems } = await openPage(browser));
    pages.push({ page, problems });
  });

  after(async () => {
    // Both always go, whatever failed before.
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  afterEach(async () => {
    for (const p of pages) {
      if (p.page.isClosed()) continue;
      // Each problem is reported by the step that caused it, and only there.
      const seen = await cspViolations(p.page, p.problems, { clear: true });
      const errors = p.problems.errors.splice(0);
      assert.deepEqual(seen, [], "Content-Security-Policy violations");
      assert.deepEqual(errors, [], "uncaught errors in the page");
    }
  });

  // A test step; when it fails, every open page is saved as a screenshot
  // (and its HTML) under PICLOUD_E2E_ARTIFACTS, when that is set.
  function step(name, fn) {
    it(name, { timeout: 120000 }, async (t) => {
      try {
        await fn(t);
      } catch (e) {
        const dir = process.env.PICLOUD_E2E_ARTIFACTS;
        if (dir) {
          mkdirSync(dir, { recursive: true });
          const base = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
          for (const [i, p] of pages.entries()) {
            if (p.page.isClosed()) continue;
            await p.page.screenshot({ path: join(dir, `${base}-${i}.png`), fullPage: true }).catch(() => {});
            writeFileSync(join(dir, `${base}-${i}.html`), await p.page.content().catch(() => ""));
          }
        }
        throw e;
      }
    });
  }

  /** The dashboard path `p` (under /admin). */
  const url = (p = "/") => new URL(p.replace(/^\//, ""), server.url).href;

  async function signIn(pg, { username, password }) {
    await pg.goto(url("/"));
    await pg.getByLabel("Username").fill(username);
    await pg.getByLabel("Password").fill(password);
    await pg.getByRole("button", { name: "Sign in" }).click();
    await pg.getByRole("heading", { name: "Apps", level: 1 }).waitFor();
  }

  /** Opens one of the app's tabs by its link. */
  async function openTab(pg, name) {
    await pg.getByRole("navigation", { name: /sections/ }).getByRole("link", { name, exact: true }).click();
  }

  async function replaceEditorText(pg, text) {
    const editor = pg.locator(".cm-content");
    await editor.click();
    await pg.keyboard.press("ControlOrMeta+a");
    // Pasted, as a person would bring code in: no typed characters for
    // auto-indentation or bracket closing to act on.
    await editor.evaluate((el, t) => {
      const data = new DataTransfer();
      data.setData("text/plain", t);
      el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, text);
    const last = text.trim().split("\n").slice(-2)[0].trim();
    await until("the pasted text in the editor", async () => (await editor.textContent()).includes(last));
  }

  async function assertAxe(pg, what) {
    const found = await axeViolations(pg);
    assert.deepEqual(found, [], `serious or critical accessibility violations on ${what}`);
  }

  step("serves the sign-in page quickly, with the dashboard's headers", async (t) => {
    const res = await fetch(url("/"));
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");

    const started = Date.now();
    await page.goto(url("/"));
    const usable = await page.waitForFunction(() => window.__signInUsableAt, null, { timeout: 15000 });
    const tti = await usable.jsonValue();
    const wall = Date.now() - started;
    const assets = await page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .filter((r) => /\/admin\/assets\//.test(r.name))
        .map((r) => ({ name: r.name.split("/").pop(), transfer: r.transferSize, body: r.encodedBodySize })),
    );
    const bytes = assets.reduce((n, a) => n + a.body, 0);
    const line =
      `time to interactive for /admin (navigation start → sign-in form usable): ${tti.toFixed(0)} ms ` +
      `(${wall} ms as seen by the test); assets loaded for sign-in: ${assets.length} files, ${bytes} bytes as sent`;
    t.diagnostic(line);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await assertAxe(page, "the sign-in page");
  });

  step("signs the owner in", async () => {
    await signIn(page, OWNER);
    await assertAxe(page, "the apps page");
  });

  step("creates an app", async () => {
    await page.getByRole("button", { name: "New app" }).click();
    const dialog = page.getByRole("dialog", { name: "New app" });
    await dialog.getByLabel("Slug").fill(APP.slug);
    await until("the hostname proposed", async () => (await dialog.getByLabel("Hostnames").inputValue()) === APP.host);
    await dialog.getByRole("button", { name: "Create app" }).click();
    await page.getByRole("heading", { name: APP.slug, level: 1 }).waitFor();
    const apps = await server.admin("GET", "/apps");
    assert.deepEqual(apps.items.map((a) => a.slug), [APP.slug]);
  });

  step("shows a compile error at its line, then saves the fixed script", async () => {
    await openTab(page, "Scripts");
    await page.getByRole("button", { name: "New script" }).click();
    const dialog = page.getByRole("dialog", { name: "New script" });
    await dialog.getByLabel("Script name").fill("greet");
    await dialog.getByRole("button", { name: "Create script" }).click();
    await page.locator(".cm-content").waitFor();

    await replaceEditorText(page, BAD);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    // The message names line 3, column 11 ...
    const messages = page.getByRole("region", { name: "Compiler messages" });
    await messages.getByText(/line 3, column 11/).first().waitFor();
    await messages.getByText(/nothing_here/).first().waitFor();
    // ... and the editor marks that line (lines are counted from 1).
    const line3 = page.locator(".cm-content .cm-line").nth(2);
    await line3.locator(".cm-lintRange-error, .cm-lintPoint-error").first().waitFor();
    assert.equal(await page.locator(".cm-content .cm-line").nth(1).locator(".cm-lintRange-error").count(), 0);
    const stored = await server.admin("GET", `/apps/${APP.slug}/scripts/greet`);
    assert.equal(stored.version, 1, "a script that does not compile is not saved");
    // Checked now, with the error shown; reported at the end, so that the script is fixed either way.
    const axeFound = await axeViolations(page);

    await replaceEditorText(page, GOOD);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await until("the fixed script saved", async () => (await server.admin("GET", `/apps/${APP.slug}/scripts/greet`)).version === 2);
    await until("the compile error gone", async () => (await messages.count()) === 0);
    const saved = await server.admin("GET", `/apps/${APP.slug}/scripts/greet`);
    assert.equal(saved.source, GOOD);
    assert.deepEqual(axeFound, [], "serious or critical accessibility violations on the script editor");
  });

  step("binds a route and calls it", async () => {
    await openTab(page, "Routes");
    await page.getByRole("button", { name: "New route" }).click();
    const dialog = page.getByRole("dialog", { name: "New route" });
    await dialog.getByLabel("Path").fill("/hello");
    await dialog.getByLabel("Script").selectOption("greet");
    await dialog.getByRole("button", { name: "Create route" }).click();
    await page.getByRole("cell", { name: "/hello", exact: true }).waitFor();
    const res = await server.app(APP.host, "/hello");
    assert.equal(res.status, 200);
    assert.equal(res.text, "hello from the shop");
  });

  step("shows the execution in the log", async () => {
    await openTab(page, "Executions");
    // The run's record is written a moment after it ended; the log refreshes.
    await until(
      "the route's run listed",
      async () => {
        const rows = page.getByRole("row").filter({ hasText: "route" });
        if ((await rows.count()) > 0) return true;
        const refresh = page.getByRole("button", { name: "Refresh" });
        if (await refresh.isVisible()) await refresh.click();
        return false;
      },
      { timeoutMs: 15000, everyMs: 250 },
    );
    const row = page.getByRole("row").filter({ hasText: "route" }).first();
    assert.match(await row.innerText(), /200/);
  });

  step("edits a key in the kv plugin's view", async () => {
    const { view, plugin } = await viewOf("kv");
    await openTab(page, view.title);
    const table = view.sections.find((s) => s.kind === "table" && s.create);
    assert.ok(table, "the kv view has a table with a create form");
    await fillParams(page, table);
    await page.getByRole("button", { name: table.create.title ?? "New" }).click();
    const dialog = page.getByRole("dialog", { name: table.create.title ?? "New" });
    // Checked before sending: a required field left empty, a value that is not JSON.
    const key = dialog.getByLabel(labelled(table.create.schema.properties.key.title));
    const value = dialog.getByLabel(labelled(table.create.schema.properties.value.title));
    await value.fill("{plan: pro");
    await dialog.getByRole("button", { name: "Save" }).click();
    await until("the key marked", async () => (await key.getAttribute("aria-invalid")) === "true");
    assert.equal(await value.getAttribute("aria-invalid"), "true");
    await dialog.getByText(/not valid JSON/).waitFor();
    assert.equal(await key.evaluate((el) => document.activeElement === el), true, "the first field in error has the focus");
    await fillSchema(dialog, table.create.schema, { key: "ada", value: '{"plan": "pro"}', collection: "customers" });
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "ada", exact: true }).waitFor();
    const entry = await server.admin("GET", `/apps/${APP.slug}/kv/customers/entry?key=ada`);
    assert.deepEqual(entry.value, { plan: "pro" });
    assert.equal(plugin, "kv");
    await assertAxe(page, "a plugin view");
  });

  step("opens an entry of a plugin view and deletes one after confirming", async () => {
    const { view } = await viewOf("kv");
    await openTab(page, view.title);
    const table = view.sections.find((s) => s.kind === "table" && s.create);
    await fillParams(page, table);
    await page.getByRole("button", { name: table.create.title ?? "New" }).click();
    const dialog = page.getByRole("dialog", { name: table.create.title ?? "New" });
    await fillSchema(dialog, table.create.schema, { key: "scratch", value: '"to be deleted"', collection: "customers" });
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    const cell = page.getByRole("cell", { name: "scratch", exact: true });
    await cell.waitFor();

    if (table.open) {
      await page.getByRole("button", { name: "Open scratch" }).click();
      const shown = page.getByRole("dialog", { name: "scratch" });
      await shown.getByText('"to be deleted"').first().waitFor();
      await page.keyboard.press("Escape");
      await shown.waitFor({ state: "detached" });
    }
    const remove = (table.row_actions ?? []).find((a) => a.confirm && !a.schema);
    assert.ok(remove, "the kv view has a row action behind a confirmation");
    await page.getByRole("button", { name: `${remove.title} scratch` }).click();
    const confirm = page.getByRole("dialog", { name: remove.title });
    await confirm.getByText(/scratch/).first().waitFor();
    await confirm.getByRole("button", { name: remove.title }).click();
    await cell.waitFor({ state: "detached" });
    await assert.rejects(server.admin("GET", `/apps/${APP.slug}/kv/customers/entry?key=scratch`), /404/);
  });

  step("refuses a row whose name would reach another route, and sends nothing", async () => {
    // ".." is a valid document id but no path segment: the browser would
    // resolve it, and the delete would go to another route.
    await server.admin("POST", `/apps/${APP.slug}/docs/notes/documents`, { id: "..", data: { n: 1 } });
    const { view } = await viewOf("docs");
    await openTab(page, view.title);
    const table = view.sections.find((s) => s.kind === "table" && s.id === "documents");
    // The view has several tables with a collection: this one's own form.
    const region = page.getByRole("region", { name: table.title, exact: true }).last();
    const form = region.locator(".section-params form");
    await fillSchema(form, table.params, { collection: "notes" });
    await form.getByRole("button", { name: "Show" }).click();
    await region.getByRole("cell", { name: "..", exact: true }).waitFor();
    const remove = table.row_actions.find((a) => a.id === "delete");
    await region.getByRole("button", { name: `${remove.title} ..` }).click();
    const confirm = page.getByRole("dialog", { name: remove.title });
    await confirm.getByRole("button", { name: remove.title }).click();
    await page.getByText(/cannot be used as the id/).first().waitFor();
    if (await confirm.count()) await page.keyboard.press("Escape");
    await confirm.waitFor({ state: "detached" });
    const still = await server.admin("GET", `/apps/${APP.slug}/docs/notes/documents`);
    assert.deepEqual(still.items.map((d) => d.id), [".."], "the document is still there");
    assert.equal((await server.admin("GET", `/apps/${APP.slug}`)).slug, APP.slug, "and so is the app");
  });

  step("creates a cron trigger with a time zone, changes, disables and deletes it", async () => {
    const kinds = await server.admin("GET", "/trigger-kinds");
    const cron = kinds.items.find((k) => k.name === "cron");
    assert.ok(cron?.filter_schema, "cron declares its filter's schema");
    const zoneField = Object.entries(cron.filter_schema.properties).find(([, p]) => p.format === "timezone");
    assert.ok(zoneField, "cron's filter has a time-zone field");
    const list = async () => (await server.admin("GET", `/apps/${APP.slug}/triggers/cron`)).items;

    await openTab(page, "Triggers");
    await page.getByRole("navigation", { name: "Trigger kinds" }).getByRole("button", { name: "cron", exact: true }).click();
    await page.getByRole("button", { name: "New cron trigger" }).click();
    let dialog = page.getByRole("dialog", { name: "New cron trigger" });
    await dialog.getByLabel(labelled("Script")).selectOption("greet");
    // New Year's midnight: it will not fire while the test runs.
    await fillSchema(dialog, cron.filter_schema, { schedule: "0 0 0 1 1 *", [zoneField[0]]: "Europe/Berlin" }, (n) => `Filter: ${n}`);
    const axeFound = await axeViolations(page); // the triggers tab with a generated form open
    await dialog.getByRole("button", { name: "Create trigger" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "greet", exact: true }).waitFor();
    let [t] = await list();
    assert.equal(t.filter[zoneField[0]], "Europe/Berlin");

    await page.getByRole("button", { name: "Edit the trigger of greet" }).click();
    dialog = page.getByRole("dialog", { name: /^Edit the cron trigger/ });
    await fillSchema(dialog, cron.filter_schema, { [zoneField[0]]: "Asia/Tokyo" }, (n) => `Filter: ${n}`);
    await dialog.getByRole("button", { name: "Save trigger" }).click();
    await dialog.waitFor({ state: "detached" });
    [t] = await list();
    assert.equal(t.filter[zoneField[0]], "Asia/Tokyo");

    await page.getByRole("checkbox", { name: "Enabled: cron trigger of greet" }).uncheck();
    await until("the trigger disabled", async () => (await list())[0].enabled === false);

    await page.getByRole("button", { name: "Delete the trigger of greet" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete the trigger" });
    await confirm.getByRole("button", { name: "Delete" }).click();
    await page.getByText("No cron triggers yet.").waitFor();
    assert.deepEqual(await list(), []);
    assert.deepEqual(axeFound, [], "serious or critical accessibility violations on the trigger form");
  });

  step("uploads a file through the files view and downloads it again", async () => {
    const { view } = await viewOf("files");
    await openTab(page, view.title);
    const table = view.sections.find((s) => s.kind === "table" && s.create);
    await fillParams(page, table, { collection: "docs" });
    await page.getByRole("button", { name: table.create.title }).click();
    const dialog = page.getByRole("dialog", { name: table.create.title });
    const [fileField] = Object.entries(table.create.schema.properties).find(([, p]) => p.format === "binary");
    await fillSchema(dialog, table.create.schema, { name: "notes.txt" });
    const content = "PiCloud dashboard upload\n";
    await dialog
      .getByLabel(labelled(table.create.schema.properties[fileField].title ?? fileField))
      .setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from(content) });
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "notes.txt", exact: true }).waitFor();

    const download = (table.row_actions ?? []).find((a) => a.result === "download");
    assert.ok(download, "the files view offers a download");
    const [saved] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: `${download.title} notes.txt` }).click(),
    ]);
    assert.equal(saved.suggestedFilename(), "notes.txt");
    const chunks = [];
    for await (const c of await saved.createReadStream()) chunks.push(c);
    assert.equal(Buffer.concat(chunks).toString("utf8"), content);
  });

  step("lists secrets by name and reveals one only after a confirmation", async () => {
    const { view } = await viewOf("secrets");
    await openTab(page, view.title);
    const table = view.sections.find((s) => s.kind === "table" && s.create);
    const secret = "correct-horse-battery";
    await page.getByRole("button", { name: table.create.title }).click();
    const dialog = page.getByRole("dialog", { name: table.create.title });
    await fillSchema(dialog, table.create.schema, { name: "payment_key", value: secret });
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "payment_key", exact: true }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, "a secret's value is not listed");

    const reveal = table.row_actions.find((a) => a.result === "show" && a.confirm);
    assert.ok(reveal, "the secrets view reveals behind a confirmation");
    await page.getByRole("button", { name: `${reveal.title} payment_key` }).click();
    const confirm = page.getByRole("dialog", { name: reveal.title });
    await confirm.getByRole("button", { name: reveal.title }).click();
    const shown = page.getByRole("dialog", { name: `${reveal.title}: payment_key` });
    await shown.getByText(secret, { exact: false }).first().waitFor();
    await page.keyboard.press("Escape");
    await shown.waitFor({ state: "detached" });
  });

  step("shows an email trigger's set-up once, after creating it", async () => {
    const kinds = await server.admin("GET", "/trigger-kinds");
    assert.ok(kinds.items.some((k) => k.name === "email"), "the email plugin declares its trigger kind");
    await server.admin("POST", `/apps/${APP.slug}/scripts`, {
      name: "on_mail",
      source: 'void on_event(event@ e) {\n  log::info("mail " + e.op);\n}\n',
    });
    await openTab(page, "Triggers");
    await page.getByRole("navigation", { name: "Trigger kinds" }).getByRole("button", { name: "email", exact: true }).click();
    await page.getByRole("button", { name: "New email trigger" }).click();
    const dialog = page.getByRole("dialog", { name: "New email trigger" });
    await dialog.getByLabel(labelled("Script")).selectOption("on_mail");
    await dialog.getByRole("button", { name: "Create trigger" }).click();
    const setup = page.getByRole("dialog", { name: "Set-up of the new trigger" });
    await setup.getByText(/Shown only this once/).waitFor();
    const [t] = (await server.admin("GET", `/apps/${APP.slug}/triggers/email`)).items;
    assert.ok(t, "the email trigger exists");
    // The webhook's address and its signing secret, this once.
    await setup.getByText(/whsec_/).first().waitFor();
    assert.match(await setup.innerText(), new RegExp(`email/inbound/${t.id}`));
    await setup.getByRole("button", { name: "Done" }).click();
    await setup.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "on_mail", exact: true }).waitFor();
    assert.equal(await page.getByText(/whsec_/).count(), 0, "the secret is gone once the set-up is closed");
  });

  step("makes a realtime topic external only after confirming", async (t) => {
    const plugins = await server.admin("GET", "/plugins");
    if (!plugins.items.some((p) => p.name === "realtime")) return t.skip("the realtime plugin is not loaded");
    const { view } = await viewOf("realtime");
    const table = view.sections.find((s) => s.kind === "table" && s.create);
    const topic = async () =>
      (await server.admin("GET", `/apps/${APP.slug}/realtime/topics`)).items.find((x) => x.name === "news");
    await openTab(page, view.title);
    await page.getByRole("button", { name: table.create.title }).click();
    const dialog = page.getByRole("dialog", { name: table.create.title }).filter({ has: page.locator("form") });
    await fillSchema(dialog, table.create.schema, { name: "news" });
    await dialog.getByRole("button", { name: "Save" }).click();
    if (table.create.confirm) {
      const confirm = page.getByRole("dialog").filter({ hasText: table.create.confirm });
      await confirm.getByRole("button", { name: table.create.title }).click();
    }
    await page.getByRole("cell", { name: "news", exact: true }).waitFor();
    assert.equal((await topic()).external, false, "a new topic is internal");

    const change = table.row_actions.find((a) => a.schema?.properties?.external);
    await page.getByRole("button", { name: `${change.title} news` }).click();
    const form = page.getByRole("dialog", { name: `${change.title}: news` });
    const props = change.schema.properties;
    await form.getByLabel(labelled(props.external.title)).selectOption("true");
    await form.getByLabel(labelled(props.confirm_external.title)).selectOption("true");
    await form.getByRole("button", { name: change.title }).click();
    // The confirmation first: cancelled, nothing changes.
    let confirm = page.getByRole("dialog").filter({ hasText: /external/ }).filter({ hasNot: page.getByRole("combobox") });
    await confirm.getByRole("button", { name: "Cancel" }).click();
    assert.equal((await topic()).external, false, "cancelling the confirmation changes nothing");
    await form.getByRole("button", { name: change.title }).click();
    confirm = page.getByRole("dialog").filter({ hasText: /external/ }).filter({ hasNot: page.getByRole("combobox") });
    await confirm.getByRole("button", { name: change.title }).click();
    await form.waitFor({ state: "detached" });
    await until("the topic external", async () => (await topic()).external === true);
  });

  step("turns a failing trigger into a dead letter with a badge, and replays it", async () => {
    // The handler (saved through the API: writing scripts was covered above) always fails.
    await server.admin("POST", `/apps/${APP.slug}/scripts`, {
      name: "on_order",
      source: 'void on_event(event@ e) {\n  throw("no stock for " + e.data.get_string("key"));\n}\n',
    });
    await openTab(page, "Triggers");
    await page.getByRole("navigation", { name: "Trigger kinds" }).getByRole("button", { name: "kv", exact: true }).click();
    await page.getByRole("button", { name: "New kv trigger" }).click();
    const dialog = page.getByRole("dialog", { name: "New kv trigger" });
    await dialog.getByLabel(labelled("Script")).selectOption("on_order");
    const kinds = await server.admin("GET", "/trigger-kinds");
    const kv = kinds.items.find((k) => k.name === "kv");
    await fillSchema(dialog, kv.filter_schema, { collection: "orders" }, (name) => `Filter: ${name}`);
    await dialog.getByLabel("Retry: attempts in all").fill("1");
    await dialog.getByRole("button", { name: "Create trigger" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "on_order", exact: true }).waitFor();

    // An order written through the kv view fires it.
    const { view } = await viewOf("kv");
    await openTab(page, view.title);
    const table = view.sections.find((s) => s.kind === "table" && s.create);
    await fillParams(page, table, { collection: "orders" });
    await page.getByRole("button", { name: table.create.title ?? "New" }).click();
    const set = page.getByRole("dialog", { name: table.create.title ?? "New" });
    await fillSchema(set, table.create.schema, { key: "o1", value: '{"qty": 2}', collection: "orders" });
    await set.getByRole("button", { name: "Save" }).click();
    await set.waitFor({ state: "detached" });

    await until(
      "the dead letter",
      async () => (await server.admin("GET", `/apps/${APP.slug}/dead_letters/count`)).unresolved === 1,
      { timeoutMs: 20000, everyMs: 100 },
    );
    await page.getByRole("link", { name: "Apps", exact: true }).first().click();
    const badge = page.getByRole("link", { name: `1 unresolved dead letter in ${APP.slug}` });
    await badge.waitFor();
    await badge.click();
    const letter = page
      .getByRole("list", { name: "Dead letters" })
      .getByRole("listitem")
      .filter({ hasText: "no stock for o1" })
      .first();
    await letter.waitFor();
    await letter.getByRole("button", { name: "Replay" }).click();
    await until("the letter marked replayed", async () => {
      const all = await server.admin("GET", `/apps/${APP.slug}/dead_letters?state=all`);
      return all.items.some((l) => l.resolution === "replayed");
    });
  });

  step("shows the example plugin's view", async (t) => {
    const plugins = await server.admin("GET", "/plugins");
    const hello = plugins.items.find((p) => p.name === "hello");
    if (!hello && !process.env.PICLOUD_EXAMPLE_PLUGIN_DIR) return t.skip("set PICLOUD_EXAMPLE_PLUGIN_DIR to the example plugin's directory");
    assert.ok(hello, `the example plugin is loaded from ${process.env.PICLOUD_EXAMPLE_PLUGIN_DIR}`);
    const view = hello.views?.[0];
    assert.ok(view, "the example plugin declares a view");
    if (view.scope === "app") {
      await page.goto(url(`/apps/${APP.slug}`));
      await openTab(page, view.title);
    } else {
      await page.goto(url("/"));
      await page.getByRole("link", { name: view.title }).first().click();
      await page.getByRole("heading", { name: view.title, level: 1 }).waitFor();
    }
    // What it draws: its first section's title, or what its module mounted.
    const first = view.sections?.find((s) => s.title);
    if (first) await page.getByRole("heading", { name: first.title }).waitFor();
    if (view.module) {
      // The plugin's own module, mounted into the page, calls the plugin's admin route through the host.
      await until("the module's content", async () => (await page.locator(".plugin-module").innerText()).trim() !== "");
      const greet = page.locator(".plugin-module").getByRole("button", { name: "Greet" });
      await greet.click();
      const output = page.locator(".plugin-module output");
      await until("the greeting", async () => ((await output.textContent()) ?? "").trim() !== "");
      assert.doesNotMatch(await output.textContent(), /^failed/, "the module's request through the host");
    }
  });

  step("offers a viewer no write actions", async () => {
    const user = await server.admin("POST", "/users", VIEWER);
    await server.admin("PUT", `/apps/${APP.slug}/members/${user.username}`, { role: "viewer" });
    const viewer = await openPage(browser);
    pages.push(viewer);
    const pg = viewer.page;
    await signIn(pg, VIEWER);
    await pg.getByRole("link", { name: APP.slug, exact: true }).click();
    await pg.getByRole("heading", { name: APP.slug, level: 1 }).waitFor();
    const noWrites = async (what) => {
      const writes = [/^Save/, /^New/, /^Delete/, /^Create/, /^Replay/, /^Resolve/, /^Edit/, /^Set /, /^Remove/];
      for (const name of [...writes, /^Add /, /^Upload/, /^Replace/, /^Reveal/, /^Publish/, /^Drop/]) {
        assert.equal(await pg.getByRole("button", { name }).count(), 0, `${what}: a viewer is offered ${name}`);
      }
    };
    await noWrites("the app page");
    await openTab(pg, "Scripts");
    await pg.getByRole("link", { name: "greet" }).click();
    await pg.locator(".cm-content").waitFor();
    assert.equal(await pg.locator(".cm-content").getAttribute("contenteditable"), "false", "the editor is read-only");
    await noWrites("the script page");
    // Each tab once its content is there, so that nothing is still to come.
    await openTab(pg, "Routes");
    await pg.getByRole("cell", { name: "/hello", exact: true }).waitFor();
    await noWrites("the routes tab");
    await openTab(pg, "Triggers");
    await pg.getByRole("navigation", { name: "Trigger kinds" }).getByRole("button", { name: "kv", exact: true }).click();
    await pg.getByRole("cell", { name: "on_order", exact: true }).waitFor();
    assert.equal(await pg.getByRole("checkbox", { name: /^Enabled/ }).count(), 0, "a viewer is offered the enabled switch");
    await noWrites("the triggers tab");
    await openTab(pg, "Dead letters");
    await pg.getByRole("list", { name: "Dead letters" }).getByRole("listitem").first().waitFor();
    await noWrites("the dead letters tab");
    const { view } = await viewOf("kv");
    const table = view.sections.find((s) => s.kind === "table" && s.create);
    await openTab(pg, view.title);
    await fillParams(pg, table, { collection: "customers" });
    await pg.getByRole("cell", { name: "ada", exact: true }).waitFor();
    await noWrites("the kv view");
    const files = (await viewOf("files")).view;
    await openTab(pg, files.title);
    await fillParams(pg, files.sections.find((s) => s.kind === "table" && s.params), { collection: "docs" });
    await pg.getByRole("cell", { name: "notes.txt", exact: true }).waitFor();
    await noWrites("the files view");
    const secrets = (await viewOf("secrets")).view;
    await openTab(pg, secrets.title);
    await pg.getByRole("cell", { name: "payment_key", exact: true }).waitFor();
    await noWrites("the secrets view");
    await viewer.context.close();
  });

  // The kv view as the plugin declared it (the dashboard has no code naming kv).
  async function viewOf(name) {
    const plugins = await server.admin("GET", "/plugins");
    const plugin = plugins.items.find((p) => p.name === name);
    assert.ok(plugin, `the ${name} plugin is loaded`);
    const view = plugin.views?.find((v) => v.scope === "app");
    assert.ok(view, `the ${name} plugin declares an app view`);
    return { plugin: plugin.name, view };
  }

  // Fills a table's inputs (e.g. the collection) and shows the table.
  async function fillParams(pg, section, values = { collection: "customers" }) {
    if (!section.params?.properties || Object.keys(section.params.properties).length === 0) return;
    const form = pg.locator(".section-params form");
    await fillSchema(form, section.params, values);
    await form.getByRole("button", { name: "Show" }).click();
  }

  // A generated field's label: its title, perhaps followed by "(required)".
  function labelled(title) {
    return new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}( \\(required\\))?$`);
  }

  // Fills the fields of a generated form by their labels; values by property name.
  async function fillSchema(scope, schema, values, untitled = (name) => name) {
    for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
      if (!(name in values) || prop.readOnly) continue;
      const field = scope.getByLabel(labelled(prop.title || untitled(name)));
      if (prop.enum || prop.format === "timezone") await field.selectOption(String(values[name]));
      else await field.fill(String(values[name]));
    }
  }
});
