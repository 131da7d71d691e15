/**
 * Accepts jobs, runs them with a bounded number in flight (FIFO, so concurrent users share the workers'
 * slots in arrival order), fans their events out to watchers, persists everything through the JobStore
 * before it counts, and after a coordinator restart resumes unfinished jobs or fails them explicitly.
 * Finished jobs stay in memory only a while and only a few (retention.ts); after that every read of them
 * is served from the store.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  type Job,
  type JobEvent,
  JobEventSchema,
  JobResultSchema,
  JobSchema,
  type JobSpec,
  JobState,
  StopReason,
  type Transcript,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, ErrorCode, toErrorInfo } from "../../../proto/src/errors.js";
import { newJobId } from "../../../proto/src/ids.js";
import { isFinishedJobState } from "../../../proto/src/names.js";
import { jobAfterEvent } from "./job-record.js";
import type { JobStore } from "./job-store.js";
import { DEFAULT_RETENTION, RetainedJobs, type RetentionPolicy, rememberNewest } from "./retention.js";

/** Runs one job's strategy; emits its events from `firstSequence` on and ends with a `finished` event. */
export type JobRunner = (run: {
  jobId: string;
  spec: JobSpec;
  emit: (event: JobEvent) => void;
  signal: AbortSignal;
  firstSequence: number;
  createdAtUnixMs: number;
}) => Promise<unknown>;

export interface JobManagerOptions {
  store: JobStore;
  runner: JobRunner;
  /** Every problem with a spec (empty = valid). */
  validate: (spec: JobSpec) => string[];
  log: Logger;
  /** Jobs running at once; the rest wait in FIFO order. @default 4 */
  maxRunning?: number;
  /** How often one job may be restarted after coordinator restarts before it is failed. @default 2 */
  maxResumes?: number;
  /** How many finished jobs stay in memory, and for how long (see retention.ts). */
  retention?: RetentionPolicy;
  now?: () => number;
}

interface LiveJob {
  job: Job;
  events: JobEvent[];
  listeners: Set<() => void>;
  controller: AbortController;
  /** Serialises persistence so events reach JetStream in order. */
  persisted: Promise<void>;
  done: boolean;
}

const CLIENT_REQUEST_LABEL = "conclave.client_request_id";
/** Client request ids remembered for idempotent resubmission (the newest; a bound, not a window). */
const MAX_CLIENT_REQUESTS = 10_000;

export class JobManager {
  readonly #o: JobManagerOptions;
  readonly #now: () => number;
  readonly #live = new Map<string, LiveJob>();
  readonly #queue: string[] = [];
  readonly #byClientRequest = new Map<string, string>();
  /** Finished, fully persisted jobs still in #live, and when they leave it. */
  readonly #retained: RetainedJobs;
  #running = 0;
  #closed = false;

