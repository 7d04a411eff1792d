// What the scenario scripts share: named checks printed as `ok NAME` / `FAIL NAME: why`, a
// time limit for the whole scenario, and the exit status (1 when any check failed).
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
