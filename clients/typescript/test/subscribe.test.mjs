// subscribe() against a real event-stream server on a loopback port: the
// server here plays PiCloud's realtime contract (and misbehaves on purpose).
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { createClient, topicPath } from "@picloud/client";
import { FAST, jsonAnswer, messageFrame, openStream, sleep, startServer, waitFor } from "./helpers.mjs";

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
function makeToken(expSeconds, topics = ["chat"]) {
  return `${b64url({ app: "a1", topics, exp: expSeconds, iat: expSeconds - 60 })}.${Buffer.from("sig").toString("base64url")}`;
}

// Every subscription a test opens is closed after it, passed or failed.
const open = new Set();
afterEach(() => {
  for (const sub of open) sub.close();
  open.clear();
});

/** Subscribes and records everything the callbacks report. */
function record(client, topic, options = {}) {
  const log = { messages: [], errors: [], resets: [], closes: [], opens: 0 };
  const sub = client.subscribe(topic, (m) => log.messages.push(m), {
    backoff: FAST,
    ...options,
    onOpen: () => log.opens++,
    onError: (error, info) => log.errors.push({ error, info }),
    onReset: (info) => log.resets.push(info),
    onClose: (info) => log.closes.push(info),
  });
  open.add(sub);
  return { sub, log };
}

const ids = (log) => log.messages.map((m) => m.id);

/** A tiny in-memory topic log with replay from Last-Event-ID, as the server keeps one. */
function topicLog(topic) {
  const events = [];
  return {
    events,
    publish(message) {
      const id = String(events.length + 1);
      events.push({ id, frame: messageFrame(topic, id, message) });
      return id;
    },
    after(lastId) {
      const n = lastId ? Number(lastId) : 0;
      return events.filter((e) => Number(e.id) > n);
    },
  };
}

