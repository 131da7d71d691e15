/**
 * Micro-benchmark of the broker's exact solve (BRIEF §8: "exact solve time for 64 workers × 8 roles; re-plan
 * latency after a join"). Not a test: it prints a human summary and one JSON line.
 *
 *   npx tsx test/bench/broker-bench.ts [instances]
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { plan } from "../../coordinator/src/broker/plan.js";
import type { BrokerWorker, PlanRequest } from "../../coordinator/src/broker/types.js";
import { seededRandom } from "../../coordinator/src/deliberation/random.js";
import type { Ability } from "../../coordinator/src/profiles/types.js";
import type { WorkerId } from "../../proto/src/ids.js";
import { EIGHT_ROLES_BUDGETED, EIGHT_ROLES_STRESS } from "./support/broker-scenarios.js";

const CATALOG = [
  { family: "qwen2", tags: ["general", "math", "code", "review", "chat"], q: 0.62 },
  { family: "qwen2", tags: ["general", "code", "review", "chat"], q: 0.58 },
  { family: "qwen3", tags: ["general", "math", "code", "review", "chat", "reasoning"], q: 0.68 },
  { family: "llama", tags: ["general", "code", "review", "chat"], q: 0.55 },
  { family: "llama", tags: ["general", "code", "review", "chat"], q: 0.48 },
  { family: "gemma3", tags: ["general", "math", "review", "chat"], q: 0.6 },
  { family: "gemma2", tags: ["general", "review", "chat"], q: 0.5 },
  { family: "mistral", tags: ["general", "chat"], q: 0.47 },
  { family: "phi3", tags: ["general", "math", "chat"], q: 0.45 },
  { family: "gpt-oss", tags: ["general", "math", "code", "review", "chat", "reasoning"], q: 0.7 },
  { family: "deepseek2", tags: ["general", "math", "code", "reasoning"], q: 0.63 },
  { family: "arith", tags: ["math"], q: 0.7 },
] as const;

export function randomPool(seed: number, n: number): BrokerWorker[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const m = Math.floor(r() * CATALOG.length);
    const spec = CATALOG[m] ?? CATALOG[0];
    const jitter = () => Math.min(1, Math.max(0, spec.q + (r() - 0.5) * 0.1));
    const abilities: Ability[] =
      spec.family === "arith" ? ["propose", "evaluate"] : ["propose", "evaluate", "synthesize"];
    const w: BrokerWorker = {
      workerId: `w${String(i).padStart(2, "0")}` as WorkerId,
      modelKey: `model-${m}`,
      modelName: `model-${m}`,
      family: spec.family,
      slots: 1 + Math.floor(r() * 8),
      prefillTokensPerSecond: 200 + r() * 3000,
      generationTokensPerSecond: 8 + r() * 120,
      tags: spec.tags,
      abilities,
      quality: { general: jitter(), math: jitter(), code: jitter(), review: jitter() },
      reliability: 0.85 + r() * 0.15,
    };
    if (r() < 0.8) w.powerWatts = 60 + r() * 300;
    return w;
  });
}

interface Scenario {
  name: string;
  request: PlanRequest;
}

export const SCENARIOS: Scenario[] = [
  {
    name: "NSED agent × [2, 8], no budgets",
    request: {
      roles: [{ name: "agent", min: 2, max: 8 }],
      domain: "general",
      tokens: { prompt: 800, completion: 300 },
    },
  },
  {
    name: "MoA proposer × [2, 6] + aggregator, latency 60 s, compute 60 s",
    request: {
      roles: [
        { name: "proposer", min: 2, max: 6 },
        { name: "aggregator", min: 1, max: 1, agent: false, tokens: { prompt: 3000, completion: 400 } },
      ],
      domain: "general",
      tokens: { prompt: 800, completion: 300 },
      latencyBudgetSeconds: 60,
      computeBudgetSeconds: 60,
    },
  },
  {
    name: "8 roles, latency 60 s, compute 120 s, cap 3",
    request: EIGHT_ROLES_BUDGETED,
  },
  {
    name: "8 roles, tight compute 40 s + energy 6 kJ, cap 2 (stress)",
    request: EIGHT_ROLES_STRESS,
  },
];

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export interface BenchResult {
  scenario: string;
  workers: number;
  instances: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  medianNodes: number;
  maxNodes: number;
  infeasible: number;
  inexact: number;
  replanAfterJoinP50Ms: number;
}

/** Times `instances` exact solves per scenario on random 64-worker pools (after a warm-up). */
export function runBrokerBench(instances = 40, workers = 64): BenchResult[] {
  const results: BenchResult[] = [];
  for (const sc of SCENARIOS) {
    for (let i = 0; i < 5; i++) plan(randomPool(1000 + i, workers), sc.request); // warm-up (JIT)
    const times: number[] = [];
    const replans: number[] = [];
    const nodes: number[] = [];
    let infeasible = 0;
    let inexact = 0;
    for (let i = 0; i < instances; i++) {
      const pool = randomPool(i + 1, workers + 1);
      const before = pool.slice(0, workers);
      const t0 = performance.now();
      const p = plan(before, sc.request);
      times.push(performance.now() - t0);
      nodes.push(p.search.nodes);
      if (p.status !== "ok") infeasible++;
      if (!p.search.exact) inexact++;
      const t1 = performance.now();
      plan(pool, sc.request); // a 65th worker joined
      replans.push(performance.now() - t1);
    }
    times.sort((a, b) => a - b);
    replans.sort((a, b) => a - b);
    nodes.sort((a, b) => a - b);
    results.push({
      scenario: sc.name,
      workers,
      instances,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      maxMs: times[times.length - 1] ?? Number.NaN,
      medianNodes: percentile(nodes, 50),
      maxNodes: nodes[nodes.length - 1] ?? 0,
      infeasible,
      inexact,
      replanAfterJoinP50Ms: percentile(replans, 50),
    });
  }
  return results;
}

function main(): void {
  const instances = Number(process.argv[2] ?? 40);
  const results = runBrokerBench(instances);
  for (const r of results) {
    console.log(
      `broker ${r.workers} workers | ${r.scenario}: p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ` +
        `max ${r.maxMs.toFixed(2)} ms, nodes median ${r.medianNodes} max ${r.maxNodes}, ` +
        `re-plan after join p50 ${r.replanAfterJoinP50Ms.toFixed(2)} ms, infeasible ${r.infeasible}, inexact ${r.inexact}`,
    );
  }
  console.log(JSON.stringify({ bench: "broker", results }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
