/**
 * The OpenAI-compatible endpoint over real HTTP (127.0.0.1, port 0) in front of a real in-process
 * coordinator on a real nats-server, with three real worker services around scripted models. The scripted
 * models answer every proposal with the same JSON answer and every review with a valid evaluation, so any
 * strategy's answer is known exactly and stream and non-stream can be compared.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenAiHttpServer, type OpenAiHttpServer } from "../../coordinator/src/http/index.js";
import { JobState } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { ErrorCode } from "../../proto/src/errors.js";
import { BackendError } from "../../worker/src/backends/errors.js";
import type { GenerateRequest } from "../../worker/src/backends/types.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { testLogger } from "../support/logger.js";
import { pollUntil } from "../support/poll.js";
import { ScriptedBackend } from "../support/scripted-backend.js";

const ANSWER = "Paris is the capital of France.";
const TOKEN = "s3cret-token-for-tests";
/** Tasks containing this never finish on their own: the models wait (abortably) for a minute. */
const SLOW = "PLEASE-TAKE-FOREVER";
/** Tasks containing this make every model call fail. */
const FAIL = "PLEASE-FAIL-NOW";

function promptText(req: GenerateRequest): string {
  return req.prompt ?? (req.messages ?? []).map((m) => m.content).join("\n");
}

interface SchemaLike {
  properties?: {
    answer?: unknown;
    evaluations?: { items?: { properties?: { candidate?: { enum?: unknown } } } };
  };
}

/** A valid reply to whichever call this is: a proposal, a batch evaluation, or plain text. */
function respond(req: GenerateRequest): string {
  const props = (req.jsonSchema as SchemaLike | undefined)?.properties;
  const aliases = props?.evaluations?.items?.properties?.candidate?.enum;
  if (Array.isArray(aliases)) {
    return JSON.stringify({
      evaluations: aliases.map((candidate) => ({
        candidate,
        weight: 90,
        stance: "support",
        claims: [{ text: "Paris is the capital.", verdict: "verified" }],
        critique: "Correct and complete.",
      })),
    });
  }
  if (props?.answer !== undefined) return JSON.stringify({ answer: ANSWER, rationale: "Well known." });
  return ANSWER;
}

function scripted(name: string): ScriptedBackend {
  return new ScriptedBackend({
    name,
    family: name,
    slots: 2,
    respond,
    prefillDelayMs: (req) => (promptText(req).includes(SLOW) ? 60_000 : 0),
    fail: (req) =>
      promptText(req).includes(FAIL) ? new BackendError("model_error", "scripted model failure") : undefined,
  });
}

let cluster: TestCluster;
let open: OpenAiHttpServer;
let guarded: OpenAiHttpServer;
let base: string;
let guardedBase: string;

beforeAll(async () => {
  cluster = await startTestCluster([
    { id: "oa1", backend: scripted("alpha") },
    { id: "oa2", backend: scripted("bravo") },
    { id: "oa3", backend: scripted("charlie") },
  ]);
  const deps = { jobs: cluster.coordinator.jobs, registry: cluster.coordinator.registry };
  open = createOpenAiHttpServer({ ...deps, log: testLogger("http"), keepAliveMs: 200 });
  guarded = createOpenAiHttpServer({ ...deps, log: testLogger("http-auth"), token: TOKEN });
  base = `http://127.0.0.1:${await open.listen("127.0.0.1", 0)}`;
  guardedBase = `http://127.0.0.1:${await guarded.listen("127.0.0.1", 0)}`;
}, 60_000);

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await cluster?.stop();
});

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(init.headers ?? {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

interface Chunk {
  id: string;
  object: string;
  model: string;
  choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  conclave?: { job_id: string };
}

/** Splits an SSE body into its data payloads (in order) and its comment lines. */
function parseSse(text: string): { data: string[]; comments: string[] } {
  const data: string[] = [];
  const comments: string[] = [];
  for (const block of text.split("\n\n")) {
    if (block === "") continue;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) comments.push(line.slice(1).trim());
      else if (line.startsWith("data: ")) data.push(line.slice("data: ".length));
      else throw new Error(`not an SSE line: ${JSON.stringify(line)}`);
    }
  }
  return { data, comments };
}

