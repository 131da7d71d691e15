/**
 * Sanity checks on a telemetry observation before the registry trusts it. The proto layer has already
 * checked the wire format; these are the numbers the broker decides with.
 */
import { workerIdProblem } from "../../../proto/src/ids.js";
import { REPORTED_STATES, type WorkerObservation } from "./types.js";

const MAX_LABEL = 256;

function nonNegative(name: string, value: number | undefined, out: string[], integer = false): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0) out.push(`${name} must be a non-negative number, got ${value}`);
  else if (integer && !Number.isInteger(value)) out.push(`${name} must be an integer, got ${value}`);
}

/** Every problem with an observation (empty = valid). */
export function observationProblems(o: WorkerObservation): string[] {
  const out: string[] = [];
  const idProblem = workerIdProblem(o.workerId);
  if (idProblem) out.push(idProblem);
  if (!(REPORTED_STATES as readonly string[]).includes(o.state)) out.push(`state "${o.state}" is not known`);
  if (o.host.length > MAX_LABEL) out.push(`host is longer than ${MAX_LABEL} characters`);
  if (o.model.name.trim().length === 0) out.push("model.name is empty");
  for (const [k, v] of [
    ["model.name", o.model.name],
    ["model.family", o.model.family],
    ["model.architecture", o.model.architecture],
    ["model.quantization", o.model.quantization],
  ] as const) {
    if (v.length > MAX_LABEL) out.push(`${k} is longer than ${MAX_LABEL} characters`);
  }
  nonNegative("model.parameterCount", o.model.parameterCount, out);
  nonNegative("slotsTotal", o.slotsTotal, out, true);
  nonNegative("slotsActive", o.slotsActive, out, true);
  nonNegative("slotsQueued", o.slotsQueued, out, true);
  nonNegative("generationTokensPerSecond", o.generationTokensPerSecond, out);
  nonNegative("prefillTokensPerSecond", o.prefillTokensPerSecond, out);
  nonNegative("latencyP50Ms", o.latencyP50Ms, out);
  nonNegative("latencyP95Ms", o.latencyP95Ms, out);
  nonNegative("powerWatts", o.powerWatts, out);
  nonNegative("vramTotalBytes", o.vramTotalBytes, out);
  nonNegative("vramUsedBytes", o.vramUsedBytes, out);
  nonNegative("errorCount", o.errorCount, out, true);
  nonNegative("requestCount", o.requestCount, out, true);
  nonNegative("sequence", o.sequence, out, true);
  return out;
}

/** Free parallel sequences a worker can offer a new plan: none while it has a queue. */
export function freeSlots(o: WorkerObservation): number {
  if (o.slotsQueued > 0) return 0;
  return Math.max(0, o.slotsTotal - o.slotsActive);
}
