/**
 * Context growth (BRIEF §8): prompt tokens per agent per round over eight NSED rounds, with scripted
 * agents whose answers, rationales and critiques are long enough to overflow the state view's budget.
 * The forget gate and the token budget should keep the per-round prompt flat after round 2 (round 1 has
 * no state view yet).
 */
import { JobState } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { BENCH_TASK, benchAgents } from "./support/agents.js";
import { nsedSpec, type RoundRun, startNsedCluster } from "./support/nsed-cluster.js";
import { fmt, judge, mean, printReport } from "./support/report.js";

export interface ContextGrowthOptions {
  /** @default 8 */
  agents?: number;
  /** @default 8 */
  rounds?: number;
}

export interface RoundTokens {
  round: number;
  /** Mean over seats of the coordinator's count of each seat's proposal prompt (PromptRecord). */
  proposePerAgent: number;
  evaluatePerAgent: number;
  /** propose + evaluate: everything one agent reads in the round. */
  totalPerAgent: number;
  /** The engine's own RoundSummary.mean_prompt_tokens_per_agent (worker-reported usage). */
  summaryMeanPerAgent: number;
}

export function roundTokens(r: RoundRun): RoundTokens {
  const propose = mean(r.seats.map((s) => s.proposePromptTokens));
  const evaluate = mean(r.seats.map((s) => s.evaluatePromptTokens));
  return {
    round: r.round,
    proposePerAgent: propose,
    evaluatePerAgent: evaluate,
    totalPerAgent: propose + evaluate,
    summaryMeanPerAgent: r.summary.meanPromptTokensPerAgent,
  };
}

export async function benchContextGrowth(options: ContextGrowthOptions = {}): Promise<void> {
  const agents = options.agents ?? 8;
  const rounds = options.rounds ?? 8;
  const cluster = await startNsedCluster({
    workers: benchAgents(agents),
    shape: { answerWords: 150, rationaleWords: 60, critiqueWords: 40, claimWords: 12 },
    seedTokensPerSecond: { prefill: 2000, generation: 60 },
  });
  try {
    const run = await cluster.runJob(nsedSpec({ task: BENCH_TASK, agents, rounds, maxTokens: 1024 }));
    const perRound = run.rounds.map(roundTokens);
    const at = (n: number) => perRound.find((r) => r.round === n);
    const ratio = (at(rounds)?.totalPerAgent ?? Number.NaN) / (at(2)?.totalPerAgent ?? Number.NaN);
    const proposeRatio = (at(rounds)?.proposePerAgent ?? Number.NaN) / (at(2)?.proposePerAgent ?? Number.NaN);
    printReport(
      {
        name: "context-growth",
        compared: `prompt tokens per agent per round, rounds 1–${rounds}, ${agents} scripted agents with long answers`,
        values: {
          agents,
          rounds: run.rounds.length,
          jobState: JobState[run.state],
          [`ratioRound${rounds}ToRound2`]: ratio,
          [`proposeRatioRound${rounds}ToRound2`]: proposeRatio,
          perRound,
        },
        targets: [
          judge(
            { metric: `ratioRound${rounds}ToRound2`, op: "<=", value: 1.2, unit: "×", source: "task target" },
            ratio,
          ),
        ],
        notes: [
          "tokens are the coordinator's own count of each prompt sent (PromptRecord.prompt_tokens), summed per seat per round and averaged over seats",
          "summaryMeanPerAgent is RoundSummary.mean_prompt_tokens_per_agent; the scripted backend reports usage as user-message characters / 4",
          ...(run.faults.length > 0 ? [`faults: ${run.faults.slice(0, 3).join(" | ")}`] : []),
        ],
      },
      [
        "round | propose/agent | evaluate/agent | total/agent | summary mean/agent",
        ...perRound.map(
          (r) =>
            `${String(r.round).padStart(5)} | ${fmt(r.proposePerAgent).padStart(13)} | ${fmt(r.evaluatePerAgent).padStart(14)} | ${fmt(r.totalPerAgent).padStart(11)} | ${fmt(r.summaryMeanPerAgent).padStart(18)}`,
        ),
        `round ${rounds} / round 2: total ${ratio.toFixed(3)}×, proposal prompts alone ${proposeRatio.toFixed(3)}×`,
      ],
    );
  } finally {
    await cluster.stop();
  }
}
