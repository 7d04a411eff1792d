"""python-socketio (which does not implement connection state recovery) against a server with
recovery on: it connects, joins, gets broadcasts (with the offset as an extra last argument, as
Node's server sends it), acks work, and a reconnection gets a fresh session.

Usage: python csr_python.py <url>
Prints "ok <check>" / "FAIL <check>: <why>"; exits 0 only when every check passed.
"""

import asyncio
import sys

import socketio

URL = sys.argv[1]
FAILURES = []


def check(name, ok, why=""):
    print(f"ok {name}" if ok else f"FAIL {name}: {why}", flush=True)
    if not ok:
        FAILURES.append(name)


async def scenario():
    inbox = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)

    @sio.on("message")
    async def on_message(*args):
        await inbox.put(args)

    await sio.connect(URL, transports=["websocket"])
    first_sid = sio.get_sid()
    check("connects with recovery on", sio.connected and first_sid is not None)
    check("join acks", await sio.call("join", "py", timeout=5) is True)
    check("publish acks", await sio.call("publish", {"room": "py", "data": {"n": 1}}, timeout=5) is True)
    args = await asyncio.wait_for(inbox.get(), 5)
    check("the broadcast arrives with its data first", args[0] == {"n": 1}, repr(args))
    check("and an offset last", len(args) == 2 and isinstance(args[1], str), repr(args))
    echo = await sio.call("echo", [1, "two"], timeout=5)
    check("echo acks carry no offset", echo == [1, "two"], repr(echo))
    await sio.disconnect()
    await sio.connect(URL, transports=["websocket"])
    check("a reconnection gets a fresh session", sio.get_sid() != first_sid)
    await sio.disconnect()


async def main():
    try:
        await asyncio.wait_for(scenario(), 30)
    except Exception as err:  # noqa: BLE001 - any failure is reported as one
        check("scenario", False, f"{type(err).__name__}: {err}")
    sys.exit(1 if FAILURES else 0)


asyncio.run(main())
