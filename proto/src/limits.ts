/**
 * Hard limits that every process enforces the same way. They protect workers and the coordinator from
 * oversized input; NATS's own max_payload (1 MiB by default) is the outer bound.
 */
export const LIMITS = {
  /** Characters in one prompt (all chat messages together) sent to a worker. */
  maxPromptChars: 256_000,
  /** Characters in a job's task text. */
  maxTaskChars: 64_000,
  /** Completion tokens one request may ask for. */
  maxTokensPerRequest: 32_768,
  /** Candidates in one scoring request. */
  maxScoreCandidates: 64,
  /** Characters in one scoring candidate. */
  maxCandidateChars: 16_000,
  /** Characters in a JSON schema. */
  maxJsonSchemaChars: 32_000,
  /** Agents in one job. */
  maxAgents: 64,
  /** Rounds in one job. */
  maxRounds: 32,
} as const;
