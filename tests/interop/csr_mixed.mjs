// A client recovered by the other kind of node: Rust (sio-node --redis-streams) and Node.js
// (@socket.io/redis-streams-adapter) nodes on one stream, recovery on. The subscriber starts on
// <from>, the publisher is on <to> (broadcasts cross kinds); the subscriber's transport drops,
// messages are published while it is away, then it reconnects to <to> and must be recovered
// there: same id, room kept, every message exactly once and in order.
// Fetches and broadcasts with acks cross kinds as well.
// Usage: node csr_mixed.mjs <from-url> <to-url>
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";
import { checkExactlyOnce, startPublisher } from "./publisher.mjs";

const [from, to] = process.argv.slice(2);
const room = `mixed-${process.pid}`;
const received = [];
timeLimit(40_000, () => ` (received ${received.length})`);
const connected = (c) => new Promise((r) => (c.connected ? r() : c.once("connect", r)));
const ask = (c, ...args) => c.timeout(5000).emitWithAck(...args);
const until = async (cond, ms, what) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const sub = io(from, { transports: ["websocket"], forceNew: true, reconnection: false });
sub.on("message", (data) => received.push(data));
await connected(sub);
const firstId = sub.id;
const firstNode = (await ask(sub, "whoami")).node;
await ask(sub, "join", room);
const pub = io(to, { transports: ["websocket"], forceNew: true });
await connected(pub);
const pubNode = (await ask(pub, "whoami")).node;
check("the publisher is on the other node", pubNode !== firstNode, `${firstNode} ${pubNode}`);
// Requests cross kinds too (pub/sub side channel): fetch and a broadcast with acks.
sub.on("ask", (data, ack) => ack(`pong ${data}`));
const count = await ask(pub, "count", room);
check("fetch_sockets from the other node counts the subscriber", count === 1, JSON.stringify(count));
const gathered = await ask(pub, "gather", { room, data: "ping", timeout_ms: 3000 });
check("a broadcast with acks from the other node gets the subscriber's ack", JSON.stringify(gathered.replies) === '["pong ping"]' && gathered.missing_nodes.length === 0, JSON.stringify(gathered));

const publisher = startPublisher(pub, room);
await until(() => received.length >= 20, 10_000, "20 messages across kinds");
check("broadcasts reach the subscriber from the other kind of node", true);
const gone = new Promise((r) => sub.once("disconnect", r));
sub.io.engine.close();
await gone;
await new Promise((r) => setTimeout(r, 300));
const last = await publisher.stop();

// Reconnect, to the other node this time.
sub.io.uri = to;
sub.connect();
await connected(sub);
check("socket.recovered is true on the other kind of node", sub.recovered === true, String(sub.recovered));
check("the socket id is kept", sub.id === firstId, `${firstId} -> ${sub.id}`);
const now = (await ask(sub, "whoami")).node;
check("recovered by the other node", now === pubNode, now);
await until(() => received.includes("end"), 10_000, "the messages missed while away");
await ask(pub, "publish", { room, data: "after" });
await until(() => received.includes("after"), 5_000, "a message to the restored room");
await new Promise((r) => setTimeout(r, 200));

checkExactlyOnce(received, last);
check("the room is restored without joining again", received.at(-1) === "after", JSON.stringify(received.slice(-3)));
sub.close();
pub.close();
finish();
