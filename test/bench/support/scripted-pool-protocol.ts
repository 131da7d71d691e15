/**
 * The IPC contract between a benchmark and its scripted worker pool (a child process hosting N real worker
 * services, each around a ScriptedBackend). The pool lives in its own process so that the coordinator's
 * RSS and CPU are not mixed with the workers', as in a real deployment.
 */
import type { AnswerShape, RequestKind } from "./scripted-answers.js";

export interface PoolWorkerSpec {
  /** Worker id (a single NATS subject token). */
  readonly id: string;
  /** Model identity the worker reports (the broker resolves its profile from these). */
  readonly modelName: string;
  readonly family: string;
  readonly parameterCount: number;
  /** Simulated prefill (ms before the first token). */
  readonly prefillDelayMs: number;
  /** Simulated time per token (ms; 0 = as fast as the event loop allows). */
  readonly tokenDelayMs: number;
}

export interface PoolConfig {
  readonly natsUrl: string;
  readonly workers: readonly PoolWorkerSpec[];
  readonly shape: AnswerShape;
  /** @default 1000 */
  readonly telemetryIntervalMs?: number;
  /** Throughput the workers start out reporting (a self-benchmark would seed it on real workers). */
  readonly seedTokensPerSecond: { readonly prefill: number; readonly generation: number };
}

/** One generate call as the backend saw it: its own time, nothing of the transport. */
export interface CallRecord {
  readonly workerId: string;
  readonly kind: RequestKind;
  /** Order of the call on its worker (0, 1, 2, …). */
  readonly index: number;
  /** Wall time inside the backend's generate(), slot wait included (one call per worker at a time: ~0). */
  readonly backendMs: number;
  /** When the call entered and left the backend, in epoch ms on this machine's clock (sub-ms precision). */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly completionTokens: number;
}

export type PoolRequest =
  | { readonly type: "start"; readonly id: number; readonly config: PoolConfig }
  | { readonly type: "calls"; readonly id: number }
  /** `gc`: run a full garbage collection first, so heapUsed is live memory only. */
  | { readonly type: "memory"; readonly id: number; readonly gc?: boolean }
  | { readonly type: "stop"; readonly id: number };

export type PoolReply =
  | { readonly type: "ready"; readonly id: number }
  | { readonly type: "calls"; readonly id: number; readonly calls: readonly CallRecord[] }
  | {
      readonly type: "memory";
      readonly id: number;
      readonly rssBytes: number;
      readonly heapUsedBytes: number;
      /** CPU time of the pool process so far (user + system), microseconds. */
      readonly cpuMicros: number;
    }
  | { readonly type: "stopped"; readonly id: number }
  | { readonly type: "error"; readonly id: number; readonly message: string };
