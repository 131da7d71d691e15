/** Model profiles: resolution, the profile file format, shipped defaults and online quality updates. */
export { DEFAULT_PROFILES } from "./default-profiles.js";
export { globMatches, globToRegExp } from "./glob.js";
export { PROFILE_LIMITS, parseProfileFile, parseProfileText } from "./profile-file.js";
export {
  DEFAULT_ONLINE_UPDATE,
  type DeliberationOutcome,
  type DomainQualityStat,
  effectiveQuality,
  emptyQualityStats,
  ewmaEffectiveSamples,
  modelKey,
  type OnlineUpdateConfig,
  type OnlineUpdateOptions,
  outcomeObservation,
  parseQualityStats,
  type QualityStats,
  qualityWithStats,
  type ReliabilityStat,
  recordDeliberationOutcome,
  recordRequestOutcome,
  reliabilityOf,
  resolveOnlineUpdate,
  STATS_LIMITS,
  serializeQualityStats,
} from "./quality-stats.js";
export { formatParams, paramsPrior, resolveProfile, ruleMatch } from "./resolve.js";
export * from "./types.js";
