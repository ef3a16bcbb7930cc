// A throwaway PiCloud for the dashboard's end-to-end tests: the picloud
// binary on a free loopback port, a fresh SQLite database in a temporary
// directory, every plugin of the plugin directory (and the example plugin
// `hello` when PICLOUD_EXAMPLE_PLUGIN_DIR names its directory), and a first
// owner. The browser loads the dashboard from picloud itself at /admin/.
//
//   PICLOUD_BINARY              the picloud binary (default ../build/picloud
//                               from the repository root)
//   PICLOUD_PLUGIN_DIR          its plugins (default: plugins/ beside it)
//   PICLOUD_EXAMPLE_PLUGIN_DIR  a directory holding hello.so (optional)
//   PICLOUD_E2E_PLUGINS         the plugins to enable (default "*": all found)
//
// With PICLOUD_E2E_DIST_PROXY=1 (a binary built without the dashboard), the
// harness serves dashboard/dist itself on another port with the kernel's
// headers, and passes every other path through unchanged (Host included, so
// the API sees its own origin).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { constants, tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const dashboardDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoDir = resolve(dashboardDir, "..");

export const OWNER = { username: "root", password: "dashboard e2e admin 5813" };

/** The dashboard's Content-Security-Policy, as the kernel sends it. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Where picloud and its plugins are; `explicit` when the environment named the binary. */
export function locate() {
  const explicit = !!process.env.PICLOUD_BINARY;
  const binary = resolve(process.env.PICLOUD_BINARY || join(repoDir, "build", "picloud"));
  const pluginDir = resolve(process.env.PICLOUD_PLUGIN_DIR || join(dirname(binary), "plugins"));
  const exampleDir = process.env.PICLOUD_EXAMPLE_PLUGIN_DIR ? resolve(process.env.PICLOUD_EXAMPLE_PLUGIN_DIR) : null;
  return { binary, pluginDir, exampleDir, explicit, exists: existsSync(binary) };
}

