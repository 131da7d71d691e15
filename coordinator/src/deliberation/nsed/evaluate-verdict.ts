/** Per-candidate evaluation: one short verdict call per peer, mapped to a weight by the profile's verdict map. */
import { PromptKind, Stance } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { makeNonce } from "../fence.js";
import type { SeatInfo } from "../ports.js";
import { buildVerdictPrompt } from "../prompts/evaluate.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { DEFAULT_CHAT_VERDICTS, mapVerdict, verdictJsonSchema } from "../verdict.js";
import type { JudgedCandidate, ModeResult, ShownCandidateWithSeat } from "./candidates.js";
import { MAX_EVALUATION_ATTEMPTS } from "./evaluate-batch.js";

export function stanceOf(weight: number): Stance {
  return weight > 0 ? Stance.SUPPORT : weight < 0 ? Stance.OPPOSE : Stance.NEUTRAL;
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
  const maxTokens = profile.maxTokens?.verdict ?? (chat ? 16 : 4);
  const r: ModeResult = {
    judged: [],
    valid: false,
    abstainReason: "",
    attempts: 0,
    promptTokens: 0,
    completionTokens: 0,
    latencyMs: 0,
  };
  const judgeOne = async (c: ShownCandidateWithSeat): Promise<JudgedCandidate | string> => {
    let last = "";
    for (let attempt = 1; attempt <= MAX_EVALUATION_ATTEMPTS; attempt++) {
      r.attempts = Math.max(r.attempts, attempt);
      const prompt = buildVerdictPrompt({
        profile,
        task: rt.spec.task,
        candidate: c,
        verdicts,
        nonce: makeNonce(rt.random),
      });
      const out = await rt.generate({
        round,
        seat: evaluator,
        kind: PromptKind.VERDICT,
        prompt,
        maxTokens,
        temperature: rt.params.judgeTemperature,
        ...(chat ? { jsonSchema: verdictJsonSchema(verdicts) } : {}),
      });
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
