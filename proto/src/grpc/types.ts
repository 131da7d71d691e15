/**
 * The shapes of servers and clients, derived at type level from a generated service descriptor: one schema
 * change and the compiler points at every handler and call site that no longer fits.
 */
import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { Metadata } from "@grpc/grpc-js";

/** Method kinds the kit serves and calls. Client and bidi streaming are not part of Conclave's API. */
export type SupportedMethodKind = "unary" | "server_streaming";

/** What a handler knows about the call it serves. */
export interface HandlerContext {
  /**
   * Aborted when the call ends early: the client cancelled, its deadline passed, or the server is shutting
   * down. The reason is a ConclaveError (`cancelled` or `deadline_exceeded`). Long work must watch it.
   */
  readonly signal: AbortSignal;
  /** Request headers. When the server checks tokens, `authorization` has been removed after the check. */
  readonly metadata: Metadata;
  /** The client's deadline, if it set one. */
  readonly deadline: Date | undefined;
  /** The client's address as grpc-js reports it, e.g. `ipv4:127.0.0.1:51234`. */
  readonly peer: string;
  /** The method being served. */
  readonly method: DescMethod;
}

/** A unary handler: one request in, one response out (a full message or its init shape). */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: HandlerContext,
) => Promise<MessageInitShape<O>>;

/**
 * A server-streaming handler, written as an async generator. Each yielded value is sent at once (respecting
 * flow control); returning ends the call with OK; throwing ends it with the error's status.
 */
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: HandlerContext,
) => AsyncIterable<MessageInitShape<O>>;

/** Method local names (e.g. `listJobs`) of the kinds the kit supports. */
export type SupportedMethodName<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K]["methodKind"] extends SupportedMethodKind ? K : never;
}[keyof S["method"]];

type HandlerFor<M> = M extends { methodKind: "unary"; input: infer I; output: infer O }
  ? I extends DescMessage
    ? O extends DescMessage
      ? UnaryHandler<I, O>
      : never
    : never
  : M extends { methodKind: "server_streaming"; input: infer I; output: infer O }
    ? I extends DescMessage
      ? O extends DescMessage
        ? ServerStreamingHandler<I, O>
        : never
      : never
    : never;

/**
 * A complete implementation of a service, keyed by method local name. `addService` accepts a partial one
 * (missing methods answer UNIMPLEMENTED); annotate with this type to have the compiler demand every method.
 */
export type ServiceImpl<S extends DescService> = {
  [K in SupportedMethodName<S>]: HandlerFor<S["method"][K]>;
};

/** Per-call options of a client method. */
export interface CallOptions {
  /** Aborting cancels the call; the pending promise or iteration rejects with a `cancelled` ConclaveError. */
  signal?: AbortSignal | undefined;
  /** Absolute deadline: a Date, or milliseconds since the epoch (as `Date.now()`). */
  deadline?: Date | number | undefined;
  /** Extra request headers. The client's bearer token is added separately. */
  metadata?: Readonly<Record<string, string>> | undefined;
}

type ClientMethodFor<M> = M extends { methodKind: "unary"; input: infer I; output: infer O }
  ? I extends DescMessage
    ? O extends DescMessage
      ? (request?: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
      : never
    : never
  : M extends { methodKind: "server_streaming"; input: infer I; output: infer O }
    ? I extends DescMessage
      ? O extends DescMessage
        ? (request?: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
        : never
      : never
    : never;

/**
 * A typed client: unary methods return Promises, server-streaming methods return AsyncIterables (the call
 * starts when iteration starts; breaking out of the loop cancels it). Failures reject with ConclaveError.
 */
export type GrpcClient<S extends DescService> = {
  readonly [K in SupportedMethodName<S>]: ClientMethodFor<S["method"][K]>;
} & {
  /** Closes the channel; calls still running fail with `unavailable`/`cancelled`. */
  close(): void;
};
