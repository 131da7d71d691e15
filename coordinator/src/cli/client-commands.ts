/**
 * The CLI commands that talk to a running coordinator over gRPC. Each returns the process exit code.
 */
import { readFileSync } from "node:fs";
import { JobState } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { parseDuration } from "../../../proto/src/config.js";
import { ConclaveError, ErrorCode, exitCodeOf } from "../../../proto/src/errors.js";
import { jobStateNames, strategyNames } from "../../../proto/src/names.js";
import type { CoordinatorClient } from "./connection.js";
import {
  eventToJsonLine,
  jobToJson,
  newFollowState,
  renderFollowEvent,
  renderJob,
  renderJobsTable,
} from "./render-job.js";
import { planToJson, renderPlan } from "./render-plan.js";
import { renderWorkersTable, workerToJson } from "./render-workers.js";
import { buildJobSpec, type SubmitFlags } from "./submit-spec.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  now(): number;
  readStdin(): string;
  readFile(path: string): string;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
  now: () => Date.now(),
  readStdin: () => readFileSync(0, "utf8"),
  readFile: (p) => readFileSync(p, "utf8"),
};

const UNARY_TIMEOUT_MS = 15_000;
const deadline = () => Date.now() + UNARY_TIMEOUT_MS;

export async function workersCommand(
  client: CoordinatorClient,
  io: Io,
  flags: { json?: boolean; watch?: boolean; all?: boolean; interval?: string },
  signal: AbortSignal,
): Promise<number> {
  const show = async () => {
    const res = await client.listWorkers({ includeGone: flags.all ?? false }, { deadline: deadline() });
    if (flags.json)
      io.out(
        JSON.stringify(
          res.workers.map((w) => workerToJson(w, io.now())),
          null,
          flags.watch ? 0 : 2,
        ),
      );
    else io.out(renderWorkersTable(res.workers, io.now()));
  };
  if (!flags.watch) {
    await show();
    return 0;
  }
  const every = parseDuration(flags.interval ?? "2s") ?? 2000;
  while (!signal.aborted) {
    if (!flags.json) io.out("\x1b[2J\x1b[H");
    await show();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, every);
      signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  return 0;
}

export async function planCommand(
  client: CoordinatorClient,
  io: Io,
  flags: {
    strategy?: string;
    agents?: string;
    domain?: string;
    roundBudget?: string;
    computeBudget?: string;
    energyBudget?: string;
    familyCap?: string;
    json?: boolean;
  },
): Promise<number> {
  const problems: string[] = [];
  const strategy = flags.strategy ?? "nsed";
  if (strategyNames.parse(strategy) === undefined)
    problems.push(`--strategy "${strategy}" is not one of ${strategyNames.names.join(", ")}`);
  const agents = flags.agents === undefined ? 0 : Number(flags.agents);
  if (!Number.isInteger(agents) || agents < 0 || agents > 64)
    problems.push(`--agents must be 1 to 64, got "${flags.agents}"`);
  const number = (name: string, raw: string | undefined) => {
    if (raw === undefined) return 0;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) problems.push(`--${name} must be a number ≥ 0, got "${raw}"`);
    return Number.isFinite(n) ? n : 0;
  };
  const roundLatencySeconds = number("round-budget", flags.roundBudget);
  const computeSeconds = number("compute-budget", flags.computeBudget);
  const energyJoules = number("energy-budget", flags.energyBudget);
  const familyCap = number("family-cap", flags.familyCap);
  if (problems.length > 0)
    throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, problems.join("\n"), { details: problems });
  const res = await client.previewPlan(
    {
      request: {
        strategy,
        agents,
        domain: flags.domain ?? "general",
        maxSeatsPerFamily: Math.round(familyCap),
        budgets: { roundLatencySeconds, computeSeconds, energyJoules },
      },
    },
    { deadline: deadline() },
  );
  const plan = res.plan;
  if (!plan) throw new ConclaveError(ErrorCode.INTERNAL, "the coordinator sent no plan");
  io.out(flags.json ? JSON.stringify(planToJson(plan), null, 2) : renderPlan(plan));
  return plan.infeasibleReason ? exitCodeOf(ErrorCode.FAILED_PRECONDITION) : 0;
}

export interface SubmitCommandFlags extends SubmitFlags {
  file?: string;
  follow?: boolean;
  json?: boolean;
  detach?: boolean;
}

