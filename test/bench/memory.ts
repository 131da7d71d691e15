/**
 * Memory under load (BRIEF §8): RSS of the coordinator (this process) and of the worker pool (eight real
 * worker services on scripted backends, one child process) while NSED jobs run back to back on instant
 * backends, i.e. at the highest message rate the cluster sustains. The job manager keeps only the newest few
 * finished jobs in memory (coordinator/src/jobs/retention.ts), so past the first few seconds the live heap
 * should stay level however fast jobs finish; at a few checkpoints both processes collect garbage, so live
 * memory can be told from garbage V8 has not collected yet. The llama worker's RSS over its model is reported by the
 * worker-streaming benchmark.
 */
import { DEFAULT_RETENTION } from "../../coordinator/src/jobs/retention.js";
import { BENCH_TASK, benchAgents, TYPICAL_SHAPE } from "./support/agents.js";
import { fullGc } from "./support/gc.js";
import { nsedSpec, startNsedCluster } from "./support/nsed-cluster.js";
import { boundedLoop, fmt, MB, max, mean, printReport } from "./support/report.js";

export interface MemoryOptions {
  /** @default 8 */
  agents?: number;
  /** Jobs at most (a safety bound: the time bound ends the run). @default 20000 */
  jobs?: number;
  /** @default 6 */
  rounds?: number;
  /** @default 500 */
  sampleEveryMs?: number;
  /** Run jobs back to back for this long. @default 60000 */
  maxMs?: number;
  /** Garbage-collected checkpoints over the run. @default 4 */
  checkpoints?: number;
}

interface Sample {
  /** ms since the load started. */
  at: number;
  coordinatorRss: number;
  coordinatorHeap: number;
  poolRss: number;
  poolHeap: number;
}

interface Checkpoint {
  atS: number;
  jobs: number;
  coordinatorRssMB: number;
  /** heapUsed right after a full collection: what is really held. */
  coordinatorLiveHeapMB: number;
  poolRssMB: number;
  poolLiveHeapMB: number;
}

