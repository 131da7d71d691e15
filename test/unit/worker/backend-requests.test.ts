import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BackendError, toBackendError } from "../../../worker/src/backends/errors.js";
import {
  describeUpstreamModel,
  familyFromModelId,
  parameterCountFromModelId,
  quantizationFromModelId,
} from "../../../worker/src/backends/openai-descriptor.js";
import { errorFromStatus } from "../../../worker/src/backends/openai-http.js";
import { openRequestScope } from "../../../worker/src/backends/request-scope.js";
import type { GenerateRequest } from "../../../worker/src/backends/types.js";
import {
  assertValidGenerateRequest,
  validateGenerateRequest,
  validateScoreRequest,
} from "../../../worker/src/backends/validate-request.js";

describe("validateGenerateRequest", () => {
  it("accepts a chat and a raw request", () => {
    expect(validateGenerateRequest({ messages: [{ role: "user", content: "hi" }], maxTokens: 8 })).toEqual(
      [],
    );
    expect(
      validateGenerateRequest({
        prompt: "Q 37+48=",
        maxTokens: 6,
        sampling: { temperature: 0, stop: ["\n"] },
      }),
    ).toEqual([]);
  });

  it("lists every problem at once", () => {
    const req = {
      prompt: "x",
      messages: [{ role: "user", content: "y" }],
      maxTokens: 0,
      sampling: { temperature: -1, topP: 2, topK: 1.5, stop: [""] },
      deadline: Number.NaN,
      jsonSchema: { type: "object", patternProperties: {} },
    } as unknown as GenerateRequest;
    const problems = validateGenerateRequest(req);
    expect(problems).toEqual([
      "give exactly one of messages (chat) or prompt (raw completion)",
      "sampling.temperature must be a number ≥ 0",
      "sampling.topP must be in (0, 1]",
      "sampling.topK must be an integer ≥ 0",
      "sampling.stop[0] must be a non-empty string",
      "deadline must be a Unix time in ms",
      "maxTokens must be an integer in [1, 1000000]",
      'jsonSchema #: unsupported keyword "patternProperties"',
    ]);
    try {
      assertValidGenerateRequest(req);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BackendError);
      expect((err as BackendError).code).toBe("bad_request");
      expect((err as BackendError).details).toEqual(problems);
    }
  });

  it("checks message roles", () => {
    const req = { messages: [{ role: "tool", content: "x" }], maxTokens: 1 } as unknown as GenerateRequest;
    expect(validateGenerateRequest(req)).toEqual(["messages[0].role must be system, user or assistant"]);
  });
});

describe("validateScoreRequest", () => {
  it("needs candidates; an empty one only with appendEos", () => {
    expect(validateScoreRequest({ prompt: "Q 1+1=", candidates: [] })).toEqual([
      "candidates must be a non-empty array",
    ]);
    expect(validateScoreRequest({ prompt: "Q 1+1=", candidates: [""] })).toEqual([
      "candidates[0] is empty (only allowed with appendEos)",
    ]);
    expect(validateScoreRequest({ prompt: "Q 1+1=", candidates: [""], appendEos: true })).toEqual([]);
  });
});

