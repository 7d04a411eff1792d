// Drives the `conformance` example (server/examples/conformance.rs) with the npm socket.io-client:
// connects with and without auth on `/` and `/custom`, binary arguments inline and nested, acks
// from client to server and from server to client.
// Usage: node conformance_client.mjs <url> [--parser json|msgpack]
// Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
import { createRequire } from "node:module";
import { io } from "socket.io-client";
import { check, finish, same, timeLimit } from "./check.mjs";

const [url] = process.argv.slice(2);
const parserAt = process.argv.indexOf("--parser");
const parserName = parserAt >= 0 ? process.argv[parserAt + 1] : "json";
if (!url || !["json", "msgpack"].includes(parserName)) {
  console.log("usage: node conformance_client.mjs <url> [--parser json|msgpack]");
  process.exit(2);
}
const parser = parserName === "msgpack" ? { parser: createRequire(import.meta.url)("socket.io-msgpack-parser") } : {};
timeLimit(20_000);

const show = (v) => JSON.stringify(v, (_, x) => (x?.type === "Buffer" ? `<bytes ${x.data}>` : x));
const sockets = [];
// Connects to `nsp` and resolves with the socket and the payload of the server's `auth` event.
const open = (nsp, auth) =>
  new Promise((resolve, reject) => {
    const socket = io(url + nsp, { forceNew: true, reconnection: false, transports: ["websocket"], auth, ...parser });
    sockets.push(socket);
    socket.once("auth", (payload) => resolve([socket, payload]));
    socket.once("connect_error", reject);
  });
const next = (socket, event) => new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
const call = (socket, event, ...args) =>
  new Promise((resolve, reject) =>
    socket.timeout(5000).emit(event, ...args, (err, ...reply) => (err ? reject(err) : resolve(reply))),
  );

try {
  const [plain, noAuth] = await open("/", undefined);
  check("connect without auth (CONNECT data absent)", plain.connected && same(noAuth, {}), show(noAuth));
  const [withAuth, auth] = await open("/", { token: "abc", n: [1, null] });
  check("connect with auth: the server sees it", same(auth, { token: "abc", n: [1, null] }), show(auth));
  const [custom, customAuth] = await open("/custom", { ns: "custom" });
  check("connect to /custom", custom.connected && same(customAuth, { ns: "custom" }), show(customAuth));

  const blob = Buffer.from([0, 1, 2, 255]);
  let back = next(plain, "message-back");
  plain.emit("message", blob);
  let got = await back;
  check("binary argument comes back", same(got, [blob]), show(got));

  const nested = [{ a: [blob, "x"], b: { c: Uint8Array.from([7, 8]) } }, "s", 1];
  back = next(withAuth, "message-back");
  withAuth.emit("message", ...nested);
  got = await back;
  check("nested binary comes back", same(got, nested), show(got));

  got = await call(plain, "message-with-ack", 1, "two", blob, { d: [blob] });
  check("client-to-server ack with binary", same(got, [1, "two", blob, { d: [blob] }]), show(got));

  for (const s of [plain, custom]) {
    s.on("callback", (...args) => {
      const ack = args.pop();
      ack("got", ...args);
    });
  }
  got = await call(plain, "call-me-back", "x", blob);
  check("server-to-client ack", same(got, ["got", "x", blob]), show(got));
  got = await call(custom, "call-me-back", { nested: [blob] });
  check("server-to-client ack on /custom", same(got, ["got", { nested: [blob] }]), show(got));

  back = next(custom, "message-back");
  custom.emit("message", "in custom", blob);
  got = await back;
  check("/custom echoes its own events", same(got, ["in custom", blob]), show(got));
} catch (err) {
  check("scenario", false, err?.message ?? String(err));
}
for (const s of sockets) s.disconnect();
finish();