export async function submitCommand(
  client: CoordinatorClient,
  io: Io,
  prompt: string | undefined,
  flags: SubmitCommandFlags,
  signal: AbortSignal,
): Promise<number> {
  if (prompt !== undefined && flags.file !== undefined)
    throw new ConclaveError(
      ErrorCode.INVALID_ARGUMENT,
      "give the task either as an argument or with --file, not both",
    );
  let task: string;
  if (flags.file === "-" || prompt === "-") task = io.readStdin();
  else if (flags.file !== undefined) {
    try {
      task = io.readFile(flags.file);
    } catch (err) {
      throw new ConclaveError(
        ErrorCode.INVALID_ARGUMENT,
        `cannot read --file ${flags.file}: ${(err as Error).message}`,
      );
    }
  } else task = prompt ?? "";
  const spec = buildJobSpec(task, flags);
  const follow = (flags.follow || flags.json) && !flags.detach;
  const state = newFollowState();
  let finalState: JobState | undefined;
  let lastJob: ReturnType<typeof jobToJson> | undefined;
  for await (const res of client.submitJob({ spec, detach: !follow }, { signal })) {
    const event = res.event;
    if (!event) continue;
    if (flags.json) io.out(eventToJsonLine(event));
    else if (follow) for (const line of renderFollowEvent(event, state)) io.out(line);
    else if (event.event.case === "accepted") {
      const id = event.event.value.job?.jobId ?? "";
      io.out(id);
      io.err(`submitted. Follow it with: conclave job ${id} --follow`);
    }
    if (event.event.case === "finished" && event.event.value.job) {
      finalState = event.event.value.job.state;
      lastJob = jobToJson(event.event.value.job);
    }
  }
  if (!follow) return 0;
  if (flags.json && lastJob) io.out(JSON.stringify(lastJob));
  if (finalState === JobState.SUCCEEDED) return 0;
  if (finalState === JobState.CANCELLED) return exitCodeOf(ErrorCode.CANCELLED);
  return 1;
}

export async function jobsCommand(
  client: CoordinatorClient,
  io: Io,
  flags: { state?: string[]; limit?: string; json?: boolean },
): Promise<number> {
  const states: JobState[] = [];
  for (const s of flags.state ?? []) {
    const v = jobStateNames.parse(s);
    if (v === undefined)
      throw new ConclaveError(
        ErrorCode.INVALID_ARGUMENT,
        `--state "${s}" is not one of ${jobStateNames.names.join(", ")}`,
      );
    states.push(v);
  }
  const limit = flags.limit === undefined ? 50 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, `--limit must be 1 to 10000, got "${flags.limit}"`);
  const res = await client.listJobs({ states, limit }, { deadline: deadline() });
  io.out(flags.json ? JSON.stringify(res.jobs.map(jobToJson), null, 2) : renderJobsTable(res.jobs, io.now()));
  return 0;
}

export async function jobCommand(
  client: CoordinatorClient,
  io: Io,
  jobId: string,
  flags: { transcript?: boolean; json?: boolean; follow?: boolean },
  signal: AbortSignal,
): Promise<number> {
  if (flags.follow) {
    const state = newFollowState();
    let final: JobState | undefined;
    for await (const res of client.watchJob({ jobId, fromSequence: 1n }, { signal })) {
      if (!res.event) continue;
      if (flags.json) io.out(eventToJsonLine(res.event));
      else for (const line of renderFollowEvent(res.event, state)) io.out(line);
      if (res.event.event.case === "finished") final = res.event.event.value.job?.state;
    }
    return final === JobState.SUCCEEDED
      ? 0
      : final === JobState.CANCELLED
        ? exitCodeOf(ErrorCode.CANCELLED)
        : 1;
  }
  const res = await client.getJob(
    { jobId, includeTranscript: flags.transcript ?? false },
    { deadline: deadline() },
  );
  if (!res.job) throw new ConclaveError(ErrorCode.NOT_FOUND, `no job ${jobId}`);
  if (flags.json) {
    io.out(JSON.stringify(jobToJson(res.job), null, 2));
    if (flags.transcript) for (const e of res.transcript?.events ?? []) io.out(eventToJsonLine(e));
    return 0;
  }
  io.out(renderJob(res.job, io.now()));
  if (flags.transcript) {
    io.out("\ntranscript:");
    const state = newFollowState();
    for (const e of res.transcript?.events ?? []) {
      if (e.event.case === "prompt") {
        const p = e.event.value;
        const text =
          p.input.case === "chat"
            ? p.input.value.messages.map((m) => m.content).join("\n---\n")
            : p.input.case === "rawPrompt"
              ? p.input.value
              : "";
        io.out(`  [prompt r${p.round} ${p.seatId} ${p.kind}] ${text.replace(/\n/g, "\n    ")}`);
        continue;
      }
      for (const line of renderFollowEvent(e, state)) io.out(line);
    }
  }
  return 0;
}

export async function cancelCommand(
  client: CoordinatorClient,
  io: Io,
  jobId: string,
  reason?: string,
): Promise<number> {
  const res = await client.cancelJob(
    { jobId, reason: reason ?? "cancelled from the CLI" },
    { deadline: deadline() },
  );
  io.out(`job ${jobId} is ${jobStateNames.name(res.job?.state ?? 0)}`);
  return 0;
}

export async function drainCommand(
  client: CoordinatorClient,
  io: Io,
  workerId: string,
  flags: { grace?: string; reason?: string },
): Promise<number> {
  const grace = flags.grace === undefined ? 0 : parseDuration(flags.grace);
  if (grace === undefined)
    throw new ConclaveError(
      ErrorCode.INVALID_ARGUMENT,
      `--grace must be a duration like 30s, got "${flags.grace}"`,
    );
  const res = await client.drainWorker(
    { workerId, reason: flags.reason ?? "drained from the CLI", graceMs: grace },
    { deadline: deadline() },
  );
  io.out(
    res.accepted
      ? `worker ${workerId} is draining (${res.inFlight} request(s) in flight); it leaves when they finish`
      : `worker ${workerId} did not accept the drain`,
  );
  return res.accepted ? 0 : 1;
}
