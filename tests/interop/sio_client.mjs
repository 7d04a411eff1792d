// Drives every reference-app event with the npm socket.io-client 4.x.
// Usage: node sio_client.mjs <url>[,<url>...] <polling|websocket|upgrade> [--token T] [--parser json|msgpack] [--tag T]
//   polling:   transports ['polling']
//   websocket: transports ['websocket']
//   upgrade:   polling first, then the upgrade to websocket
// With several URLs (nodes of one cluster) the clients are spread over them. With --token T the
// clients connect with auth {token: T}, and connects with a wrong or no token must be refused with
// the connect_error message "unauthorized". With --parser msgpack the clients use
// socket.io-msgpack-parser (the server must too); the checks and what they expect are the same.
// Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
import { io } from "socket.io-client";
import { createRequire } from "node:module";
import { bytesOf, check, finish, isBinary, same, timeLimit } from "./check.mjs";

const args = process.argv.slice(2);
const mode = args[1];
if (!args[0] || !["polling", "websocket", "upgrade"].includes(mode)) {
  console.log("usage: node sio_client.mjs <url>[,<url>...] <polling|websocket|upgrade> [--token T] [--parser json|msgpack] [--tag T]");
  process.exit(2);
}
const urls = args[0].split(",");
const flag = (name) => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : null);
const token = flag("--token");
const parserName = flag("--parser") ?? "json";
// --tag T is appended to every room name, so that runs can share a server.
const tag = flag("--tag") ?? "";
const [ROOM, KICK, CROOM] = ["r", "k", "cr"].map((name) => name + tag);
if (!["json", "msgpack"].includes(parserName)) {
  console.log(`unknown parser ${parserName}`);
  process.exit(2);
}
// socket.io-client's default parser is socket.io-parser (JSON); the msgpack one is a CommonJS package.
const parserOption = parserName === "msgpack" ? { parser: createRequire(import.meta.url)("socket.io-msgpack-parser") } : {};

timeLimit(30_000, () => `: the scenario did not finish in 30 s (at: ${step})`);
let step = "start"; // named in the failure when the scenario stops early

const show = (v) =>
  JSON.stringify(v, (_, x) => (isBinary(x) ? `<${bytesOf(x).length} bytes: ${[...bytesOf(x).slice(0, 8)]}>` : x?.type === "Buffer" && Array.isArray(x.data) ? `<${x.data.length} bytes: ${x.data.slice(0, 8)}>` : x));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
const goodAuth = token ? { token } : undefined;
let made = 0;
const sockets = [];
const open = (nsp = "/", auth = goodAuth) => {
  const url = urls[made++ % urls.length] + (nsp === "/" ? "" : nsp);
  // withCredentials keeps a load balancer's sticky cookie (engine.io-client has a cookie jar in Node).
  const socket = io(url, {
    transports,
    upgrade: mode === "upgrade",
    forceNew: true,
    reconnection: false,
    auth,
    withCredentials: true,
    timeout: 10_000,
    ...parserOption,
  });
  sockets.push(socket);
  return socket;
};
const connected = (socket) =>
  new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
const refusal = (socket) =>
  connected(socket).then(
    () => "connected",
    (err) => err.message,
  );
