/**
 * Racing a port call against the engine's own per-call deadline and the job's cancellation. The port gets a
 * signal and should stop, but the engine never depends on it: a port that ignores the signal still cannot
 * hang a job.
 */
import { CallTimeoutError, cancelReasonOf, JobCancelledError } from "../errors.js";

export async function callWithDeadline<T>(
  run: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  jobSignal: AbortSignal,
): Promise<T> {
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onJobAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        const e = new CallTimeoutError(timeoutMs);
        reject(e);
        ctl.abort(e);
      },
      Math.max(1, timeoutMs),
    );
    onJobAbort = () => {
      const e = new JobCancelledError(cancelReasonOf(jobSignal.reason));
      reject(e);
      ctl.abort(e);
    };
    if (jobSignal.aborted) onJobAbort();
    else jobSignal.addEventListener("abort", onJobAbort, { once: true });
  });
  const work = Promise.resolve().then(() => run(ctl.signal));
  // Whichever loses the race settles later with nobody listening: keep that from becoming unhandled.
  work.catch(() => undefined);
  stopped.catch(() => undefined);
  try {
    return await Promise.race([work, stopped]);
  } finally {
    clearTimeout(timer);
    if (onJobAbort !== undefined) jobSignal.removeEventListener("abort", onJobAbort);
  }
}
