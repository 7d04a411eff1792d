// The real Socket.IO Admin UI (the static build shipped in @socket.io/admin-ui's `ui/dist`),
// served from another origin by a tiny static server here, in headless Chromium (Debian's,
// driven by playwright-core), against a cluster: credentials typed into its connection modal,
// it must list the sockets of every node, show every server, and disconnect a socket of
// another node.
// Usage: node admin_browser.mjs <url>,<url>,... <node-id>,<node-id>,... <user> <password> <ui-port>
// The UI connects to the first URL (which must allow the origin http://127.0.0.1:<ui-port>).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { check, finish, timeLimit } from "./check.mjs";

const [urlList, idList, user, password, uiPort] = process.argv.slice(2);
const urls = urlList.split(",");
const nodeIds = idList.split(",");
let step = "start";
timeLimit(38_000, () => `: the scenario did not finish in 38 s (at: ${step})`);

// The UI's static files.
const root = fileURLToPath(new URL("./node_modules/@socket.io/admin-ui/ui/dist/", import.meta.url));
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml" };
const ui = createServer(async (req, res) => {
  try {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = join(root, path === "/" ? "index.html" : path);
    const body = await readFile(file);
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => ui.listen(Number(uiPort), "127.0.0.1", resolve));
const uiUrl = `http://127.0.0.1:${uiPort}/`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const connected = (socket) =>
  new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const clients = [];
let page;
try {
  step = "app clients";
  for (const url of urls) {
    const c = io(url, { forceNew: true, reconnection: false, timeout: 10_000 });
    await connected(c);
    clients.push(c);
  }
  check("an app client connected to each node", clients.length === urls.length);

  step = "open the UI";
  page = await browser.newPage();
  page.on("pageerror", (err) => console.log(`page error: ${err}`));
  // No internet here: the UI's web fonts and icon font (CDNs) are not fetched.
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  await page.goto(uiUrl);
  step = "connection modal";
  await page.getByLabel("Server URL").fill(urls[0]);
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Connect" }).click();
  const invalid = await page
    .getByText("Invalid credentials")
    .waitFor({ timeout: 10_000 })
    .then(
      () => true,
      () => false,
    );
  check("the UI says so for a wrong password", invalid);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Connect" }).click();
  step = "connected";
  await page.getByLabel("Password").waitFor({ state: "hidden", timeout: 10_000 });
  check("the UI connects with the right credentials", true);

  step = "servers page";
  await page.goto(`${uiUrl}#/servers/`);
  const allServers = await page
    .waitForFunction((ids) => ids.every((id) => document.body.innerText.includes(id)), nodeIds, { timeout: 10_000 })
    .then(
      () => true,
      () => false,
    );
  check("the servers page shows the three nodes", allServers, await page.innerText("body").catch(() => ""));

  step = "sockets page";
  await page.goto(`${uiUrl}#/sockets/`);
  const ids = clients.map((c) => c.id);
  const allSockets = await page
    .waitForFunction((ids) => ids.every((id) => document.body.innerText.includes(id)), ids, { timeout: 10_000 })
    .then(
      () => true,
      () => false,
    );
  check("the sockets page lists the sockets of every node", allSockets, await page.innerText("body").catch(() => ""));

  step = "disconnect from the UI";
  // A socket of the last node, disconnected from the UI connected to the first.
  const victim = clients[clients.length - 1];
  const reason = new Promise((resolve) => victim.once("disconnect", resolve));
  await page.getByText(victim.id).click();
  await page.waitForURL(new RegExp(`/sockets/${victim.id}`), { timeout: 5_000 });
  await page.locator("button:has(i.mdi-logout)").first().click();
  const got = await Promise.race([reason, sleep(8_000).then(() => "still connected")]);
  check("a socket of another node is disconnected from the UI", got === "io server disconnect", got);
  const gone = await page
    .waitForFunction((id) => !document.body.innerText.includes(id) || document.body.innerText.toLowerCase().includes("disconnected"), victim.id, { timeout: 5_000 })
    .then(
      () => true,
      () => false,
    );
  check("the UI shows the socket disconnected", gone);
  check("the other nodes' sockets stay connected", clients.slice(0, -1).every((c) => c.connected));
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
} catch (err) {
  check("admin UI browser scenario", false, `${step}: ${err?.stack ?? err}`);
  if (process.env.SCREENSHOT && page) await page.screenshot({ path: process.env.SCREENSHOT }).catch(() => {});
} finally {
  for (const c of clients) c.disconnect();
  await browser.close();
  ui.close();
}
finish();
