// Drives the npm engine.io-client 6.x against a raw Engine.IO v4 echo endpoint at <url>/engine.io/
// (every message, text or binary, is sent back unchanged).
// Usage: node engine_echo.mjs <url> <polling|websocket|upgrade>
//   polling:   transports ['polling'], no upgrade
//   websocket: transports ['websocket']
//   upgrade:   polling first, then the upgrade to websocket (the `upgrade` event must fire)
// Prints "ok <check>" / "FAIL <check>: <why>" lines; exits 0 only when every check passed.
import { Socket } from "engine.io-client";
import { check, finish, timeLimit } from "./check.mjs";

const [url, mode] = process.argv.slice(2);
if (!url || !["polling", "websocket", "upgrade"].includes(mode)) {
  console.log("usage: node engine_echo.mjs <url> <polling|websocket|upgrade>");
  process.exit(2);
}
timeLimit(30_000, () => ": the scenario did not finish in 30 s");

const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
const socket = new Socket(url, { path: "/engine.io/", transports, upgrade: mode === "upgrade" });

// Every echo lands in `received`; `next()` takes them in arrival order.
const received = [];
let waiter = null;
socket.on("message", (data) => {
  received.push(data);
  if (waiter) waiter();
});
let closedBy = null;
socket.on("close", (reason, description) => {
  closedBy = reason;
  if (waiter) waiter();
  if (!finished) console.log(`# closed early: ${reason} ${description?.message ?? description ?? ""}`);
});
let finished = false;
const next = (ms = 5000) =>
  new Promise((resolve, reject) => {
    if (received.length) return resolve(received.shift());
    const timer = setTimeout(() => {
      waiter = null;
      reject(new Error(`no echo within ${ms} ms`));
    }, ms);
    waiter = () => {
      waiter = null;
      clearTimeout(timer);
      if (received.length) resolve(received.shift());
      else reject(new Error(`socket closed (${closedBy}) while waiting for an echo`));
    };
  });
let upgradedTo = null;
socket.on("upgrade", (transport) => (upgradedTo = transport.name));

const describe = (v) =>
  typeof v === "string" ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…(${v.length} chars)` : v) : `${v?.constructor?.name}(${v?.byteLength ?? v?.length})`;
const asBytes = (v) =>
  v instanceof ArrayBuffer ? new Uint8Array(v) : ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : null;
const sameMessage = (got, sent) => {
  if (typeof sent === "string") return got === sent;
  const a = asBytes(got);
  const b = asBytes(sent);
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
};

let step = "open"; // named in the failure when the scenario stops early
try {
  await new Promise((resolve, reject) => {
    socket.on("open", resolve);
    socket.on("error", (err) => reject(new Error(`error before open: ${err?.message ?? err}`)));
  });
  check("open", true);

  // In upgrade mode, these go out over polling while the upgrade is under way; their echoes must
  // still all arrive, in order.
  const early = mode === "upgrade" ? ["early-0", "early-1", "early-2"] : [];
  for (const m of early) socket.send(m);

  step = "upgrade";
  if (mode === "upgrade") {
    check("starts on polling", socket.transport.name === "polling", socket.transport.name);
    const deadline = Date.now() + 10_000;
    while (upgradedTo === null && closedBy === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    check("upgrade event fired", upgradedTo === "websocket", `upgrade event: ${upgradedTo}`);
    check("transport is websocket after the upgrade", socket.transport.name === "websocket", socket.transport.name);
    const got = [];
    for (const _ of early) got.push(await next());
    check("echoes of messages sent during the upgrade, in order", early.every((m, i) => got[i] === m), JSON.stringify(got));
  } else {
    check(`transport is ${mode}`, socket.transport.name === mode, socket.transport.name);
  }

  // One at a time: text (incl. unicode and one character), binary (Uint8Array and Buffer), 100 KB.
  const messages = [
    "hello",
    "héllo wörld € 日本語 🎉",
    "x",
    Uint8Array.from([0, 1, 2, 250, 255]),
    Buffer.from("buffer \u00ff bytes"),
    "a".repeat(100_000),
    Uint8Array.from({ length: 20_000 }, (_, i) => i % 256),
  ];
  for (const sent of messages) {
    step = `echo ${describe(sent)}`;
    socket.send(sent);
    const got = await next();
    check(`echo ${describe(sent)}`, sameMessage(got, sent), `got ${describe(got)}`);
  }

  // Many at once, text and binary interleaved: the echoes keep the order.
  const burst = Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? Uint8Array.from([i, 255 - i]) : `n${i}`));
  step = "30 mixed messages";
  for (const m of burst) socket.send(m);
  const got = [];
  for (const _ of burst) got.push(await next());
  const firstBad = burst.findIndex((m, i) => !sameMessage(got[i], m));
  check("30 mixed messages echoed in order", firstBad < 0, `#${firstBad}: sent ${describe(burst[firstBad])}, got ${describe(got[firstBad])}`);

  await new Promise((r) => setTimeout(r, 200));
  check("no extra echo", received.length === 0, `${received.length} unexpected: ${received.map(describe).join(", ")}`);
  check("still open", closedBy === null, `closed: ${closedBy}`);
} catch (err) {
  check(step, false, err?.message ?? String(err));
}

finished = true;
if (closedBy === null) {
  socket.close();
  for (let i = 0; i < 50 && closedBy === null; i++) await new Promise((r) => setTimeout(r, 20));
  check("closed cleanly", closedBy === "forced close", String(closedBy));
}
// Give a polling close packet time to leave before exiting.
await new Promise((r) => setTimeout(r, 100));
finish();
