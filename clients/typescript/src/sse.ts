// An incremental parser of server-sent events, exactly as the WHATWG HTML
// standard's EventSource interprets an event stream (section "Parsing an event
// stream"). It is fed the body in chunks as they arrive, cut anywhere: inside
// a UTF-8 character, between the CR and LF of a line end, inside a field.
//
// - The bytes are decoded as UTF-8 in streaming mode (a leading BOM dropped,
//   invalid bytes become U+FFFD).
// - Lines end with CRLF, LF or CR.
// - A blank line dispatches the event being built; a line starting with ':'
//   is a comment; "field: value" loses one space after the colon; a line
//   without a colon is a field with an empty value.
// - `data` lines are joined with LF; `event` sets the type ("message" when
//   unset); `id` sets the last event id unless the value contains NUL (it is
//   kept across events, and an event without data still updates it);
//   `retry` with only ASCII digits sets the reconnection time; other fields
//   are ignored.
// - At the end of the stream, an event without its blank line is dropped.

export interface SseEvent {
  /** The `event` field, or "message". */
  type: string;
  /** The `data` lines, joined with "\n". */
  data: string;
  /** The last event id at the time of this event ("" when none was set). */
  lastEventId: string;
}

export interface SseHandlers {
  /** A complete event (one with data). */
  onEvent(event: SseEvent): void;
  /** A valid `retry` field: the reconnection time in milliseconds. */
  onRetry?(ms: number): void;
  /** A comment line, without its leading ':' (heartbeats are comments). */
  onComment?(text: string): void;
  /**
   * The last event id changed (at a blank line, before that event's onEvent;
   * also for an `id` without data).
   */
  onLastEventId?(id: string): void;
}

const LF = 10;
const CR = 13;

export class SseParser {
  private decoder = new TextDecoder("utf-8");
  private line = ""; // the line read so far (no line end seen yet)
  private afterCR = false; // the last character seen was a CR: an LF right after it is part of that line end
  private data = "";
  private hasData = false;
  private eventType = "";
  private idBuffer: string;
  private lastId: string;

  constructor(
    private readonly handlers: SseHandlers,
    initialLastEventId = "",
  ) {
    this.idBuffer = initialLastEventId;
    this.lastId = initialLastEventId;
  }

  /** The last event id string: sent back as Last-Event-ID when reconnecting. */
  get lastEventId(): string {
    return this.lastId;
  }

  /** Feeds the next chunk of the body (bytes, or text already decoded). */
  feed(chunk: Uint8Array | string): void {
    const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    if (text) this.feedText(text);
  }

  /** The stream ended: an incomplete line or event is discarded. */
  end(): void {
    this.decoder.decode(); // flush (and forget) a partial character
    this.line = "";
    this.afterCR = false;
    this.data = "";
    this.hasData = false;
    this.eventType = "";
  }

  private feedText(text: string): void {
    let start = 0;
    let i = 0;
    const n = text.length;
    if (this.afterCR) {
      this.afterCR = false;
      if (text.charCodeAt(0) === LF) start = i = 1;
    }
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const line = this.line ? this.line + text.slice(start, i) : text.slice(start, i);
      this.line = "";
      if (c === CR) {
        if (i + 1 < n) {
          if (text.charCodeAt(i + 1) === LF) i++;
        } else {
          this.afterCR = true;
        }
      }
      start = i + 1;
      this.processLine(line);
    }
    if (start < n) this.line += text.slice(start);
  }

  private processLine(line: string): void {
    if (line === "") {
      this.dispatch();
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) {
      this.handlers.onComment?.(line.slice(1));
      return;
    }
    let field: string;
    let value: string;
    if (colon > 0) {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    } else {
      field = line;
      value = "";
    }
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        // Joined with LF; the final LF is removed at dispatch (kept implicit here).
        this.data = this.hasData ? this.data + "\n" + value : value;
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.idBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.handlers.onRetry?.(parseInt(value, 10));
        break;
      default:
        break;
    }
  }

  private dispatch(): void {
    if (this.lastId !== this.idBuffer) {
      this.lastId = this.idBuffer;
      this.handlers.onLastEventId?.(this.lastId);
    }
    if (!this.hasData) {
      this.eventType = "";
      return;
    }
    const event: SseEvent = { type: this.eventType || "message", data: this.data, lastEventId: this.lastId };
    this.data = "";
    this.hasData = false;
    this.eventType = "";
    this.handlers.onEvent(event);
  }
}