export function freePort() {
  return new Promise((done, fail) => {
    const probe = net.createServer();
    probe.on("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/** One HTTP exchange with 127.0.0.1:port; `host` may name an app. Answers {status, headers, text, json}. */
export function call(port, { method = "GET", path = "/", headers = {}, body, host } = {}) {
  return new Promise((done, fail) => {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const h = { ...headers };
    if (host) h.host = host;
    if (payload !== undefined) {
      h["content-type"] ??= "application/json";
      h["content-length"] = Buffer.byteLength(payload);
    }
    const req = http.request({ host: "127.0.0.1", port, method, path, headers: h }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        done({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("error", fail);
    req.setTimeout(15000, () => req.destroy(new Error(`${method} ${path}: no answer within 15 s`)));
    req.end(payload);
  });
}

/** Waits until `check()` returns something truthy (polling), or throws after `timeoutMs`. */
export async function until(what, check, { timeoutMs = 10000, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Whatever ends the run — a failure, a timeout, Ctrl-C — no picloud and no
// temporary directory stays behind (playwright closes its browser on exit too).
const children = new Set();
const directories = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
  for (const d of directories) rmSync(d, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.once(signal, () => process.exit(128 + constants.signals[signal]));

export class PiCloud {
  /** Starts picloud and waits until /readyz answers 200; `url` is where the browser finds /admin/. */
  static async start() {
    const where = locate();
    const dir = mkdtempSync(join(tmpdir(), "picloud-dashboard-e2e-"));
    directories.add(dir);
    const server = new PiCloud(where, dir, await freePort());
    try {
      await server.launch();
      await server.serveDashboard();
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  constructor(where, dir, port) {
    this.where = where;
    this.dir = dir;
    this.port = port;
    this.log = "";
    this.cookie = "";
    this.front = null; // the harness's own dist server, when picloud does not serve /admin
  }

  get origin() {
    return `http://127.0.0.1:${this.front ? this.front.address().port : this.port}`;
  }

  get url() {
    return `${this.origin}/admin/`;
  }

  async launch() {
    const { binary, pluginDir, exampleDir } = this.where;
    const searchPath = exampleDir ? `${pluginDir}:${exampleDir}` : pluginDir;
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: this.dir,
      PICLOUD_SERVER_HOST: "127.0.0.1",
      PICLOUD_SERVER_PORT: String(this.port),
      PICLOUD_SERVER_DATA_DIR: join(this.dir, "data"),
      PICLOUD_SERVER_SHUTDOWN_GRACE_MS: "1000",
      PICLOUD_DATABASE_URL: `sqlite:${join(this.dir, "picloud.db")}`,
      PICLOUD_PLUGINS_SEARCH_PATH: searchPath,
      PICLOUD_PLUGINS_ENABLED: process.env.PICLOUD_E2E_PLUGINS || "*",
      PICLOUD_OWNER_USERNAME: OWNER.username,
      PICLOUD_OWNER_PASSWORD: OWNER.password,
      // Retries come quickly, so a failing trigger becomes a dead letter in a moment.
      PICLOUD_TRIGGERS_RETRY_BASE_DELAY_MS: "50",
      PICLOUD_EXECUTIONS_FLUSH_INTERVAL_MS: "20",
    };
    const child = spawn(binary, ["serve"], { cwd: this.dir, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    children.add(child);
    const keep = (chunk) => {
      this.log = (this.log + chunk.toString("utf8")).slice(-30000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    this.exited = new Promise((r) =>
      child.on("exit", (code, signal) => {
        children.delete(child);
        r(code ?? signal);
      }),
    );
    const deadline = Date.now() + 30000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`picloud stopped during start-up (${child.exitCode ?? child.signalCode}):\n${this.tail()}`);
      const ready = await call(this.port, { path: "/readyz" }).catch(() => null);
      if (ready?.status === 200) return;
      if (Date.now() > deadline) throw new Error(`picloud was not ready within 30 s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Uses picloud's own /admin; with PICLOUD_E2E_DIST_PROXY=1, serves dist/ in front of it instead. */
  async serveDashboard() {
    if (!process.env.PICLOUD_E2E_DIST_PROXY) {
      const own = await call(this.port, { path: "/admin/" });
      if (own.status === 200 && /text\/html/.test(own.headers["content-type"] ?? "")) return;
      throw new Error(
        `picloud does not serve the dashboard at /admin/ (${own.status}: ${own.text.slice(0, 200)}): ` +
          "build the dashboard before the kernel, or set PICLOUD_E2E_DIST_PROXY=1 to serve dashboard/dist from the tests",
      );
    }
    const dist = join(dashboardDir, "dist");
    if (!existsSync(join(dist, "index.html")))
      throw new Error("dashboard/dist is missing: run `npm run build` first");
    this.front = http.createServer((req, res) => this.front_(dist, req, res));
    await new Promise((r) => this.front.listen(0, "127.0.0.1", r));
  }

  front_(dist, req, res) {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/admin" || url.pathname.startsWith("/admin/")) {
      const rel = normalize(decodeURIComponent(url.pathname.slice("/admin".length)) || "/");
      let file = join(dist, rel);
      const isFile = file.startsWith(dist) && existsSync(file) && statSync(file).isFile();
      if (!isFile) file = join(dist, "index.html");
      const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };
      res.writeHead(200, {
        "content-type": types[extname(file)] ?? "application/octet-stream",
        "cache-control": rel.startsWith("/assets/") && isFile ? "public, max-age=31536000, immutable" : "no-cache",
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
      });
      res.end(readFileSync(file));
      return;
    }
    // Everything else goes to picloud as it came, Host and Origin included.
    const upstream = http.request(
      { host: "127.0.0.1", port: this.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  }

  /** Stops picloud (SIGTERM, SIGKILL after 10 s) and the dist server, and removes the directory. */
  async stop() {
    if (this.front) {
      this.front.closeAllConnections?.();
      await new Promise((r) => this.front.close(() => r()));
      this.front = null;
    }
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    directories.delete(this.dir);
  }

  /** The admin API as the owner (a session of its own, not the browser's). */
  async admin(method, path, body) {
    if (!this.cookie) {
      const login = await call(this.port, { method: "POST", path: "/api/v1/admin/login", body: OWNER });
      if (login.status !== 200) throw new Error(`sign-in failed: ${login.status} ${login.text}`);
      this.cookie = [].concat(login.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; ");
    }
    const res = await call(this.port, { method, path: `/api/v1/admin${path}`, body, headers: { cookie: this.cookie } });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return res.json;
  }

  /** A request to an app, by one of its hostnames. */
  app(hostname, path, init = {}) {
    return call(this.port, { ...init, path, host: hostname });
  }

  tail(lines = 60) {
    return this.log.split("\n").slice(-lines).join("\n");
  }
}
