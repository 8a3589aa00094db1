// Checks the server's OpenAPI document as client tools see it: starts the debug binary
// (in-memory database, no auth) on a free port, saves GET /api/openapi.json, lints it with
// Redocly's recommended rules (any error fails), generates TypeScript types from it with
// openapi-typescript and type-checks them, with a small program that uses them, under
// `tsc --strict`. Exits non-zero on the first failure.
// Usage: npm test   (PARKSTREAM_BIN overrides the binary, default ../../target/debug/parkstream)
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(
  here,
  process.env.PARKSTREAM_BIN ??
    `${process.env.CARGO_TARGET_DIR ?? "../../target"}/debug/parkstream`,
);

async function fetchDocument() {
  const server = spawn(
    bin,
    ["serve", "--bind", "127.0.0.1:0", "--auth", "none", "--log-format", "json",
      "--database-url", "sqlite::memory:"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  try {
    const addr = await new Promise((ok, fail) => {
      server.on("error", fail);
      server.on("exit", (code) => fail(new Error(`${bin} exited (${code}) before listening`)));
      createInterface({ input: server.stderr }).on("line", (line) => {
        try {
          const log = JSON.parse(line);
          if (log.message === "parkstream listening") ok(log.addr);
        } catch {
          // not a log line
        }
      });
    });
    const response = await fetch(`http://${addr}/api/openapi.json`);
    if (!response.ok) throw new Error(`GET /api/openapi.json answered ${response.status}`);
    return await response.text();
  } finally {
    server.kill();
  }
}

function run(command, args) {
  console.log(`$ ${command} ${args.join(" ")}`);
  const result = spawnSync(resolve(here, "node_modules/.bin", command), args, {
    cwd: here,
    stdio: "inherit",
    // No update check nor usage report: CI reaches only the package registries.
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
  });
  if (result.status !== 0) {
    console.error(`${command} failed`);
    process.exit(result.status ?? 1);
  }
}

mkdirSync(resolve(here, "build"), { recursive: true });
writeFileSync(resolve(here, "build/openapi.json"), await fetchDocument());
run("redocly", ["lint", "build/openapi.json", "--format", "stylish"]);
run("openapi-typescript", ["build/openapi.json", "--output", "build/api.d.ts", "--redocly", "redocly.typegen.yaml"]);
run("tsc", ["--project", "tsconfig.json"]);
console.log("openapi: lint and generated types ok");
