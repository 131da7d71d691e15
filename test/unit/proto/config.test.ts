import { describe, expect, it } from "vitest";
import {
  type ConfigSchema,
  describeSchema,
  envNameOf,
  loadConfig,
  parseDuration,
} from "../../../proto/src/config.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";

const schema = {
  natsUrl: { kind: "string", default: "nats://127.0.0.1:4222", doc: "NATS server" },
  parallel: { kind: "int", default: 1, min: 1, max: 64, doc: "slots" },
  temperature: { kind: "number", default: 0.7, min: 0, max: 2, doc: "sampling" },
  verbose: { kind: "boolean", default: false, doc: "chatty" },
  labels: { kind: "list", default: [], doc: "labels" },
  interval: { kind: "duration", default: 2000, min: 100, doc: "telemetry interval" },
  backend: { kind: "string", default: "llama", choices: ["llama", "openai"], doc: "backend" },
  model: { kind: "string", doc: "model path" },
  apiKey: { kind: "string", doc: "key", secret: true, env: "CONCLAVE_UPSTREAM_KEY" },
  noEnv: { kind: "string", doc: "flag only", env: false },
} satisfies ConfigSchema;

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConclaveError);
    expect((err as ConclaveError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    return (err as ConclaveError).details;
  }
  throw new Error("expected loadConfig to fail");
}

describe("loadConfig", () => {
  it("uses defaults when nothing else is given", () => {
    const { config, sources } = loadConfig(schema, {});
    expect(config.natsUrl).toBe("nats://127.0.0.1:4222");
    expect(config.parallel).toBe(1);
    expect(config.model).toBeUndefined();
    expect(sources.natsUrl).toBe("default");
    expect(sources.model).toBeUndefined();
  });

  it("layers defaults < file < env < flags", () => {
    const file = {
      path: "conclave.yaml",
      text: "parallel: 2\ntemperature: 0.1\nverbose: true\nmodel: a.gguf\n",
    };
    const env = { CONCLAVE_PARALLEL: "3", CONCLAVE_TEMPERATURE: "0.2" };
    const flags = { parallel: "4" };
    const { config, sources } = loadConfig(schema, { file, env, flags });
    expect(config.parallel).toBe(4);
    expect(sources.parallel).toBe("flag");
    expect(config.temperature).toBe(0.2);
    expect(sources.temperature).toBe("env");
    expect(config.verbose).toBe(true);
    expect(sources.verbose).toBe("file");
    expect(config.model).toBe("a.gguf");
    expect(config.natsUrl).toBe("nats://127.0.0.1:4222");
  });

  it("parses every kind from text", () => {
    const { config } = loadConfig(schema, {
      env: { CONCLAVE_LABELS: "room=attic, gpu=3090", CONCLAVE_INTERVAL: "1.5s", CONCLAVE_VERBOSE: "yes" },
      flags: { backend: "openai" },
    });
    expect(config.labels).toEqual(["room=attic", "gpu=3090"]);
    expect(config.interval).toBe(1500);
    expect(config.verbose).toBe(true);
    expect(config.backend).toBe("openai");
  });

  it("reports every problem at once, naming where each came from", () => {
    const problems = problemsOf(() =>
      loadConfig(schema, {
        file: { path: "c.yaml", text: "parallel: 0\nbogus: 1\n" },
        env: { CONCLAVE_TEMPERATURE: "hot", CONCLAVE_INTERVAL: "soon" },
        flags: { backend: "vllm", verbose: "maybe", unknownFlag: 1 },
      }),
    );
    expect(problems).toEqual([
      'c.yaml: unknown setting "bogus"',
      'unknown option "unknownFlag"',
      "c.yaml: parallel: 0 is below the minimum 1",
      'CONCLAVE_TEMPERATURE: expected a number, got "hot"',
      '--verbose: expected true or false, got "maybe"',
      'CONCLAVE_INTERVAL: expected a duration like 500ms, 2s or 5m, got "soon"',
      '--backend: "vllm" is not one of llama, openai',
    ]);
  });

  it("reports a broken config file and a required field", () => {
    const required = { token: { kind: "string", required: true, doc: "t" } } satisfies ConfigSchema;
    const problems = problemsOf(() => loadConfig(required, { file: { path: "x.yaml", text: "a: [1, 2" } }));
    expect(problems[0]).toMatch(/^x\.yaml: not valid YAML\/JSON/);
    expect(problems[1]).toBe("--token is required (or set CONCLAVE_TOKEN)");
  });

  it("rejects a file that is not a mapping", () => {
    expect(problemsOf(() => loadConfig(schema, { file: { path: "l.yaml", text: "- 1\n- 2\n" } }))).toEqual([
      "l.yaml: expected a mapping of settings at the top level",
    ]);
  });

  it("names environment variables and honours overrides", () => {
    expect(envNameOf("natsUrl", schema.natsUrl)).toBe("CONCLAVE_NATS_URL");
    expect(envNameOf("apiKey", schema.apiKey)).toBe("CONCLAVE_UPSTREAM_KEY");
    expect(envNameOf("noEnv", schema.noEnv)).toBeUndefined();
    expect(loadConfig(schema, { env: { CONCLAVE_NO_ENV: "x" } }).config.noEnv).toBeUndefined();
  });

  it("parses durations", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("2s")).toBe(2000);
    expect(parseDuration("1.5m")).toBe(90_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("42")).toBe(42);
    expect(parseDuration("-1s")).toBeUndefined();
    expect(parseDuration("2 weeks")).toBeUndefined();
  });

  it("documents a schema without printing secrets", () => {
    const doc = describeSchema("worker", { ...schema, apiKey: { ...schema.apiKey, default: "sk-123" } });
    expect(doc).toContain("| `--nats-url` | `CONCLAVE_NATS_URL` | `nats://127.0.0.1:4222` | NATS server |");
    expect(doc).toContain("One of: llama, openai.");
    expect(doc).not.toContain("sk-123");
  });
});
