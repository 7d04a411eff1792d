// A node whose stream reader loses its Redis connection catches up from the last id it read:
// a subscriber on node A, a publisher on node B emitting every 10 ms, and A's reader connection
// killed three times (CLIENT KILL); every message must arrive exactly once and in order.
// Usage: node stream_gap.mjs <node-a-url> <node-b-url> <redis-port> <node-a-id>
import { execFileSync } from "node:child_process";
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";
import { checkExactlyOnce, startPublisher } from "./publisher.mjs";

const [aUrl, bUrl, redisPort, aId] = process.argv.slice(2);
timeLimit(40_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const connected = (c) => new Promise((r) => (c.connected ? r() : c.once("connect", r)));
const redis = (...args) => execFileSync("redis-cli", ["-p", redisPort, ...args]).toString();

const room = `gap-${process.pid}`;
const received = [];
const sub = io(aUrl, { transports: ["websocket"], forceNew: true });
sub.on("message", (data) => received.push(data));
await connected(sub);
await sub.timeout(5000).emitWithAck("join", room);
const pub = io(bUrl, { transports: ["websocket"], forceNew: true });
await connected(pub);

const publisher = startPublisher(pub, room);

let kills = 0;
for (let i = 0; i < 3; i++) {
  await sleep(400);
  const reader = redis("CLIENT", "LIST")
    .split("\n")
    .find((l) => l.includes(`name=sio-stream-reader-${aId} `));
  const id = reader?.match(/\bid=(\d+)/)?.[1];
  if (id) kills += Number(redis("CLIENT", "KILL", "ID", id).trim());
}
check("node A's stream reader was killed three times", kills === 3, String(kills));
await sleep(400);
const last = await publisher.stop();
const deadline = Date.now() + 10_000;
while (!received.includes("end") && Date.now() < deadline) await sleep(20);

check("the last message arrived", received.includes("end"));
checkExactlyOnce(received, last, " across reader reconnects");
sub.close();
pub.close();
finish();
