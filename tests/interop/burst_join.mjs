// n socket.io-client websocket clients, each emitting `join` the moment it is connected.
// Usage: node burst_join.mjs <url> <n>. Exits 0 only when every join was acked.
import { io } from "socket.io-client";

const [url, countArg] = process.argv.slice(2);
const total = Number(countArg ?? 5000);
const inFlight = 500;
setTimeout(() => {
  console.log(`FAIL timeout: ${acked} of ${total} acked`);
  process.exit(1);
}, 90_000).unref();

let acked = 0;
let failed = 0;
const sockets = [];
const one = (i) =>
  new Promise((resolve) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    sockets.push(socket);
    socket.on("connect", async () => {
      try {
        const ok = await socket.timeout(20_000).emitWithAck("join", `burst-${i % 50}`);
        if (ok === true) acked++;
        else failed++;
      } catch {
        failed++;
      }
      resolve();
    });
    socket.on("connect_error", () => {
      failed++;
      resolve();
    });
  });

let started = 0;
const workers = Array.from({ length: inFlight }, async () => {
  while (started < total) {
    const i = started++;
    await one(i);
  }
});
await Promise.all(workers);
for (const s of sockets) s.close();
console.log(acked === total ? `ok all ${total} joins acked` : `FAIL only ${acked} of ${total} acked (${failed} failed)`);
process.exit(acked === total ? 0 : 1);
