// The real Node codecs as peers of ours: engine.io-parser (Engine.IO v4 polling payloads) and
// socket.io-parser (the default Socket.IO v5 format). Driven by server/tests/codecs_against_node.rs.
// Usage:
//   node codec_peers.mjs engine-encode   prints [{packets, payload}]: payloads encodePayload wrote
//   node codec_peers.mjs engine-decode   reads [{packets, payload}] on stdin (payloads we wrote),
//                                        decodes each with decodePayload and checks the packets
//   node codec_peers.mjs sio-encode      prints [{packet, encoded}]: what Encoder wrote
//   node codec_peers.mjs sio-decode      reads [{packet, encoded}] on stdin, decodes with Decoder
// A packet's binary data is {"base64": "..."}. Socket.IO packets are in our model: binary values
// replaced by placeholders {"_placeholder":true,"num":N} in order, the blobs in `attachments`
// (base64); `encoded` is the text message then the attachments (base64).
// The decode modes print "ok <check>" / "FAIL <check>: <why>" and exit 0 only when all passed.
import { createRequire } from "node:module";
import { check, finish, isBinary } from "./check.mjs";

const require = createRequire(import.meta.url);
const eio = require("engine.io-parser");
const { Encoder, Decoder, PacketType } = require("socket.io-parser");

const b64 = (v) => Buffer.from(v instanceof ArrayBuffer ? new Uint8Array(v) : v).toString("base64");
const stdin = async () => {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
};

// Engine.IO packets as JSON: binary data as {base64}; no data key when there is none.
const eioJson = ({ type, data }) =>
  data === undefined || data === "" ? { type } : isBinary(data) ? { type, data: { base64: b64(data) } } : { type, data };

const engineCases = [
  [{ type: "message", data: "hello" }],
  [{ type: "message", data: '2["ev","ü€ 😀"]' }, { type: "ping" }, { type: "message", data: Buffer.from([0, 1, 2, 255]) }, { type: "noop" }],
  [{ type: "message", data: "" }, { type: "pong", data: "probe" }, { type: "message", data: Buffer.alloc(0) }, { type: "close" }],
  [{ type: "ping", data: "probe" }, { type: "upgrade" }, { type: "message", data: "x".repeat(3000) }],
  [{ type: "message", data: Buffer.alloc(1000, 7) }, { type: "message", data: Uint8Array.from([1, 2, 3]).buffer }],
];

// Our model of a Socket.IO packet: data with placeholders, blobs in attachments.
const model = (packet) => {
  const attachments = [];
  const out = { type: packet.type, nsp: packet.nsp };
  if (packet.id !== undefined) out.id = packet.id;
  if (packet.data !== undefined) {
    out.data = JSON.parse(
      JSON.stringify(packet.data, function (key, value) {
        if (!isBinary(this[key])) return value;
        attachments.push(b64(this[key]));
        return { _placeholder: true, num: attachments.length - 1 };
      }),
    );
  }
  out.attachments = attachments;
  return out;
};
const blob = Buffer.from([0, 1, 2, 255]);
const sioCases = [
  { type: PacketType.CONNECT, nsp: "/", data: { sid: "abc" } },
  { type: PacketType.CONNECT, nsp: "/custom" },
  { type: PacketType.CONNECT, nsp: "/", data: { token: "x", n: [1.5, null] } },
  { type: PacketType.DISCONNECT, nsp: "/custom" },
  { type: PacketType.EVENT, nsp: "/", data: ["ev", 1, -2, "ü€ 😀", { a: [null, true, false] }, "quote\"and\\slash\n"] },
  { type: PacketType.EVENT, nsp: "/chat", id: 12, data: ["ev"] },
  { type: PacketType.EVENT, nsp: "/", id: 3, data: ["bin", blob, { n: Buffer.alloc(0), deep: [Buffer.from([9])] }] },
  { type: PacketType.ACK, nsp: "/", id: 4, data: [Buffer.alloc(300, 5)] },
  { type: PacketType.ACK, nsp: "/custom", id: 0, data: [] },
  { type: PacketType.CONNECT_ERROR, nsp: "/", data: { message: "unauthorized", data: { code: 1 } } },
  { type: PacketType.CONNECT_ERROR, nsp: "/x", data: "Invalid namespace" },
];

const sameJson = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const mode = process.argv[2];
if (mode === "engine-encode") {
  const out = engineCases.map((packets) => {
    let payload;
    eio.encodePayload(packets, (p) => (payload = p));
    return { packets: packets.map(eioJson), payload };
  });
  console.log(JSON.stringify(out));
} else if (mode === "engine-decode") {
  for (const [i, { packets, payload }] of (await stdin()).entries()) {
    const got = eio.decodePayload(payload, "nodebuffer").map(eioJson);
    check(`engine.io-parser decodes our payload ${i}`, sameJson(got, packets), `${JSON.stringify(got)} from ${JSON.stringify(payload)}`);
  }
  finish();
} else if (mode === "sio-encode") {
  const encoder = new Encoder();
  const out = sioCases.map((packet) => {
    const encoded = encoder.encode(packet).map((part) => (typeof part === "string" ? part : b64(part)));
    return { packet: model(packet), encoded };
  });
  console.log(JSON.stringify(out));
} else if (mode === "sio-decode") {
  for (const [i, { packet, encoded }] of (await stdin()).entries()) {
    const decoder = new Decoder();
    let got;
    decoder.on("decoded", (p) => (got = p));
    try {
      decoder.add(encoded[0]);
      for (const part of encoded.slice(1)) decoder.add(Buffer.from(part, "base64"));
      // socket.io-parser reports a binary event or ack with its binary type; ours is the base type.
      const base = { [PacketType.BINARY_EVENT]: PacketType.EVENT, [PacketType.BINARY_ACK]: PacketType.ACK };
      const seen = got && model({ ...got, type: base[got.type] ?? got.type });
      check(`socket.io-parser decodes our packet ${i}`, sameJson(seen, packet), `${JSON.stringify(seen)} from ${JSON.stringify(encoded)}`);
    } catch (err) {
      check(`socket.io-parser decodes our packet ${i}`, false, `${err.message} on ${JSON.stringify(encoded)}`);
    }
  }
  finish();
} else {
  console.log("usage: node codec_peers.mjs engine-encode|engine-decode|sio-encode|sio-decode");
  process.exit(2);
}
