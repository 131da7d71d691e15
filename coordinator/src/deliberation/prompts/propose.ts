/** Proposal prompts: the first answer of every strategy, and NSED's per-round proposal. Pure. */
import { fenceRule } from "../fence.js";
import type { AgentProfile } from "../ports.js";
import { chatPrompt, fillTemplate, type PromptInput } from "./prompt-input.js";

export const DEFAULT_PROPOSER_SYSTEM =
  "You are one of several independent experts answering the same task. Give your own best, complete and " +
  "correct answer.";

const JSON_REPLY =
  'Reply with JSON only, in the form {"answer": "<your complete answer>", "rationale": "<your key reasoning, ' +
  'at most 100 words>"}.';

export interface ProposePromptInput {
  profile: AgentProfile;
  task: string;
  /** The job's system prompt override; empty for the default. */
  systemPrompt: string;
  /**
   * What the agent is told besides the instructions: the NSED state view (which starts with the task), or
   * the task followed by others' fenced answers (MoA layers, debate). Undefined: just the task.
   */
  context?: string;
  /** Extra instruction after the context (e.g. "improve your answer"). */
  instruction?: string;
  /** Set when the context holds fenced data. */
  nonce?: string;
}

/** A raw model gets its trained format and nothing else: it cannot read a state view or others' answers. */
export function rawProposePrompt(profile: AgentProfile, task: string): PromptInput {
  return { kind: "raw", prompt: fillTemplate(profile.templates?.propose ?? "{task}", { task }) };
}

export function buildProposePrompt(p: ProposePromptInput): PromptInput {
  if (p.profile.format === "raw") return rawProposePrompt(p.profile, p.task);
  const system = [
    p.systemPrompt.trim() !== "" ? p.systemPrompt.trim() : DEFAULT_PROPOSER_SYSTEM,
    ...(p.nonce !== undefined ? [fenceRule(p.nonce)] : []),
    JSON_REPLY,
  ].join("\n\n");
  const user = [p.context ?? `## Task\n${p.task}`, p.instruction ?? "Write your answer now."].join("\n\n");
  return chatPrompt(system, user);
}
