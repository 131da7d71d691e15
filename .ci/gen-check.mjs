#!/usr/bin/env node
// Fails when proto/gen is stale: regenerates the code from proto/ into a scratch copy and compares it
// byte for byte with what is committed. Never touches the working tree.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "conclave-gen-check-"));

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

try {
  for (const f of ["buf.yaml", "buf.gen.yaml"]) cpSync(join(root, f), join(scratch, f));
  cpSync(join(root, "proto"), join(scratch, "proto"), {
    recursive: true,
    filter: (src) => !relative(join(root, "proto"), src).startsWith("gen"),
  });
  const bin = join(root, "node_modules", ".bin");
  execFileSync(join(bin, "buf"), ["generate"], {
    cwd: scratch,
    stdio: "inherit",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  const committed = join(root, "proto", "gen");
  const fresh = join(scratch, "proto", "gen");
  const a = listFiles(committed);
  const b = listFiles(fresh);
  const problems = [];
  for (const f of new Set([...a, ...b])) {
    if (!a.includes(f)) problems.push(`missing from proto/gen: ${f}`);
    else if (!b.includes(f)) problems.push(`stale file in proto/gen (no schema generates it): ${f}`);
    else if (!readFileSync(join(committed, f)).equals(readFileSync(join(fresh, f))))
      problems.push(`out of date: proto/gen/${f}`);
  }
  if (problems.length > 0) {
    console.error(
      `gen:check failed — run \`npm run gen\` and commit the result:\n  ${problems.join("\n  ")}`,
    );
    process.exit(1);
  }
  console.log(`gen:check ok (${a.length} generated files match proto/)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
