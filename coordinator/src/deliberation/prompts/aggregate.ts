/** Prompts that show an agent others' answers: MoA layers, aggregation, debate, the council's chairman. Pure. */
import { fence, fenceRule } from "../fence.js";
import { chatPrompt, type PromptInput } from "./prompt-input.js";

export interface ShownResponse {
  /** e.g. `Response 2` — an alias, never an identity. */
  label: string;
  text: string;
}

const JSON_REPLY =
  'Reply with JSON only, in the form {"answer": "<the complete final answer>", "rationale": "<how you ' +
  'reached it, at most 100 words>"}.';

/** The task followed by others' fenced answers: the context of a MoA layer-2+ proposer or a debater. */
export function referencesContext(
  task: string,
  heading: string,
  responses: readonly ShownResponse[],
  nonce: string,
): string {
  return `## Task\n${task}\n\n## ${heading}\n${responses.map((r) => fence(r.label, r.text, nonce)).join("\n\n")}`;
}

export interface AggregatePromptInput {
  task: string;
  responses: readonly ShownResponse[];
  nonce: string;
  /** Self-MoA-Seq: the synthesis so far, shown first. */
  synthesis?: string;
  /** Council: the peers' ranking, as a sentence. */
  rankingNote?: string;
}

/** Synthesise one answer from several (aggregator, chairman). */
export function buildAggregatePrompt(p: AggregatePromptInput): PromptInput {
  const system = [
    "You are given several candidate responses to a task, written by different anonymous sources. Some may " +
      "be wrong, incomplete or biased. Evaluate them critically and synthesise one single answer that is " +
      "accurate, complete and well reasoned. Do not simply copy one response and do not mention the responses.",
    fenceRule(p.nonce),
    JSON_REPLY,
  ].join("\n\n");
  const parts = [`## Task\n${p.task}`];
  if (p.synthesis !== undefined) {
    parts.push(
      `## Current synthesis (refine it with the new responses)\n${fence("current synthesis", p.synthesis, p.nonce)}`,
    );
  }
  if (p.rankingNote !== undefined) parts.push(`## Peer ranking\n${p.rankingNote}`);
  parts.push(`## Responses\n${p.responses.map((r) => fence(r.label, r.text, p.nonce)).join("\n\n")}`);
  parts.push("Write the final answer now.");
  return chatPrompt(system, parts.join("\n\n"));
}
