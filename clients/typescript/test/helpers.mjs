// Test helpers: a real HTTP server on a loopback port whose handler the test
// writes, and small waiting utilities.
import http from "node:http";

/**
 * Starts a server on 127.0.0.1 with a free port. `handler(req, res, n)` gets
 * each request and its number (0-based). Returns { url, port, requests,
 * sockets, close() }; `requests` records method, url and headers of each.
 */
export async function startServer(handler) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const n = requests.length;
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      requests[n].body = body;
      Promise.resolve(handler(req, res, n, body)).catch((e) => {
        res.destroy(e);
      });
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    sockets,
    /** Cuts every open connection (as a crashing server or a dropped network would). */
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Starts an event stream answer. */
export function openStream(res, extraHeaders = {}) {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", ...extraHeaders });
  res.flushHeaders();
}

/** One message frame as the server sends it. */
export function messageFrame(topic, id, message, publishedAt = 1700000000000 + Number(id)) {
  return `id: ${id}\ndata: ${JSON.stringify({ topic, message, published_at: publishedAt, id: String(id) })}\n\n`;
}

export function jsonAnswer(res, status, value, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(value));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond()` is truthy (polling), or fails after `timeoutMs` with `what`. */
export async function waitFor(cond, what = "condition", timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Fast backoff for tests: reconnections come within tens of milliseconds. */
export const FAST = { initialMs: 20, maxMs: 200, factor: 2, jitter: 0 };
