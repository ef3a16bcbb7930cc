// endpoint() and auth against a real HTTP server on a loopback port.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import {
  AbortError,
  ClientError,
  NetworkError,
  PiCloudError,
  ServerError,
  TimeoutError,
  createClient,
  isPiCloudError,
  memoryStorage,
} from "@picloud/client";
import { jsonAnswer, startServer } from "./helpers.mjs";

let server;
let client;

before(async () => {
  server = await startServer(async (req, res, n, body) => {
    const url = new URL(req.url, "http://x");
    res.setHeader("X-Request-Id", `req-${n}`);
    switch (url.pathname) {
      case "/api/echo":
        return jsonAnswer(res, 200, {
          method: req.method,
          query: url.search,
          body: body ? JSON.parse(body) : null,
          contentType: req.headers["content-type"] ?? null,
          authorization: req.headers.authorization ?? null,
          custom: req.headers["x-app"] ?? null,
        });
      case "/api/text":
        res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
        return res.end("plain words");
      case "/api/empty":
        res.writeHead(204);
        return res.end();
      case "/api/picloud-error":
        return jsonAnswer(res, 422, {
          error: { code: "invalid_name", message: "name is required", details: { field: "name" } },
        });
      case "/api/script-error":
        return jsonAnswer(res, 502, {
          error: { code: "script_error", message: "boom (main:1:1, in handle)", details: { execution_id: "0195" } },
        });
      case "/api/other-shape":
        return jsonAnswer(res, 409, { error: "already there", code: "taken" });
      case "/api/html-error":
        res.writeHead(503, { "Content-Type": "text/html" });
        return res.end("<html><body>  Service   Unavailable </body></html>");
      case "/api/bare-error":
        res.writeHead(500);
        return res.end();
      case "/api/bad-json":
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end("{not json");
      case "/api/slow":
        return setTimeout(() => jsonAnswer(res, 200, { late: true }), 2000);
      case "/api/slow-body":
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write('{"partial":');
        return setTimeout(() => res.end("1}"), 2000);
      case "/auth/login": {
        const creds = JSON.parse(body);
        if (creds.password !== "right") return jsonAnswer(res, 401, { error: { code: "unauthorized", message: "wrong password" } });
        return jsonAnswer(res, 200, { token: `tok-${creds.username}`, user: { name: creds.username } });
      }
      case "/auth/no-token":
        return jsonAnswer(res, 200, { ok: true });
      case "/auth/logout":
        return jsonAnswer(res, 500, { error: { code: "internal", message: "logout broke" } });
      default:
        return jsonAnswer(res, 404, { error: { code: "not_found", message: "no route", details: {} } });
    }
  });
  client = createClient({ baseUrl: server.url + "/api/", headers: { "X-App": "tests" } });
});

after(() => server.close());

