import { describe, expect, it } from "vitest";
import { FaultKind, JobState, StopReason, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { runScripted } from "./support/jobs.js";
import {
  chatAgent,
  eventsOf,
  proposalReply,
  type ScriptedWorker,
  ScriptedWorld,
} from "./support/scripted.js";

const TASK = "What is 37+48?";

/** Four agents that never agree (each keeps its own answer; every peer is scored negatively). */
function stubborn(): ScriptedWorker[] {
  return ["w1", "w2", "w3", "w4"].map((id, k) => chatAgent(id, `${81 + k}`, "none"));
}

describe("NSED stopping", () => {
  it("stops at max rounds when the panel never converges", async () => {
    const run = await runScripted(new ScriptedWorld(stubborn()), Strategy.NSED, TASK, { maxRounds: 3 });
    expect(run.problems).toEqual([]);
    expect(run.result.stopReason).toBe(StopReason.MAX_ROUNDS);
    expect(run.result.rounds).toBe(3);
    expect(run.result.stopDetail).toMatch(/max rounds \(3\)/);
  });

  it("does not converge before min rounds even when unanimous", async () => {
    const world = new ScriptedWorld(["w1", "w2", "w3"].map((id) => chatAgent(id, "85", "85")));
    const run = await runScripted(world, Strategy.NSED, TASK, { minRounds: 3, maxRounds: 5 });
    expect(run.result.stopReason).toBe(StopReason.CONVERGED);
    expect(run.result.rounds).toBe(3);
  });

  it("stops at the deadline with the last winner when another round cannot finish in time", async () => {
    // Every model call takes 5 s of (injected) clock time: a round of 4 agents takes ~40 s.
    let t = 1_700_000_000_000;
    const slow = stubborn().map((w) => ({
      ...w,
      generate: (c: Parameters<NonNullable<ScriptedWorker["generate"]>>[0]) => {
        t += 5_000;
        return (w.generate as NonNullable<ScriptedWorker["generate"]>)(c);
      },
    }));
    const run = await runScripted(
      new ScriptedWorld(slow),
      Strategy.NSED,
      TASK,
      {},
      { deadlineMs: 60_000 },
      { now: () => t },
    );
    expect(run.problems).toEqual([]);
    expect(run.result.stopReason).toBe(StopReason.DEADLINE);
    expect(run.result.rounds).toBe(1);
    expect(run.result.answer).not.toBe("");
    expect(eventsOf(run.events, "finished")[0]?.job?.state).toBe(JobState.SUCCEEDED);
  });

  it("stops when the completion-token budget would be overrun by another round", async () => {
    const one = await runScripted(new ScriptedWorld(stubborn()), Strategy.NSED, TASK, {
      maxRounds: 1,
      minRounds: 1,
    });
    const perRound = one.result.usage?.completionTokens ?? 0;
    expect(perRound).toBeGreaterThan(0);
    const budget = BigInt(Math.floor(perRound * 1.5));
    const run = await runScripted(
      new ScriptedWorld(stubborn()),
      Strategy.NSED,
      TASK,
      { maxRounds: 6 },
      { maxTotalTokens: budget },
    );
    expect(run.result.stopReason).toBe(StopReason.COMPUTE_BUDGET);
    expect(run.result.rounds).toBe(1);
    expect(BigInt(run.result.usage?.completionTokens ?? 0)).toBeLessThanOrEqual(budget);
    expect(eventsOf(run.events, "finished")[0]?.job?.state).toBe(JobState.SUCCEEDED);
  });

  it("treats the token budget as a hard cap: no call starts once it is spent", async () => {
    const world = new ScriptedWorld(stubborn());
    const run = await runScripted(world, Strategy.NSED, TASK, {}, { maxTotalTokens: 5n });
    expect(run.result.stopReason).toBe(StopReason.COMPUTE_BUDGET);
    // Round 1's proposals ran (each allowed at most the 5 tokens left); no evaluation was started.
    expect(world.generateCalls.filter((c) => c.kind === "evaluate")).toHaveLength(0);
    for (const c of world.generateCalls) expect(c.req.maxTokens).toBeLessThanOrEqual(5);
    expect(eventsOf(run.events, "finished")[0]?.job?.state).toBe(JobState.FAILED);
  });

  it("ends CANCELLED when the job signal aborts mid-round, without waiting for silent agents", async () => {
    const ctl = new AbortController();
    const world = new ScriptedWorld(
      stubborn().map((w) => ({
        ...w,
        // In round 2 the agents go silent (never answer, ignore the signal) and the owner cancels.
        generate: (c: Parameters<NonNullable<ScriptedWorker["generate"]>>[0]) => {
          if (c.kind === "propose" && c.n === 2) {
            ctl.abort();
            return new Promise<string>(() => undefined);
          }
          return (w.generate as NonNullable<ScriptedWorker["generate"]>)(c);
        },
      })),
    );
    const run = await runScripted(world, Strategy.NSED, TASK, { maxRounds: 4 }, undefined, {
      signal: ctl.signal,
    });
    expect(run.result.stopReason).toBe(StopReason.CANCELLED);
    const finished = eventsOf(run.events, "finished")[0];
    expect(finished?.job?.state).toBe(JobState.CANCELLED);
    expect(finished?.job?.error?.code).toBe(ErrorCode.CANCELLED);
    expect(run.events[run.events.length - 1]?.event.case).toBe("finished");
  });
});

describe("NSED faults", () => {
  it("an agent dying mid-round: the round continues, its votes are excluded, the seat is refilled", async () => {
    const world = new ScriptedWorld([...stubborn(), chatAgent("w5", "85", "none")]);
    const w4 = world.workers[3] as ScriptedWorker;
    const original = w4.generate as NonNullable<ScriptedWorker["generate"]>;
    w4.generate = (c) => {
      if (c.kind === "evaluate") {
        world.dead.add("w4");
        throw new ConclaveError(ErrorCode.UNAVAILABLE, "worker w4 disconnected");
      }
      return original(c);
    };
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 4, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    const faults = eventsOf(run.events, "fault");
    expect(faults.find((f) => f.kind === FaultKind.WORKER_DIED)).toMatchObject({
      round: 1,
      seatId: "agent-4",
      workerId: "w4",
    });
    const round1 = eventsOf(run.events, "roundCompleted")[0];
    // agent-4 proposed, so it is still a candidate; its own votes are gone and ns renormalises over 3 or 2 evaluators.
    expect(round1?.votes.some((v) => v.evaluatorSeatId === "agent-4")).toBe(false);
    expect(round1?.tallies.find((t) => t.seatId === "agent-4")?.evaluators).toBe(3);
    for (const s of ["agent-1", "agent-2", "agent-3"]) {
      const tally = round1?.tallies.find((t) => t.seatId === s);
      expect(tally?.evaluators).toBe(2);
      const votes = round1?.votes.filter((v) => v.candidateSeatId === s) ?? [];
      expect(tally?.netSupport).toBeCloseTo(votes.reduce((a, v) => a + v.vote, 0) / 2);
    }
    expect(faults.find((f) => f.kind === FaultKind.RESEATED)).toMatchObject({
      round: 2,
      seatId: "agent-5",
      workerId: "w5",
    });
    expect(world.seatRequests[1]?.excludeWorkerIds).toEqual(["w4"]);
    const seated = eventsOf(run.events, "seated");
    expect(seated[1]?.round).toBe(2);
    expect(seated[1]?.seats.map((s) => s.seatId)).toEqual(["agent-1", "agent-2", "agent-3", "agent-5"]);
    const round2 = eventsOf(run.events, "proposal")
      .filter((p) => p.round === 2)
      .map((p) => p.seatId);
    expect(round2.sort()).toEqual(["agent-1", "agent-2", "agent-3", "agent-5"]);
  });

  it("fails with QUORUM_LOST when fewer than two agents are left", async () => {
    const world = new ScriptedWorld(
      stubborn()
        .slice(0, 3)
        .map((w, k) => ({
          ...w,
          generate: () => {
            if (k > 0) throw new ConclaveError(ErrorCode.MODEL_ERROR, "out of memory");
            return proposalReply("81");
          },
        })),
    );
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3 });
    expect(run.result.stopReason).toBe(StopReason.QUORUM_LOST);
    expect(run.result.stopDetail).toMatch(/only 1 proposal/);
    const finished = eventsOf(run.events, "finished")[0];
    expect(finished?.job?.state).toBe(JobState.FAILED);
    expect(finished?.job?.error?.message).toMatch(/at least 2/);
    expect(eventsOf(run.events, "fault").filter((f) => f.kind === FaultKind.ERROR)).toHaveLength(2);
  });

  it("fails with QUORUM_LOST after a round when dead seats cannot be refilled", async () => {
    const world = new ScriptedWorld(stubborn().slice(0, 3));
    for (const w of world.workers.slice(1)) {
      const original = w.generate as NonNullable<ScriptedWorker["generate"]>;
      w.generate = (c) => {
        if (c.kind === "evaluate") throw new ConclaveError(ErrorCode.UNAVAILABLE, "gone");
        return original(c);
      };
    }
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3 });
    expect(run.problems).toEqual([]);
    expect(run.result.stopReason).toBe(StopReason.QUORUM_LOST);
    expect(run.result.stopDetail).toMatch(/after round 1: only 1 agent/);
    expect(run.result.answer).not.toBe("");
  });

  it("a silent agent times out: the job goes on without hanging", async () => {
    const world = new ScriptedWorld([
      ...stubborn().slice(0, 3),
      { ...chatAgent("w4", "84", "none"), generate: () => new Promise<string>(() => undefined) },
    ]);
    const run = await runScripted(world, Strategy.NSED, TASK, { maxRounds: 2 }, undefined, {
      callTimeoutMs: 20,
    });
    expect(run.problems).toEqual([]);
    expect(eventsOf(run.events, "fault").find((f) => f.kind === FaultKind.TIMEOUT)).toMatchObject({
      round: 1,
      workerId: "w4",
    });
    expect(run.result.stopReason).toBe(StopReason.MAX_ROUNDS);
    expect(eventsOf(run.events, "proposal").filter((p) => p.round === 2)).toHaveLength(3);
    // The call carried a deadline for the worker too.
    const sent = world.generateCalls.find((c) => c.workerId === "w4");
    expect(sent?.signal.aborted).toBe(true);
  });

  it("a per-round latency budget bounds every call", async () => {
    const world = new ScriptedWorld([
      ...stubborn().slice(0, 2),
      { ...chatAgent("w3", "84", "none"), generate: () => new Promise<string>(() => undefined) },
    ]);
    const run = await runScripted(
      world,
      Strategy.NSED,
      TASK,
      { maxRounds: 1, minRounds: 1 },
      { roundLatencySeconds: 0.02 },
    );
    expect(eventsOf(run.events, "fault").some((f) => f.kind === FaultKind.TIMEOUT)).toBe(true);
    expect(run.result.stopReason).toBe(StopReason.MAX_ROUNDS);
  });
});