const upgraded = async (socket) => {
  for (let i = 0; i < 250 && socket.io.engine.transport.name !== "websocket"; i++) await sleep(20);
  return socket.io.engine.transport.name === "websocket";
};
const disconnected = (socket) => new Promise((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
// Collects `message` events so checks can await them or make sure there are none.
const inbox = (socket) => {
  const queue = [];
  const waiters = [];
  socket.on("message", (...data) => {
    const value = data.length === 1 ? data[0] : data;
    waiters.length ? waiters.shift()(value) : queue.push(value);
  });
  return {
    next: (ms = 5000) =>
      new Promise((resolve, reject) => {
        if (queue.length) return resolve(queue.shift());
        const waiter = (d) => {
          clearTimeout(timer);
          resolve(d);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no message within ${ms} ms`));
        }, ms);
        waiters.push(waiter);
      }),
    // Waits a little, then tells whether nothing (more) arrived.
    quiet: async (ms = 300) => {
      await sleep(ms);
      return queue.length === 0;
    },
  };
};
// Emits with an ack callback; resolves with the ack's arguments (an array).
const call = (socket, event, ...params) =>
  new Promise((resolve, reject) =>
    socket.timeout(5000).emit(event, ...params, (err, ...reply) => (err ? reject(new Error(`no ack for ${event}: ${err.message}`)) : resolve(reply))),
  );
// Calls `count` until it answers `want` (other nodes of a cluster may take a moment), for up to 3 s.
const countIs = async (socket, room, want) => {
  let got;
  for (let i = 0; i < 30; i++) {
    got = await call(socket, "count", room);
    if (same(got, [want])) return [true, got];
    await sleep(100);
  }
  return [false, got];
};

try {
  if (token) {
    step = "auth refusal";
    const r1 = await refusal(open("/", { token: "wrong" }));
    check("wrong token refused with 'unauthorized'", r1 === "unauthorized", r1);
    const r2 = await refusal(open("/", null)); // no auth at all
    check("missing token refused with 'unauthorized'", r2 === "unauthorized", r2);
    const r3 = await refusal(open("/custom", { token: `${token}x` }));
    check("wrong token refused on /custom", r3 === "unauthorized", r3);
  }

  step = "connect";
  const [c1, c2, c3] = await Promise.all([open(), open(), open()].map(connected));
  check("connect 3 clients", [c1, c2, c3].every((s) => s.connected && typeof s.id === "string"));
  check("distinct ids", new Set([c1.id, c2.id, c3.id]).size === 3, `${c1.id} ${c2.id} ${c3.id}`);
  if (mode === "upgrade") {
    const ups = await Promise.all([c1, c2, c3].map(upgraded));
    check("upgraded to websocket", ups.every(Boolean), [c1, c2, c3].map((s) => s.io.engine.transport.name).join(","));
  } else {
    const names = [c1, c2, c3].map((s) => s.io.engine.transport.name);
    check(`transport ${mode}`, names.every((n) => n === mode), names.join(","));
  }
  const [m1, m2, m3] = [c1, c2, c3].map(inbox);

  step = "whoami";
  for (const [i, s] of [c1, c2, c3].entries()) {
    const reply = await call(s, "whoami");
    const who = reply[0];
    check(
      `whoami client ${i + 1}`,
      reply.length === 1 && who?.sid === s.id && typeof who?.node === "string" && who.node.length > 0,
      `${show(reply)} (client id ${s.id})`,
    );
  }

  step = "join";
  const j1 = await call(c1, "join", ROOM);
  const j2 = await call(c2, "join", ROOM);
  check("join acks true", same(j1, [true]) && same(j2, [true]), show([j1, j2]));
  const c = await call(c3, "count", ROOM);
  check("count of the room is 2", same(c, [2]), show(c));
  const c0 = await call(c3, "count", "nobody-here");
  check("count of an empty room is 0", same(c0, [0]), show(c0));

  step = "publish";
  const p = await call(c3, "publish", { room: ROOM, data: { n: 1 } });
  check("publish acks true", same(p, [true]), show(p));
  check("publish reaches member 1", same(await m1.next(), { n: 1 }));
  check("publish reaches member 2", same(await m2.next(), { n: 1 }));
  await call(c1, "publish", { room: ROOM, data: "from inside" });
  const [s1, s2] = [await m1.next(), await m2.next()];
  check("publish reaches the sender too", s1 === "from inside" && s2 === "from inside", show([s1, s2]));
  const blob = Buffer.from([0, 1, 2, 3, 254, 255]);
  await call(c2, "publish", { room: ROOM, data: { bin: blob, s: "b" } });
  const [b1, b2] = [await m1.next(), await m2.next()];
  check("publish with binary data", same(b1, { bin: blob, s: "b" }) && same(b2, { bin: blob, s: "b" }), show([b1, b2]));
  check("non-member gets no publish", await m3.quiet());
  check("no duplicate deliveries", (await m1.quiet(0)) && (await m2.quiet(0)));

  step = "echo";
  const mixed = ["a", 1, 2.5, -7, { k: [1, null], t: "ü€" }, [1, "two", [3]], null, true, false, ""];
  const e1 = await call(c2, "echo", ...mixed);
  check("echo mixed arguments", same(e1, mixed), show(e1));
  const e0 = await call(c2, "echo");
  check("echo without arguments", same(e0, []), show(e0));
  const big = Buffer.alloc(50_000, 7);
  const binArgs = [blob, { nested: blob, list: [blob, "x"], s: "x" }, 42, big];
  const e2 = await call(c2, "echo", ...binArgs);
  check("echo binary (top level, nested, 50 KB)", same(e2, binArgs), show(e2));
  // ArrayBuffer and typed arrays (msgpack: extension type 0, not bin) come back as binary.
  const views = [Uint8Array.from([1, 2, 3]), Uint8Array.from([0]).buffer, new Uint8Array(8).fill(5).buffer, { deep: [Uint8Array.from([9, 8])] }];
  const ev = await call(c2, "echo", ...views);
  check("echo ArrayBuffer and typed arrays", same(ev, views), show(ev));
  // What JSON.stringify makes of undefined and dates is what comes back, whatever the parser.
  const when = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
  const eu = await call(c2, "echo", undefined, [1, undefined], { a: undefined, b: 1 }, when);
  check("echo undefined and a date as JSON has them", same(eu, [null, [1, null], { b: 1 }, when.toISOString()]), show(eu));
  const e3 = await call(c2, "echo", "a".repeat(100_000));
  check("echo 100 KB string", same(e3, ["a".repeat(100_000)]), `${show(e3).length} chars`);

  step = "rooms";
  const [rooms] = await call(c3, "rooms");
  check(
    "rooms lists the joined room and each socket's own room",
    Array.isArray(rooms) && rooms.every((r) => typeof r === "string") && [ROOM, c1.id, c2.id, c3.id].every((r) => rooms.includes(r)),
    show(rooms),
  );

  step = "direct";
  const d = await call(c1, "direct", { to: c3.id, data: "psst" });
  check("direct acks true", same(d, [true]), show(d));
  const got = await m3.next();
  check("direct reaches its target", got === "psst", show(got));
  check("direct reaches nobody else", (await m2.quiet()) && (await m1.quiet(0)));

  step = "gather";
  let wrongAsk = 0;
  c1.on("ask", (data, ack) => ack(`one:${data}`));
  c2.on("ask", (data, ack) => ack(`two:${data}`));
  c3.on("ask", (_data, ack) => {
    wrongAsk++;
    ack("three");
  });
  const [gathered] = await call(c3, "gather", { room: ROOM, data: "q", timeout_ms: 3000 });
  check(
    "gather collects both clients' acks",
    same([...(gathered?.replies ?? [])].sort(), ["one:q", "two:q"]) && same(gathered?.missing_nodes, []),
    show(gathered),
  );
  check("gather asks only the room", wrongAsk === 0, `non-member asked ${wrongAsk} times`);

  step = "leave";
  const l = await call(c2, "leave", ROOM);
  check("leave acks true", same(l, [true]), show(l));
  const [left, afterLeave] = await countIs(c3, ROOM, 1);
  check("count after leave is 1", left, show(afterLeave));
  await call(c3, "publish", { room: ROOM, data: "after leave" });
  check("publish after leave reaches the member", (await m1.next()) === "after leave");
  check("publish after leave skips who left", await m2.quiet());

  step = "kick";
  await call(c1, "join", KICK);
  await call(c2, "join", KICK);
  const kicked = [disconnected(c1), disconnected(c2)];
  const k = await call(c3, "kick", KICK);
  check("kick acks true", same(k, [true]), show(k));
  const reasons = await Promise.race([Promise.all(kicked), sleep(5000).then(() => ["(no disconnect in 5 s)"])]);
  check("kick disconnects the room's members with 'io server disconnect'", same(reasons, ["io server disconnect", "io server disconnect"]), show(reasons));
  await sleep(200);
  const w = c3.connected ? await call(c3, "whoami") : null;
  check("kick leaves other sockets connected", c3.connected && w?.[0]?.sid === c3.id, show(w));
  const [emptied, afterKick] = await countIs(c3, KICK, 0);
  check("kicked room is empty", emptied, show(afterKick));

  step = "namespace /custom";
  const [n1, n2] = await Promise.all([open("/custom"), open("/custom")].map(connected));
  check("custom namespace connect", n1.connected && n2.connected);
  const nw = await call(n1, "whoami");
  check("custom namespace whoami", nw[0]?.sid === n1.id, `${show(nw)} (client id ${n1.id})`);
  const ne = await call(n1, "echo", "hi", 2, { bin: blob });
  check("custom namespace echo", same(ne, ["hi", 2, { bin: blob }]), show(ne));
  const nm1 = inbox(n1);
  const nm2 = inbox(n2);
  check("custom namespace join", same(await call(n2, "join", CROOM), [true]));
  await call(n1, "publish", { room: CROOM, data: "custom" });
  check("custom namespace publish", (await nm2.next()) === "custom");
  check("custom namespace publish skips non-members", await nm1.quiet());
  const sep = await call(c3, "count", CROOM);
  check("namespaces have separate rooms", same(sep, [0]), show(sep));
  // Two namespaces over one connection (the Manager multiplexes).
  const mux = c3.io.socket("/custom", { auth: goodAuth }); // connects by itself (autoConnect)
  sockets.push(mux);
  await connected(mux);
  const mw = await call(mux, "whoami");
  check("second namespace over the same connection", mux.id !== c3.id && mw[0]?.sid === mux.id && c3.connected, `${show(mw)} ${mux.id} vs ${c3.id}`);
  const mux2 = await call(mux, "echo", "mux");
  const main2 = await call(c3, "echo", "main");
  check("both namespaces answer over the shared connection", same(mux2, ["mux"]) && same(main2, ["main"]), show([mux2, main2]));

  step = "disconnect";
  const bye = disconnected(n2);
  n2.disconnect();
  check("client disconnect", (await bye) === "io client disconnect");
  const [gone, afterBye] = await countIs(n1, CROOM, 0);
  check("a disconnected socket leaves its rooms", gone, show(afterBye));
} catch (err) {
  check(step, false, err?.message ?? String(err));
}
for (const s of sockets) s.disconnect();
await sleep(100); // lets the close packets leave
finish();
