#!/usr/bin/env node
// The one `conclave` executable for every role: `conclave worker …` runs the worker agent, every other
// command is the coordinator-side CLI. This launcher only dispatches, so the worker and the coordinator
// never import each other. TypeScript sources run through tsx's loader (no build step on a fresh clone).
import { register } from "tsx/esm/api";

register();
const role = process.argv[2];
const entry = role === "worker" ? "../../worker/src/main.ts" : "../../coordinator/src/cli/main.ts";
const { main } = await import(new URL(entry, import.meta.url).href);
await main(process.argv.slice(2));
