/**
 * Does the ensemble beat its best member? The four task-trained arithmetic members (../shared/models,
 * TASK-MODELS.md) answer the same problems alone, then as a cluster through the real coordinator, workers and
 * NATS: majority vote and NSED with per-candidate and likelihood peer review. Reports each accuracy.
 */
import { EvaluationMode, JobState, Strategy } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { createLlamaBackend } from "../../worker/src/backends/llama-backend.js";
import type { ModelBackend } from "../../worker/src/backends/types.js";
import { startTestCluster } from "../support/cluster.js";
import { findTestModel } from "../support/tiny-model.js";
import { judge, printReport } from "./support/report.js";

const MEMBERS = ["arith-a-d64l2.gguf", "arith-b-d96l3.gguf", "arith-c-d128l2.gguf", "arith-d-d96l2.gguf"];

/** Deterministic problems: a op b with a, b in 10..99 and a ≥ b for subtraction (TASK-MODELS.md's format). */
export function problems(n: number, seed = 20261122): Array<{ task: string; answer: string }> {
  let s = seed >>> 0;
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out: Array<{ task: string; answer: string }> = [];
  for (let i = 0; i < n; i++) {
    let a = 10 + Math.floor(rand() * 90);
    let b = 10 + Math.floor(rand() * 90);
    const plus = rand() < 0.5;
    if (!plus && a < b) [a, b] = [b, a];
    out.push({ task: `${a}${plus ? "+" : "-"}${b}`, answer: String(plus ? a + b : a - b) });
  }
  return out;
}

export async function benchArithAccuracy(n = 100): Promise<void> {
  const paths = MEMBERS.map((m) => findTestModel(m));
  if (paths.some((p) => p === undefined)) {
    printReport(
      {
        name: "arith-accuracy",
        compared: "skipped: the arith-* models are not in ../shared/models",
        values: {},
        targets: [],
      },
      ["skipped: the arith-* models are not in ../shared/models"],
    );
    return;
  }
  const set = problems(n);
  const backends: ModelBackend[] = [];
  for (const path of paths)
    backends.push(await createLlamaBackend({ modelPath: path ?? "", threads: 1, parallel: 2 }));

  // Each member alone: its greedy PROPOSE answer.
  const memberAccuracy: Record<string, number> = {};
  const memberAnswers: string[][] = [];
  for (const [i, backend] of backends.entries()) {
    const answers: string[] = [];
    for (const p of set) {
      const r = await backend.generate({
        prompt: `Q ${p.task}=`,
        maxTokens: 6,
        sampling: { temperature: 0 },
      });
      answers.push(r.text.trim());
    }
    memberAnswers.push(answers);
    memberAccuracy["abcd"[i] ?? String(i)] = answers.filter((a, k) => a === set[k]?.answer).length / n;
  }
  const oracle = set.filter((p, k) => memberAnswers.some((m) => m[k] === p.answer)).length / n;

  const cluster = await startTestCluster(
    backends.map((backend, i) => ({ id: `arith-${"abcd"[i]}`, backend })),
  );
  const viaProduct = async (strategy: Strategy, mode: EvaluationMode) => {
    let correct = 0;
    let failed = 0;
    for (const p of set) {
      const { job } = await cluster.run({
        task: p.task,
        strategy,
        domain: "math",
        params: { agents: 4, maxRounds: 2, evaluationMode: mode },
      });
      if (job.state !== JobState.SUCCEEDED) failed++;
      else if (job.result?.answer.trim() === p.answer) correct++;
    }
    return { accuracy: correct / n, failed };
  };
  const t0 = performance.now();
  const majority = await viaProduct(Strategy.MAJORITY, EvaluationMode.UNSPECIFIED);
  const perCandidate = await viaProduct(Strategy.NSED, EvaluationMode.PER_CANDIDATE);
  const likelihood = await viaProduct(Strategy.NSED, EvaluationMode.LIKELIHOOD);
  const seconds = (performance.now() - t0) / 1000;
  await cluster.stop();

  const best = Math.max(...Object.values(memberAccuracy));
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const targets = [
    judge(
      {
        metric: "nsedLikelihood",
        op: ">=",
        value: best,
        unit: "accuracy",
        source: "beat the best member (TASK-MODELS.md)",
      },
      likelihood.accuracy,
    ),
  ];
  printReport(
    {
      name: "arith-accuracy",
      compared: `accuracy on ${n} seeded 2-digit problems: each arith member alone vs majority and NSED through the product`,
      values: {
        problems: n,
        members: memberAccuracy,
        bestMember: best,
        majority: majority.accuracy,
        nsedPerCandidate: perCandidate.accuracy,
        nsedLikelihood: likelihood.accuracy,
        oracle,
        failedJobs: majority.failed + perCandidate.failed + likelihood.failed,
        seconds,
      },
      targets,
      notes: [
        "problems are generated here (seeded), not TASK-MODELS.md's held-out set, so some may have been seen in training",
        "members answer greedily with the raw PROPOSE prompt; the cluster runs 4 agents, at most 2 rounds",
      ],
    },
    [
      `  members alone: ${Object.entries(memberAccuracy)
        .map(([k, v]) => `${k} ${pct(v)}`)
        .join(", ")} (best ${pct(best)})`,
      `  majority (4 agents):         ${pct(majority.accuracy)}`,
      `  NSED per-candidate review:   ${pct(perCandidate.accuracy)}`,
      `  NSED likelihood review:      ${pct(likelihood.accuracy)}`,
      `  oracle (some member right):  ${pct(oracle)}`,
      `  ${3 * n} jobs in ${seconds.toFixed(1)} s`,
    ],
  );
}
