import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSseParser, readSseData } from "../../../worker/src/backends/openai-sse.js";

/** A recorded-style OpenAI stream: role chunk, content chunks, finish, usage, [DONE]. */
const STREAM = [
  ": keep-alive",
  "",
  'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}',
  "",
  'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}',
  "",
  'data: {"choices":[{"index":0,"delta":{"content":"lo, wörld"}}]}',
  "",
  "event: message",
  'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
  "",
  'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}',
  "",
  "data: [DONE]",
  "",
  "",
].join("\n");

const EXPECTED = [
  '{"choices":[{"index":0,"delta":{"role":"assistant"}}]}',
  '{"choices":[{"index":0,"delta":{"content":"Hel"}}]}',
  '{"choices":[{"index":0,"delta":{"content":"lo, wörld"}}]}',
  '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
  '{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}',
  "[DONE]",
];

function splitAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(text.slice(last, p));
    last = p;
  }
  parts.push(text.slice(last));
  return parts;
}

describe("createSseParser", () => {
  it("extracts the data payloads, skipping comments and other fields", () => {
    const parser = createSseParser();
    expect([...parser.push(STREAM), ...parser.end()]).toEqual(EXPECTED);
  });

  it("gives the same events however the text is chunked, with any line ending", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(STREAM.length), { maxLength: 30 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        (cuts, eol) => {
          const text = STREAM.replaceAll("\n", eol);
          const parser = createSseParser();
          const events = splitAt(text, cuts).flatMap((part) => parser.push(part));
          events.push(...parser.end());
          expect(events).toEqual(EXPECTED);
        },
      ),
    );
  });

  it("joins multi-line data with newlines and flushes an unterminated last event", () => {
    const parser = createSseParser();
    expect(parser.push("data: a\ndata: b\n\ndata: c")).toEqual(["a\nb"]);
    expect(parser.end()).toEqual(["c"]);
  });
});

describe("readSseData", () => {
  it("decodes a byte stream split inside multi-byte characters and stops at [DONE]", async () => {
    const bytes = new TextEncoder().encode(`${STREAM}data: {"after":"done"}\n\n`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
        controller.close();
      },
    });
    const out: string[] = [];
    for await (const data of readSseData(body)) out.push(data);
    expect(out).toEqual(EXPECTED.slice(0, -1));
  });
});
