/**
 * Serves one validated chat completion: submits the job, follows its events to the end and answers as one
 * `chat.completion` object or as a server-sent event stream. A client that goes away cancels its job (no
 * one is left to read the answer); the server shutting down does not (the coordinator decides what happens
 * to its jobs) but ends the response with a clear error.
 */
import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import { type Job, JobState } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { jobStateNames } from "../../../proto/src/names.js";
import type { JobManager } from "../jobs/job-manager.js";
import type { RegistryService } from "../server/registry-service.js";
import type { ChatCompletionRequest } from "./chat-request.js";
import { conclaveErrorResponse } from "./http-errors.js";
import {
  type CompletionMeta,
  chatCompletion,
  completionMeta,
  contentChunk,
  finishChunk,
  roleChunk,
  SSE_DONE,
  sseComment,
  sseData,
  usageChunk,
} from "./openai-responses.js";

export interface ChatCompletionDeps {
  jobs: JobManager;
  registry: RegistryService;
  log: Logger;
  /** Idle time after which a stream gets a keep-alive comment. */
  keepAliveMs: number;
  /** Aborted when the HTTP server shuts down. */
  shutdown: AbortSignal;
  now: () => number;
}

/** Response header carrying the job id (for `conclave job <id> --transcript`). */
export const JOB_ID_HEADER = "x-conclave-job-id";

/** Writes JSON with a status; the one way this module answers a non-stream request. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function write(res: ServerResponse, text: string): void {
  if (!res.destroyed && !res.writableEnded) res.write(text);
}

/** The error a finished but unsuccessful job stands for. */
function jobFailure(job: Job): { code: ErrorCode; message: string } {
  if (job.error && job.error.code !== ErrorCode.UNSPECIFIED) {
    return { code: job.error.code, message: job.error.message };
  }
  if (job.state === JobState.CANCELLED)
    return { code: ErrorCode.CANCELLED, message: "the job was cancelled" };
  return { code: ErrorCode.INTERNAL, message: job.result?.stopDetail || "the job failed" };
}

/** Follows a job to its `finished` event; undefined when the signal stopped the watch first. */
async function finishedJob(
  jobs: JobManager,
  jobId: string,
  signal: AbortSignal,
  onRound: (round: number) => void,
): Promise<Job | undefined> {
  for await (const event of jobs.watch(jobId, 1n, signal)) {
    if (event.event.case === "roundStarted") onRound(event.event.value.round);
    if (event.event.case === "finished") return event.event.value.job;
  }
  return undefined;
}

