import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StopStringFilter } from "../../../worker/src/backends/stop-strings.js";

/** The reference: the text before the earliest occurrence of any stop string. */
function cutAtFirstStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let cut = -1;
  for (const stop of stops) {
    const at = stop === "" ? -1 : text.indexOf(stop);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut < 0 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
}

function run(
  pieces: readonly string[],
  stops: readonly string[],
): { streamed: string[]; filter: StopStringFilter } {
  const filter = new StopStringFilter(stops);
  const streamed = pieces.map((p) => filter.push(p));
  streamed.push(filter.flush());
  return { streamed, filter };
}

describe("StopStringFilter", () => {
  it("keeps the text right before a stop string that starts inside a token", () => {
    const { streamed, filter } = run(["XW``", " ans", " is"], ["an"]);
    expect(filter.text).toBe("XW`` ");
    expect(filter.stopped).toBe(true);
    expect(streamed.join("")).toBe("XW`` ");
  });

  it("holds back a possible stop prefix until the next piece decides", () => {
    const filter = new StopStringFilter(["</answer>"]);
    expect(filter.push("42 </ans")).toBe("42 ");
    expect(filter.push("wer> tail")).toBe("");
    expect(filter.text).toBe("42 ");
    const other = new StopStringFilter(["</answer>"]);
    expect(other.push("a </")).toBe("a ");
    expect(other.push("b")).toBe("</b");
    expect(other.flush()).toBe("");
  });

  it("waits for a longer stop that starts earlier before cutting at a shorter one inside it", () => {
    // Found by the property below: "b" completes first, but "abc" starts earlier in the same text.
    const { streamed, filter } = run(["ab", "c"], ["abc", "b"]);
    expect(streamed).toEqual(["", "", ""]);
    expect(filter.stopped).toBe(true);
    const other = run(["ab", "x"], ["abc", "b"]);
    expect(other.filter.text).toBe("a");
    expect(other.filter.stopped).toBe(true);
    // Generation ending while it waits still cuts at the stop it holds.
    const ended = run(["ab"], ["abc", "b"]);
    expect(ended.streamed).toEqual(["", "a"]);
    expect(ended.filter.stopped).toBe(true);
  });

  it("releases held text at the end when no stop came", () => {
    const filter = new StopStringFilter(["STOP"]);
    expect(filter.push("go ST")).toBe("go ");
    expect(filter.flush()).toBe("ST");
    expect(filter.stopped).toBe(false);
  });

  it("without stop strings releases every piece whole and at once", () => {
    for (const stops of [[], [""]]) {
      const { streamed, filter } = run(["Once", " upon", "", " a time"], stops);
      expect(streamed).toEqual(["Once", " upon", "", " a time", ""]);
      expect(filter.text).toBe("Once upon a time");
      expect(filter.stopped).toBe(false);
    }
  });

  it("streams exactly the text before the first stop, however the text is chunked", () => {
    const alphabet = fc.constantFrom("a", "b", "c", " ", "\n");
    const str = (max: number) => fc.array(alphabet, { maxLength: max }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(
        fc.array(str(6), { maxLength: 12 }),
        fc.array(str(3), { maxLength: 3 }),
        (pieces, stops) => {
          const { streamed, filter } = run(pieces, stops);
          const expected = cutAtFirstStop(pieces.join(""), stops);
          expect(streamed.join("")).toBe(expected.text);
          expect(filter.text).toBe(expected.text);
          expect(filter.stopped).toBe(expected.stopped);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
