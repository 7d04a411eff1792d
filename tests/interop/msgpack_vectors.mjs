// Writes msgpack packets with the real encoder of `socket.io-msgpack-parser` (notepack.io), the
// way socket.io-client builds them, as test vectors for the Rust decoder.
// Usage: node msgpack_vectors.mjs > server/src/protocol/notepack_vectors.tsv
// Each line: name TAB hex bytes TAB the packet as a JSON-parser peer sees it (JSON.stringify:
// `undefined` array items become null, `undefined` object values and fields are left out, dates
// become ISO strings), with each binary value (Buffer, ArrayBuffer, typed array) replaced by the
// placeholder {"_placeholder":true,"num":N} in the order they appear.
// The test `tests/codec_vectors.rs` runs this script and compares its output to the committed file.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Encoder } = require("socket.io-msgpack-parser");
// notepack.io 3 (the encoder of @socket.io/redis-adapter) writes a Date as the msgpack timestamp
// extension (type -1) instead of notepack 2's fixext 8 of type 0.
const notepack3 = require("notepack.io");

const encoder = new Encoder();
const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
const withPlaceholders = (packet) => {
  let num = 0;
  return JSON.stringify(packet, function (key, value) {
    return isBinary(this[key]) ? { _placeholder: true, num: num++ } : value;
  });
};
const bytes = (...b) => Uint8Array.from(b);
const day = Date.UTC(2024, 1, 29, 12, 34, 56, 789);
const opts = { compress: true }; // socket.io-client adds `options` to every event

const vectors = [
  // What socket.io-client sends to connect without auth.
  ["connect_undefined_data", { type: 0, data: undefined, nsp: "/" }],
  ["connect_auth_custom", { type: 0, data: { token: "s3cret" }, nsp: "/custom" }],
  // A reconnect with recovery before any offset arrived.
  ["connect_recovery_undefined_offset", { type: 0, data: { pid: "p1", offset: undefined, token: "t" }, nsp: "/" }],
  ["disconnect", { type: 1, nsp: "/custom" }],
  ["event_with_ack", { type: 2, data: ["echo", "a", 1, 2.5, -7, { k: [1, null], t: "ü€" }, null, true, false, ""], options: opts, id: 3, nsp: "/" }],
  ["event_undefined_id", { type: 2, data: ["ev"], options: opts, id: undefined, nsp: "/" }],
  ["event_undefined_arguments", { type: 2, data: ["ev", undefined, [1, undefined, 2], { a: 1, b: undefined, c: { d: undefined } }], options: opts, nsp: "/" }],
  ["ack_undefined_argument", { type: 3, id: 7, data: [undefined], nsp: "/" }],
  ["ack_without_arguments", { type: 3, id: 8, data: [], nsp: "/custom" }],
  ["event_buffers", { type: 2, data: ["bin", Buffer.from([0, 1, 2, 255]), { nested: Buffer.from([9]), list: [Buffer.alloc(300, 7), "x"] }], options: opts, id: 0, nsp: "/" }],
  // ArrayBuffer and typed arrays are extension type 0, not bin.
  ["event_array_buffers", { type: 2, data: ["ab", bytes(1, 2, 3), bytes(0).buffer, new Uint8Array(8).fill(5).buffer, new Uint16Array([1, 2]), Uint8Array.from({ length: 300 }, (_, i) => i % 256).buffer], options: opts, nsp: "/" }],
  ["event_dates", { type: 2, data: ["dates", new Date(day), new Date(0), new Date(-1), new Date(-62198755200000), new Date(8.64e15), new Date(-8.64e15)], options: opts, nsp: "/" }],
  // (notepack writes an integral number beyond 64 bits, e.g. 1e300, as a wrong int 64: left out.)
  ["event_numbers", { type: 2, data: ["n", 0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -(2 ** 53 - 1), 0.1, -1.5, 1e-300], options: opts, nsp: "/" }],
  ["event_long_strings_and_collections", { type: 2, data: ["s", "x".repeat(31), "y".repeat(32), "z".repeat(256), Array.from({ length: 16 }, (_, i) => i), Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]))], options: opts, nsp: "/" }],
  ["connect_error_object", { type: 4, data: { message: "unauthorized", data: undefined }, nsp: "/" }],
];

const notepack3Vectors = [
  ["notepack3_event_dates", { type: 2, data: ["dates", new Date(day), new Date(0), new Date(-1), new Date(1_700_000_000_000), new Date(2 ** 34 * 1000 + 5)], nsp: "/" }],
];

for (const [name, packet] of [...vectors, ...notepack3Vectors]) {
  const encoded = name.startsWith("notepack3_") ? notepack3.encode(packet) : encoder.encode(packet)[0];
  console.log(`${name}\t${Buffer.from(encoded).toString("hex")}\t${withPlaceholders(packet)}`);
}
