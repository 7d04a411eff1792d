"""Drives every reference-app event with python-socketio's AsyncClient.

Usage: python sio_client.py <url>[,<url>...] <polling|websocket|upgrade> [--token T]
Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
"""

import asyncio
import sys

import aiohttp
import socketio

ARGS = sys.argv[1:]
URLS = ARGS[0].split(",")
MODE = ARGS[1]
TOKEN = ARGS[ARGS.index("--token") + 1] if "--token" in ARGS else None
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}[MODE]
FAILURES = []
CLIENTS = []


def check(name, ok, why=""):
    print(f"ok {name}" if ok else f"FAIL {name}: {why}", flush=True)
    if not ok:
        FAILURES.append(name)


class Peer:
    """One client connected to one namespace, with an inbox of `message` events."""

    made = 0

    def __init__(self, nsp="/"):
        self.nsp = nsp
        # aiohttp refuses cookies from IP addresses unless told otherwise; the load balancer's
        # sticky cookie must be kept for polling.
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.http = session
        self.sio = socketio.AsyncClient(reconnection=False, http_session=session)
        self.inbox = asyncio.Queue()
        self.disconnected = asyncio.get_event_loop().create_future()
        self.refusal = None
        self.url = URLS[Peer.made % len(URLS)]
        Peer.made += 1

        async def on_message(data):
            await self.inbox.put(data)

        async def on_disconnect(*reason):
            if not self.disconnected.done():
                self.disconnected.set_result(reason[0] if reason else None)

        async def on_connect_error(data):
            self.refusal = data

        self.sio.on("message", on_message, namespace=nsp)
        self.sio.on("disconnect", on_disconnect, namespace=nsp)
        self.sio.on("connect_error", on_connect_error, namespace=nsp)
        CLIENTS.append(self)

    async def connect(self, auth="default"):
        if auth == "default":
            auth = {"token": TOKEN} if TOKEN else None
        await self.sio.connect(
            self.url, transports=TRANSPORTS, namespaces=[self.nsp], auth=auth, wait_timeout=5
        )
        return self

    @property
    def sid(self):
        return self.sio.get_sid(self.nsp)

    async def call(self, event, *args):
        data = args[0] if len(args) == 1 else (tuple(args) if args else None)
        return await self.sio.call(event, data, namespace=self.nsp, timeout=5)

    async def next(self, timeout=5):
        return await asyncio.wait_for(self.inbox.get(), timeout)


async def scenario():
    if TOKEN:
        intruder = Peer()
        try:
            await intruder.connect({"token": "wrong"})
            check("wrong token refused", False, "connected")
        except socketio.exceptions.ConnectionError:
            message = (intruder.refusal or {}).get("message") if isinstance(intruder.refusal, dict) else intruder.refusal
            check("wrong token refused with 'unauthorized'", message == "unauthorized", repr(intruder.refusal))

    c1, c2, c3 = [await Peer().connect() for _ in range(3)]
    check("connect", True)
    if MODE == "upgrade":
        for _ in range(50):
            if all(c.sio.transport() == "websocket" for c in (c1, c2, c3)):
                break
            await asyncio.sleep(0.1)
        check("upgraded to websocket", all(c.sio.transport() == "websocket" for c in (c1, c2, c3)))
    else:
        check(f"transport {MODE}", c1.sio.transport() == MODE, c1.sio.transport())

    who = await c1.call("whoami")
    check("whoami", who["sid"] == c1.sid and isinstance(who["node"], str), repr(who))

    check("join", await c1.call("join", "r") is True and await c2.call("join", "r") is True)
    check("count", await c3.call("count", "r") == 2)

    check("publish acked", await c3.call("publish", {"room": "r", "data": {"n": 1}}) is True)
    check("publish reaches members", await c1.next() == {"n": 1} and await c2.next() == {"n": 1})
    await c1.call("publish", {"room": "r", "data": "inside"})
    check("sender included", await c1.next() == "inside" and await c2.next() == "inside")
    await asyncio.sleep(0.2)
    check("non-member gets nothing", c3.inbox.empty())

    mixed = ("a", 1, {"k": [1, None]}, None, True)
    got = await c2.call("echo", *mixed)
    check("echo mixed arguments", tuple(got) == mixed, repr(got))
    blob = bytes([1, 2, 3, 255])
    got = await c2.call("echo", blob, {"nested": blob, "s": "x"})
    check("echo binary", got[0] == blob and got[1]["nested"] == blob and got[1]["s"] == "x", repr(got))

    rooms = await c3.call("rooms")
    check("rooms", "r" in rooms and c1.sid in rooms, repr(rooms))

    await c1.call("direct", {"to": c3.sid, "data": "psst"})
    check("direct", await c3.next() == "psst")

    for peer, name in ((c1, "one"), (c2, "two")):
        async def on_ask(data, name=name):
            return f"{name}:{data}"

        peer.sio.on("ask", on_ask, namespace="/")
    gathered = await c3.call("gather", {"room": "r", "data": "q", "timeout_ms": 3000})
    check(
        "gather (acks from clients)",
        sorted(gathered["replies"]) == ["one:q", "two:q"] and gathered["missing_nodes"] == [],
        repr(gathered),
    )

    check("leave", await c2.call("leave", "r") is True and await c3.call("count", "r") == 1)

    await c3.call("kick", "r")
    reason = await asyncio.wait_for(c1.disconnected, 5)
    # python-socketio names the reason "server disconnect" (Node clients: "io server disconnect").
    check("kick", reason in ("io server disconnect", "server disconnect"), repr(reason))
    check("kicked client is disconnected", not c1.sio.connected)

    d1 = await Peer("/custom").connect()
    d2 = await Peer("/custom").connect()
    check("custom namespace echo", tuple(await d1.call("echo", "hi", 2)) == ("hi", 2))
    await d2.call("join", "cr")
    await d1.call("publish", {"room": "cr", "data": "custom"})
    check("custom namespace publish", await d2.next() == "custom")
    check("namespaces are separate", await c3.call("count", "cr") == 0)


async def main():
    try:
        await asyncio.wait_for(scenario(), 45)
    except Exception as err:  # noqa: BLE001 - any failure is reported as one
        check("scenario", False, f"{type(err).__name__}: {err}")
    for peer in CLIENTS:
        try:
            await peer.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass
        await peer.http.close()
    sys.exit(1 if FAILURES else 0)


asyncio.run(main())
