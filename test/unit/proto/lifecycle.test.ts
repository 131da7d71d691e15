import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { createShutdown, type ShutdownProcess } from "../../../proto/src/lifecycle.js";
import { silentLogger } from "../../../proto/src/logger.js";

class FakeProcess extends EventEmitter implements ShutdownProcess {
  exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
}

describe("createShutdown", () => {
  it("runs cleanups once, in reverse order, on the first signal", async () => {
    const proc = new FakeProcess();
    const order: string[] = [];
    const shutdown = createShutdown({ log: silentLogger(), proc });
    shutdown.add("nats", () => {
      order.push("nats");
    });
    shutdown.add("worker", async () => {
      order.push("worker");
    });
    proc.emit("SIGTERM");
    expect(await shutdown.done).toBe(0);
    expect(order).toEqual(["worker", "nats"]);
    expect(proc.exits).toEqual([0]);
    await shutdown.run("again");
    expect(order).toEqual(["worker", "nats"]);
  });

  it("reports a failing or hanging cleanup and still runs the others", async () => {
    const proc = new FakeProcess();
    const ran: string[] = [];
    const shutdown = createShutdown({ log: silentLogger(), proc, graceMs: 50 });
    shutdown.add("first", () => {
      ran.push("first");
    });
    shutdown.add("hangs", () => new Promise<void>(() => {}));
    shutdown.add("throws", () => {
      throw new Error("nope");
    });
    expect(await shutdown.run("test")).toBe(1);
    expect(ran).toEqual(["first"]);
    expect(proc.exits).toEqual([1]);
  });

  it("exits at once on a second signal", () => {
    const proc = new FakeProcess();
    const shutdown = createShutdown({ log: silentLogger(), proc, exitWhenDone: false });
    shutdown.add("slow", () => new Promise<void>(() => {}));
    proc.emit("SIGINT");
    proc.emit("SIGINT");
    expect(proc.exits).toEqual([130]);
  });

  it("can unregister a cleanup", async () => {
    const proc = new FakeProcess();
    let ran = false;
    const shutdown = createShutdown({ log: silentLogger(), proc, exitWhenDone: false });
    const remove = shutdown.add("x", () => {
      ran = true;
    });
    remove();
    await shutdown.run("test");
    expect(ran).toBe(false);
    expect(proc.exits).toEqual([]);
  });
});
