// The generated TypeScript packages against a live Python node over loopback
// WebSockets: objects both ways, codecs, SQL catch-up, responses and errors,
// reconnect, coalescing.  Run: node --experimental-websocket --test (see package.json).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { load, once, startNode, until } from "./harness.mjs";

let presence;
let exercise;
let node;
const clients = [];

before(async () => {
  presence = await load("presence_sync");
  exercise = await load("exercise_sync");
  node = await startNode();
});

after(async () => {
  for (const client of clients) {
    client.close();
  }
  await node?.stop();
});

// Each package carries its own copy of the runtime: a client is made with the
// SyncClient of the package whose error classes the test checks.
function connect(user, registries, options = {}, pkg = presence) {
  const client = new pkg.SyncClient({ url: node.url(user), registries, ...options });
  clients.push(client);
  return client;
}

async function opened(client) {
  if (!client.connected) {
    await once((h) => client.onOpen(h));
  }
}

function cursor(board, x, participant = randomUUID()) {
  return new presence.Cursor({ participant, board, x, y: 2.5, color: "#123456", side: "blue" });
}

describe("objects both ways", { timeout: 15_000 }, () => {
  test("a cursor goes to Python and Python's answer comes back", async () => {
    const client = connect("blue-ann", [presence.registry]);
    const mine = cursor("echo", 1.5);
    client.synchronize(mine);
    const reply = await client.waitFor(
      presence.Cursor,
      (c) => c.board === "echo-reply" && c.participant === mine.participant,
    );
    assert.ok(reply instanceof presence.Cursor);
    assert.equal(reply.x, 2.5);
    assert.equal(reply.y, 2.5);
    assert.equal(reply.color, "#123456"); // through Python's encode_rgb/decode_rgb hooks
    assert.equal(reply.side, presence.Side.BLUE);
    assert.notEqual(reply._sync_owner, client.ownerId); // owned by the Python node
    assert.equal(client.store(presence.Cursor).get(mine.syncKey()), mine);
  });

  test("datetime, null, bytes and json values survive the Python side", async () => {
    const client = connect("blue-bea", [presence.registry]);
    const who = randomUUID();
    const when = new Date(Date.UTC(2024, 4, 1, 12, 0, 0, 250));
    client.synchronize(
      new presence.Position({
        participant: who,
        room: "hall",
        x: 1,
        y: -2,
        updated_at: when,
        zones: ["north", "lab ü"],
        signal: { ap1: -40, ap2: -71 },
      }),
    );
    const icon = Uint8Array.from([0, 1, 2, 250, 255]);
    const beaconOwner = randomUUID();
    client.synchronize(
      new presence.Beacon({
        participant: beaconOwner,
        room: "lab",
        x: 0,
        y: 0,
        heading: 90.5,
        updated_at: when,
        label: "printer ü",
        icon,
        battery_volts: "03.70",
      }),
    );
    const payload = { nested: [1, 2.5, "ü", null, true], empty: {} };
    const pongs = [];
    client.onReceive(presence.Ping, (ping) => pongs.push(ping));
    client.synchronize(
      new presence.Ping({ participant: who, board: "ping", x: 3, y: 4, payload }),
    );
    const position = await client.waitFor(presence.Position, (p) => p.room === "hall-echo");
    assert.equal(position.updated_at.getTime(), when.getTime());
    assert.equal(position.heading, null);
    assert.deepEqual(position.zones, ["north", "lab ü", "echo"]);
    assert.deepEqual(position.signal, { ap1: -40, ap2: -71, echo: -1 });
    const beacon = await client.waitFor(presence.Beacon, (b) => b.room === "lab-echo");
    assert.deepEqual([...beacon.icon], [255, 250, 2, 1, 0]);
    assert.equal(beacon.label, "printer ü");
    assert.equal(beacon.heading, 90.5);
    assert.equal(beacon.battery_volts, "3.70"); // a Decimal in Python, text on the wire
    assert.deepEqual(beacon.zones, []);
    await until(() => pongs.some((p) => p.board === "pong"), 5000, "the pong");
    assert.deepEqual(pongs.find((p) => p.board === "pong").payload, { echo: payload });
  });
});