  constructor(options: JobManagerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#retained = new RetainedJobs({
      policy: options.retention ?? DEFAULT_RETENTION,
      now: this.#now,
      watched: (jobId) => (this.#live.get(jobId)?.listeners.size ?? 0) > 0,
      forget: (jobId) => this.#live.delete(jobId),
    });
  }

  /** Validates, stores durably, queues. Resolves once the job is accepted (persisted). */
  async submit(spec: JobSpec, clientRequestId = ""): Promise<Job> {
    if (this.#closed)
      throw new ConclaveError(ErrorCode.UNAVAILABLE, "the coordinator is shutting down", { retryable: true });
    if (clientRequestId) {
      const existing = this.#byClientRequest.get(clientRequestId);
      if (existing) {
        const job = await this.get(existing);
        if (job) return job;
      }
    }
    const problems = this.#o.validate(spec);
    if (problems.length > 0) {
      throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, `invalid job: ${problems.join("; ")}`, {
        details: problems,
      });
    }
    const now = this.#now();
    const jobId = newJobId(now);
    const stored = create(JobSchema, {
      jobId,
      spec: clientRequestId
        ? { ...spec, labels: { ...spec.labels, [CLIENT_REQUEST_LABEL]: clientRequestId } }
        : spec,
      state: JobState.QUEUED,
      createdAtUnixMs: BigInt(now),
      updatedAtUnixMs: BigInt(now),
    });
    const live = this.#track(stored);
    await this.#o.store.putJob(stored);
    this.#record(live, { case: "accepted", value: { job: stored } });
    await live.persisted;
    if (clientRequestId) rememberNewest(this.#byClientRequest, clientRequestId, jobId, MAX_CLIENT_REQUESTS);
    this.#enqueue(jobId);
    return stored;
  }

  async get(jobId: string): Promise<Job | undefined> {
    return this.#live.get(jobId)?.job ?? (await this.#o.store.getJob(jobId));
  }

  async list(states: readonly JobState[], limit: number): Promise<Job[]> {
    const stored = await this.#o.store.listJobs();
    const merged = stored.map((j) => this.#live.get(j.jobId)?.job ?? j);
    return merged.filter((j) => states.length === 0 || states.includes(j.state)).slice(0, limit);
  }

  async transcript(jobId: string): Promise<Transcript | undefined> {
    const live = this.#live.get(jobId);
    if (live) await live.persisted;
    return this.#o.store.transcript(jobId);
  }

  async cancel(jobId: string, reason: string): Promise<Job> {
    const live = this.#live.get(jobId);
    if (!live) {
      const job = await this.#o.store.getJob(jobId);
      if (!job) throw new ConclaveError(ErrorCode.NOT_FOUND, `no job ${jobId}`);
      if (isFinishedJobState(job.state)) return job;
      throw new ConclaveError(ErrorCode.FAILED_PRECONDITION, `job ${jobId} is not run by this coordinator`);
    }
    if (live.done) return live.job;
    const queued = this.#queue.indexOf(jobId);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#finishWithoutRun(
        live,
        JobState.CANCELLED,
        StopReason.CANCELLED,
        reason || "cancelled before it started",
      );
      await live.persisted;
      return live.job;
    }
    live.controller.abort(new ConclaveError(ErrorCode.CANCELLED, reason || "job cancelled"));
    await new Promise<void>((resolve) => {
      if (live.done) return resolve();
      const l = () => {
        if (live.done) {
          live.listeners.delete(l);
          resolve();
        }
      };
      live.listeners.add(l);
    });
    await live.persisted;
    return live.job;
  }

  /**
   * The job's events from `fromSequence` on, then live ones until it finishes. A job this process is not
   * running is replayed from the store.
   */
  async *watch(jobId: string, fromSequence: bigint, signal: AbortSignal): AsyncGenerator<JobEvent> {
    const live = this.#live.get(jobId);
    if (!live) {
      const job = await this.#o.store.getJob(jobId);
      if (!job) throw new ConclaveError(ErrorCode.NOT_FOUND, `no job ${jobId}`);
      for (const e of await this.#o.store.readEvents(jobId, fromSequence)) yield e;
      return;
    }
    let next = 0;
    const first = live.events[0]?.sequence ?? 1n;
    if (fromSequence < first) {
      for (const e of await this.#o.store.readEvents(jobId, fromSequence)) {
        if (e.sequence >= first) break;
        yield e;
      }
    }
    while (!signal.aborted) {
      while (next < live.events.length) {
        const e = live.events[next++]!;
        if (e.sequence >= fromSequence) yield e;
      }
      if (live.done) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          live.listeners.delete(wake);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        live.listeners.add(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
  }

  /** After a restart: every job the store says was queued or running is resumed, or failed explicitly. */
  async recover(): Promise<{ resumed: string[]; failed: string[] }> {
    const resumed: string[] = [];
    const failed: string[] = [];
    const maxResumes = this.#o.maxResumes ?? 2;
    for (const job of await this.#o.store.listJobs()) {
      if (isFinishedJobState(job.state) || this.#live.has(job.jobId)) continue;
      const clientRequestId = job.spec?.labels[CLIENT_REQUEST_LABEL];
      if (clientRequestId)
        rememberNewest(this.#byClientRequest, clientRequestId, job.jobId, MAX_CLIENT_REQUESTS);
      const events = await this.#o.store.readEvents(job.jobId);
      const live = this.#track(create(JobSchema, { ...job, resumes: job.resumes + 1 }));
      live.events.push(...events);
      const lastRound = job.currentRound;
      if (job.resumes >= maxResumes) {
        this.#finishWithoutRun(
          live,
          JobState.FAILED,
          StopReason.INTERRUPTED,
          `the coordinator restarted during this job ${job.resumes + 1} times; giving up`,
        );
        failed.push(job.jobId);
      } else {
        this.#record(live, {
          case: "log",
          value: {
            message:
              `coordinator restarted while the job was ${job.state === JobState.RUNNING ? `in round ${lastRound}` : "queued"};` +
              ` running it again from the start (resume ${job.resumes + 1} of ${maxResumes})`,
          },
        });
        live.job = create(JobSchema, { ...live.job, state: JobState.QUEUED, currentRound: 0 });
        this.#enqueue(job.jobId);
        resumed.push(job.jobId);
      }
      await live.persisted;
    }
    if (resumed.length + failed.length > 0)
      this.#o.log.info({ resumed, failed }, "recovered unfinished jobs");
    return { resumed, failed };
  }

  /** Stops accepting, cancels nothing: running jobs stay recorded as running and resume after restart. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    this.#retained.close();
    await Promise.allSettled([...this.#live.values()].map((l) => l.persisted));
  }

  /** Whether the job's events are held in memory (running, or finished and still retained). */
  isInMemory(jobId: string): boolean {
    return this.#live.has(jobId);
  }

  /** Cancels every running job (for a deliberate, full stop). */
  cancelAll(reason: string): void {
    for (const live of this.#live.values())
      if (!live.done) live.controller.abort(new ConclaveError(ErrorCode.CANCELLED, reason));
  }

  #track(job: Job): LiveJob {
    const live: LiveJob = {
      job,
      events: [],
      listeners: new Set(),
      controller: new AbortController(),
      persisted: Promise.resolve(),
      done: false,
    };
    this.#live.set(job.jobId, live);
    return live;
  }

  #nextSequence(live: LiveJob): bigint {
    return (live.events.at(-1)?.sequence ?? 0n) + 1n;
  }

  #record(live: LiveJob, event: MessageInitShape<typeof JobEventSchema>["event"]): void {
    this.#publish(
      live,
      create(JobEventSchema, {
        jobId: live.job.jobId,
        sequence: this.#nextSequence(live),
        atUnixMs: BigInt(this.#now()),
        event,
      }),
    );
  }

  /** Appends an event in memory, wakes watchers, and chains its durable write. */
  #publish(live: LiveJob, event: JobEvent): void {
    live.events.push(event);
    const changed = jobAfterEvent(live.job, event);
    if (changed) live.job = changed;
    if (event.event.case === "finished" && changed) live.done = true;
    const job = live.job;
    const store = this.#o.store;
    // Published at once, acknowledged later: NATS keeps one connection's messages in order, so events are
    // pipelined instead of waiting one round trip each (a round emits dozens). `persisted` still resolves
    // only when every event so far is acknowledged.
    const fail = (err: unknown) =>
      this.#o.log.error(
        { err, jobId: job.jobId, sequence: Number(event.sequence) },
        "could not persist a job event",
      );
    const appended = store.appendEvent(event).catch(fail);
    const stored = changed ? appended.then(() => store.putJob(job)).catch(fail) : appended;
    live.persisted = Promise.all([live.persisted, stored]).then(() => undefined);
    for (const l of [...live.listeners]) l();
    if (live.done) void live.persisted.then(() => this.#retained.add(job.jobId));
  }

  #finishWithoutRun(live: LiveJob, state: JobState, stopReason: StopReason, detail: string): void {
    const now = this.#now();
    const code = state === JobState.CANCELLED ? ErrorCode.CANCELLED : ErrorCode.UNAVAILABLE;
    this.#record(live, {
      case: "finished",
      value: {
        job: create(JobSchema, {
          ...live.job,
          state,
          updatedAtUnixMs: BigInt(now),
          result: create(JobResultSchema, { stopReason, stopDetail: detail, rounds: live.job.currentRound }),
          error: toErrorInfo(new ConclaveError(code, detail)),
        }),
      },
    });
  }

  #enqueue(jobId: string): void {
    this.#queue.push(jobId);
    this.#pump();
  }

  #pump(): void {
    const max = this.#o.maxRunning ?? 4;
    while (!this.#closed && this.#running < max && this.#queue.length > 0) {
      const jobId = this.#queue.shift()!;
      const live = this.#live.get(jobId);
      if (!live || live.done) continue;
      this.#running += 1;
      void this.#run(live).finally(() => {
        this.#running -= 1;
        this.#pump();
      });
    }
  }

  async #run(live: LiveJob): Promise<void> {
    const spec = live.job.spec;
    live.job = create(JobSchema, {
      ...live.job,
      state: JobState.RUNNING,
      updatedAtUnixMs: BigInt(this.#now()),
    });
    await this.#o.store
      .putJob(live.job)
      .catch((err: unknown) => this.#o.log.error({ err }, "could not store job state"));
    try {
      await this.#o.runner({
        jobId: live.job.jobId,
        spec: spec ?? create(JobSchema).spec!,
        emit: (event) => this.#publish(live, event),
        signal: live.controller.signal,
        firstSequence: Number(this.#nextSequence(live)),
        createdAtUnixMs: Number(live.job.createdAtUnixMs),
      });
    } catch (err) {
      this.#o.log.error({ err, jobId: live.job.jobId }, "job runner failed");
    }
    if (!live.done) {
      // The runner must end with `finished`; if it did not (a bug), say so rather than leave the job hanging.
      this.#finishWithoutRun(
        live,
        JobState.FAILED,
        StopReason.ERROR,
        "the job ended without a result (internal error)",
      );
    }
    await live.persisted;
  }
}
