// Clients behind the load balancer carry on when a node dies.
// Usage: node lb_failover.mjs <entry-url> [--polling <heartbeat-ms>] <control command...>
// The control command is run as `<control...> kill <node-id>`.
// Default: websocket, polling and upgrading clients with the balancer's sticky cookie. With
// --polling (a cookie-free balancer, session forwarding): polling clients only, and those of the
// killed node must reconnect within two heartbeat intervals.
import { execFileSync } from "node:child_process";
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";

let [entry, ...control] = process.argv.slice(2);
let heartbeat = null;
if (control[0] === "--polling") {
  heartbeat = Number(control[1]);
  control = control.slice(2);
}
timeLimit(60_000);

const transports = heartbeat ? [["polling"]] : [["websocket"], ["polling"], ["polling", "websocket"]];
const clients = Array.from({ length: 9 }, (_, i) =>
  io(entry, {
    transports: transports[i % transports.length],
    forceNew: true,
    withCredentials: !heartbeat,
    reconnectionDelay: 100,
    reconnectionDelayMax: heartbeat ? 200 : 500,
  }),
);
const whoami = (c) => c.timeout(5000).emitWithAck("whoami");
const connected = (c) => new Promise((r) => (c.connected ? r() : c.once("connect", r)));
await Promise.all(clients.map(connected));
const before = await Promise.all(clients.map(whoami));
const nodes = new Set(before.map((w) => w.node));
check("clients spread over nodes", nodes.size >= 2, [...nodes].join(","));

const victim = before[0].node;
const affected = clients.filter((_, i) => before[i].node === victim);
const reconnected = affected.map(
  (c) => new Promise((r) => c.once("disconnect", () => c.once("connect", () => r(Date.now())))),
);
const killedAt = Date.now();
execFileSync(control[0], [...control.slice(1), "kill", victim], { stdio: "inherit" });
console.log(`killed ${victim}`);
const times = (await Promise.all(reconnected)).map((t) => t - killedAt);
check(`${affected.length} clients of the killed node reconnected`, true, times.join(","));
if (heartbeat) {
  const slowest = Math.max(...times);
  check(
    `they reconnected within two heartbeats (${2 * heartbeat} ms)`,
    slowest <= 2 * heartbeat,
    `slowest ${slowest} ms: ${times.join(",")}`,
  );
}

const after = await Promise.all(clients.map(whoami));
check("nobody is on the killed node", after.every((w) => w.node !== victim), JSON.stringify(after));
await Promise.all(clients.map((c) => c.timeout(5000).emitWithAck("join", "after")));
const got = clients.map((c) => new Promise((r) => c.once("message", r)));
await clients[1].timeout(5000).emitWithAck("publish", { room: "after", data: "still here" });
const received = await Promise.all(got);
check("everyone gets messages again", received.every((d) => d === "still here"));
for (const c of clients) c.close();
finish();