describe("deletes", { timeout: 15_000 }, () => {
  test("an object the owner deletes leaves the store, and handlers see the delete", async () => {
    const client = connect("blue-jo", [presence.registry]);
    const seen = [];
    client.onReceive(presence.Cursor, (c, info) => {
      if (c.board === "vanished") {
        seen.push(info.operation);
      }
    });
    const mine = cursor("vanish", 0);
    client.synchronize(mine);
    await until(() => seen.includes("delete"), 5000, "the delete");
    assert.deepEqual(seen, ["sync", "delete"]);
    const key = JSON.stringify([mine.participant, "vanished"]);
    assert.equal(client.store(presence.Cursor).has(key), false);
  });

  test("deleting an object of our own forgets it here and at the node", async () => {
    const client = connect("blue-del", [presence.registry]);
    const mine = cursor("echo", 40);
    client.synchronize(mine);
    await client.waitFor(presence.Cursor, (c) => c.board === "echo-reply" && c.x === 41);
    assert.equal(client.store(presence.Cursor).get(mine.syncKey()), mine);
    // The node accepts the owner's delete: no answer, and the object is gone here.
    assert.equal(await client.request(mine, { operation: "delete" }), null);
    assert.equal(client.store(presence.Cursor).has(mine.syncKey()), false);
    // Gone at the node too: deleting it again is refused there.
    await assert.rejects(client.request(mine, { operation: "delete" }), /SyncNotFound/);
  });
});

describe("SQL catch-up", { timeout: 15_000 }, () => {
  test("a blue client gets the blue rows with their values, never the red ones", async () => {
    const client = connect("blue-cat", [exercise.registry]);
    const vm = await client.waitFor(exercise.VirtualMachine, (m) => m.hostname === "web01");
    assert.equal(vm.snapshot_taken_at.getTime(), Date.UTC(2024, 4, 1, 12, 0, 0, 250));
    assert.deepEqual(vm.specs, { cpus: 4, tags: ["dmz", "café"] });
    assert.equal(vm.os, exercise.MachineOs.LINUX);
    assert.equal(vm.compromised, false);
    const alice = await client.waitFor(exercise.Participant, (p) => p.callsign === "alice");
    assert.deepEqual([...alice.avatar], [0x89, 0x50, 0x4e, 0x47, 13, 10, 0x1a, 10, 0, 0xff]);
    assert.equal(alice.joined_on, "2024-05-01");
    assert.equal("password_hash" in alice, false); // sync: false stays in Python
    const blue = await client.waitFor(exercise.Team, (t) => t.name === "blue team");
    assert.equal(alice.team, blue.id);
    assert.equal(typeof blue.extra.sync_serial, "number");
    const names = [...client.store(exercise.Team).values()].map((t) => t.name);
    assert.deepEqual(names.sort(), ["blue reserve", "blue team"]);
  });
});

describe("SQL catch-up after a reconnect", { timeout: 20_000 }, () => {
  test("only what changed is sent again", async () => {
    const sent = [];
    // The real WebSocket, recording what the client sends.
    class Recording extends WebSocket {
      send(data) {
        sent.push(JSON.parse(data));
        super.send(data);
      }
    }
    const client = connect("blue-kim", [presence.registry, exercise.registry], {
      minDelay: 50,
      WebSocket: Recording,
    });
    let opens = 0;
    client.onOpen(() => {
      opens += 1;
    });
    // No test changes alice: after the reconnect she must not be sent again.
    const alices = [];
    client.onReceive(exercise.Participant, () => alices.push(opens));
    await client.waitFor(exercise.VirtualMachine, (m) => m.hostname === "web01");
    await client.waitFor(exercise.Participant, (p) => p.callsign === "alice");
    const reopened = once((h) => client.onOpen(h));
    client.synchronize(cursor("drop", 0));
    await reopened;
    // Only this test changes the reserve team (others change the blue team).
    const team = await client.waitFor(exercise.Team, (t) => t.name === "blue reserve");
    team.motto = "after the reconnect";
    const answer = await client.request(team, { operation: "forward", attributes: ["motto"] });
    assert.equal(answer.motto, "after the reconnect");
    const iHaves = sent.filter((m) => m._sync_type === "IHave");
    assert.equal(iHaves.length, 2); // one per connection: the node has one SQL owner
    assert.equal(iHaves[0].serial, 0);
    assert.ok(iHaves[1].serial > 0, `IHave after the reconnect: ${iHaves[1].serial}`);
    assert.equal(iHaves[1]._sync_owner, iHaves[0]._sync_owner);
    // alice, unchanged since the first connection, was not sent again.
    assert.deepEqual(alices, [1]);
    assert.equal(client.store(exercise.Participant).size, 1);
  });
});

