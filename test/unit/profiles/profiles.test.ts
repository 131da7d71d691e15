import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PROFILES,
  effectiveQuality,
  emptyQualityStats,
  ewmaEffectiveSamples,
  globMatches,
  modelKey,
  outcomeObservation,
  type ProfileFile,
  paramsPrior,
  parseProfileFile,
  parseProfileText,
  parseQualityStats,
  qualityWithStats,
  recordDeliberationOutcome,
  recordRequestOutcome,
  reliabilityOf,
  resolveOnlineUpdate,
  resolveProfile,
  serializeQualityStats,
} from "../../../coordinator/src/profiles/index.js";
import type { WorkerId } from "../../../proto/src/ids.js";

const resolve = (name: string, parameterCount?: number, family?: string) =>
  resolveProfile(DEFAULT_PROFILES, {
    name,
    ...(parameterCount === undefined ? {} : { parameterCount }),
    ...(family === undefined ? {} : { family }),
  });

describe("default profiles", () => {
  it("pass their own validation (the shipped file is a valid profile file)", () => {
    const r = parseProfileFile(JSON.parse(JSON.stringify(DEFAULT_PROFILES)));
    expect(r).toEqual({ ok: true, value: DEFAULT_PROFILES });
  });

  it.each([
    ["arith-a-d64l2", 142_400, "arith"],
    ["arith-big-d160l4", 1_329_440, "arith-big"],
    ["stories260K", 292_800, "stories260k"],
    ["llama-2-tiny-random", 513_048, "tiny-random"],
    ["LLaMA v2", 513_048, "tiny-by-params"],
    ["Qwen2.5-7B-Instruct", 7.6e9, "qwen2.5"],
    ["qwen2.5-coder-7b-instruct-q4_k_m", 7.6e9, "qwen-coder"],
    ["Qwen2.5-Math-7B-Instruct", 7.6e9, "qwen-math"],
    ["Qwen3-8B", 8.2e9, "qwen3"],
    ["Qwen3-30B-A3B", 30.5e9, "qwen3-moe"],
    ["Meta-Llama-3.1-8B-Instruct", 8e9, "llama3"],
    ["Llama-3.2-3B-Instruct", 3.2e9, "llama3"],
    ["gemma-2-9b-it", 9.2e9, "gemma2"],
    ["gemma-3-12b-it", 12e9, "gemma3"],
    ["Mistral-7B-Instruct-v0.3", 7.2e9, "mistral"],
    ["Mixtral-8x7B-Instruct-v0.1", 46.7e9, "mixtral"],
    ["Phi-3.5-mini-instruct", 3.8e9, "phi3"],
    ["phi-4", 14.7e9, "phi4"],
    ["gpt-oss-20b", 20.9e9, "gpt-oss"],
    ["DeepSeek-R1-Distill-Qwen-7B", 7.6e9, "deepseek-r1-distill"],
    ["DeepSeek-R1-Distill-Llama-8B", 8e9, "deepseek-r1-distill"],
  ])("%s (%d params) resolves to rule %s", (name, params, rule) => {
    const p = resolve(name, params);
    expect(p.ruleId).toBe(rule);
    expect(p.reason).toMatch(new RegExp(`^matched rule ${rule.replace(".", "\\.")} \\(`));
  });

  it("does not mistake look-alikes: codellama-34b is not Llama 3, Llama-2-13b falls back by params", () => {
    expect(resolve("codellama-34b-instruct", 34e9).ruleId).toBeNull();
    const l2 = resolve("Llama-2-13b-chat", 13e9, "llama");
    expect(l2.ruleId).toBeNull();
    expect(l2.reason).toBe(
      'no rule matched "Llama-2-13b-chat" (family llama); fallback by params: params prior 0.60 (13B)',
    );
  });

  it("arith models: math only, propose + evaluate (no synthesis), likelihood with raw templates", () => {
    const p = resolve("arith-b-d96l3", 385_824);
    expect(p.tags).toEqual(["math"]);
    expect(p.abilities).toEqual(["propose", "evaluate"]);
    expect(p.evaluationMode).toBe("likelihood");
    expect(p.templates?.propose).toBe("Q {task}=");
    expect(p.templates?.verify).toBe("V {task}={candidate} ?");
    expect(p.templates?.verdicts).toEqual({ Y: 100, N: -100 });
    expect(p.quality.math).toBe(0.7);
    expect(resolve("arith-big-d160l4").quality.math).toBeGreaterThan(p.quality.math);
  });

  it("tiny models get very low priors; stories260K is general", () => {
    for (const name of ["stories260K", "llama-2-tiny-random"]) {
      const p = resolve(name, 300_000);
      expect(p.tags).toContain("general");
      for (const q of Object.values(p.quality)) expect(q).toBeLessThanOrEqual(0.05);
    }
  });

  it("family offsets move priors around the parameter curve", () => {
    const coder = resolve("Qwen2.5-Coder-7B-Instruct", 7e9);
    const plain = resolve("Qwen2.5-7B-Instruct", 7e9);
    expect(coder.quality.code).toBeCloseTo(0.55 + 0.12, 10);
    expect(plain.quality.code).toBeCloseTo(0.55 + 0.04, 10);
    expect(coder.quality.code).toBeGreaterThan(plain.quality.code);
    expect(resolve("DeepSeek-R1-Distill-Qwen-7B", 7e9).quality.math).toBeCloseTo(0.67, 10);
  });

  it("likelihood is downgraded when the backend cannot score", () => {
    const p = resolveProfile(DEFAULT_PROFILES, { name: "arith-a-d64l2", supportsScoring: false });
    expect(p.evaluationMode).toBe("per-candidate");
    expect(p.reason).toMatch(/downgraded/);
  });
});

