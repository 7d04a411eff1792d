// The reference-app events (join, leave, publish, echo, whoami, count, rooms) on Node.js
// socket.io 4.x: a peer for side-by-side load comparisons with sio-node.
//
//   node server.mjs --port 3000 [--node-id ID] [--redis redis://127.0.0.1:6379] [--seconds N]
//
// With --redis, several of these share one cluster through @socket.io/redis-adapter (the same
// wire format sio-node's Redis adapter speaks).
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3000" },
    "node-id": { type: "string", default: `node-${process.pid}` },
    redis: { type: "string" },
    seconds: { type: "string", default: "0" },
  },
});
const nodeId = values["node-id"];

const options = { transports: ["websocket", "polling"] };
let clients = [];
if (values.redis) {
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const { createClient } = await import("redis");
  const pub = createClient({ url: values.redis });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  clients = [pub, sub];
  options.adapter = createAdapter(pub, sub);
}

const http = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200).end("ok\n");
  } else {
    res.writeHead(404).end();
  }
});
const io = new Server(http, options);
const reply = (ack, value) => typeof ack === "function" && ack(value);

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    reply(ack, true);
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    reply(ack, true);
  });
  socket.on("publish", (arg, ack) => {
    if (!arg || typeof arg.room !== "string") return reply(ack, { error: "publish expects {room, data}" });
    io.to(arg.room).emit("message", arg.data ?? null);
    reply(ack, true);
  });
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("whoami", (ack) => reply(ack, { sid: socket.id, node: nodeId }));
  socket.on("count", async (room, ack) => reply(ack, (await io.in(room).fetchSockets()).length));
  socket.on("rooms", async (ack) => {
    const adapter = io.of("/").adapter;
    // The redis adapter asks the cluster; the in-memory one only has its own index.
    const rooms = typeof adapter.allRooms === "function" ? await adapter.allRooms() : adapter.rooms.keys();
    reply(ack, [...rooms]);
  });
});

http.listen(Number(values.port), "127.0.0.1", () =>
  console.error(`node socket.io peer ${nodeId} listening on 127.0.0.1:${values.port}`),
);
const stop = async () => {
  io.close();
  await Promise.allSettled(clients.map((c) => c.quit()));
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
const seconds = Number(values.seconds);
if (seconds > 0) setTimeout(stop, seconds * 1000).unref();
