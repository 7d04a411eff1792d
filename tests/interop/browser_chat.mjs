// The chat page of two different nodes in headless Chromium (Debian's, driven by
// playwright-core): both join one room and each sees the other's message.
// Usage: node browser_chat.mjs <node-url-1> <node-url-2> [expected-transport]
// (the page's built-in client reports its transport: "polling" or "websocket" after an upgrade)
// With one URL twice (a load balancer), the pages' requests spread over whatever nodes it picks.
import { chromium } from "playwright-core";
import { check, finish, timeLimit } from "./check.mjs";

const [urlA, urlB, transport] = process.argv.slice(2);
timeLimit(60_000);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const pages = [];
  for (const url of [urlA, urlB]) {
    const page = await browser.newPage();
    page.on("pageerror", (err) => console.log(`page error on ${url}: ${err}`));
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("connected"), null, { timeout: 10_000 });
    pages.push(page);
  }
  const nodes = await Promise.all(pages.map((p) => p.textContent("#node")));
  if (urlA !== urlB) check("the pages are served by two different nodes", nodes[0] !== nodes[1], nodes.join(" / "));
  for (const page of pages) {
    await page.fill("#room", "browsers");
    await page.click("#join button");
    await page.waitForFunction(() => document.getElementById("log").textContent.includes("joined browsers"));
  }
  check("both pages joined the room", true);
  const say = async (page, text) => {
    await page.fill("#text", text);
    await page.click("#send button");
  };
  const seen = (page, text) =>
    page.waitForFunction((t) => document.getElementById("log").textContent.includes(t), text, { timeout: 10_000 }).then(
      () => true,
      () => false,
    );
  await say(pages[0], "hello from A");
  check("B sees A's message", await seen(pages[1], "hello from A"));
  await say(pages[1], "hello from B");
  check("A sees B's message", await seen(pages[0], "hello from B"));
  if (transport) {
    // The upgrade happens right after the connect; give it a moment.
    const on = (page) =>
      page.waitForFunction((t) => socket.engine.transport === t, transport, { timeout: 5_000 }).then(
        () => transport,
        () => page.evaluate(() => socket.engine.transport),
      );
    const used = await Promise.all(pages.map(on));
    check(`both pages are on ${transport}`, used.every((t) => t === transport), used.join(" / "));
  }
  if (process.env.SCREENSHOT) await pages[0].screenshot({ path: process.env.SCREENSHOT });
} catch (err) {
  check("browser scenario", false, err?.stack ?? String(err));
} finally {
  await browser.close();
}
finish();
