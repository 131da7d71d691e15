/**
 * A whole NSED cluster for the deliberation benchmarks: a real nats-server, a real coordinator in this
 * process (registry, broker, job manager, JetStream transcript), and a scripted worker pool in a child
 * process. `runJob` submits a job, follows its events, and joins each model call's own time (measured in
 * the pool) to the round and seat the transcript says it served.
 */
import { create } from "@bufbuild/protobuf";
import { type Coordinator, startCoordinator } from "../../../coordinator/src/server/coordinator.js";
import {
  EvaluationMode,
  type JobEvent,
  type JobSpec,
  JobSpecSchema,
  JobState,
  PromptKind,
  type RoundSummary,
  StopReason,
  Strategy,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { silentLogger } from "../../../proto/src/logger.js";
import { type NatsServerHandle, startNatsServer } from "../../support/nats-server.js";
import { pollUntil } from "../../support/poll.js";
import { median } from "./report.js";
import { type ScriptedPool, startScriptedPool } from "./scripted-pool.js";
import type { CallRecord, PoolConfig } from "./scripted-pool-protocol.js";

/** What one seat did in one round, from the transcript and the pool's call records. */
export interface SeatRound {
  seatId: string;
  workerId: string;
  /** Prompt tokens the coordinator counted (PromptRecord.prompt_tokens), per call kind. */
  proposePromptTokens: number;
  evaluatePromptTokens: number;
  /** The backend's own time for this seat's calls of the kind (retries summed); NaN when unmatched. */
  proposeBackendMs: number;
  evaluateBackendMs: number;
  /** First start and last end of this seat's calls of each kind (epoch ms); NaN when unmatched. */
  proposeSpan: Span;
  evaluateSpan: Span;
}

export interface Span {
  start: number;
  end: number;
}

/**
 * Where a round's time beyond its model calls went, from the watcher's clock and the backends' (one
 * machine, so one clock): before the first proposal reached a backend, between the last proposal leaving a
 * backend and the first evaluation reaching one, and after the last evaluation left a backend.
 */
export interface RoundPhases {
  /** roundStarted → first proposal call starts: proposal prompts built, sent, received, queued. */
  leadMs: number;
  /** last proposal call ends → first evaluation call starts: answer shipped, parsed, evaluation prompts out. */
  gapMs: number;
  /** last evaluation call ends → roundCompleted: scores shipped, parsed, tallied, state carried over. */
  tailMs: number;
  /** (last proposal end − first proposal start) − slowest proposal: calls not starting together. */
  proposeStaggerMs: number;
  evaluateStaggerMs: number;
}

export interface RoundRun {
  round: number;
  /** roundStarted → roundCompleted as a watcher of the job saw them. */
  wallMs: number;
  /** The round summary the engine wrote (its own duration, mean prompt tokens per agent, …). */
  summary: RoundSummary;
  seats: SeatRound[];
  /** max over seats of proposeBackendMs / evaluateBackendMs: the model time on the round's critical path. */
  slowestProposeMs: number;
  slowestEvaluateMs: number;
  phases: RoundPhases;
}

export interface JobRun {
  jobId: string;
  state: JobState;
  stopReason: StopReason;
  rounds: RoundRun[];
  faults: string[];
  /** Whether every model call of the job was matched to its transcript prompt (else backend times are NaN). */
  callsMatched: boolean;
  wallMs: number;
}

export interface NsedClusterOptions extends Omit<PoolConfig, "natsUrl"> {}

export interface NsedCluster {
  readonly coordinator: Coordinator;
  readonly pool: ScriptedPool;
  readonly nats: NatsServerHandle;
  runJob(spec: JobSpec, timeoutMs?: number): Promise<JobRun>;
  stop(): Promise<void>;
}

/** An NSED job spec with the benchmark's usual settings (batch evaluation, fixed round count). */
export function nsedSpec(o: { task: string; agents: number; rounds: number; maxTokens?: number }): JobSpec {
  return create(JobSpecSchema, {
    task: o.task,
    strategy: Strategy.NSED,
    domain: "general",
    params: {
      agents: o.agents,
      minRounds: o.rounds,
      maxRounds: o.rounds,
      evaluationMode: EvaluationMode.BATCH,
      ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
    },
  });
}

interface Stamped {
  event: JobEvent;
  at: number;
}

/** Joins the pool's call records to the transcript's prompts, per worker in order. Pure. */
export function roundsFrom(
  events: readonly Stamped[],
  calls: readonly CallRecord[],
): { rounds: RoundRun[]; matched: boolean } {
  const workerOfSeat = new Map<string, string>();
  const started = new Map<number, number>();
  const seatRounds = new Map<string, SeatRound>();
  const promptsByWorker = new Map<string, Array<{ key: string; kind: PromptKind }>>();
  const rounds: RoundRun[] = [];
  const seatRound = (round: number, seatId: string): SeatRound => {
    const key = `${round}/${seatId}`;
    let s = seatRounds.get(key);
    if (!s) {
      s = {
        seatId,
        workerId: workerOfSeat.get(seatId) ?? "",
        proposePromptTokens: 0,
        evaluatePromptTokens: 0,
        proposeBackendMs: 0,
        evaluateBackendMs: 0,
        proposeSpan: { start: Number.POSITIVE_INFINITY, end: Number.NEGATIVE_INFINITY },
        evaluateSpan: { start: Number.POSITIVE_INFINITY, end: Number.NEGATIVE_INFINITY },
      };
      seatRounds.set(key, s);
    }
    return s;
  };
  for (const { event, at } of events) {
    const e = event.event;
    if (e.case === "seated") for (const s of e.value.seats) workerOfSeat.set(s.seatId, s.workerId);
    else if (e.case === "roundStarted") started.set(e.value.round, at);
    else if (e.case === "prompt") {
      const p = e.value;
      const s = seatRound(p.round, p.seatId);
      if (p.kind === PromptKind.PROPOSE) s.proposePromptTokens += p.promptTokens;
      else if (p.kind === PromptKind.EVALUATE) s.evaluatePromptTokens += p.promptTokens;
      const list = promptsByWorker.get(s.workerId) ?? [];
      list.push({ key: `${p.round}/${p.seatId}`, kind: p.kind });
      promptsByWorker.set(s.workerId, list);
    }
  }
  // Each worker serves its calls one at a time, in the order the coordinator sent them.
  let matched = true;
  const callsByWorker = new Map<string, CallRecord[]>();
  for (const c of calls) {
    const list = callsByWorker.get(c.workerId) ?? [];
    list.push(c);
    callsByWorker.set(c.workerId, list);
  }
  const expected = (kind: PromptKind) =>
    kind === PromptKind.PROPOSE ? "propose" : kind === PromptKind.EVALUATE ? "evaluate" : "other";
  for (const [workerId, prompts] of promptsByWorker) {
    const mine = (callsByWorker.get(workerId) ?? []).sort((a, b) => a.index - b.index);
    const aligned =
      mine.length === prompts.length && prompts.every((p, i) => mine[i]?.kind === expected(p.kind));
    if (!aligned) matched = false;
    prompts.forEach((p, i) => {
      const s = seatRounds.get(p.key);
      const c = mine[i];
      if (!s) return;
      const ok = c !== undefined && aligned;
      const ms = ok ? c.backendMs : Number.NaN;
      const span =
        p.kind === PromptKind.PROPOSE
          ? s.proposeSpan
          : p.kind === PromptKind.EVALUATE
            ? s.evaluateSpan
            : undefined;
      if (p.kind === PromptKind.PROPOSE) s.proposeBackendMs += ms;
      else if (p.kind === PromptKind.EVALUATE) s.evaluateBackendMs += ms;
      if (span) {
        span.start = Math.min(span.start, ok ? c.startedAtMs : Number.NaN);
        span.end = Math.max(span.end, ok ? c.endedAtMs : Number.NaN);
      }
    });
  }
  for (const { event, at } of events) {
    const e = event.event;
    if (e.case !== "roundCompleted") continue;
    const round = e.value.round;
    const seats = [...seatRounds.entries()].filter(([k]) => k.startsWith(`${round}/`)).map(([, s]) => s);
    const startedAt = started.get(round) ?? Number.NaN;
    const slowestProposeMs = Math.max(...seats.map((s) => s.proposeBackendMs));
    const slowestEvaluateMs = Math.max(...seats.map((s) => s.evaluateBackendMs));
    const propose = hull(seats.map((s) => s.proposeSpan));
    const evaluate = hull(seats.map((s) => s.evaluateSpan));
    rounds.push({
      round,
      wallMs: at - startedAt,
      summary: e.value,
      seats,
      slowestProposeMs,
      slowestEvaluateMs,
      phases: {
        leadMs: propose.start - startedAt,
        gapMs: evaluate.start - propose.end,
        tailMs: at - evaluate.end,
        proposeStaggerMs: propose.end - propose.start - slowestProposeMs,
        evaluateStaggerMs: evaluate.end - evaluate.start - slowestEvaluateMs,
      },
    });
  }
  return { rounds, matched };
}

/** Median of each phase over rounds, named for a report's JSON line. */
export function phaseMedians(rounds: readonly RoundRun[]): Record<string, number> {
  const m = (k: keyof RoundPhases) => median(rounds.map((r) => r.phases[k]));
  return {
    leadMsP50: m("leadMs"),
    proposeStaggerMsP50: m("proposeStaggerMs"),
    gapMsP50: m("gapMs"),
    evaluateStaggerMsP50: m("evaluateStaggerMs"),
    tailMsP50: m("tailMs"),
  };
}

/** One readable line saying where a round's time beyond its model calls went. */
export function describePhases(p: Record<string, number>): string {
  const f = (x: number | undefined) => (x === undefined ? "?" : x.toFixed(1));
  return (
    `where it goes (p50 per round): ${f(p.leadMsP50)} ms before the first proposal reaches a backend, ` +
    `${f(p.proposeStaggerMsP50)} ms proposal stagger, ${f(p.gapMsP50)} ms between the last proposal and the ` +
    `first evaluation, ${f(p.evaluateStaggerMsP50)} ms evaluation stagger, ${f(p.tailMsP50)} ms after the last evaluation`
  );
}

export const PHASE_NOTE =
  "phases come from the watcher's and the backends' timestamps on one machine clock (the watcher sees roundStarted after the engine's synchronous prompt building, so lead can be negative); stagger = calls of one phase not running side by side (the pool serves all workers on one event loop)";

/** The smallest span covering all of them (NaN when any is NaN). Pure. */
function hull(spans: readonly Span[]): Span {
  return {
    start: Math.min(...spans.map((s) => s.start)),
    end: Math.max(...spans.map((s) => s.end)),
  };
}

/** Epoch ms with sub-ms precision: the clock the pool's call records use too. */
function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export async function startNsedCluster(options: NsedClusterOptions): Promise<NsedCluster> {
  const nats = await startNatsServer();
  let coordinator: Coordinator | undefined;
  let pool: ScriptedPool | undefined;
  try {
    const telemetryIntervalMs = options.telemetryIntervalMs ?? 1000;
    coordinator = await startCoordinator({
      nats: nats.url,
      listen: "127.0.0.1:0",
      log: silentLogger(),
      telemetryIntervalMs,
    });
    pool = await startScriptedPool({ ...options, natsUrl: nats.url, telemetryIntervalMs });
    const c = coordinator;
    const allReady = () => {
      const live = [...c.registry.state.workers.values()];
      return (
        live.length === options.workers.length &&
        live.every((w) => w.state === "ready" && w.observation.slotsActive === 0)
      );
    };
    await pollUntil("every scripted worker ready in the registry", allReady, { timeoutMs: 30_000 });
    const p = pool;
    return {
      coordinator: c,
      pool: p,
      nats,
      async runJob(spec, timeoutMs = 120_000) {
        await pollUntil("every scripted worker idle before the job", allReady, { timeoutMs: 10_000 });
        await p.calls(); // drop records of anything before this job
        const t0 = performance.now();
        const job = await c.jobs.submit(spec);
        const stop = new AbortController();
        const timer = setTimeout(() => stop.abort(), timeoutMs);
        const events: Stamped[] = [];
        let finished: JobEvent | undefined;
        try {
          for await (const event of c.jobs.watch(job.jobId, 1n, stop.signal)) {
            events.push({ event, at: epochNow() });
            if (event.event.case === "finished") {
              finished = event;
              break;
            }
          }
        } finally {
          clearTimeout(timer);
        }
        const wallMs = performance.now() - t0;
        if (!finished) await c.jobs.cancel(job.jobId, "benchmark time limit").catch(() => undefined);
        const calls = await p.calls();
        const { rounds, matched } = roundsFrom(events, calls);
        const end = finished?.event.case === "finished" ? finished.event.value.job : undefined;
        return {
          jobId: job.jobId,
          state: end?.state ?? JobState.UNSPECIFIED,
          stopReason: end?.result?.stopReason ?? StopReason.UNSPECIFIED,
          rounds,
          faults: events.flatMap(({ event }) =>
            event.event.case === "fault" ? [`${event.event.value.seatId}: ${event.event.value.message}`] : [],
          ),
          callsMatched: matched,
          wallMs,
        };
      },
      async stop() {
        await p.stop();
        await c.stop();
        await nats.stop();
      },
    };
  } catch (err) {
    await pool?.stop().catch(() => undefined);
    await coordinator?.stop().catch(() => undefined);
    await nats.stop();
    throw err;
  }
}
