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

  it.each([
    ["no reason", undefined, "job cancelled"],
    ["the owner's reason", new ConclaveError(ErrorCode.CANCELLED, "wrong question"), "wrong question"],
  ])(
    "ends CANCELLED when the job signal aborts mid-round (%s), without waiting for silent agents",
    async (_, reason, message) => {
      const ctl = new AbortController();
      const world = new ScriptedWorld(
        stubborn().map((w) => ({
          ...w,
          // In round 2 the agents go silent (never answer, ignore the signal) and the owner cancels.
          generate: (c: Parameters<NonNullable<ScriptedWorker["generate"]>>[0]) => {
            if (c.kind === "propose" && c.n === 2) {
              ctl.abort(reason);
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
      expect(finished?.job?.error?.message).toBe(message);
      expect(run.events[run.events.length - 1]?.event.case).toBe("finished");
    },
  );
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

describe("NSED faults that are not the worker's", () => {
  /** Three agents; `w2` fails one kind of call in round 1 with `code`. */
  function failingOnce(kind: "propose" | "evaluate", code: ErrorCode): ScriptedWorld {
    const world = new ScriptedWorld([...stubborn().slice(0, 3), chatAgent("w4", "84", "none")]);
    const w2 = world.workers[1] as ScriptedWorker;
    const original = w2.generate as NonNullable<ScriptedWorker["generate"]>;
    w2.generate = (c) => {
      if (c.kind === kind && c.n === 1) {
        throw new ConclaveError(code, "prompt needs 671 tokens but the context holds 512", {
          details: ["promptTokens=671", "contextSize=512"],
        });
      }
      return original(c);
    };
    return world;
  }

  it("a context overflow in an evaluation: recorded, the evaluator abstains, nobody is re-seated or excluded", async () => {
    const world = failingOnce("evaluate", ErrorCode.CONTEXT_OVERFLOW);
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    const faults = eventsOf(run.events, "fault");
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ round: 1, seatId: "agent-2", workerId: "w2", kind: FaultKind.ERROR });
    expect(faults[0]?.message).toMatch(/^context_overflow: prompt needs 671 tokens/);
    // The evaluation is on record as an abstention.
    const e = eventsOf(run.events, "evaluation").find(
      (x) => x.round === 1 && x.evaluatorSeatId === "agent-2",
    );
    expect(e).toMatchObject({ valid: false });
    expect(e?.abstainReason).toMatch(/context_overflow/);
    // The seat stays on its worker: no re-seat, no exclusion, and it proposes and evaluates in round 2.
    expect(world.seatRequests).toHaveLength(1);
    expect(eventsOf(run.events, "seated")).toHaveLength(1);
    expect(
      eventsOf(run.events, "proposal")
        .filter((p) => p.round === 2)
        .map((p) => p.seatId),
    ).toContain("agent-2");
    expect(run.result.stopReason).toBe(StopReason.MAX_ROUNDS);
  });

  it("an invalid-argument proposal: that proposal is missing, the seat stays for the next round", async () => {
    const world = failingOnce("propose", ErrorCode.INVALID_ARGUMENT);
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    expect(eventsOf(run.events, "proposal").filter((p) => p.round === 1)).toHaveLength(2);
    expect(eventsOf(run.events, "fault")).toMatchObject([
      { round: 1, seatId: "agent-2", kind: FaultKind.ERROR },
    ]);
    expect(world.seatRequests).toHaveLength(1);
    expect(eventsOf(run.events, "proposal").filter((p) => p.round === 2)).toHaveLength(3);
    expect(eventsOf(run.events, "finished")[0]?.job?.state).toBe(JobState.SUCCEEDED);
  });

  it("a dead worker is still excluded and re-seated (the contrast)", async () => {
    const world = failingOnce("evaluate", ErrorCode.UNAVAILABLE);
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3, maxRounds: 2 });
    expect(world.seatRequests).toHaveLength(2);
    expect(world.seatRequests[1]?.excludeWorkerIds).toEqual(["w2"]);
    expect(eventsOf(run.events, "fault").some((f) => f.kind === FaultKind.RESEATED)).toBe(true);
  });
});

describe("re-seating counts every seat a worker holds", () => {
  it("passes one seatedWorkerIds entry per seat, so a full worker gets no stacked seat", async () => {
    // w1 has two slots and holds two seats; w2 holds the third and dies. w1 has no slot left.
    const world = new ScriptedWorld([
      { ...chatAgent("w1", "85", "85"), slots: 2 },
      chatAgent("w2", "84", "85"),
    ]);
    const w2 = world.workers[1] as ScriptedWorker;
    const original = w2.generate as NonNullable<ScriptedWorker["generate"]>;
    w2.generate = (c) => {
      if (c.kind === "evaluate") {
        world.dead.add("w2");
        throw new ConclaveError(ErrorCode.UNAVAILABLE, "worker w2 disconnected");
      }
      return original(c);
    };
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    const first = eventsOf(run.events, "seated")[0];
    expect(first?.seats.map((s) => s.workerId)).toEqual(["w1", "w1", "w2"]);
    expect(world.seatRequests[1]?.seatedWorkerIds).toEqual(["w1", "w1"]);
    // Never more seats on a worker than it has slots.
    for (const s of eventsOf(run.events, "seated")) {
      expect(s.seats.filter((x) => x.workerId === "w1").length).toBeLessThanOrEqual(2);
    }
    expect(eventsOf(run.events, "fault").some((f) => f.kind === FaultKind.RESEATED)).toBe(false);
    expect(eventsOf(run.events, "proposal").filter((p) => p.round === 2)).toHaveLength(2);
  });
});

describe("a panel that writes nonsense", () => {
  it("completes when every evaluation is invalid: abstentions recorded, the winner by the tie rules", async () => {
    const world = new ScriptedWorld(
      ["w1", "w2", "w3"].map((id, k) => ({
        ...chatAgent(id, "", "none"),
        // Gibberish evaluations; proposals of different lengths (so cost decides the tie).
        generate: (c) =>
          c.kind === "evaluate"
            ? "Once upon a time { the ball"
            : proposalReply(`${"la ".repeat(8 * (3 - k))}end`),
      })),
    );
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    expect(eventsOf(run.events, "finished")[0]?.job?.state).toBe(JobState.SUCCEEDED);
    // Conviction is 0 without votes, so it cannot converge: it runs to max rounds.
    expect(run.result.stopReason).toBe(StopReason.MAX_ROUNDS);
    const evaluations = eventsOf(run.events, "evaluation");
    expect(evaluations).toHaveLength(6);
    for (const e of evaluations) expect(e).toMatchObject({ valid: false, attempts: 2 });
    expect(eventsOf(run.events, "fault").every((f) => f.kind === FaultKind.INVALID_OUTPUT)).toBe(true);
    expect(world.seatRequests).toHaveLength(1);
    // No votes: every support is 0, so the running mean ties too and the cheapest proposal wins.
    for (const s of eventsOf(run.events, "roundCompleted")) {
      expect(s.votes).toEqual([]);
      expect(s.conviction).toBe(0);
      expect(s.winnerSeatId).toBe("agent-3");
    }
    expect(run.result.answer).toBe(`${"la ".repeat(8)}end`);
  });
});

describe("a worker that joins mid-job", () => {
  it("takes a seat the job could not fill, from the next round on", async () => {
    // The job asks for 4 agents; only 3 workers exist when it starts. w4 joins during round 1.
    const world = new ScriptedWorld(["w1", "w2", "w3"].map((id, k) => chatAgent(id, `${81 + k}`, "none")));
    const w1 = world.workers[0] as ScriptedWorker;
    const original = w1.generate as NonNullable<ScriptedWorker["generate"]>;
    w1.generate = (c) => {
      if (c.kind === "evaluate" && world.workers.length === 3)
        world.workers.push(chatAgent("w4", "84", "none"));
      return original(c);
    };
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 4, minRounds: 3, maxRounds: 3 });
    expect(run.problems).toEqual([]);
    const seated = eventsOf(run.events, "seated");
    expect(seated.map((s) => [s.round, s.seats.map((x) => x.workerId)])).toEqual([
      [1, ["w1", "w2", "w3"]],
      [2, ["w1", "w2", "w3", "w4"]],
    ]);
    const proposers = (round: number) =>
      eventsOf(run.events, "proposal")
        .filter((p) => p.round === round)
        .map((p) => p.seatId)
        .sort();
    expect(proposers(1)).toEqual(["agent-1", "agent-2", "agent-3"]);
    expect(proposers(2)).toEqual(["agent-1", "agent-2", "agent-3", "agent-4"]);
    expect(proposers(3)).toHaveLength(4);
    expect(
      eventsOf(run.events, "log").some((l) => /agent-4 joins from round 2 on worker w4/.test(l.message)),
    ).toBe(true);
    // Joining is not a fault, and the broker was asked again only because the pool changed.
    expect(eventsOf(run.events, "fault")).toEqual([]);
    expect(world.seatRequests).toHaveLength(2);
  });

  it("does not ask the broker again while the pool is unchanged", async () => {
    const world = new ScriptedWorld(["w1", "w2", "w3"].map((id, k) => chatAgent(id, `${81 + k}`, "none")));
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 4, minRounds: 3, maxRounds: 3 });
    expect(run.result.rounds).toBe(3);
    expect(world.seatRequests).toHaveLength(1);
    expect(eventsOf(run.events, "seated")).toHaveLength(1);
  });
});
