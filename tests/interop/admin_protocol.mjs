// The admin UI's protocol (@socket.io/admin-ui 0.5) against a cluster, with the npm
// socket.io-client as the admin client, as the UI itself connects.
// Usage: node admin_protocol.mjs <url>,<url>,... <node-id>,<node-id>,... <user> <password> <full|readonly> [app-token]
//   full:     auth, config, all_sockets across nodes, server_stats from each node, the live
//             events, and each action applied to sockets on other nodes.
//   readonly: the config offers no action, and actions sent anyway are not applied.
// The admin client connects to the first URL; app clients connect to each URL in turn (with
// `{token}` when the nodes run the reference app with --auth-token: the admin namespace must
// not need it, nor answer the app's events).
// Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";

const [urlList, idList, user, password, mode, appToken] = process.argv.slice(2);
const urls = urlList.split(",");
const nodeIds = idList.split(",");
let step = "start";
timeLimit(35_000, () => `: the scenario did not finish in 35 s (at: ${step})`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const connected = (socket) =>
  new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
const sockets = [];
const open = (url, opts = {}) => {
  const auth = appToken ? { token: appToken } : undefined;
  const socket = io(url, { forceNew: true, reconnection: false, timeout: 10_000, auth, ...opts });
  sockets.push(socket);
  return socket;
};
const call = (socket, event, ...params) =>
  new Promise((resolve, reject) =>
    socket.timeout(5000).emit(event, ...params, (err, ...reply) => (err ? reject(new Error(`no ack for ${event}`)) : resolve(reply))),
  );
// Every event an admin client receives, in order, from its creation.
const recorder = (socket) => {
  const seen = [];
  socket.onAny((event, ...args) => seen.push({ event, args }));
  return {
    seen,
    // The first recorded event matching `pred`, waiting up to `ms`.
    until: async (pred, ms = 6000) => {
      const end = Date.now() + ms;
      for (;;) {
        const hit = seen.find(pred);
        if (hit || Date.now() > end) return hit;
        await sleep(25);
      }
    },
  };
};
const adminUrl = `${urls[0]}/admin`;
const openAdmin = (auth) => {
  const socket = open(adminUrl, { auth, autoConnect: false });
  const rec = recorder(socket);
  socket.connect();
  return { socket, rec };
};
const refusal = (auth) => {
  const socket = open(adminUrl, { auth });
  return connected(socket).then(
    () => "connected",
    (err) => err.message,
  );
};

try {
  step = "app clients";
  // One app client per node, each in a room of its own.
  const clients = [];
  for (const [i, url] of urls.entries()) {
    const c = open(url);
    await connected(c);
    await call(c, "join", `room-${i}`);
    clients.push(c);
  }
  check("an app client connected to each node", clients.length === urls.length);

  step = "auth";
  check("a wrong password is refused with 'invalid credentials'", (await refusal({ username: user, password: "wrong" })) === "invalid credentials");
  check("a wrong username is refused", (await refusal({ username: "nobody", password })) === "invalid credentials");
  check("no credentials are refused", (await refusal(undefined)) === "invalid credentials");
  check("an unknown session id is refused", (await refusal({ sessionId: "0123456789abcdef" })) === "invalid credentials");

  const admin = openAdmin({ username: user, password });
  await connected(admin.socket);
  check("the right credentials are accepted", admin.socket.connected);
  if (appToken) {
    check("the app's token middleware does not guard the admin namespace", admin.socket.connected);
    const answer = await admin.socket.timeout(1000).emitWithAck("whoami").then(
      (reply) => JSON.stringify(reply),
      () => "no answer",
    );
    check("the app's events are not handled on the admin namespace", answer === "no answer", answer);
  }
  const session = await admin.rec.until((e) => e.event === "session");
  check("a session id is handed out", typeof session?.args[0] === "string" && session.args[0].length >= 16, JSON.stringify(session));
  const config = await admin.rec.until((e) => e.event === "config");
  const features = config?.args[0]?.supportedFeatures ?? [];
  const actions = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"];
  if (mode === "readonly") {
    check("read-only: the config offers no action", JSON.stringify(features) === JSON.stringify(["AGGREGATED_EVENTS", "ALL_EVENTS"]), JSON.stringify(features));
  } else {
    check("the config offers every action, aggregated and all events", JSON.stringify(features) === JSON.stringify([...actions, "AGGREGATED_EVENTS", "ALL_EVENTS"]), JSON.stringify(features));
  }
  const again = openAdmin({ sessionId: session?.args[0] });
  await connected(again.socket).catch(() => {});
  check("the session id lets a client in without the password", again.socket.connected);
  check("a session id client gets no new session", !(await again.rec.until((e) => e.event === "session", 500)));
  again.socket.disconnect();

  step = "all_sockets";
  const all = (await admin.rec.until((e) => e.event === "all_sockets"))?.args[0] ?? [];
  for (const [i, c] of clients.entries()) {
    const s = all.find((x) => x.id === c.id);
    check(`all_sockets lists the app client of node ${i + 1}`, !!s, JSON.stringify(all.map((x) => x.id)));
    if (!s) continue;
    check(
      `all_sockets describes node ${i + 1}'s socket as the UI expects`,
      s.nsp === "/" && s.rooms.includes(`room-${i}`) && s.rooms.includes(c.id) && typeof s.clientId === "string" && s.clientId.length === 12 && ["polling", "websocket"].includes(s.transport) && typeof s.handshake?.headers === "object" && typeof s.handshake?.address === "string" && !("_admin" in (s.data ?? {})),
      JSON.stringify(s),
    );
  }
  check("all_sockets lists the admin client itself", all.some((x) => x.id === admin.socket.id && x.nsp === "/admin"));
  check("no handshake auth (credentials) in all_sockets", !JSON.stringify(all).includes(password));

  step = "server_stats";
  const stats = {};
  for (const id of nodeIds) {
    const s = await admin.rec.until((e) => e.event === "server_stats" && e.args[0]?.serverId === id, 7000);
    stats[id] = s?.args[0];
    check(`server_stats arrive from node ${id}`, !!s);
  }
  for (const [i, id] of nodeIds.entries()) {
    const s = stats[id];
    if (!s) continue;
    const root = s.namespaces?.find((n) => n.name === "/");
    check(
      `node ${id}'s stats have the UI's fields`,
      typeof s.hostname === "string" && Number.isInteger(s.pid) && typeof s.uptime === "number" && Number.isInteger(s.clientsCount) && Number.isInteger(s.pollingClientsCount) && Array.isArray(s.aggregatedEvents),
      JSON.stringify(s),
    );
    // Each node holds its app client (node 1 also the admin clients).
    check(`node ${id}'s stats count its sockets of "/"`, root?.socketsCount === 1, JSON.stringify(s.namespaces));
    check(`node ${id}'s stats count its clients`, s.clientsCount >= 1, JSON.stringify(s));
    if (i === 0) check(`node ${id}'s stats list the admin namespace`, s.namespaces.some((n) => n.name === "/admin" && n.socketsCount >= 1), JSON.stringify(s.namespaces));
  }
  const events = await admin.rec.until((e) => e.event === "server_stats" && e.args[0].aggregatedEvents.some((a) => a.type === "rawConnection"), 5000);
  const raw = events?.args[0].aggregatedEvents.find((a) => a.type === "rawConnection");
  check("aggregated events count raw connections per second", raw && raw.count >= 1 && raw.timestamp % 1000 === 0, JSON.stringify(events?.args[0].aggregatedEvents));

  step = "live events";
  // A client of the last node, watched from the admin client on the first.
  const last = urls.length - 1;
  const watched = open(urls[last]);
  await connected(watched);
  const conn = await admin.rec.until((e) => e.event === "socket_connected" && e.args[0]?.id === watched.id);
  check("socket_connected arrives from another node", !!conn && conn.args[0].nsp === "/" && typeof conn.args[0].clientId === "string" && !Number.isNaN(Date.parse(conn.args[1])), JSON.stringify(conn));
  // The client upgrades as soon as its connection opens: if that ends before the socket is
  // connected, socket_connected already says websocket and no socket_updated follows (as with
  // Node's admin UI); otherwise socket_updated reports it.
  const upgraded = conn?.args[0]?.transport === "websocket"
    ? conn
    : await admin.rec.until((e) => e.event === "socket_updated" && e.args[0]?.id === watched.id && e.args[0]?.transport === "websocket");
  check("the upgrade to websocket reaches the admin UI (socket_updated, or socket_connected after it)", !!upgraded && upgraded.args[0].nsp === "/", JSON.stringify(upgraded));
  await call(watched, "join", "watched-room");
  const joined = await admin.rec.until((e) => e.event === "room_joined" && e.args[2] === watched.id && e.args[1] === "watched-room");
  check("room_joined arrives from another node", !!joined && joined.args[0] === "/" && !Number.isNaN(Date.parse(joined.args[3])), JSON.stringify(joined));
  const received = await admin.rec.until((e) => e.event === "event_received" && e.args[1] === watched.id);
  check("event_received names the event and its arguments", !!received && JSON.stringify(received.args[2]) === JSON.stringify(["join", "watched-room"]) && received.args[0] === "/", JSON.stringify(received));
  await call(watched, "publish", { room: "watched-room", data: "hello room" });
  const sent = await admin.rec.until((e) => e.event === "event_sent" && e.args[1] === watched.id);
  check("event_sent reports a broadcast delivered to the socket", !!sent && JSON.stringify(sent.args[2]) === JSON.stringify(["message", "hello room"]), JSON.stringify(sent));
  await call(watched, "leave", "watched-room");
  const left = await admin.rec.until((e) => e.event === "room_left" && e.args[2] === watched.id && e.args[1] === "watched-room");
  check("room_left arrives from another node", !!left && left.args[0] === "/", JSON.stringify(left));
  const watchedId = watched.id; // the client forgets it on disconnect
  watched.disconnect();
  const gone = await admin.rec.until((e) => e.event === "socket_disconnected" && e.args[1] === watchedId);
  check("socket_disconnected arrives with the reason", !!gone && gone.args[0] === "/" && gone.args[2] === "client namespace disconnect", JSON.stringify(gone));

  step = "actions";
  const target = clients[1 % clients.length]; // on the second node
  const other = clients[(2 % clients.length)];
  const inbox = (socket, event) => {
    const got = [];
    socket.on(event, (...args) => got.push(args));
    return got;
  };
  const hello = inbox(target, "hello");
  const otherHello = inbox(other, "hello");
  const reserved = inbox(target, "disconnect");
  admin.socket.emit("emit", "/", target.id, "disconnect", "forged");
  admin.socket.emit("emit", "/", target.id, "hello", 1, "two");
  admin.socket.emit("join", "/", "vip", other.id);
  admin.socket.emit("leave", "/", "room-0", clients[0].id);
  admin.socket.emit("emit", "/", "room-1", "hello", "room");
  await sleep(1500);
  const targetId = target.id; // the client forgets it on disconnect
  const disconnectReason = new Promise((resolve) => target.once("disconnect", resolve));
  admin.socket.emit("_disconnect", "/", false, target.id);
  const reason = await Promise.race([disconnectReason, sleep(3000).then(() => "still connected")]);
  if (mode === "readonly") {
    check("read-only: an emit is not applied", hello.length === 0 && otherHello.length === 0, JSON.stringify(hello));
    check("read-only: a join is not applied", !(await admin.rec.until((e) => e.event === "room_joined" && e.args[1] === "vip", 200)));
    check("read-only: a disconnect is not applied", reason === "still connected" && target.connected, reason);
  } else {
    check("emit reaches the selected socket on another node with its arguments", JSON.stringify(hello[0]) === JSON.stringify([1, "two"]), JSON.stringify(hello));
    check("emit to a room reaches its member on another node", JSON.stringify(hello[1]) === JSON.stringify(["room"]), JSON.stringify(hello));
    check("emit does not reach unselected sockets", otherHello.length === 0, JSON.stringify(otherHello));
    check("emit of a reserved event name is not applied", !reserved.some((args) => args[0] === "forged"), JSON.stringify(reserved));
    const vip = await admin.rec.until((e) => e.event === "room_joined" && e.args[1] === "vip" && e.args[2] === other.id);
    check("join makes a socket on another node join the room", !!vip);
    const left0 = await admin.rec.until((e) => e.event === "room_left" && e.args[1] === "room-0" && e.args[2] === clients[0].id);
    check("leave makes the socket leave the room", !!left0);
    check("_disconnect disconnects the socket on another node", reason === "io server disconnect", reason);
    const kicked = await admin.rec.until((e) => e.event === "socket_disconnected" && e.args[1] === targetId);
    check("socket_disconnected reports the server's disconnect", kicked?.args[2] === "server namespace disconnect", JSON.stringify(kicked));
  }
  check("the admin client stayed connected", admin.socket.connected);
} catch (err) {
  check("admin protocol scenario", false, `${step}: ${err?.stack ?? err}`);
} finally {
  for (const s of sockets) s.disconnect();
}
finish();
