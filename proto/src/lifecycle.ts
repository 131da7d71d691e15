/**
 * Graceful shutdown. Components register async cleanups; the first SIGINT/SIGTERM runs them in reverse
 * order of registration (last started, first stopped), each bounded by a grace period; a second signal
 * exits at once. Process wiring is injected so tests drive it without touching the real process.
 */
import type { Logger } from "pino";

export type Cleanup = () => Promise<void> | void;

export interface ShutdownProcess {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
  exit(code: number): void;
}

export interface ShutdownOptions {
  log: Logger;
  /** Per-cleanup time limit. @default 10000 */
  graceMs?: number;
  /** @default ["SIGINT", "SIGTERM"] */
  signals?: NodeJS.Signals[];
  /** @default process */
  proc?: ShutdownProcess;
  /** Exit after cleanups (a CLI's main wants this; embedded use does not). @default true */
  exitWhenDone?: boolean;
}

export interface Shutdown {
  /** Registers a cleanup; returns a function that unregisters it. */
  add(name: string, cleanup: Cleanup): () => void;
  /** Runs every cleanup once (idempotent); resolves with the exit code (0 = all clean). */
  run(reason: string): Promise<number>;
  /** Resolves when shutdown has finished. */
  readonly done: Promise<number>;
}

async function withTimeout(p: Promise<void>, ms: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not stop within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { log } = options;
  const graceMs = options.graceMs ?? 10_000;
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  const proc: ShutdownProcess = options.proc ?? process;
  const exitWhenDone = options.exitWhenDone ?? true;
  const cleanups: Array<{ name: string; cleanup: Cleanup }> = [];
  let running: Promise<number> | undefined;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });

  const run = (reason: string): Promise<number> => {
    if (running) return running;
    running = (async () => {
      log.info({ reason }, "shutting down");
      let code = 0;
      for (const { name, cleanup } of [...cleanups].reverse()) {
        try {
          await withTimeout(Promise.resolve().then(cleanup), graceMs, name);
          log.debug({ part: name }, "stopped");
        } catch (err) {
          code = 1;
          log.error({ err, part: name }, "cleanup failed");
        }
      }
      for (const s of signals) proc.off(s, handlers[s]!);
      resolveDone(code);
      if (exitWhenDone) proc.exit(code);
      return code;
    })();
    return running;
  };

  const handlers: Partial<Record<NodeJS.Signals, () => void>> = {};
  for (const signal of signals) {
    handlers[signal] = () => {
      if (running) {
        log.warn({ signal }, "second signal: exiting now");
        proc.exit(130);
        return;
      }
      void run(signal);
    };
    proc.on(signal, handlers[signal]);
  }

  return {
    add(name, cleanup) {
      const entry = { name, cleanup };
      cleanups.push(entry);
      return () => {
        const i = cleanups.indexOf(entry);
        if (i >= 0) cleanups.splice(i, 1);
      };
    },
    run,
    done,
  };
}
