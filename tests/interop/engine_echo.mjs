// Drives the npm engine.io-client against an Engine.IO echo endpoint at <url>/engine.io/.
// Usage: node engine_echo.mjs <url> <polling|websocket|upgrade>
// Prints "ok <check>" / "FAIL <check>: <why>" lines; exits 0 only when every check passed.
import { Socket } from "engine.io-client";

const [url, mode] = process.argv.slice(2);
const failures = [];
const check = (name, ok, why = "") => {
  console.log(ok ? `ok ${name}` : `FAIL ${name}: ${why}`);
  if (!ok) failures.push(name);
};
setTimeout(() => {
  console.log("FAIL timeout: the scenario did not finish in 30 s");
  process.exit(1);
}, 30_000).unref();

const options = {
  path: "/engine.io/",
  transports: mode === "websocket" ? ["websocket"] : ["polling", "websocket"],
  upgrade: mode === "upgrade",
};
const socket = new Socket(url, options);
const received = [];
let waiter = null;
socket.on("message", (data) => {
  received.push(data);
  if (waiter) waiter();
});
const next = () =>
  new Promise((resolve) => {
    if (received.length) return resolve(received.shift());
    waiter = () => {
      waiter = null;
      resolve(received.shift());
    };
  });

await new Promise((resolve, reject) => {
  socket.on("open", resolve);
  socket.on("error", reject);
});
check("open", true);

if (mode === "upgrade") {
  await new Promise((resolve) => {
    if (socket.transport.name === "websocket") return resolve();
    socket.on("upgrade", resolve);
  });
  check("upgraded", socket.transport.name === "websocket", socket.transport.name);
} else {
  check(`transport is ${mode}`, socket.transport.name === mode, socket.transport.name);
}

const texts = ["hello", "héllo wörld €", "x", "a".repeat(100_000)];
for (const text of texts) {
  socket.send(text);
  const echo = await next();
  check(`text echo (${text.length} chars)`, echo === text, `got ${String(echo).slice(0, 40)}`);
}
const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
socket.send(bytes);
const echo = await next();
const got = echo instanceof Uint8Array ? echo : new Uint8Array(echo);
check("binary echo", got.length === bytes.length && got.every((b, i) => b === bytes[i]), `got ${got}`);

// In order, several at once.
for (let i = 0; i < 20; i++) socket.send(`n${i}`);
let ordered = true;
for (let i = 0; i < 20; i++) ordered &&= (await next()) === `n${i}`;
check("order kept", ordered);

socket.close();
check("closed", true);
process.exit(failures.length ? 1 : 0);
