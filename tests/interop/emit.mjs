// Publishes one event with @socket.io/redis-emitter.
// Usage: node emit.mjs <redis-url> <room> <event> <json-data>
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

const [redisUrl, room, event, data] = process.argv.slice(2);
const client = createClient({ url: redisUrl });
await client.connect();
new Emitter(client).to(room).emit(event, JSON.parse(data));
// Binary too: a Buffer inside the payload.
new Emitter(client).to(room).emit(`${event}-binary`, Buffer.from([1, 2, 3]));
await new Promise((r) => setTimeout(r, 100));
await client.quit();
console.log("ok emitted");
