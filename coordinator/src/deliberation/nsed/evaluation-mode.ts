/** Which evaluation mode a seat uses: the job's choice when the model can do it, else its profile's. Pure. */
import { EvaluationMode } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import type { AgentProfile } from "../ports.js";

/** Whether a model can evaluate in a mode. */
export function supportsMode(profile: AgentProfile, mode: EvaluationMode): boolean {
  const chat = profile.format === "chat";
  switch (mode) {
    case EvaluationMode.BATCH:
      return chat;
    case EvaluationMode.PER_CANDIDATE:
      return (
        chat ||
        ((profile.templates?.verify ?? "") !== "" &&
          profile.verdicts !== undefined &&
          Object.keys(profile.verdicts).length > 0)
      );
    case EvaluationMode.LIKELIHOOD:
      return chat || (profile.templates?.propose ?? "") !== "";
    default:
      return false;
  }
}

export interface ResolvedMode {
  mode: EvaluationMode;
  /** Set when the job's choice could not be honoured for this seat. */
  note?: string;
}

const FALLBACK_ORDER = [
  EvaluationMode.BATCH,
  EvaluationMode.PER_CANDIDATE,
  EvaluationMode.LIKELIHOOD,
] as const;

export function resolveEvaluationMode(jobMode: EvaluationMode, profile: AgentProfile): ResolvedMode {
  const requested = jobMode !== EvaluationMode.UNSPECIFIED ? jobMode : profile.evaluationMode;
  if (supportsMode(profile, requested)) return { mode: requested };
  const fallback = supportsMode(profile, profile.evaluationMode)
    ? profile.evaluationMode
    : (FALLBACK_ORDER.find((m) => supportsMode(profile, m)) ?? EvaluationMode.LIKELIHOOD);
  return {
    mode: fallback,
    ...(requested !== EvaluationMode.UNSPECIFIED
      ? {
          note: `${EvaluationMode[requested]} evaluation is not possible for this model; using ${EvaluationMode[fallback]}`,
        }
      : {}),
  };
}
