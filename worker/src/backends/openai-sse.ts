/**
 * Server-sent events as OpenAI-compatible servers stream them: `data: <json>` lines separated by a blank
 * line, ending with `data: [DONE]`. The parser is pure and incremental (chunks may split lines and even
 * UTF-8 characters anywhere); `readSseData` is the thin shell over a fetch body.
 */

export interface SseParser {
  /** Feeds decoded text; returns the data payloads of the events it completed. */
  push(text: string): string[];
  /** Flushes a final event that was not followed by a blank line. */
  end(): string[];
}

export function createSseParser(): SseParser {
  let buffer = "";
  let data: string[] = [];

  const takeLine = (line: string, out: string[]): void => {
    if (line === "") {
      if (data.length > 0) out.push(data.join("\n"));
      data = [];
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    // `event`, `id` and `retry` carry nothing OpenAI-compatible servers rely on.
  };

  return {
    push(text) {
      buffer += text;
      const out: string[] = [];
      let newline = buffer.search(/\r\n|\r|\n/);
      while (newline >= 0) {
        const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
        // A lone "\r" at the very end may be the first half of "\r\n": wait for more.
        if (buffer[newline] === "\r" && width === 1 && newline === buffer.length - 1) break;
        takeLine(buffer.slice(0, newline), out);
        buffer = buffer.slice(newline + width);
        newline = buffer.search(/\r\n|\r|\n/);
      }
      return out;
    },
    end() {
      const out: string[] = [];
      if (buffer !== "") takeLine(buffer, out);
      buffer = "";
      takeLine("", out);
      return out;
    },
  };
}

/** The `data` payloads of an SSE body, in order, stopping at `[DONE]`. */
export async function* readSseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const parser = createSseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const events = done
        ? [...parser.push(decoder.decode()), ...parser.end()]
        : parser.push(decoder.decode(value, { stream: true }));
      for (const data of events) {
        if (data === "[DONE]") return;
        yield data;
      }
      if (done) return;
    }
  } finally {
    // Stop the download when the consumer stops early (abort, [DONE], error).
    await reader.cancel().catch(() => undefined);
  }
}
