/**
 * The gRPC kit: serve and call any protobuf-es service with @grpc/grpc-js (unary and server streaming),
 * plus the standard health service, server reflection and optional bearer-token auth.
 */
export {
  type AuthInterceptorOptions,
  bearerHeader,
  createAuthInterceptor,
  isAuthorized,
  parseBearer,
  tokenMatches,
} from "./auth.js";
export { createGrpcClient, type GrpcClientOptions } from "./client.js";
export {
  addHealthService,
  HealthStatus,
  type HealthStatusOptions,
  healthImpl,
  ServingStatus,
} from "./health.js";
export { addReflectionService, fileClosure, reflectionPackageDefinition } from "./reflection.js";
export {
  addService,
  createGrpcServer,
  type GrpcServer,
  type GrpcServerConfig,
  type GrpcServerOptions,
  type GrpcServerTlsOptions,
  listen,
  type ShutdownOptions,
  shutdownGrpcServer,
} from "./server.js";
export { methodPath, serviceDefinitionOf } from "./service-definition.js";
export { ERROR_INFO_METADATA_KEY, fromGrpcErrorStatus, toGrpcErrorStatus } from "./status.js";
export type {
  CallOptions,
  GrpcClient,
  HandlerContext,
  ServerStreamingHandler,
  ServiceImpl,
  SupportedMethodName,
  UnaryHandler,
} from "./types.js";
