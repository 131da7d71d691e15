/** The coordinator's live worker registry: pure state and transitions (the NATS shell lives elsewhere). */
export { applyRegistryInput, emptyRegistry, registryStateFor } from "./apply.js";
export {
  type RegistryConfig,
  RegistryConfigError,
  type RegistryOptions,
  resolveRegistryConfig,
} from "./config.js";
export { freeSlots, observationProblems } from "./observation.js";
export { affectsPlanning, goneWorkers, liveWorkers, unseatableReason } from "./queries.js";
export * from "./types.js";
