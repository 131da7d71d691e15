import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILES } from "../../../coordinator/src/profiles/index.js";
import type { RegistryState, WorkerRecord } from "../../../coordinator/src/registry/index.js";
import { brokerSeatProvider } from "../../../coordinator/src/server/planning.js";
import { JobSpecSchema, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";

function registry(workers: Array<[string, WorkerRecord["state"]]>): RegistryState {
  return {
    workers: new Map(workers.map(([id, state]) => [id, { workerId: id, state } as WorkerRecord])),
    tombstones: new Map(),
  } as unknown as RegistryState;
}

describe("the broker seat provider's pool version (when a running job looks for new seats)", () => {
  it("changes when a seatable worker joins or goes, not when one flips between ready and busy", () => {
    let state = registry([
      ["w1", "ready"],
      ["w2", "busy"],
    ]);
    const provider = brokerSeatProvider(
      create(JobSpecSchema, { task: "t", strategy: Strategy.NSED }),
      () => ({
        registry: state,
        profiles: DEFAULT_PROFILES,
        nowMs: 0,
      }),
    );
    const v1 = provider.poolVersion?.();
    state = registry([
      ["w2", "ready"],
      ["w1", "busy"],
    ]);
    expect(provider.poolVersion?.()).toBe(v1);
    state = registry([
      ["w1", "ready"],
      ["w2", "busy"],
      ["w3", "joined"],
    ]);
    expect(provider.poolVersion?.()).toBe(v1); // not seatable yet
    state = registry([
      ["w1", "ready"],
      ["w2", "busy"],
      ["w3", "ready"],
    ]);
    const v2 = provider.poolVersion?.();
    expect(v2).not.toBe(v1);
    state = registry([
      ["w1", "ready"],
      ["w2", "suspect"],
      ["w3", "ready"],
    ]);
    expect(provider.poolVersion?.()).not.toBe(v2);
  });
});
