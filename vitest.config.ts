import { defineConfig } from "vitest/config";

// Two projects: `unit` is pure and fast; `integration` starts real nats-server, workers, gRPC servers and
// the CLI. Integration files run one at a time per core (2-core machines), each with its own nats-server.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Projects with different worker limits must run in separate groups (unit first: fast feedback).
          sequence: { groupOrder: 0 },
          environment: "node",
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          sequence: { groupOrder: 1 },
          environment: "node",
          pool: "forks",
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
