/**
 * Optional bearer-token authentication for every gRPC method, as a grpc-js server interceptor: it sees each
 * call's headers before any handler (ours, health, reflection) runs, so no service can forget the check.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import {
  type Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
} from "@grpc/grpc-js";
import { ConclaveError, ErrorCode } from "../errors.js";
import { toGrpcErrorStatus } from "./status.js";

/** Request header carrying the token: `authorization: Bearer <token>`. */
export const AUTHORIZATION_METADATA_KEY = "authorization";

/** The header value a client sends for a token. */
export function bearerHeader(token: string): string {
  return `Bearer ${token}`;
}

/** The token in an `authorization` header value, or undefined when it is not a bearer credential. */
export function parseBearer(header: string): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/**
 * Whether a presented token equals the expected one, in time independent of where they differ. Both sides
 * are hashed first so the comparison also leaks nothing about the expected token's length.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}

/** Whether request headers carry the expected bearer token (exactly one `authorization` value). */
export function isAuthorized(metadata: Metadata, expected: string): boolean {
  const values = metadata.get(AUTHORIZATION_METADATA_KEY);
  const header = values.length === 1 ? values[0] : undefined;
  if (typeof header !== "string") return false;
  const presented = parseBearer(header);
  return presented !== undefined && tokenMatches(presented, expected);
}

export interface AuthInterceptorOptions {
  /** The token every call must present. */
  token: string;
  /**
   * Fully-qualified services callable without a token.
   * @default ["grpc.health.v1.Health"] — load balancers and orchestrators probe health without secrets.
   */
  publicServices?: readonly string[];
}

/** Rejects calls without the right token with UNAUTHENTICATED before their handler runs. */
export function createAuthInterceptor(options: AuthInterceptorOptions): ServerInterceptor {
  const { token } = options;
  const publicPrefixes = (options.publicServices ?? ["grpc.health.v1.Health"]).map((s) => `/${s}/`);
  return (methodDescriptor, call: ServerInterceptingCallInterface) => {
    const path = methodDescriptor.path;
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (publicPrefixes.some((prefix) => path.startsWith(prefix)) || isAuthorized(metadata, token)) {
          // Checked; handlers never see the secret, so logging their metadata cannot leak it.
          metadata.remove(AUTHORIZATION_METADATA_KEY);
          next(metadata);
          return;
        }
        // The message does not say which of missing or wrong it was: that would help a guesser.
        call.sendStatus(
          toGrpcErrorStatus(new ConclaveError(ErrorCode.UNAUTHENTICATED, "missing or invalid bearer token")),
        );
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}
