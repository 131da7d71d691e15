/** One seat writing one answer (a proposal, a sample, a synthesis): call, parse, scrub, record. */
import { create } from "@bufbuild/protobuf";
import {
  FaultKind,
  PromptKind,
  ProposalSchema,
  ProposalStartedSchema,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ErrorCode } from "../../../../proto/src/errors.js";
import { answerKey } from "../answer.js";
import { SeatFaultError } from "../errors.js";
import type { SeatInfo } from "../ports.js";
import type { PromptInput } from "../prompts/prompt-input.js";
import { parseChatProposal, parseRawProposal, proposalJsonSchema } from "../proposal-parsing.js";
import type { JobRuntime } from "./job-runtime.js";

/** A recorded answer as the engine works with it: scrubbed, keyed, costed. */
export interface ProposalRecord {
  round: number;
  seatId: string;
  /** Scrubbed: this is what other agents see. */
  answer: string;
  rationale: string;
  /** Comparison key (normalised answer). */
  key: string;
  completionTokens: number;
  latencyMs: number;
}

export interface ProposeCall {
  round: number;
  seat: SeatInfo;
  prompt: PromptInput;
  /** PROPOSE or AGGREGATE. */
  kind: PromptKind;
  /** Completion tokens, when the prompt was fitted to them. @default maxTokensFor(kind) */
  maxTokens?: number;
  temperature: number;
  seed?: number;
}

/**
 * The completion tokens a call wants: the job's limit, capped by the profile's hint for the kind. The
 * seat's context may lower it further (context-fit.ts).
 */
export function maxTokensFor(rt: JobRuntime, seat: SeatInfo, kind: PromptKind): number {
  const h = seat.profile.maxTokens;
  const hint = kind === PromptKind.AGGREGATE ? (h?.aggregate ?? h?.propose) : h?.propose;
  return hint !== undefined && hint > 0 ? Math.min(rt.params.maxTokens, hint) : rt.params.maxTokens;
}

export async function generateProposal(rt: JobRuntime, c: ProposeCall): Promise<ProposalRecord> {
  const seatId = c.seat.seat.seatId;
  if (c.kind === PromptKind.PROPOSE) {
    rt.emit({ case: "proposalStarted", value: create(ProposalStartedSchema, { round: c.round, seatId }) });
  }
  const chat = c.prompt.kind === "chat";
  const out = await rt.generate({
    round: c.round,
    seat: c.seat,
    kind: c.kind,
    prompt: c.prompt,
    maxTokens: c.maxTokens ?? maxTokensFor(rt, c.seat, c.kind),
    temperature: c.temperature,
    ...(c.seed !== undefined ? { seed: c.seed } : {}),
    ...(chat ? { jsonSchema: proposalJsonSchema() } : {}),
  });
  const parsed = chat ? parseChatProposal(out.result.text) : parseRawProposal(out.result.text);
  if (parsed === undefined) {
    throw new SeatFaultError(FaultKind.INVALID_OUTPUT, ErrorCode.INVALID_OUTPUT, "empty answer");
  }
  const answer = rt.scrub(parsed.answer);
  const rationale = rt.scrub(parsed.rationale);
  const redactions = answer.redactions + rationale.redactions;
  const notes = [parsed.note, redactions > 0 ? `${redactions} self-identification(s) scrubbed` : ""].filter(
    (n) => n !== "",
  );
  rt.emit({
    case: "proposal",
    value: create(ProposalSchema, {
      round: c.round,
      seatId,
      answer: answer.text,
      rationale: rationale.text,
      rawText: out.result.text,
      usage: out.usage,
      latencyMs: out.latencyMs,
      parseNote: notes.join("; "),
    }),
  });
  return {
    round: c.round,
    seatId,
    answer: answer.text,
    rationale: rationale.text,
    key: answerKey(answer.text),
    completionTokens: out.usage.completionTokens,
    latencyMs: out.latencyMs,
  };
}
