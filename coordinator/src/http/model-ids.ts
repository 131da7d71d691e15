/**
 * The OpenAI "models" the endpoint offers: one per strategy. `conclave` is NSED (the product's point), every
 * other strategy is `conclave-<name>` (`conclave-moa`, `conclave-self-moa-seq`, …). Pure.
 */
import { Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { strategyNames } from "../../../proto/src/names.js";

/** Owner every listed model reports. */
export const MODEL_OWNER = "conclave";

const BASE_ID = "conclave";

/** The model id a strategy is listed under. */
export function modelIdOf(strategy: Strategy): string {
  return strategy === Strategy.NSED ? BASE_ID : `${BASE_ID}-${strategyNames.name(strategy)}`;
}

/** Every listed model id, NSED first. */
export function modelIds(): string[] {
  return strategyNames.names.map((name) => modelIdOf(strategyNames.parse(name) ?? Strategy.NSED));
}

/**
 * The strategy a requested model id stands for, or undefined. Case and surrounding space are forgiven, and
 * `conclave-nsed` is accepted as a synonym of `conclave` (it is what a user guesses first).
 */
export function strategyOfModelId(id: string): Strategy | undefined {
  const norm = id.trim().toLowerCase();
  if (norm === BASE_ID) return Strategy.NSED;
  if (!norm.startsWith(`${BASE_ID}-`)) return undefined;
  return strategyNames.parse(norm.slice(BASE_ID.length + 1));
}

/** One entry of `GET /v1/models`, in OpenAI's shape. */
export interface OpenAiModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/** The list `GET /v1/models` returns; `created` is when the server started (seconds). */
export function modelList(createdSeconds: number): { object: "list"; data: OpenAiModel[] } {
  return {
    object: "list",
    data: modelIds().map((id) => ({ id, object: "model", created: createdSeconds, owned_by: MODEL_OWNER })),
  };
}