describe("GET /v1/models and /health", () => {
  it("lists one model per strategy, owned by conclave", async () => {
    const res = await fetch(`${base}/v1/models`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: Array<{ id: string; owned_by: string }> };
    expect(body.object).toBe("list");
    expect(body.data.map((m) => m.id)).toEqual([
      "conclave",
      "conclave-single",
      "conclave-majority",
      "conclave-moa",
      "conclave-self-moa",
      "conclave-self-moa-seq",
      "conclave-debate",
      "conclave-council",
    ]);
    for (const m of body.data) expect(m.owned_by).toBe("conclave");
    const one = await fetch(`${base}/v1/models/conclave-moa`);
    expect(((await one.json()) as { id: string }).id).toBe("conclave-moa");
    expect((await fetch(`${base}/v1/models/gpt-4`)).status).toBe(404);
  });

  it("reports health with the number of live workers", async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", workers: 3 });
  });
});

describe("POST /v1/chat/completions", () => {
  it("answers with the job's answer, its usage and the conclave field", async () => {
    const res = await post("/v1/chat/completions", {
      model: "conclave",
      messages: [{ role: "user", content: "What is the capital of France?" }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      id: string;
      object: string;
      model: string;
      choices: Array<{ message: { role: string; content: string }; finish_reason: string }>;
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
      conclave: { job_id: string; strategy: string; rounds: number; stop_reason: string };
    };
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("conclave");
    expect(body.choices[0]?.message).toMatchObject({ role: "assistant", content: ANSWER });
    expect(body.choices[0]?.finish_reason).toBe("stop");
    expect(body.conclave.strategy).toBe("nsed");
    expect(res.headers.get("x-conclave-job-id")).toBe(body.conclave.job_id);
    expect(body.id).toBe(`chatcmpl-${body.conclave.job_id}`);
    const job = await cluster.coordinator.jobs.get(body.conclave.job_id);
    expect(job?.state).toBe(JobState.SUCCEEDED);
    expect(job?.result?.answer).toBe(ANSWER);
    // The single-message task is the message itself.
    expect(job?.spec?.task).toBe("What is the capital of France?");
    expect(body.usage.prompt_tokens).toBe(job?.result?.usage?.promptTokens);
    expect(body.usage.completion_tokens).toBe(job?.result?.usage?.completionTokens);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(body.conclave.rounds).toBe(job?.result?.rounds);
    expect(body.conclave.rounds).toBeGreaterThan(0);
    expect(body.conclave.stop_reason).not.toBe("unspecified");
  });

  it("streams an SDK-style request (system + user, temperature, stream_options) as SSE ending in [DONE]", async () => {
    const res = await post("/v1/chat/completions", {
      model: "conclave",
      messages: [
        { role: "system", content: "You are a concise geography tutor." },
        { role: "user", content: "What is the capital of France?" },
      ],
      temperature: 0.2,
      max_tokens: 64,
      stream: true,
      stream_options: { include_usage: true },
      // What the openai SDKs and Open WebUI also send; the ensemble ignores it.
      top_p: 1,
      user: "someone",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const { data, comments } = parseSse(await res.text());
    expect(data.at(-1)).toBe("[DONE]");
    expect(comments).toContain("round 1");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    for (const c of chunks) {
      expect(c.object).toBe("chat.completion.chunk");
      expect(c.id).toBe(chunks[0]?.id);
      expect(c.model).toBe("conclave");
    }
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(content).toBe(ANSWER);
    // The finish chunk, then (include_usage) one chunk with no choices and the usage.
    const finish = chunks.at(-2);
    expect(finish?.choices[0]?.finish_reason).toBe("stop");
    const usage = chunks.at(-1);
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage?.completion_tokens).toBeGreaterThan(0);
    const jobId = finish?.conclave?.job_id ?? "";
    const job = await cluster.coordinator.jobs.get(jobId);
    expect(job?.result?.answer).toBe(content);
    expect(usage?.usage?.prompt_tokens).toBe(job?.result?.usage?.promptTokens);
    // The conversation became one readable task; the parameters reached the job.
    expect(job?.spec?.task).toContain("## Instructions\nYou are a concise geography tutor.");
    expect(job?.spec?.task).toContain("## Current message\nWhat is the capital of France?");
    expect(job?.spec?.params?.temperature).toBeCloseTo(0.2);
    expect(job?.spec?.params?.maxTokens).toBe(64);
  });

  it("stream and non-stream give the same answer for the same request", async () => {
    const req = {
      model: "conclave-moa",
      messages: [{ role: "user", content: "Name the capital of France." }],
    };
    const plain = (await (await post("/v1/chat/completions", req)).json()) as {
      choices: Array<{ message: { content: string } }>;
    };
    const streamed = parseSse(await (await post("/v1/chat/completions", { ...req, stream: true })).text());
    const content = streamed.data
      .slice(0, -1)
      .map((d) => (JSON.parse(d) as Chunk).choices[0]?.delta.content ?? "")
      .join("");
    expect(content).toBe(plain.choices[0]?.message.content);
    expect(content).toBe(ANSWER);
  });

  it("runs the strategy the model names (conclave-single) with the conclave options", async () => {
    const res = await post("/v1/chat/completions", {
      model: "conclave-single",
      messages: [{ role: "user", content: "Capital of France?" }],
      max_completion_tokens: 32,
      conclave: { domain: "general" },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      choices: Array<{ message: { content: string } }>;
      conclave: { strategy: string; job_id: string };
    };
    expect(body.conclave.strategy).toBe("single");
    expect(body.choices[0]?.message.content).toBe(ANSWER);
    const job = await cluster.coordinator.jobs.get(body.conclave.job_id);
    expect(job?.spec?.params?.maxTokens).toBe(32);
  });

  it("passes agents and rounds through the conclave field", async () => {
    const res = await post("/v1/chat/completions", {
      model: "conclave",
      messages: [{ role: "user", content: "Capital of France, please." }],
      conclave: { agents: 3, rounds: 1, eval_mode: "batch" },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { conclave: { job_id: string; rounds: number } };
    expect(body.conclave.rounds).toBe(1);
    const job = await cluster.coordinator.jobs.get(body.conclave.job_id);
    expect(job?.spec?.params).toMatchObject({ agents: 3, maxRounds: 1 });
    expect(job?.seats.length).toBe(3);
  });

  it("answers a failed job with an error carrying the job's message, plain and streamed", async () => {
    const req = { model: "conclave-single", messages: [{ role: "user", content: `${FAIL} now` }] };
    const res = await post("/v1/chat/completions", req);
    expect(res.status).toBeGreaterThanOrEqual(400);
    const body = (await res.json()) as ErrorBody;
    const jobId = res.headers.get("x-conclave-job-id") ?? "";
    const job = await cluster.coordinator.jobs.get(jobId);
    expect(job?.state).toBe(JobState.FAILED);
    expect(job?.error?.code).not.toBe(ErrorCode.UNSPECIFIED);
    expect(body.error.message).toBe(job?.error?.message);
    expect(body.error.message.length).toBeGreaterThan(0);

    const streamed = await post("/v1/chat/completions", { ...req, stream: true });
    const { data } = parseSse(await streamed.text());
    expect(data).not.toContain("[DONE]");
    const last = JSON.parse(data.at(-1) ?? "{}") as ErrorBody;
    expect(last.error.message.length).toBeGreaterThan(0);
  });
});

describe("bad input never crashes the server", () => {
  it("refuses an unknown model with 404 model_not_found listing the models", async () => {
    const res = await post("/v1/chat/completions", {
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("model_not_found");
    expect(body.error.param).toBe("model");
    expect(body.error.message).toContain("conclave-self-moa-seq");
  });

  it("refuses malformed JSON, an empty body and a non-object with 400", async () => {
    const bad = await post("/v1/chat/completions", '{"model": "conclave", "messages": [');
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as ErrorBody;
    expect(body.error.code).toBe("invalid_json");
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toMatch(/not valid JSON/);
    expect((await post("/v1/chat/completions", "")).status).toBe(400);
    expect((await post("/v1/chat/completions", "[1,2]")).status).toBe(400);
  });

  it("lists every problem of a bad request at once", async () => {
    const res = await post("/v1/chat/completions", {
      model: "conclave",
      messages: [{ role: "narrator", content: "hi" }],
      temperature: 7,
      n: 3,
      conclave: { agents: 0, flavour: "x" },
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorBody;
    for (const part of [
      "messages[0].role",
      "temperature",
      "n must be 1",
      "conclave.agents",
      "conclave.flavour",
    ])
      expect(error.message).toContain(part);
  });

  it("refuses a body over the limit with 413, declared or chunked", async () => {
    const big = JSON.stringify({
      model: "conclave",
      messages: [{ role: "user", content: "x".repeat(1024 * 1024 + 10) }],
    });
    const res = await post("/v1/chat/completions", big);
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe("request_too_large");
    const port = Number(new URL(base).port);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port, method: "POST", path: "/v1/chat/completions" },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      // No Content-Length: the body arrives chunked and is cut when it crosses the limit.
      for (let i = 0; i < 20; i++) req.write("x".repeat(64 * 1024));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it("answers a wrong method with 405 and an unknown path with 404", async () => {
    const res = await fetch(`${base}/v1/chat/completions`);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(((await res.json()) as ErrorBody).error.code).toBe("method_not_allowed");
    expect((await post("/v1/models", {})).status).toBe(405);
    expect((await fetch(`${base}/v1/models/?limit=3`)).status).toBe(200);
    expect((await fetch(`${base}/v1/models/%E0%A4%A`)).status).toBe(404);
    const missing = await fetch(`${base}/v1/completions`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.message).toContain("/v1/chat/completions");
  });
});

describe("bearer token", () => {
  const chat = (headers: Record<string, string>) =>
    fetch(`${guardedBase}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: "conclave-single", messages: [{ role: "user", content: "Capital?" }] }),
    });

  it("refuses a request without a token or with the wrong one with 401", async () => {
    const none = await chat({});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const body = (await none.json()) as ErrorBody;
    expect(body.error.type).toBe("authentication_error");
    expect(body.error.message).not.toContain(TOKEN);
    expect((await chat({ authorization: "Bearer not-the-token" })).status).toBe(401);
    expect((await chat({ authorization: TOKEN })).status).toBe(401);
    expect((await fetch(`${guardedBase}/v1/models`)).status).toBe(401);
  });

  it("serves the right token, and /health without one", async () => {
    const ok = await chat({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(
      ((await ok.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content,
    ).toBe(ANSWER);
    const models = await fetch(`${guardedBase}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(models.status).toBe(200);
    expect((await fetch(`${guardedBase}/health`)).status).toBe(200);
  });
});

describe("a client that goes away cancels its job", () => {
  it("streaming: aborting after the first chunk cancels the job", async () => {
    const controller = new AbortController();
    const res = await post(
      "/v1/chat/completions",
      { model: "conclave", messages: [{ role: "user", content: `${SLOW} stream` }], stream: true },
      { signal: controller.signal },
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const text = new TextDecoder().decode(first.value);
    const chunk = JSON.parse(parseSse(text).data[0] ?? "{}") as Chunk;
    const jobId = chunk.id.slice("chatcmpl-".length);
    expect(res.headers.get("x-conclave-job-id")).toBe(jobId);
    // Keep-alive comments flow while the ensemble works (keepAliveMs is 200 on this server).
    await pollUntil("a keep-alive comment", async () => {
      const next = await reader.read();
      return new TextDecoder().decode(next.value).includes(": keep-alive");
    });
    controller.abort();
    const job = await pollUntil("the job cancelled", async () => {
      const j = await cluster.coordinator.jobs.get(jobId);
      return j?.state === JobState.CANCELLED ? j : undefined;
    });
    expect(job.state).toBe(JobState.CANCELLED);
  });

  it("non-streaming: aborting the request cancels the job", async () => {
    const controller = new AbortController();
    const pending = post(
      "/v1/chat/completions",
      { model: "conclave", messages: [{ role: "user", content: `${SLOW} plain` }] },
      { signal: controller.signal },
    ).catch((err: unknown) => err);
    const job = await pollUntil("the job to be listed", async () =>
      (await cluster.coordinator.jobs.list([], 10)).find(
        (j) => j.spec?.task === `${SLOW} plain` && j.state === JobState.RUNNING,
      ),
    );
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    const cancelled = await pollUntil("the job cancelled", async () => {
      const j = await cluster.coordinator.jobs.get(job.jobId);
      return j?.state === JobState.CANCELLED ? j : undefined;
    });
    expect(cancelled.state).toBe(JobState.CANCELLED);
  });
});

describe("shutting the endpoint down", () => {
  it("ends a running stream with an error event and leaves the job to the coordinator", async () => {
    const server = createOpenAiHttpServer({
      jobs: cluster.coordinator.jobs,
      registry: cluster.coordinator.registry,
      log: testLogger("http-close"),
    });
    const url = `http://127.0.0.1:${await server.listen("127.0.0.1", 0)}`;
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "conclave-single",
        messages: [{ role: "user", content: `${SLOW} shutdown` }],
        stream: true,
      }),
    });
    const jobId = res.headers.get("x-conclave-job-id") ?? "";
    const reader = res.body!.getReader();
    await reader.read();
    await server.close();
    let rest = "";
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      rest += new TextDecoder().decode(next.value);
    }
    const last = JSON.parse(parseSse(rest).data.at(-1) ?? "{}") as ErrorBody;
    expect(last.error.message).toContain("shutting down");
    // Not cancelled: a shutdown is not a client leaving; the coordinator's own shutdown decides.
    expect([JobState.QUEUED, JobState.RUNNING]).toContain((await cluster.coordinator.jobs.get(jobId))?.state);
    expect((await cluster.coordinator.jobs.cancel(jobId, "test over")).state).toBe(JobState.CANCELLED);
  });
});
