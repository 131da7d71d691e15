/**
 * Starts a real nats-server: 127.0.0.1, a given or random port, JetStream on with a store directory (a
 * temporary one unless given). `conclave up` runs its embedded broker with it and every integration test
 * file starts its own. The binary is found through NATS_SERVER_BIN, then PATH, then /usr/sbin/nats-server; when none
 * exists the error says how to install it. `restart()` brings the server back on the same port (and the
 * same store) to test reconnects.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export interface NatsServerHandle {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Kills the server abruptly (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
}

export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.NATS_SERVER_BIN;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new NatsServerMissingError(`NATS_SERVER_BIN=${explicit} is not an executable file`);
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && isExecutable(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  if (isExecutable("/usr/sbin/nats-server")) return "/usr/sbin/nats-server";
  throw new NatsServerMissingError(
    "nats-server not found (looked at $NATS_SERVER_BIN, $PATH and /usr/sbin/nats-server). " +
      "Install it with `apt-get install -y nats-server` or download it from nats.io, " +
      "or point NATS_SERVER_BIN at the binary.",
  );
}

const LISTEN = /Listening for client connections on [^\s]*:(\d+)/;

interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

function launch(bin: string, port: number, storeDir: string, configFile?: string): Promise<Running> {
  return new Promise((resolve, reject) => {
    const args = [
      ...(configFile ? ["-c", configFile] : []),
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "-js",
      "-sd",
      storeDir,
    ];
    const child = spawn(bin, args, {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let settled = false;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(new Error(`nats-server did not become ready within 10 s. Output:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = LISTEN.exec(output);
      if (m && !settled && output.includes("Server is ready")) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), exited });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`nats-server exited early (code ${code}, signal ${signal}). Output:\n${output}`));
    });
  });
}

async function terminate(r: Running, signal: NodeJS.Signals): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill(signal);
  const hard = setTimeout(() => r.child.kill("SIGKILL"), 5000);
  await r.exited;
  clearTimeout(hard);
}

/** Starts nats-server; `port` 0 (default) asks the server for a random free port. */
export async function startNatsServer(
  options: { port?: number; storeDir?: string; bin?: string; configFile?: string } = {},
): Promise<NatsServerHandle> {
  const bin = options.bin ?? findNatsServer();
  const ownStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "conclave-nats-"));
  let running = await launch(
    bin,
    options.port && options.port > 0 ? options.port : -1,
    storeDir,
    options.configFile,
  );
  const port = running.port;
  let stopped = false;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      stopped = true;
      await terminate(running, "SIGTERM");
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    },
    async kill() {
      await terminate(running, "SIGKILL");
    },
    async restart() {
      if (stopped) throw new Error("nats-server was stopped for good; start a new one");
      await terminate(running, "SIGTERM");
      running = await launch(bin, port, storeDir, options.configFile);
    },
  };
}
