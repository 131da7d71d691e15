/**
 * Prompts fitted to each seat's context. The scripted workers count prompt tokens with a stand-in
 * tokenizer and refuse a prompt that does not fit with `context_overflow`, exactly like the real worker.
 */
import { describe, expect, it } from "vitest";
import type { AgentProfile } from "../../../coordinator/src/deliberation/index.js";
import {
  EvaluationMode,
  FaultKind,
  JobState,
  PromptKind,
  StopReason,
  Strategy,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../proto/gen/conclave/v1/plan_pb.js";
import { runScripted } from "./support/jobs.js";
import {
  CHAT_PROFILE,
  candidatesOf,
  evaluationReply,
  eventsOf,
  fencedBlocks,
  proposalReply,
  type ScriptedWorker,
  ScriptedWorld,
  STORIES_TOKENIZER,
} from "./support/scripted.js";

const TASK = "Tell a short story about a red ball.";
const story = (id: string, n: number) =>
  `${id}/${n}: Once upon a time there was a little girl named Lily who saw a big red ball. `.repeat(20);

/** A chat agent on a worker with `contextLength` tokens per slot that writes long stories. */
function storyteller(id: string, contextLength: number, over: Partial<ScriptedWorker> = {}): ScriptedWorker {
  const profile: AgentProfile = { ...CHAT_PROFILE, contextLength };
  return {
    workerId: id,
    modelName: `model-${id}`,
    profile,
    roles: [SeatRole.AGENT, SeatRole.PROPOSER, SeatRole.AGGREGATOR],
    generate: (c) => {
      if (c.kind === "evaluate") return evaluationReply(c.user, (a) => (a.startsWith("w1/") ? 60 : -30));
      if (c.kind === "aggregate") return proposalReply("a synthesis", "merged");
      return proposalReply(story(id, c.n), "because ".repeat(40));
    },
    ...over,
  };
}

/** Every generate call that reached a worker fitted its context, the completion included. */
function expectAllFit(world: ScriptedWorld): void {
  for (const c of world.generateCalls) {
    const ctx = world.workers.find((w) => w.workerId === c.workerId)?.profile.contextLength ?? 0;
    const prompt = world.realPromptTokens.get(c.req.requestId) ?? Number.NaN;
    expect(prompt + c.req.maxTokens).toBeLessThanOrEqual(ctx);
  }
}

function beginsMatchFences(text: string): void {
  expect(fencedBlocks(text)).toHaveLength((text.match(/<<<BEGIN /g) ?? []).length);
}

describe("prompts fitted to the seat's context", () => {
  it("cuts candidates and shrinks the state view so that every prompt fits, completion included", async () => {
    const world = new ScriptedWorld(["w1", "w2", "w3", "w4"].map((id) => storyteller(id, 2048)));
    const run = await runScripted(world, Strategy.NSED, TASK, { maxRounds: 3 });
    expect(run.problems).toEqual([]);
    expect(world.overflows).toEqual([]);
    expect(eventsOf(run.events, "fault")).toEqual([]);
    expectAllFit(world);
    expect(eventsOf(run.events, "finished")[0]?.job?.state).toBe(JobState.SUCCEEDED);
    const evaluations = world.generateCalls.filter((c) => c.kind === "evaluate");
    expect(evaluations.length).toBeGreaterThan(0);
    for (const c of evaluations) {
      // Every candidate is there, each cut with the marker inside an intact fence.
      beginsMatchFences(c.user);
      const candidates = candidatesOf(c.user);
      expect(candidates).toHaveLength(3);
      for (const cand of candidates) expect(cand.answer).toMatch(/… \[truncated\]$/);
      // Completions were squeezed to at most half the context.
      expect(c.req.maxTokens).toBeLessThanOrEqual(1024);
    }
    expect(eventsOf(run.events, "evaluation").every((e) => e.valid)).toBe(true);
    // Later rounds still carry a (shrunk) state view.
    const later = world.generateCalls.filter((c) => c.kind === "propose" && c.n > 1);
    expect(later.length).toBeGreaterThan(0);
    for (const c of later) {
      expect(c.user).toContain("## Last round's winning answer");
      beginsMatchFences(c.user);
    }
  });

  it("a stories260K-like panel in a 512-token context completes: nothing overflows, evaluations abstain", async () => {
    // Measured on stories260K: ~2.5 real tokens per estimated token plus ~40 for the chat template. The
    // engine learns the ratio from the first proposals, then refuses prompts that cannot fit before sending
    // them. (In the real run, evaluations and round-2 proposals overflowed and the job lost its quorum.)
    const world = new ScriptedWorld(
      ["w1", "w2", "w3"].map((id) =>
        storyteller(id, 512, {
          tokenizer: STORIES_TOKENIZER,
          generate: (c) => proposalReply(`${id} ${c.n}: Lily saw a ball. It was red.`, "ball"),
        }),
      ),
    );
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    expect(world.overflows).toEqual([]);
    expectAllFit(world);
    expect(run.result.stopReason).toBe(StopReason.MAX_ROUNDS);
    expect(eventsOf(run.events, "finished")[0]?.job?.state).toBe(JobState.SUCCEEDED);
    expect(eventsOf(run.events, "proposal").filter((p) => p.round === 2)).toHaveLength(3);
    const evaluations = eventsOf(run.events, "evaluation");
    expect(evaluations).toHaveLength(6);
    for (const e of evaluations) {
      expect(e.valid).toBe(false);
      expect(e.abstainReason).toMatch(/does not fit its context and was not sent/);
    }
    // Not the workers' fault: nobody was re-seated or excluded.
    expect(world.seatRequests).toHaveLength(1);
    expect(eventsOf(run.events, "fault").some((f) => f.kind === FaultKind.RESEATED)).toBe(false);
    expect(eventsOf(run.events, "log").some((l) => /leaves no room for the state view/.test(l.message))).toBe(
      true,
    );
  });

  it("fails a call whose task alone cannot fit before sending it, without blaming the worker", async () => {
    const world = new ScriptedWorld(["w1", "w2", "w3"].map((id) => storyteller(id, 256)));
    const run = await runScripted(world, Strategy.NSED, "Summarise this: ".concat("word ".repeat(400)), {
      agents: 3,
    });
    expect(run.problems).toEqual([]);
    expect(world.generateCalls).toHaveLength(0);
    expect(world.overflows).toEqual([]);
    const faults = eventsOf(run.events, "fault");
    expect(faults).toHaveLength(3);
    for (const f of faults) {
      expect(f.kind).toBe(FaultKind.ERROR);
      expect(f.message).toMatch(
        /the proposal prompt for agent-\d does not fit its context and was not sent: .* the context holds 256/,
      );
    }
    expect(run.result.stopReason).toBe(StopReason.QUORUM_LOST);
    expect(world.seatRequests).toHaveLength(1);
  });

  it("a chat verdict gets the tokens its JSON needs, and a verdict cut after its value still counts", async () => {
    // A worst-case tokenizer (one token per character): 16 tokens would end `{ "verdict": "ye`.
    const verdictOf = (user: string) => (user.includes("Answer: 85") ? "yes" : "no");
    const world = new ScriptedWorld(
      ["w1", "w2", "w3"].map((id, k) => ({
        ...storyteller(id, 4096),
        profile: {
          ...CHAT_PROFILE,
          contextLength: 4096,
          evaluationMode: EvaluationMode.PER_CANDIDATE,
          ...(k === 0 ? { maxTokens: { verdict: 16 } } : {}),
        },
        generate: (c) => {
          if (c.kind !== "verdict") return proposalReply(k === 2 ? "84" : "85");
          // Agent 3 stops right after the value, as stories260K did.
          const reply =
            k === 2 ? `{ "verdict": "${verdictOf(c.user)}"` : `{ "verdict": "${verdictOf(c.user)}" }`;
          return reply.slice(0, c.req.maxTokens);
        },
      })),
    );
    const run = await runScripted(world, Strategy.NSED, "What is 37+48?", { agents: 3, maxRounds: 2 });
    expect(run.problems).toEqual([]);
    for (const c of world.generateCalls.filter((x) => x.kind === "verdict")) {
      expect(c.req.maxTokens).toBeGreaterThanOrEqual('{ "verdict": "unsure" }'.length + 1);
    }
    const evaluations = eventsOf(run.events, "evaluation");
    expect(evaluations.length).toBeGreaterThan(0);
    expect(evaluations.every((e) => e.valid && e.candidates.length === 2)).toBe(true);
    expect(run.result.answer).toBe("85");
  });

  it("fits the verdict prompt by cutting the candidate", async () => {
    const world = new ScriptedWorld(
      ["w1", "w2", "w3"].map((id) => ({
        ...storyteller(id, 700),
        profile: { ...CHAT_PROFILE, contextLength: 700, evaluationMode: EvaluationMode.PER_CANDIDATE },
        generate: (c) =>
          c.kind === "verdict"
            ? '{"verdict": "unsure"}'
            : proposalReply(story(id, c.n), "because ".repeat(40)),
      })),
    );
    const run = await runScripted(world, Strategy.NSED, TASK, { agents: 3, maxRounds: 1, minRounds: 1 });
    expect(world.overflows).toEqual([]);
    expectAllFit(world);
    const verdicts = world.generateCalls.filter((c) => c.kind === "verdict");
    expect(verdicts).toHaveLength(6);
    for (const c of verdicts) {
      expect(c.user).toContain("[truncated]");
      beginsMatchFences(c.user);
    }
    expect(eventsOf(run.events, "evaluation").every((e) => e.valid)).toBe(true);
  });

  it("fits the aggregator's prompt by cutting the responses", async () => {
    const world = new ScriptedWorld([
      storyteller("w1", 8192),
      storyteller("w2", 8192),
      storyteller("w3", 8192),
      { ...storyteller("agg", 1024), roles: [SeatRole.AGGREGATOR] },
    ]);
    const run = await runScripted(world, Strategy.MOA, TASK, { agents: 3, layers: 1 });
    expect(run.problems).toEqual([]);
    expect(world.overflows).toEqual([]);
    expectAllFit(world);
    const agg = world.generateCalls.filter((c) => c.kind === "aggregate");
    expect(agg).toHaveLength(1);
    const responses = fencedBlocks(agg[0]?.user ?? "").filter((b) => b.label.startsWith("Response "));
    expect(responses).toHaveLength(3);
    for (const r of responses) expect(r.body).toMatch(/… \[truncated\]$/);
    expect(run.result.answer).toBe("a synthesis");
    const prompt = eventsOf(run.events, "prompt").find((p) => p.kind === PromptKind.AGGREGATE);
    expect(prompt?.promptTokens).toBeGreaterThan(0);
  });

  it("learns from a worker's overflow how it counts tokens, and retries the aggregator on the same seat", async () => {
    // The aggregator is called for the first time with a prompt fitted for 1 token per estimated token;
    // its tokenizer spends ~2.5. The worker refuses with promptTokens=N; the retry is refitted and fits.
    const world = new ScriptedWorld([
      storyteller("w1", 8192),
      storyteller("w2", 8192),
      { ...storyteller("agg", 2048, { tokenizer: STORIES_TOKENIZER }), roles: [SeatRole.AGGREGATOR] },
    ]);
    const run = await runScripted(world, Strategy.MOA, TASK, { agents: 2, layers: 1 });
    expect(run.problems).toEqual([]);
    expect(world.overflows.map((o) => o.workerId)).toEqual(["agg"]);
    const faults = eventsOf(run.events, "fault");
    expect(faults).toHaveLength(1);
    expect(faults[0]?.message).toMatch(/^context_overflow/);
    expect(world.seatRequests).toHaveLength(1);
    expect(world.generateCalls.filter((c) => c.kind === "aggregate")).toHaveLength(1);
    expectAllFit(world);
    expect(run.result.answer).toBe("a synthesis");
  });
});
