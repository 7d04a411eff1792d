// Drives every reference-app event with the npm socket.io-client 4.x.
// Usage: node sio_client.mjs <url>[,<url>...] <polling|websocket|upgrade> [--token T]
// With several URLs (nodes of one cluster) the clients are spread over them.
// Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
import { io } from "socket.io-client";

const args = process.argv.slice(2);
const urls = args[0].split(",");
const mode = args[1];
const tokenAt = args.indexOf("--token");
const token = tokenAt >= 0 ? args[tokenAt + 1] : null;
const failures = [];
const check = (name, ok, why = "") => {
  console.log(ok ? `ok ${name}` : `FAIL ${name}: ${why}`);
  if (!ok) failures.push(name);
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
setTimeout(() => {
  console.log("FAIL timeout: the scenario did not finish in 45 s");
  process.exit(1);
}, 45_000).unref();

const transports = mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"];
let made = 0;
const sockets = [];
const open = (nsp = "/", auth = token ? { token } : undefined) => {
  const url = urls[made++ % urls.length] + (nsp === "/" ? "" : nsp);
  // withCredentials keeps the load balancer's sticky cookie (engine.io-client has a cookie jar in Node).
  const socket = io(url, { transports, upgrade: mode === "upgrade", forceNew: true, reconnection: false, auth, withCredentials: true });
  sockets.push(socket);
  return socket;
};
const connected = (socket) =>
  new Promise((resolve, reject) => {
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", reject);
  });
const upgraded = (socket) =>
  new Promise((resolve) => {
    if (socket.io.engine.transport.name === "websocket") return resolve();
    socket.io.engine.on("upgrade", () => resolve());
  });
// Collects `message` events so tests can await them or check there are none.
const inbox = (socket) => {
  const queue = [];
  const waiters = [];
  socket.on("message", (data) => (waiters.length ? waiters.shift()(data) : queue.push(data)));
  return {
    next: (ms = 5000) =>
      new Promise((resolve, reject) => {
        if (queue.length) return resolve(queue.shift());
        const timer = setTimeout(() => reject(new Error("no message")), ms);
        waiters.push((d) => {
          clearTimeout(timer);
          resolve(d);
        });
      }),
    empty: () => queue.length === 0,
  };
};
const call = (socket, event, ...params) =>
  new Promise((resolve, reject) =>
    socket.timeout(5000).emit(event, ...params, (err, ...reply) => (err ? reject(err) : resolve(reply))),
  );
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bytesEqual = (a, b) => a && b && a.length === b.length && a.every((x, i) => x === b[i]);

try {
  if (token) {
    const intruder = open("/", { token: "wrong" });
    const refusal = await connected(intruder).then(
      () => "connected",
      (err) => err.message,
    );
    check("wrong token refused with 'unauthorized'", refusal === "unauthorized", refusal);
  }
  const [c1, c2, c3] = await Promise.all([open(), open(), open()].map(connected));
  check("connect", true);
  if (mode === "upgrade") {
    await Promise.all([c1, c2, c3].map(upgraded));
    check("upgraded to websocket", [c1, c2, c3].every((s) => s.io.engine.transport.name === "websocket"));
  } else {
    check(`transport ${transports[0]}`, c1.io.engine.transport.name === transports[0], c1.io.engine.transport.name);
  }
  const [m1, m2, m3] = [c1, c2, c3].map(inbox);

  const [who] = await call(c1, "whoami");
  check("whoami", who.sid === c1.id && typeof who.node === "string" && who.node.length > 0, JSON.stringify(who));

  check("join", same(await call(c1, "join", "r"), [true]) && same(await call(c2, "join", "r"), [true]));
  check("count", same(await call(c3, "count", "r"), [2]));

  check("publish acked", same(await call(c3, "publish", { room: "r", data: { n: 1 } }), [true]));
  check("publish reaches member 1", same(await m1.next(), { n: 1 }));
  check("publish reaches member 2", same(await m2.next(), { n: 1 }));
  await call(c1, "publish", { room: "r", data: "from inside" });
  check("sender included", (await m1.next()) === "from inside" && (await m2.next()) === "from inside");
  await sleep(200);
  check("non-member gets nothing", m3.empty());

  const mixed = ["a", 1, { k: [1, null] }, null, true];
  check("echo mixed arguments", same(await call(c2, "echo", ...mixed), mixed));
  const blob = Buffer.from([1, 2, 3, 255]);
  const [b1, b2] = await call(c2, "echo", blob, { nested: blob, s: "x" });
  check("echo binary", bytesEqual(new Uint8Array(b1), blob) && bytesEqual(new Uint8Array(b2.nested), blob) && b2.s === "x");

  const [rooms] = await call(c3, "rooms");
  check("rooms", rooms.includes("r") && rooms.includes(c1.id), JSON.stringify(rooms));

  await call(c1, "direct", { to: c3.id, data: "psst" });
  check("direct", (await m3.next()) === "psst");

  for (const [socket, name] of [[c1, "one"], [c2, "two"]]) socket.on("ask", (data, ack) => ack(`${name}:${data}`));
  const [gathered] = await call(c3, "gather", { room: "r", data: "q", timeout_ms: 3000 });
  check(
    "gather (acks from clients)",
    same([...gathered.replies].sort(), ["one:q", "two:q"]) && same(gathered.missing_nodes, []),
    JSON.stringify(gathered),
  );

  check("leave", same(await call(c2, "leave", "r"), [true]) && same(await call(c3, "count", "r"), [1]));

  const kicked = new Promise((resolve) => c1.on("disconnect", resolve));
  await call(c3, "kick", "r");
  const reason = await kicked;
  check("kick", reason === "io server disconnect", reason);

  const [d1, d2] = await Promise.all([open("/custom"), open("/custom")].map(connected));
  check("custom namespace connect", true);
  check("custom namespace echo", same(await call(d1, "echo", "hi", 2), ["hi", 2]));
  const dm = inbox(d2);
  await call(d2, "join", "cr");
  await call(d1, "publish", { room: "cr", data: "custom" });
  check("custom namespace publish", (await dm.next()) === "custom");
  check("namespaces are separate", same(await call(c3, "count", "cr"), [0]));
} catch (err) {
  check("scenario", false, err?.stack ?? String(err));
}
for (const s of sockets) s.close();
process.exit(failures.length ? 1 : 0);
