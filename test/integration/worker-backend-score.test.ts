/**
 * Likelihood scoring on the llama backend, checked against a reference computed here, independently:
 * a separate context and sequence, one token at a time, reading the full next-token probability
 * distribution (`generateNext.probabilities`) — where the backend reads filtered logits and their total
 * weight. Both must give the same log-probabilities.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "../../worker/src/backends/errors.js";
import { createLlamaBackend, type LlamaBackend } from "../../worker/src/backends/llama-backend.js";
import { findTestModel, writeTinyLlamaGguf } from "../support/tiny-model.js";

const ARITH = findTestModel("arith-a-d64l2.gguf");
const TINY_RANDOM = findTestModel("llama-2-tiny-random.gguf");

/** log P(target tokens | prompt tokens), token by token, from full distributions in a fresh sequence. */
async function referenceLogprobs(
  sequence: LlamaContextSequence,
  prompt: Token[],
  target: Token[],
): Promise<number[]> {
  await sequence.clearHistory();
  const out: number[] = [];
  const first = await sequence.controlledEvaluate([
    ...prompt.slice(0, -1),
    [prompt.at(-1) as Token, { generateNext: { probabilities: true } }],
  ]);
  let probabilities = first.at(-1)?.next.probabilities;
  for (const token of target) {
    const p = probabilities?.get(token);
    if (p === undefined) throw new Error(`no probability for token ${token}`);
    out.push(Math.log(p));
    const step = await sequence.controlledEvaluate([[token, { generateNext: { probabilities: true } }]]);
    probabilities = step[0]?.next.probabilities;
  }
  return out;
}

/**
 * Batched and one-token-at-a-time evaluation round floats differently (ggml kernels depend on batch shape):
 * measured differences are ~2e-4 nats. A logic error (wrong position, wrong token) is off by whole nats.
 */
const TOLERANCE = 2e-3;
function expectClose(actual: number | undefined, expected: number): void {
  expect(actual).toBeDefined();
  expect(Math.abs((actual as number) - expected)).toBeLessThan(TOLERANCE);
}

function rawPromptTokens(model: LlamaModel, prompt: string): Token[] {
  return [model.tokens.bos as Token, ...model.tokenize(prompt, false, "trimLeadingSpace")];
}

describe("scoring on a generated tiny model", () => {
  let dir: string;
  let backend: LlamaBackend;
  let context: LlamaContext;
  let reference: LlamaContextSequence;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-score-"));
    const { path } = await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 11 });
    backend = await createLlamaBackend({ modelPath: path, contextSize: 256, threads: 1 });
    // A separate context: the reference shares no KV state with the backend's sequences.
    context = await backend.model.createContext({ contextSize: 256, threads: 1 });
    reference = context.getSequence();
  });

  afterAll(async () => {
    await context?.dispose();
    await backend?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives each candidate token the log-probability the model assigns, and their sum", async () => {
    const prompt = "hello world, the model";
    const candidates = [" is the answer", " and", "xyz hello", " the world is a model"];
    const result = await backend.score({ prompt, candidates, appendEos: true });
    expect(result.promptTokens).toBe(rawPromptTokens(backend.model, prompt).length);
    expect(result.candidates).toHaveLength(candidates.length);
    const eos = backend.model.tokens.eos as Token;
    for (const [c, candidate] of candidates.entries()) {
      const scored = result.candidates[c];
      const target = [...backend.model.tokenize(candidate, false, "trimLeadingSpace"), eos];
      expect(scored?.tokens.map((t) => t.id)).toEqual(target);
      expect(scored?.tokens.at(-1)?.text).toBe("</s>");
      const expected = await referenceLogprobs(reference, rawPromptTokens(backend.model, prompt), target);
      for (const [i, lp] of expected.entries()) expectClose(scored?.tokens[i]?.logprob, lp);
      const sum = expected.reduce((a, b) => a + b, 0);
      expectClose(scored?.totalLogprob, sum);
      expect(scored?.totalLogprob).toBeLessThan(0);
    }
  });

  it("scores the same whatever the sequence held before (KV prefix reuse is exact)", async () => {
    const req = { prompt: "the answer", candidates: [" is hello", " world"] };
    const a = await backend.score(req);
    await backend.generate({ prompt: "something else entirely", maxTokens: 20 });
    const b = await backend.score(req);
    const c = await backend.score({ ...req, candidates: [...req.candidates].reverse() });
    expect(b.candidates.map((x) => x.totalLogprob)).toEqual(a.candidates.map((x) => x.totalLogprob));
    expect(c.candidates[1]?.totalLogprob).toBeCloseTo(a.candidates[0]?.totalLogprob as number, 6);
  });

  it("scores a chat prompt rendered by the model's template", async () => {
    const messages = [{ role: "user" as const, content: "hello model" }];
    const result = await backend.score({ messages, candidates: ["hello world"] });
    const raw = await backend.score({ prompt: "hello model", candidates: ["hello world"] });
    expect(result.promptTokens).toBeGreaterThan(raw.promptTokens);
    expect(result.candidates[0]?.tokens.map((t) => t.id)).toEqual(raw.candidates[0]?.tokens.map((t) => t.id));
  });

  it("scores only EOS for an empty candidate with appendEos", async () => {
    const result = await backend.score({ prompt: "hello", candidates: [""], appendEos: true });
    expect(result.candidates[0]?.tokens).toHaveLength(1);
    const [expected] = await referenceLogprobs(reference, rawPromptTokens(backend.model, "hello"), [
      backend.model.tokens.eos as Token,
    ]);
    expectClose(result.candidates[0]?.totalLogprob, expected as number);
  });

  it("refuses a candidate that does not fit in the context", async () => {
    const err = await backend
      .score({ prompt: "hello", candidates: ["the model ".repeat(200)] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe("context_overflow");
  });
});

