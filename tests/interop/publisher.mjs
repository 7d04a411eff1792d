// What the recovery scenarios share: a publisher emitting a numbered message to a room every
// 10 ms, and the check that a subscriber got each of them exactly once and in order.
import { check } from "./check.mjs";

// Starts publishing 1, 2, 3, ... to `room`; `stop()` ends it with a last message "end" whose
// ack follows every earlier publish (one client's publishes broadcast in order) and resolves to
// the last number sent.
export const startPublisher = (pub, room) => {
  let seq = 0;
  let publishing = true;
  const done = (async () => {
    while (publishing) {
      seq += 1;
      pub.emit("publish", { room, data: seq });
      await new Promise((r) => setTimeout(r, 10));
    }
    await pub.timeout(5000).emitWithAck("publish", { room, data: "end" });
  })();
  return {
    stop: async () => {
      publishing = false;
      await done;
      return seq;
    },
  };
};

// Checks that the numbers in `received` run from the first one seen to `last`, each once.
export const checkExactlyOnce = (received, last, what = "") => {
  const numbers = received.filter((d) => typeof d === "number");
  const first = numbers[0];
  const missing = Array.from({ length: last - first + 1 }, (_, i) => first + i).filter((n) => !numbers.includes(n));
  const dupes = numbers.length - new Set(numbers).size;
  const inOrder = numbers.every((n, i) => i === 0 || n === numbers[i - 1] + 1);
  check(
    `every message exactly once and in order${what} (${numbers.length})`,
    numbers.length > 0 && !missing.length && !dupes && inOrder,
    `missing ${missing.slice(0, 10)} (${missing.length}), dupes ${dupes}, in order ${inOrder}: ${JSON.stringify(numbers.slice(0, 30))}`,
  );
};
