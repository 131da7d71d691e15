/**
 * The coordinator's OpenAI-compatible HTTP endpoint (node:http, no framework): `GET /v1/models`,
 * `POST /v1/chat/completions` (JSON or SSE stream) and `GET /health`, so Open WebUI, the openai SDKs and
 * curl can use the ensemble. Every request is answered — bad input with a clear OpenAI-style error, an
 * unexpected failure with a bare 500 whose cause is logged here — and nothing a client sends can crash the
 * process. Request bodies and credentials are never logged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { isConclaveError } from "../../../proto/src/errors.js";
import { parseBearer, tokenMatches } from "../../../proto/src/grpc/auth.js";
import type { JobManager } from "../jobs/job-manager.js";
import type { RegistryService } from "../server/registry-service.js";
import { sendJson, serveChatCompletion } from "./chat-completion.js";
import { parseChatRequest } from "./chat-request.js";
import { errorResponse, HttpError } from "./http-errors.js";
import { modelList } from "./model-ids.js";
import { readBody } from "./read-body.js";

export interface OpenAiHttpServerOptions {
  jobs: JobManager;
  registry: RegistryService;
  log: Logger;
  /** When set, every `/v1/*` request must carry `Authorization: Bearer <token>`; `/health` stays open. */
  token?: string;
  now?: () => number;
  /** Largest request body accepted. @default 1048576 (1 MiB) */
  maxBodyBytes?: number;
  /** A stream idle this long gets a keep-alive comment, so proxies do not time it out. @default 15000 */
  keepAliveMs?: number;
}

export interface OpenAiHttpServer {
  /** Starts listening; resolves with the bound port (pass 0 for any free port). */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, ends open responses (streams get an error event, waiting requests a 503), closes. */
  close(): Promise<void>;
}

/** @default values of OpenAiHttpServerOptions. */
export const HTTP_DEFAULTS = { maxBodyBytes: 1024 * 1024, keepAliveMs: 15_000 } as const;

/** Longest wait in close() for in-flight responses to write their last bytes. */
const CLOSE_GRACE_MS = 2_000;

const ROUTES: Readonly<Record<string, readonly string[]>> = {
  "/health": ["GET", "HEAD"],
  "/v1/models": ["GET"],
  "/v1/chat/completions": ["POST"],
};

function notFound(path: string): HttpError {
  return new HttpError(
    404,
    "not_found",
    `no route ${path.slice(0, 200)}; this server offers GET /v1/models, POST /v1/chat/completions and GET /health`,
  );
}

/** The route key for a path (`/v1/models/<id>` shares the models route), or undefined. */
function routeOf(path: string): string | undefined {
  if (ROUTES[path] !== undefined) return path;
  if (path.startsWith("/v1/models/") && path.length > "/v1/models/".length) return "/v1/models";
  return undefined;
}

/** The path of a request target, without query or trailing slashes. No URL parsing: nothing to throw. */
function pathOf(target: string | undefined): string {
  const path = (target ?? "/").split(/[?#]/, 1)[0] ?? "/";
  return path.replace(/\/+$/, "") || "/";
}

function decodeOr(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function checkAuth(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined || token === "") return;
  const header = req.headers.authorization;
  const presented = typeof header === "string" ? parseBearer(header) : undefined;
  if (presented === undefined || !tokenMatches(presented, token)) {
    throw new HttpError(
      401,
      "invalid_api_key",
      presented === undefined
        ? "missing API key: send the coordinator's token as `Authorization: Bearer <token>`"
        : "the API key is not the coordinator's token",
      { headers: { "www-authenticate": 'Bearer realm="conclave"' } },
    );
  }
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0 || body.toString("utf8").trim() === "") {
    throw new HttpError(400, "invalid_json", "the request body is empty; send a JSON object");
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    const detail = err instanceof Error ? err.message.slice(0, 200) : "unparseable";
    throw new HttpError(400, "invalid_json", `the request body is not valid JSON: ${detail}`);
  }
}

export function createOpenAiHttpServer(options: OpenAiHttpServerOptions): OpenAiHttpServer {
  const log = options.log.child({ component: "http" });
  const now = options.now ?? Date.now;
  const maxBodyBytes = options.maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes;
  const keepAliveMs = options.keepAliveMs ?? HTTP_DEFAULTS.keepAliveMs;
  const createdSeconds = Math.floor(now() / 1000);
  const shutdown = new AbortController();
  const inflight = new Set<Promise<void>>();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    const key = routeOf(path);
    if (key === undefined) throw notFound(path);
    if (key !== "/health") checkAuth(req, options.token);
    const method = req.method ?? "GET";
    const allowed = ROUTES[key] ?? [];
    if (!allowed.includes(method)) {
      throw new HttpError(405, "method_not_allowed", `${path} accepts ${allowed.join(", ")}, not ${method}`, {
        headers: { allow: allowed.join(", ") },
      });
    }
    if (shutdown.signal.aborted) {
      throw new HttpError(503, "unavailable", "the coordinator is shutting down", {
        headers: { "retry-after": "5" },
      });
    }
    if (key === "/health") {
      sendJson(res, 200, { status: "ok", workers: options.registry.list(false).length });
      return;
    }
    if (key === "/v1/models") {
      const list = modelList(createdSeconds);
      if (path === key) return sendJson(res, 200, list);
      const id = decodeOr(path.slice("/v1/models/".length));
      const model = list.data.find((m) => m.id === id);
      if (!model) {
        throw new HttpError(
          404,
          "model_not_found",
          `the model "${id.slice(0, 100)}" does not exist; the models are ${list.data.map((m) => m.id).join(", ")}`,
        );
      }
      return sendJson(res, 200, model);
    }
    const request = parseChatRequest(parseJson(await readBody(req, maxBodyBytes)));
    await serveChatCompletion(
      { jobs: options.jobs, registry: options.registry, log, keepAliveMs, shutdown: shutdown.signal, now },
      request,
      res,
    );
  }

  function fail(res: ServerResponse, err: unknown): void {
    if (!(err instanceof HttpError)) {
      // Our own errors are expected outcomes (bad spec, busy, …); anything else is a bug worth a stack.
      if (isConclaveError(err)) log.debug({ err }, "request refused");
      else log.error({ err }, "request failed unexpectedly");
    }
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    const r = errorResponse(err);
    sendJson(res, r.status, r.body, r.headers);
  }

  const server: Server = createServer((req, res) => {
    res.on("error", (err) => log.debug({ err }, "response stream error"));
    const done = route(req, res)
      .catch((err: unknown) => fail(res, err))
      .catch((err: unknown) => log.error({ err }, "could not send an error response"))
      .finally(() => inflight.delete(done));
    inflight.add(done);
  });
  server.on("clientError", (err, socket) => {
    log.debug({ err: { message: err.message } }, "malformed HTTP request");
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });

  return {
    listen(host, port) {
      return new Promise<number>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          server.on("error", (err) => log.error({ err }, "HTTP server error"));
          const bound = (server.address() as AddressInfo).port;
          log.info({ host, port: bound }, "OpenAI-compatible endpoint listening");
          resolve(bound);
        });
      });
    },
    async close() {
      shutdown.abort();
      // Responses waiting on a job end at once on the abort; a request still uploading its body would
      // not, so its wait is bounded and closing the connections below ends it.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inflight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