export async function benchMemory(options: MemoryOptions = {}): Promise<void> {
  const agents = options.agents ?? 8;
  const rounds = options.rounds ?? 6;
  const maxMs = options.maxMs ?? 60_000;
  const every = options.sampleEveryMs ?? 500;
  const checkpointEvery = maxMs / (options.checkpoints ?? 4);
  // What this process holds before any coordinator exists: the harness and the loaded modules.
  const baselineRss = process.memoryUsage().rss;
  const cluster = await startNsedCluster({
    workers: benchAgents(agents),
    shape: TYPICAL_SHAPE,
    seedTokensPerSecond: { prefill: 2000, generation: 60 },
  });
  const samples: Sample[] = [];
  const checkpoints: Checkpoint[] = [];
  let jobs = 0;
  const checkpoint = async (at: number): Promise<void> => {
    fullGc();
    const m = process.memoryUsage();
    const pool = await cluster.pool.memory(true);
    checkpoints.push({
      atS: at / 1000,
      jobs,
      coordinatorRssMB: m.rss / MB,
      coordinatorLiveHeapMB: m.heapUsed / MB,
      poolRssMB: pool.rssBytes / MB,
      poolLiveHeapMB: pool.heapUsedBytes / MB,
    });
  };
  const loadStart = performance.now();
  let sampling = true;
  let samplerError: unknown;
  const sampler = (async () => {
    let nextCheckpoint = checkpointEvery;
    while (sampling) {
      const at = performance.now() - loadStart;
      const m = process.memoryUsage();
      const pool = await cluster.pool.memory();
      samples.push({
        at,
        coordinatorRss: m.rss,
        coordinatorHeap: m.heapUsed,
        poolRss: pool.rssBytes,
        poolHeap: pool.heapUsedBytes,
      });
      if (at >= nextCheckpoint) {
        await checkpoint(at);
        nextCheckpoint += checkpointEvery;
      }
      await new Promise((r) => setTimeout(r, every));
    }
  })().catch((err: unknown) => {
    samplerError = err;
  });
  try {
    const rssAtStart = process.memoryUsage().rss;
    const loop = await boundedLoop({ maxIterations: options.jobs ?? 20_000, maxMs }, async () => {
      await cluster.runJob(nsedSpec({ task: BENCH_TASK, agents, rounds }));
      jobs++;
    });
    sampling = false;
    await sampler;
    const endAt = performance.now() - loadStart;
    if ((checkpoints.at(-1)?.atS ?? 0) * 1000 < endAt - checkpointEvery / 2) await checkpoint(endAt);
    const mb = (xs: number[]) => ({ peakMB: max(xs) / MB, meanMB: mean(xs) / MB });
    const coordinatorRss = mb(samples.map((s) => s.coordinatorRss));
    const coordinatorHeap = mb(samples.map((s) => s.coordinatorHeap));
    const poolRss = mb(samples.map((s) => s.poolRss));
    const poolHeap = mb(samples.map((s) => s.poolHeap));
    // Live-heap change between the checkpoints once more jobs finished than are retained: should be ~0.
    const steady = checkpoints.filter(
      (c) => c.jobs > DEFAULT_RETENTION.maxJobs || c.atS * 1000 >= DEFAULT_RETENTION.maxAgeMs,
    );
    const first = steady[0];
    const lastCp = steady.at(-1);
    const steadyLiveHeapGrowthMB =
      first && lastCp && lastCp !== first
        ? lastCp.coordinatorLiveHeapMB - first.coordinatorLiveHeapMB
        : Number.NaN;
    const steadySpanS = first && lastCp ? lastCp.atS - first.atS : 0;
    printReport(
      {
        name: "memory",
        compared: `RSS of the coordinator process and of the ${agents}-worker scripted pool process during back-to-back NSED jobs`,
        values: {
          agents,
          jobs,
          rounds: jobs * rounds,
          seconds: endAt / 1000,
          samples: samples.length,
          coordinatorProcessRss: coordinatorRss,
          coordinatorHeapUsed: coordinatorHeap,
          coordinatorRssBeforeStartMB: baselineRss / MB,
          coordinatorRssAtLoadStartMB: rssAtStart / MB,
          workerPoolProcessRss: poolRss,
          workerPoolHeapUsed: poolHeap,
          workerPoolRssPerWorkerPeakMB: poolRss.peakMB / agents,
          checkpoints,
          coordinatorLiveHeapGrowthAfterRetentionMB: steadyLiveHeapGrowthMB,
          afterRetentionSpanS: steadySpanS,
        },
        targets: [],
        notes: [
          `the job manager keeps at most ${DEFAULT_RETENTION.maxJobs} finished jobs in memory (for ${DEFAULT_RETENTION.maxAgeMs / 1000} s at most; older ones are read back from JetStream), so past the first ${DEFAULT_RETENTION.maxJobs} jobs the live heap should stay level`,
          "checkpoints force a full GC in both processes (live heap = heapUsed right after it); between them V8 collects when it likes, so RSS runs well above live memory",
          "the coordinator process also holds this benchmark's harness (its RSS before the coordinator started is reported)",
          "the pool is one Node process with 8 worker services; a real worker is one process with one model (see worker-streaming for its RSS above the model)",
          ...(loop.timedOut ? [] : ["the job count bound ended the run before the time bound"]),
          ...(samplerError !== undefined ? [`sampling stopped early: ${String(samplerError)}`] : []),
        ],
      },
      [
        `${jobs} jobs × ${rounds} rounds in ${fmt(endAt / 1000)} s, ${samples.length} samples every ${every} ms`,
        `coordinator process RSS: peak ${fmt(coordinatorRss.peakMB)} MB, mean ${fmt(coordinatorRss.meanMB)} MB (before the coordinator started ${fmt(baselineRss / MB)} MB, at load start ${fmt(rssAtStart / MB)} MB); heap used peak ${fmt(coordinatorHeap.peakMB)} MB`,
        `worker pool process RSS (${agents} worker services): peak ${fmt(poolRss.peakMB)} MB, mean ${fmt(poolRss.meanMB)} MB (≈ ${fmt(poolRss.peakMB / agents)} MB per worker service); heap used peak ${fmt(poolHeap.peakMB)} MB`,
        "checkpoint (after full GC) | jobs | coordinator RSS / live heap | pool RSS / live heap",
        ...checkpoints.map(
          (c) =>
            `${fmt(c.atS).padStart(7)} s | ${String(c.jobs).padStart(4)} | ${fmt(c.coordinatorRssMB).padStart(6)} / ${fmt(c.coordinatorLiveHeapMB).padStart(5)} MB | ${fmt(c.poolRssMB).padStart(6)} / ${fmt(c.poolLiveHeapMB).padStart(5)} MB`,
        ),
        `coordinator live heap change between checkpoints past the retention bound: ${fmt(steadyLiveHeapGrowthMB)} MB over ${fmt(steadySpanS)} s`,
      ],
    );
  } finally {
    sampling = false;
    await sampler;
    await cluster.stop();
  }
}