describe("subscribe(): messages", () => {
  test("delivers {topic, message, publishedAt, id}, with the request PiCloud expects", async () => {
    const server = await startServer(async (req, res) => {
      openStream(res);
      res.write("retry: 50\n\n: hb\n\n");
      res.write(messageFrame("chat room/1", 1, { text: "hello" }, 1700000000123));
      // A frame cut into pieces on the wire, inside a multi-byte character too.
      const frame = Buffer.from(messageFrame("chat room/1", 2, { text: "grüße 😀" }));
      for (const cut of [[0, 5], [5, 40], [40, frame.length - 9], [frame.length - 9, frame.length - 8], [frame.length - 8]]) {
        res.write(frame.subarray(...cut));
        await sleep(15);
      }
      res.write("id: 3\r\ndata: {\"topic\":\"chat room/1\",\"message\":null,\"published_at\":5,\r\ndata: \"id\":\"3\"}\r\n\r\n");
    });
    const client = createClient({ baseUrl: server.url + "/", headers: { "X-Client": "t" } });
    const { sub, log } = record(client, "chat room/1", { token: "secret" });
    assert.equal(sub.state, "connecting");
    await waitFor(() => log.messages.length === 3, "three messages");
    assert.deepEqual(log.messages, [
      { topic: "chat room/1", message: { text: "hello" }, publishedAt: 1700000000123, id: "1" },
      { topic: "chat room/1", message: { text: "grüße 😀" }, publishedAt: 1700000000002, id: "2" },
      { topic: "chat room/1", message: null, publishedAt: 5, id: "3" },
    ]);
    assert.equal(sub.state, "open");
    assert.equal(sub.lastEventId, "3");
    assert.equal(log.opens, 1);
    const req = server.requests[0];
    assert.equal(req.method, "GET");
    assert.equal(req.url, "/_picloud/realtime/topics/chat%20room%2F1");
    assert.equal(topicPath("chat room/1"), "/_picloud/realtime/topics/chat%20room%2F1");
    assert.equal(req.headers.authorization, "Bearer secret");
    assert.equal(req.headers.accept, "text/event-stream");
    assert.equal(req.headers["x-client"], "t");
    assert.equal(req.headers["last-event-id"], undefined);
    sub.close();
    await server.close();
  });

  test("lastEventId option resumes from there", async () => {
    const server = await startServer((req, res) => {
      openStream(res);
      res.write(messageFrame("t", 11, "eleven"));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", { lastEventId: "10" });
    await waitFor(() => log.messages.length === 1, "a message");
    assert.equal(server.requests[0].headers["last-event-id"], "10");
    sub.close();
    await server.close();
  });
});

describe("subscribe(): resuming", () => {
  test("server drops the connection mid-stream → client resumes with Last-Event-ID and gets nothing twice", async () => {
    const log = topicLog("chat");
    const streams = new Set();
    const server = await startServer((req, res) => {
      openStream(res);
      for (const e of log.after(req.headers["last-event-id"])) res.write(e.frame);
      streams.add(res);
      res.on("close", () => streams.delete(res));
    });
    const publish = (message) => {
      const id = log.publish(message);
      const frame = log.events.at(-1).frame;
      for (const s of streams) s.write(frame);
      return id;
    };
    const { sub, log: got } = record(createClient({ baseUrl: server.url }), "chat");
    await waitFor(() => got.opens === 1, "open");
    for (let i = 1; i <= 5; i++) publish({ n: i });
    await waitFor(() => got.messages.length === 5, "five messages");

    // Half of message 6 is on the wire when the connection dies: it must not be delivered, nor lost.
    for (const st of streams) st.write(messageFrame("chat", 6, { n: 6 }).slice(0, 30));
    await sleep(30);
    server.dropConnections();
    log.publish({ n: 6 }); // published while the client is away
    log.publish({ n: 7 });
    await waitFor(() => got.messages.length === 7, "seven messages after the resume");
    for (let i = 8; i <= 10; i++) publish({ n: i });
    await waitFor(() => got.messages.length === 10, "ten messages");
    await sleep(50);
    assert.deepEqual(ids(got), ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    assert.deepEqual(got.messages.map((m) => m.message.n), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[1].headers["last-event-id"], "5");
    assert.equal(got.opens, 2);
    assert.equal(got.errors.length, 1);
    assert.equal(got.errors[0].error.kind, "network");
    assert.ok(got.errors[0].info.reconnectInMs >= 0);
    sub.close();
    await server.close();
  });

  test("a replay that repeats what was delivered is not delivered twice", async () => {
    const server = await startServer((req, res, n) => {
      openStream(res);
      // The second connection replays from the start, ignoring Last-Event-ID.
      for (let id = 1; id <= (n === 0 ? 3 : 5); id++) res.write(messageFrame("t", id, id));
      if (n === 0) res.end();
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => log.messages.length === 5, "five messages");
    await sleep(30);
    assert.deepEqual(ids(log), ["1", "2", "3", "4", "5"]);
    assert.equal(server.requests[1].headers["last-event-id"], "3");
    assert.equal(log.errors[0].error.code, "stream_ended");
    sub.close();
    await server.close();
  });

  test("reset: onReset is called, the stream goes on, and the next resume starts from latest_id", async () => {
    const server = await startServer((req, res, n) => {
      openStream(res);
      if (n === 0) {
        res.write(`event: reset\ndata: {"topic":"t","reason":"too_old","latest_id":"900"}\n\n`);
        // The numbering may restart (a new server): ids lower than before are delivered after a reset.
        res.write(messageFrame("t", 901, "a"));
        res.write(`event: reset\ndata: {"topic":"t","reason":"unknown","latest_id":"2"}\n\n`);
        res.write(messageFrame("t", 3, "b"));
        res.write(`event: reset\ndata: {"topic":"t","reason":"unknown","latest_id":"40"}\n\n`);
        setTimeout(() => res.destroy(), 30);
      }
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", { lastEventId: "17" });
    await waitFor(() => server.requests.length === 2, "a reconnection");
    assert.deepEqual(log.resets, [
      { topic: "t", reason: "too_old", latestId: "900" },
      { topic: "t", reason: "unknown", latestId: "2" },
      { topic: "t", reason: "unknown", latestId: "40" },
    ]);
    assert.deepEqual(ids(log), ["901", "3"]);
    assert.equal(server.requests[0].headers["last-event-id"], "17");
    assert.equal(server.requests[1].headers["last-event-id"], "40");
    sub.close();
    await server.close();
  });

  test("the server's retry: is the shortest reconnection delay", async () => {
    const times = [];
    const server = await startServer((req, res) => {
      times.push(Date.now());
      openStream(res);
      res.end("retry: 300\n\n");
    });
    const { sub } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => times.length === 3, "two reconnections");
    sub.close();
    assert.ok(times[1] - times[0] >= 290, `first gap ${times[1] - times[0]} ms`);
    assert.ok(times[2] - times[1] >= 290, `second gap ${times[2] - times[1]} ms`);
    await server.close();
  });
});

describe("subscribe(): the server's close events", () => {
  for (const reason of ["shutdown", "too_slow", "topic_changed"]) {
    test(`close ${reason} → reconnect after a backoff, resuming`, async () => {
      const server = await startServer((req, res, n) => {
        openStream(res);
        if (n === 0) {
          res.write(messageFrame("t", 1, "x"));
          res.write(`event: close\ndata: {"reason":"${reason}"}\n\n`);
          // The server closes right after; the client must not wait for it.
        } else {
          res.write(messageFrame("t", 2, "y"));
        }
      });
      const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
      await waitFor(() => log.messages.length === 2, "the message after the reconnection");
      assert.equal(server.requests[1].headers["last-event-id"], "1");
      assert.equal(log.closes.length, 0);
      assert.equal(log.errors.length, 0);
      sub.close();
      await server.close();
    });
  }

  test("close topic_deleted → the subscription ends, no reconnection", async () => {
    const server = await startServer((req, res) => {
      openStream(res);
      res.write(`event: close\ndata: {"reason":"topic_deleted"}\n\n`);
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => log.closes.length === 1, "onClose");
    assert.deepEqual(log.closes, [{ reason: "topic_deleted" }]);
    assert.equal(sub.state, "closed");
    await sleep(150);
    assert.equal(server.requests.length, 1);
    assert.equal(log.closes.length, 1);
    await server.close();
  });

  test("close token_expired → a fresh token from getToken and back at once", async () => {
    const times = [];
    const server = await startServer((req, res, n) => {
      times.push(Date.now());
      openStream(res);
      if (n === 0) {
        res.write(messageFrame("t", 1, "x"));
        res.write(`event: close\ndata: {"reason":"token_expired"}\n\n`);
      } else {
        res.write(messageFrame("t", 2, "y"));
      }
    });
    let calls = 0;
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", {
      getToken: async () => `fresh-${++calls}`,
      backoff: { initialMs: 2000, jitter: 0 },
    });
    await waitFor(() => log.messages.length === 2, "the message after the reconnection");
    assert.equal(server.requests[0].headers.authorization, "Bearer fresh-1");
    assert.equal(server.requests[1].headers.authorization, "Bearer fresh-2");
    assert.equal(server.requests[1].headers["last-event-id"], "1");
    assert.ok(times[1] - times[0] < 1000, `reconnected after ${times[1] - times[0]} ms`);
    sub.close();
    await server.close();
  });

  test("close token_expired without getToken → the subscription ends with an error", async () => {
    const server = await startServer((req, res) => {
      openStream(res);
      res.write(`event: close\ndata: {"reason":"token_expired"}\n\n`);
    });
    const { log } = record(createClient({ baseUrl: server.url }), "t", { token: "fixed" });
    await waitFor(() => log.closes.length === 1, "onClose");
    assert.equal(log.closes[0].reason, "error");
    assert.equal(log.closes[0].error.code, "token_expired");
    assert.equal(log.errors[0].info.reconnectInMs, null);
    await sleep(100);
    assert.equal(server.requests.length, 1);
    await server.close();
  });
});

describe("subscribe(): refusals", () => {
  test("401 → getToken and again with the new token", async () => {
    const server = await startServer((req, res) => {
      if (req.headers.authorization !== "Bearer good")
        return jsonAnswer(res, 401, { error: { code: "unauthorized", message: "token expired" } });
      openStream(res);
      res.write(messageFrame("t", 1, "in"));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", {
      token: "stale",
      getToken: () => "good",
    });
    await waitFor(() => log.messages.length === 1, "the message");
    assert.deepEqual(server.requests.map((r) => r.headers.authorization), ["Bearer stale", "Bearer good"]);
    assert.equal(log.errors[0].error.status, 401);
    assert.equal(log.errors[0].info.reconnectInMs, 0);
    sub.close();
    await server.close();
  });

  test("a token that has expired (by its exp) is replaced before connecting", async () => {
    const server = await startServer((req, res) => {
      openStream(res);
      res.write(messageFrame("t", 1, "in"));
    });
    const expired = makeToken(Math.floor(Date.now() / 1000) - 10);
    const fresh = makeToken(Math.floor(Date.now() / 1000) + 3600);
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", { token: expired, getToken: () => fresh });
    await waitFor(() => log.messages.length === 1, "the message");
    assert.deepEqual(server.requests.map((r) => r.headers.authorization), [`Bearer ${fresh}`]);
    sub.close();
    await server.close();
  });

  test("401 without getToken → ends with the error, one request", async () => {
    const server = await startServer((req, res) => jsonAnswer(res, 401, { error: { code: "unauthorized", message: "no token" } }));
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => log.closes.length === 1, "onClose");
    assert.equal(log.closes[0].reason, "error");
    assert.equal(log.closes[0].error.status, 401);
    assert.equal(log.closes[0].error.code, "unauthorized");
    assert.equal(log.closes[0].error.message, "no token");
    assert.equal(sub.state, "closed");
    await sleep(100);
    assert.equal(server.requests.length, 1);
    await server.close();
  });

  test("401 again and again with fresh tokens → gives up after maxAuthFailures", async () => {
    const server = await startServer((req, res) => jsonAnswer(res, 401, { error: { code: "unauthorized", message: "no" } }));
    let calls = 0;
    const { log } = record(createClient({ baseUrl: server.url }), "t", {
      getToken: () => `t${++calls}`,
      maxAuthFailures: 3,
    });
    await waitFor(() => log.closes.length === 1, "onClose", 5000);
    assert.equal(server.requests.length, 4);
    assert.equal(calls, 4);
    assert.equal(log.closes[0].error.status, 401);
    await server.close();
  });

  test("getToken failing with a 4xx ends; failing otherwise backs off and tries again", async () => {
    const server = await startServer((req, res) => {
      if (req.url === "/token") return jsonAnswer(res, 403, { error: { code: "forbidden", message: "signed out" } });
      openStream(res);
      res.write(messageFrame("t", 1, "in"));
    });
    const client = createClient({ baseUrl: server.url });
    let calls = 0;
    const flaky = record(client, "t", {
      getToken: async () => {
        if (++calls < 3) throw new Error("token route down");
        return "ok";
      },
    });
    await waitFor(() => flaky.log.messages.length === 1, "the message");
    assert.equal(flaky.log.errors.length, 2);
    assert.equal(flaky.log.errors[0].error.kind, "token");
    assert.equal(flaky.log.errors[0].error.code, "get_token_failed");
    flaky.sub.close();

    const before = server.requests.length;
    const signedOut = record(client, "t", { getToken: () => client.endpoint("/token").post() });
    await waitFor(() => signedOut.log.closes.length === 1, "onClose");
    assert.equal(signedOut.log.closes[0].error.kind, "client");
    assert.equal(signedOut.log.closes[0].error.status, 403);
    assert.deepEqual(server.requests.slice(before).map((r) => r.url), ["/token"]);
    await server.close();
  });

  test("404 → ends with the error (topic unknown or not external), one request", async () => {
    const server = await startServer((req, res) =>
      jsonAnswer(res, 404, { error: { code: "not_found", message: "no external topic 'nope'", details: {} } }, { "X-Request-Id": "r404" }),
    );
    const { log } = record(createClient({ baseUrl: server.url }), "nope");
    await waitFor(() => log.closes.length === 1, "onClose");
    const err = log.closes[0].error;
    assert.equal(err.kind, "client");
    assert.equal(err.status, 404);
    assert.equal(err.code, "not_found");
    assert.equal(err.requestId, "r404");
    await sleep(100);
    assert.equal(server.requests.length, 1);
    await server.close();
  });

  test("503 and network failures → back off (growing, honouring Retry-After) and try again", async () => {
    const times = [];
    const server = await startServer((req, res, n) => {
      times.push(Date.now());
      if (n === 0) return jsonAnswer(res, 503, { error: { code: "unavailable", message: "too many streams" } });
      if (n === 1) return res.destroy();
      if (n === 2) return jsonAnswer(res, 503, { error: { code: "unavailable", message: "busy" } }, { "Retry-After": "1" });
      if (n === 3) return jsonAnswer(res, 500, "oops");
      openStream(res);
      res.write(messageFrame("t", 1, "finally"));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", {
      backoff: { initialMs: 40, factor: 2, maxMs: 1000, jitter: 0 },
    });
    await waitFor(() => log.messages.length === 1, "the message", 8000);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.ok(gaps[0] >= 35 && gaps[0] < 1000, `gap 1: ${gaps[0]}`);
    assert.ok(gaps[1] >= 75, `gap 2: ${gaps[1]}`);
    assert.ok(gaps[2] >= 990, `gap 3 (Retry-After: 1): ${gaps[2]}`);
    assert.ok(gaps[3] >= 310, `gap 4: ${gaps[3]}`);
    assert.deepEqual(log.errors.map((e) => e.error.kind), ["server", "network", "server", "server"]);
    assert.deepEqual(log.errors.map((e) => e.info.reconnectInMs), [40, 80, 1000, 320]);
    assert.equal(log.closes.length, 0);
    sub.close();
    await server.close();
  });

  test("a 200 that is not an event stream is retried", async () => {
    const server = await startServer((req, res, n) => {
      if (n === 0) return jsonAnswer(res, 200, { hello: "proxy" });
      openStream(res);
      res.write(messageFrame("t", 1, "ok"));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => log.messages.length === 1, "the message");
    assert.equal(log.errors[0].error.code, "not_event_stream");
    sub.close();
    await server.close();
  });

  test("the backoff starts over after a healthy connection", async () => {
    const times = [];
    const server = await startServer((req, res, n) => {
      times.push(Date.now());
      if (n < 4 || n === 5) return jsonAnswer(res, 503, { error: { code: "unavailable", message: "busy" } });
      openStream(res);
      if (n === 4) res.end(messageFrame("t", 1, "one"));
      else res.write(messageFrame("t", 2, "two"));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", {
      backoff: { initialMs: 30, factor: 3, maxMs: 5000, jitter: 0 },
    });
    await waitFor(() => log.messages.length === 2, "two messages", 8000);
    assert.deepEqual(log.errors.map((e) => e.info.reconnectInMs), [30, 90, 270, 810, 30, 90]);
    sub.close();
    await server.close();
  });
});

describe("subscribe(): liveness and closing", () => {
  test("a stream silent for 2.5 heartbeats is taken as dead and reconnected", async () => {
    const server = await startServer((req, res, n) => {
      openStream(res);
      if (n === 0) res.write(messageFrame("t", 1, "then silence"));
      else res.write(messageFrame("t", 2, "back"));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", { heartbeatMs: 40 });
    await waitFor(() => log.messages.length === 2, "the message after the reconnection");
    assert.equal(log.errors[0].error.code, "stream_silent");
    assert.equal(server.requests[1].headers["last-event-id"], "1");
    sub.close();
    await server.close();
  });

  test("heartbeats keep a quiet stream alive", async () => {
    const server = await startServer((req, res) => {
      openStream(res);
      const timer = setInterval(() => res.write(": hb\n\n"), 20);
      res.on("close", () => clearInterval(timer));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", { heartbeatMs: 40 });
    await sleep(400);
    assert.equal(server.requests.length, 1);
    assert.equal(log.errors.length, 0);
    assert.equal(sub.state, "open");
    sub.close();
    await server.close();
  });

  test("close() aborts the open stream at once and never reconnects", async () => {
    let serverSawClose = false;
    const server = await startServer((req, res) => {
      openStream(res);
      res.write(messageFrame("t", 1, "x"));
      res.on("close", () => (serverSawClose = true));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => log.messages.length === 1, "the message");
    sub.close();
    sub.close();
    assert.equal(sub.state, "closed");
    assert.deepEqual(log.closes, [{ reason: "closed" }]);
    await waitFor(() => serverSawClose, "the server to see the connection close", 1000);
    await sleep(150);
    assert.equal(server.requests.length, 1);
    assert.equal(log.errors.length, 0);
    await server.close();
  });

  test("close() while waiting to reconnect cancels the reconnection", async () => {
    const server = await startServer((req, res) => jsonAnswer(res, 503, { error: { code: "unavailable", message: "x" } }));
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t", { backoff: { initialMs: 200, jitter: 0 } });
    await waitFor(() => log.errors.length === 1, "the first failure");
    assert.equal(sub.state, "reconnecting");
    sub.close();
    await sleep(400);
    assert.equal(server.requests.length, 1);
    assert.deepEqual(log.closes, [{ reason: "closed" }]);
    await server.close();
  });

  test("close() while connecting aborts the request", async () => {
    let clientLeft = false;
    const server = await startServer((req) => req.socket.on("end", () => (clientLeft = true))); // never answers
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => server.requests.length === 1, "the request");
    sub.close();
    await waitFor(() => clientLeft, "the client to close the connection", 1000);
    await sleep(100);
    assert.equal(log.errors.length, 0);
    assert.deepEqual(log.closes, [{ reason: "closed" }]);
    await server.close();
  });

  test("the signal closes it, even one aborted before subscribing", async () => {
    const server = await startServer((req, res) => {
      openStream(res);
      res.write(messageFrame("t", 1, "x"));
    });
    const client = createClient({ baseUrl: server.url });
    const controller = new AbortController();
    const live = record(client, "t", { signal: controller.signal });
    await waitFor(() => live.log.messages.length === 1, "the message");
    controller.abort();
    assert.equal(live.sub.state, "closed");
    assert.deepEqual(live.log.closes, [{ reason: "closed" }]);

    const dead = record(client, "t", { signal: controller.signal });
    assert.equal(dead.sub.state, "closed");
    await sleep(50);
    assert.deepEqual(dead.log.closes, [{ reason: "closed" }]);
    assert.equal(server.requests.length, 1);
    await server.close();
  });

  test("a message that is not JSON is reported and skipped; the stream goes on", async () => {
    const server = await startServer((req, res) => {
      openStream(res);
      res.write("id: 1\ndata: not json\n\n");
      res.write("event: future\ndata: {}\n\n");
      res.write(messageFrame("t", 2, "fine"));
    });
    const { sub, log } = record(createClient({ baseUrl: server.url }), "t");
    await waitFor(() => log.messages.length === 1, "the message");
    assert.equal(log.errors.length, 1);
    assert.equal(log.errors[0].error.code, "bad_event");
    assert.equal(log.errors[0].info.reconnectInMs, null);
    assert.equal(sub.state, "open");
    sub.close();
    await server.close();
  });
});