describe("fallback by parameter count", () => {
  const curve = DEFAULT_PROFILES.fallback.curve;
  it("is log-scaled and capped", () => {
    expect(paramsPrior(curve, 7e9)).toBeCloseTo(0.55, 12);
    expect(paramsPrior(curve, 70e9)).toBeCloseTo(0.75, 12);
    expect(paramsPrior(curve, 0.7e9)).toBeCloseTo(0.35, 12);
    expect(paramsPrior(curve, 1e13)).toBe(0.85);
    expect(paramsPrior(curve, 1000)).toBe(0.02);
    expect(paramsPrior(curve, 0)).toBe(0.3);
    expect(paramsPrior(curve, undefined)).toBe(0.3);
  });
  it("is monotone in the parameter count", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 1e13, noNaN: true }),
        fc.double({ min: 1, max: 1e13, noNaN: true }),
        (a, b) => {
          const [lo, hi] = a < b ? [a, b] : [b, a];
          expect(paramsPrior(curve, lo)).toBeLessThanOrEqual(paramsPrior(curve, hi));
        },
      ),
    );
  });
  it("small unknown models use per-candidate evaluation, big ones batch", () => {
    expect(resolve("some-new-model-1.5b", 1.5e9).evaluationMode).toBe("per-candidate");
    expect(resolve("some-new-model-32b", 32e9).evaluationMode).toBe("batch");
    expect(resolve("no-size-info").evaluationMode).toBe("batch");
    expect(resolve("no-size-info").quality.general).toBe(0.3);
  });
});

describe("rules", () => {
  const file: ProfileFile = {
    version: 1,
    rules: [
      {
        id: "by-family",
        match: { family: "qwen*", minParams: 1e9 },
        tags: ["general", "code"],
        quality: { code: 0.9 },
      },
      { id: "by-name", match: { name: "*special*" }, qualityOffset: { math: 0.1 } },
    ],
    fallback: DEFAULT_PROFILES.fallback,
  };
  it("first match wins; every condition of a rule must hold; absolute priors beat the curve", () => {
    const a = resolveProfile(file, { name: "special-qwen", family: "qwen2", parameterCount: 7e9 });
    expect(a.ruleId).toBe("by-family");
    expect(a.quality.code).toBe(0.9);
    expect(a.quality.general).toBeCloseTo(0.55, 12);
    const b = resolveProfile(file, { name: "special-qwen", family: "qwen2", parameterCount: 0.5e9 });
    expect(b.ruleId).toBe("by-name");
    expect(b.quality.math).toBeCloseTo(paramsPrior(file.fallback.curve, 0.5e9) + 0.1, 12);
    expect(b.tags).toEqual(file.fallback.tags);
  });
  it("globs are case-insensitive, anchored and treat regex characters literally", () => {
    expect(globMatches("*qwen2.5*", "Qwen2.5-7B")).toBe(true);
    expect(globMatches("*qwen2.5*", "qwen2x5")).toBe(false);
    expect(globMatches("arith-?-*", "arith-a-d64")).toBe(true);
    expect(globMatches("arith", "arith-a")).toBe(false);
  });
});

