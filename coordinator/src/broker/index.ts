/** Dynamic Expertise Broker (BRIEF §4): exact, explained seating of strategy roles on live workers. */
export { diffPlans, type PlanDiff, type SeatGroup } from "./diff.js";
export {
  type BrokerInputOptions,
  type BrokerWorkerInput,
  brokerWorkerFromRecord,
  brokerWorkersFromRegistry,
} from "./from-registry.js";
export { plan } from "./plan.js";
export { BROKER_LIMITS, BrokerRequestError } from "./request.js";
export { type AgentRange, moaRoles, nsedRoles } from "./roles.js";
export * from "./types.js";
export { decayedSum, seatSeconds, workerRoundSeconds } from "./value.js";
