/**
 * Online learning from deliberation: every NSED round's net support and winner update the per-model,
 * per-domain quality (profiles/quality-stats.ts), and every model call updates the worker's reliability.
 * Stats persist in a JetStream key-value bucket so a restarted coordinator keeps what it learnt.
 */

import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { Logger } from "pino";
import type { JobEvent } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import type { WorkerId } from "../../../proto/src/ids.js";
import type { NatsConnection } from "../../../proto/src/nats-io.js";
import {
  type Domain,
  emptyQualityStats,
  modelKey,
  parseQualityStats,
  type QualityStats,
  recordDeliberationOutcome,
  recordRequestOutcome,
  serializeQualityStats,
} from "../profiles/index.js";

const BUCKET = "conclave_learning";
const KEY = "quality-stats";

export interface SeatModel {
  name: string;
  parameterCount: number;
}

/** Applies one job event to the stats. Pure. */
export function learnFromEvent(
  stats: QualityStats,
  event: JobEvent,
  domain: Domain,
  modelOfSeat: (seatId: string) => SeatModel | undefined,
): QualityStats {
  if (event.event.case !== "roundCompleted") return stats;
  const round = event.event.value;
  let next = stats;
  for (const t of round.tallies) {
    if (t.evaluators === 0) continue;
    const model = modelOfSeat(t.seatId);
    if (!model) continue;
    next = recordDeliberationOutcome(next, {
      modelKey: modelKey(model),
      domain,
      support: t.netSupport,
      won: t.seatId === round.winnerSeatId,
    });
  }
  return next;
}

export class LearningStore {
  stats: QualityStats = emptyQualityStats();
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly kv: Awaited<ReturnType<Kvm["create"]>> | undefined,
    private readonly log: Logger,
  ) {}

  static async open(nc: NatsConnection, log: Logger): Promise<LearningStore> {
    try {
      const kv = await new Kvm(jetstream(nc)).create(BUCKET, { history: 1 });
      const store = new LearningStore(kv, log);
      const entry = await kv.get(KEY);
      if (entry && entry.operation === "PUT" && entry.value.length > 0) {
        const parsed = parseQualityStats(new TextDecoder().decode(entry.value));
        if (parsed.ok) store.stats = parsed.value;
        else log.warn({ problems: parsed.problems }, "stored quality stats unreadable; starting from priors");
      }
      store.#timer = setInterval(() => void store.flush(), 5000);
      store.#timer.unref();
      return store;
    } catch (err) {
      log.warn({ err }, "could not open the learning bucket; quality updates stay in memory");
      return new LearningStore(undefined, log);
    }
  }

  update(fn: (s: QualityStats) => QualityStats): void {
    this.stats = fn(this.stats);
    this.#dirty = true;
  }

  recordRequest(workerId: string, ok: boolean): void {
    this.update((s) => recordRequestOutcome(s, workerId as WorkerId, ok));
  }

  async flush(): Promise<void> {
    if (!this.#dirty || !this.kv) return;
    this.#dirty = false;
    try {
      await this.kv.put(KEY, new TextEncoder().encode(serializeQualityStats(this.stats)));
    } catch (err) {
      this.#dirty = true;
      this.log.warn({ err }, "could not persist quality stats");
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
