// The event-stream parser against the WHATWG rules: line ends, fields,
// dispatch, ids, retry, and chunks cut at every possible byte.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SseParser } from "@picloud/client";

const enc = new TextEncoder();

/** Feeds `chunks` (strings are UTF-8 encoded, Uint8Arrays passed as is) and returns what came out. */
function parse(chunks, initialId) {
  const out = { events: [], retries: [], comments: [] };
  const p = new SseParser(
    {
      onEvent: (e) => out.events.push(e),
      onRetry: (ms) => out.retries.push(ms),
      onComment: (c) => out.comments.push(c),
    },
    initialId,
  );
  for (const c of chunks) p.feed(typeof c === "string" ? enc.encode(c) : c);
  out.lastEventId = p.lastEventId;
  p.end();
  return out;
}

const ev = (data, lastEventId = "", type = "message") => ({ type, data, lastEventId });

describe("SSE parser: the standard's examples", () => {
  test("multi-line data is joined with LF", () => {
    assert.deepEqual(parse(["data: YHOO\ndata: +2\ndata: 10\n\n"]).events, [ev("YHOO\n+2\n10")]);
  });

  test("comments, ids, a bare `id` resets the id, one leading space is removed", () => {
    const out = parse([": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"]);
    assert.deepEqual(out.events, [ev("first event", "1"), ev("second event", ""), ev(" third event", "")]);
    assert.deepEqual(out.comments, [" test stream"]);
  });

  test("a field without colon has an empty value; an unfinished event is dropped", () => {
    assert.deepEqual(parse(["data\n\ndata\ndata\n\ndata:"]).events, [ev(""), ev("\n")]);
  });

  test("`data:test` and `data: test` are the same", () => {
    assert.deepEqual(parse(["data:test\n\ndata: test\n\n"]).events, [ev("test"), ev("test")]);
  });
});

describe("SSE parser: line ends", () => {
  test("CRLF, CR and LF all end lines, mixed in one stream", () => {
    const out = parse(["data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"]);
    assert.deepEqual(out.events, [ev("a\nb\nc"), ev("d")]);
  });

  test("a CR at the end of a chunk and the LF at the start of the next are one line end", () => {
    assert.deepEqual(parse(["data: a\r", "\ndata: b\r", "\n\r", "\n"]).events, [ev("a\nb")]);
  });

  test("a CR at the end of a chunk followed by another line is a line end on its own", () => {
    assert.deepEqual(parse(["data: a\r", "data: b\r", "\r"]).events, [ev("a\nb")]);
  });

  test("CR CR is a line end and a blank line", () => {
    assert.deepEqual(parse(["data: x\r\rdata: y\r\r"]).events, [ev("x"), ev("y")]);
  });
});

describe("SSE parser: fields", () => {
  test("event sets the type for one event only; unknown fields are ignored", () => {
    const out = parse(["event: reset\nfoo: bar\ndata: {}\n\ndata: plain\n\n"]);
    assert.deepEqual(out.events, [ev("{}", "", "reset"), ev("plain")]);
  });

  test("an event without data dispatches nothing and forgets its type", () => {
    assert.deepEqual(parse(["event: close\n\ndata: x\n\n"]).events, [ev("x")]);
  });

  test("`data:` with an empty value still dispatches an (empty) event", () => {
    assert.deepEqual(parse(["data:\n\n"]).events, [ev("")]);
  });

  test("only one space after the colon is removed; colons in the value stay", () => {
    assert.deepEqual(parse(["data:   a: b :c\n\n"]).events, [ev("  a: b :c")]);
  });

  test("field names are case-sensitive", () => {
    assert.deepEqual(parse(["Data: x\nDATA: y\ndata: z\n\n"]).events, [ev("z")]);
  });

  test("id persists across events until set again", () => {
    const out = parse(["id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n"]);
    assert.deepEqual(out.events, [ev("a", "7"), ev("b", "7"), ev("c", "8")]);
    assert.equal(out.lastEventId, "8");
  });

  test("an id containing NUL is ignored", () => {
    const out = parse(["id: 5\ndata: a\n\nid: 6\u0000x\ndata: b\n\n"]);
    assert.deepEqual(out.events, [ev("a", "5"), ev("b", "5")]);
  });

  test("an id on its own (no data) still becomes the last event id at the blank line", () => {
    const out = parse(["id: 41\n\n"]);
    assert.deepEqual(out.events, []);
    assert.equal(out.lastEventId, "41");
  });

  test("an id without its blank line is not the last event id yet", () => {
    assert.equal(parse(["id: 3\ndata: a\n\nid: 4\n"]).lastEventId, "3");
  });

  test("an empty id resets the last event id", () => {
    const out = parse(["id: 9\ndata: a\n\nid:\ndata: b\n\n"]);
    assert.deepEqual(out.events, [ev("a", "9"), ev("b", "")]);
  });

  test("the initial last event id is kept until the stream sets one", () => {
    const out = parse(["data: a\n\n"], "100");
    assert.deepEqual(out.events, [ev("a", "100")]);
  });

  test("retry takes only ASCII digits", () => {
    const out = parse(["retry: 1500\nretry: 10a\nretry:\nretry: -5\nretry: 1.5\nretry: ٣\nretry:0250\n\n"]);
    assert.deepEqual(out.retries, [1500, 250]);
    assert.deepEqual(out.events, []);
  });

  test("an unfinished event at the end of the stream is not dispatched", () => {
    assert.deepEqual(parse(["data: a\n\ndata: b\n"]).events, [ev("a")]);
  });
});

