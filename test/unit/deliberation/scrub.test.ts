import { describe, expect, it } from "vitest";
import { denyListFor, REDACTED, scrubIdentity } from "../../../coordinator/src/deliberation/scrub.js";

describe("scrub", () => {
  it("redacts self-identifications by model family and vendor", () => {
    for (const [input, gone] of [
      ["As Llama, I believe the answer is 85.", "Llama"],
      ["I am Qwen2.5-7B and the answer is 85", "Qwen2.5-7B"],
      ["I'm a Mistral model.", "Mistral"],
      ["I was trained by OpenAI.", "OpenAI"],
      ["My name is Gemma-2 9b.", "Gemma-2"],
    ] as const) {
      const r = scrubIdentity(input, []);
      expect(r.text).not.toContain(gone);
      expect(r.text).toContain(REDACTED);
      expect(r.redactions).toBeGreaterThan(0);
    }
  });

  it("leaves family words alone outside self-identification", () => {
    const text = "The llama is a camelid; as philosophy goes, phi is the golden ratio. Answer: 85";
    expect(scrubIdentity(text, []).text).toBe(text);
  });

  it("redacts deny-listed worker ids, hosts and model names anywhere", () => {
    const deny = denyListFor([
      { workerId: "worker-7f3a", modelName: "/models/tinyllama-1.1b-chat.Q4_K_M.gguf", host: "gpu-box-2" },
    ]);
    const r = scrubIdentity("Sent from gpu-box-2 by worker-7f3a running tinyllama-1.1b-chat (Q4).", deny);
    expect(r.text).not.toMatch(/gpu-box-2|worker-7f3a|tinyllama-1\.1b-chat/);
    expect(r.redactions).toBe(3);
  });
});
