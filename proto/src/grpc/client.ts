/**
 * A typed gRPC client for a protobuf-es service: unary methods return Promises, server-streaming methods
 * AsyncIterables; every failure is a ConclaveError (exact when the server sent its ErrorInfo trailer).
 */
import { create, type DescMethod, type DescService, fromBinary, type Message } from "@bufbuild/protobuf";
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type CallOptions as GrpcCallOptions,
  credentials as grpcCredentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { ConclaveError, ErrorCode } from "../errors.js";
import { AUTHORIZATION_METADATA_KEY, bearerHeader } from "./auth.js";
import { isSupportedMethod, methodPath, serializeMessage } from "./service-definition.js";
import { fromGrpcErrorStatus } from "./status.js";
import type { CallOptions, GrpcClient } from "./types.js";

export interface GrpcClientOptions {
  /**
   * Channel credentials, e.g. `credentials.createSsl(ca)` for TLS.
   * @default credentials.createInsecure()
   */
  credentials?: ChannelCredentials | undefined;
  /**
   * Bearer token sent on every call as `authorization: Bearer <token>`. Sent as plain metadata (grpc-js
   * refuses call credentials on insecure channels, and plaintext on loopback is a supported setup).
   * @default undefined
   */
  token?: string | undefined;
  /**
   * Extra grpc-js channel options (message size limits, keepalive, ...).
   * @default {}
   */
  channelOptions?: ChannelOptions | undefined;
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === "number";
}

/** Any failure of a call as a ConclaveError. */
function callError(err: unknown): ConclaveError {
  if (err instanceof ConclaveError) return err;
  if (isServiceError(err)) return fromGrpcErrorStatus(err, err);
  return new ConclaveError(ErrorCode.INTERNAL, "gRPC call failed", { cause: err });
}

function cancelledBeforeStart(signal: AbortSignal): ConclaveError {
  return new ConclaveError(ErrorCode.CANCELLED, "the call was cancelled before it started", {
    cause: signal.reason,
  });
}

/** A client for `service` at `address` (`host:port`). Close it when done. */
export function createGrpcClient<S extends DescService>(
  service: S,
  address: string,
  options: GrpcClientOptions = {},
): GrpcClient<S> {
  const client = new Client(
    address,
    options.credentials ?? grpcCredentials.createInsecure(),
    options.channelOptions ?? {},
  );
  const token = options.token;

  const metadataFor = (callOptions: CallOptions | undefined): Metadata => {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(callOptions?.metadata ?? {})) metadata.set(key, value);
    if (token !== undefined) metadata.set(AUTHORIZATION_METADATA_KEY, bearerHeader(token));
    return metadata;
  };
  const grpcOptionsFor = (callOptions: CallOptions | undefined): GrpcCallOptions =>
    callOptions?.deadline === undefined ? {} : { deadline: callOptions.deadline };

  const unary =
    (method: DescMethod) =>
    (request: unknown, callOptions?: CallOptions): Promise<Message> => {
      const signal = callOptions?.signal;
      if (signal?.aborted === true) return Promise.reject(cancelledBeforeStart(signal));
      const message = create(method.input, request as Message | undefined);
      return new Promise((resolve, reject) => {
        const onAbort = () => call.cancel();
        const call = client.makeUnaryRequest(
          methodPath(method),
          (value: Message) => serializeMessage(method.input, value),
          (bytes: Buffer) => fromBinary(method.output, bytes),
          message,
          metadataFor(callOptions),
          grpcOptionsFor(callOptions),
          (err, response) => {
            signal?.removeEventListener("abort", onAbort);
            if (err !== null || response === undefined) reject(callError(err));
            else resolve(response);
          },
        );
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    };

  const serverStreaming = (method: DescMethod) =>
    async function* (request: unknown, callOptions?: CallOptions): AsyncGenerator<Message> {
      const signal = callOptions?.signal;
      if (signal?.aborted === true) throw cancelledBeforeStart(signal);
      const call = client.makeServerStreamRequest(
        methodPath(method),
        (value: Message) => serializeMessage(method.input, value),
        (bytes: Buffer) => fromBinary(method.output, bytes),
        create(method.input, request as Message | undefined),
        metadataFor(callOptions),
        grpcOptionsFor(callOptions),
      );
      // The loop below sees errors through the stream's iterator; this listener only keeps an error emitted
      // after the consumer stopped reading (our own cancel below) from becoming an uncaught exception.
      call.on("error", () => {});
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const message of call) yield message as Message;
      } catch (err) {
        throw callError(err);
      } finally {
        signal?.removeEventListener("abort", onAbort);
        // Leaving the loop early (break, throw in the consumer) must not leave the server streaming on.
        // After the status has arrived this is a no-op.
        call.cancel();
      }
    };

  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (!isSupportedMethod(method)) continue;
    if (method.localName === "close") {
      throw new ConclaveError(
        ErrorCode.UNSUPPORTED,
        `${service.typeName}.${method.name} clashes with the client's close(); rename the RPC`,
      );
    }
    methods[method.localName] = method.methodKind === "unary" ? unary(method) : serverStreaming(method);
  }
  methods.close = () => client.close();
  return methods as GrpcClient<S>;
}
