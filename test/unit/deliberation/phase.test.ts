/**
 * How a phase sends its requests: every seat's work starts in the phase, cheap prompts leave together in
 * one turn of the event loop (one NATS write), and a seat that takes longer than the send slice lets the
 * requests built before it leave first.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { estimateTokens, seededRandom } from "../../../coordinator/src/deliberation/index.js";
import { resolveParams } from "../../../coordinator/src/deliberation/params.js";
import type { SeatInfo } from "../../../coordinator/src/deliberation/ports.js";
import { JobRuntime } from "../../../coordinator/src/deliberation/runtime/job-runtime.js";
import { runPhase, SEND_SLICE_MS } from "../../../coordinator/src/deliberation/runtime/phase.js";
import { TranscriptWriter } from "../../../coordinator/src/deliberation/runtime/transcript.js";
import { JobSpecSchema, SeatSchema, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { CHAT_PROFILE, chatAgent, collector, ScriptedWorld } from "./support/scripted.js";

function runtime(): JobRuntime {
  const spec = create(JobSpecSchema, { task: "t", strategy: Strategy.NSED });
  const world = new ScriptedWorld([chatAgent("w1", "1", "1")]);
  const { emit } = collector();
  return new JobRuntime({
    jobId: "job-1",
    spec,
    params: resolveParams(spec),
    models: world,
    seats: world,
    transcript: new TranscriptWriter("job-1", emit, Date.now),
    signal: new AbortController().signal,
    cancelled: () => false,
    now: Date.now,
    random: seededRandom(1),
    countTokens: estimateTokens,
    callTimeoutMs: 10_000,
  });
}

function seats(n: number): SeatInfo[] {
  return Array.from({ length: n }, (_, i) => ({
    seat: create(SeatSchema, { seatId: `seat-${i + 1}`, workerId: `w${i + 1}` }),
    profile: CHAT_PROFILE,
  }));
}

/** Counts turns of the event loop (a setImmediate chain) while `body` runs. */
async function withTurnCounter<T>(body: (turn: () => number) => Promise<T>): Promise<T> {
  let turn = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turn++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return await body(() => turn);
  } finally {
    running = false;
  }
}

function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the synchronous part of building a slow prompt
  }
}

describe("runPhase sending", () => {
  it("starts every seat's work, in seat order, and returns each result by seat", async () => {
    const started: string[] = [];
    const r = await runPhase(runtime(), 1, seats(5), async (s) => {
      started.push(s.seat.seatId);
      return s.seat.seatId.toUpperCase();
    });
    expect(started).toEqual(["seat-1", "seat-2", "seat-3", "seat-4", "seat-5"]);
    expect([...r.ok.entries()]).toEqual(started.map((id) => [id, id.toUpperCase()]));
    expect(r.failed).toEqual([]);
  });

  it("starts cheap seats in one turn, so their requests leave in one write", async () => {
    const turns = await withTurnCounter(async (turn) => {
      const at: number[] = [];
      // A slice no machine can use up here: whatever the load, the seats must not be spread over turns.
      await runPhase(runtime(), 1, seats(8), async () => at.push(turn()), 60_000);
      return at;
    });
    expect(new Set(turns).size).toBe(1);
  });

  it("lets the requests built so far leave once a seat took longer than the slice", async () => {
    const turns = await withTurnCounter(async (turn) => {
      const at: number[] = [];
      await runPhase(runtime(), 1, seats(4), async () => {
        at.push(turn());
        busyFor(SEND_SLICE_MS * 3);
      });
      return at;
    });
    // Each seat's synchronous work used up the slice, so each later seat started in a later turn.
    expect(turns).toHaveLength(4);
    for (let i = 1; i < turns.length; i++) expect(turns[i]).toBeGreaterThan(turns[i - 1] ?? 0);
  });
});
