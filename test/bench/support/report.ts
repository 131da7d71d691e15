/**
 * How every benchmark reports: a readable summary for a person, then exactly one JSON line for programs
 * (name, what was compared, the measured values, the targets with PASS/MISS). Plus the small statistics
 * the benchmarks share. Benchmarks measure and report; they never assert. Every report also says how much
 * of the machine the run had (see machine.ts).
 */
import { describeMachine, type MachineReport, machineSinceStart } from "./machine.js";

/** A number a benchmark aims for. The bench never fails on a miss: it says MISS and the numbers. */
export interface Target {
  /** Which measured value the target is about (a key of `values`, dotted for nested values). */
  readonly metric: string;
  readonly op: "<=" | ">=";
  readonly value: number;
  readonly unit: string;
  /** Where the number comes from (BRIEF §8, the task, or this bench's own choice). */
  readonly source: string;
}

export interface TargetOutcome extends Target {
  readonly measured: number;
  readonly pass: boolean;
}

export interface BenchReport {
  /** e.g. "worker-streaming". */
  readonly name: string;
  /** One sentence: what was measured against what. */
  readonly compared: string;
  /** The measured numbers (JSON-serialisable). */
  readonly values: Record<string, unknown>;
  readonly targets: readonly TargetOutcome[];
  /** Caveats a reader must know to trust the numbers. */
  readonly notes?: readonly string[];
  /** The machine during the run; printReport fills it in. */
  readonly machine?: MachineReport;
}

/** Decides PASS/MISS for a target. Pure. A NaN measurement is a MISS (nothing was measured). */
export function judge(target: Target, measured: number): TargetOutcome {
  const pass =
    Number.isFinite(measured) && (target.op === "<=" ? measured <= target.value : measured >= target.value);
  return { ...target, measured, pass };
}

/** PASS when every target passed, MISS when one missed, INFO when there was nothing to judge. Pure. */
export function overall(targets: readonly TargetOutcome[]): "PASS" | "MISS" | "INFO" {
  if (targets.length === 0) return "INFO";
  return targets.every((t) => t.pass) ? "PASS" : "MISS";
}

/** Rounds every number in a JSON-like value to `digits` decimals (4: a miss by a hair stays visible), so the JSON line stays readable. Pure. */
export function roundDeep(value: unknown, digits = 4): unknown {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return value;
    const f = 10 ** digits;
    return Math.round(value * f) / f;
  }
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map((v) => roundDeep(v, digits));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v, digits)]));
  }
  return value;
}

/** The one JSON line of a report. Pure. */
export function jsonLine(report: BenchReport): string {
  return JSON.stringify(
    roundDeep({
      name: report.name,
      compared: report.compared,
      result: overall(report.targets),
      values: report.values,
      targets: report.targets,
      notes: allNotes(report),
      ...(report.machine ? { machine: report.machine } : {}),
    }),
  );
}

/** The human summary: header, the bench's own lines, every target with PASS/MISS, notes. Pure. */
export function summaryLines(report: BenchReport, body: readonly string[]): string[] {
  const out = [`── ${report.name} ──`, `compared: ${report.compared}`, ...body.map((l) => `  ${l}`)];
  for (const t of report.targets) {
    out.push(
      `  target ${t.metric} ${t.op} ${precise(t.value)} ${t.unit} (${t.source}): measured ${precise(t.measured)} ${t.unit} → ${t.pass ? "PASS" : "MISS"}`,
    );
  }
  if (report.targets.length === 0) out.push("  target: none (reported only)");
  if (report.machine) out.push(`  ${describeMachine(report.machine).line}`);
  for (const n of allNotes(report)) out.push(`  note: ${n}`);
  out.push(`  result: ${overall(report.targets)}`);
  return out;
}

/** The report's notes, then the machine's warning when the host took a noticeable share. Pure. */
function allNotes(report: BenchReport): string[] {
  const warning = report.machine ? describeMachine(report.machine).warning : undefined;
  return [...(report.notes ?? []), ...(warning ? [warning] : [])];
}

/** Prints the summary, then the JSON line last (on its own line, no prefix). */
export function printReport(report: BenchReport, body: readonly string[]): void {
  const r: BenchReport = { ...report, machine: report.machine ?? machineSinceStart() };
  process.stdout.write(`${summaryLines(r, body).join("\n")}\n${jsonLine(r)}\n`);
}

/** A number for people: 3 significant digits, no exponent for ordinary magnitudes. Pure. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

/** A number next to its target: enough digits that a MISS by a hair does not print as the target. Pure. */
export function precise(n: number): string {
  return Number.isFinite(n) ? String(Number(n.toPrecision(4))) : String(n);
}

export const MB = 1024 * 1024;

/** Nearest-rank percentile (p in [0, 100]); NaN for no data. Pure. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

/** Bounds of a measurement loop: it stops at whichever comes first. */
export interface LoopBounds {
  readonly maxIterations: number;
  readonly maxMs: number;
  /** Iterations run even past `maxMs` (so there is always something to report). @default 1 */
  readonly minIterations?: number;
}

/**
 * Runs `body` until a bound is reached; returns how many iterations ran and whether time cut it short.
 * A single iteration may overrun `maxMs` (a synchronous solve cannot be interrupted).
 */
export async function boundedLoop(
  bounds: LoopBounds,
  body: (i: number) => Promise<void> | void,
): Promise<{ iterations: number; timedOut: boolean }> {
  const start = performance.now();
  const minIterations = bounds.minIterations ?? 1;
  let i = 0;
  while (i < bounds.maxIterations) {
    if (i >= minIterations && performance.now() - start >= bounds.maxMs)
      return { iterations: i, timedOut: true };
    await body(i);
    i++;
  }
  return { iterations: i, timedOut: false };
}
