// The client against a real PiCloud server: an app with a hostname, scripts
// and routes made through the admin API, then endpoint() and auth over the
// app's routes and subscribe() over the realtime plugin's event streams.
//
// Skipped (with the reason) when the picloud binary is not built at its
// default path; a PICLOUD_BINARY that does not exist is an error. The
// realtime tests are skipped only while realtime.so is absent from the plugin
// directory.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { ClientError, ServerError, createClient, tokenExpiry } from "@picloud/client";
import { PiCloudServer, hostFetch, locateServer, tcpProxy } from "./picloud-server.mjs";
import { sleep, waitFor } from "./helpers.mjs";

const where = locateServer();
if (where.explicit && !where.exists) throw new Error(`PICLOUD_BINARY=${process.env.PICLOUD_BINARY}: no such file`);
const skipServer = where.exists ? false : `no picloud binary at ${where.binary} (build it, or set PICLOUD_BINARY)`;
const realtimePlugin = join(where.pluginDir, "realtime.so");
const skipRealtime =
  skipServer || (existsSync(realtimePlugin) ? false : `the realtime plugin is not built: no ${realtimePlugin}`);

const APP = "ts";
const HOST = "ts.localhost";

// Scripts of the app: JSON in and out, errors of both shapes, a login.
const SCRIPTS = {
  echo: `void handle(request@ req, response@ res) {
  json body = req.json();
  res.json({{"you_sent", body}, {"method", req.method}, {"auth", req.header("Authorization")}, {"query", req.query}});
}`,
  hello: `void handle(request@ req, response@ res) {
  res.set_header("X-Greeting", "yes");
  res.json({{"hello", req.query.get_string("name", "stranger")}});
}`,
  text: `void handle(request@ req, response@ res) {
  res.text("plain words");
}`,
  refuse: `void handle(request@ req, response@ res) {
  res.status = 422;
  res.json({{"error", {{"code", "invalid_name"}, {"message", "name is required"}, {"details", {{"field", "name"}}}}}});
}`,
  teapot: `void handle(request@ req, response@ res) {
  res.status = 418;
  res.text("short and stout");
}`,
  boom: `void handle(request@ req, response@ res) {
  throw("boom");
}`,
  login: `void handle(request@ req, response@ res) {
  json c = req.json();
  if (c.get_string("password") != "open sesame") {
    res.status = 401;
    res.json({{"error", {{"code", "unauthorized"}, {"message", "wrong password"}}}});
    return;
  }
  res.json({{"token", "t-" + c.get_string("username")}, {"user", c.get_string("username")}});
}`,
  me: `void handle(request@ req, response@ res) {
  if (req.header("Authorization") != "Bearer t-ada") {
    res.status = 401;
    res.json({{"error", {{"code", "unauthorized"}, {"message", "sign in first"}}}});
    return;
  }
  res.json({{"user", "ada"}});
}`,
  logout: `void handle(request@ req, response@ res) {
  res.status = 204;
}`,
};

const ROUTES = [
  ["echo", "/echo", ["POST", "PUT", "PATCH"]],
  ["hello", "/hello", ["GET"]],
  ["text", "/text", ["GET"]],
  ["refuse", "/refuse", ["POST"]],
  ["teapot", "/teapot", ["GET"]],
  ["boom", "/boom", ["GET"]],
  ["login", "/auth/login", ["POST"]],
  ["me", "/me", ["GET"]],
  ["logout", "/auth/logout", ["POST"]],
];

// Scripts that need the realtime plugin: mint a token, publish.
const REALTIME_SCRIPTS = {
  rt_token: `void handle(request@ req, response@ res) {
  json b = req.json();
  res.json({{"token", realtime::token(b["topics"], b.get_int("ttl", 60))}});
}`,
  rt_publish: `void handle(request@ req, response@ res) {
  json b = req.json();
  // Event ids are 64-bit: as text, so no JSON reader rounds them.
  int64 id = realtime::publish(b.get_string("topic"), b["message"]);
  res.json({{"id", "" + id}});
}`,
};

let server;

