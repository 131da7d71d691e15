/**
 * Generates deploy/CONFIG.md from the config schemas (run: `npx tsx deploy/config-doc.ts > deploy/CONFIG.md`).
 * A unit test checks the committed file matches, so the reference never drifts from the code.
 */
import { coordinatorConfigSchema } from "../coordinator/src/server/config.js";
import { describeSchema } from "../proto/src/config.js";
import { workerConfigSchema } from "../worker/src/config.js";

export function configDoc(): string {
  return `# Configuration reference

Every setting can come from four places; later ones win: **defaults < config file < environment < flags**.

- Config file: \`--config file.yaml\` (or \`CONCLAVE_CONFIG\`), YAML or JSON, keys as in the first column
  without the dashes, in camelCase (\`telemetryInterval: 2s\`). Unknown keys are errors.
- Environment: the \`CONCLAVE_*\` variable in the second column.
- Durations accept \`500ms\`, \`2s\`, \`5m\`, \`1h\` or a number of milliseconds. Lists are comma-separated.
- Every problem is reported at once, with where it came from (file, variable or flag).
- Secrets (tokens, passwords) are never logged; prefer \`--api-key-file\` / \`--api-token-file\` over flags.

The CLI itself reads \`CONCLAVE_COORDINATOR\` (host:port of the coordinator, default \`127.0.0.1:7420\`, or
what a running \`conclave up\` recorded in \`$CONCLAVE_HOME/up.json\`) and \`CONCLAVE_API_TOKEN\`.
\`conclave up\` also reads \`CONCLAVE_DEFAULT_MODEL\` (the model used when no \`--model\` is given).

${describeSchema("conclave worker", workerConfigSchema)}

${describeSchema("conclave coordinator", coordinatorConfigSchema)}
`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(configDoc());
