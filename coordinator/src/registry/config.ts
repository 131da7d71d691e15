/** Registry timing: options in, resolved config out, once. */
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";

export interface RegistryOptions {
  /** How often workers publish telemetry. @default 2000 */
  telemetryIntervalMs?: number;
  /**
   * Silence after which a worker is suspect (not seated until it reports again).
   * Three missed reports: one lost message or a GC pause must not unseat a worker.
   * @default 3 × telemetryIntervalMs (6000)
   */
  suspectAfterMs?: number;
  /**
   * Silence after which a worker is dead and removed from the live set.
   * @default max(10000, suspectAfterMs + telemetryIntervalMs)
   */
  deadAfterMs?: number;
  /** How long a dead/left worker is remembered. @default 600000 (10 min) */
  tombstoneTtlMs?: number;
  /** At most this many tombstones are kept (oldest forgotten first). @default 1024 */
  maxTombstones?: number;
}

export interface RegistryConfig {
  telemetryIntervalMs: number;
  suspectAfterMs: number;
  deadAfterMs: number;
  tombstoneTtlMs: number;
  maxTombstones: number;
}

export class RegistryConfigError extends ConclaveError {
  override readonly name = "RegistryConfigError";
  constructor(problems: readonly string[]) {
    super(ErrorCode.INVALID_ARGUMENT, `invalid registry options: ${problems.join("; ")}`, {
      details: problems,
    });
  }
}

/** Resolves defaults and checks the timings make sense together; throws with every problem at once. */
export function resolveRegistryConfig(options: RegistryOptions = {}): RegistryConfig {
  const problems: string[] = [];
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0))
      problems.push(`${name} must be a positive number, got ${v}`);
  };
  positive("telemetryIntervalMs", options.telemetryIntervalMs);
  positive("suspectAfterMs", options.suspectAfterMs);
  positive("deadAfterMs", options.deadAfterMs);
  positive("tombstoneTtlMs", options.tombstoneTtlMs);
  if (
    options.maxTombstones !== undefined &&
    !(Number.isInteger(options.maxTombstones) && options.maxTombstones >= 0)
  )
    problems.push(`maxTombstones must be a non-negative integer, got ${options.maxTombstones}`);
  const interval = options.telemetryIntervalMs ?? 2000;
  const suspectAfterMs = options.suspectAfterMs ?? 3 * interval;
  const deadAfterMs = options.deadAfterMs ?? Math.max(10_000, suspectAfterMs + interval);
  if (problems.length === 0 && suspectAfterMs >= deadAfterMs)
    problems.push(`suspectAfterMs (${suspectAfterMs}) must be less than deadAfterMs (${deadAfterMs})`);
  if (problems.length === 0 && suspectAfterMs < interval)
    problems.push(`suspectAfterMs (${suspectAfterMs}) must be at least telemetryIntervalMs (${interval})`);
  if (problems.length > 0) throw new RegistryConfigError(problems);
  return {
    telemetryIntervalMs: interval,
    suspectAfterMs,
    deadAfterMs,
    tombstoneTtlMs: options.tombstoneTtlMs ?? 600_000,
    maxTombstones: options.maxTombstones ?? 1024,
  };
}