describe("responses and errors", { timeout: 15_000 }, () => {
  test("a forward to the owner resolves with the committed object", async () => {
    const client = connect("blue-dan", [exercise.registry]);
    const team = await client.waitFor(exercise.Team, (t) => t.name === "blue team");
    team.motto = "forward works";
    const answer = await client.request(team, { operation: "forward", attributes: ["motto"] });
    assert.ok(answer instanceof exercise.Team);
    assert.equal(answer.motto, "forward works");
    assert.ok(answer.extra.sync_serial > 0);
  });

  test("a create proposed to the owner resolves with the stored object", async () => {
    const client = connect("blue-lee", [exercise.registry]);
    const alice = await client.waitFor(exercise.Participant, (p) => p.callsign === "alice");
    const request = new exercise.HelpRequest({
      participant: alice.id,
      side: exercise.Side.BLUE,
      body: "the scanner hangs",
      labels: ["scanner"],
    });
    request._sync_owner = alice._sync_owner; // proposed to the node that owns the rows
    // The owner allocates the key: it is left out of the proposal.
    const attributes = ["participant", "side", "body", "labels"];
    const answer = await client.request(request, { operation: "create", attributes });
    assert.ok(answer instanceof exercise.HelpRequest);
    assert.notEqual(answer.id, request.id);
    assert.match(answer.id, /^[0-9a-f]{8}-[0-9a-f]{4}-/);
    assert.equal(answer.body, "the scanner hangs");
    assert.deepEqual(answer.labels, ["scanner"]);
    assert.equal(answer.status, exercise.HelpRequestStatus.OPEN);
  });

  test("an object refused by Python's policy rejects with its SyncError", async () => {
    const client = connect("blue-eve", [exercise.registry], {}, exercise);
    const blue = await client.waitFor(exercise.Team, (t) => t.name === "blue team");
    const red = new exercise.Team({ name: "sneaky", side: exercise.Side.RED });
    red._sync_owner = blue._sync_owner;
    await assert.rejects(client.request(red, { operation: "forward" }), (err) => {
      assert.ok(err instanceof exercise.SyncError);
      assert.equal(err.syncType, "SyncUnauthorized");
      assert.match(err.message, /may not send red objects/);
      return true;
    });
  });

  test("a sync nobody answers resolves with null", async () => {
    const client = connect("blue-fay", [presence.registry]);
    assert.equal(await client.request(cursor("quiet", 1)), null);
  });

  test("a session the node refuses never opens, and the client keeps trying", async () => {
    const client = connect("nobody", [presence.registry], { minDelay: 20 });
    const failures = [];
    client.onConnectionSetupFailed((count) => failures.push(count));
    await until(() => failures.length >= 2, 5000, "two refused attempts");
    assert.deepEqual(failures.slice(0, 2), [1, 2]);
    assert.equal(client.connected, false);
  });

  test("bad values are refused locally, naming the type and property", () => {
    const bad = cursor("echo", 1, "not-a-uuid");
    assert.throws(() => bad.toSync(), /Cursor.participant: a UUID is expected/);
    assert.throws(
      () => presence.Cursor.fromSync({ participant: randomUUID(), board: 3 }),
      (err) => err instanceof presence.CodecError && /Cursor.board: a string/.test(err.message),
    );
    const volts = (v) =>
      new presence.Beacon({
        participant: randomUUID(), room: "r", x: 0, y: 0, label: "l", battery_volts: v,
      });
    assert.throws(() => volts("3.705").toSync(), /at most 2 digits after the point/);
    assert.throws(() => volts("123.5").toSync(), /at most 2 digits before the point/);
    assert.throws(() => volts("1e3").toSync(), /decimal text/);
    assert.throws(
      () => presence.Position.fromSync({ participant: randomUUID(), zones: ["a", 2] }),
      /Position.zones\[1\]: a string is expected, got 2/,
    );
    assert.throws(
      () => presence.Position.fromSync({ participant: randomUUID(), signal: { a: 1.5 } }),
      /Position.signal\["a"\]: an integer is expected/,
    );
    assert.throws(
      () => exercise.Team.fromSync({ id: randomUUID(), side: "purple" }),
      /Team.side: a value of Side is expected, got "purple"/,
    );
  });
});

