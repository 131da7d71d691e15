import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aliasLetters, maskCandidates } from "../../../coordinator/src/deliberation/masking.js";
import { seededRandom } from "../../../coordinator/src/deliberation/random.js";

describe("masking", () => {
  it("names aliases A..Z then AA..", () => {
    expect([0, 1, 25, 26, 27, 51, 52].map(aliasLetters)).toEqual(["A", "B", "Z", "AA", "AB", "AZ", "BA"]);
  });

  it("property: never shows the evaluator its own seat; shows every other seat once under distinct aliases", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer(), (n, seed) => {
        const seats = Array.from({ length: n }, (_, i) => `s${i}`);
        const me = seats[(seed % n) >>> 0] ?? "s0";
        const shown = maskCandidates(me, seats, seededRandom(seed));
        expect(shown.map((s) => s.seatId)).not.toContain(me);
        expect(new Set(shown.map((s) => s.seatId))).toEqual(new Set(seats.filter((s) => s !== me)));
        expect(new Set(shown.map((s) => s.alias)).size).toBe(n - 1);
        for (const s of shown) expect(s.alias).toMatch(/^Candidate [A-Z]+$/);
      }),
    );
  });

  it("draws fresh aliases and a fresh order per evaluator and per call", () => {
    const seats = ["a", "b", "c", "d", "e"];
    const random = seededRandom(7);
    const views = Array.from({ length: 12 }, () => maskCandidates("e", seats, random));
    const orders = new Set(views.map((v) => v.map((x) => x.seatId).join(",")));
    const aliasMaps = new Set(
      views.map((v) =>
        v
          .map((x) => `${x.seatId}=${x.alias}`)
          .sort()
          .join(","),
      ),
    );
    expect(orders.size).toBeGreaterThan(1);
    expect(aliasMaps.size).toBeGreaterThan(1);
    // The letter shown first is not always A: aliases are not tied to positions.
    expect(new Set(views.map((v) => v[0]?.alias)).size).toBeGreaterThan(1);
  });
});