describe("SSE parser: UTF-8", () => {
  test("a leading BOM is dropped, a later one is part of the text", () => {
    const out = parse(["\uFEFFdata: a\n\n\uFEFFdata: b\n\ndata: \uFEFFc\n\n"]);
    assert.deepEqual(out.events, [ev("a"), ev("\uFEFFc")]);
  });

  test("characters cut between chunks survive (2, 3 and 4 byte sequences)", () => {
    const bytes = enc.encode("data: é中😀\n\n");
    for (let i = 1; i < bytes.length; i++) {
      for (let j = i; j < bytes.length; j++) {
        const out = parse([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]);
        assert.deepEqual(out.events, [ev("é中😀")], `cut at ${i} and ${j}`);
      }
    }
  });

  test("invalid bytes become U+FFFD and do not stop the stream", () => {
    const bytes = new Uint8Array([...enc.encode("data: a"), 0xff, 0xc3, ...enc.encode("\n\ndata: b\n\n")]);
    assert.deepEqual(parse([bytes]).events, [ev("a\uFFFD\uFFFD"), ev("b")]);
  });
});

describe("SSE parser: chunk boundaries", () => {
  // Every feature in one stream: BOM, comments, CRLF, CR, LF, multi-line
  // data, ids (one with NUL), retry, event types, multi-byte characters.
  const stream =
    "\uFEFF: hello\r\nretry: 3000\r\n\r\nid: 1\r\nevent: reset\r\ndata: {\"a\":\"é\"}\r\n\r\n" +
    "id: 2\rdata: line one\rdata: line two 中\r\r" +
    ": hb\n\nid: 3\u0000\ndata:😀\n\nid\ndata: x\n\nid: 4\n\nevent: close\ndata: {\"reason\":\"shutdown\"}\n\ndata: partial";
  const expected = {
    events: [
      ev('{"a":"é"}', "1", "reset"),
      ev("line one\nline two 中", "2"),
      ev("😀", "2"),
      ev("x", ""),
      ev('{"reason":"shutdown"}', "4", "close"),
    ],
    retries: [3000],
    comments: [" hello", " hb"],
    lastEventId: "4",
  };
  const bytes = enc.encode(stream);

  test("in one chunk", () => {
    assert.deepEqual(parse([bytes]), expected);
  });

  test("cut in two at every byte position", () => {
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(parse([bytes.slice(0, i), bytes.slice(i)]), expected, `cut at ${i}`);
    }
  });

  test("cut in three at every pair of positions", () => {
    for (let i = 1; i < bytes.length; i++) {
      for (let j = i + 1; j < bytes.length; j++) {
        const out = parse([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]);
        assert.deepEqual(out, expected, `cut at ${i} and ${j}`);
      }
    }
  });

  test("one byte at a time", () => {
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    assert.deepEqual(parse(chunks), expected);
  });

  test("as text already decoded, one character at a time", () => {
    assert.deepEqual(parse([...stream.slice(1)]), expected);
  });
});