describe("openRequestScope", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("refuses a request that is dead on arrival", () => {
    const now = () => 1_000;
    expect(() => openRequestScope({ deadline: 1_000, now })).toThrow(
      expect.objectContaining({ code: "deadline_exceeded" }),
    );
    expect(() => openRequestScope({ signal: AbortSignal.abort(), now })).toThrow(
      expect.objectContaining({ code: "cancelled" }),
    );
  });

  it("aborts with deadline_exceeded when the deadline passes and says so", () => {
    vi.useFakeTimers();
    const start = Date.now();
    const scope = openRequestScope({ deadline: start + 50 });
    expect(scope.signal.aborted).toBe(false);
    vi.advanceTimersByTime(49);
    expect(scope.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(scope.signal.aborted).toBe(true);
    expect(scope.stoppedBy()).toBe("deadline");
    expect((scope.signal.reason as BackendError).code).toBe("deadline_exceeded");
    scope.dispose();
  });

  it("aborts with cancelled on the caller's signal, and dispose detaches", () => {
    const caller = new AbortController();
    const scope = openRequestScope({ signal: caller.signal, deadline: Date.now() + 60_000 });
    caller.abort();
    expect(scope.stoppedBy()).toBe("cancelled");
    expect((scope.signal.reason as BackendError).code).toBe("cancelled");
    scope.dispose();

    const other = new AbortController();
    const detached = openRequestScope({ signal: other.signal });
    detached.dispose();
    other.abort();
    expect(detached.signal.aborted).toBe(false);
  });

  it("is cancelled by a further source (the backend closing), and leaves no trace on it once disposed", () => {
    const closing = new AbortController();
    const caller = new AbortController();
    // Many finished requests against one long-lived source: nothing of them may stay attached to it.
    for (let i = 0; i < 50; i++) {
      openRequestScope({ signal: caller.signal, alsoCancelledBy: [closing.signal] }).dispose();
    }
    expect(getEventListeners(closing.signal, "abort")).toHaveLength(0);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);

    const scope = openRequestScope({ signal: caller.signal, alsoCancelledBy: [closing.signal] });
    closing.abort(new BackendError("cancelled", "backend is closing"));
    expect(scope.stoppedBy()).toBe("cancelled");
    const reason = scope.signal.reason as BackendError;
    expect(reason.code).toBe("cancelled");
    expect((reason.cause as BackendError).message).toBe("backend is closing");
    scope.dispose();
    expect(() => openRequestScope({ alsoCancelledBy: [closing.signal] })).toThrow(
      expect.objectContaining({ code: "cancelled" }),
    );
  });
});

describe("RequestScope.halt", () => {
  it("aborts the signal without counting as cancelled, and is idempotent", () => {
    const caller = new AbortController();
    const scope = openRequestScope({ signal: caller.signal, now: () => 0 });
    scope.halt();
    scope.halt();
    expect(scope.signal.aborted).toBe(true);
    expect(scope.stoppedBy()).toBeUndefined();
    // A caller's abort after the halt changes nothing: the work already ended on its own.
    caller.abort("late");
    expect(scope.stoppedBy()).toBeUndefined();
    scope.dispose();
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
  });
});

describe("errors", () => {
  it("normalises unknown errors to model_error and keeps ours", () => {
    const ours = new BackendError("busy", "full");
    expect(toBackendError(ours)).toBe(ours);
    const wrapped = toBackendError(new Error("ggml assert"));
    expect(wrapped.code).toBe("model_error");
    expect((wrapped.cause as Error).message).toBe("ggml assert");
  });

  it("maps upstream HTTP statuses onto our codes", () => {
    expect(errorFromStatus(400, "the request exceeds the available context size").code).toBe(
      "context_overflow",
    );
    expect(errorFromStatus(400, "This model's maximum context length is 4096 tokens").code).toBe(
      "context_overflow",
    );
    expect(errorFromStatus(400, "temperature must be ≥ 0").code).toBe("bad_request");
    expect(errorFromStatus(429, "slow down").code).toBe("busy");
    expect(errorFromStatus(503, "loading model").code).toBe("busy");
    expect(errorFromStatus(401, "bad key").code).toBe("unavailable");
    expect(errorFromStatus(500, "oops").code).toBe("model_error");
  });
});

describe("openai descriptor", () => {
  it("infers family, size and quantisation from model ids", () => {
    expect(familyFromModelId("meta-llama/Llama-3.1-8B-Instruct")).toBe("llama");
    expect(familyFromModelId("qwen2.5:7b")).toBe("qwen");
    expect(parameterCountFromModelId("qwen2.5:0.5b")).toBe(500_000_000);
    expect(parameterCountFromModelId("Llama-3.1-8B-Instruct")).toBe(8_000_000_000);
    expect(parameterCountFromModelId("gpt-4o")).toBe(0);
    expect(quantizationFromModelId("qwen2.5-7b-instruct-q4_k_m")).toBe("Q4_K_M");
    expect(quantizationFromModelId("mistral-7b-instruct")).toBe("unknown");
  });

  it("prefers the server's own figures", () => {
    const d = describeUpstreamModel(
      { id: "tiny.gguf", meta: { n_ctx_train: 2048, n_params: 292_800, size: 1_171_200 } },
      { source: "http://127.0.0.1:1/v1", contextLength: 512, supportsScoring: true },
    );
    expect(d).toMatchObject({
      name: "tiny.gguf",
      parameterCount: 292_800,
      contextLength: 512,
      trainContextLength: 2048,
      fileSizeBytes: 1_171_200,
      backend: "openai",
      supportsScoring: true,
    });
  });
});