export async function serveChatCompletion(
  deps: ChatCompletionDeps,
  request: ChatCompletionRequest,
  res: ServerResponse,
): Promise<void> {
  const { jobs, registry } = deps;
  if (registry.list(false).length === 0) {
    throw new ConclaveError(
      ErrorCode.UNAVAILABLE,
      "no workers are connected to the coordinator; start one with `conclave worker --model <gguf>`",
    );
  }
  const clientGone = new AbortController();
  let finished = false;
  let jobId: string | undefined;
  const log = deps.log;
  const onClose = () => {
    if (res.writableFinished) return;
    clientGone.abort();
    if (jobId !== undefined && !finished && !deps.shutdown.aborted) {
      log.info({ jobId }, "client disconnected; cancelling its job");
      jobs.cancel(jobId, "the HTTP client disconnected").catch((err: unknown) => {
        log.warn({ err, jobId }, "could not cancel the job of a disconnected client");
      });
    }
  };
  res.on("close", onClose);
  const started = deps.now();
  const accepted = await jobs.submit(request.spec);
  jobId = accepted.jobId;
  const reqLog = log.child({ jobId, model: request.modelId });
  reqLog.debug({ stream: request.stream, omittedTurns: request.omittedTurns }, "chat completion accepted");
  if (clientGone.signal.aborted) {
    // The client left while the job was being accepted: `close` came before we knew the id.
    onClose();
    return;
  }
  const meta = completionMeta(accepted, request.modelId);
  // Client gone or coordinator stopping. Not AbortSignal.any: on Node 20 a signal combined with the
  // long-lived shutdown signal is never released, so every request would leak one.
  const stop = new AbortController();
  const onStop = () => stop.abort();
  clientGone.signal.addEventListener("abort", onStop, { once: true });
  deps.shutdown.addEventListener("abort", onStop, { once: true });
  if (clientGone.signal.aborted || deps.shutdown.aborted) onStop();
  const signal = stop.signal;
  let job: Awaited<ReturnType<typeof finishedJob>>;
  try {
    job = request.stream
      ? await streamJob(deps, request, res, accepted.jobId, meta, signal)
      : await finishedJob(jobs, accepted.jobId, signal, () => {});
  } finally {
    deps.shutdown.removeEventListener("abort", onStop);
    clientGone.signal.removeEventListener("abort", onStop);
  }
  finished = job !== undefined;
  reqLog.info(
    {
      stream: request.stream,
      state: job ? jobStateNames.name(job.state) : clientGone.signal.aborted ? "client_gone" : "shutdown",
      ms: Math.round(deps.now() - started),
    },
    "chat completion",
  );
  if (request.stream || clientGone.signal.aborted) return;
  if (job === undefined) {
    const stopping = conclaveErrorResponse(
      ErrorCode.UNAVAILABLE,
      `the coordinator is shutting down; job ${accepted.jobId} did not finish`,
    );
    sendJson(res, stopping.status, stopping.body, { ...stopping.headers, [JOB_ID_HEADER]: accepted.jobId });
    return;
  }
  if (job.state === JobState.SUCCEEDED) {
    sendJson(res, 200, chatCompletion(meta, job), { [JOB_ID_HEADER]: job.jobId });
    return;
  }
  const failure = jobFailure(job);
  const r = conclaveErrorResponse(failure.code, failure.message);
  sendJson(res, r.status, r.body, { ...r.headers, [JOB_ID_HEADER]: job.jobId });
}

/**
 * The stream: headers and the role chunk at once (the client sees the request was taken), comments while
 * the ensemble deliberates, then the answer, the finish chunk, usage if asked for, and `[DONE]`.
 */
async function streamJob(
  deps: ChatCompletionDeps,
  request: ChatCompletionRequest,
  res: ServerResponse,
  jobId: string,
  meta: CompletionMeta,
  signal: AbortSignal,
): Promise<Job | undefined> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    // nginx buffers responses by default; an ensemble's single answer would otherwise arrive all at once.
    "x-accel-buffering": "no",
    [JOB_ID_HEADER]: jobId,
  });
  write(res, sseData(roleChunk(meta, request.includeUsage)));
  // A keep-alive goes out only after a whole period without any other write (round comments count).
  let quiet = true;
  const comment = (text: string) => {
    write(res, sseComment(text));
    quiet = false;
  };
  const timer = setInterval(
    () => {
      if (quiet) comment("keep-alive");
      quiet = true;
    },
    Math.max(50, deps.keepAliveMs),
  );
  timer.unref();
  let job: Job | undefined;
  try {
    job = await finishedJob(deps.jobs, jobId, signal, (round) => comment(`round ${round}`));
  } finally {
    clearInterval(timer);
  }
  if (job === undefined) {
    if (deps.shutdown.aborted) {
      const r = conclaveErrorResponse(
        ErrorCode.UNAVAILABLE,
        `the coordinator is shutting down; job ${jobId} did not finish`,
      );
      write(res, sseData(r.body));
    }
    if (!res.writableEnded) res.end();
    return undefined;
  }
  if (job.state === JobState.SUCCEEDED) {
    const answer = job.result?.answer ?? "";
    if (answer !== "") write(res, sseData(contentChunk(meta, answer, request.includeUsage)));
    write(res, sseData(finishChunk(meta, job, request.includeUsage)));
    if (request.includeUsage) write(res, sseData(usageChunk(meta, job)));
    write(res, SSE_DONE);
  } else {
    // The status line is long gone: the error travels as an event, which the openai SDKs raise.
    const failure = jobFailure(job);
    write(res, sseData(conclaveErrorResponse(failure.code, failure.message).body));
  }
  if (!res.writableEnded) res.end();
  return job;
}
