import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BackendError } from "../../../worker/src/backends/errors.js";
import { type SlotLease, SlotQueue } from "../../../worker/src/slot-queue.js";

/** Settles pending promise callbacks (microtasks only; no timers involved). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe("SlotQueue", () => {
  it("hands out free slots at once, lowest index first", async () => {
    const q = new SlotQueue({ slots: 2, queuePerSlot: 1 });
    const a = await q.acquire();
    const b = await q.acquire();
    expect([a.slot, b.slot]).toEqual([0, 1]);
    expect(q.stats()).toEqual({ total: 2, active: 2, queued: 0, queueLimit: 1 });
  });

  it("queues up to slots × queuePerSlot, then answers busy at once", async () => {
    const q = new SlotQueue({ slots: 2, queuePerSlot: 1 });
    await q.acquire();
    await q.acquire();
    const waiting = [q.acquire(), q.acquire()];
    expect(q.stats().queued).toBe(2);
    const err = await q.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe("busy");
    expect(q.stats().queued).toBe(2);
    void waiting;
  });

  it("gives a released slot to the oldest waiter, with its waiting time", async () => {
    let clock = 0;
    const q = new SlotQueue({ slots: 1, queuePerSlot: 2, now: () => clock });
    const first = await q.acquire();
    const order: number[] = [];
    const second = q.acquire().then((l) => {
      order.push(2);
      return l;
    });
    clock = 5;
    const third = q.acquire().then((l) => {
      order.push(3);
      return l;
    });
    clock = 30;
    first.release();
    const l2 = await second;
    expect(l2.slot).toBe(0);
    expect(l2.queuedMs).toBe(30);
    l2.release();
    const l3 = await third;
    expect(l3.queuedMs).toBe(25);
    expect(order).toEqual([2, 3]);
  });

  it("removes a queued request whose signal aborts, with the signal's BackendError reason", async () => {
    const q = new SlotQueue({ slots: 1, queuePerSlot: 3 });
    const held = await q.acquire();
    const cancelled = new AbortController();
    const timedOut = new AbortController();
    const a = q.acquire(cancelled.signal).catch((e: unknown) => e);
    const b = q.acquire(timedOut.signal).catch((e: unknown) => e);
    const c = q.acquire();
    expect(q.stats().queued).toBe(3);
    cancelled.abort(new Error("user pressed stop"));
    timedOut.abort(new BackendError("deadline_exceeded", "deadline passed"));
    expect(((await a) as BackendError).code).toBe("cancelled");
    expect(((await b) as BackendError).code).toBe("deadline_exceeded");
    expect(q.stats().queued).toBe(1);
    held.release();
    expect((await c).slot).toBe(0);
  });

  it("rejects an already aborted signal without queueing", async () => {
    const q = new SlotQueue({ slots: 1 });
    await q.acquire();
    const err = await q.acquire(AbortSignal.abort()).catch((e: unknown) => e);
    expect((err as BackendError).code).toBe("cancelled");
    expect(q.stats().queued).toBe(0);
  });

  it("release is idempotent", async () => {
    const q = new SlotQueue({ slots: 1 });
    const a = await q.acquire();
    a.release();
    a.release();
    expect(q.stats().active).toBe(0);
    await q.acquire();
    expect(q.stats().active).toBe(1);
  });

  it("close rejects waiters and later acquires but leaves held leases alone", async () => {
    const q = new SlotQueue({ slots: 1 });
    const held = await q.acquire();
    const waiter = q.acquire().catch((e: unknown) => e);
    q.close(new BackendError("unavailable", "closing"));
    expect(((await waiter) as BackendError).code).toBe("unavailable");
    expect(((await q.acquire().catch((e: unknown) => e)) as BackendError).code).toBe("unavailable");
    held.release();
    expect(q.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it("notifies listeners on every change", async () => {
    const q = new SlotQueue({ slots: 1 });
    const seen: string[] = [];
    const off = q.onChange((s) => seen.push(`${s.active}/${s.queued}`));
    const a = await q.acquire();
    const b = q.acquire();
    a.release();
    (await b).release();
    off();
    await q.acquire();
    expect(seen).toEqual(["1/0", "1/1", "1/0", "0/0"]);
  });

  it("rejects impossible sizes", () => {
    expect(() => new SlotQueue({ slots: 0 })).toThrow(RangeError);
    expect(() => new SlotQueue({ slots: 1, queuePerSlot: -1 })).toThrow(RangeError);
  });

  it("keeps its invariants under any sequence of acquire / release / abort", async () => {
    type Op = { kind: "acquire" } | { kind: "release"; pick: number } | { kind: "abort"; pick: number };
    const op = fc.oneof(
      { arbitrary: fc.constant<Op>({ kind: "acquire" }), weight: 3 },
      { arbitrary: fc.nat(20).map((pick): Op => ({ kind: "release", pick })), weight: 2 },
      { arbitrary: fc.nat(20).map((pick): Op => ({ kind: "abort", pick })), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        fc.array(op, { minLength: 5, maxLength: 60, size: "medium" }),
        async (slots, queuePerSlot, ops) => {
          const q = new SlotQueue({ slots, queuePerSlot });
          const held: SlotLease[] = [];
          const waiting: { controller: AbortController; settled: boolean; order: number }[] = [];
          const granted: number[] = [];
          const violations: string[] = [];
          let nextOrder = 0;
          for (const o of ops) {
            if (o.kind === "acquire") {
              const controller = new AbortController();
              const entry = { controller, settled: false, order: nextOrder++ };
              const before = q.stats();
              const p = q.acquire(controller.signal);
              waiting.push(entry);
              p.then(
                (lease) => {
                  entry.settled = true;
                  held.push(lease);
                  granted.push(entry.order);
                },
                (err: BackendError) => {
                  entry.settled = true;
                  // busy only when every slot is taken and every place is full
                  if (
                    err.code === "busy" &&
                    (before.active !== slots || before.queued !== slots * queuePerSlot)
                  ) {
                    violations.push(`busy at ${JSON.stringify(before)}`);
                  }
                },
              );
            } else if (o.kind === "release" && held.length > 0) {
              held.splice(o.pick % held.length, 1)[0]?.release();
            } else if (o.kind === "abort") {
              const pending = waiting.filter((w) => !w.settled);
              pending[o.pick % Math.max(1, pending.length)]?.controller.abort();
            }
            await flush();
            const s = q.stats();
            expect(s.active).toBe(held.length);
            expect(s.active).toBeLessThanOrEqual(slots);
            expect(s.queued).toBeLessThanOrEqual(slots * queuePerSlot);
            // work-conserving: nobody waits while a slot is free
            if (s.queued > 0) expect(s.active).toBe(slots);
            // a slot is held by one lease at a time
            expect(new Set(held.map((l) => l.slot)).size).toBe(held.length);
          }
          // FIFO: grants happen in request order
          expect([...granted].sort((a, b) => a - b)).toEqual(granted);
          expect(violations).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
