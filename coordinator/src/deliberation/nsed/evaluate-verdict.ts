/**
 * Per-candidate evaluation: one short verdict call per peer, mapped to a weight by the profile's verdict map.
 * A chat verdict always gets the completion tokens its JSON schema needs to complete (verdictTokenBound),
 * and its prompt is fitted to the evaluator's context by cutting the candidate's answer. A raw template is
 * the model's trained format and is never cut: when it does not fit, that verdict fails before it is sent.
 */
import { PromptKind, Stance } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { answerSize, cutAnswer } from "../context-fit.js";
import { makeNonce } from "../fence.js";
import type { SeatInfo } from "../ports.js";
import { buildVerdictPrompt } from "../prompts/evaluate.js";
import { unlessWorkerFault } from "../runtime/faults.js";
import { fitPrompt } from "../runtime/fit-prompt.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { DEFAULT_CHAT_VERDICTS, mapVerdict, verdictJsonSchema, verdictTokenBound } from "../verdict.js";
import {
  emptyModeResult,
  type JudgedCandidate,
  type ModeResult,
  type ShownCandidateWithSeat,
} from "./candidates.js";
import { MAX_EVALUATION_ATTEMPTS } from "./evaluate-batch.js";

export function stanceOf(weight: number): Stance {
  return weight > 0 ? Stance.SUPPORT : weight < 0 ? Stance.OPPOSE : Stance.NEUTRAL;
}

/** Completion tokens of one verdict call: the profile's hint, but never too few for a chat JSON verdict. */
export function verdictMaxTokens(seat: SeatInfo, verdicts: Readonly<Record<string, number>>): number {
  const hint = seat.profile.maxTokens?.verdict;
  if (seat.profile.format !== "chat") return hint !== undefined && hint > 0 ? hint : 4;
  return Math.max(hint ?? 0, verdictTokenBound(verdicts));
}

export async function evaluatePerCandidate(
  rt: JobRuntime,
  round: number,
  evaluator: SeatInfo,
  shown: readonly ShownCandidateWithSeat[],
): Promise<ModeResult> {
  const profile = evaluator.profile;
  const verdicts = profile.verdicts ?? DEFAULT_CHAT_VERDICTS;
  const chat = profile.format === "chat";
  const maxTokens = verdictMaxTokens(evaluator, verdicts);
  const r = emptyModeResult();
  const judgeOne = async (c: ShownCandidateWithSeat): Promise<JudgedCandidate | string> => {
    let last = "";
    for (let attempt = 1; attempt <= MAX_EVALUATION_ATTEMPTS; attempt++) {
      r.attempts = Math.max(r.attempts, attempt);
      const nonce = makeNonce(rt.random);
      const call = await unlessWorkerFault(() => {
        const build = (xs: readonly ShownCandidateWithSeat[]) =>
          buildVerdictPrompt({ profile, task: rt.spec.task, candidate: xs[0] ?? c, verdicts, nonce });
        // A verdict cut short is no verdict: the floor is the whole bound.
        const fitted = chat
          ? fitPrompt(rt, {
              seat: evaluator,
              what: `the verdict prompt about ${c.alias}`,
              wanted: maxTokens,
              floor: maxTokens,
              items: [c],
              size: answerSize,
              cut: cutAnswer,
              build,
            })
          : { prompt: build([c]), maxTokens };
        return rt.generate({
          round,
          seat: evaluator,
          kind: PromptKind.VERDICT,
          prompt: fitted.prompt,
          maxTokens: fitted.maxTokens,
          minMaxTokens: fitted.maxTokens,
          temperature: rt.params.judgeTemperature,
          ...(chat ? { jsonSchema: verdictJsonSchema(verdicts) } : {}),
        });
      });
      if (!call.ok) {
        r.faults.push(call.fault);
        return `${c.alias}: ${call.fault.message}`;
      }
      const out = call.value;
      r.promptTokens += out.usage.promptTokens;
      r.completionTokens += out.usage.completionTokens;
      r.latencyMs = Math.max(r.latencyMs, out.latencyMs);
      const weight = mapVerdict(out.result.text, verdicts);
      last = out.result.text.trim().slice(0, 40);
      if (weight !== undefined) {
        return {
          seatId: c.seatId,
          alias: c.alias,
          weight,
          stance: stanceOf(weight),
          claims: [],
          critique: "",
        };
      }
    }
    return `${c.alias}: "${last}" is not a verdict (${Object.keys(verdicts).join("/")})`;
  };
  const results = await Promise.all(shown.map(judgeOne));
  r.judged = results.filter((x): x is JudgedCandidate => typeof x !== "string");
  const problems = results.filter((x): x is string => typeof x === "string");
  r.valid = r.judged.length > 0;
  if (!r.valid) r.abstainReason = `no usable verdict: ${problems.join("; ")}`.slice(0, 1000);
  return r;
}
