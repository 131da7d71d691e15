/**
 * Branded ids. A WorkerId is not a JobId even though both are strings; the compiler keeps them apart.
 * Job and request ids are time-sortable (a millisecond timestamp in base 36, then randomness) so that
 * listings sort by age without another field.
 */
import { randomBytes } from "node:crypto";

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type WorkerId = Brand<string, "WorkerId">;
export type JobId = Brand<string, "JobId">;
export type RequestId = Brand<string, "RequestId">;
export type SeatId = Brand<string, "SeatId">;

/** Worker ids appear in NATS subjects, so they are restricted to one subject token's safe characters. */
const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const JOB_ID = /^job_[0-9a-z]{8,40}$/;

function sortableRandom(nowMs: number, randomChars: number): string {
  const time = Math.max(0, Math.floor(nowMs)).toString(36).padStart(9, "0");
  const rand = randomBytes(randomChars)
    .toString("base64url")
    .replace(/[^0-9a-z]/gi, "")
    .toLowerCase()
    .slice(0, randomChars);
  return `${time}${rand.padEnd(randomChars, "0")}`;
}

export function isValidWorkerId(value: string): value is WorkerId {
  return WORKER_ID.test(value);
}

export function isValidJobId(value: string): value is JobId {
  return JOB_ID.test(value);
}

/** Why a string is not a valid worker id, or undefined when it is. */
export function workerIdProblem(value: string): string | undefined {
  if (value.length === 0) return "worker id is empty";
  if (value.length > 63) return `worker id is ${value.length} characters long; the limit is 63`;
  if (!WORKER_ID.test(value))
    return `worker id "${value}" may only contain letters, digits, '-' and '_' and must start with a letter or digit`;
  return undefined;
}

/** Turns a host name (or any label) into a valid worker id token. */
export function toWorkerIdToken(label: string): string {
  const cleaned = label
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^[-_]+/, "")
    .slice(0, 40);
  return cleaned.length > 0 ? cleaned : "worker";
}

export function newWorkerId(host: string, nowMs: number = Date.now()): WorkerId {
  return `${toWorkerIdToken(host)}-${sortableRandom(nowMs, 4).slice(-6)}` as WorkerId;
}

export function newJobId(nowMs: number = Date.now()): JobId {
  return `job_${sortableRandom(nowMs, 8)}` as JobId;
}

export function newRequestId(nowMs: number = Date.now()): RequestId {
  return `req_${sortableRandom(nowMs, 10)}` as RequestId;
}
