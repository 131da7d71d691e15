/**
 * Batch evaluation: one structured call scoring every candidate; validated, retried once, else abstain.
 * The prompt is fitted to the evaluator's context: peer answers (and the evaluator's own baseline) are cut
 * to a common cap when they do not all fit.
 */
import { PromptKind } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { answerSize, type CuttableAnswer, cutAnswer } from "../context-fit.js";
import { evaluationJsonSchema, parseEvaluationOutput } from "../evaluation-schema.js";
import { makeNonce } from "../fence.js";
import type { SeatInfo } from "../ports.js";
import { buildBatchEvaluationPrompt } from "../prompts/evaluate.js";
import { unlessWorkerFault } from "../runtime/faults.js";
import { fitPrompt } from "../runtime/fit-prompt.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import {
  emptyModeResult,
  type JudgedCandidate,
  type ModeResult,
  type ShownCandidateWithSeat,
} from "./candidates.js";

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
  const wanted =
    hint !== undefined && hint > 0
      ? Math.min(hint, rt.params.evaluationMaxTokens)
      : rt.params.evaluationMaxTokens;
  // The baseline goes first among the texts that may be cut; candidates follow in display order.
  const own: CuttableAnswer[] = ownAnswer !== undefined ? [{ answer: ownAnswer, rationale: "" }] : [];
  const items: CuttableAnswer[] = [...own, ...shown];
  const r = emptyModeResult();
  let problems: string[] | undefined;
  while (r.attempts < MAX_EVALUATION_ATTEMPTS) {
    r.attempts++;
    const retryProblems = problems;
    const call = await unlessWorkerFault(() => {
      const fitted = fitPrompt(rt, {
        seat: evaluator,
        what: "the batch evaluation prompt",
        wanted,
        items,
        size: answerSize,
        cut: cutAnswer,
        build: (xs) =>
          buildBatchEvaluationPrompt({
            task: rt.spec.task,
            ...(own.length > 0 ? { ownAnswer: xs[0]?.answer ?? "" } : {}),
            candidates: xs.slice(own.length).map((x, k) => ({ ...x, alias: aliases[k] ?? "" })),
            nonce,
            ...(retryProblems !== undefined ? { problems: retryProblems } : {}),
          }),
      });
      return rt.generate({
        round,
        seat: evaluator,
        kind: PromptKind.EVALUATE,
        prompt: fitted.prompt,
        maxTokens: fitted.maxTokens,
        temperature: rt.params.judgeTemperature,
        jsonSchema: evaluationJsonSchema(aliases),
      });
    });
    if (!call.ok) {
      r.faults.push(call.fault);
      r.abstainReason = call.fault.message.slice(0, 1000);
      return r;
    }
    const out = call.value;
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
