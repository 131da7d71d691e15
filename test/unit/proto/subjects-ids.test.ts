import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConclaveError } from "../../../proto/src/errors.js";
import {
  isValidJobId,
  isValidWorkerId,
  newJobId,
  newRequestId,
  newWorkerId,
  toWorkerIdToken,
  workerIdProblem,
} from "../../../proto/src/ids.js";
import { parseSubject, subjects } from "../../../proto/src/subjects.js";

describe("subjects", () => {
  it("spells every subject under conclave.v1", () => {
    expect(subjects.telemetry("gpu-box-1")).toBe("conclave.v1.telemetry.gpu-box-1");
    expect(subjects.telemetryAll()).toBe("conclave.v1.telemetry.*");
    expect(subjects.discover()).toBe("conclave.v1.discover");
    expect(subjects.worker("w_1", "infer")).toBe("conclave.v1.worker.w_1.infer");
    expect(subjects.worker("w_1", "score")).toBe("conclave.v1.worker.w_1.score");
    expect(subjects.worker("w_1", "cancel")).toBe("conclave.v1.worker.w_1.cancel");
    expect(subjects.worker("w_1", "drain")).toBe("conclave.v1.worker.w_1.drain");
    expect(subjects.workerAll("w_1")).toBe("conclave.v1.worker.w_1.>");
  });

  it("refuses worker ids that would break a subject", () => {
    for (const bad of ["", "a.b", "a*", "a>", "a b", "-lead", "x".repeat(64)]) {
      expect(() => subjects.telemetry(bad)).toThrow(ConclaveError);
      expect(() => subjects.worker(bad, "infer")).toThrow(ConclaveError);
    }
  });

  it("parses what it builds, and nothing foreign", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/),
        fc.constantFrom("infer", "score", "cancel", "drain" as const),
        (id, op) => {
          expect(parseSubject(subjects.worker(id, op))).toEqual({ kind: "worker", workerId: id, op });
          expect(parseSubject(subjects.telemetry(id))).toEqual({ kind: "telemetry", workerId: id });
        },
      ),
    );
    expect(parseSubject(subjects.discover())).toEqual({ kind: "discover" });
    expect(parseSubject("conclave.v2.discover")).toBeUndefined();
    expect(parseSubject("conclave.v1.worker.w1.explode")).toBeUndefined();
    expect(parseSubject("other.v1.telemetry.w1")).toBeUndefined();
  });
});

describe("ids", () => {
  it("makes valid, distinct, time-sortable ids", () => {
    const a = newJobId(1_000);
    const b = newJobId(2_000);
    expect(isValidJobId(a)).toBe(true);
    expect(a < b).toBe(true);
    expect(newRequestId()).not.toBe(newRequestId());
    const w = newWorkerId("my.gpu box!");
    expect(isValidWorkerId(w)).toBe(true);
    expect(w.startsWith("my-gpu-box-")).toBe(true);
  });

  it("turns any label into a valid worker id token", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (label) => {
        expect(workerIdProblem(toWorkerIdToken(label))).toBeUndefined();
      }),
    );
  });

  it("explains an invalid worker id", () => {
    expect(workerIdProblem("")).toBe("worker id is empty");
    expect(workerIdProblem("a.b")).toMatch(/may only contain letters/);
    expect(workerIdProblem("x".repeat(70))).toMatch(/70 characters long/);
  });
});
