// Reconnection delays and reading a realtime token's expiry.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Backoff, tokenClaims, tokenExpiresWithin, tokenExpiry } from "@picloud/client";

describe("Backoff", () => {
  test("grows by the factor up to the maximum, without jitter", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => b.next()), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(b.attempts, 6);
  });

  test("jitter takes away up to its share of each delay", () => {
    const low = new Backoff({ initialMs: 1000, jitter: 0.5 }, () => 0.999999);
    const high = new Backoff({ initialMs: 1000, jitter: 0.5 }, () => 0);
    assert.equal(low.next(), 500);
    assert.equal(high.next(), 1000);
    const random = new Backoff({ initialMs: 1000, maxMs: 1000 });
    for (let i = 0; i < 200; i++) {
      const d = random.next();
      assert.ok(d >= 500 && d <= 1000, `delay ${d}`);
    }
  });

  test("the server's retry is the minimum", () => {
    const b = new Backoff({ initialMs: 100, jitter: 0 });
    assert.equal(b.next(2500), 2500);
    assert.equal(b.next(50), 200);
  });

  test("reset starts from the first delay again", () => {
    const b = new Backoff({ initialMs: 100, factor: 3, jitter: 0 });
    b.next();
    b.next();
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.next(), 100);
  });

  test("defaults: 1 s doubling to 30 s", () => {
    const b = new Backoff({ jitter: 0 });
    const delays = Array.from({ length: 7 }, () => b.next());
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
});

function b64url(text) {
  return Buffer.from(text, "utf8").toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

describe("tokenExpiry", () => {
  const payload = { app: "0195aaaa", topics: ["chat", "ünïcode"], exp: 1900000000, iat: 1899996400 };
  const token = `${b64url(JSON.stringify(payload))}.${b64url("signature bytes")}`;

  test("reads exp without verifying", () => {
    assert.deepEqual(tokenExpiry(token), new Date(1900000000 * 1000));
    assert.deepEqual(tokenClaims(token), payload);
  });

  test("null for tokens it cannot read", () => {
    for (const t of ["", "abc", "a.b", "!!!.sig", `${b64url("[1,2]")}.x`, `${b64url('{"exp":"soon"}')}.x`]) {
      assert.equal(tokenExpiry(t), null, t);
    }
  });

  test("tokenExpiresWithin compares with a margin", () => {
    const now = 1900000000 * 1000;
    assert.equal(tokenExpiresWithin(token, 0, now - 10000), false);
    assert.equal(tokenExpiresWithin(token, 20000, now - 10000), true);
    assert.equal(tokenExpiresWithin(token, 0, now), true);
    assert.equal(tokenExpiresWithin("opaque", 0, now), false);
  });
});