async function addScripts(scripts) {
  for (const [name, source] of Object.entries(scripts)) {
    await server.adminOk("POST", `/apps/${APP}/scripts`, { name, source });
  }
}
async function addRoute(script, path, methods) {
  await server.adminOk("POST", `/apps/${APP}/routes`, { script, path, methods });
}

function appClient(options = {}) {
  const fetch = hostFetch(options.port ?? server.port, HOST);
  return { client: createClient({ baseUrl: `http://${HOST}`, fetch, ...options }), fetch };
}

// Each test carries the skip reason, so the summary counts what did not run.
const serverTest = (name, fn) => test(name, { skip: skipServer }, fn);
const realtimeTest = (name, fn) => test(name, { skip: skipRealtime }, fn);

describe("against a PiCloud server", () => {
  before(async () => {
    if (skipServer) return;
    server = await PiCloudServer.start({
      ...where,
      // The realtime plugin's settings, shortened for tests (ignored, with a log line, without the plugin).
      env: { PICLOUD_REALTIME_HEARTBEAT_S: "1", PICLOUD_REALTIME_RETRY_MS: "200", PICLOUD_REALTIME_TOKEN_TTL_MIN_S: "1" },
    });
    await server.adminOk("POST", "/apps", { slug: APP, hostnames: [HOST] });
    await addScripts(SCRIPTS);
    for (const [script, path, methods] of ROUTES) await addRoute(script, path, methods);
  });

  after(async () => {
    await server?.stop();
  });

  describe("endpoint()", () => {
    serverTest("JSON round trip through a script", async () => {
      const { client } = appClient({ token: "tk" });
      const answer = await client.endpoint("/echo").post({ name: "Ada", list: [1, 2.5, null], nested: { ok: true } }, { query: { v: 2 } });
      assert.deepEqual(answer, {
        you_sent: { name: "Ada", list: [1, 2.5, null], nested: { ok: true } },
        method: "POST",
        auth: "Bearer tk",
        query: { v: "2" },
      });
      assert.equal((await client.endpoint("/echo").put([1, "two"])).method, "PUT");
      assert.deepEqual((await client.endpoint("/echo").patch("text")).you_sent, "text");
    });

    serverTest("GET with a query; a text answer comes back as text", async () => {
      const { client } = appClient();
      assert.deepEqual(await client.endpoint("/hello").get({ name: "Grace Hopper" }), { hello: "Grace Hopper" });
      assert.deepEqual(await client.endpoint("/hello").get(), { hello: "stranger" });
      assert.equal(await client.endpoint("/text").get(), "plain words");
    });

    serverTest("a script's own PiCloud-shaped 4xx", async () => {
      const { client } = appClient();
      const err = await client.endpoint("/refuse").post({}).catch((e) => e);
      assert.ok(err instanceof ClientError, String(err));
      assert.equal(err.status, 422);
      assert.equal(err.code, "invalid_name");
      assert.equal(err.message, "name is required");
      assert.deepEqual(err.details, { field: "name" });
      assert.ok(err.requestId, "X-Request-Id is read");
    });

    serverTest("a script's 4xx without that shape", async () => {
      const { client } = appClient();
      const err = await client.endpoint("/teapot").get().catch((e) => e);
      assert.equal(err.kind, "client");
      assert.equal(err.status, 418);
      assert.equal(err.code, "http_418");
      assert.equal(err.message, "short and stout");
    });

    serverTest("a script that throws: 502 script_error with the execution id", async () => {
      const { client } = appClient();
      const err = await client.endpoint("/boom").get().catch((e) => e);
      assert.ok(err instanceof ServerError, String(err));
      assert.equal(err.status, 502);
      assert.equal(err.code, "script_error");
      assert.match(err.message, /boom/);
      assert.equal(typeof err.details.execution_id, "string");
      assert.ok(err.requestId);
    });

    serverTest("no route: 404; a method the route does not take: 405", async () => {
      const { client } = appClient();
      const missing = await client.endpoint("/nowhere").get().catch((e) => e);
      assert.equal(missing.status, 404);
      assert.equal(missing.kind, "client");
      assert.ok(missing.message.length > 0);
      const wrongMethod = await client.endpoint("/hello").post({}).catch((e) => e);
      assert.equal(wrongMethod.status, 405);
    });

    serverTest("a host no app serves: 404", async () => {
      const client = createClient({ baseUrl: "http://nobody.localhost", fetch: hostFetch(server.port, "nobody.localhost") });
      const err = await client.endpoint("/hello").get().catch((e) => e);
      assert.equal(err.status, 404);
    });

    serverTest("auth: login through the app's script, the token on later requests, logout", async () => {
      const { client } = appClient();
      const bad = await client.auth.login({ username: "ada", password: "nope" }).catch((e) => e);
      assert.equal(bad.status, 401);
      assert.equal(bad.message, "wrong password");
      const notYet = await client.endpoint("/me").get().catch((e) => e);
      assert.equal(notYet.status, 401);

      const changes = [];
      client.auth.onChange((t) => changes.push(t));
      const answer = await client.auth.login({ username: "ada", password: "open sesame" });
      assert.deepEqual(answer, { token: "t-ada", user: "ada" });
      assert.deepEqual(await client.endpoint("/me").get(), { user: "ada" });
      await client.auth.logout();
      assert.equal(client.auth.token, null);
      assert.deepEqual(changes, ["t-ada", null]);
      assert.equal((await client.endpoint("/me").get().catch((e) => e)).status, 401);
    });
  });

  describe("subscribe() over the realtime plugin", () => {
    const publish = async (client, topic, message) => (await client.endpoint("/rt/publish").post({ topic, message })).id;
    const mintToken = async (client, topics, ttl = 60) => (await client.endpoint("/rt/token").post({ topics, ttl })).token;

    // Every subscription a test opens is closed after it, passed or failed.
    const open = new Set();
    afterEach(() => {
      for (const sub of open) sub.close();
      open.clear();
    });

    function record(client, topic, options = {}) {
      const log = { messages: [], errors: [], resets: [], closes: [], opens: 0 };
      const sub = client.subscribe(topic, (m) => log.messages.push(m), {
        backoff: { initialMs: 100, maxMs: 1000, factor: 2 },
        ...options,
        onOpen: () => log.opens++,
        onError: (error, info) => log.errors.push({ error, info }),
        onReset: (info) => log.resets.push(info),
        onClose: (info) => log.closes.push(info),
      });
      open.add(sub);
      return { sub, log };
    }

    const topics = [
      { name: "news", external: true, auth_mode: "public", confirm_external: true },
      { name: "private", external: true, auth_mode: "token", confirm_external: true },
      { name: "inside", external: false, auth_mode: "public" },
      { name: "doomed", external: true, auth_mode: "public", confirm_external: true },
      { name: "shifting", external: true, auth_mode: "public", confirm_external: true },
      { name: "resumable", external: true, auth_mode: "public", confirm_external: true },
    ];

    before(async () => {
      if (skipRealtime) return;
      await addScripts(REALTIME_SCRIPTS);
      await addRoute("rt_token", "/rt/token", ["POST"]);
      await addRoute("rt_publish", "/rt/publish", ["POST"]);
      for (const t of topics) await server.adminOk("POST", `/apps/${APP}/realtime/topics`, t);
    });

    realtimeTest("making a topic external needs confirm_external", async () => {
      const res = await server.admin("POST", `/apps/${APP}/realtime/topics`, { name: "careless", external: true, auth_mode: "public" });
      assert.equal(res.status, 409, res.text);
      const listed = await server.adminOk("GET", `/apps/${APP}/realtime/topics`);
      const names = (listed.items ?? listed).map((t) => t.name);
      for (const t of topics) assert.ok(names.includes(t.name), `${t.name} listed in ${JSON.stringify(listed)}`);
    });

    realtimeTest("a public topic: messages as published, with increasing ids", async () => {
      const { client } = appClient();
      const { sub, log } = record(client, "news");
      await waitFor(() => sub.state === "open", "the stream to open");
      const before = Date.now();
      const id1 = await publish(client, "news", { text: "first" });
      const id2 = await publish(client, "news", ["any", "json", 1, null]);
      await waitFor(() => log.messages.length === 2, "two messages");
      assert.deepEqual(log.messages.map((m) => [m.topic, m.message, m.id]), [
        ["news", { text: "first" }, String(id1)],
        ["news", ["any", "json", 1, null], String(id2)],
      ]);
      assert.ok(BigInt(id2) > BigInt(id1));
      assert.ok(Math.abs(log.messages[0].publishedAt - before) < 60000, "published_at is ms since the epoch");
      assert.equal(sub.lastEventId, String(id2));
      sub.close();
      assert.deepEqual(log.closes, [{ reason: "closed" }]);
    });

    realtimeTest("an unknown topic and an internal one: 404, the subscription ends", async () => {
      const { client } = appClient();
      for (const topic of ["no-such-topic", "inside"]) {
        const { log } = record(client, topic);
        await waitFor(() => log.closes.length === 1, `onClose for ${topic}`);
        assert.equal(log.closes[0].reason, "error");
        assert.equal(log.closes[0].error.status, 404);
        assert.equal(log.closes[0].error.code, "not_found");
      }
    });

    realtimeTest("a token topic: without a token 401 ends it; with getToken it streams", async () => {
      const { client } = appClient();
      const anonymous = record(client, "private");
      await waitFor(() => anonymous.log.closes.length === 1, "onClose");
      assert.equal(anonymous.log.closes[0].error.status, 401);

      const wrongTopic = record(client, "private", { token: await mintToken(client, ["news"]) });
      await waitFor(() => wrongTopic.log.closes.length === 1, "onClose");
      assert.equal(wrongTopic.log.closes[0].error.status, 401, "a token not naming the topic");

      let calls = 0;
      const { sub, log } = record(client, "private", {
        getToken: () => {
          calls++;
          return mintToken(client, ["private"]);
        },
      });
      await waitFor(() => sub.state === "open", "the stream to open");
      const id = await publish(client, "private", { secret: 42 });
      await waitFor(() => log.messages.length === 1, "the message");
      assert.deepEqual(log.messages[0].message, { secret: 42 });
      assert.equal(log.messages[0].id, String(id));
      assert.equal(calls, 1);
      sub.close();
    });

    realtimeTest("a token topic: getToken is asked again once the token expires, and the stream goes on", async (t) => {
      const { client } = appClient();
      const probe = await mintToken(client, ["private"], 2);
      const ttl = (tokenExpiry(probe).getTime() - Date.now()) / 1000;
      if (ttl > 20) {
        t.skip(`the server makes tokens live at least ${Math.round(ttl)} s; too long to wait for here`);
        return;
      }
      const minted = [];
      const { sub, log } = record(client, "private", {
        getToken: async () => {
          const token = await mintToken(client, ["private"], 2);
          minted.push(token);
          return token;
        },
        refreshMarginMs: 0,
      });
      await waitFor(() => sub.state === "open", "the stream to open");
      await publish(client, "private", "before expiry");
      await waitFor(() => log.messages.length === 1, "the first message");
      const expiry = tokenExpiry(minted[0]).getTime();
      await waitFor(() => minted.length >= 2 && sub.state === "open", "a fresh token and a new stream", expiry - Date.now() + 15000);
      await publish(client, "private", "after expiry");
      await waitFor(() => log.messages.some((m) => m.message === "after expiry"), "the message after the refresh");
      assert.ok(Date.now() >= expiry, "the refresh came with the expiry");
      assert.equal(log.closes.length, 0);
      const texts = log.messages.map((m) => m.message);
      assert.equal(new Set(log.messages.map((m) => m.id)).size, texts.length, "nothing twice");
      sub.close();
    });

    realtimeTest("the connection drops mid-stream: resumed with Last-Event-ID, nothing lost, nothing twice", async () => {
      const proxy = await tcpProxy(server.port);
      try {
        const { client: publisher } = appClient();
        const { client, fetch } = appClient({ port: proxy.port });
        const { sub, log } = record(client, "resumable", { backoff: { initialMs: 400, maxMs: 1000, factor: 2, jitter: 0 } });
        await waitFor(() => sub.state === "open", "the stream to open");
        const published = [];
        for (let i = 1; i <= 3; i++) published.push(String(await publish(publisher, "resumable", { n: i })));
        await waitFor(() => log.messages.length === 3, "three messages");

        proxy.cut();
        await waitFor(() => sub.state === "reconnecting", "the client to notice");
        for (let i = 4; i <= 6; i++) published.push(String(await publish(publisher, "resumable", { n: i })));
        await waitFor(() => log.messages.length === 6, "the missed messages, replayed", 10000);
        for (let i = 7; i <= 8; i++) published.push(String(await publish(publisher, "resumable", { n: i })));
        await waitFor(() => log.messages.length === 8, "live messages after the resume");
        await sleep(200);

        assert.deepEqual(log.messages.map((m) => m.message.n), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert.deepEqual(log.messages.map((m) => m.id), published);
        assert.deepEqual(log.resets, []);
        const streams = fetch.calls.filter((c) => c.url.includes("/_picloud/realtime/topics/resumable"));
        assert.equal(streams.length, 2);
        assert.equal(streams[1].headers["Last-Event-ID"], published[2]);
        sub.close();
      } finally {
        await proxy.close();
      }
    });

    realtimeTest("resuming from an id the server no longer has, or never had: onReset, then live messages", async () => {
      const { client } = appClient();
      let latest = await publish(client, "news", "latest before the resume");
      for (const [lastEventId, reason] of [["1", "too_old"], [String(BigInt(latest) + 1000n), "unknown"]]) {
        const { sub, log } = record(client, "news", { lastEventId });
        await waitFor(() => log.resets.length === 1 && sub.state === "open", `a reset for ${lastEventId}`);
        assert.deepEqual(log.resets, [{ topic: "news", reason, latestId: String(latest) }]);
        assert.deepEqual(log.messages, [], "nothing replayed");
        const next = await publish(client, "news", `live after ${reason}`);
        await waitFor(() => log.messages.length === 1, "the live message");
        assert.equal(log.messages[0].id, String(next));
        assert.equal(log.messages[0].message, `live after ${reason}`);
        latest = next;
        sub.close();
      }
    });

    realtimeTest("the server's heartbeats keep a quiet stream open", async () => {
      // The server here sends one every second; the client would call a stream dead after 2.5 s without.
      const { client, fetch } = appClient();
      const { sub, log } = record(client, "news", { heartbeatMs: 1000 });
      await waitFor(() => sub.state === "open", "the stream to open");
      await sleep(4000);
      assert.equal(sub.state, "open");
      assert.deepEqual(log.errors, []);
      assert.equal(fetch.calls.length, 1);
    });

    realtimeTest("a topic that changes: the stream is closed, and the reconnection finds out what is allowed now", async () => {
      const { client } = appClient();
      const { sub, log } = record(client, "shifting");
      await waitFor(() => sub.state === "open", "the stream to open");
      await server.adminOk("PATCH", `/apps/${APP}/realtime/topics/shifting`, { auth_mode: "token" });
      await waitFor(() => log.closes.length === 1, "onClose", 10000);
      assert.equal(log.closes[0].reason, "error");
      assert.equal(log.closes[0].error.status, 401);
      assert.ok(log.opens >= 1);
    });

    realtimeTest("a deleted topic ends the subscription", async () => {
      const { client, fetch } = appClient();
      const { sub, log } = record(client, "doomed");
      await waitFor(() => sub.state === "open", "the stream to open");
      await server.adminOk("DELETE", `/apps/${APP}/realtime/topics/doomed`);
      await waitFor(() => log.closes.length === 1, "onClose", 10000);
      assert.deepEqual(log.closes, [{ reason: "topic_deleted" }]);
      assert.equal(sub.state, "closed");
      const calls = fetch.calls.length;
      await sleep(500);
      assert.equal(fetch.calls.length, calls, "no reconnection");
    });
  });
});
