// Shared set-up of the Node tests: compile the generated packages (strict tsconfig of
// each package) into build/, start the Python node (py_node.py) and stop it.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "..", "..");
const GENERATED = path.join(ROOT, "generated", "typescript");
const BUILD = path.join(here, "build");
const TSC = path.join(here, "node_modules", "typescript", "bin", "tsc");

/** Compile one generated package and import its entry point. */
export async function load(pkg) {
  const out = path.join(BUILD, pkg);
  execFileSync(process.execPath, [TSC, "-p", path.join(GENERATED, pkg), "--outDir", out], {
    stdio: "inherit",
  });
  return import(path.join(out, "index.js"));
}

/** Start py_node.py; resolves with {url(user), stop()} once it listens. */
export async function startNode() {
  const python = process.env.ENTANGLEGEN_PYTHON ?? path.join(ROOT, ".venv", "bin", "python");
  const dir = mkdtempSync(path.join(tmpdir(), "ts-node-"));
  const child = spawn(python, [path.join(here, "py_node.py"), path.join(dir, "exercise.sqlite")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`py_node.py exited with ${code}`)));
    lines.once("line", (line) => resolve(JSON.parse(line).port));
  });
  return {
    url: (user) => `ws://127.0.0.1:${port}/?user=${encodeURIComponent(user)}`,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Poll `predicate` until it holds (fails after `ms`). */
export async function until(predicate, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Wait for the next call of an `onX(handler)` registration. */
export function once(register) {
  return new Promise((resolve) => {
    const stop = register((...args) => {
      stop();
      resolve(args);
    });
  });
}
