/**
 * The arithmetic scenario of TASK-MODELS.md with scripted raw-format models: `Q 37+48=` → `85`,
 * `V 37+48=85 ?` → `Y`/`N`, and PROPOSE log-probabilities for likelihood review. One member is right and
 * two share the same carry error, so a plain majority vote picks the wrong answer; peer review must not.
 */
import { describe, expect, it } from "vitest";
import {
  EvaluationMode,
  JobState,
  PromptKind,
  StopReason,
  Strategy,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../proto/gen/conclave/v1/plan_pb.js";
import { runScripted } from "./support/jobs.js";
import { ARITH_PROFILE, eventsOf, type ScriptedWorker, ScriptedWorld } from "./support/scripted.js";

const TASK = "37+48";
const TRUTH = 85;

function solve(prompt: string): number {
  const m = /^[QV] (\d+)([+-])(\d+)=/.exec(prompt);
  if (m === null) throw new Error(`not an arithmetic prompt: ${prompt}`);
  return m[2] === "+" ? Number(m[1]) + Number(m[3]) : Number(m[1]) - Number(m[3]);
}

/** A member that proposes `truth + error` and verifies (and scores) peers correctly. */
function member(id: string, error: number): ScriptedWorker {
  return {
    workerId: id,
    modelName: `arith-${id}.gguf`,
    profile: ARITH_PROFILE,
    roles: [SeatRole.AGENT, SeatRole.PROPOSER, SeatRole.SOLO, SeatRole.AGGREGATOR, SeatRole.CHAIRMAN],
    generate: (c) => {
      if (c.raw.startsWith("Q ")) return `${solve(c.raw) + error}`;
      const claimed = Number(/=(\d+) \?$/.exec(c.raw)?.[1]);
      return claimed === solve(c.raw) ? "Y" : "N";
    },
    // P(candidate, then EOS | `Q a+b=`): the right answer is likely, a near miss much less so.
    score: (c) =>
      c.candidates.map((cand) => (Number(cand) === solve(c.prompt) ? Math.log(0.6) : Math.log(0.02))),
  };
}

const members = () => [member("a", 0), member("b", -10), member("c", -10), member("d", 10)];

describe("arithmetic scenario", () => {
  it("majority vote alone picks the shared wrong answer (the baseline to beat)", async () => {
    const run = await runScripted(new ScriptedWorld(members()), Strategy.MAJORITY, TASK, { agents: 4 });
    expect(run.result.answer).toBe("75");
  });

  it("per-candidate verdicts pick the right answer", async () => {
    const world = new ScriptedWorld(members());
    const run = await runScripted(world, Strategy.NSED, TASK, {
      evaluationMode: EvaluationMode.PER_CANDIDATE,
      maxRounds: 2,
    });
    expect(run.problems).toEqual([]);
    expect(run.result.answer).toBe(`${TRUTH}`);
    // Every endorsement goes to 85 and the wrong answers are firmly rejected: on positive mass that is full
    // conviction, so the panel converges at min rounds (the brief's ns_win / Σ|ns| reads 0.25 here).
    expect(run.result.stopReason).toBe(StopReason.CONVERGED);
    expect(run.result.rounds).toBe(2);
    // The exact trained formats, nothing else.
    const raw = eventsOf(run.events, "prompt").map((p) =>
      p.input.case === "rawPrompt" ? p.input.value : "<chat>",
    );
    expect(new Set(raw.filter((r) => r.startsWith("Q")))).toEqual(new Set(["Q 37+48="]));
    expect(new Set(raw.filter((r) => r.startsWith("V")))).toEqual(
      new Set(["V 37+48=85 ?", "V 37+48=75 ?", "V 37+48=95 ?"]),
    );
    expect(raw).not.toContain("<chat>");
    // 4 evaluators × 3 peers verdict calls per round; never its own answer... a verifies only peers.
    const verdictsA = world.generateCalls.filter((c) => c.workerId === "a" && c.raw.startsWith("V"));
    expect(verdictsA.map((c) => c.raw).filter((r) => r === "V 37+48=85 ?")).toHaveLength(0);
    expect(
      eventsOf(run.events, "evaluation").every((e) => e.mode === EvaluationMode.PER_CANDIDATE && e.valid),
    ).toBe(true);
    const proposeMax = world.generateCalls.filter((c) => c.raw.startsWith("Q")).map((c) => c.req.maxTokens);
    expect(new Set(proposeMax)).toEqual(new Set([6]));
  });

  it("likelihood review picks the right answer (the profile's default mode may be overridden per job)", async () => {
    const world = new ScriptedWorld(members());
    const run = await runScripted(world, Strategy.NSED, TASK, {
      evaluationMode: EvaluationMode.LIKELIHOOD,
      maxRounds: 2,
    });
    expect(run.problems).toEqual([]);
    expect(run.result.answer).toBe(`${TRUTH}`);
    expect(world.scoreCalls.length).toBe(8);
    for (const c of world.scoreCalls) {
      expect(c.prompt).toBe("Q 37+48=");
      expect(c.req.appendEos).toBe(true);
      expect(c.candidates).toHaveLength(3);
    }
    expect(eventsOf(run.events, "prompt").some((p) => p.kind === PromptKind.SCORE)).toBe(true);
    // Evaluator a sees 75, 75, 95: all equally unlikely, so its credit is spread evenly; the others give 85 the most.
    const byB = eventsOf(run.events, "evaluation").find(
      (e) => e.round === 1 && e.evaluatorSeatId === "agent-2",
    );
    const w85 = byB?.candidates.find((c) => c.candidateSeatId === "agent-1")?.weight;
    expect(w85).toBeCloseTo(100);
    for (const c of byB?.candidates ?? [])
      if (c.candidateSeatId !== "agent-1") expect(c.weight).toBeLessThan(10);
  });

  it("a strategy that needs an aggregator refuses raw-only models with a clear reason", async () => {
    for (const strategy of [Strategy.MOA, Strategy.SELF_MOA, Strategy.SELF_MOA_SEQ, Strategy.COUNCIL]) {
      const world = new ScriptedWorld(members());
      const run = await runScripted(world, strategy, TASK);
      expect(run.problems).toEqual([]);
      expect(run.result.stopReason).toBe(StopReason.ERROR);
      expect(run.result.stopDetail).toMatch(
        /needs an? (aggregator|chairman) that can synthesise answers, but model arith-.* cannot synthesise answers/,
      );
      const finished = eventsOf(run.events, "finished")[0];
      expect(finished?.job?.state).toBe(JobState.FAILED);
      expect(world.generateCalls).toHaveLength(0);
    }
  });
});
