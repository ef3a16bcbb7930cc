// The CommonJS build: require() of every entry point, and the same behaviour.
const assert = require("node:assert/strict");
const { test } = require("node:test");

test("require() loads the CommonJS build of each entry point", () => {
  const client = require("@picloud/client");
  const react = require("@picloud/client/react");
  const svelte = require("@picloud/client/svelte");
  assert.equal(typeof client.createClient, "function");
  assert.equal(typeof react.useTopic, "function");
  assert.equal(typeof svelte.topicStore, "function");
  assert.match(require.resolve("@picloud/client"), /dist[\\/]cjs[\\/]index\.js$/);
  const err = new client.ClientError({ status: 404, message: "x" });
  assert.ok(err instanceof client.PiCloudError && err instanceof Error);
  assert.equal(err.kind, "client");
  assert.equal(err.name, "ClientError");
});

test("the CommonJS build parses events like the ES module build", async () => {
  const { SseParser } = require("@picloud/client");
  const events = [];
  const p = new SseParser({ onEvent: (e) => events.push(e) });
  p.feed(new TextEncoder().encode("id: 1\r\ndata: a\r\n\r\n"));
  assert.deepEqual(events, [{ type: "message", data: "a", lastEventId: "1" }]);
});
