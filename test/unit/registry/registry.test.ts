import { describe, expect, it } from "vitest";
import {
  affectsPlanning,
  applyRegistryInput,
  emptyRegistry,
  freeSlots,
  goneWorkers,
  liveWorkers,
  type RegistryConfig,
  RegistryConfigError,
  type RegistryState,
  type RegistryTransition,
  type ReportedWorkerState,
  resolveRegistryConfig,
  unseatableReason,
  type WorkerObservation,
} from "../../../coordinator/src/registry/index.js";
import { isLoadFlip } from "../../../coordinator/src/server/registry-service.js";
import type { WorkerId } from "../../../proto/src/ids.js";

const config: RegistryConfig = resolveRegistryConfig();

function obs(
  id: string,
  state: ReportedWorkerState,
  extra: Partial<WorkerObservation> = {},
): WorkerObservation {
  return {
    workerId: id as WorkerId,
    host: "box",
    state,
    model: {
      name: "Qwen2.5-7B-Instruct",
      family: "qwen2",
      architecture: "qwen2",
      parameterCount: 7_615_616_512,
      quantization: "Q4_K_M",
    },
    slotsTotal: 4,
    slotsActive: 0,
    slotsQueued: 0,
    generationTokensPerSecond: 40,
    prefillTokensPerSecond: 900,
    latencyP50Ms: 800,
    latencyP95Ms: 1500,
    errorCount: 0,
    ...extra,
  };
}

/** A tiny driver with an injected clock: feeds inputs, collects every transition. */
class Driver {
  state: RegistryState = emptyRegistry();
  now = 1_000_000;
  events: RegistryTransition[] = [];
  constructor(readonly cfg: RegistryConfig = config) {}
  telemetry(o: WorkerObservation) {
    const u = applyRegistryInput(this.state, { kind: "telemetry", observation: o }, this.now, this.cfg);
    this.state = u.state;
    this.events.push(...u.transitions);
    return u;
  }
  tick() {
    const u = applyRegistryInput(this.state, { kind: "tick" }, this.now, this.cfg);
    this.state = u.state;
    this.events.push(...u.transitions);
    return u;
  }
  advance(ms: number) {
    this.now += ms;
  }
  path(id: string) {
    return this.events.filter((e) => e.workerId === id).map((e) => `${e.from}->${e.to}`);
  }
}

