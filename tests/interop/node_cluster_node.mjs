// A Node.js socket.io 4.x node with @socket.io/redis-adapter, serving the reference-app events
// the interop tests use, to share one Redis cluster with sio-node.
// Usage: node node_cluster_node.mjs <port> <redis-url> <node-id> [sharded:<subscription-mode>]
// With `sharded:dynamic` (or static, dynamic-private) the node uses createShardedAdapter; with
// SIO_NODE_ADAPTER=streams: @socket.io/redis-streams-adapter with connection state recovery
// (30 s, middlewares skipped) instead. With SIO_NODE_ADMIN=<user>:<bcrypt-hash>, the node is
// instrumented for the admin UI (@socket.io/admin-ui's `instrument`, server id <node-id>). With
// SIO_NODE_PARSER=msgpack its clients speak socket.io-msgpack-parser. The events are served on
// `/` and `/custom`.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { instrument } from "@socket.io/admin-ui";

const [port, redisUrl, nodeId, variant = "classic"] = process.argv.slice(2);
const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const adapter = variant.startsWith("sharded:")
  ? createShardedAdapter(pub, sub, { subscriptionMode: variant.slice("sharded:".length) })
  : createAdapter(pub, sub);

const http = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200).end("ok\n");
  }
});
const streams = process.env.SIO_NODE_ADAPTER === "streams";
const msgpack = process.env.SIO_NODE_PARSER === "msgpack";
const io = new Server(http, {
  adapter: streams ? createStreamsAdapter(pub) : adapter,
  ...(msgpack ? { parser: createRequire(import.meta.url)("socket.io-msgpack-parser") } : {}),
  pingInterval: 5000,
  ...(streams ? { connectionStateRecovery: { maxDisconnectionDuration: 30_000 } } : {}),
});
if (process.env.SIO_NODE_ADMIN) {
  const at = process.env.SIO_NODE_ADMIN.indexOf(":");
  const [username, password] = [process.env.SIO_NODE_ADMIN.slice(0, at), process.env.SIO_NODE_ADMIN.slice(at + 1)];
  instrument(io, { auth: { type: "basic", username, password }, serverId: nodeId, mode: "development" });
}
const serve = (nsp) => (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(true);
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    ack(true);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
  socket.on("publish", ({ room, data }, ack) => {
    nsp.to(room).emit("message", data);
    ack?.(true);
  });
  socket.on("direct", ({ to, data }, ack) => {
    nsp.to(to).emit("message", data);
    ack(true);
  });
  socket.on("herd", async ({ room, into }, ack) => {
    nsp.in(room).socketsJoin(into);
    ack(true);
  });
  socket.on("kick", (room, ack) => {
    ack(true);
    nsp.in(room).disconnectSockets(true);
  });
  socket.on("servers", (ack) => {
    nsp.serverSideEmit("hello", (err, replies) =>
      ack({ replies: replies ?? [], missing_nodes: err ? [String(err)] : [] }),
    );
  });
  socket.on("whoami", (ack) => ack({ sid: socket.id, node: nodeId }));
  socket.on("count", async (room, ack) => ack((await nsp.in(room).fetchSockets()).length));
  socket.on("rooms", async (ack) => ack([...(await nsp.adapter.allRooms())]));
  socket.on("gather", async ({ room, data, timeout_ms }, ack) => {
    try {
      const replies = await nsp.to(room).timeout(timeout_ms).emitWithAck("ask", data);
      ack({ replies, missing_nodes: [] });
    } catch (err) {
      ack({ error: String(err) });
    }
  });
};
for (const name of ["/", "/custom"]) {
  const nsp = io.of(name);
  nsp.on("hello", (ack) => ack({ node: nodeId }));
  nsp.on("connection", serve(nsp));
}
http.listen(Number(port), "127.0.0.1", () => console.log(`node ${nodeId} listening on ${port}`));
const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Bounded life: tests stop it sooner.
setTimeout(stop, 120_000).unref();
