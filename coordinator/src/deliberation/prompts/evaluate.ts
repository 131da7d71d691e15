/** Evaluation prompts of the three NSED modes. Pure. */
import { EVALUATION_LIMITS } from "../evaluation-schema.js";
import { fence, fenceRule } from "../fence.js";
import type { AgentProfile } from "../ports.js";
import { clip } from "../state-view.js";
import { chatPrompt, fillTemplate, oneLine, type PromptInput } from "./prompt-input.js";

export interface ShownCandidate {
  alias: string;
  answer: string;
  rationale: string;
}

const BANDS =
  "Weight bands: -100 to -50 demonstrably wrong; -49 to -1 doubtful; 0 no opinion; 1 to 49 plausible; " +
  "50 to 84 convincing; 85 to 100 verified correct.";

function candidateBlock(c: ShownCandidate, nonce: string): string {
  const body =
    c.rationale.trim() !== "" ? `Answer: ${c.answer}\nRationale: ${c.rationale}` : `Answer: ${c.answer}`;
  return fence(c.alias, body, nonce);
}

export interface BatchEvaluationPromptInput {
  task: string;
  /** The evaluator's own answer this round, shown as a baseline (never a candidate). */
  ownAnswer?: string;
  candidates: readonly ShownCandidate[];
  nonce: string;
  /** Problems with the previous attempt, for the one retry. */
  problems?: readonly string[];
}

/** Problems shown on the retry; bounded, since a small context must still hold the candidates. */
const RETRY_PROBLEMS = { count: 8, chars: 160 } as const;

function retryProblems(problems: readonly string[]): string {
  const shown = problems.slice(0, RETRY_PROBLEMS.count).map((x) => `- ${clip(x, RETRY_PROBLEMS.chars)}`);
  const more = problems.length - RETRY_PROBLEMS.count;
  return [...shown, ...(more > 0 ? [`- (${more} more like these)`] : [])].join("\n");
}

/** One structured call scoring every candidate. */
export function buildBatchEvaluationPrompt(p: BatchEvaluationPromptInput): PromptInput {
  const aliases = p.candidates.map((c) => c.alias);
  const system = [
    "You review answers that other members of a panel wrote for a task. You never learn who wrote which. " +
      "Judge each candidate on its merits: correctness first, then completeness and clarity.",
    `For every candidate give an endorsement weight (an integer from -100 to 100), a stance (support, ` +
      `oppose or neutral), up to ${EVALUATION_LIMITS.claims} pivotal claims each with a verdict (verified, ` +
      "contested, wrong or unclear), and a one-paragraph critique. " +
      BANDS,
    fenceRule(p.nonce),
    `Reply with JSON only: {"evaluations": [{"candidate": "${aliases[0] ?? "Candidate A"}", "weight": 0, ` +
      `"stance": "neutral", "claims": [{"text": "...", "verdict": "unclear"}], "critique": "..."}, ...]} with ` +
      `exactly one entry for each of: ${aliases.join(", ")}.`,
  ].join("\n\n");
  const parts = [`## Task\n${p.task}`];
  if (p.ownAnswer !== undefined) {
    parts.push(
      `## Your own answer (a baseline for comparison; it is not a candidate)\n${fence("your answer", p.ownAnswer, p.nonce)}`,
    );
  }
  parts.push(`## Candidates\n${p.candidates.map((c) => candidateBlock(c, p.nonce)).join("\n\n")}`);
  if (p.problems !== undefined && p.problems.length > 0) {
    parts.push(
      `## Your previous reply was rejected\nFix every problem and reply again:\n${retryProblems(p.problems)}`,
    );
  }
  return chatPrompt(system, parts.join("\n\n"));
}

export interface VerdictPromptInput {
  profile: AgentProfile;
  task: string;
  candidate: ShownCandidate;
  verdicts: Readonly<Record<string, number>>;
  nonce: string;
}

/** One short verdict call about one candidate: the raw verify template, or a one-word chat question. */
export function buildVerdictPrompt(p: VerdictPromptInput): PromptInput {
  if (p.profile.format === "raw") {
    const template = p.profile.templates?.verify ?? "{task} {candidate}";
    return {
      kind: "raw",
      prompt: fillTemplate(template, { task: p.task, candidate: oneLine(p.candidate.answer) }),
    };
  }
  const words = Object.keys(p.verdicts);
  const system = [
    "You check one answer that another member of a panel wrote for a task. You never learn who wrote it.",
    fenceRule(p.nonce),
    `Is the answer correct? Reply with JSON only: {"verdict": one of ${words.map((w) => `"${w}"`).join(", ")}}.`,
  ].join("\n\n");
  return chatPrompt(
    system,
    `## Task\n${p.task}\n\n## Answer to check\n${candidateBlock(p.candidate, p.nonce)}`,
  );
}

/**
 * The prompt under which likelihood mode scores peers' answers: the model's own proposal prompt, so the
 * score is "how likely this model was to give exactly that answer".
 */
export function buildScorePrompt(profile: AgentProfile, task: string): PromptInput {
  if (profile.format === "raw") {
    return { kind: "raw", prompt: fillTemplate(profile.templates?.propose ?? "{task}", { task }) };
  }
  return chatPrompt(
    "You are an expert. Answer the task. Reply with the answer only, no explanation.",
    `## Task\n${task}`,
  );
}
