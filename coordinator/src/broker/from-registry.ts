/**
 * Builds the broker's input from the registry, the profiles and what was learnt online. Every live worker
 * becomes a BrokerWorker; those that cannot take seats now carry `unavailableReason`, so a plan lists them
 * with that reason instead of silently leaving them out.
 */
import {
  emptyQualityStats,
  modelKey,
  type OnlineUpdateOptions,
  type QualityStats,
  qualityWithStats,
  reliabilityOf,
} from "../profiles/quality-stats.js";
import { resolveProfile } from "../profiles/resolve.js";
import type { ProfileFile, ResolvedProfile } from "../profiles/types.js";
import { freeSlots } from "../registry/observation.js";
import { liveWorkers, unseatableReason } from "../registry/queries.js";
import type { RegistryState, WorkerRecord } from "../registry/types.js";
import type { BrokerWorker } from "./types.js";

export interface BrokerInputOptions {
  profiles: ProfileFile;
  /** Online quality and reliability; omitted = priors only. */
  stats?: QualityStats;
  online?: OnlineUpdateOptions;
  /** For "suspect for N s" reasons. */
  nowMs: number;
}

export interface BrokerWorkerInput {
  worker: BrokerWorker;
  /** The resolved profile (the deliberation engine reads evaluation mode and templates from it). */
  profile: ResolvedProfile;
}

export function brokerWorkerFromRecord(record: WorkerRecord, options: BrokerInputOptions): BrokerWorkerInput {
  const o = record.observation;
  const profile = resolveProfile(options.profiles, {
    name: o.model.name,
    family: o.model.family,
    architecture: o.model.architecture,
    parameterCount: o.model.parameterCount,
    ...(o.model.supportsScoring === undefined ? {} : { supportsScoring: o.model.supportsScoring }),
  });
  const key = modelKey(o.model);
  const stats = options.stats;
  const worker: BrokerWorker = {
    workerId: record.workerId,
    modelKey: key,
    modelName: o.model.name,
    family: (o.model.family || o.model.architecture || "unknown").toLowerCase(),
    slots: freeSlots(o),
    prefillTokensPerSecond: o.prefillTokensPerSecond,
    generationTokensPerSecond: o.generationTokensPerSecond,
    tags: profile.tags,
    abilities: profile.abilities,
    quality: stats ? qualityWithStats(profile.quality, stats, key, options.online) : profile.quality,
    reliability: reliabilityOf(stats ?? emptyQualityStats(), record.workerId, options.online),
  };
  if (o.powerWatts !== undefined) worker.powerWatts = o.powerWatts;
  const unavailable = unseatableReason(record, options.nowMs);
  if (unavailable !== undefined) worker.unavailableReason = unavailable;
  return { worker, profile };
}

/** Broker input for every live worker, sorted by id. */
export function brokerWorkersFromRegistry(
  state: RegistryState,
  options: BrokerInputOptions,
): BrokerWorkerInput[] {
  return liveWorkers(state).map((r) => brokerWorkerFromRecord(r, options));
}