// Needs a trained model from ../shared/models (a test cannot write one), and says so in its title when
// skipped; the same backend code also runs above on the GGUF this file writes itself.
describe.skipIf(ARITH === undefined)(
  "likelihood peer review on arith-a-d64l2.gguf (skipped: ../shared/models/arith-a-d64l2.gguf is missing)",
  () => {
    let backend: LlamaBackend;
    let context: LlamaContext;
    let reference: LlamaContextSequence;
    beforeAll(async () => {
      backend = await createLlamaBackend({ modelPath: ARITH as string, contextSize: 64, threads: 1 });
      context = await backend.model.createContext({ contextSize: 64, threads: 1 });
      reference = context.getSequence();
    });
    afterAll(async () => {
      await context?.dispose();
      await backend?.close();
    });

    it("gives P(digits, then EOS | 'Q a+b=') matching an independent evaluation", async () => {
      const prompt = "Q 37+48=";
      const result = await backend.score({ prompt, candidates: ["85", "84", "185"], appendEos: true });
      const eos = backend.model.tokens.eos as Token;
      // one token per character, no leading space piece
      expect(result.candidates[0]?.tokens.map((t) => t.text)).toEqual(["8", "5", "</s>"]);
      for (const [c, candidate] of ["85", "84", "185"].entries()) {
        const target = [...backend.model.tokenize(candidate, false, "trimLeadingSpace"), eos];
        const expected = await referenceLogprobs(reference, rawPromptTokens(backend.model, prompt), target);
        expectClose(
          result.candidates[c]?.totalLogprob,
          expected.reduce((a, b) => a + b, 0),
        );
      }
      // The model's own greedy answer is 85: it must be the most likely candidate.
      const [right, wrong, far] = result.candidates.map((x) => x.totalLogprob);
      expect(right).toBeGreaterThan(wrong as number);
      expect(right).toBeGreaterThan(far as number);
    });
  },
);

// Needs a trained model from ../shared/models (a test cannot write one), and says so in its title when
// skipped; the same backend code also runs above on the GGUF this file writes itself.
describe.skipIf(TINY_RANDOM === undefined)(
  "scoring on llama-2-tiny-random.gguf, a 32k vocabulary (skipped: ../shared/models/llama-2-tiny-random.gguf is missing)",
  () => {
    let backend: LlamaBackend;
    let context: LlamaContext;
    let reference: LlamaContextSequence;
    beforeAll(async () => {
      backend = await createLlamaBackend({
        modelPath: TINY_RANDOM as string,
        contextSize: 128,
        batchSize: 64,
        threads: 1,
      });
      context = await backend.model.createContext({ contextSize: 128, batchSize: 64, threads: 1 });
      reference = context.getSequence();
    });
    afterAll(async () => {
      await context?.dispose();
      await backend?.close();
    });

    it("matches the independent evaluation", async () => {
      const prompt = "The capital of France is";
      const candidates = [" Paris", " a city in Europe"];
      const result = await backend.score({ prompt, candidates, appendEos: true });
      const eos = backend.model.tokens.eos as Token;
      for (const [c, candidate] of candidates.entries()) {
        const target = [...backend.model.tokenize(candidate, false, "trimLeadingSpace"), eos];
        expect(result.candidates[c]?.tokens.map((t) => t.id)).toEqual(target);
        const expected = await referenceLogprobs(reference, rawPromptTokens(backend.model, prompt), target);
        for (const [i, lp] of expected.entries()) expectClose(result.candidates[c]?.tokens[i]?.logprob, lp);
      }
    });
  },
);
