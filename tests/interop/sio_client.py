"""Drives every reference-app event with python-socketio's AsyncClient.

Usage: python sio_client.py <url>[,<url>...] <polling|websocket|upgrade> [--token T]
                            [--parser json|msgpack] [--tag T]
  polling:   transports ['polling']
  websocket: transports ['websocket']
  upgrade:   transports ['polling', 'websocket']: polling first, then the upgrade
With several URLs (nodes of one cluster) the clients are spread over them. With --token T the
clients connect with auth {"token": T}, and connects with a wrong or no token must be refused with
the connect_error message "unauthorized". With --parser msgpack the clients use python-socketio's
serializer="msgpack" (the server must use socket.io-msgpack-parser's format); the checks are the same.
Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
"""

import asyncio
import os
import signal
import sys

import aiohttp
import socketio

ARGS = sys.argv[1:]
MODES = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}
if len(ARGS) < 2 or ARGS[1] not in MODES:
    print("usage: python sio_client.py <url>[,<url>...] <polling|websocket|upgrade> [--token T] [--parser json|msgpack] [--tag T]")
    sys.exit(2)
URLS = ARGS[0].split(",")
MODE = ARGS[1]
TOKEN = ARGS[ARGS.index("--token") + 1] if "--token" in ARGS else None
PARSER = ARGS[ARGS.index("--parser") + 1] if "--parser" in ARGS else "json"
# --tag T is appended to every room name, so that runs can share a server.
TAG = ARGS[ARGS.index("--tag") + 1] if "--tag" in ARGS else ""
ROOM, KICK, CROOM = (name + TAG for name in ("r", "k", "cr"))
if PARSER not in ("json", "msgpack"):
    print(f"unknown parser {PARSER}")
    sys.exit(2)
TRANSPORTS = MODES[MODE]
GOOD_AUTH = {"token": TOKEN} if TOKEN else None
SERVER_DISCONNECT = socketio.AsyncClient.reason.SERVER_DISCONNECT  # python-socketio's name for it
CLIENT_DISCONNECT = socketio.AsyncClient.reason.CLIENT_DISCONNECT
FAILURES = []
PEERS = []
STEP = ["start"]  # named in the failure when the scenario stops early


def check(name, ok, why=""):
    print(f"ok {name}" if ok else f"FAIL {name}: {why}", flush=True)
    if not ok:
        FAILURES.append(name)


def same(a, b):
    """Deep equality that tells True from 1 and a list from a string."""
    if type(a) is not type(b) and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def show(value):
    text = repr(value)
    return text if len(text) < 300 else text[:300] + f"...({len(text)} chars)"


def watchdog(*_):
    print(f"FAIL timeout: the scenario did not finish in 35 s (at: {STEP[0]})", flush=True)
    os._exit(1)


