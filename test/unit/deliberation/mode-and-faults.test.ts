import { describe, expect, it } from "vitest";
import { CallTimeoutError } from "../../../coordinator/src/deliberation/errors.js";
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
    });
    expect(classifyFault(new Error("secret stack detail"))).toEqual({
      kind: FaultKind.ERROR,
      message: "internal error",
    });
  });
});