describe("transitions", { timeout: 15_000 }, () => {
  test("a drag is shown at once elsewhere, and its end is applied by the owner", async () => {
    const mover = connect("blue-mo", [exercise.registry], {}, exercise);
    const watcher = connect("blue-wat", [exercise.registry], {}, exercise);
    const vm = await mover.waitFor(exercise.VirtualMachine, (m) => m.hostname === "web01");
    await watcher.waitFor(exercise.VirtualMachine, (m) => m.hostname === "web01");
    const seen = [];
    watcher.onReceive(exercise.VirtualMachine, (m, info) => seen.push([info.operation, m.address]));

    vm.address = "10.0.0.6";
    const outcome = mover.transition(vm, { attributes: ["address"] });
    assert.match(vm.transition_id, /^[0-9a-f-]{36}$/);
    await until(() => seen.some(([op]) => op === "transition"), 5000, "the provisional state");
    assert.deepEqual(seen[0], ["transition", "10.0.0.6"]);

    vm.address = "10.0.0.7";
    const final = await mover.endTransition(vm, { attributes: ["address"] });
    assert.equal(final.address, "10.0.0.7");
    assert.equal(await outcome, final); // the owner's sync answers the transition too
    assert.equal(vm.transition_id, undefined);
    await until(() => seen.some(([op, a]) => op === "sync" && a === "10.0.0.7"), 5000, "the end");
    assert.throws(() => mover.endTransition(vm), /not in a transition/);
    const team = mover.store(exercise.Team).values().next().value;
    assert.throws(() => mover.transition(team), /Team has no transitions/);
  });
});

describe("broken transitions", { timeout: 15_000 }, () => {
  test("another change of the object breaks the transition", async () => {
    const mover = connect("blue-nat", [exercise.registry], {}, exercise);
    const other = connect("blue-oz", [exercise.registry], {}, exercise);
    const vm = await mover.waitFor(exercise.VirtualMachine, (m) => m.hostname === "web01");
    const theirs = await other.waitFor(exercise.VirtualMachine, (m) => m.hostname === "web01");
    vm.hypervisor = "kvm-moving";
    const outcome = mover.transition(vm, { attributes: ["hypervisor"] });
    await until(() => other.store(exercise.VirtualMachine).get(theirs.syncKey()).hypervisor === "kvm-moving", 5000, "the provisional state");
    theirs.hypervisor = "xen";
    await other.request(theirs, { operation: "forward", attributes: ["hypervisor"] });
    await assert.rejects(outcome, (err) => {
      assert.ok(err instanceof exercise.SyncError);
      assert.equal(err.syncType, "BrokenTransition");
      return true;
    });
    assert.equal(vm.transition_id, undefined);
    await until(() => vm.hypervisor === "xen", 5000, "the winning change");
  });
});

describe("reconnect", { timeout: 20_000 }, () => {
  test("after the node drops the connection the client reconnects and resends", async () => {
    const client = connect("blue-gus", [presence.registry], { minDelay: 50 });
    await opened(client);
    const mine = cursor("echo", 10);
    client.synchronize(mine);
    await client.waitFor(presence.Cursor, (c) => c.board === "echo-reply" && c.x === 11);
    const closed = once((h) => client.onClose(h));
    const reopened = new Promise((resolve) => {
      let opens = 0;
      client.onOpen(() => {
        opens += 1;
        if (opens === 1) {
          resolve();
        }
      });
    });
    client.synchronize(cursor("drop", 0));
    await closed;
    await reopened;
    // The owned echo cursor was sent again on the new connection: Python answers anew.
    mine.x = 20;
    client.synchronize(mine);
    await client.waitFor(presence.Cursor, (c) => c.board === "echo-reply" && c.x === 21);
  });

  test("a request pending when the client closes rejects with ConnectionLost", async () => {
    const client = connect("blue-hal", [presence.registry]);
    await opened(client);
    const pending = client.request(cursor("quiet", 5));
    client.close();
    await assert.rejects(pending, presence.ConnectionLost);
  });
});

describe("coalescing", { timeout: 15_000 }, () => {
  test("200 updates of one cursor in one turn leave as one message", async () => {
    const client = connect("blue-ivy", [presence.registry]);
    await opened(client);
    const burst = cursor("burst", 0);
    for (let x = 0; x <= 199; x += 1) {
      burst.x = x;
      client.synchronize(burst);
    }
    const count = await client.waitFor(
      presence.Cursor,
      (c) => c.board === "burst-count" && c.participant === burst.participant,
    );
    assert.equal(count.x, 1);
  });
});
