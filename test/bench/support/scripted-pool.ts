/** The benchmark's handle on a scripted worker pool running in a child process (see scripted-pool-main.ts). */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { CallRecord, PoolConfig, PoolReply, PoolRequest } from "./scripted-pool-protocol.js";

const MAIN = fileURLToPath(new URL("./scripted-pool-main.ts", import.meta.url));

export class PoolError extends Error {
  override readonly name = "PoolError";
}

/** Distributes `Omit<…, "id">` over the request union (a plain Omit would merge the variants). */
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

export interface ScriptedPool {
  /** Every generate call since the last fetch, in the order they finished. */
  calls(): Promise<CallRecord[]>;
  /** RSS, heap and CPU time so far of the pool process; `gc` collects garbage first. */
  memory(gc?: boolean): Promise<{ rssBytes: number; heapUsedBytes: number; cpuMicros: number }>;
  stop(): Promise<void>;
  readonly pid: number;
}

export async function startScriptedPool(config: PoolConfig, timeoutMs = 60_000): Promise<ScriptedPool> {
  // The child inherits this process's loader flags (tsx), so it runs the TypeScript entry directly.
  const child: ChildProcess = fork(MAIN, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let next = 1;
  const pending = new Map<number, { resolve: (r: PoolReply) => void; reject: (e: Error) => void }>();
  child.on("message", (m: PoolReply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.type === "error") p.reject(new PoolError(m.message));
    else p.resolve(m);
  });
  child.once("exit", (code) => {
    for (const p of pending.values()) p.reject(new PoolError(`scripted pool exited (code ${code})`));
    pending.clear();
  });

  const ask = (req: WithoutId<PoolRequest>, ms = timeoutMs): Promise<PoolReply> =>
    new Promise<PoolReply>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new PoolError(`scripted pool did not answer "${req.type}" within ${ms} ms`));
      }, ms);
      pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ ...req, id } as PoolRequest);
    });

  try {
    await ask({ type: "start", config });
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    pid: child.pid ?? 0,
    async calls() {
      const r = await ask({ type: "calls" });
      return r.type === "calls" ? [...r.calls] : [];
    },
    async memory(gc = false) {
      const r = await ask({ type: "memory", gc });
      if (r.type !== "memory") throw new PoolError("unexpected reply to memory");
      return { rssBytes: r.rssBytes, heapUsedBytes: r.heapUsedBytes, cpuMicros: r.cpuMicros };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      try {
        await ask({ type: "stop" }, 10_000);
      } catch {
        child.kill("SIGKILL");
      }
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
