import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseChatRequest } from "../../../coordinator/src/http/chat-request.js";
import { HttpError } from "../../../coordinator/src/http/http-errors.js";
import { modelIdOf, modelIds, strategyOfModelId } from "../../../coordinator/src/http/model-ids.js";
import { EvaluationMode, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { strategyNames } from "../../../proto/src/names.js";

const user = (content: string) => [{ role: "user", content }];

function refusal(body: unknown): HttpError {
  try {
    parseChatRequest(body);
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("model ids", () => {
  it("name every strategy once and map back to it", () => {
    const ids = modelIds();
    expect(ids).toHaveLength(strategyNames.names.length);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(modelIdOf(strategyOfModelId(id)!)).toBe(id);
    expect(strategyOfModelId("conclave")).toBe(Strategy.NSED);
    expect(strategyOfModelId("conclave-nsed")).toBe(Strategy.NSED);
    expect(strategyOfModelId(" Conclave-MoA ")).toBe(Strategy.MOA);
    for (const bad of ["gpt-4o", "conclave-", "conclave-unspecified", "moa", ""])
      expect(strategyOfModelId(bad)).toBeUndefined();
  });
});

describe("parseChatRequest", () => {
  it("maps the model, sampling fields and conclave options onto the job spec", () => {
    const r = parseChatRequest({
      model: "conclave-debate",
      messages: user("Is 91 prime?"),
      temperature: 0.3,
      max_tokens: 100,
      max_completion_tokens: 200,
      stream: true,
      stream_options: { include_usage: true },
      conclave: { agents: 4, rounds: 2, eval_mode: "per-candidate", domain: "Math" },
      top_p: 0.9,
      tools: [],
    });
    expect(r.modelId).toBe("conclave-debate");
    expect(r.stream).toBe(true);
    expect(r.includeUsage).toBe(true);
    expect(r.spec.task).toBe("Is 91 prime?");
    expect(r.spec.strategy).toBe(Strategy.DEBATE);
    expect(r.spec.domain).toBe("math");
    expect(r.spec.labels["conclave.source"]).toBe("openai-http");
    expect(r.spec.params?.temperature).toBeCloseTo(0.3);
    expect(r.spec.params?.maxTokens).toBe(200);
    expect(r.spec.params).toMatchObject({
      agents: 4,
      maxRounds: 2,
      evaluationMode: EvaluationMode.PER_CANDIDATE,
    });
  });

  it("leaves unset fields to the strategy's defaults", () => {
    const r = parseChatRequest({
      model: "conclave",
      messages: user("hi"),
      temperature: null,
      max_tokens: null,
    });
    expect(r.stream).toBe(false);
    expect(r.includeUsage).toBe(false);
    expect(r.spec.params?.temperature).toBeUndefined();
    expect(r.spec.params).toMatchObject({ agents: 0, maxRounds: 0, maxTokens: 0, stateTokenBudget: 0 });
  });

  it("raises NSED's state budget for a long conversation instead of refusing it", () => {
    const r = parseChatRequest({ model: "conclave", messages: user("w ".repeat(4000)) });
    expect(r.spec.params?.stateTokenBudget).toBeGreaterThanOrEqual(4000);
    const moa = parseChatRequest({ model: "conclave-moa", messages: user("w ".repeat(4000)) });
    expect(moa.spec.params?.stateTokenBudget).toBe(0);
  });

  it("refuses an unknown model with 404 model_not_found listing the models", () => {
    const e = refusal({ model: "llama3", messages: user("hi") });
    expect(e.status).toBe(404);
    expect(e.code).toBe("model_not_found");
    for (const id of modelIds()) expect(e.message).toContain(id);
  });

  it("lists every problem of a bad request in one 400", () => {
    const e = refusal({
      messages: "hello",
      stream: "yes",
      n: 2,
      temperature: -1,
      max_tokens: 0,
      conclave: { rounds: 99, eval_mode: "vibes", domain: "poetry", extra: 1 },
    });
    expect(e.status).toBe(400);
    for (const part of [
      "model is required",
      "messages must be an array",
      "stream must be true or false",
      "n must be 1",
      "temperature must be a number from 0 to 2",
      "max_tokens must be a whole number",
      "conclave.rounds",
      "conclave.eval_mode",
      "conclave.domain",
      "conclave.extra is not an option",
    ])
      expect(e.message).toContain(part);
    expect(e.param).toBe("model");
  });

  it("names spec problems by the request's fields", () => {
    const e = refusal({ model: "conclave", messages: user("hi"), conclave: { agents: 1 } });
    expect(e.status).toBe(400);
    expect(e.message).toContain("conclave.agents must be between 2");
    expect(e.param).toBe("conclave.agents");
  });

  it("either parses or refuses with an HttpError, whatever the body", () => {
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          model: fc.oneof(fc.constantFrom(...modelIds()), fc.anything()),
          messages: fc.oneof(
            fc.array(fc.record({ role: fc.constantFrom("user", "system", "x"), content: fc.anything() })),
            fc.anything(),
          ),
          temperature: fc.anything(),
          max_tokens: fc.anything(),
          stream: fc.anything(),
          stream_options: fc.anything(),
          n: fc.anything(),
          conclave: fc.oneof(fc.anything(), fc.dictionary(fc.string(), fc.anything())),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(body, (b) => {
        try {
          const r = parseChatRequest(b);
          expect(r.spec.task.trim()).not.toBe("");
        } catch (err) {
          expect(err).toBeInstanceOf(HttpError);
          expect((err as HttpError).message.length).toBeGreaterThan(0);
        }
      }),
    );
  });
});
