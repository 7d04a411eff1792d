// The chat page's Socket.IO client, built into sio-node and served at /chat-client.js, so the
// page works on a machine with no internet and no npm. It speaks Engine.IO v4 and Socket.IO v5
// (JSON, the main namespace): HTTP long-polling first, then an upgrade to websocket when the
// server offers it, as the official client does; events with acks; heartbeats; reconnection
// with backoff. It is small on purpose: apps use the official socket.io-client.
//
// API (a subset of socket.io-client's): io({ transports, auth, path }) returns a socket with
// on(event, fn), emit(event, ...args[, ack]), emitWithAck(event, ...args), id, connected.
// Events: "connect", "disconnect" (reason), "connect_error" (data), and the server's events.
(function () {
  "use strict";
  const SEPARATOR = "\x1e";

  class Socket {
    constructor(options) {
      this.path = options.path || "/socket.io/";
      this.transports = options.transports || ["polling", "websocket"];
      this.auth = options.auth;
      this.handlers = new Map();
      this.acks = new Map();
      this.nextAck = 0;
      this.id = undefined;
      this.connected = false;
      this.attempts = 0;
      this.open();
    }

    on(event, handler) {
      if (!this.handlers.has(event)) this.handlers.set(event, []);
      this.handlers.get(event).push(handler);
      return this;
    }

    emit(event, ...args) {
      let id = "";
      if (typeof args[args.length - 1] === "function") {
        id = String(this.nextAck++);
        this.acks.set(id, args.pop());
      }
      this.engine.send("4" + "2" + id + JSON.stringify([event, ...args]));
      return this;
    }

    emitWithAck(event, ...args) {
      return new Promise((resolve) => this.emit(event, ...args, resolve));
    }

    fire(event, ...args) {
      for (const handler of this.handlers.get(event) || []) handler(...args);
    }

    open() {
      this.engine = new Engine(this.path, this.transports, {
        open: () => this.engine.send("40" + (this.auth ? JSON.stringify(this.auth) : "")),
        message: (data) => this.onPacket(data),
        close: (reason) => this.onClose(reason),
      });
    }

    // One Socket.IO packet of the main namespace: type digit, optional ack id, JSON.
    onPacket(data) {
      const type = data[0];
      if (data[1] === "/") return; // another namespace
      const rest = data.slice(1);
      const digits = /^\d*/.exec(rest)[0];
      const body = rest.slice(digits.length);
      if (type === "0") {
        this.id = JSON.parse(body).sid;
        this.connected = true;
        this.attempts = 0;
        this.fire("connect");
      } else if (type === "1") {
        this.closedByServer = true;
        this.engine.close("io server disconnect");
      } else if (type === "2") {
        const [event, ...args] = JSON.parse(body);
        if (digits !== "") {
          args.push((...reply) => this.engine.send("43" + digits + JSON.stringify(reply)));
        }
        this.fire(event, ...args);
      } else if (type === "3") {
        const ack = this.acks.get(digits);
        this.acks.delete(digits);
        if (ack) ack(...JSON.parse(body));
      } else if (type === "4") {
        this.closedByServer = true;
        this.fire("connect_error", JSON.parse(body));
        this.engine.close("connect error");
      }
    }

    onClose(reason) {
      const was = this.connected;
      this.connected = false;
      this.acks.clear();
      if (was) this.fire("disconnect", this.closedByServer ? "io server disconnect" : reason);
      if (this.closedByServer) return; // as the official client: no reconnection
      const delay = Math.min(500 * 2 ** this.attempts++, 5000) * (0.5 + Math.random());
      setTimeout(() => this.open(), delay);
    }
  }

  // One Engine.IO session: long-polling (then maybe websocket), or websocket alone.
  class Engine {
    constructor(path, transports, events) {
      this.base = location.origin + path + "?EIO=4&transport=";
      this.transports = transports;
      this.events = events;
      this.queue = []; // packets waiting for the transport
      this.transport = null;
      this.closed = false;
      if (transports[0] === "polling") this.startPolling();
      else this.startWebsocket(null);
    }

    send(packet) {
      if (this.closed) return;
      this.queue.push(packet);
      this.flush();
    }

    close(reason) {
      if (this.closed) return;
      this.closed = true;
      clearTimeout(this.heartbeat);
      if (this.ws) this.ws.close();
      this.events.close(reason);
    }

    // The open packet: the session's id and heartbeat, then the upgrade if offered.
    onOpen(data) {
      const open = JSON.parse(data);
      this.sid = open.sid;
      this.pingWithin = open.pingInterval + open.pingTimeout;
      this.armHeartbeat();
      this.events.open();
      if (this.transport === "polling" && open.upgrades.includes("websocket") && this.transports.includes("websocket")) {
        this.startWebsocket(this.sid);
      }
    }

    armHeartbeat() {
      clearTimeout(this.heartbeat);
      this.heartbeat = setTimeout(() => this.close("ping timeout"), this.pingWithin);
    }

    onPacket(packet) {
      const type = packet[0];
      const data = packet.slice(1);
      if (type === "0") this.onOpen(data);
      else if (type === "1") this.close("transport close");
      else if (type === "2") {
        this.armHeartbeat();
        this.send("3" + data);
      } else if (type === "4") this.events.message(data);
    }

    // --- long-polling
    startPolling() {
      this.transport = "polling";
      this.poll();
    }

    url(transport) {
      return this.base + transport + (this.sid ? "&sid=" + encodeURIComponent(this.sid) : "") + "&t=" + Date.now().toString(36);
    }

    async poll() {
      while (!this.closed && this.transport === "polling" && !this.upgrading) {
        let text;
        try {
          const response = await fetch(this.url("polling"), { credentials: "include", cache: "no-store" });
          if (!response.ok) throw new Error("HTTP " + response.status);
          text = await response.text();
        } catch (err) {
          return this.close("transport error");
        }
        for (const packet of text.split(SEPARATOR)) this.onPacket(packet);
      }
      this.pollStopped?.();
    }

    async flush() {
      if (this.closed || this.writing || this.queue.length === 0 || this.upgrading) return;
      if (this.transport === "websocket") {
        for (const packet of this.queue.splice(0)) this.ws.send(packet);
        return;
      }
      if (!this.sid) return; // the handshake has not answered yet
      this.writing = true;
      const body = this.queue.splice(0).join(SEPARATOR);
      try {
        const response = await fetch(this.url("polling"), {
          method: "POST",
          body,
          credentials: "include",
          headers: { "content-type": "text/plain;charset=UTF-8" },
        });
        if (!response.ok) throw new Error("HTTP " + response.status);
      } catch (err) {
        this.writing = false;
        return this.close("transport error");
      }
      this.writing = false;
      this.writeDone?.();
      this.flush();
    }

    // --- websocket: alone (sid null) or as an upgrade of the polling session.
    startWebsocket(sid) {
      const ws = new WebSocket(this.url("websocket").replace(/^http/, "ws"));
      if (sid === null) {
        this.transport = "websocket";
        this.ws = ws;
        ws.onmessage = (e) => this.onPacket(e.data);
        ws.onclose = () => this.close("transport close");
        return;
      }
      // Upgrade: probe, then pause polling (the server ends the pending GET with a noop), wait
      // for writes in flight, and switch. Until the switch, packets keep flowing over polling.
      ws.onopen = () => ws.send("2probe");
      ws.onerror = () => {}; // a failed upgrade leaves the session on polling
      ws.onmessage = async (e) => {
        if (e.data !== "3probe" || this.closed) return ws.close();
        this.upgrading = true;
        await new Promise((resolve) => (this.pollStopped = resolve));
        if (this.writing) await new Promise((resolve) => (this.writeDone = resolve));
        if (this.closed) return ws.close();
        ws.send("5");
        this.ws = ws;
        this.transport = "websocket";
        this.upgrading = false;
        ws.onmessage = (event) => this.onPacket(event.data);
        ws.onclose = () => this.close("transport close");
        this.flush();
      };
    }
  }

  window.io = (options) => new Socket(options || {});
})();