describe("profile file parsing", () => {
  it("layers a user file over the defaults: user rules first, same id replaces, fallback fields merge", () => {
    const r = parseProfileText(
      [
        "version: 1",
        "rules:",
        "  - id: mine",
        '    match: { name: "my-finetune*" }',
        "    tags: [general, math]",
        "    quality: { math: 0.8 }",
        "  - id: arith",
        '    match: { name: "arith-*" }',
        "    quality: { math: 0.5 }",
        "fallback:",
        "  curve: { atReference: 0.5 }",
      ].join("\n"),
      DEFAULT_PROFILES,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.rules[0]?.id).toBe("mine");
    expect(r.value.rules[1]?.id).toBe("arith");
    expect(r.value.rules.filter((x) => x.id === "arith")).toHaveLength(1);
    expect(r.value.rules.length).toBe(DEFAULT_PROFILES.rules.length + 1);
    expect(r.value.fallback.curve.atReference).toBe(0.5);
    expect(r.value.fallback.curve.perDecade).toBe(0.2);
    expect(resolveProfile(r.value, { name: "arith-a-d64l2" }).quality.math).toBe(0.5);
  });

  it("inheritDefaults: false needs a complete fallback", () => {
    const r = parseProfileFile({ version: 1, inheritDefaults: false, rules: [] }, DEFAULT_PROFILES);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]).toMatch(/fallback: is incomplete without the defaults; missing tags, abilities/);
  });

  it("lists every problem at once, each with its path", () => {
    const r = parseProfileFile(
      {
        version: 2,
        extra: true,
        rules: [
          {
            id: "bad id",
            match: {},
            tags: ["Math", "code", "code"],
            abilities: ["propose", "fly"],
            quality: { math: 1.5, poetry: 0.3 },
            qualityOffset: { code: -2 },
            evaluationMode: "vibes",
            templates: { propose: "Q {question}=", verify: "V {task} ?", score: "Q {task}={candidate}" },
          },
          { id: "r2", match: { nameRegex: "(", minParams: 10, maxParams: 1 } },
          { id: "r2", match: { name: "x".repeat(300) } },
          "not a rule",
        ],
        fallback: { curve: { min: 0.9, max: 0.1 }, evaluationMode: "batch" },
      },
      DEFAULT_PROFILES,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const expected = [
      /^version: must be 1, got 2$/,
      /^unknown field "extra"/,
      /^rules\[0\]\.id: "bad id" may only contain/,
      /^rules\[0\]\.match: needs at least one condition/,
      /^rules\[0\]\.tags\[0\]: tag "Math" must be lower-case/,
      /^rules\[0\]\.tags\[2\]: duplicate tag "code"/,
      /^rules\[0\]\.abilities\[1\]: must be one of propose, evaluate, synthesize, got "fly"/,
      /^rules\[0\]\.quality: unknown field "poetry"/,
      /^rules\[0\]\.quality\.math: must be in \[0, 1\], got 1\.5/,
      /^rules\[0\]\.qualityOffset\.code: must be in \[-1, 1\], got -2/,
      /^rules\[0\]\.evaluationMode: must be one of batch, per-candidate, likelihood/,
      /^rules\[0\]\.templates\.propose: unknown placeholder \{question\}/,
      /^rules\[0\]\.templates\.propose: must contain \{task\}/,
      /^rules\[0\]\.templates\.verify: must contain \{candidate\}/,
      /^rules\[0\]\.templates\.score: must not contain \{candidate\}/,
      /^rules\[0\]\.templates\.verify: needs a verdicts map/,
      /^rules\[1\]\.match\.nameRegex: is not a valid regular expression/,
      /^rules\[1\]\.match: minParams 10 is greater than maxParams 1/,
      /^rules\[2\]\.match\.name: is 300 characters long; the limit is 200/,
      /^rules\[2\]\.id: duplicate id "r2" \(also rules\[1\]\)/,
      /^rules\[3\]: must be an object/,
      /^fallback\.curve: min 0\.9 is greater than max 0\.1/,
    ];
    for (const re of expected)
      expect(
        r.problems.some((p) => re.test(p)),
        `missing ${re}`,
      ).toBe(true);
    expect(r.problems.length).toBe(expected.length);
  });

  it("reports syntax errors and oversized text", () => {
    const bad = parseProfileText("version: 1\nrules: [", DEFAULT_PROFILES);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems[0]).toMatch(/^not valid YAML or JSON/);
    const huge = parseProfileText(" ".repeat(1_000_001));
    expect(huge.ok).toBe(false);
  });

  it("layers over the shipped profiles by default; null defaults require a complete file", () => {
    const layered = parseProfileText('{"version": 1, "rules": [{"id": "x", "match": {"name": "x*"}}]}');
    expect(layered.ok && layered.value.rules.length).toBe(DEFAULT_PROFILES.rules.length + 1);
    const alone = parseProfileText('{"version": 1, "rules": []}', null);
    expect(alone.ok).toBe(false);
  });

  it("accepts JSON text too", () => {
    const r = parseProfileText(JSON.stringify({ version: 1, rules: [] }), DEFAULT_PROFILES);
    expect(r.ok && r.value.rules.length).toBe(DEFAULT_PROFILES.rules.length);
  });
});

