// A rolling restart of every node while clients publish: beyond reconnects, no client-visible
// failure, and no acknowledged publish is lost for subscribers that stayed connected.
// Usage: node lb_rolling.mjs <entry-url> <node-ids comma-separated> <control command...>
// The control command is run as `<control...> restart <node-id>`.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";

const run = promisify(execFile);
const [entry, nodeList, ...control] = process.argv.slice(2);
timeLimit(240_000);
const t0 = Date.now();

const options = { transports: ["websocket"], forceNew: true, withCredentials: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
// Subscribers: (re)join the room on every connect; remember when they were in it.
const subscribers = Array.from({ length: 6 }, () => {
  const s = { socket: io(entry, options), intervals: [], current: null, got: new Set() };
  s.socket.on("connect", async () => {
    try {
      await s.socket.timeout(5000).emitWithAck("join", "roll");
      s.current = { from: Date.now(), to: Infinity };
      s.intervals.push(s.current);
    } catch {}
  });
  s.socket.on("disconnect", () => {
    if (s.current) s.current.to = Date.now();
    s.current = null;
  });
  s.socket.on("message", (m) => s.got.add(m.seq));
  return s;
});
const publishers = Array.from({ length: 2 }, () => io(entry, options));
await new Promise((r) => setTimeout(r, 1000));

const acked = [];
let unacked = 0;
let seq = 0;
let publishing = true;
const loops = publishers.map(async (p) => {
  while (publishing) {
    const mine = seq++;
    const sent = Date.now();
    if (p.connected) {
      try {
        const ok = await p.timeout(3000).emitWithAck("publish", { room: "roll", data: { seq: mine } });
        if (ok === true) acked.push({ seq: mine, sent, acked: Date.now() });
        else unacked++;
      } catch {
        unacked++;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
});

for (const id of nodeList.split(",")) {
  const began = Date.now();
  await run(control[0], [...control.slice(1), "restart", id]);
  console.log(`restarted ${id} in ${Date.now() - began} ms (t=${Date.now() - t0} ms)`);
  await new Promise((r) => setTimeout(r, 1000));
}
publishing = false;
await Promise.all(loops);
await new Promise((r) => setTimeout(r, 1000));

let owed = 0;
let lost = 0;
for (const m of acked) {
  for (const s of subscribers) {
    const stayed = s.intervals.some((i) => i.from <= m.sent && i.to >= m.acked + 500);
    if (!stayed) continue;
    owed++;
    if (!s.got.has(m.seq)) lost++;
  }
}
check(`${acked.length} publishes acked (${unacked} not acked during reconnects)`, acked.length > 100);
check(`every subscriber reconnected`, subscribers.every((s) => s.socket.connected));
check(`${owed} deliveries owed to subscribers that stayed connected, ${lost} lost`, owed > 0 && lost === 0);
for (const s of [...subscribers.map((s) => s.socket), ...publishers]) s.close();
finish();
