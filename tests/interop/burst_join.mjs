// A burst of n socket.io-client websocket clients, each emitting `join` the moment it is connected
// (in its `connect` handler), with an ack timeout of 20 s. At most 500 are being opened at once.
// Usage: node burst_join.mjs <url> [n=5000] [in-flight=500]
// Prints "ok ..." / "FAIL ..." lines; exits 0 only when every one of the n joins was acked `true`.
import { io } from "socket.io-client";

const [url, countArg, inFlightArg] = process.argv.slice(2);
const total = Number(countArg ?? 5000);
const inFlight = Math.min(Number(inFlightArg ?? 500), total);
if (!url || !(total > 0) || !(inFlight > 0)) {
  console.log("usage: node burst_join.mjs <url> [n=5000] [in-flight=500]");
  process.exit(2);
}
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

let acked = 0;
let connectErrors = 0;
let ackErrors = 0;
let wrongAcks = 0;
const firstErrors = [];
const noteError = (what) => firstErrors.length < 5 && firstErrors.push(what);
const sockets = [];
let next = 0;
let done = 0;

setTimeout(() => {
  console.log(`FAIL timeout after ${elapsed()}: ${acked} of ${total} acked, ${done} settled`);
  process.exit(1);
}, 90_000).unref();

// One client: connect, join in the connect handler, settle on the ack (or the failure).
const one = (i) =>
  new Promise((resolve) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 20_000 });
    sockets.push(socket);
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        done++;
        resolve();
      }
    };
    socket.on("connect", () => {
      socket.timeout(20_000).emit("join", `burst-${i % 50}`, (err, ok) => {
        if (err) {
          ackErrors++;
          noteError(`client ${i}: ${err.message}`);
        } else if (ok === true) {
          acked++;
        } else {
          wrongAcks++;
          noteError(`client ${i}: ack ${JSON.stringify(ok)}`);
        }
        settle();
      });
    });
    socket.on("connect_error", (err) => {
      connectErrors++;
      noteError(`client ${i}: connect_error ${err.message}`);
      settle();
    });
    socket.on("disconnect", (reason) => {
      if (!settled) {
        ackErrors++;
        noteError(`client ${i}: disconnected (${reason}) before the ack`);
        settle();
      }
    });
  });

const progress = setInterval(() => console.log(`# ${elapsed()}: ${acked} acked, ${done} settled of ${total}`), 10_000);
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next < total) await one(next++);
  }),
);
clearInterval(progress);
const took = elapsed();
for (const s of sockets) s.close();

for (const e of firstErrors) console.log(`# ${e}`);
if (acked === total) console.log(`ok all ${total} joins acked in ${took}`);
else
  console.log(
    `FAIL only ${acked} of ${total} joins acked in ${took} (${connectErrors} connect errors, ${ackErrors} lost acks, ${wrongAcks} wrong acks)`,
  );
process.exit(acked === total ? 0 : 1);
