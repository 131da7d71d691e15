/** Runs the real `conclave` binary (deploy/bin/conclave.mjs) as a child process, as a user would. */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

export const CONCLAVE_BIN = resolve(import.meta.dirname, "../../deploy/bin/conclave.mjs");

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128+n for a signal). */
  exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

/** Every `conclave` process this test process started that has not exited yet. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Kills whatever `conclave` processes are still running (a test that timed out leaves its child behind,
 * and a stray `conclave up` holds ports and a coordinator that later tests would reach). For afterAll.
 */
export async function killStrayConclaves(): Promise<void> {
  const left = [...running];
  await Promise.all(
    left.map(
      (child) =>
        new Promise<void>((resolveExit) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolveExit();
          child.once("exit", () => resolveExit());
          child.kill("SIGKILL");
        }),
    ),
  );
}

export function spawnConclave(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): RunningCli {
  const child = spawn(process.execPath, [CONCLAVE_BIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort when the test process ends without afterAll (killing is synchronous, so it works here).
    process.once("exit", () => {
      for (const c of running) c.kill("SIGKILL");
    });
  }
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number>((resolveExit) => {
    child.once("exit", (code, signal) => resolveExit(code ?? 128 + (signal === "SIGKILL" ? 9 : 15)));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal = "SIGTERM") => {
      child.kill(signal);
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`). */
export async function runConclave(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const run = spawnConclave(args, options.env);
  if (options.input !== undefined) run.child.stdin?.end(options.input);
  else run.child.stdin?.end();
  const timer = setTimeout(() => run.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
