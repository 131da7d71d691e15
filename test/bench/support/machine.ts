/**
 * How much of the machine a benchmark actually had. On a virtual machine the hypervisor may run other
 * guests on the same physical cores; the time it takes away shows up as "steal" in Linux's /proc/stat. A
 * benchmark timed while the host took a third of the CPU measures the neighbours as much as the code, so
 * every report says how much was stolen while it ran (Linux only; elsewhere nothing is reported).
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** The all-CPU line of /proc/stat, in clock ticks since boot. */
export interface CpuTimes {
  /** user + nice + system + irq + softirq: the guest's own work. */
  readonly busy: number;
  /** idle + iowait. */
  readonly idle: number;
  /** Time the hypervisor ran something else while this guest wanted the CPU. */
  readonly steal: number;
}

/** Parses the `cpu` line of /proc/stat; undefined when there is none (not Linux, or no steal column). Pure. */
export function parseCpuTimes(procStat: string): CpuTimes | undefined {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

export interface CpuShares {
  /** Fraction of all CPU time between the two readings that the hypervisor stole (0–1). */
  readonly steal: number;
  /** Fraction the guest spent busy (every process, not only the benchmark's). */
  readonly busy: number;
}

/** Shares of CPU time between two readings; undefined when no time passed. Pure. */
export function cpuShares(before: CpuTimes, after: CpuTimes): CpuShares | undefined {
  const busy = after.busy - before.busy;
  const idle = after.idle - before.idle;
  const steal = after.steal - before.steal;
  const total = busy + idle + steal;
  if (!(total > 0)) return undefined;
  return { steal: steal / total, busy: busy / total };
}

/** Above this much steal a report warns that its timings are inflated by other guests. */
export const STEAL_WARNING_SHARE = 0.05;

/** What a report says about the machine it ran on. */
export interface MachineReport {
  readonly cpus: number;
  /** Undefined where /proc/stat is not available. */
  readonly stealShare?: number;
}

/** The machine line of a report, and a warning note when the host took a noticeable share. Pure. */
export function describeMachine(m: MachineReport): { line: string; warning?: string } {
  if (m.stealShare === undefined) return { line: `machine: ${m.cpus} CPUs (steal not measurable here)` };
  const pct = (m.stealShare * 100).toFixed(m.stealShare < 0.1 ? 1 : 0);
  const line = `machine: ${m.cpus} CPUs; the hypervisor took ${pct}% of their time during the run (steal)`;
  if (m.stealShare < STEAL_WARNING_SHARE) return { line };
  return {
    line,
    warning: `the host was busy with other guests (${pct}% steal): wall-clock figures are inflated by that much CPU or more, and CPU-time figures are the steadier ones`,
  };
}

function readCpuTimes(): CpuTimes | undefined {
  try {
    return parseCpuTimes(readFileSync("/proc/stat", "utf8"));
  } catch {
    return undefined;
  }
}

/** Taken when the benchmark process loads this module: each benchmark runs in its own process. */
const atStart = readCpuTimes();

/** The machine since this process started measuring. */
export function machineSinceStart(): MachineReport {
  const now = readCpuTimes();
  const shares = atStart && now ? cpuShares(atStart, now) : undefined;
  return {
    cpus: availableParallelism(),
    ...(shares ? { stealShare: shares.steal } : {}),
  };
}
