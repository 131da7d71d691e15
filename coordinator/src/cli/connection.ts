/** How the CLI finds and reaches the coordinator: --coordinator > CONCLAVE_COORDINATOR > default. */
import { CoordinatorService } from "../../../proto/gen/conclave/v1/coordinator_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { createGrpcClient, type GrpcClient } from "../../../proto/src/grpc/index.js";

/** The coordinator's default gRPC address. */
export const DEFAULT_COORDINATOR = "127.0.0.1:7420";

export interface ConnectionFlags {
  coordinator?: string;
  token?: string;
}

export interface ResolvedConnection {
  address: string;
  token?: string;
}

/**
 * --coordinator > CONCLAVE_COORDINATOR > the address a running `conclave up` recorded > the default.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: Record<string, string | undefined>,
  recorded?: string,
): ResolvedConnection {
  const address = (flags.coordinator ?? env.CONCLAVE_COORDINATOR ?? recorded ?? DEFAULT_COORDINATOR).trim();
  if (!/^[^\s:/]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
    throw new ConclaveError(
      ErrorCode.INVALID_ARGUMENT,
      `--coordinator must be host:port (e.g. ${DEFAULT_COORDINATOR}), got "${address}"`,
    );
  }
  const token = flags.token ?? env.CONCLAVE_API_TOKEN;
  return { address, ...(token ? { token } : {}) };
}

export type CoordinatorClient = GrpcClient<typeof CoordinatorService>;

export function coordinatorClient(conn: ResolvedConnection): CoordinatorClient {
  return createGrpcClient(CoordinatorService, conn.address, conn.token ? { token: conn.token } : {});
}

/** Rewrites "cannot connect" into advice a person can act on. */
export function explainConnectionError(err: unknown, address: string): unknown {
  if (err instanceof ConclaveError && err.code === ErrorCode.UNAVAILABLE) {
    return new ConclaveError(
      ErrorCode.UNAVAILABLE,
      `cannot reach the coordinator at ${address} (${err.message}).\n` +
        "Is it running? Start a local cluster with `conclave up`, or point at one with --coordinator host:port " +
        "or CONCLAVE_COORDINATOR.",
      { cause: err },
    );
  }
  return err;
}
