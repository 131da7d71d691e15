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

/** All the text of a prompt, for token counting and audits. */
export function promptText(input: PromptInput): string {
  return input.kind === "raw" ? input.prompt : input.messages.map((m) => m.content).join("\n");
}

/** Replaces `{name}` placeholders; unknown placeholders stay as they are. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => values[name] ?? m);
}

/** Raw task formats are one line: a peer answer put into one must not break the format. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
