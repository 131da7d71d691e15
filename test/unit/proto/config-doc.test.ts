import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { configDoc } from "../../../deploy/config-doc.js";
import { VERSION } from "../../../proto/src/version.js";

const root = resolve(import.meta.dirname, "../../..");

describe("documentation stays in sync", () => {
  it("deploy/CONFIG.md is generated from the config schemas", () => {
    const committed = readFileSync(resolve(root, "deploy/CONFIG.md"), "utf8");
    expect(committed, "run: npx tsx deploy/config-doc.ts > deploy/CONFIG.md").toBe(configDoc());
  });

  it("VERSION equals package.json's version", () => {
    const pkg = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
