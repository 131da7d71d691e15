#!/usr/bin/env node
// The registry mirror these machines use serves only the Linux builds of platform-specific optional
// packages (node-llama-cpp binaries, Biome and buf CLIs). `npm install` then writes a lockfile without
// entries for the other platforms, and `npm ci` rejects that lockfile as out of sync. This adds an entry
// (version, os, cpu, libc, optional) for every missing platform package so `npm ci` skips them by
// platform instead. Run it after any `npm install` that rewrites package-lock.json.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;

function platformOf(name) {
  const tokens = name.split("/").pop().split("-");
  const os =
    tokens.includes("win32") || tokens.includes("win")
      ? "win32"
      : tokens.includes("darwin") || tokens.includes("mac")
        ? "darwin"
        : tokens.includes("android")
          ? "android"
          : tokens.includes("linux")
            ? "linux"
            : undefined;
  const cpu = tokens.includes("arm64")
    ? "arm64"
    : tokens.includes("x64")
      ? "x64"
      : tokens.includes("armv7") || tokens.includes("armv7l")
        ? "arm"
        : tokens.includes("riscv64")
          ? "riscv64"
          : undefined;
  return { os, cpu, musl: tokens.includes("musl") };
}

let added = 0;
for (const [key, pkg] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const entry = `node_modules/${dep}`;
    if (packages[entry] || packages[`${key}/${entry}`]) continue;
    const { os, cpu, musl } = platformOf(dep);
    if (!os && !cpu) continue; // not a platform package: leave it to npm
    packages[entry] = {
      version,
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(musl ? { libc: ["musl"] } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);
