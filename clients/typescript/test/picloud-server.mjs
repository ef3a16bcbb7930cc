// A real PiCloud server for the integration tests: the picloud binary on a
// free loopback port with a fresh SQLite database in a temporary directory,
// the built-in plugins, and a first owner from the environment. Also: the
// admin API as that owner, a fetch that reaches an app by its hostname, and a
// TCP proxy whose connections a test can cut.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where the binary and the built-in plugins are: PICLOUD_BINARY (default
 * ../../build/picloud from clients/typescript) and PICLOUD_PLUGIN_DIR
 * (default: plugins/ beside the binary). `explicit` says whether the binary
 * was named in the environment (then a missing one is an error, not a skip).
 */
export function locateServer() {
  const explicit = !!process.env.PICLOUD_BINARY;
  const binary = resolve(process.env.PICLOUD_BINARY || join(here, "..", "..", "..", "build", "picloud"));
  const pluginDir = resolve(process.env.PICLOUD_PLUGIN_DIR || join(dirname(binary), "plugins"));
  return { binary, pluginDir, explicit, exists: existsSync(binary) };
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** One HTTP exchange with 127.0.0.1:port; the Host header may name an app. */
export function httpRequest(port, { method = "GET", path = "/", headers = {}, body } = {}) {
  return new Promise((resolveRes, reject) => {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const h = { ...headers };
    if (payload !== undefined) {
      h["content-type"] ??= "application/json";
      h["content-length"] = Buffer.byteLength(payload);
    }
    const req = http.request({ host: "127.0.0.1", port, method, path, headers: h }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolveRes({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.setTimeout(15000, () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
    req.end(payload);
  });
}

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export class PiCloudServer {
  static OWNER = { username: "owner", password: "ts-client integration 7421" };

  /** Starts the server and waits until /readyz answers 200. */
  static async start({ binary, pluginDir, env = {} }) {
    const dir = mkdtempSync(join(tmpdir(), "picloud-ts-"));
    const port = await freePort();
    const server = new PiCloudServer(binary, pluginDir, dir, port, env);
    try {
      await server.launch();
    } catch (e) {
      await server.stop(); // kills a half-started server and removes its directory
      throw e;
    }
    return server;
  }

  constructor(binary, pluginDir, dir, port, env) {
    this.binary = binary;
    this.pluginDir = pluginDir;
    this.dir = dir;
    this.port = port;
    this.env = env;
    this.log = "";
    this.cookie = "";
  }

  async launch() {
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? this.dir,
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      PICLOUD_SERVER_HOST: "127.0.0.1",
      PICLOUD_SERVER_PORT: String(this.port),
      PICLOUD_SERVER_DATA_DIR: join(this.dir, "data"),
      PICLOUD_DATABASE_URL: `sqlite:${join(this.dir, "picloud.db")}`,
      PICLOUD_PLUGINS_SEARCH_PATH: this.pluginDir,
      PICLOUD_SERVER_SHUTDOWN_GRACE_MS: "2000",
      PICLOUD_OWNER_USERNAME: PiCloudServer.OWNER.username,
      PICLOUD_OWNER_PASSWORD: PiCloudServer.OWNER.password,
      ...this.env,
    };
    const child = spawn(this.binary, ["serve"], { cwd: this.dir, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    running.add(child);
    const keep = (chunk) => {
      this.log = (this.log + chunk.toString("utf8")).slice(-20000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    this.exited = new Promise((r) =>
      child.on("exit", (code, signal) => {
        running.delete(child);
        r(code ?? signal);
      }),
    );
    const deadline = Date.now() + 20000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`picloud exited during start-up (${child.exitCode ?? child.signalCode}):\n${this.log}`);
      }
      const ready = await httpRequest(this.port, { path: "/readyz" }).catch(() => null);
      if (ready?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`picloud was not ready within 20 s:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory unless `keepDir`. */
  async stop({ keepDir = false } = {}) {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10000);
      await this.exited;
      clearTimeout(timer);
    }
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The admin API as the owner (signed in with a session cookie on first use). */
  async admin(method, path, body) {
    if (!this.cookie) {
      const login = await httpRequest(this.port, { method: "POST", path: "/api/v1/admin/login", body: PiCloudServer.OWNER });
      if (login.status !== 200) throw new Error(`sign-in failed: ${login.status} ${login.text}`);
      const setCookie = [].concat(login.headers["set-cookie"] ?? []);
      this.cookie = setCookie.map((c) => c.split(";")[0]).join("; ");
    }
    return httpRequest(this.port, { method, path: `/api/v1/admin${path}`, body, headers: { cookie: this.cookie } });
  }

  /** The admin API; throws unless the answer has the expected status. */
  async adminOk(method, path, body, expected = [200, 201, 204]) {
    const res = await this.admin(method, path, body);
    if (!expected.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return res.json;
  }

  /** The last lines the server logged (for failure messages). */
  tail(lines = 40) {
    return this.log.split("\n").slice(-lines).join("\n");
  }
}

/**
 * A fetch that sends every request to 127.0.0.1:port with the Host header
 * set to `hostname`, the way a browser reaches an app by its name (Node's own
 * fetch does not let a caller set Host). It streams response bodies and
 * honours AbortSignal, so subscriptions work through it. `calls` counts the
 * requests made.
 */
export function hostFetch(port, hostname) {
  const f = (input, init = {}) =>
    new Promise((resolveRes, reject) => {
      f.calls.push({ url: String(input), method: init.method ?? "GET", headers: { ...(init.headers ?? {}) } });
      const url = new URL(input);
      const headers = { ...(init.headers ?? {}), host: hostname };
      const signal = init.signal;
      const abortError = () => new DOMException("This operation was aborted", "AbortError");
      if (signal?.aborted) return reject(abortError());
      const req = http.request({ host: "127.0.0.1", port, method: init.method ?? "GET", path: url.pathname + url.search, headers });
      const onAbort = () => {
        req.destroy();
        reject(abortError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (e) => reject(new TypeError("fetch failed", { cause: e })));
      req.on("response", (res) => {
        let ended = false;
        const body = new ReadableStream({
          start(controller) {
            res.on("data", (c) => controller.enqueue(new Uint8Array(c)));
            res.on("end", () => {
              ended = true;
              controller.close();
            });
            res.on("close", () => {
              if (!ended) controller.error(signal?.aborted ? abortError() : new TypeError("terminated"));
            });
            res.on("error", () => {});
          },
          cancel() {
            res.destroy();
          },
        });
        const responseHeaders = new Headers();
        for (const [k, v] of Object.entries(res.headers)) responseHeaders.set(k, Array.isArray(v) ? v.join(", ") : v);
        const nullBody = res.statusCode === 204 || res.statusCode === 304;
        if (nullBody) res.resume();
        resolveRes(
          new Response(nullBody ? null : body, { status: res.statusCode, statusText: res.statusMessage, headers: responseHeaders }),
        );
      });
      req.end(init.body ?? undefined);
    });
  f.calls = [];
  return f;
}

/** A TCP proxy to 127.0.0.1:target; cut() drops every connection through it, as a network failure would. */
export async function tcpProxy(target) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: server.address().port,
    get connections() {
      return pairs.size;
    },
    cut() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    close() {
      this.cut();
      return new Promise((r) => server.close(r));
    },
  };
}
