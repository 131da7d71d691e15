/**
 * The only place a NATS subject is spelled. Every subject is versioned `conclave.v1.…`, so a future v2 can
 * run beside v1 on the same broker. Worker ids are single subject tokens (see ids.ts).
 *
 * | subject                                  | direction              | payload                          |
 * |------------------------------------------|------------------------|----------------------------------|
 * | conclave.v1.telemetry.<worker>           | worker → all           | WorkerTelemetry                  |
 * | conclave.v1.discover                     | coordinator → workers  | DiscoverRequest                  |
 * | conclave.v1.worker.<worker>.infer        | request (reply inbox)  | InferenceRequest → InferenceFrame* |
 * | conclave.v1.worker.<worker>.score        | request/reply          | ScoreRequest → ScoreReply        |
 * | conclave.v1.worker.<worker>.cancel       | fire and forget        | CancelRequest                    |
 * | conclave.v1.worker.<worker>.drain        | request/reply          | DrainRequest → DrainReply        |
 * | conclave.v1.jobs.<job>.events            | coordinator → JetStream| JobEvent (durable transcript)    |
 *
 * JetStream names live here too: the job-event stream and the job-record key-value bucket.
 */
import { ConclaveError, ErrorCode } from "./errors.js";
import { workerIdProblem } from "./ids.js";

export const SUBJECT_ROOT = "conclave.v1";

/** Operations a worker serves, each on its own subject. */
export type WorkerOperation = "infer" | "score" | "cancel" | "drain";
export const WORKER_OPERATIONS: readonly WorkerOperation[] = ["infer", "score", "cancel", "drain"];

function assertToken(workerId: string): void {
  const problem = workerIdProblem(workerId);
  if (problem !== undefined) throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, problem);
}

export const subjects = {
  /** Where a worker publishes its telemetry. */
  telemetry(workerId: string): string {
    assertToken(workerId);
    return `${SUBJECT_ROOT}.telemetry.${workerId}`;
  },
  /** Wildcard a coordinator subscribes to for every worker's telemetry. */
  telemetryAll(): string {
    return `${SUBJECT_ROOT}.telemetry.*`;
  },
  /** Asks every worker to publish its telemetry at once. */
  discover(): string {
    return `${SUBJECT_ROOT}.discover`;
  },
  worker(workerId: string, op: WorkerOperation): string {
    assertToken(workerId);
    return `${SUBJECT_ROOT}.worker.${workerId}.${op}`;
  },
  /** A job's durable event stream (its transcript). Job ids are single tokens (ids.ts). */
  jobEvents(jobId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(jobId))
      throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, `job id "${jobId}" is not a valid subject token`);
    return `${SUBJECT_ROOT}.jobs.${jobId}.events`;
  },
  jobEventsAll(): string {
    return `${SUBJECT_ROOT}.jobs.*.events`;
  },
  /** Everything a given worker serves (for its subscription and for its NATS permissions). */
  workerAll(workerId: string): string {
    assertToken(workerId);
    return `${SUBJECT_ROOT}.worker.${workerId}.>`;
  },
} as const;

/** JetStream resources, named once. */
export const JETSTREAM = {
  /** Stream holding every job's events (the transcripts). */
  jobEventsStream: "CONCLAVE_JOB_EVENTS",
  /** Key-value bucket holding the latest record of every job. */
  jobsBucket: "conclave_jobs",
} as const;

export interface ParsedSubject {
  kind: "telemetry" | "discover" | "worker";
  workerId?: string;
  op?: WorkerOperation;
}

/** Reads a subject back into its parts; undefined for subjects that are not ours. */
export function parseSubject(subject: string): ParsedSubject | undefined {
  const parts = subject.split(".");
  if (parts[0] !== "conclave" || parts[1] !== "v1") return undefined;
  const [, , kind, id, op] = parts;
  if (kind === "discover" && parts.length === 3) return { kind: "discover" };
  if (kind === "telemetry" && parts.length === 4 && id && workerIdProblem(id) === undefined)
    return { kind: "telemetry", workerId: id };
  if (
    kind === "worker" &&
    parts.length === 5 &&
    id &&
    workerIdProblem(id) === undefined &&
    (WORKER_OPERATIONS as readonly string[]).includes(op ?? "")
  )
    return { kind: "worker", workerId: id, op: op as WorkerOperation };
  return undefined;
}
