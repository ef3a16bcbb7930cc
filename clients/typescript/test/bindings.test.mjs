// The React hooks and the Svelte stores, against a real server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createRequire } from "node:module";
import { createClient } from "@picloud/client";
import { PiCloudProvider, useEndpoint, usePiCloud, useTopic } from "@picloud/client/react";
import { endpointStore, topicStore } from "@picloud/client/svelte";
import { FAST, jsonAnswer, messageFrame, openStream, sleep, startServer, waitFor } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const React = require("react");
const TestRenderer = require("react-test-renderer");
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

let server;
let streams;
let counter = 0;

before(async () => {
  streams = new Set();
  server = await startServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/count") {
      counter++;
      return jsonAnswer(res, 200, { count: counter, q: url.searchParams.get("q"), auth: req.headers.authorization ?? null });
    }
    if (url.pathname === "/broken") return jsonAnswer(res, 500, { error: { code: "internal", message: "broken" } });
    if (url.pathname.startsWith("/_picloud/realtime/topics/missing"))
      return jsonAnswer(res, 404, { error: { code: "not_found", message: "no topic" } });
    if (url.pathname.startsWith("/_picloud/realtime/topics/")) {
      openStream(res);
      streams.add(res);
      res.on("close", () => streams.delete(res));
      return;
    }
    jsonAnswer(res, 404, { error: { code: "not_found", message: "nothing" } });
  });
});
after(() => server.close());

let nextId = 1;
function publish(message) {
  const frame = messageFrame("t", nextId++, message);
  for (const s of streams) s.write(frame);
}

describe("svelte stores", () => {
  test("topicStore: subscribes with its first subscriber, stops with the last", async () => {
    const client = createClient({ baseUrl: server.url });
    const store = topicStore(client, "t", { keep: 2, backoff: FAST });
    const seen = [];
    const unsubscribe = store.subscribe((s) => seen.push(s));
    assert.equal(seen[0].status, "connecting");
    await waitFor(() => seen.at(-1).status === "open" && streams.size === 1, "open");
    publish("a");
    publish("b");
    publish("c");
    await waitFor(() => seen.at(-1).last?.message === "c", "three messages");
    assert.deepEqual(seen.at(-1).messages.map((m) => m.message), ["b", "c"]);
    // A second subscriber shares the same subscription and gets the current value at once.
    let second;
    const unsubscribe2 = store.subscribe((s) => (second = s));
    assert.equal(second.last.message, "c");
    unsubscribe();
    assert.equal(streams.size, 1);
    unsubscribe2();
    await waitFor(() => streams.size === 0, "the stream to close");
  });

  test("topicStore: an unknown topic ends closed with the error", async () => {
    const client = createClient({ baseUrl: server.url });
    let state;
    const unsubscribe = topicStore(client, "missing").subscribe((s) => (state = s));
    await waitFor(() => state.status === "closed", "closed");
    assert.equal(state.error.status, 404);
    unsubscribe();
  });

  test("endpointStore: loads, refreshes, reports errors", async () => {
    const client = createClient({ baseUrl: server.url, token: "tk" });
    const store = endpointStore(client, "/count", { q: "x" });
    let state;
    const unsubscribe = store.subscribe((s) => (state = s));
    assert.equal(state.loading, true);
    await waitFor(() => !state.loading, "loaded");
    assert.equal(state.data.q, "x");
    assert.equal(state.data.auth, "Bearer tk");
    const first = state.data.count;
    store.refresh();
    assert.equal(state.loading, true);
    assert.equal(state.data.count, first, "the old data stays while loading");
    await waitFor(() => !state.loading, "reloaded");
    assert.equal(state.data.count, first + 1);
    unsubscribe();

    let broken;
    const off = endpointStore(client, "/broken").subscribe((s) => (broken = s));
    await waitFor(() => !broken.loading, "loaded");
    assert.equal(broken.error.code, "internal");
    assert.equal(broken.data, undefined);
    off();
  });
});