describe("endpoint()", () => {
  test("GET with a query, JSON back", async () => {
    const res = await client.endpoint("/echo").get({ q: "a b&c", n: 3, yes: true, skip: undefined, none: null, tag: ["x", "y"] });
    assert.equal(res.method, "GET");
    assert.equal(res.query, "?q=a+b%26c&n=3&yes=true&tag=x&tag=y");
    assert.equal(res.body, null);
    assert.equal(res.custom, "tests");
    assert.equal(res.authorization, null);
  });

  test("POST, PUT, PATCH send JSON; DELETE takes a query", async () => {
    const echo = client.endpoint("echo");
    for (const method of ["post", "put", "patch"]) {
      const res = await echo[method]({ name: "Ada", n: [1, 2] });
      assert.equal(res.method, method.toUpperCase());
      assert.deepEqual(res.body, { name: "Ada", n: [1, 2] });
      assert.equal(res.contentType, "application/json");
    }
    const del = await echo.delete({ id: 7 });
    assert.equal(del.method, "DELETE");
    assert.equal(del.query, "?id=7");
    const posted = await echo.post({ a: 1 }, { query: { dry: 1 } });
    assert.equal(posted.query, "?dry=1");
  });

  test("the token goes as a bearer header; per request it can be replaced or left out", async () => {
    const c = createClient({ baseUrl: server.url + "/api", token: "abc" });
    assert.equal((await c.endpoint("/echo").get()).authorization, "Bearer abc");
    assert.equal((await c.endpoint("/echo").get({}, { token: "other" })).authorization, "Bearer other");
    assert.equal((await c.endpoint("/echo").get({}, { token: null })).authorization, null);
    c.auth.token = null;
    assert.equal((await c.endpoint("/echo").get()).authorization, null);
  });

  test("a text answer comes back as text, an empty one as undefined", async () => {
    assert.equal(await client.endpoint("/text").get(), "plain words");
    assert.equal(await client.endpoint("/empty").delete(), undefined);
  });

  test("PiCloud's error shape: code, message, details, status, request id", async () => {
    const err = await client.endpoint("/picloud-error").post({}).catch((e) => e);
    assert.ok(err instanceof ClientError && err instanceof PiCloudError);
    assert.equal(err.kind, "client");
    assert.equal(err.status, 422);
    assert.equal(err.code, "invalid_name");
    assert.equal(err.message, "name is required");
    assert.deepEqual(err.details, { field: "name" });
    assert.match(err.requestId, /^req-\d+$/);
    assert.deepEqual(err.body.error.details, { field: "name" });
  });

  test("5xx are ServerErrors", async () => {
    const err = await client.endpoint("/script-error").get().catch((e) => e);
    assert.ok(err instanceof ServerError);
    assert.equal(err.kind, "server");
    assert.equal(err.code, "script_error");
    assert.equal(err.details.execution_id, "0195");
  });

  test("bodies of other shapes still give useful errors", async () => {
    const other = await client.endpoint("/other-shape").get().catch((e) => e);
    assert.equal(other.status, 409);
    assert.equal(other.code, "taken");
    assert.equal(other.message, "already there");

    const html = await client.endpoint("/html-error").get().catch((e) => e);
    assert.equal(html.kind, "server");
    assert.equal(html.code, "unavailable");
    assert.equal(html.message, "<html><body> Service Unavailable </body></html>");
    assert.equal(html.body, "<html><body>  Service   Unavailable </body></html>");

    const bare = await client.endpoint("/bare-error").get().catch((e) => e);
    assert.equal(bare.code, "internal");
    assert.equal(bare.message, "500 Internal Server Error");

    const missing = await client.endpoint("/nowhere").get().catch((e) => e);
    assert.equal(missing.status, 404);
    assert.equal(missing.code, "not_found");
  });

  test("an answer that claims JSON but is not is a protocol error", async () => {
    const err = await client.endpoint("/bad-json").get().catch((e) => e);
    assert.equal(err.kind, "protocol");
    assert.equal(err.code, "invalid_json");
    assert.equal(err.body, "{not json");
  });

  test("a refused connection is a NetworkError", async () => {
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const c = createClient({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await c.endpoint("/x").get().catch((e) => e);
    assert.ok(err instanceof NetworkError, String(err));
    assert.equal(err.kind, "network");
    assert.equal(err.status, 0);
    assert.match(err.message, /ECONNREFUSED/);
  });

  test("timeouts, waiting for the headers and for the body", async () => {
    let started = Date.now();
    const err = await client.endpoint("/slow").get({}, { timeoutMs: 100 }).catch((e) => e);
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.code, "timeout");
    assert.ok(Date.now() - started < 1500);

    started = Date.now();
    const c = createClient({ baseUrl: server.url + "/api", timeoutMs: 100 });
    const body = await c.endpoint("/slow-body").get().catch((e) => e);
    assert.ok(body instanceof TimeoutError, String(body));
    assert.ok(Date.now() - started < 1500);
  });

  test("the caller's AbortSignal aborts, before and during the request", async () => {
    const pre = new AbortController();
    pre.abort();
    const e1 = await client.endpoint("/echo").get({}, { signal: pre.signal }).catch((e) => e);
    assert.ok(e1 instanceof AbortError, String(e1));

    const during = new AbortController();
    setTimeout(() => during.abort(), 50);
    const started = Date.now();
    const e2 = await client.endpoint("/slow").get({}, { signal: during.signal, timeoutMs: 5000 }).catch((e) => e);
    assert.ok(e2 instanceof AbortError, String(e2));
    assert.equal(e2.kind, "aborted");
    assert.ok(Date.now() - started < 1500);
  });

  test("isPiCloudError recognises errors of another copy of the package by shape", () => {
    assert.ok(isPiCloudError(new PiCloudError({ kind: "network", message: "x" })));
    assert.ok(isPiCloudError({ kind: "client", status: 404, code: "not_found", message: "m" }));
    assert.ok(!isPiCloudError(new Error("x")));
    assert.ok(!isPiCloudError(null));
  });
});

describe("auth", () => {
  test("login keeps the token, sends it afterwards, logout clears it even when the server fails", async () => {
    const c = createClient({ baseUrl: server.url });
    const seen = [];
    const off = c.auth.onChange((t) => seen.push(t));
    const answer = await c.auth.login({ username: "ada", password: "right" });
    assert.deepEqual(answer, { token: "tok-ada", user: { name: "ada" } });
    assert.equal(c.auth.token, "tok-ada");
    const echo = await c.endpoint("/api/echo").get();
    assert.equal(echo.authorization, "Bearer tok-ada");
    await c.auth.logout();
    assert.equal(c.auth.token, null);
    const logoutRequest = server.requests.findLast((r) => r.url === "/auth/logout");
    assert.equal(logoutRequest.headers.authorization, "Bearer tok-ada");
    assert.deepEqual(seen, ["tok-ada", null]);
    off();
    c.auth.token = "x";
    assert.deepEqual(seen, ["tok-ada", null]);
  });

  test("a failed login throws and keeps the old token", async () => {
    const c = createClient({ baseUrl: server.url, token: "old" });
    const err = await c.auth.login({ username: "ada", password: "wrong" }).catch((e) => e);
    assert.equal(err.status, 401);
    assert.equal(err.message, "wrong password");
    assert.equal(c.auth.token, "old");
    // The login request itself carries no token.
    assert.equal(server.requests.findLast((r) => r.url === "/auth/login").headers.authorization, undefined);
  });

  test("login at another path; an answer without token is an error", async () => {
    const c = createClient({ baseUrl: server.url });
    const err = await c.auth.login({}, { path: "/auth/no-token" }).catch((e) => e);
    assert.equal(err.code, "no_token");
    assert.equal(c.auth.token, null);
  });

  test("logout without a token makes no request", async () => {
    const c = createClient({ baseUrl: server.url });
    const before = server.requests.length;
    await c.auth.logout();
    assert.equal(server.requests.length, before);
  });

  test("storage: the token is read from and written to it", async () => {
    const storage = memoryStorage("stored");
    const c = createClient({ baseUrl: server.url, storage });
    assert.equal(c.auth.token, "stored");
    await c.auth.login({ username: "bo", password: "right" });
    assert.equal(storage.get(), "tok-bo");
    await c.auth.logout({ path: null });
    assert.equal(storage.get(), null);
  });

  test("storage changes made elsewhere (another tab) reach onChange", () => {
    let notify;
    const storage = { value: null, get() { return this.value; }, set(v) { this.value = v; }, subscribe(cb) { notify = cb; return () => {}; } };
    const c = createClient({ baseUrl: server.url, storage });
    const seen = [];
    c.auth.onChange((t) => seen.push(t));
    notify("from-other-tab");
    assert.equal(c.auth.token, "from-other-tab");
    assert.deepEqual(seen, ["from-other-tab"]);
  });
});
