import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONVERSATION_LIMITS, conversationTask } from "../../../coordinator/src/http/conversation-task.js";

function task(messages: unknown): string {
  const r = conversationTask(messages);
  if (!r.ok) throw new Error(r.problems.map((p) => p.message).join("; "));
  return r.task;
}

describe("conversationTask", () => {
  it("turns a single user message into exactly that message", () => {
    expect(task([{ role: "user", content: "  What is 2 + 2?  " }])).toBe("What is 2 + 2?");
  });

  it("puts system instructions and earlier turns before the current message, readably", () => {
    const t = task([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello! How can I help?" },
      { role: "user", content: "What is 2 + 2?" },
    ]);
    expect(t).toBe(
      [
        "## Instructions\nBe brief.",
        "## Conversation so far",
        "User:\nHi",
        "Assistant:\nHello! How can I help?",
        "## Current message\nWhat is 2 + 2?",
      ].join("\n\n"),
    );
  });

  it("reads text content parts, treats developer as system and skips empty assistant turns", () => {
    const t = task([
      { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
      { role: "assistant", content: null },
      {
        role: "user",
        content: [
          { type: "text", text: "Capital" },
          { type: "text", text: "of Italy?" },
        ],
      },
    ]);
    expect(t).toBe("## Instructions\nAnswer in French.\n\n## Current message\nCapital\nof Italy?");
  });

  it("keeps the newest turns within the history bound and counts the omitted ones", () => {
    const turns = Array.from({ length: 40 }, (_, i) => ({
      role: i % 2 === 0 ? "user" : "assistant",
      content: `turn ${i} ${"x".repeat(900)}`,
    }));
    const r = conversationTask([...turns, { role: "user", content: "final question" }]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.omittedTurns).toBeGreaterThan(0);
    expect(r.task).toContain(`(${r.omittedTurns} earlier messages omitted)`);
    expect(r.task).toContain("turn 39");
    expect(r.task).not.toContain("turn 0 ");
    expect(r.task.endsWith("## Current message\nfinal question")).toBe(true);
    expect(r.task.length).toBeLessThan(CONVERSATION_LIMITS.maxHistoryChars + 500);
  });

  it("cuts an overlong system prompt and earlier turn with a marker, never the task", () => {
    const long = "y".repeat(CONVERSATION_LIMITS.maxTaskChars);
    const t = task([
      { role: "system", content: "s".repeat(10_000) },
      { role: "user", content: "u".repeat(5_000) },
      { role: "user", content: long },
    ]);
    expect(t).toContain("[…cut: 6000 more characters]");
    expect(t).toContain("[…cut: 3000 more characters]");
    expect(t.endsWith(long)).toBe(true);
  });

  it("lists every problem at once", () => {
    const r = conversationTask([
      { role: "narrator", content: "x" },
      { role: "user", content: [{ type: "image_url", image_url: { url: "data:" } }] },
      "not an object",
      { role: "user", content: 42 },
    ]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.param)).toEqual([
      "messages[0].role",
      "messages[1].content[0]",
      "messages[2]",
      "messages[3].content",
    ]);
  });

  it("refuses no messages, no user text, and an overlong task", () => {
    for (const bad of [
      undefined,
      "hi",
      [],
      [{ role: "system", content: "x" }],
      [{ role: "user", content: " " }],
    ]) {
      expect(conversationTask(bad).ok).toBe(false);
    }
    const r = conversationTask([{ role: "user", content: "z".repeat(CONVERSATION_LIMITS.maxTaskChars + 1) }]);
    expect(r.ok ? [] : r.problems.map((p) => p.param)).toEqual(["messages[0].content"]);
  });

  it("never throws, whatever it is given", () => {
    fc.assert(
      fc.property(fc.anything(), (messages) => {
        const r = conversationTask(messages);
        if (r.ok) expect(r.task.trim()).not.toBe("");
        else expect(r.problems.length).toBeGreaterThan(0);
      }),
    );
  });

  it("always ends with the last non-empty user message", () => {
    const message = fc.record({
      role: fc.constantFrom("system", "user", "assistant", "tool", "developer"),
      content: fc.string({ maxLength: 3000 }),
    });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 30 }), (messages) => {
        const last = [...messages].reverse().find((m) => m.role === "user" && m.content.trim() !== "");
        const r = conversationTask(messages);
        expect(r.ok).toBe(last !== undefined);
        if (r.ok && last) expect(r.task.endsWith(last.content.trim())).toBe(true);
      }),
    );
  });
});
