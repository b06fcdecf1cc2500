// The page: cursors of the "map" board from the Python node, and ours, moved by the
// mouse.  Built on the generated presence package (compiled to /presence_sync/).
import { Cursor, Side, SyncClient, registry } from "./presence_sync/index.js";

const board = document.getElementById("board");
const status = document.getElementById("status");
const count = document.getElementById("count");
const config = await (await fetch("config.json")).json();

const client = new SyncClient({ url: `${config.ws}?user=page`, registries: [registry] });
const mine = new Cursor({
  participant: crypto.randomUUID(),
  board: "map",
  x: 0,
  y: 0,
  color: "#3366ff",
  side: Side.STAFF,
});
const shown = new Map(); // participant -> element

function show(cursor) {
  let dot = shown.get(cursor.participant);
  if (dot === undefined) {
    dot = document.createElement("div");
    dot.className = "cursor";
    dot.dataset.participant = cursor.participant;
    dot.append(document.createElement("span"));
    board.append(dot);
    shown.set(cursor.participant, dot);
  }
  dot.style.left = `${cursor.x}px`;
  dot.style.top = `${cursor.y}px`;
  dot.style.background = typeof cursor.color === "string" ? cursor.color : "#333";
  dot.dataset.x = String(cursor.x);
  dot.dataset.y = String(cursor.y);
  dot.firstChild.textContent =
    cursor.participant === config.bot ? "python bot" : cursor.participant.slice(0, 8);
  count.textContent = String(shown.size);
}

client.onReceive(Cursor, (cursor, info) => {
  if (cursor.board !== "map") {
    return;
  }
  if (info.operation === "delete") {
    shown.get(cursor.participant)?.remove();
    shown.delete(cursor.participant);
    count.textContent = String(shown.size);
  } else {
    show(cursor);
  }
});
client.onOpen(() => {
  status.textContent = "connected";
  status.dataset.state = "open";
});
client.onClose(() => {
  status.textContent = "reconnecting";
  status.dataset.state = "closed";
});

board.addEventListener("mousemove", (event) => {
  const area = board.getBoundingClientRect();
  mine.x = Math.round(event.clientX - area.left);
  mine.y = Math.round(event.clientY - area.top);
  client.synchronize(mine); // coalesced: at most one message per turn of the loop
  show(mine);
});
