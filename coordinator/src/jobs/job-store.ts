/**
 * Durable jobs on JetStream: every job event is published to the job-event stream (acknowledged before we
 * go on, so an accepted job survives a coordinator crash), and each job's latest record is kept in a
 * key-value bucket for listing. No KV TTLs or other features Debian's nats-server 2.9 lacks.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import {
  type Job,
  type JobEvent,
  JobEventBatchSchema,
  JobEventSchema,
  JobSchema,
  type Transcript,
  TranscriptSchema,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, ErrorCode, toConclaveError } from "../../../proto/src/errors.js";
import type { NatsConnection } from "../../../proto/src/nats-io.js";
import { JETSTREAM, subjects } from "../../../proto/src/subjects.js";
import { EventBatcher, encodeEventBatch } from "./event-batcher.js";

export interface JobStoreOptions {
  /** How long finished jobs and transcripts are kept. @default 30 days */
  maxAgeMs?: number;
  /** Replicas on a clustered JetStream. @default 1 */
  replicas?: number;
  /** File storage survives a broker restart; memory is for tests that want speed. @default "file" */
  storage?: "file" | "memory";
}

export interface JobStore {
  /**
   * Stores a job event durably: resolves once JetStream acknowledged it. Events appended close together
   * are written together (one message per batch, see event-batcher.ts), in order.
   */
  appendEvent(event: JobEvent): Promise<void>;
  /** Stores the job's latest record. */
  putJob(job: Job): Promise<void>;
  getJob(jobId: string): Promise<Job | undefined>;
  /** Every stored job record (newest first). */
  listJobs(): Promise<Job[]>;
  /** Every stored event of a job, in order, from `fromSequence` on. */
  readEvents(jobId: string, fromSequence?: bigint): Promise<JobEvent[]>;
  transcript(jobId: string): Promise<Transcript | undefined>;
}

const MS_TO_NS = 1_000_000;

export async function openJobStore(nc: NatsConnection, options: JobStoreOptions = {}): Promise<JobStore> {
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let kv: KV;
  const maxAgeNs = (options.maxAgeMs ?? 30 * 24 * 3_600_000) * MS_TO_NS;
  const storage = options.storage === "memory" ? StorageType.Memory : StorageType.File;
  try {
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
    const config = {
      name: JETSTREAM.jobEventsStream,
      subjects: [subjects.jobEventsAll()],
      retention: RetentionPolicy.Limits,
      storage,
      max_age: maxAgeNs,
      num_replicas: options.replicas ?? 1,
    };
    try {
      await jsm.streams.info(JETSTREAM.jobEventsStream);
    } catch {
      await jsm.streams.add(config);
    }
    kv = await new Kvm(js).create(JETSTREAM.jobsBucket, {
      history: 1,
      storage,
      replicas: options.replicas ?? 1,
      ttl: options.maxAgeMs ?? 30 * 24 * 3_600_000,
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConclaveError(
      ErrorCode.UNAVAILABLE,
      `JetStream is not available on this NATS server (${why}); start nats-server with -js`,
      { cause: err },
    );
  }

  const readEvents = async (jobId: string, fromSequence = 1n): Promise<JobEvent[]> => {
    const subject = subjects.jobEvents(jobId);
    const consumer = await js.consumers.get(JETSTREAM.jobEventsStream, {
      // One subject as a string: nats-server 2.9 (Debian) has no multi-subject filters.
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.All,
    });
    const info = await consumer.info(true);
    let remaining = info.num_pending;
    const events: JobEvent[] = [];
    let lastSequence = 0n;
    while (remaining > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(remaining, 1000), expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        got += 1;
        // A batch re-sent after a lost ack may overlap what is stored: keep each sequence's first copy.
        for (const event of fromBinary(JobEventBatchSchema, m.data).events) {
          if (event.sequence >= fromSequence && event.sequence > lastSequence) {
            events.push(event);
            lastSequence = event.sequence;
          }
        }
      }
      if (got === 0) break;
      remaining -= got;
    }
    await consumer.delete().catch(() => {});
    return events;
  };

  // Leave room for headers under the server's message size limit.
  const maxBatchBytes = Math.max(64 * 1024, (nc.info?.max_payload ?? 1024 * 1024) - 16 * 1024);
  const batcher = new EventBatcher(async (jobId, frames) => {
    const first = frames[0]?.sequence;
    const last = frames.at(-1)?.sequence;
    try {
      // The message id makes a retried write idempotent within the stream's duplicate window.
      await js.publish(subjects.jobEvents(jobId), encodeEventBatch(frames), {
        msgID: `${jobId}:${first}-${last}`,
      });
    } catch (err) {
      throw toStoreError(err, "store job events");
    }
  }, maxBatchBytes);

  return {
    appendEvent(event) {
      try {
        subjects.jobEvents(event.jobId); // a bad id is refused before anything is queued
      } catch (err) {
        return Promise.reject(err);
      }
      return batcher.append(event.jobId, {
        sequence: event.sequence,
        encode: () => toBinary(JobEventSchema, event),
      });
    },
    async putJob(job) {
      try {
        await kv.put(job.jobId, toBinary(JobSchema, job));
      } catch (err) {
        throw toStoreError(err, "store a job");
      }
    },
    async getJob(jobId) {
      const entry = await kv.get(jobId);
      if (entry?.operation !== "PUT" || entry.value.length === 0) return undefined;
      return fromBinary(JobSchema, entry.value);
    },
    async listJobs() {
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      const jobs: Job[] = [];
      for (const k of keys) {
        const entry = await kv.get(k);
        if (entry && entry.operation === "PUT" && entry.value.length > 0)
          jobs.push(fromBinary(JobSchema, entry.value));
      }
      return jobs.sort(
        (a, b) => Number(b.createdAtUnixMs - a.createdAtUnixMs) || b.jobId.localeCompare(a.jobId),
      );
    },
    readEvents,
    async transcript(jobId) {
      const entry = await kv.get(jobId);
      if (entry?.operation !== "PUT") return undefined;
      const job = fromBinary(JobSchema, entry.value);
      return create(TranscriptSchema, { job, events: await readEvents(jobId) });
    },
  };
}

function toStoreError(err: unknown, what: string): ConclaveError {
  if (err instanceof ConclaveError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new ConclaveError(ErrorCode.UNAVAILABLE, `could not ${what} in JetStream: ${why}`, {
    cause: toConclaveError(err),
    retryable: true,
  });
}
