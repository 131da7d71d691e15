import { describe, expect, it } from "vitest";
import {
  cpuShares,
  describeMachine,
  parseCpuTimes,
  STEAL_WARNING_SHARE,
} from "../../bench/support/machine.js";
import { jsonLine, summaryLines } from "../../bench/support/report.js";

// Real /proc/stat lines from a 2-core VM, taken before and after an nsed-overhead run.
const BEFORE = "cpu  33449 0 10963 143147 568 0 684 10248 0 0\ncpu0 16000 0 5400 71000 300 0 340 5100 0 0\n";
const AFTER = "cpu  35203 0 11298 144261 579 0 755 12263 0 0\ncpu0 16900 0 5560 71550 305 0 375 6100 0 0\n";

describe("parseCpuTimes", () => {
  it("reads the all-CPU line: busy = user+nice+system+irq+softirq, idle = idle+iowait", () => {
    expect(parseCpuTimes(BEFORE)).toEqual({
      busy: 33449 + 0 + 10963 + 0 + 684,
      idle: 143147 + 568,
      steal: 10248,
    });
  });

  it("gives nothing for text without a usable cpu line", () => {
    expect(parseCpuTimes("")).toBeUndefined();
    expect(parseCpuTimes("cpu0 1 2 3 4 5 6 7 8\n")).toBeUndefined();
    expect(parseCpuTimes("cpu  1 2 3 4\n")).toBeUndefined(); // no steal column
    expect(parseCpuTimes("cpu  1 2 x 4 5 6 7 8\n")).toBeUndefined();
  });
});

describe("cpuShares", () => {
  it("is the stolen and busy fractions of all CPU time between two readings", () => {
    const s = cpuShares(parseCpuTimes(BEFORE)!, parseCpuTimes(AFTER)!)!;
    const busy = 35203 - 33449 + (11298 - 10963) + (755 - 684);
    const idle = 144261 - 143147 + (579 - 568);
    const steal = 12263 - 10248;
    expect(s.steal).toBeCloseTo(steal / (busy + idle + steal), 12);
    expect(s.busy).toBeCloseTo(busy / (busy + idle + steal), 12);
    expect(s.steal).toBeGreaterThan(0.35); // that run had 38% stolen
  });

  it("is undefined when no time passed", () => {
    const t = parseCpuTimes(BEFORE)!;
    expect(cpuShares(t, t)).toBeUndefined();
  });
});

describe("describeMachine", () => {
  it("warns only when the host took a noticeable share", () => {
    expect(describeMachine({ cpus: 2, stealShare: 0.01 }).warning).toBeUndefined();
    const busy = describeMachine({ cpus: 2, stealShare: 0.38 });
    expect(busy.line).toContain("38% of their time");
    expect(busy.warning).toContain("38% steal");
    expect(describeMachine({ cpus: 2, stealShare: STEAL_WARNING_SHARE }).warning).toBeDefined();
  });

  it("says when steal cannot be measured", () => {
    expect(describeMachine({ cpus: 4 })).toEqual({ line: "machine: 4 CPUs (steal not measurable here)" });
  });
});

describe("reports carry the machine", () => {
  const report = {
    name: "x",
    compared: "a vs b",
    values: { v: 1 },
    targets: [],
    notes: ["own note"],
    machine: { cpus: 2, stealShare: 0.2 },
  };

  it("in the JSON line, with the warning after the report's own notes", () => {
    const j = JSON.parse(jsonLine(report));
    expect(j.machine).toEqual({ cpus: 2, stealShare: 0.2 });
    expect(j.notes).toHaveLength(2);
    expect(j.notes[0]).toBe("own note");
    expect(j.notes[1]).toContain("20% steal");
  });

  it("in the summary", () => {
    const lines = summaryLines(report, []);
    expect(lines.some((l) => l.includes("machine: 2 CPUs") && l.includes("20%"))).toBe(true);
    expect(lines.some((l) => l.startsWith("  note:") && l.includes("20% steal"))).toBe(true);
  });

  it("and says nothing of it when it is not known", () => {
    const { machine: _, ...bare } = report;
    expect(JSON.parse(jsonLine(bare)).machine).toBeUndefined();
    expect(summaryLines(bare, []).some((l) => l.includes("machine:"))).toBe(false);
  });
});
