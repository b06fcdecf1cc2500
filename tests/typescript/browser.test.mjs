// The browser example (examples/presence_cursors) in headless Chromium: the page
// connects, shows the Python node's cursor, and the page's own cursor reaches Python.
// Needs Debian's chromium (CHROMIUM=path to use another) and playwright-core.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import { ROOT, load } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const missing = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

let server;
let lines;
let browser;
const received = [];

before(async () => {
  if (missing) {
    return;
  }
  await load("presence_sync");
  const python = process.env.ENTANGLEGEN_PYTHON ?? path.join(ROOT, ".venv", "bin", "python");
  const script = path.join(ROOT, "examples", "presence_cursors", "serve.py");
  const packageDir = path.join(import.meta.dirname, "build", "presence_sync");
  server = spawn(python, [script, "--package-dir", packageDir, "--port", "0"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  lines = createInterface({ input: server.stdout });
  const first = await new Promise((resolve, reject) => {
    server.once("exit", (code) => reject(new Error(`serve.py exited with ${code}`)));
    lines.once("line", (line) => resolve(JSON.parse(line)));
  });
  lines.on("line", (line) => received.push(JSON.parse(line)));
  server.info = first;
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  if (server !== undefined) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.stdin.end();
    await exited;
  }
});

test("the page shows Python's cursor and sends its own", { skip: missing, timeout: 30_000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(err));
  const loaded = Date.now();
  await page.goto(server.info.page);
  const bot = page.locator(`.cursor[data-participant="${server.info.bot}"]`);
  await bot.waitFor({ state: "attached", timeout: 5000 });
  const shownAfter = Date.now() - loaded;
  console.log(`the Python cursor was on the page ${shownAfter} ms after navigation`);
  assert.equal(await page.locator("#status").getAttribute("data-state"), "open");
  // It moves: the bot goes round a circle ten times a second.
  const firstX = await bot.getAttribute("data-x");
  await page.waitForFunction(
    ([id, x]) => document.querySelector(`.cursor[data-participant="${id}"]`).dataset.x !== x,
    [server.info.bot, firstX],
    { timeout: 5000 },
  );

  const area = await page.locator("#board").boundingBox();
  await page.mouse.move(area.x + 123, area.y + 45);
  const deadline = Date.now() + 5000;
  // (The board's border and sub-pixel layout may shift the point by a pixel.)
  const near = (a, b) => Math.abs(a - b) <= 1;
  const mine = () =>
    received.find((l) => l.cursor && near(l.cursor.x, 123) && near(l.cursor.y, 45));
  while (mine() === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(mine(), `the page's cursor never reached Python: ${JSON.stringify(received)}`);
  assert.equal(mine().cursor.board, "map");
  assert.deepEqual(errors, []);
  await page.close();
});
