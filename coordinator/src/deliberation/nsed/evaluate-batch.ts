/** Batch evaluation: one structured call scoring every candidate; validated, retried once, else abstain. */
import { PromptKind } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { evaluationJsonSchema, parseEvaluationOutput } from "../evaluation-schema.js";
import { makeNonce } from "../fence.js";
import type { SeatInfo } from "../ports.js";
import { buildBatchEvaluationPrompt } from "../prompts/evaluate.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import type { JudgedCandidate, ModeResult, ShownCandidateWithSeat } from "./candidates.js";

export const MAX_EVALUATION_ATTEMPTS = 2;

export async function evaluateBatch(
  rt: JobRuntime,
  round: number,
  evaluator: SeatInfo,
  shown: readonly ShownCandidateWithSeat[],
  ownAnswer: string | undefined,
): Promise<ModeResult> {
  const aliases = shown.map((c) => c.alias);
  const bySeat = new Map(shown.map((c) => [c.alias, c.seatId]));
  const nonce = makeNonce(rt.random);
  const hint = evaluator.profile.maxTokens?.evaluate;
  const maxTokens =
    hint !== undefined && hint > 0
      ? Math.min(hint, rt.params.evaluationMaxTokens)
      : rt.params.evaluationMaxTokens;
  const r: ModeResult = {
    judged: [],
    valid: false,
    abstainReason: "",
    attempts: 0,
    promptTokens: 0,
    completionTokens: 0,
    latencyMs: 0,
  };
  let problems: string[] | undefined;
  while (r.attempts < MAX_EVALUATION_ATTEMPTS) {
    r.attempts++;
    const prompt = buildBatchEvaluationPrompt({
      task: rt.spec.task,
      ...(ownAnswer !== undefined ? { ownAnswer } : {}),
      candidates: shown,
      nonce,
      ...(problems !== undefined ? { problems } : {}),
    });
    const out = await rt.generate({
      round,
      seat: evaluator,
      kind: PromptKind.EVALUATE,
      prompt,
      maxTokens,
      temperature: rt.params.judgeTemperature,
      jsonSchema: evaluationJsonSchema(aliases),
    });
    r.promptTokens += out.usage.promptTokens;
    r.completionTokens += out.usage.completionTokens;
    r.latencyMs += out.latencyMs;
    const parsed = parseEvaluationOutput(out.result.text, aliases);
    if (parsed.ok) {
      r.valid = true;
      r.judged = parsed.evaluations.map(
        (e): JudgedCandidate => ({
          seatId: bySeat.get(e.alias) ?? "",
          alias: e.alias,
          weight: e.weight,
          stance: e.stance,
          claims: e.claims.map((c) => ({ text: rt.scrub(c.text).text, verdict: c.verdict })),
          critique: rt.scrub(e.critique).text,
        }),
      );
      return r;
    }
    problems = parsed.problems;
  }
  r.abstainReason = `output invalid after ${r.attempts} attempts: ${(problems ?? []).join("; ")}`.slice(
    0,
    1000,
  );
  return r;
}
