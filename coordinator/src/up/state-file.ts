/**
 * `conclave up` records where its coordinator listens, so `conclave submit` and friends find it without
 * flags even when `up` had to pick other ports. A record whose process is gone is ignored.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface UpState {
  pid: number;
  coordinator: string;
  nats: string;
  startedAt: string;
}

export function upStatePath(env: Record<string, string | undefined> = process.env): string {
  const base =
    env.CONCLAVE_HOME ?? join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "conclave");
  return join(base, "up.json");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readUpState(path = upStatePath()): UpState | undefined {
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as Partial<UpState>;
    if (typeof s.pid !== "number" || typeof s.coordinator !== "string" || !alive(s.pid)) return undefined;
    return s as UpState;
  } catch {
    return undefined;
  }
}

export function writeUpState(state: UpState, path = upStatePath()): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`);
}

export function removeUpState(pid: number, path = upStatePath()): void {
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as Partial<UpState>;
    if (s.pid === pid) rmSync(path, { force: true });
  } catch {
    // nothing recorded
  }
}
