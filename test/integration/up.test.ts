/**
 * `conclave up` as a newcomer runs it: the real binary starts nats-server, a coordinator and a worker on a
 * real model, answers, and stops cleanly. Ports already in use (this machine's own NATS on 4222) are
 * handled by picking free ones.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_COORDINATOR } from "../../coordinator/src/cli/connection.js";
import { killStrayConclaves, runConclave, spawnConclave } from "../support/cli.js";
import { pollUntil } from "../support/poll.js";
import { findTestModel, writeTinyLlamaGguf } from "../support/tiny-model.js";

let dir: string;
let model: string;
const env = () => ({ CONCLAVE_HOME: dir, CONCLAVE_COORDINATOR: undefined });
/** `conclave up` on the test model (one thread, small context, state in this file's directory), then `more`. */
const upArgs = (...more: string[]) => [
  "up",
  "--model",
  model,
  "--threads",
  "1",
  "--context",
  "512",
  "--state-dir",
  dir,
  ...more,
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-up-"));
  model =
    findTestModel("stories260K.gguf") ?? (await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 4 })).path;
});

afterAll(async () => {
  await killStrayConclaves();
  rmSync(dir, { recursive: true, force: true });
});

describe("conclave up", () => {
  it("--ask starts a local cluster, answers and stops everything", async () => {
    const r = await runConclave(upArgs("--ask", "Once upon a time", "--rounds", "1", "--json"), {
      env: env(),
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Conclave is up: coordinator 127\.0\.0\.1:\d+, NATS nats:\/\/127\.0\.0\.1:\d+/);
    const lines = r.stdout.trim().split("\n");
    const result = JSON.parse(lines.at(-1) ?? "{}") as { state: string; answer: string; stopReason: string };
    expect(result.state).toBe("succeeded");
    expect(result.answer.length).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(5);
  }, 180_000); // the CLI's own bound is 120 s; a busy 2-core VM can need more than the default 60 s

  it("Ctrl-C during --ask cancels the job, shows that it stopped, and exits 130", async () => {
    const up = spawnConclave(upArgs("--ask", "Once upon a time", "--rounds", "20"), env());
    try {
      await pollUntil("round 1 under way", () => /── round 1 ──/.test(up.stdout()), {
        timeoutMs: 90_000,
        intervalMs: 100,
      });
    } finally {
      up.kill("SIGINT");
    }
    expect(await up.exited).toBe(130);
    expect(up.stderr()).toMatch(/interrupted: cancelling job_/);
    expect(up.stdout()).toMatch(/job cancelled: interrupted/);
  }, 180_000);

  it("stays up for `submit --follow` from another terminal, then stops cleanly on Ctrl-C", async () => {
    const up = spawnConclave(upArgs(), env());
    try {
      await pollUntil("the cluster up", () => /Conclave is up/.test(up.stderr()), {
        timeoutMs: 90_000,
        intervalMs: 200,
      });
      expect(up.stderr()).toMatch(/conclave submit/);
      // No --coordinator: the CLI finds the running `up` by its state file, whatever port it took.
      const submitted = await runConclave(["submit", "Once upon a time", "--rounds", "1", "--follow"], {
        env: env(),
        timeoutMs: 120_000,
      });
      expect(submitted.code, submitted.stderr).toBe(0);
      expect(submitted.stdout).toMatch(/stopped: /);
      const jobs = await runConclave(["jobs", "--json"], { env: env() });
      const [job] = JSON.parse(jobs.stdout) as Array<{ jobId: string; state: string }>;
      expect(job?.state).toBe("succeeded");
      const transcript = await runConclave(["job", job?.jobId ?? "", "--transcript"], { env: env() });
      expect(transcript.stdout).toMatch(/\[prompt r1 /);
      expect(transcript.stdout).toMatch(/✎ /);
    } finally {
      up.kill("SIGINT");
    }
    expect(await up.exited).toBe(0);
    // The recorded address is gone with it: the record is removed, and the CLI falls back to the default
    // address (where something else may listen on this machine, so only what it tried is checked).
    expect(existsSync(join(dir, "up.json"))).toBe(false);
    const after = await runConclave(["workers"], { env: env() });
    if (after.code !== 0) expect(after.stderr).toContain(`coordinator at ${DEFAULT_COORDINATOR}`);
  }, 240_000);

  it("explains how to use a local file when the default model cannot be downloaded", async () => {
    const r = await runConclave(["up", "--threads", "1", "--state-dir", dir, "--ask", "hi"], {
      env: { ...env(), CONCLAVE_DEFAULT_MODEL: "hf:conclave-test/no-such-model-GGUF:Q4_K_M" },
      timeoutMs: 120_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Pass a local GGUF file: conclave up --model \/path\/to\/model\.gguf/);
  });

  it("rejects bad flags before starting anything", async () => {
    const r = await runConclave(["up", "--model", model, "--ask", "hi", "--agents", "lots"], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--agents must be a whole number/);
    expect(r.stderr).not.toMatch(/nats-server/);
  });
});
