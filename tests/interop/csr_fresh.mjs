// Sessions that must not be restored, with the npm socket.io-client: a forged offset, the pid
// and offset of `/` presented to `/custom`, an unknown pid, an expired session, and a session
// presented again after it was restored, each
// get a fresh session (new id, `recovered` false, never the other socket's state); a control
// case is recovered, so the checks are not vacuous. The node runs with --recovery-ms 2000.
// Usage: node csr_fresh.mjs <url>
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";

const [url] = process.argv.slice(2);
timeLimit(40_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const connected = (c) => new Promise((r) => (c.connected ? r() : c.once("connect", r)));
const opts = { transports: ["websocket"], forceNew: true, reconnection: false };

// A socket that saw one broadcast (so it has an offset), then lost its transport.
async function dropped(nsp = "/") {
  const s = io(url + nsp, opts);
  await connected(s);
  const room = `fresh-${Math.random()}`;
  await s.timeout(5000).emitWithAck("join", room);
  const got = new Promise((r) => s.once("message", r));
  await s.timeout(5000).emitWithAck("publish", { room, data: 1 });
  await got;
  const state = { id: s.id, pid: s._pid, offset: s._lastOffset, room };
  const gone = new Promise((r) => s.once("disconnect", r));
  s.io.engine.close();
  await gone;
  await sleep(150);
  return state;
}

// Connects to `nsp` presenting `pid` and `offset`; resolves to the socket.
async function present(nsp, pid, offset) {
  const s = io(url + nsp, { ...opts, autoConnect: false });
  s._pid = pid;
  s._lastOffset = offset;
  s.connect();
  await connected(s);
  return s;
}

function fresh(name, s, old) {
  check(`${name}: a fresh session`, s.recovered === false && s.id !== old.id && s._pid !== old.pid, `${s.recovered} ${s.id} ${old.id}`);
  s.close();
}

const a = await dropped();
check("a dropped socket has a pid and an offset", typeof a.pid === "string" && typeof a.offset === "string", JSON.stringify(a));
fresh("forged offset", await present("/", a.pid, "1-0"), a);

const b = await dropped();
fresh("pid and offset of / presented to /custom", await present("/custom", b.pid, b.offset), b);

const c = await dropped();
await sleep(3000);
fresh("expired session", await present("/", c.pid, c.offset), c);

fresh("unknown pid", await present("/", "no-such-pid-000000000", a.offset), a);

const d = await dropped();
const back = await present("/", d.pid, d.offset);
check("control: the same presentation in time is recovered", back.recovered === true && back.id === d.id, `${back.recovered} ${back.id} ${d.id}`);
fresh("a restored session presented again (restored at most once)", await present("/", d.pid, d.offset), d);
back.close();
finish();
