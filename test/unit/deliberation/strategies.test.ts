import { describe, expect, it } from "vitest";
import {
  FaultKind,
  JobState,
  PromptKind,
  StopReason,
  Strategy,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../proto/gen/conclave/v1/plan_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { runScripted } from "./support/jobs.js";
import {
  chatAgent,
  eventsOf,
  fencedBlocks,
  proposalReply,
  type ScriptedWorker,
  ScriptedWorld,
} from "./support/scripted.js";

const TASK = "What is 37+48?";

/** w1..w5: w2 starts wrong and corrects itself after seeing others; aggregators answer 85. */
function panel(): ScriptedWorker[] {
  return [
    chatAgent("w1", "85", "85"),
    chatAgent("w2", (n) => (n === 1 ? "84" : "85"), "85"),
    chatAgent("w3", "85", "85"),
    chatAgent("w4", "86", "85"),
    chatAgent("w5", "85", "85"),
  ];
}

function expectCompleted(run: Awaited<ReturnType<typeof runScripted>>, answer: string, rounds: number): void {
  expect(run.problems).toEqual([]);
  expect(run.result.answer).toBe(answer);
  expect(run.result.rounds).toBe(rounds);
  expect(run.result.stopReason).toBe(StopReason.COMPLETED);
  const finished = eventsOf(run.events, "finished")[0];
  expect(finished?.job?.state).toBe(JobState.SUCCEEDED);
  expect(eventsOf(run.events, "roundCompleted")).toHaveLength(rounds);
  expect(run.result.usage?.completionTokens).toBeGreaterThan(0);
}

describe("strategies end to end", () => {
  it("single: one seat answers once", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.SINGLE, TASK);
    expectCompleted(run, "85", 1);
    expect(world.seatRequests[0]?.roles).toEqual([{ role: SeatRole.SOLO, count: 1, min: 1 }]);
    expect(world.generateCalls).toHaveLength(1);
    expect(world.generateCalls[0]?.req.sampling?.temperature).toBe(0);
  });

  it("majority: N samples, majority vote", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.MAJORITY, TASK);
    expectCompleted(run, "85", 1);
    expect(eventsOf(run.events, "proposal")).toHaveLength(5);
    expect(run.result.stopDetail).toMatch(/3 of 5/);
    expect(eventsOf(run.events, "roundCompleted")[0]?.conviction).toBeCloseTo(0.6);
  });

  it("moa: layers of proposers see the previous layer's answers, then one aggregator synthesises", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.MOA, TASK, { layers: 2 });
    expectCompleted(run, "85", 3);
    const layer2 = world.generateCalls.filter((c) => c.kind === "propose" && c.n === 2);
    expect(layer2).toHaveLength(3);
    for (const c of layer2) {
      const refs = fencedBlocks(c.user).filter((b) => b.label.startsWith("Response "));
      expect(refs).toHaveLength(3);
      expect(c.req.sampling?.temperature).toBeCloseTo(0.7);
    }
    const agg = world.generateCalls.filter((c) => c.kind === "aggregate");
    expect(agg).toHaveLength(1);
    expect(fencedBlocks(agg[0]?.user ?? "").filter((b) => b.label.startsWith("Response "))).toHaveLength(3);
    expect(eventsOf(run.events, "prompt").filter((p) => p.kind === PromptKind.AGGREGATE)).toHaveLength(1);
    expect(run.result.winnerSeatId).toBe("aggregator-1");
  });

  it("self-moa: samples of one model, one aggregator", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.SELF_MOA, TASK);
    expectCompleted(run, "85", 2);
    expect(world.seatRequests[0]?.roles[0]).toMatchObject({
      role: SeatRole.PROPOSER,
      count: 4,
      sameModel: true,
    });
    const samples = world.generateCalls.filter((c) => c.kind === "propose");
    expect(new Set(samples.map((c) => c.workerId))).toEqual(new Set(["w1"]));
    expect(new Set(samples.map((c) => c.req.sampling?.seed)).size).toBe(4);
    expect(world.generateCalls.filter((c) => c.kind === "aggregate")).toHaveLength(1);
  });

  it("self-moa-seq: each step the aggregator sees the synthesis so far plus a window of fresh samples", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.SELF_MOA_SEQ, TASK, { window: 2, maxRounds: 3 });
    expectCompleted(run, "85", 3);
    const agg = world.generateCalls.filter((c) => c.kind === "aggregate");
    expect(agg).toHaveLength(3);
    expect(fencedBlocks(agg[0]?.user ?? "").map((b) => b.label)).not.toContain("current synthesis");
    for (const c of agg.slice(1)) {
      const labels = fencedBlocks(c.user).map((b) => b.label);
      expect(labels).toContain("current synthesis");
      expect(labels.filter((l) => l.startsWith("Response "))).toHaveLength(2);
    }
    expect(world.generateCalls.filter((c) => c.kind === "propose")).toHaveLength(6);
  });

  it("debate: agents see each other's latest answers for R rounds, then a majority vote", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.DEBATE, TASK, { agents: 3, maxRounds: 3 });
    expectCompleted(run, "85", 3);
    const later = world.generateCalls.filter((c) => c.kind === "propose" && c.n > 1);
    expect(later).toHaveLength(6);
    for (const c of later) {
      const labels = fencedBlocks(c.user).map((b) => b.label);
      expect(labels.filter((l) => l.startsWith("Agent "))).toHaveLength(2);
      expect(labels).toContain("your previous answer");
    }
    expect(run.result.stopDetail).toMatch(/3 of 3 agents agree/);
  });

  it("council: answers, one anonymised ranking round, then the chairman synthesises", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.COUNCIL, TASK, { agents: 3 });
    expectCompleted(run, "85", 3);
    expect(eventsOf(run.events, "evaluation").filter((e) => e.round === 2 && e.valid)).toHaveLength(3);
    const ranking = eventsOf(run.events, "roundCompleted")[1];
    expect(ranking?.votes.length).toBe(6);
    expect(ranking?.winnerAnswer).toBe("85");
    const chair = world.generateCalls.filter((c) => c.kind === "aggregate");
    expect(chair).toHaveLength(1);
    expect(chair[0]?.user).toMatch(/listed best first/);
    expect(run.result.winnerSeatId).toBe("chairman-1");
  });

  it("nsed: converges and reports it", async () => {
    const run = await runScripted(new ScriptedWorld(panel().slice(0, 4)), Strategy.NSED, TASK);
    expect(run.problems).toEqual([]);
    expect(run.result.stopReason).toBe(StopReason.CONVERGED);
  });

  it("re-seats a failed aggregator once and finishes", async () => {
    const workers = panel();
    const w4 = workers[3] as ScriptedWorker;
    w4.generate = () => {
      throw new ConclaveError(ErrorCode.UNAVAILABLE, "worker gone");
    };
    const world = new ScriptedWorld(workers);
    const run = await runScripted(world, Strategy.MOA, TASK, { layers: 1, agents: 3 });
    expectCompleted(run, "85", 2);
    const faults = eventsOf(run.events, "fault");
    expect(faults.map((f) => f.kind)).toEqual([FaultKind.WORKER_DIED, FaultKind.RESEATED]);
    expect(faults[1]).toMatchObject({ seatId: "aggregator-2", workerId: "w5" });
  });

  it("rejects an invalid spec with every problem and no model call", async () => {
    const world = new ScriptedWorld(panel());
    const run = await runScripted(world, Strategy.NSED, " ", { minRounds: 4, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    expect(run.events).toHaveLength(1);
    const err = eventsOf(run.events, "finished")[0]?.job?.error;
    expect(err?.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(err?.details).toHaveLength(2);
    expect(world.generateCalls).toHaveLength(0);
  });

  it("records a proposal without the requested JSON as free text", async () => {
    const world = new ScriptedWorld([{ ...chatAgent("w1", "", "85"), generate: () => "It is 85." }]);
    const run = await runScripted(world, Strategy.SINGLE, TASK);
    expect(run.result.answer).toBe("It is 85.");
    expect(eventsOf(run.events, "proposal")[0]?.parseNote).toMatch(/free text/);
  });

  it("asks chat models for schema-constrained proposals", async () => {
    const world = new ScriptedWorld([{ ...chatAgent("w1", "", "85"), generate: () => proposalReply("85") }]);
    await runScripted(world, Strategy.SINGLE, TASK);
    const schema = JSON.parse(world.generateCalls[0]?.req.jsonSchema ?? "{}") as { required?: string[] };
    expect(schema.required).toEqual(["answer", "rationale"]);
  });
});
