/**
 * An OpenAI chat conversation as one Conclave task. The ensemble answers a task, not a chat, so: the last
 * user message is the task; system (and `developer`) messages and the other turns come before it as
 * readable context, bounded so a long chat cannot crowd out the deliberation (newest turns kept, oldest
 * dropped and counted). A single-message chat becomes exactly that message. Pure.
 */
import { LIMITS } from "../../../proto/src/limits.js";

/** Bounds of the context built around the task, in characters. */
export const CONVERSATION_LIMITS = {
  /** Messages one request may carry. */
  maxMessages: 1_000,
  /** The task (last user message) itself; longer is an error, never cut. */
  maxTaskChars: LIMITS.maxTaskChars,
  /** System instructions kept (all system messages together); the rest is cut with a marker. */
  maxSystemChars: 4_000,
  /** One earlier turn kept; the rest is cut with a marker. */
  maxTurnChars: 2_000,
  /** All earlier turns together; older turns beyond it are omitted and counted. */
  maxHistoryChars: 8_000,
} as const;

/** A problem with one request field, named the way the client sent it (`messages[2].content`). */
export interface FieldProblem {
  param: string;
  message: string;
}

export type ConversationResult =
  | { ok: true; task: string /** Earlier turns left out for the history bound. */; omittedTurns: number }
  | { ok: false; problems: FieldProblem[] };

type Role = "system" | "user" | "assistant" | "tool";

const ROLES: Readonly<Record<string, Role>> = {
  system: "system",
  developer: "system",
  user: "user",
  assistant: "assistant",
  tool: "tool",
  function: "tool",
};

const LABEL: Readonly<Record<Exclude<Role, "system">, string>> = {
  user: "User",
  assistant: "Assistant",
  tool: "Tool result",
};

interface Turn {
  role: Role;
  text: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The text of a message's content: a string, null (assistant tool calls), or an array of parts. */
function contentText(content: unknown, param: string, problems: FieldProblem[]): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) {
    problems.push({ param, message: `${param} must be a string or an array of content parts` });
    return "";
  }
  const texts: string[] = [];
  content.forEach((part, i) => {
    const at = `${param}[${i}]`;
    if (!isRecord(part) || typeof part.type !== "string") {
      problems.push({ param: at, message: `${at} must be an object with a "type"` });
    } else if (part.type === "text" && typeof part.text === "string") {
      texts.push(part.text);
    } else if (part.type === "refusal" && typeof part.refusal === "string") {
      texts.push(part.refusal);
    } else if (part.type === "text") {
      problems.push({ param: at, message: `${at}.text must be a string` });
    } else {
      problems.push({
        param: at,
        message: `${at} is a "${part.type.slice(0, 40)}" part; only text is supported (the ensemble's models read text)`,
      });
    }
  });
  return texts.join("\n");
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)} […cut: ${text.length - max} more characters]`;
}

function parseTurns(messages: unknown, problems: FieldProblem[]): Turn[] {
  if (!Array.isArray(messages)) {
    problems.push({ param: "messages", message: "messages must be an array of chat messages" });
    return [];
  }
  if (messages.length === 0) {
    problems.push({ param: "messages", message: "messages is empty; send at least one user message" });
    return [];
  }
  if (messages.length > CONVERSATION_LIMITS.maxMessages) {
    problems.push({
      param: "messages",
      message: `messages has ${messages.length} entries; at most ${CONVERSATION_LIMITS.maxMessages} are accepted`,
    });
    return [];
  }
  const turns: Turn[] = [];
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (!isRecord(m)) {
      problems.push({ param: at, message: `${at} must be an object with "role" and "content"` });
      return;
    }
    const role = typeof m.role === "string" ? ROLES[m.role] : undefined;
    if (role === undefined) {
      problems.push({
        param: `${at}.role`,
        message: `${at}.role must be one of system, developer, user, assistant, tool (got ${JSON.stringify(m.role)?.slice(0, 40)})`,
      });
      return;
    }
    turns.push({ role, text: contentText(m.content, `${at}.content`, problems) });
  });
  return turns;
}

/** Builds the task; lists every problem with the messages at once. */
export function conversationTask(messages: unknown): ConversationResult {
  const problems: FieldProblem[] = [];
  const turns = parseTurns(messages, problems);
  if (problems.length > 0) return { ok: false, problems };
  let taskIndex = -1;
  for (let i = turns.length - 1; i >= 0; i--) {
    if (turns[i]?.role === "user" && turns[i]?.text.trim() !== "") {
      taskIndex = i;
      break;
    }
  }
  if (taskIndex < 0) {
    return {
      ok: false,
      problems: [{ param: "messages", message: "messages has no user message with text: there is no task" }],
    };
  }
  const task = turns[taskIndex]?.text.trim() ?? "";
  if (task.length > CONVERSATION_LIMITS.maxTaskChars) {
    return {
      ok: false,
      problems: [
        {
          param: `messages[${taskIndex}].content`,
          message: `the last user message is ${task.length} characters; at most ${CONVERSATION_LIMITS.maxTaskChars} are accepted`,
        },
      ],
    };
  }
  const system = turns
    .filter((t) => t.role === "system" && t.text.trim() !== "")
    .map((t) => t.text.trim())
    .join("\n\n");
  const others = turns.filter((t, i) => i !== taskIndex && t.role !== "system" && t.text.trim() !== "");
  // Newest turns matter most for the current message: keep from the end until the history bound.
  const kept: string[] = [];
  let used = 0;
  let omittedTurns = 0;
  for (let i = others.length - 1; i >= 0; i--) {
    const t = others[i]!;
    const block = `${LABEL[t.role as Exclude<Role, "system">]}:\n${cut(t.text.trim(), CONVERSATION_LIMITS.maxTurnChars)}`;
    if (omittedTurns > 0 || used + block.length > CONVERSATION_LIMITS.maxHistoryChars) {
      omittedTurns += 1;
      continue;
    }
    kept.unshift(block);
    used += block.length;
  }
  if (system === "" && kept.length === 0 && omittedTurns === 0) return { ok: true, task, omittedTurns };
  const sections: string[] = [];
  if (system !== "") sections.push(`## Instructions\n${cut(system, CONVERSATION_LIMITS.maxSystemChars)}`);
  if (kept.length > 0 || omittedTurns > 0) {
    const note = omittedTurns > 0 ? [`(${omittedTurns} earlier messages omitted)`] : [];
    sections.push(["## Conversation so far", ...note, ...kept].join("\n\n"));
  }
  sections.push(`## Current message\n${task}`);
  return { ok: true, task: sections.join("\n\n"), omittedTurns };
}
