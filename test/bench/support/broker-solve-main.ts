/**
 * Child-process entry that runs one broker scenario's solves and reports each as it finishes. A solve is
 * synchronous and cannot be interrupted, so it runs here, where the benchmark can kill it at its time
 * limit and still report the solves that finished (and how long the unfinished one had run).
 */
import { BROKER_SCENARIOS, type SolveChildArgs, type SolveChildMessage } from "./broker-scenarios.js";

function send(m: SolveChildMessage, then?: () => void): void {
  process.send?.(m, undefined, {}, then);
}

function run(args: SolveChildArgs): void {
  const sc = BROKER_SCENARIOS[args.scenario];
  if (!sc) throw new Error(`no broker scenario ${args.scenario}`);
  const start = performance.now();
  for (let i = 0; i < args.solves; i++) {
    if (i > 0 && performance.now() - start >= args.maxMs) break;
    send({ type: "started", index: i });
    send({ type: "solved", result: sc.solve(i + 1, args.workers) });
  }
  // Exit once "done" is on its way (disconnecting with messages still queued crashes Node's IPC).
  send({ type: "done" }, () => process.exit(0));
}

process.once("message", (args: SolveChildArgs) => {
  try {
    run(args);
  } catch (err) {
    process.stderr.write(`broker solve child: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
});
