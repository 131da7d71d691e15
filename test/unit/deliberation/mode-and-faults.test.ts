import { describe, expect, it } from "vitest";
import { CallTimeoutError, PromptTooLongError } from "../../../coordinator/src/deliberation/errors.js";
import {
  resolveEvaluationMode,
  supportsMode,
} from "../../../coordinator/src/deliberation/nsed/evaluation-mode.js";
import type { AgentProfile } from "../../../coordinator/src/deliberation/ports.js";
import { classifyFault } from "../../../coordinator/src/deliberation/runtime/faults.js";
import { EvaluationMode, FaultKind } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { ARITH_PROFILE, CHAT_PROFILE } from "./support/scripted.js";

describe("evaluation mode resolution", () => {
  it("uses the job's mode when the model can do it, else the profile's default", () => {
    expect(resolveEvaluationMode(EvaluationMode.UNSPECIFIED, CHAT_PROFILE)).toEqual({
      mode: EvaluationMode.BATCH,
    });
    expect(resolveEvaluationMode(EvaluationMode.LIKELIHOOD, CHAT_PROFILE)).toEqual({
      mode: EvaluationMode.LIKELIHOOD,
    });
    expect(resolveEvaluationMode(EvaluationMode.UNSPECIFIED, ARITH_PROFILE)).toEqual({
      mode: EvaluationMode.PER_CANDIDATE,
    });
    const r = resolveEvaluationMode(EvaluationMode.BATCH, ARITH_PROFILE);
    expect(r.mode).toBe(EvaluationMode.PER_CANDIDATE);
    expect(r.note).toMatch(/BATCH evaluation is not possible for this model; using PER_CANDIDATE/);
  });

  it("knows what a raw model without a verify template can do", () => {
    const proposeOnly: AgentProfile = {
      ...ARITH_PROFILE,
      templates: { propose: "Q {task}=" },
      evaluationMode: EvaluationMode.PER_CANDIDATE,
    };
    expect(supportsMode(proposeOnly, EvaluationMode.BATCH)).toBe(false);
    expect(supportsMode(proposeOnly, EvaluationMode.PER_CANDIDATE)).toBe(false);
    expect(supportsMode(proposeOnly, EvaluationMode.LIKELIHOOD)).toBe(true);
    expect(resolveEvaluationMode(EvaluationMode.UNSPECIFIED, proposeOnly).mode).toBe(
      EvaluationMode.LIKELIHOOD,
    );
  });
});

describe("fault classification", () => {
  it("maps worker errors to transcript faults without leaking internals", () => {
    expect(classifyFault(new CallTimeoutError(50)).kind).toBe(FaultKind.TIMEOUT);
    expect(classifyFault(new ConclaveError(ErrorCode.DEADLINE_EXCEEDED, "late")).kind).toBe(
      FaultKind.TIMEOUT,
    );
    expect(classifyFault(new ConclaveError(ErrorCode.UNAVAILABLE, "gone")).kind).toBe(FaultKind.WORKER_DIED);
    expect(classifyFault(new ConclaveError(ErrorCode.NOT_FOUND, "unknown worker")).kind).toBe(
      FaultKind.WORKER_DIED,
    );
    expect(classifyFault(new ConclaveError(ErrorCode.BUSY, "full"))).toEqual({
      kind: FaultKind.ERROR,
      message: "busy: full",
      workerFault: true,
    });
    expect(classifyFault(new Error("secret stack detail"))).toEqual({
      kind: FaultKind.ERROR,
      message: "internal error",
      workerFault: true,
    });
  });

  it("blames the worker for dying, timing out or failing, never for what it was sent or wrote", () => {
    const blamed = (e: unknown) => classifyFault(e).workerFault;
    expect(blamed(new ConclaveError(ErrorCode.UNAVAILABLE, "gone"))).toBe(true);
    expect(blamed(new ConclaveError(ErrorCode.NOT_FOUND, "unknown worker"))).toBe(true);
    expect(blamed(new ConclaveError(ErrorCode.DEADLINE_EXCEEDED, "late"))).toBe(true);
    expect(blamed(new CallTimeoutError(50))).toBe(true);
    expect(blamed(new ConclaveError(ErrorCode.MODEL_ERROR, "out of memory"))).toBe(true);
    const overflow = new ConclaveError(
      ErrorCode.CONTEXT_OVERFLOW,
      "prompt needs 671 tokens but the context holds 512",
    );
    expect(classifyFault(overflow)).toEqual({
      kind: FaultKind.ERROR,
      message: "context_overflow: prompt needs 671 tokens but the context holds 512",
      workerFault: false,
    });
    expect(blamed(new ConclaveError(ErrorCode.INVALID_ARGUMENT, "bad schema"))).toBe(false);
    expect(blamed(new ConclaveError(ErrorCode.INVALID_OUTPUT, "not JSON"))).toBe(false);
    expect(blamed(new PromptTooLongError("the task does not fit"))).toBe(false);
  });
});
