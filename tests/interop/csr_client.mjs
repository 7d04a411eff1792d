// Connection state recovery with the npm socket.io-client: a subscriber in a room, a publisher
// emitting to the room every 10 ms; the subscriber's connection drops (or its node is killed),
// it reconnects, and must be recovered: same id, rooms kept without joining again, every
// message exactly once and in order.
// Usage: node csr_client.mjs <subscriber-url> <publisher-url|auto> drop|kill [control...]
// With `auto`, the publisher connects to one of $NODE_URLS (comma-separated) that is not the
// subscriber's node. `kill` runs `<control...> kill <node-id>` on the subscriber's node.
import { execFileSync } from "node:child_process";
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";
import { checkExactlyOnce, startPublisher } from "./publisher.mjs";

const [subUrl, pubArg, mode, ...control] = process.argv.slice(2);
const room = `csr-${process.pid}`;
const received = [];
const offsets = [];
let phase = "start";
timeLimit(60_000, () => ` in phase ${phase}; received ${received.length}`);

const opts = { transports: ["websocket"], forceNew: true, reconnectionDelay: 200, reconnectionDelayMax: 500 };
const sub = io(subUrl, opts);
sub.on("message", (...args) => {
  received.push(args[0]);
  offsets.push(args[args.length - 1]);
});
const connected = (c) => new Promise((r) => (c.connected ? r() : c.once("connect", r)));
const ask = (c, ...args) => c.timeout(5000).emitWithAck(...args);
const until = async (cond, ms, what) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

await connected(sub);
const firstId = sub.id;
check("recovery is on: the CONNECT answer carries a pid", typeof sub._pid === "string", String(sub._pid));
check("a first connection is not recovered", sub.recovered === false, String(sub.recovered));
await ask(sub, "join", room);
const subNode = (await ask(sub, "whoami")).node;

let pubUrl = pubArg;
if (pubArg === "auto") {
  const urls = (process.env.NODE_URLS ?? "").split(",").filter(Boolean);
  for (const url of urls) {
    const probe = io(url, { transports: ["websocket"], forceNew: true });
    await connected(probe);
    const node = (await ask(probe, "whoami")).node;
    probe.close();
    if (node !== subNode) {
      pubUrl = url;
      break;
    }
  }
  check("a publisher node other than the subscriber's", pubUrl !== "auto", subNode);
}
const pub = io(pubUrl, { transports: ["websocket"], forceNew: true });
await connected(pub);
const publisher = startPublisher(pub, room);

phase = "before the drop";
await until(() => received.length >= 20, 10_000, "20 messages before the drop");
const recovered = new Promise((resolve) => sub.once("disconnect", () => sub.once("connect", () => resolve(sub.recovered))));
if (mode === "kill") {
  execFileSync(control[0], [...control.slice(1), "kill", subNode], { stdio: "inherit" });
} else {
  sub.io.engine.close();
}
phase = "reconnecting";
check("socket.recovered is true after the reconnection", (await recovered) === true, String(sub.recovered));
check("the socket id is kept", sub.id === firstId, `${firstId} -> ${sub.id}`);
const after = (await ask(sub, "whoami")).node;
if (mode === "kill") check("the reconnection went to another node", after !== subNode, after);

phase = "after the reconnection";
const countAtReconnect = received.length;
await until(() => received.length >= countAtReconnect + 50, 10_000, "50 messages after the reconnection");
const last = await publisher.stop();
await until(() => received.includes("end"), 10_000, "the last message");
await new Promise((r) => setTimeout(r, 300));

checkExactlyOnce(received, last);
check("every message carried a string offset", offsets.every((o) => typeof o === "string"));
const rooms = await ask(sub, "rooms");
check("the room is restored without joining again", rooms.includes(room), JSON.stringify(rooms));
sub.close();
pub.close();
finish();
