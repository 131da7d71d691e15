/**
 * Adapters from our handler shapes (async function, async generator) to grpc-js's callback and stream
 * handlers: request decoding errors, cancellation, flow control and error → status mapping live here once.
 */
import { create, type DescMethod, type Message } from "@bufbuild/protobuf";
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerUnaryCall,
  ServerWritableStream,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ConclaveError, ErrorCode, isConclaveError } from "../errors.js";
import { MalformedRequest } from "./service-definition.js";
import { toGrpcErrorStatus } from "./status.js";
import type { HandlerContext } from "./types.js";

type AnyUnary = (request: Message, ctx: HandlerContext) => Promise<unknown>;
type AnyServerStreaming = (request: Message, ctx: HandlerContext) => AsyncIterable<unknown>;
/** The call surface both handler kinds share (grpc-js does not export its own name for it). */
type ServerSurfaceCall = ServerUnaryCall<Message, Message> | ServerWritableStream<Message, Message>;

/** The absolute deadline grpc-js reports for a call, or undefined when the client set none. */
function deadlineOf(call: ServerSurfaceCall): Date | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}

/** Why a call ended early, as the reason of the handler's abort signal. */
function abortReason(deadline: Date | undefined): ConclaveError {
  if (deadline !== undefined && deadline.getTime() <= Date.now()) {
    return new ConclaveError(ErrorCode.DEADLINE_EXCEEDED, "the call's deadline passed");
  }
  return new ConclaveError(ErrorCode.CANCELLED, "the call was cancelled");
}

/** Builds the handler context and wires grpc-js's `cancelled` event to its abort signal. */
function contextOf(call: ServerSurfaceCall, method: DescMethod): HandlerContext {
  const controller = new AbortController();
  const deadline = deadlineOf(call);
  const abort = () => controller.abort(abortReason(deadline));
  if (call.cancelled) abort();
  else call.once("cancelled", abort);
  return { signal: controller.signal, metadata: call.metadata, deadline, peer: call.getPeer(), method };
}

/** Logs a failed call: unknown errors in full (their text is not sent), our own errors briefly. */
function logFailure(log: Logger, method: DescMethod, err: unknown): void {
  if (isConclaveError(err)) {
    log.debug({ method: method.name, code: err.codeName, msg: err.message }, "grpc call failed");
  } else {
    log.error({ method: method.name, err }, "grpc handler threw an unexpected error");
  }
}

export function unaryHandler(
  method: DescMethod,
  impl: AnyUnary,
  log: Logger,
): handleUnaryCall<Message, Message> {
  return (call, callback) => {
    const request: Message | MalformedRequest = call.request;
    if (request instanceof MalformedRequest) {
      logFailure(log, method, request.error);
      callback(toGrpcErrorStatus(request.error));
      return;
    }
    const ctx = contextOf(call, method);
    let pending: Promise<unknown>;
    try {
      pending = impl(request, ctx);
    } catch (err) {
      // A handler that throws before returning its promise (a non-async function) is still just a failure.
      pending = Promise.reject(err);
    }
    pending.then(
      (response) => callback(null, create(method.output, response as Message)),
      (err: unknown) => {
        logFailure(log, method, err);
        callback(toGrpcErrorStatus(err));
      },
    );
  };
}

/** Resolves when the stream can take more data, or when the call ended (then writing is pointless). */
function drained(call: ServerWritableStream<Message, Message>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolves with the generator's next step, or with undefined as soon as the call is aborted. */
function nextOrAbort(
  iterator: AsyncIterator<unknown>,
  signal: AbortSignal,
): Promise<IteratorResult<unknown> | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    iterator.next().then(
      (step) => {
        signal.removeEventListener("abort", onAbort);
        resolve(step);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

export function serverStreamingHandler(
  method: DescMethod,
  impl: AnyServerStreaming,
  log: Logger,
): handleServerStreamingCall<Message, Message> {
  return (call) => {
    const request: Message | MalformedRequest = call.request;
    if (request instanceof MalformedRequest) {
      logFailure(log, method, request.error);
      call.emit("error", toGrpcErrorStatus(request.error));
      return;
    }
    const ctx = contextOf(call, method);
    void pump(call, request, ctx).catch((err: unknown) => {
      if (ctx.signal.aborted) {
        // Nobody is listening any more; a failure while winding down is worth a debug line at most.
        log.debug({ method: method.name, err }, "grpc stream failed after the call ended");
        return;
      }
      logFailure(log, method, err);
      // grpc-js turns an `error` event on a server stream into the call's final status.
      call.emit("error", toGrpcErrorStatus(err));
    });
  };

  async function pump(
    call: ServerWritableStream<Message, Message>,
    request: Message,
    ctx: HandlerContext,
  ): Promise<void> {
    const iterator = impl(request, ctx)[Symbol.asyncIterator]();
    for (;;) {
      const step = await nextOrAbort(iterator, ctx.signal);
      if (step === undefined) {
        // The client went away while the generator was busy. Ask it to finish; it sees the abort signal
        // and its `finally` blocks run when it next yields or returns. Not awaited: it may be mid-await.
        iterator.return?.().catch((err: unknown) => {
          log.debug({ method: method.name, err }, "grpc stream generator failed while closing");
        });
        return;
      }
      if (step.done === true) break;
      if (!call.write(create(method.output, step.value as Message))) await drained(call, ctx.signal);
      if (ctx.signal.aborted) {
        await iterator.return?.();
        return;
      }
    }
    call.end();
  }
}
