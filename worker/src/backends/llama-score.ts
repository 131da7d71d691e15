/**
 * Likelihood scoring on a node-llama-cpp sequence: the log-probability the model assigns to each token of
 * each candidate continuation, prefill only. The prompt's prefix is evaluated once (and reused from the KV
 * cache when the sequence already holds it); each candidate then re-evaluates only the prompt's last token
 * plus its own tokens, asking llama.cpp for the target token's logit, the max logit and Σexp(logit − max),
 * which gives log p exactly without copying the whole vocabulary's probabilities into JS.
 */
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { abortReasonToError } from "../slot-queue.js";
import { BackendError, toBackendError } from "./errors.js";
import { assertFitsContext, continuationTokens, type LlamaSlot, promptTokensOf } from "./llama-prompt.js";
import type { RequestScope } from "./request-scope.js";
import type { ScoreRequest, ScoreResult } from "./types.js";

/** log softmax of one logit: logit − max − ln Σ exp(logit_i − max). Pure. */
export function logprobFromLogits(targetLogit: number, maxLogit: number, totalLogitWeight: number): number {
  return targetLogit - maxLogit - Math.log(totalLogitWeight);
}

/** Makes the sequence hold exactly `tokens`, keeping the common prefix it already has. */
export async function alignSequence(
  sequence: LlamaContextSequence,
  tokens: readonly Token[],
): Promise<number> {
  const { firstDifferentIndex } = sequence.compareContextTokens([...tokens]);
  if (sequence.nextTokenIndex > firstDifferentIndex) {
    await sequence.eraseContextTokenRanges([{ start: firstDifferentIndex, end: sequence.nextTokenIndex }]);
  }
  const rest = tokens.slice(firstDifferentIndex);
  if (rest.length > 0) await sequence.evaluateWithoutGeneratingNewTokens([...rest]);
  return firstDifferentIndex;
}

/**
 * Log-probabilities of `targets[c][i]` given `prompt` then `targets[c][0..i)`, for every candidate c.
 * `prompt` must hold at least one token (BOS for raw prompts). Checks `signal` between candidates.
 */
export async function scoreTargets(
  sequence: LlamaContextSequence,
  prompt: readonly Token[],
  targets: readonly (readonly Token[])[],
  signal: AbortSignal,
): Promise<number[][]> {
  const last = prompt.at(-1);
  if (last === undefined) throw new BackendError("bad_request", "cannot score after an empty prompt");
  const prefix = prompt.slice(0, -1);
  await alignSequence(sequence, prefix);
  const results: number[][] = [];
  for (const target of targets) {
    if (signal.aborted) throw signal.reason;
    if (sequence.nextTokenIndex > prefix.length) {
      await sequence.eraseContextTokenRanges([{ start: prefix.length, end: sequence.nextTokenIndex }]);
    }
    if (target.length === 0) {
      results.push([]);
      continue;
    }
    // Position i predicts target[i]: input = [last prompt token, target[0], …, target[n−2]].
    const input = [last, ...target.slice(0, -1)];
    const output = await sequence.controlledEvaluate(
      input.map((token, i) => [
        token,
        {
          generateNext: {
            // includeTop, not includeMax: in 3.22.1 includeMax leaves the max token out of the map.
            logits: { filter: { tokens: [target[i] as Token], includeTop: 1 } },
            totalLogitWeight: true,
          },
        },
      ]),
    );
    results.push(
      target.map((token, i) => {
        const next = output[i]?.next;
        const logits = next?.logits;
        const total = next?.totalLogitWeight;
        const targetLogit = logits?.get(token);
        if (logits === undefined || total === undefined || targetLogit === undefined) {
          throw new BackendError("model_error", `no logits returned for candidate position ${i}`);
        }
        return logprobFromLogits(targetLogit, Math.max(...logits.values()), total);
      }),
    );
  }
  return results;
}

export interface SlotScoring {
  readonly slot: LlamaSlot;
  readonly scope: RequestScope;
  readonly contextSize: number;
  readonly queuedMs: number;
}

/** Scores a request's candidates on a slot: tokenization, overflow check, evaluation, result shaping. */
export async function scoreOnSlot(req: ScoreRequest, s: SlotScoring): Promise<ScoreResult> {
  const model = s.slot.sequence.model;
  const eos = model.tokens.eos ?? model.tokens.eot;
  if (req.appendEos === true && eos === null) {
    throw new BackendError("unsupported", "this model has no end-of-sequence token to score");
  }
  const promptTokens = promptTokensOf(s.slot, req);
  const targets = req.candidates.map((candidate) => [
    ...continuationTokens(model, candidate),
    ...(req.appendEos === true && eos !== null ? [eos] : []),
  ]);
  const longest = Math.max(...targets.map((t) => t.length));
  assertFitsContext(promptTokens.length, longest, s.contextSize, "prompt plus the longest candidate");
  const started = performance.now();
  let logprobs: number[][];
  try {
    logprobs = await scoreTargets(s.slot.sequence, promptTokens, targets, s.scope.signal);
  } catch (err) {
    if (s.scope.signal.aborted) throw abortReasonToError(s.scope.signal.reason);
    throw toBackendError(err);
  }
  return {
    candidates: targets.map((tokens, c) => {
      const lps = logprobs[c] ?? [];
      return {
        tokens: tokens.map((id, i) => ({
          id,
          text: model.detokenize([id], true),
          logprob: lps[i] ?? Number.NaN,
        })),
        totalLogprob: lps.reduce((a, b) => a + b, 0),
      };
    }),
    promptTokens: promptTokens.length,
    queueMs: s.queuedMs,
    prefillMs: performance.now() - started,
  };
}