describe("online quality updates", () => {
  const cfg = resolveOnlineUpdate();
  const key = modelKey({ name: "Qwen2.5-7B-Instruct", parameterCount: 7 });

  it("maps an outcome to an observation in [0, 1]", () => {
    expect(outcomeObservation({ modelKey: key, domain: "math", support: 1, won: true }, cfg)).toBe(1);
    expect(outcomeObservation({ modelKey: key, domain: "math", support: -1, won: false }, cfg)).toBe(0);
    expect(outcomeObservation({ modelKey: key, domain: "math", support: 0, won: false }, cfg)).toBeCloseTo(
      0.375,
      12,
    );
    expect(outcomeObservation({ modelKey: key, domain: "math", support: 7, won: false }, cfg)).toBe(0.75);
    expect(
      outcomeObservation({ modelKey: key, domain: "math", support: Number.NaN, won: false }, cfg),
    ).toBeCloseTo(0.375, 12);
  });

  it("folds observations into an EWMA with a count and wins", () => {
    let s = emptyQualityStats();
    s = recordDeliberationOutcome(s, { modelKey: key, domain: "math", support: 1, won: true });
    expect(s.models.get(key)?.math).toEqual({ ewma: 1, count: 1, wins: 1 });
    s = recordDeliberationOutcome(s, { modelKey: key, domain: "math", support: -1, won: false });
    expect(s.models.get(key)?.math).toEqual({ ewma: 0.9, count: 2, wins: 1 });
    s = recordDeliberationOutcome(s, { modelKey: key, domain: "code", support: 0, won: false });
    expect(s.models.get(key)?.code?.ewma).toBeCloseTo(0.375, 12);
    expect(s.models.get(key)?.math?.count).toBe(2);
  });

  it("does not mutate the stats it was given", () => {
    const s0 = emptyQualityStats();
    const s1 = recordDeliberationOutcome(s0, { modelKey: key, domain: "math", support: 1, won: true });
    recordRequestOutcome(s1, "w1" as WorkerId, false);
    expect(s0.models.size).toBe(0);
    expect(s1.workers.size).toBe(0);
  });

  it("blends the prior and the EWMA by n/(n + priorStrength), n capped at (2 − α)/α", () => {
    expect(ewmaEffectiveSamples(3, 0.1)).toBe(3);
    expect(ewmaEffectiveSamples(1000, 0.1)).toBeCloseTo(19, 12);
    expect(effectiveQuality(0.5, undefined)).toBe(0.5);
    // one observation at 1.0: w = 1/6
    expect(effectiveQuality(0.5, { ewma: 1, count: 1, wins: 1 })).toBeCloseTo(0.5 + (1 / 6) * 0.5, 12);
    // a long record: w = 19/24
    expect(effectiveQuality(0.5, { ewma: 0.9, count: 500, wins: 300 })).toBeCloseTo(
      0.5 + (19 / 24) * 0.4,
      12,
    );
  });

  it("converges to a steady observation and stays within [0, 1]", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 60 }),
        (prior, supports) => {
          let s = emptyQualityStats();
          for (const support of supports)
            s = recordDeliberationOutcome(s, { modelKey: key, domain: "review", support, won: false });
          const q = qualityWithStats(
            { general: prior, math: prior, code: prior, review: prior },
            s,
            key,
          ).review;
          expect(q).toBeGreaterThanOrEqual(0);
          expect(q).toBeLessThanOrEqual(1);
        },
      ),
    );
    let s = emptyQualityStats();
    for (let i = 0; i < 300; i++)
      s = recordDeliberationOutcome(s, { modelKey: key, domain: "math", support: 1, won: true });
    expect(qualityWithStats({ general: 0.2, math: 0.2, code: 0.2, review: 0.2 }, s, key).math).toBeCloseTo(
      0.2 + (19 / 24) * 0.8,
      9,
    );
  });

  it("reliability: Beta-smoothed success ratio starting at 0.95", () => {
    const w = "w1" as WorkerId;
    let s = emptyQualityStats();
    expect(reliabilityOf(s, w)).toBeCloseTo(0.95, 12);
    s = recordRequestOutcome(s, w, false);
    expect(reliabilityOf(s, w)).toBeCloseTo(19 / 21, 12);
    for (let i = 0; i < 10; i++) s = recordRequestOutcome(s, w, true);
    expect(s.workers.get(w)).toEqual({ successes: 10, failures: 1 });
    expect(reliabilityOf(s, w)).toBeCloseTo(29 / 31, 12);
  });

  it("model keys separate same-named models of different sizes", () => {
    expect(modelKey({ name: " LLaMA v2 ", parameterCount: 513_048 })).toBe("llama v2#513048");
    expect(modelKey({ name: "LLaMA v2", parameterCount: 6.7e9 })).not.toBe(
      modelKey({ name: "LLaMA v2", parameterCount: 513_048 }),
    );
  });
});

