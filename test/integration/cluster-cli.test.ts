/**
 * The whole product as a person uses it: the real `conclave` binary for the coordinator, the workers and
 * every CLI command, a real nats-server, real models (stories260K, else a tiny GGUF written here).
 * Covers the registry/broker acceptance (join, death, re-plan) and the CLI/durability acceptance.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../coordinator/src/up/ports.js";
import {
  type CliResult,
  killStrayConclaves,
  type RunningCli,
  runConclave,
  spawnConclave,
} from "../support/cli.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";
import { pollUntil } from "../support/poll.js";
import { findTestModel, writeTinyLlamaGguf } from "../support/tiny-model.js";

let server: NatsServerHandle;
let dir: string;
let model: string;
let address: string;
let coordinator: RunningCli;
const workers = new Map<string, RunningCli>();

const env = () => ({ CONCLAVE_COORDINATOR: address, CONCLAVE_HOME: dir });
const cli = (args: string[], timeoutMs = 60_000): Promise<CliResult> =>
  runConclave(args, { env: env(), timeoutMs });
const json = <T>(r: CliResult): T => {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

interface WorkerJson {
  id: string;
  state: string;
  lastSeen: string;
  model: { name: string };
  throughput: { generationTokensPerSecond: number };
}
interface PlanJson {
  feasible: boolean;
  seats: Array<{ workerId: string; reason: string }>;
  excluded: Array<{ workerId: string; reason: string }>;
}
interface JobJson {
  jobId: string;
  state: string;
  answer: string;
  stopReason: string;
  rounds: number;
}

function startCoordinator(): RunningCli {
  return spawnConclave(
    [
      "coordinator",
      "--listen",
      address,
      "--nats",
      server.url,
      "--telemetry-interval",
      "500ms",
      "--log-level",
      "warn",
    ],
    env(),
  );
}

function startWorker(id: string): RunningCli {
  const w = spawnConclave(
    [
      "worker",
      "--model",
      model,
      "--nats",
      server.url,
      "--id",
      id,
      "--threads",
      "1",
      "--context",
      "512",
    ].concat(["--telemetry-interval", "500ms", "--log-level", "warn"]),
    env(),
  );
  workers.set(id, w);
  return w;
}

async function liveWorkers(): Promise<WorkerJson[]> {
  return json<WorkerJson[]>(await cli(["workers", "--json"]));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-cluster-"));
  model =
    findTestModel("stories260K.gguf") ?? (await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 5 })).path;
  server = await startNatsServer();
  address = `127.0.0.1:${await freePort()}`;
  coordinator = startCoordinator();
  for (const id of ["w1", "w2", "w3"]) startWorker(id);
  // Three worker processes load node-llama-cpp and a model while other test files run beside this one:
  // ~10 s alone, much longer on a busy 2-core VM. Each probe is a CLI process (~1 s of CPU), so it polls
  // every 2 s rather than competing with the workers it waits for. A timeout says what each was doing.
  await pollUntil(
    "three ready workers",
    async () => {
      const seen = await liveWorkers();
      if (seen.filter((w) => w.state === "ready").length === 3) return true;
      const notReady = ["w1", "w2", "w3"].filter((id) => seen.find((w) => w.id === id)?.state !== "ready");
      throw new Error(
        notReady
          .map((id) => {
            const state = seen.find((w) => w.id === id)?.state ?? "not registered";
            const w = workers.get(id);
            const exit = w?.child.exitCode ?? null;
            return `${id}: ${state}${exit !== null ? ` (exited ${exit})` : ""}; stderr: ${w?.stderr().slice(-300) || "-"}`;
          })
          .join(" | "),
      );
    },
    { timeoutMs: 240_000, intervalMs: 2000 },
  );
}, 300_000);

afterAll(async () => {
  for (const w of workers.values()) w.kill("SIGKILL");
  coordinator?.kill("SIGKILL");
  await killStrayConclaves();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("workers and the broker", () => {
  it("lists the workers with live numbers", async () => {
    const list = await liveWorkers();
    expect(list.map((w) => w.id).sort()).toEqual(["w1", "w2", "w3"]);
    for (const w of list) {
      expect(w.state).toBe("ready");
      expect(w.model.name.length).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(w.lastSeen))).toBe(false);
      expect(Date.now() - Date.parse(w.lastSeen)).toBeLessThan(10_000);
    }
    const table = await cli(["workers"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/ID\s+HOST\s+GPU\s+VRAM\s+MODEL/);
    expect(table.stdout).toMatch(/w1/);
  });

  it("shows measured throughput once workers have served requests", async () => {
    const r = await cli([
      "submit",
      "Tell me a story",
      "--strategy",
      "single",
      "--follow",
      "--max-tokens",
      "32",
    ]);
    expect(r.code).toBe(0);
    const served = await pollUntil("a worker with measured tok/s", async () =>
      (await liveWorkers()).find((w) => w.throughput.generationTokensPerSecond > 0),
    );
    expect(served.throughput.generationTokensPerSecond).toBeGreaterThan(0);
  });

  it("plans a seating with a reason for every seat", async () => {
    const plan = json<PlanJson>(await cli(["plan", "--strategy", "nsed", "--agents", "3", "--json"]));
    expect(plan.feasible).toBe(true);
    expect(plan.seats.map((s) => s.workerId).sort()).toEqual(["w1", "w2", "w3"]);
    for (const s of plan.seats) expect(s.reason).toMatch(/chosen/);
    const text = await cli(["plan", "--agents", "3"]);
    expect(text.stdout).toMatch(/SEAT\s+WORKER\s+MODEL/);
  });

  it("marks a SIGKILLed worker dead and stops seating it; a new worker changes the plan", async () => {
    workers.get("w3")?.kill("SIGKILL");
    await pollUntil(
      "w3 dead",
      async () =>
        json<WorkerJson[]>(await cli(["workers", "--json", "--all"])).find((w) => w.id === "w3")?.state ===
        "dead",
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    const after = json<PlanJson>(await cli(["plan", "--agents", "3", "--json"]));
    expect(after.seats.map((s) => s.workerId)).not.toContain("w3");
    expect(after.seats.length).toBeGreaterThanOrEqual(2);

    startWorker("w4");
    const replanned = await pollUntil(
      "a plan that seats w4",
      async () => {
        const p = json<PlanJson>(await cli(["plan", "--agents", "3", "--json"]));
        return p.seats.some((s) => s.workerId === "w4") ? p : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(replanned.seats.map((s) => s.workerId).sort()).toEqual(["w1", "w2", "w4"]);
  }, 150_000); // its waits allow 30 s + 60 s; a busy 2-core VM can need more than the default 60 s
});

describe("jobs from the CLI", () => {
  let jobId = "";

  it("submit --follow shows the deliberation live and ends with the answer", async () => {
    const r = await cli(
      ["submit", "Once upon a time", "--agents", "3", "--rounds", "2", "--follow"],
      120_000,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accepted · nsed/);
    expect(r.stdout).toMatch(/── round 1 ──/);
    expect(r.stdout).toMatch(/★ round \d winner/);
    expect(r.stdout).toMatch(/stopped: (max_rounds|converged)/);
  });

  it("submit --json prints one event per line and ends with the result object", async () => {
    const r = await cli(["submit", "Once upon a time", "--agents", "2", "--rounds", "1", "--json"], 120_000);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]?.type).toBe("accepted");
    expect(lines.some((l) => l.type === "proposal")).toBe(true);
    const result = lines.at(-1) as unknown as JobJson;
    expect(result.state).toBe("succeeded");
    expect(typeof result.answer).toBe("string");
    expect(result.stopReason).toMatch(/max_rounds|converged/);
    expect(result.rounds).toBe(1);
    jobId = result.jobId;
  });

  it("lists jobs and shows one with its transcript", async () => {
    const jobs = json<JobJson[]>(await cli(["jobs", "--json"]));
    expect(jobs.map((j) => j.jobId)).toContain(jobId);
    const r = await cli(["job", jobId, "--transcript"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/state\s+succeeded/);
    expect(r.stdout).toMatch(/\[prompt r1 agent-1/);
  });

  it("cancels a running job", async () => {
    const submitted = await cli([
      "submit",
      "Once upon a time",
      "--agents",
      "2",
      "--rounds",
      "8",
      "--min-rounds",
      "8",
      "--detach",
    ]);
    expect(submitted.code).toBe(0);
    const id = submitted.stdout.trim();
    expect(id).toMatch(/^job_/);
    const r = await cli(["cancel", id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cancelled/);
    const job = json<JobJson>(await cli(["job", id, "--json"]));
    expect(job.state).toBe("cancelled");
  });

  it("drains a worker: it finishes, leaves and exits 0", async () => {
    const w4 = workers.get("w4");
    const r = await cli(["drain", "w4"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/w4 is draining/);
    expect(await w4?.exited).toBe(0);
  });
});

describe("bad input", () => {
  it("explains bad flags and values with non-zero exits", async () => {
    const bogus = await cli(["submit", "hi", "--strategy", "bogus"]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--strategy "bogus" is not one of nsed, single/);
    const empty = await cli(["submit", ""]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/the task is empty/);
    const unknown = await cli(["job", "job_doesnotexist00"]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/no job job_doesnotexist00/);
    const flag = await cli(["workers", "--frobnicate"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--frobnicate'/);
    const badAddr = await runConclave(["workers", "--coordinator", "not an address"], {
      env: { CONCLAVE_HOME: dir },
    });
    expect(badAddr.code).toBe(2);
    expect(badAddr.stderr).toMatch(/--coordinator must be host:port/);
    const down = await runConclave(["workers", "--coordinator", `127.0.0.1:${await freePort()}`], {
      env: { CONCLAVE_HOME: dir },
    });
    expect(down.code).toBe(69);
    expect(down.stderr).toMatch(/cannot reach the coordinator .*Is it running\?/s);
  });
});

describe("coordinator crash", () => {
  it("a job survives a SIGKILLed coordinator: resumed or failed explicitly, and still listed", async () => {
    // Long enough to be caught mid-run: 20 rounds of up to 256-token proposals.
    const submitted = await cli([
      "submit",
      "Once upon a time",
      "--agents",
      "2",
      "--rounds",
      "20",
      "--min-rounds",
      "20",
      "--max-tokens",
      "256",
      "--detach",
    ]);
    const id = submitted.stdout.trim();
    expect(id, submitted.stderr).toMatch(/^job_/);
    await pollUntil(
      "the job running",
      async () => json<JobJson>(await cli(["job", id, "--json"])).state === "running",
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    coordinator.kill("SIGKILL");
    await coordinator.exited;
    coordinator = startCoordinator();
    const finished = await pollUntil(
      "the job finished after the restart",
      async () => {
        const r = await cli(["job", id, "--json"]);
        if (r.code !== 0) return undefined;
        const j = JSON.parse(r.stdout) as JobJson & { error?: { message: string } };
        return ["succeeded", "failed"].includes(j.state) ? j : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    if (finished.state === "failed") expect(finished.stopReason).toBe("interrupted");
    else expect(finished.rounds).toBeGreaterThan(0);
    const transcript = await cli(["job", id, "--transcript"]);
    expect(transcript.stdout).toMatch(/coordinator restarted/);
    const jobs = json<JobJson[]>(await cli(["jobs", "--json"]));
    expect(jobs.map((j) => j.jobId)).toContain(id);
  }, 240_000); // its waits allow 30 s + 120 s (the job runs again after the restart)
});
