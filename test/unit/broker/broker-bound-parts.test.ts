/** Pieces of the broker's bound against brute force: the agent seats' cost floor and the non-agent options. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bestOption,
  NO_OPTIONS,
  type SeatOption,
  type SeatOptions,
  withOption,
} from "../../../coordinator/src/broker/seat-options.js";
import { type SeatUnit, seatCostFloor } from "../../../coordinator/src/broker/suffix-data.js";

/** Least cost of exactly n seats, by enumerating every seat count per worker. */
function bruteFloor(units: readonly SeatUnit[], n: number): number {
  let best = Number.POSITIVE_INFINITY;
  const rec = (i: number, left: number, cost: number): void => {
    if (i === units.length) {
      if (left === 0) best = Math.min(best, cost);
      return;
    }
    const u = units[i] as SeatUnit;
    for (let x = 0; x <= Math.min(u.cap, left); x++)
      rec(i + 1, left - x, cost + (x === 0 ? 0 : u.first + (x - 1) * u.extra));
  };
  rec(0, n, 0);
  return best;
}

describe("seatCostFloor (least cost of n agent seats of a model)", () => {
  it("equals the brute-force least cost for every n", () => {
    const unitArb = fc.record({
      first: fc.integer({ min: 1, max: 40 }),
      extra: fc.integer({ min: 0, max: 40 }),
      cap: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(unitArb, { maxLength: 5 }), fc.integer({ min: 0, max: 8 }), (units, len) => {
        const floor = seatCostFloor(units, len);
        expect(floor).toHaveLength(len + 1);
        for (let n = 0; n <= len; n++) expect(floor[n]).toBe(bruteFloor(units, n));
      }),
      { numRuns: 300, seed: 5 },
    );
  });

  it("charges a worker's first seat before its cheap extra ones", () => {
    // Worker A: 10 s, extra 1 s; worker B: 4 s, no extra seat. Two seats: A twice (11) beats A + B (14);
    // a "cheapest first seat + cheapest other units" floor would say 4 + 1 = 5.
    const floor = seatCostFloor(
      [
        { first: 10, extra: 1, cap: 2 },
        { first: 4, extra: 0, cap: 1 },
      ],
      3,
    );
    expect(Array.from(floor)).toEqual([0, 4, 11, 15]);
  });
});

describe("seat options (non-agent seats: each worker's value with its own costs)", () => {
  const optionArb = fc.record({
    v: fc.integer({ min: 0, max: 10 }),
    shareS: fc.integer({ min: 0, max: 10 }),
    shareJ: fc.integer({ min: 0, max: 10 }),
    fullS: fc.integer({ min: 0, max: 10 }),
    fullJ: fc.integer({ min: 0, max: 10 }),
  });

  it("dropping dominated options never changes the best net at any prices", () => {
    fc.assert(
      fc.property(
        fc.array(optionArb, { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.boolean(),
        (all, lamS, lamJ, full) => {
          let o: SeatOptions = NO_OPTIONS;
          for (const x of all) o = withOption(o, x);
          expect(o.v.length).toBeLessThanOrEqual(all.length);
          const out = { net: 0, costS: 0, costJ: 0 };
          expect(bestOption(o, lamS, lamJ, full, out)).toBe(true);
          const net = (x: SeatOption) =>
            x.v - lamS * (full ? x.fullS : x.shareS) - lamJ * (full ? x.fullJ : x.shareJ);
          expect(out.net).toBeCloseTo(Math.max(...all.map(net)), 12);
          // The reported costs belong to an option with that net.
          expect(
            all.some(
              (x) =>
                (full ? x.fullS : x.shareS) === out.costS &&
                (full ? x.fullJ : x.shareJ) === out.costJ &&
                Math.abs(net(x) - out.net) < 1e-9,
            ),
          ).toBe(true);
        },
      ),
      { numRuns: 300, seed: 8 },
    );
  });

  it("keeps only options that are best somewhere", () => {
    const a = { v: 5, shareS: 1, shareJ: 1, fullS: 2, fullJ: 2 };
    const worse = { v: 4, shareS: 2, shareJ: 1, fullS: 2, fullJ: 3 };
    const dearer = { v: 6, shareS: 3, shareJ: 1, fullS: 4, fullJ: 2 };
    let o = withOption(NO_OPTIONS, a);
    o = withOption(o, worse);
    o = withOption(o, dearer);
    expect(Array.from(o.v)).toEqual([5, 6]);
    expect(bestOption(NO_OPTIONS, 0, 0, false, { net: 0, costS: 0, costJ: 0 })).toBe(false);
  });
});
