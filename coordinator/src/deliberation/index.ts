/**
 * The deliberation engine's public API: NSED and the baseline strategies on one engine and one transcript
 * format, talking to models only through `ModelPort` and to the broker only through `SeatProvider`.
 */
export { answerKey, extractAnswer, type MajorityResult, majorityVote, normaliseNumber } from "./answer.js";
export { CONTEXT_FIT, TRUNCATED } from "./context-fit.js";
export {
  BudgetExhaustedError,
  CallTimeoutError,
  JobCancelledError,
  JobDeadlineError,
  JobSpecError,
  JobStop,
  PromptTooLongError,
  QuorumLostError,
  SeatFaultError,
  StrategyRefusedError,
} from "./errors.js";
export { evaluationJsonSchema, parseEvaluationOutput } from "./evaluation-schema.js";
export { likelihoodWeights } from "./likelihood-weight.js";
export { LIMITS, type ResolvedParams, resolveParams, STRATEGY_NAMES, validateJobSpec } from "./params.js";
export type {
  AgentProfile,
  LikelihoodBasis,
  MaxTokenHints,
  ModelCallOptions,
  ModelPort,
  PromptFormat,
  Random,
  RawTemplates,
  RoleDemand,
  SeatInfo,
  SeatProvider,
  SeatRequest,
  TokenCounter,
} from "./ports.js";
export { tallyRound } from "./quadratic-vote.js";
export { seededRandom } from "./random.js";
export { DEFAULT_CALL_TIMEOUT_MS, type EngineLogger, type RunJobOptions, runJob } from "./run-job.js";
export { denyListFor, scrubIdentity } from "./scrub.js";
export { buildStateView } from "./state-view.js";
export { decideStop, QUORUM } from "./stopping-rule.js";
export { estimateTokens } from "./token-counter.js";