describe("registry config", () => {
  it("documents its defaults: 2 s telemetry, suspect after 6 s, dead after 10 s", () => {
    expect(config).toEqual({
      telemetryIntervalMs: 2000,
      suspectAfterMs: 6000,
      deadAfterMs: 10_000,
      tombstoneTtlMs: 600_000,
      maxTombstones: 1024,
    });
  });
  it("derives suspect and dead timings from a longer interval", () => {
    const c = resolveRegistryConfig({ telemetryIntervalMs: 5000 });
    expect(c.suspectAfterMs).toBe(15_000);
    expect(c.deadAfterMs).toBe(20_000);
  });
  it("lists every problem at once", () => {
    try {
      resolveRegistryConfig({ telemetryIntervalMs: -1, deadAfterMs: Number.NaN, maxTombstones: 1.5 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RegistryConfigError);
      expect((err as RegistryConfigError).details).toHaveLength(3);
    }
    expect(() => resolveRegistryConfig({ suspectAfterMs: 9000, deadAfterMs: 8000 })).toThrow(
      /less than deadAfterMs/,
    );
  });
});

describe("registry transitions", () => {
  it("first telemetry joins a starting worker: absent → joined, then joined → ready", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "starting"));
    expect(d.events).toEqual([
      {
        workerId: "w1",
        from: "absent",
        to: "joined",
        reason: "first telemetry: Qwen2.5-7B-Instruct on box",
        atMs: d.now,
      },
    ]);
    d.advance(500);
    d.telemetry(obs("w1", "ready"));
    expect(d.path("w1")).toEqual(["absent->joined", "joined->ready"]);
    expect(d.events.at(-1)?.reason).toBe("worker reports ready");
    expect(d.state.workers.get("w1" as WorkerId)?.joinedAtMs).toBe(1_000_000);
  });

  it("a worker that is already ready on first sight passes through joined in the same input", () => {
    const d = new Driver();
    const u = d.telemetry(obs("w1", "ready"));
    expect(u.transitions.map((t) => `${t.from}->${t.to}`)).toEqual(["absent->joined", "joined->ready"]);
  });

  it("ready ↔ busy ↔ draining follow the reports; repeats emit nothing", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready"));
    d.telemetry(obs("w1", "ready"));
    d.telemetry(obs("w1", "busy"));
    d.telemetry(obs("w1", "busy"));
    d.telemetry(obs("w1", "ready"));
    d.telemetry(obs("w1", "draining"));
    expect(d.path("w1")).toEqual([
      "absent->joined",
      "joined->ready",
      "ready->busy",
      "busy->ready",
      "ready->draining",
    ]);
  });

  it("silence: suspect at 6 s, dead (removed, tombstoned) at 10 s — not earlier", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready"));
    d.advance(5999);
    expect(d.tick().transitions).toEqual([]);
    d.advance(1);
    const s = d.tick().transitions;
    expect(s).toEqual([
      {
        workerId: "w1",
        from: "ready",
        to: "suspect",
        reason: "no telemetry for 6.0 s (suspect after 6.0 s)",
        atMs: d.now,
      },
    ]);
    d.advance(1000);
    expect(d.tick().transitions).toEqual([]); // already suspect: no repeat
    d.advance(2999);
    expect(d.tick().transitions).toEqual([]);
    d.advance(1);
    expect(d.tick().transitions).toEqual([
      {
        workerId: "w1",
        from: "suspect",
        to: "dead",
        reason: "no telemetry for 10.0 s (dead after 10.0 s)",
        atMs: d.now,
      },
    ]);
    expect(d.state.workers.has("w1" as WorkerId)).toBe(false);
    expect(d.state.tombstones.get("w1" as WorkerId)?.state).toBe("dead");
  });

  it("a tick that comes late takes a silent worker straight to dead", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "busy"));
    d.advance(12_000);
    expect(d.tick().transitions.map((t) => `${t.from}->${t.to}`)).toEqual(["busy->dead"]);
  });

  it("telemetry from a suspect worker brings it back to its reported state", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "busy"));
    d.advance(7000);
    d.tick();
    d.advance(1000);
    d.telemetry(obs("w1", "busy"));
    expect(d.path("w1")).toEqual(["absent->joined", "joined->busy", "busy->suspect", "suspect->busy"]);
    expect(d.events.at(-1)?.reason).toBe("telemetry resumed after 8.0 s of silence; worker reports busy");
    // And the silence clock restarted: no suspicion 5 s later.
    d.advance(5000);
    expect(d.tick().transitions).toEqual([]);
  });

  it("late telemetry from a dead worker re-joins it with an event", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready"));
    d.advance(10_000);
    d.tick();
    d.advance(3000);
    d.telemetry(obs("w1", "ready"));
    expect(d.path("w1")).toEqual([
      "absent->joined",
      "joined->ready",
      "ready->dead",
      "dead->joined",
      "joined->ready",
    ]);
    expect(d.events.at(-2)?.reason).toBe("telemetry 3.0 s after it was declared dead; re-joined");
    expect(d.state.tombstones.has("w1" as WorkerId)).toBe(false);
    expect(d.state.workers.get("w1" as WorkerId)?.joinedAtMs).toBe(d.now);
  });

  it("leaving removes the worker as left; a repeated leaving report changes nothing", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready"));
    d.telemetry(obs("w1", "draining"));
    d.telemetry(obs("w1", "leaving"));
    expect(d.path("w1").slice(-2)).toEqual(["ready->draining", "draining->left"]);
    expect(d.events.at(-1)?.reason).toBe("worker announced leaving");
    expect(d.state.workers.size).toBe(0);
    const again = d.telemetry(obs("w1", "leaving"));
    expect(again.transitions).toEqual([]);
    expect(again.state).toBe(d.state);
    // A worker we never saw that says it is leaving is ignored.
    expect(d.telemetry(obs("w9", "leaving")).transitions).toEqual([]);
    // Coming back after leaving is a re-join.
    d.advance(2000);
    d.telemetry(obs("w1", "starting"));
    expect(d.path("w1").at(-1)).toBe("left->joined");
  });

  it("a suspect worker that announces leaving goes to left", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready"));
    d.advance(6500);
    d.tick();
    d.telemetry(obs("w1", "leaving"));
    expect(d.path("w1").slice(-2)).toEqual(["ready->suspect", "suspect->left"]);
  });

  it("rejects invalid reports with every problem and leaves the state alone", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready"));
    const before = d.state;
    const u = d.telemetry(obs("w1", "ready", { slotsTotal: -1, generationTokensPerSecond: Number.NaN }));
    expect(u.state).toBe(before);
    expect(u.transitions).toEqual([]);
    expect(u.rejected?.problems).toHaveLength(2);
    const bad = d.telemetry(obs("bad id!", "ready"));
    expect(bad.rejected?.problems[0]).toMatch(/worker id/);
  });

  it("drops reordered reports by sequence, but accepts a restarted process counting from 0", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready", { sequence: 5, startedAtMs: 100 }));
    const stale = d.telemetry(obs("w1", "busy", { sequence: 4, startedAtMs: 100 }));
    expect(stale.rejected?.problems[0]).toMatch(/not newer/);
    expect(d.state.workers.get("w1" as WorkerId)?.state).toBe("ready");
    d.telemetry(obs("w1", "busy", { sequence: 0, startedAtMs: 200 }));
    expect(d.state.workers.get("w1" as WorkerId)?.state).toBe("busy");
    // A reordered old report cannot resurrect a dead worker either.
    d.advance(11_000);
    d.tick();
    expect(d.telemetry(obs("w1", "ready", { sequence: 0, startedAtMs: 200 })).rejected).toBeDefined();
    expect(d.state.workers.size).toBe(0);
  });

  it("forgets tombstones after their TTL and beyond the cap, oldest first, without events", () => {
    const cfg = resolveRegistryConfig({ tombstoneTtlMs: 60_000, maxTombstones: 2 });
    const d = new Driver(cfg);
    for (const id of ["a", "b", "c"]) {
      d.telemetry(obs(id, "ready"));
      d.telemetry(obs(id, "leaving"));
      d.advance(1000);
    }
    const n = d.events.length;
    d.tick();
    expect(goneWorkers(d.state).map((t) => t.workerId)).toEqual(["c", "b"]);
    d.advance(60_000);
    d.tick();
    expect(d.state.tombstones.size).toBe(0);
    expect(d.events.length).toBe(n);
  });

  it("events of one tick come out in worker-id order", () => {
    const d = new Driver();
    for (const id of ["zeta", "alpha", "mid"]) d.telemetry(obs(id, "ready"));
    d.advance(6000);
    expect(d.tick().transitions.map((t) => t.workerId)).toEqual(["alpha", "mid", "zeta"]);
  });

  it("does not mutate the state it was given", () => {
    const d = new Driver();
    d.telemetry(obs("w1", "ready"));
    const snapshot = d.state;
    const workersBefore = [...snapshot.workers.entries()];
    d.advance(20_000);
    d.tick();
    expect([...snapshot.workers.entries()]).toEqual(workersBefore);
    expect(snapshot.tombstones.size).toBe(0);
  });
});

