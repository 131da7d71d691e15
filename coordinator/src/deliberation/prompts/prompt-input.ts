/** The two shapes a prompt takes, and small helpers shared by the prompt builders. Pure. */
import { create } from "@bufbuild/protobuf";
import {
  type ChatMessage,
  ChatMessageSchema,
  ChatRole,
} from "../../../../proto/gen/conclave/v1/common_pb.js";

export type PromptInput = { kind: "chat"; messages: ChatMessage[] } | { kind: "raw"; prompt: string };

export function chatPrompt(system: string, user: string): PromptInput {
  return {
    kind: "chat",
    messages: [
      create(ChatMessageSchema, { role: ChatRole.SYSTEM, content: system }),
      create(ChatMessageSchema, { role: ChatRole.USER, content: user }),
    ],
  };
}

/**
 * The texts of the last few chat prompts: one prompt is counted several times on its way out (fitting,
 * planning, recording), one right after the other, and prompts are never changed once built. A few entries,
 * not a WeakMap: the transcript keeps every prompt's messages for the job's life, and a cached copy of
 * each prompt's text would be kept as long.
 */
const recentTexts = new Map<readonly ChatMessage[], string>();
const RECENT_TEXTS = 8;

/** All the text of a prompt, for token counting and audits. */
export function promptText(input: PromptInput): string {
  if (input.kind === "raw") return input.prompt;
  let text = recentTexts.get(input.messages);
  if (text === undefined) {
    text = input.messages.map((m) => m.content).join("\n");
    recentTexts.set(input.messages, text);
    if (recentTexts.size > RECENT_TEXTS) {
      const oldest = recentTexts.keys().next().value;
      if (oldest !== undefined) recentTexts.delete(oldest);
    }
  }
  return text;
}

/** Replaces `{name}` placeholders; unknown placeholders stay as they are. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => values[name] ?? m);
}

/** Raw task formats are one line: a peer answer put into one must not break the format. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
