/**
 * A gRPC server for protobuf-es services. Options in, resolved config out, once; handlers are typed from
 * the generated descriptor; every error a handler throws leaves as a gRPC status through errors.ts.
 */
import type { DescService } from "@bufbuild/protobuf";
import {
  Server,
  ServerCredentials,
  type ServerOptions,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { type Logger, pino } from "pino";
import { ConclaveError, ErrorCode } from "../errors.js";
import { createAuthInterceptor } from "./auth.js";
import { serverStreamingHandler, unaryHandler } from "./handlers.js";
import { isSupportedMethod, serviceDefinitionOf } from "./service-definition.js";
import type { ServiceImpl } from "./types.js";

/** PEM material for serving TLS. */
export interface GrpcServerTlsOptions {
  /** Private key, PEM. */
  key: string | Buffer;
  /** Certificate chain, PEM. */
  cert: string | Buffer;
  /** CA bundle to verify client certificates against (mutual TLS). */
  ca?: string | Buffer | undefined;
  /**
   * Demand a client certificate signed by `ca`.
   * @default false
   */
  requireClientCert?: boolean | undefined;
}

export interface GrpcServerOptions {
  /**
   * Where the kit logs failed calls (unknown errors at `error` with their cause, our own at `debug`).
   * @default a disabled logger
   */
  logger?: Logger | undefined;
  /**
   * Bearer token every call must carry (`authorization: Bearer <token>`); unset = no authentication.
   * @default undefined
   */
  token?: string | undefined;
  /**
   * Services callable without the token.
   * @default ["grpc.health.v1.Health"]
   */
  publicServices?: readonly string[] | undefined;
  /**
   * Serve TLS with this key and certificate; unset = plaintext (fine on loopback or inside a VPN).
   * @default undefined
   */
  tls?: GrpcServerTlsOptions | undefined;
  /**
   * Extra grpc-js server options (message size limits, keepalive, ...). `interceptors` are appended after
   * the kit's own (authentication runs first).
   * @default {}
   */
  grpcOptions?: ServerOptions | undefined;
}

/** Resolved server configuration. */
export interface GrpcServerConfig {
  readonly logger: Logger;
  readonly authenticated: boolean;
  readonly credentials: ServerCredentials;
}

/** A grpc-js server plus what the kit needs to know about it. Build with `createGrpcServer`. */
export interface GrpcServer {
  /** The grpc-js server, for services that are not protobuf-es (reflection adds itself here). */
  readonly raw: Server;
  readonly config: GrpcServerConfig;
  /** Services added with `addService`, in order (health and reflection read this). */
  readonly services: readonly DescService[];
}

/** Mutable view used inside the kit only. */
interface GrpcServerState extends GrpcServer {
  readonly services: DescService[];
  /** Set once reflection has been built: later services would be missing from it. */
  sealedBy?: string;
}

export function resolveGrpcServerOptions(options: GrpcServerOptions = {}): GrpcServerConfig {
  const tls = options.tls;
  const credentials =
    tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          tls.ca === undefined ? null : Buffer.from(tls.ca),
          [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }],
          tls.requireClientCert ?? false,
        );
  return {
    logger: options.logger ?? pino({ enabled: false }),
    authenticated: options.token !== undefined,
    credentials,
  };
}

export function createGrpcServer(options: GrpcServerOptions = {}): GrpcServer {
  const config = resolveGrpcServerOptions(options);
  if (options.token === "") {
    throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, "the gRPC token must not be empty");
  }
  const grpcOptions = options.grpcOptions ?? {};
  const interceptors = [
    ...(options.token === undefined
      ? []
      : [createAuthInterceptor({ token: options.token, publicServices: options.publicServices })]),
    ...(grpcOptions.interceptors ?? []),
  ];
  const raw = new Server({ ...grpcOptions, interceptors });
  const state: GrpcServerState = { raw, config, services: [] };
  return state;
}

/**
 * Serve a service. `impl` holds handlers keyed by method local name (`listJobs`); a missing method answers
 * UNIMPLEMENTED. Unary handlers return a Promise of the response; server-streaming handlers are async
 * generators. Add every service before `addReflectionService`.
 */
export function addService<S extends DescService>(
  server: GrpcServer,
  service: S,
  impl: Partial<ServiceImpl<S>>,
): void {
  const state = server as GrpcServerState;
  if (state.sealedBy !== undefined) {
    throw new ConclaveError(
      ErrorCode.FAILED_PRECONDITION,
      `add ${service.typeName} before ${state.sealedBy}: it lists only the services added before it`,
    );
  }
  if (state.services.some((s) => s.typeName === service.typeName)) {
    throw new ConclaveError(ErrorCode.ALREADY_EXISTS, `service ${service.typeName} is already added`);
  }
  const handlers: Record<string, unknown> = impl;
  const unknown = Object.keys(handlers).filter((name) => !(name in service.method));
  if (unknown.length > 0) {
    throw new ConclaveError(
      ErrorCode.INVALID_ARGUMENT,
      `${service.typeName} has no method ${unknown.join(", ")}`,
      { details: unknown.map((name) => `unknown method ${name}`) },
    );
  }
  const log = state.config.logger.child({ component: "grpc", service: service.typeName });
  const implementation: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = handlers[method.localName];
    if (handler === undefined || !isSupportedMethod(method)) continue;
    if (typeof handler !== "function") {
      throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, `handler ${method.localName} is not a function`);
    }
    implementation[method.name] =
      method.methodKind === "unary"
        ? unaryHandler(method, handler as Parameters<typeof unaryHandler>[1], log)
        : serverStreamingHandler(method, handler as Parameters<typeof serverStreamingHandler>[1], log);
  }
  state.raw.addService(serviceDefinitionOf(service), implementation);
  state.services.push(service);
}

/** Marks the service list final (reflection calls this; later `addService` calls fail clearly). */
export function sealServices(server: GrpcServer, by: string): readonly DescService[] {
  const state = server as GrpcServerState;
  state.sealedBy ??= by;
  return state.services;
}

/**
 * Bind and start serving. `address` is `host:port`; port 0 picks a free port.
 * @returns the bound port
 */
export function listen(server: GrpcServer, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.raw.bindAsync(address, server.config.credentials, (err, port) => {
      if (err !== null) {
        reject(
          new ConclaveError(ErrorCode.UNAVAILABLE, `cannot listen on ${address}: ${err.message}`, {
            cause: err,
          }),
        );
        return;
      }
      resolve(port);
    });
  });
}

export interface ShutdownOptions {
  /**
   * How long in-flight calls may take to finish before they are cancelled (their handlers' signals abort).
   * @default 5000
   */
  graceMs?: number | undefined;
}

/** Stop accepting calls, let running ones finish for `graceMs`, then cancel the rest. */
export function shutdownGrpcServer(server: GrpcServer, options: ShutdownOptions = {}): Promise<void> {
  const graceMs = options.graceMs ?? 5000;
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.raw.forceShutdown(), graceMs);
    server.raw.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