describe("registry queries", () => {
  it("liveWorkers sorts by id; free slots exclude active and any queue", () => {
    const d = new Driver();
    d.telemetry(obs("b", "ready"));
    d.telemetry(obs("a", "busy", { slotsActive: 3 }));
    expect(liveWorkers(d.state).map((w) => w.workerId)).toEqual(["a", "b"]);
    expect(freeSlots(obs("x", "busy", { slotsActive: 3 }))).toBe(1);
    expect(freeSlots(obs("x", "busy", { slotsActive: 1, slotsQueued: 2 }))).toBe(0);
  });

  it("says why a worker cannot be seated", () => {
    const d = new Driver();
    d.telemetry(obs("s", "starting"));
    d.telemetry(obs("f", "busy", { slotsActive: 4 }));
    d.telemetry(obs("q", "busy", { slotsActive: 2, slotsQueued: 1 }));
    d.telemetry(obs("r", "ready"));
    d.telemetry(obs("dr", "draining"));
    const reason = (id: string) => {
      const rec = d.state.workers.get(id as WorkerId);
      return rec ? unseatableReason(rec, d.now) : "missing";
    };
    expect(reason("s")).toMatch(/still starting/);
    expect(reason("f")).toBe("no free slots: 4 of 4 in use");
    expect(reason("q")).toBe("no free slots: 1 requests already queued");
    expect(reason("r")).toBeUndefined();
    expect(reason("dr")).toMatch(/draining/);
    d.advance(7000);
    d.tick();
    expect(reason("r")).toBe("suspect: no telemetry for 7.0 s");
  });

  it("affectsPlanning: joins, deaths, suspicion and drains do; ready ↔ busy does not", () => {
    const t = (from: RegistryTransition["from"], to: RegistryTransition["to"]): RegistryTransition => ({
      workerId: "w" as WorkerId,
      from,
      to,
      reason: "",
      atMs: 0,
    });
    expect(affectsPlanning(t("joined", "ready"))).toBe(true);
    expect(affectsPlanning(t("ready", "suspect"))).toBe(true);
    expect(affectsPlanning(t("suspect", "busy"))).toBe(true);
    expect(affectsPlanning(t("busy", "dead"))).toBe(true);
    expect(affectsPlanning(t("ready", "draining"))).toBe(true);
    expect(affectsPlanning(t("ready", "busy"))).toBe(false);
    expect(affectsPlanning(t("absent", "joined"))).toBe(false);
    expect(affectsPlanning(t("suspect", "dead"))).toBe(false);
  });
});

describe("isLoadFlip (what the registry logs at debug rather than info)", () => {
  it("is true only between ready and busy", () => {
    expect(isLoadFlip({ from: "ready", to: "busy" })).toBe(true);
    expect(isLoadFlip({ from: "busy", to: "ready" })).toBe(true);
    expect(isLoadFlip({ from: "busy", to: "suspect" })).toBe(false);
    expect(isLoadFlip({ from: "joined", to: "ready" })).toBe(false);
    expect(isLoadFlip({ from: "ready", to: "draining" })).toBe(false);
  });
});
