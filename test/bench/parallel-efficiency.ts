/**
 * Parallel efficiency of an NSED round (BRIEF §8): eight scripted agents with different simulated
 * latencies (prefill 20–120 ms, per-token delay 0 or 1 ms). A round should take as long as its slowest
 * proposal plus its slowest evaluation and no longer: efficiency = round wall time ÷ that sum.
 */
import { JobState } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { BENCH_TASK, benchAgents } from "./support/agents.js";
import {
  describePhases,
  nsedSpec,
  PHASE_NOTE,
  phaseMedians,
  type RoundRun,
  startNsedCluster,
} from "./support/nsed-cluster.js";
import { boundedLoop, fmt, judge, max, median, printReport } from "./support/report.js";

export interface ParallelEfficiencyOptions {
  /** @default 8 */
  agents?: number;
  /** @default 4 */
  rounds?: number;
  /** @default 3 */
  jobs?: number;
  /** @default 60000 */
  maxMs?: number;
}

/** Agent i of n: prefill spread evenly over 20–120 ms; every other agent also pays 1 ms per token. */
export function simulatedLatency(i: number, n: number): { prefillDelayMs: number; tokenDelayMs: number } {
  return { prefillDelayMs: Math.round(20 + (100 * i) / Math.max(1, n - 1)), tokenDelayMs: i % 2 };
}

/** Round wall time ÷ (slowest proposal + slowest evaluation). 1 is perfect overlap. Pure. */
export function roundEfficiency(r: RoundRun): number {
  return r.wallMs / (r.slowestProposeMs + r.slowestEvaluateMs);
}

export async function benchParallelEfficiency(options: ParallelEfficiencyOptions = {}): Promise<void> {
  const agents = options.agents ?? 8;
  const rounds = options.rounds ?? 4;
  const cluster = await startNsedCluster({
    workers: benchAgents(agents, (i) => simulatedLatency(i, agents)),
    shape: { answerWords: 20, rationaleWords: 8, critiqueWords: 4, claimWords: 3 },
    seedTokensPerSecond: { prefill: 2000, generation: 60 },
  });
  try {
    await cluster.runJob(nsedSpec({ task: BENCH_TASK, agents, rounds: 1 })); // warm-up
    const measured: RoundRun[] = [];
    const problems: string[] = [];
    const loop = await boundedLoop(
      { maxIterations: options.jobs ?? 3, maxMs: options.maxMs ?? 60_000 },
      async () => {
        const run = await cluster.runJob(nsedSpec({ task: BENCH_TASK, agents, rounds }));
        measured.push(...run.rounds);
        if (run.state !== JobState.SUCCEEDED) problems.push(`${run.jobId} ended ${JobState[run.state]}`);
        if (!run.callsMatched) problems.push(`${run.jobId}: some calls unmatched`);
        problems.push(...run.faults);
      },
    );
    const eff = measured.map(roundEfficiency);
    const med = median(eff);
    const phases = phaseMedians(measured);
    const perRound = measured.map((r) => ({
      round: r.round,
      wallMs: r.wallMs,
      slowestProposeMs: r.slowestProposeMs,
      slowestEvaluateMs: r.slowestEvaluateMs,
      efficiency: roundEfficiency(r),
    }));
    printReport(
      {
        name: "parallel-efficiency",
        compared: `NSED round wall time vs slowest proposal + slowest evaluation, ${agents} scripted agents with simulated latencies`,
        values: {
          agents,
          roundsPerJob: rounds,
          jobs: loop.iterations,
          roundsMeasured: measured.length,
          efficiencyMedian: med,
          efficiencyMax: max(eff),
          ...phases,
          perRound,
        },
        targets: [
          judge({ metric: "efficiencyMedian", op: "<=", value: 1.05, unit: "×", source: "task target" }, med),
        ],
        notes: [
          "slowest proposal / evaluation = the backends' own measured time (simulated prefill + per-token delays, timer slack included)",
          PHASE_NOTE,
          ...(problems.length > 0 ? [`problems: ${problems.slice(0, 3).join(" | ")}`] : []),
          ...(loop.timedOut ? ["the time bound cut the run short"] : []),
        ],
      },
      [
        `${measured.length} rounds over ${loop.iterations} jobs after a 1-round warm-up job`,
        ...perRound.map(
          (r) =>
            `round ${r.round}: wall ${fmt(r.wallMs)} ms, slowest proposal ${fmt(r.slowestProposeMs)} ms + slowest evaluation ${fmt(r.slowestEvaluateMs)} ms → ${r.efficiency.toFixed(3)}×`,
        ),
        describePhases(phases),
        `efficiency median ${med.toFixed(3)}×, worst ${max(eff).toFixed(3)}×`,
      ],
    );
  } finally {
    await cluster.stop();
  }
}
