/**
 * NSED coordinator overhead per round (BRIEF §8): eight agents on instant scripted backends behind real
 * worker services, a real nats-server and a real in-process coordinator. Whatever a round takes beyond
 * its model time (the slowest proposal + the slowest evaluation, as the backends measured them) is the
 * cluster's overhead: protobuf, NATS, prompt building, parsing, tallying, transcript persistence.
 * Measured in steady state, after warm-up jobs (see `warmupJobs`); the cold figure is reported beside it.
 */
import { JobState, StopReason } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { BENCH_TASK, benchAgents, TYPICAL_SHAPE } from "./support/agents.js";
import {
  describePhases,
  nsedSpec,
  PHASE_NOTE,
  phaseMedians,
  type RoundRun,
  startNsedCluster,
} from "./support/nsed-cluster.js";
import { boundedLoop, fmt, judge, max, mean, median, percentile, printReport } from "./support/report.js";

export interface NsedOverheadOptions {
  /** @default 8 */
  agents?: number;
  /** Rounds per job. @default 6 */
  rounds?: number;
  /** Measured jobs (after the warm-up jobs). @default 16 */
  jobs?: number;
  /**
   * Unmeasured jobs first, 6 rounds each: a coordinator is a long-running server, and until V8 has compiled
   * the round's code paths (in the coordinator and in the workers) a round costs about twice as much. The
   * first warm-up job's rounds are reported as the cold figure. @default 30
   */
  warmupJobs?: number;
  /** Stop warming up after this long. @default 30000 */
  warmupMaxMs?: number;
  /** Stop starting new jobs after this long. @default 60000 */
  maxMs?: number;
}

/** Overhead of one round: its wall time minus the model time on its critical path. Pure. */
export function roundOverheadMs(r: RoundRun): number {
  return r.wallMs - (r.slowestProposeMs + r.slowestEvaluateMs);
}

export async function benchNsedOverhead(options: NsedOverheadOptions = {}): Promise<void> {
  const agents = options.agents ?? 8;
  const rounds = options.rounds ?? 6;
  const cluster = await startNsedCluster({
    workers: benchAgents(agents),
    shape: TYPICAL_SHAPE,
    seedTokensPerSecond: { prefill: 2000, generation: 60 },
  });
  try {
    const spec = nsedSpec({ task: BENCH_TASK, agents, rounds });
    const faults: string[] = [];
    const cold: RoundRun[] = [];
    const warmup = await boundedLoop(
      { maxIterations: options.warmupJobs ?? 30, maxMs: options.warmupMaxMs ?? 30_000 },
      async (i) => {
        const run = await cluster.runJob(spec);
        if (i === 0) cold.push(...run.rounds);
        faults.push(...run.faults);
      },
    );
    const coldP50 = median(cold.map(roundOverheadMs));
    const measured: RoundRun[] = [];
    const jobStates: string[] = [];
    let matched = true;
    // CPU time per round is steadier than wall time on a shared machine, and says which process pays.
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const pool0 = await cluster.pool.memory();
    const loop = await boundedLoop(
      { maxIterations: options.jobs ?? 16, maxMs: options.maxMs ?? 60_000 },
      async () => {
        const run = await cluster.runJob(spec);
        measured.push(...run.rounds);
        jobStates.push(
          `${run.jobId}: ${run.rounds.length} rounds, state ${JobState[run.state]}, stop ${StopReason[run.stopReason]}`,
        );
        faults.push(...run.faults);
        matched &&= run.callsMatched;
      },
    );
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const pool1 = await cluster.pool.memory();
    const coordinatorCpuMsPerRound = (cpu.user + cpu.system) / 1000 / measured.length;
    const poolCpuMsPerRound = (pool1.cpuMicros - pool0.cpuMicros) / 1000 / measured.length;
    const overhead = measured.map(roundOverheadMs);
    const wall = measured.map((r) => r.wallMs);
    const model = measured.map((r) => r.slowestProposeMs + r.slowestEvaluateMs);
    const engine = measured.map((r) => r.summary.durationMs);
    const p50 = median(overhead);
    const phases = phaseMedians(measured);
    const coordinatorLoopBusyMsPerRound = elu.active / measured.length;
    const values = {
      agents,
      roundsPerJob: rounds,
      warmupJobs: warmup.iterations,
      jobs: loop.iterations,
      roundsMeasured: measured.length,
      coldOverheadMsP50: coldP50,
      overheadMsP50: p50,
      overheadMsP95: percentile(overhead, 95),
      overheadMsMax: max(overhead),
      roundWallMsP50: median(wall),
      modelMsOnCriticalPathMean: mean(model),
      engineRoundDurationMsP50: median(engine),
      coordinatorCpuMsPerRound,
      coordinatorLoopBusyMsPerRound,
      workerPoolCpuMsPerRound: poolCpuMsPerRound,
      ...phases,
      callsMatchedToTranscript: matched,
      faults: faults.length,
      perRoundOverheadMs: overhead,
    };
    printReport(
      {
        name: "nsed-overhead",
        compared: `NSED round wall time vs the backends' own time, ${agents} instant scripted agents, real NATS + coordinator`,
        values,
        targets: [
          judge({ metric: "overheadMsP50", op: "<=", value: 5, unit: "ms", source: "task target" }, p50),
        ],
        notes: [
          "overhead = round wall time (roundStarted → roundCompleted, seen by a job watcher) − (slowest proposal + slowest evaluation, measured inside the backends)",
          "measured after warm-up jobs (steady state of a long-running coordinator, as JIT-compiled); the cold figure is the first warm-up job's rounds, before V8 has compiled anything",
          "the coordinator runs in this process; the 8 worker services share one child process; nats-server is a third process; all on one 2-core machine",
          "CPU per round = each process's CPU time over the measured jobs ÷ rounds (job submission and seating included); event loop busy = the coordinator's main thread only",
          PHASE_NOTE,
          ...(matched
            ? []
            : [
                "some model calls could not be matched to transcript prompts: their backend time counts as NaN",
              ]),
          ...(faults.length > 0 ? [`faults: ${faults.slice(0, 3).join(" | ")}`] : []),
          ...(loop.timedOut ? ["the time bound cut the run short"] : []),
          ...(warmup.timedOut ? [`the warm-up time bound stopped it after ${warmup.iterations} jobs`] : []),
        ],
      },
      [
        `${measured.length} rounds over ${loop.iterations} jobs (${rounds} rounds each) after ${warmup.iterations} warm-up jobs`,
        `overhead per round: p50 ${fmt(p50)} ms, p95 ${fmt(percentile(overhead, 95))} ms, max ${fmt(max(overhead))} ms (cold, the first warm-up job's rounds: p50 ${fmt(coldP50)} ms)`,
        describePhases(phases),
        `CPU per round: coordinator process ${fmt(coordinatorCpuMsPerRound)} ms (its event loop busy ${fmt(coordinatorLoopBusyMsPerRound)} ms), worker pool process ${fmt(poolCpuMsPerRound)} ms (8 workers together)`,
        `round wall p50 ${fmt(median(wall))} ms; model time on the critical path mean ${fmt(mean(model))} ms; engine's own round duration p50 ${fmt(median(engine))} ms`,
        ...jobStates,
      ],
    );
  } finally {
    await cluster.stop();
  }
}