describe("react hooks", () => {
  async function render(element) {
    let renderer;
    await TestRenderer.act(async () => {
      renderer = TestRenderer.create(element);
    });
    return renderer;
  }

  test("usePiCloud gives the provider's client; without a provider it throws", async () => {
    const client = createClient({ baseUrl: server.url });
    let got;
    function Probe() {
      got = usePiCloud();
      return null;
    }
    const r = await render(React.createElement(PiCloudProvider, { client }, React.createElement(Probe)));
    assert.equal(got, client);
    await TestRenderer.act(async () => r.unmount());

    const original = console.error;
    console.error = () => {};
    try {
      await assert.rejects(render(React.createElement(Probe)), /no <PiCloudProvider/);
    } finally {
      console.error = original;
    }
  });

  test("useTopic follows a topic while mounted and closes on unmount", async () => {
    const client = createClient({ baseUrl: server.url });
    let state;
    let onMessageCalls = 0;
    function Chat() {
      // A new callback every render must not resubscribe.
      state = useTopic("t", { keep: 10, backoff: FAST, onMessage: () => onMessageCalls++ });
      return React.createElement("ul", null, state.messages.map((m) => React.createElement("li", { key: m.id }, String(m.message))));
    }
    const r = await render(React.createElement(PiCloudProvider, { client }, React.createElement(Chat)));
    await TestRenderer.act(() => waitFor(() => state.status === "open" && streams.size === 1, "open"));
    await TestRenderer.act(async () => {
      publish("hello");
      publish("world");
      await waitFor(() => state.messages.length === 2, "two messages");
    });
    assert.deepEqual(r.toJSON().children.map((li) => li.children[0]), ["hello", "world"]);
    assert.equal(state.last.message, "world");
    assert.equal(onMessageCalls, 2);
    assert.equal(server.requests.filter((q) => q.url.startsWith("/_picloud/")).length >= 1, true);
    const subscribes = server.requests.filter((q) => q.url === "/_picloud/realtime/topics/t").length;
    await TestRenderer.act(async () => r.unmount());
    await waitFor(() => streams.size === 0, "the stream to close");
    assert.equal(server.requests.filter((q) => q.url === "/_picloud/realtime/topics/t").length, subscribes);
  });

  test("useTopic with enabled: false does not subscribe", async () => {
    const client = createClient({ baseUrl: server.url });
    let state;
    function Idle() {
      state = useTopic("t", { enabled: false, client });
      return null;
    }
    const before = server.requests.length;
    const r = await render(React.createElement(Idle));
    await sleep(50);
    assert.equal(state.status, "idle");
    assert.equal(server.requests.length, before);
    await TestRenderer.act(async () => r.unmount());
  });

  test("useEndpoint loads, refreshes, and loads again when the token changes", async () => {
    const client = createClient({ baseUrl: server.url });
    let result;
    function Counter() {
      result = useEndpoint("/count", { q: "r" });
      return null;
    }
    const r = await render(React.createElement(PiCloudProvider, { client }, React.createElement(Counter)));
    await TestRenderer.act(() => waitFor(() => !result.loading, "loaded"));
    assert.equal(result.data.q, "r");
    assert.equal(result.error, null);
    const first = result.data.count;
    await TestRenderer.act(async () => {
      result.refresh();
      await waitFor(() => !result.loading && result.data.count === first + 1, "refreshed");
    });
    await TestRenderer.act(async () => {
      client.auth.token = "signed-in";
      await waitFor(() => !result.loading && result.data.auth === "Bearer signed-in", "reloaded with the token");
    });
    await TestRenderer.act(async () => r.unmount());
  });

  test("useEndpoint reports errors", async () => {
    const client = createClient({ baseUrl: server.url });
    let result;
    function Broken() {
      result = useEndpoint("/broken", undefined, { client });
      return null;
    }
    const r = await render(React.createElement(Broken));
    await TestRenderer.act(() => waitFor(() => !result.loading, "loaded"));
    assert.equal(result.error.kind, "server");
    assert.equal(result.error.message, "broken");
    await TestRenderer.act(async () => r.unmount());
  });
});
