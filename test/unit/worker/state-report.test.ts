import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WorkerState } from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import {
  initialStateReportGate,
  observeState,
  reportSent,
  type StateReportGate,
  stateReportDue,
} from "../../../worker/src/service/state-report.js";

const { READY, BUSY, DRAINING } = WorkerState;

/** Feeds one event-loop turn's observations through the gate; returns how many reports it scheduled. */
function turn(
  gate: StateReportGate,
  observed: readonly WorkerState[],
): { gate: StateReportGate; scheduled: number } {
  let g = gate;
  let scheduled = 0;
  for (const state of observed) {
    const next = observeState(g, state);
    g = next.gate;
    if (next.schedule) scheduled += 1;
  }
  return { gate: g, scheduled };
}

describe("state-change report coalescing", () => {
  it("schedules one report for a single change and none when nothing changed", () => {
    const ready = reportSent(READY);
    const changed = turn(ready, [BUSY]);
    expect(changed.scheduled).toBe(1);
    expect(stateReportDue(changed.gate)).toBe(true);

    const same = turn(ready, [READY, READY]);
    expect(same.scheduled).toBe(0);
    expect(stateReportDue(same.gate)).toBe(false);
  });

  it("reports a busy → ready → busy flip inside one turn once, with the state current at the end", () => {
    // The last report said busy; in one turn a request ends (ready) and the next one takes the slot (busy).
    const { gate, scheduled } = turn(reportSent(BUSY), [READY, BUSY]);
    expect(scheduled).toBe(1);
    expect(stateReportDue(gate)).toBe(true);
    // The service then sends one report with whatever the state is now, which settles the gate.
    const after = reportSent(BUSY);
    expect(stateReportDue(after)).toBe(false);
    expect(turn(after, [BUSY]).scheduled).toBe(0);
  });

  it("owes nothing once another report (periodic, discovery, drain) went out in between", () => {
    const owed = turn(reportSent(READY), [BUSY]).gate;
    expect(stateReportDue(owed)).toBe(true);
    const settled = reportSent(BUSY);
    expect(stateReportDue(settled)).toBe(false);
  });

  it("treats the first observation before any report as a change", () => {
    expect(turn(initialStateReportGate, [READY]).scheduled).toBe(1);
  });

  it("schedules at most one report per turn, and one exactly when some state differed from the report", () => {
    const state = fc.constantFrom(READY, BUSY, DRAINING);
    fc.assert(
      fc.property(state, fc.array(state, { maxLength: 20 }), (reported, observed) => {
        const { gate, scheduled } = turn(reportSent(reported), observed);
        const changed = observed.some((s) => s !== reported);
        return scheduled === (changed ? 1 : 0) && stateReportDue(gate) === changed;
      }),
    );
  });
});
