import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  type JobEvent,
  JobEventSchema,
  PromptKind,
  PromptRecordSchema,
  RoundStartedSchema,
  RoundSummarySchema,
  SeatedSchema,
  SeatSchema,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { roundsFrom } from "../../bench/support/nsed-cluster.js";
import type { CallRecord } from "../../bench/support/scripted-pool-protocol.js";

const ev = (event: JobEvent["event"]): JobEvent => create(JobEventSchema, { jobId: "job_x", event });
const prompt = (seatId: string, kind: PromptKind) =>
  ev({ case: "prompt", value: create(PromptRecordSchema, { round: 1, seatId, kind, promptTokens: 10 }) });

function call(
  workerId: string,
  kind: "propose" | "evaluate",
  index: number,
  start: number,
  end: number,
): CallRecord {
  return {
    workerId,
    kind,
    index,
    backendMs: end - start,
    startedAtMs: start,
    endedAtMs: end,
    completionTokens: 5,
  };
}

describe("roundsFrom (how the NSED benchmarks split a round's time)", () => {
  const events = [
    {
      at: 0,
      event: ev({
        case: "seated",
        value: create(SeatedSchema, {
          seats: [
            create(SeatSchema, { seatId: "s1", workerId: "w1" }),
            create(SeatSchema, { seatId: "s2", workerId: "w2" }),
          ],
        }),
      }),
    },
    { at: 100, event: ev({ case: "roundStarted", value: create(RoundStartedSchema, { round: 1 }) }) },
    { at: 101, event: prompt("s1", PromptKind.PROPOSE) },
    { at: 101, event: prompt("s2", PromptKind.PROPOSE) },
    { at: 120, event: prompt("s1", PromptKind.EVALUATE) },
    { at: 120, event: prompt("s2", PromptKind.EVALUATE) },
    { at: 200, event: ev({ case: "roundCompleted", value: create(RoundSummarySchema, { round: 1 }) }) },
  ];

  it("joins calls to seats and splits the round into lead, stagger, gap and tail", () => {
    const calls = [
      call("w1", "propose", 0, 102, 110),
      call("w2", "propose", 0, 104, 115),
      call("w1", "evaluate", 1, 130, 140),
      call("w2", "evaluate", 1, 131, 150),
    ];
    const { rounds, matched } = roundsFrom(events, calls);
    expect(matched).toBe(true);
    expect(rounds).toHaveLength(1);
    const r = rounds[0]!;
    expect(r.wallMs).toBe(100);
    expect(r.slowestProposeMs).toBe(11);
    expect(r.slowestEvaluateMs).toBe(19);
    expect(r.phases).toEqual({ leadMs: 2, gapMs: 15, tailMs: 50, proposeStaggerMs: 2, evaluateStaggerMs: 1 });
    // The parts add up: wall = lead + (slowest proposal + stagger) + gap + (slowest evaluation + stagger) + tail.
    const p = r.phases;
    expect(p.leadMs + 11 + p.proposeStaggerMs + p.gapMs + 19 + p.evaluateStaggerMs + p.tailMs).toBe(r.wallMs);
  });

  it("says so and yields NaN times when the calls do not line up with the prompts", () => {
    const { rounds, matched } = roundsFrom(events, [call("w1", "evaluate", 0, 102, 110)]);
    expect(matched).toBe(false);
    expect(rounds[0]?.slowestProposeMs).toBeNaN();
    expect(rounds[0]?.phases.gapMs).toBeNaN();
  });
});
