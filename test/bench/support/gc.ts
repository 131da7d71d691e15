/**
 * A full garbage collection on demand, without starting Node with --expose-gc: the memory benchmark uses it
 * at a few checkpoints to tell live memory from garbage V8 has not collected yet.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let gc: (() => void) | undefined;

export function fullGc(): void {
  if (gc === undefined) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
}
