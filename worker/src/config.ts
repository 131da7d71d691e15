/** Every setting of `conclave worker`, declared once: flags, CONCLAVE_* variables and config-file keys. */
import type { ConfigSchema } from "../../proto/src/config.js";
import { LOG_LEVELS } from "../../proto/src/logger.js";

export const workerConfigSchema = {
  nats: { kind: "string", default: "nats://127.0.0.1:4222", doc: "NATS server URL(s), comma-separated" },
  natsToken: { kind: "string", doc: "NATS auth token", secret: true },
  natsUser: { kind: "string", doc: "NATS user" },
  natsPassword: { kind: "string", doc: "NATS password", secret: true },
  id: { kind: "string", doc: "worker id (letters, digits, - and _); default: <host>-<random>" },
  backend: { kind: "string", default: "llama", choices: ["llama", "openai"], doc: "model backend" },
  model: { kind: "string", doc: "llama: GGUF path or hf: URI (downloaded once and cached)" },
  gpuLayers: { kind: "string", default: "auto", doc: 'layers offloaded to the GPU: "auto" or a number' },
  context: {
    kind: "int",
    min: 64,
    max: 1_048_576,
    doc: "context tokens per slot (default: trained length, max 4096)",
  },
  parallel: { kind: "int", default: 1, min: 1, max: 64, doc: "parallel sequences = agent slots" },
  queuePerSlot: {
    kind: "int",
    default: 4,
    min: 0,
    max: 1024,
    doc: "waiting requests per slot before answering busy",
  },
  threads: {
    kind: "int",
    min: 1,
    max: 1024,
    doc: "CPU threads (default: math cores; use 1 for tiny models)",
  },
  batchSize: { kind: "int", min: 1, max: 65_536, doc: "tokens evaluated per batch" },
  cacheDir: { kind: "string", doc: "where hf: downloads are cached (default ~/.node-llama-cpp/models)" },
  upstream: { kind: "string", doc: "openai: API root of the server, e.g. http://127.0.0.1:11434/v1" },
  upstreamModel: { kind: "string", doc: "openai: model id on the server (default: the first it lists)" },
  apiKeyFile: {
    kind: "string",
    doc: "openai: file holding the API key (never put keys on the command line)",
  },
  telemetryInterval: { kind: "duration", default: 2000, min: 100, max: 600_000, doc: "telemetry period" },
  drainGrace: { kind: "duration", default: 60_000, min: 0, doc: "how long a drain waits for in-flight work" },
  selfBench: { kind: "boolean", default: true, doc: "measure tokens/s at start (seeds telemetry)" },
  labels: { kind: "list", default: [], doc: "key=value labels shown in `conclave workers`" },
  logLevel: {
    kind: "string",
    choices: LOG_LEVELS,
    doc: "log level (default: warn on a terminal, info otherwise)",
  },
} satisfies ConfigSchema;

/** Cross-field checks the per-field schema cannot express; returns every problem. */
export function workerConfigProblems(c: {
  backend: string;
  model?: string;
  upstream?: string;
  gpuLayers: string;
}): string[] {
  const out: string[] = [];
  if (c.backend === "llama" && !c.model)
    out.push("--model is required with the llama backend (a .gguf path or hf: URI)");
  if (c.backend === "openai" && !c.upstream)
    out.push("--upstream is required with the openai backend (e.g. http://127.0.0.1:11434/v1)");
  if (c.backend === "openai" && c.model)
    out.push("--model is for the llama backend; use --upstream-model with openai");
  if (c.gpuLayers !== "auto" && !/^\d+$/.test(c.gpuLayers))
    out.push(`--gpu-layers must be "auto" or a whole number, got "${c.gpuLayers}"`);
  return out;
}