describe("quality stats persistence", () => {
  it("round-trips through JSON text, deterministically", () => {
    let s = emptyQualityStats();
    s = recordDeliberationOutcome(s, { modelKey: "b#1", domain: "math", support: 0.5, won: true });
    s = recordDeliberationOutcome(s, { modelKey: "a#1", domain: "code", support: -0.2, won: false });
    s = recordRequestOutcome(s, "w2" as WorkerId, true);
    s = recordRequestOutcome(s, "w1" as WorkerId, false);
    const text = serializeQualityStats(s);
    const back = parseQualityStats(text);
    expect(back.ok).toBe(true);
    if (!back.ok) return;
    expect(back.value).toEqual(s);
    expect(serializeQualityStats(back.value)).toBe(text);
    expect(JSON.parse(text).models[0].model).toBe("a#1");
  });

  it("lists every problem at once", () => {
    const r = parseQualityStats(
      JSON.stringify({
        version: 3,
        models: [
          { model: "a", domain: "poetry", ewma: 2, count: -1, wins: 0 },
          { model: "b", domain: "math", ewma: 0.5, count: 1, wins: 2 },
          { model: "b", domain: "math", ewma: 0.5, count: 2, wins: 1 },
        ],
        workers: [{ workerId: "w", successes: 1.5, failures: 0, extra: 1 }],
      }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      "version: must be 1, got 3",
      'models[0].domain: must be one of general, math, code, review, got "poetry"',
      "models[0].ewma: must be in [0, 1], got 2",
      "models[0].count: must be ≥ 0, got -1",
      "models[1]: wins 2 exceed count 1",
      "models[2]: duplicate entry for b / math",
      'workers[0]: unknown field "extra" (allowed: workerId, successes, failures)',
      "workers[0].successes: must be an integer, got 1.5",
    ]);
    expect(parseQualityStats("{").ok).toBe(false);
  });
});
