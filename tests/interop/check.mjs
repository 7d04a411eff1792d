// What the scenario scripts share: named checks printed as `ok NAME` / `FAIL NAME: why`, a
// time limit for the whole scenario, the exit status (1 when any check failed), and a deep
// equality that compares binary values by their bytes.
const failures = [];

export const check = (name, ok, why = "") => {
  console.log(ok ? `ok ${name}` : `FAIL ${name}: ${why}`);
  if (!ok) failures.push(name);
};

// Ends the process with `FAIL timeout<detail()>` unless it finished within `ms`.
export const timeLimit = (ms, detail = () => "") => {
  setTimeout(() => {
    console.log(`FAIL timeout${detail()}`);
    process.exit(1);
  }, ms).unref();
};

export const finish = () => process.exit(failures.length ? 1 : 0);

export const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
export const bytesOf = (v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
// Deep equality where any binary (Buffer, ArrayBuffer, typed array) equals any other with the same bytes.
export const same = (a, b) => {
  if (isBinary(a) || isBinary(b)) {
    if (!isBinary(a) || !isBinary(b)) return false;
    const [x, y] = [bytesOf(a), bytesOf(b)];
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && same(a[k], b[k]));
  }
  return a === b;
};
