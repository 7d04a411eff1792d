// The admin namespace of an in-process server (tests/admin_ui_modes.rs), with the npm
// socket.io-client as the admin client.
// Usage: node admin_modes.mjs <url> <development|production>
//   development (no authentication): socket_updated follows the app's `set_data`, event_sent
//     follows a direct `socket.emit`, the data shows in all_sockets without the admin's facts.
//   production: no all_sockets and no live events, only the config and server_stats.
// Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";

const [url, mode] = process.argv.slice(2);
let step = "start";
timeLimit(20_000, () => `: the scenario did not finish in 20 s (at: ${step})`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sockets = [];
const open = (u, opts = {}) => {
  const s = io(u, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  sockets.push(s);
  return s;
};
const connected = (socket) =>
  new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
const until = async (seen, pred, ms = 5000) => {
  const end = Date.now() + ms;
  for (;;) {
    const hit = seen.find(pred);
    if (hit || Date.now() > end) return hit;
    await sleep(25);
  }
};

try {
  step = "admin";
  const admin = open(`${url}/admin`, { autoConnect: false });
  const seen = [];
  admin.onAny((event, ...args) => seen.push({ event, args }));
  admin.connect();
  await connected(admin);
  check("no credentials are needed without authentication", admin.connected);
  const config = await until(seen, (e) => e.event === "config");
  const features = config?.args[0]?.supportedFeatures ?? [];
  check("no session id without authentication", !seen.some((e) => e.event === "session"));
  const stats = await until(seen, (e) => e.event === "server_stats");
  check("server_stats arrive", stats?.args[0]?.serverId === "in-process", JSON.stringify(stats?.args[0]));

  step = "app client";
  const app = open(url);
  await connected(app);
  app.emit("set", { name: "ann" });
  const done = await new Promise((resolve) => {
    app.once("done", resolve);
    setTimeout(() => resolve(null), 3000);
  });
  check("the app set the socket's data", done === "ann", String(done));
  if (mode === "production") {
    check("production: no ALL_EVENTS", JSON.stringify(features) === JSON.stringify(["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS"]), JSON.stringify(features));
    await sleep(1000);
    const live = seen.filter((e) => !["config", "server_stats"].includes(e.event)).map((e) => e.event);
    check("production: no all_sockets and no live events", live.length === 0, JSON.stringify(live));
  } else {
    check("development: ALL_EVENTS offered", features.includes("ALL_EVENTS"), JSON.stringify(features));
    const updated = await until(seen, (e) => e.event === "socket_updated" && e.args[0]?.id === app.id && e.args[0]?.data);
    check("socket_updated carries the new data", JSON.stringify(updated?.args[0]) === JSON.stringify({ id: app.id, nsp: "/", data: { name: "ann" } }), JSON.stringify(updated));
    const sent = await until(seen, (e) => e.event === "event_sent" && e.args[1] === app.id);
    check("event_sent reports a direct emit", JSON.stringify(sent?.args.slice(0, 3)) === JSON.stringify(["/", app.id, ["done", "ann"]]), JSON.stringify(sent));
    step = "second admin";
    const again = open(`${url}/admin`, { autoConnect: false });
    const seen2 = [];
    again.onAny((event, ...args) => seen2.push({ event, args }));
    again.connect();
    const all = (await until(seen2, (e) => e.event === "all_sockets"))?.args[0] ?? [];
    const mine = all.find((s) => s.id === app.id);
    check("all_sockets shows the app's data without the admin's facts", JSON.stringify(mine?.data) === JSON.stringify({ name: "ann" }) && mine?.clientId?.length === 12, JSON.stringify(mine));
  }
} catch (err) {
  check("admin modes scenario", false, `${step}: ${err?.stack ?? err}`);
} finally {
  for (const s of sockets) s.disconnect();
}
finish();
