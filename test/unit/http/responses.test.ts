import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { errorResponse, HttpError, httpStatusOf } from "../../../coordinator/src/http/http-errors.js";
import {
  chatCompletion,
  completionMeta,
  finishChunk,
  sseComment,
  sseData,
  usageChunk,
} from "../../../coordinator/src/http/openai-responses.js";
import { JobSchema, JobState, StopReason, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";

const job = create(JobSchema, {
  jobId: "job_abc",
  state: JobState.SUCCEEDED,
  createdAtUnixMs: 1_700_000_000_999n,
  spec: { task: "t", strategy: Strategy.MOA },
  result: {
    answer: "42",
    rounds: 2,
    stopReason: StopReason.COMPLETED,
    usage: { promptTokens: 120, completionTokens: 30 },
  },
});

describe("OpenAI response bodies", () => {
  it("build a chat.completion with usage and the conclave field", () => {
    const meta = completionMeta(job, "conclave-moa");
    expect(meta).toEqual({ id: "chatcmpl-job_abc", created: 1_700_000_000, model: "conclave-moa" });
    const c = chatCompletion(meta, job);
    expect(c.choices[0]?.message).toEqual({ role: "assistant", content: "42", refusal: null });
    expect(c.usage).toEqual({ prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 });
    expect(c.conclave).toEqual({ job_id: "job_abc", strategy: "moa", rounds: 2, stop_reason: "completed" });
  });

  it("frame chunks as one-line SSE events and comments", () => {
    const meta = completionMeta(job, "conclave-moa");
    const event = sseData(finishChunk(meta, job, true));
    expect(event.startsWith("data: {")).toBe(true);
    expect(event.endsWith("}\n\n")).toBe(true);
    expect(event.slice(0, -2)).not.toContain("\n");
    expect(JSON.parse(event.slice(6))).toMatchObject({ usage: null, choices: [{ finish_reason: "stop" }] });
    expect(usageChunk(meta, job)).toMatchObject({ choices: [], usage: { total_tokens: 150 } });
    expect(sseComment("round 2\nsneaky: data")).toBe(": round 2 sneaky: data\n\n");
  });
});

describe("errors at the HTTP edge", () => {
  it("map error codes to the statuses clients expect", () => {
    const expected: Array<[ErrorCode, number]> = [
      [ErrorCode.INVALID_ARGUMENT, 400],
      [ErrorCode.UNAUTHENTICATED, 401],
      [ErrorCode.NOT_FOUND, 404],
      [ErrorCode.FAILED_PRECONDITION, 409],
      [ErrorCode.BUSY, 429],
      [ErrorCode.UNAVAILABLE, 503],
      [ErrorCode.DEADLINE_EXCEEDED, 504],
      [ErrorCode.INTERNAL, 500],
    ];
    for (const [code, status] of expected) expect(httpStatusOf(code)).toBe(status);
  });

  it("shape bodies like OpenAI's and keep unknown errors' text private", () => {
    const busy = errorResponse(new ConclaveError(ErrorCode.BUSY, "every slot is taken"));
    expect(busy.status).toBe(429);
    expect(busy.headers["retry-after"]).toBeDefined();
    expect(busy.body.error).toEqual({
      message: "every slot is taken",
      type: "rate_limit_error",
      param: null,
      code: "busy",
    });
    const bug = errorResponse(new TypeError("secret internals at /home/x"));
    expect(bug.status).toBe(500);
    expect(bug.body.error.message).toBe("internal error");
    const own = errorResponse(new HttpError(405, "method_not_allowed", "no", { headers: { allow: "POST" } }));
    expect(own).toMatchObject({
      status: 405,
      headers: { allow: "POST" },
      body: { error: { code: "method_not_allowed" } },
    });
  });
});
