// Throughput of the generated TypeScript client against the Python node (a measuring
// tool, not a test): N cursors with distinct keys go to py_node.py, which answers each
// with a cursor of its own (board "echo"); timed from the first synchronize until the
// N-th answer arrived.  Run: node --experimental-websocket bench_echo.mjs [N] [repeat]

import { randomUUID } from "node:crypto";

import { load, startNode } from "./harness.mjs";

const n = Number(process.argv[2] ?? 5000);
const repeat = Number(process.argv[3] ?? 3);
const presence = await load("presence_sync");
const node = await startNode();
const rates = [];
try {
  for (let run = 0; run < repeat; run += 1) {
    const client = new presence.SyncClient({
      url: node.url(`blue-bench-${run}`),
      registries: [presence.registry],
    });
    await new Promise((resolve) => client.onOpen(resolve));
    let answers = 0;
    const done = new Promise((resolve) => {
      client.onReceive(presence.Cursor, (c) => {
        if (c.board === "echo-reply" && (answers += 1) === n) {
          resolve();
        }
      });
    });
    const start = performance.now();
    for (let i = 0; i < n; i += 1) {
      client.synchronize(
        new presence.Cursor({ participant: randomUUID(), board: "echo", x: i, side: "red" }),
      );
    }
    await done;
    rates.push(n / ((performance.now() - start) / 1000));
    client.close();
  }
} finally {
  await node.stop();
}
rates.sort((a, b) => b - a);
const fmt = (r) => Math.round(r).toLocaleString("en");
console.log(`${n} cursors there and back, ${repeat} runs: best ${fmt(rates[0])}/s, ` +
  `median ${fmt(rates[Math.floor(rates.length / 2)])}/s`);