class Peer:
    """One AsyncClient on one or more namespaces, with an inbox of `message` events per namespace."""

    made = 0

    def __init__(self, *namespaces):
        self.namespaces = list(namespaces or ["/"])
        self.nsp = self.namespaces[0]
        # aiohttp refuses cookies from IP addresses unless told otherwise; a load balancer's
        # sticky cookie must be kept for polling.
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http, serializer={"json": "default"}.get(PARSER, PARSER))
        self.inboxes = {n: asyncio.Queue() for n in self.namespaces}
        self.disconnected = asyncio.get_running_loop().create_future()
        self.refusal = None
        self.asked = []
        self.url = URLS[Peer.made % len(URLS)]
        Peer.made += 1
        PEERS.append(self)
        for n in self.namespaces:
            self._register(n)

    def _register(self, nsp):
        async def on_message(*data):
            await self.inboxes[nsp].put(data[0] if len(data) == 1 else data)

        async def on_disconnect(*reason):
            if not self.disconnected.done():
                self.disconnected.set_result(reason[0] if reason else None)

        async def on_connect_error(data=None):
            self.refusal = data

        self.sio.on("message", on_message, namespace=nsp)
        self.sio.on("disconnect", on_disconnect, namespace=nsp)
        self.sio.on("connect_error", on_connect_error, namespace=nsp)

    def answer_asks(self, prefix):
        async def on_ask(data):
            self.asked.append(data)
            return f"{prefix}:{data}"

        self.sio.on("ask", on_ask, namespace=self.nsp)

    async def connect(self, auth=GOOD_AUTH):
        await self.sio.connect(
            self.url, transports=TRANSPORTS, namespaces=self.namespaces, auth=auth, wait_timeout=10
        )
        return self

    async def refused_with(self, auth):
        """The connect_error message of a connect that must fail, or 'connected'."""
        try:
            await self.connect(auth)
            return "connected"
        except socketio.exceptions.ConnectionError as err:
            if isinstance(self.refusal, dict):
                return self.refusal.get("message")
            return self.refusal if self.refusal is not None else f"ConnectionError: {err}"

    def sid(self, nsp=None):
        return self.sio.get_sid(nsp or self.nsp)

    async def call(self, event, *args, nsp=None):
        """Emits with an ack; python-socketio answers one argument as is, several as a tuple."""
        data = args[0] if len(args) == 1 else (tuple(args) if args else None)
        return await self.sio.call(event, data, namespace=nsp or self.nsp, timeout=5)

    async def next(self, nsp=None, timeout=5):
        try:
            return await asyncio.wait_for(self.inboxes[nsp or self.nsp].get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no message within {timeout} s") from None

    async def quiet(self, delay=0.3, nsp=None):
        await asyncio.sleep(delay)
        return self.inboxes[nsp or self.nsp].empty()


async def count_is(peer, room, want):
    """Calls `count` until it answers `want` (other nodes may take a moment), for up to 3 s."""
    got = None
    for _ in range(30):
        got = await peer.call("count", room)
        if same(got, want):
            return True, got
        await asyncio.sleep(0.1)
    return False, got


async def scenario():
    if TOKEN:
        STEP[0] = "auth refusal"
        got = await Peer().refused_with({"token": "wrong"})
        check("wrong token refused with 'unauthorized'", got == "unauthorized", show(got))
        got = await Peer().refused_with(None)
        check("missing token refused with 'unauthorized'", got == "unauthorized", show(got))
        got = await Peer("/custom").refused_with({"token": TOKEN + "x"})
        check("wrong token refused on /custom", got == "unauthorized", show(got))

    STEP[0] = "connect"
    c1, c2, c3 = [await Peer().connect() for _ in range(3)]
    check("connect 3 clients", all(c.sio.connected for c in (c1, c2, c3)))
    check("distinct sids", len({c1.sid(), c2.sid(), c3.sid()}) == 3)
    if MODE == "upgrade":
        for _ in range(100):
            if all(c.sio.transport() == "websocket" for c in (c1, c2, c3)):
                break
            await asyncio.sleep(0.1)
        names = [c.sio.transport() for c in (c1, c2, c3)]
        check("upgraded to websocket", names == ["websocket"] * 3, show(names))
    else:
        names = [c.sio.transport() for c in (c1, c2, c3)]
        check(f"transport {MODE}", names == [MODE] * 3, show(names))

    STEP[0] = "whoami"
    for i, c in enumerate((c1, c2, c3), 1):
        who = await c.call("whoami")
        ok = isinstance(who, dict) and who.get("sid") == c.sid() and isinstance(who.get("node"), str)
        check(f"whoami client {i}", ok and len(who["node"]) > 0, f"{show(who)} (sid {c.sid()})")

    STEP[0] = "join"
    j1, j2 = await c1.call("join", ROOM), await c2.call("join", ROOM)
    check("join acks true", j1 is True and j2 is True, show((j1, j2)))
    got = await c3.call("count", ROOM)
    check("count of the room is 2", same(got, 2), show(got))
    got = await c3.call("count", "nobody-here")
    check("count of an empty room is 0", same(got, 0), show(got))

    STEP[0] = "publish"
    got = await c3.call("publish", {"room": ROOM, "data": {"n": 1}})
    check("publish acks true", got is True, show(got))
    got = (await c1.next(), await c2.next())
    check("publish reaches both members", same(got, ({"n": 1}, {"n": 1})), show(got))
    await c1.call("publish", {"room": ROOM, "data": "from inside"})
    got = (await c1.next(), await c2.next())
    check("publish reaches the sender too", got == ("from inside", "from inside"), show(got))
    blob = bytes([0, 1, 2, 3, 254, 255])
    await c2.call("publish", {"room": ROOM, "data": {"bin": blob, "s": "b"}})
    got = (await c1.next(), await c2.next())
    want = {"bin": blob, "s": "b"}
    check("publish with binary data", same(got, (want, want)), show(got))
    check("non-member gets no publish", await c3.quiet())
    check("no duplicate deliveries", await c1.quiet(0) and await c2.quiet(0))

    STEP[0] = "echo"
    mixed = ("a", 1, 2.5, -7, {"k": [1, None], "t": "ü€"}, [1, "two", [3]], None, True, False, "")
    got = await c2.call("echo", *mixed)
    check("echo mixed arguments", isinstance(got, tuple) and same(got, mixed), show(got))
    got = await c2.call("echo")
    check("echo without arguments", got is None, show(got))
    big = bytes([7]) * 50_000
    binary = (blob, {"nested": blob, "list": [blob, "x"], "s": "x"}, 42, big)
    got = await c2.call("echo", *binary)
    check("echo binary (top level, nested, 50 KB) comes back as bytes", same(got, binary), show(got))
    got = await c2.call("echo", "a" * 100_000)
    check("echo 100 KB string", got == "a" * 100_000, show(got))

    STEP[0] = "rooms"
    rooms = await c3.call("rooms")
    wanted = [ROOM, c1.sid(), c2.sid(), c3.sid()]
    ok = isinstance(rooms, list) and all(isinstance(r, str) for r in rooms)
    check("rooms lists the joined room and each socket's own room", ok and all(r in rooms for r in wanted), show(rooms))

    STEP[0] = "direct"
    got = await c1.call("direct", {"to": c3.sid(), "data": "psst"})
    check("direct acks true", got is True, show(got))
    got = await c3.next()
    check("direct reaches its target", got == "psst", show(got))
    check("direct reaches nobody else", await c2.quiet() and await c1.quiet(0))

    STEP[0] = "gather"
    c1.answer_asks("one")
    c2.answer_asks("two")
    c3.answer_asks("three")
    gathered = await c3.call("gather", {"room": ROOM, "data": "q", "timeout_ms": 3000})
    ok = isinstance(gathered, dict) and sorted(gathered.get("replies") or []) == ["one:q", "two:q"]
    check("gather collects both clients' acks", ok and gathered.get("missing_nodes") == [], show(gathered))
    check("gather asks only the room", c3.asked == [], show(c3.asked))

    STEP[0] = "leave"
    got = await c2.call("leave", ROOM)
    check("leave acks true", got is True, show(got))
    ok, got = await count_is(c3, ROOM, 1)
    check("count after leave is 1", ok, show(got))
    await c3.call("publish", {"room": ROOM, "data": "after leave"})
    check("publish after leave reaches the member", await c1.next() == "after leave")
    check("publish after leave skips who left", await c2.quiet())

    STEP[0] = "kick"
    await c1.call("join", KICK)
    await c2.call("join", KICK)
    got = await c3.call("kick", KICK)
    check("kick acks true", got is True, show(got))
    try:
        reasons = await asyncio.wait_for(asyncio.gather(c1.disconnected, c2.disconnected), 5)
    except asyncio.TimeoutError:
        reasons = "(no disconnect in 5 s)"
    # python-socketio calls "io server disconnect" SERVER_DISCONNECT ('server disconnect').
    check("kick disconnects the room's members", same(reasons, [SERVER_DISCONNECT] * 2), show(reasons))
    check("kicked clients are disconnected", not c1.sio.connected and not c2.sio.connected)
    await asyncio.sleep(0.2)
    who = await c3.call("whoami") if c3.sio.connected else None
    check("kick leaves other sockets connected", isinstance(who, dict) and who.get("sid") == c3.sid(), show(who))
    ok, got = await count_is(c3, KICK, 0)
    check("kicked room is empty", ok, show(got))

    STEP[0] = "namespace /custom"
    d1 = await Peer("/custom").connect()
    d2 = await Peer("/custom").connect()
    check("custom namespace connect", d1.sio.connected and d2.sio.connected)
    who = await d1.call("whoami")
    check("custom namespace whoami", isinstance(who, dict) and who.get("sid") == d1.sid(), show(who))
    got = await d1.call("echo", "hi", 2, {"bin": blob})
    check("custom namespace echo", same(got, ("hi", 2, {"bin": blob})), show(got))
    check("custom namespace join", await d2.call("join", CROOM) is True)
    await d1.call("publish", {"room": CROOM, "data": "custom"})
    check("custom namespace publish", await d2.next() == "custom")
    check("custom namespace publish skips non-members", await d1.quiet())
    got = await c3.call("count", CROOM)
    check("namespaces have separate rooms", same(got, 0), show(got))

    # One client on both namespaces: one connection, two sockets.
    both = await Peer("/", "/custom").connect()
    w1 = await both.call("whoami", nsp="/")
    w2 = await both.call("whoami", nsp="/custom")
    ok = w1.get("sid") == both.sid("/") and w2.get("sid") == both.sid("/custom")
    check("two namespaces over one connection", ok and both.sid("/") != both.sid("/custom"), show((w1, w2)))

    STEP[0] = "disconnect"
    await d2.sio.disconnect()
    reason = await asyncio.wait_for(d2.disconnected, 5)
    check("client disconnect", reason == CLIENT_DISCONNECT and not d2.sio.connected, show(reason))
    ok, got = await count_is(d1, CROOM, 0)
    check("a disconnected socket leaves its rooms", ok, show(got))


async def main():
    try:
        await asyncio.wait_for(scenario(), 30)
    except asyncio.TimeoutError:
        check("timeout", False, f"the scenario did not finish in 30 s (at: {STEP[0]})")
    except Exception as err:  # noqa: BLE001 - any failure is reported as one
        check(STEP[0], False, f"{type(err).__name__}: {err}")
    for peer in PEERS:
        try:
            await asyncio.wait_for(peer.sio.disconnect(), 2)
        except Exception:  # noqa: BLE001
            pass
        await peer.http.close()
    sys.exit(1 if FAILURES else 0)


signal.signal(signal.SIGALRM, watchdog)
signal.alarm(35)
asyncio.run(main())
