/**
 * Draining HTTP/1.1 keep-alive connections without dropping a request.
 *
 * Closing an idle kept-alive connection races with a client that is sending its next request
 * on it: the client sees "other side closed" (a failover test lost 1-3 of ~1,400 requests to
 * exactly that, closing idle connections every 25 ms). So a drain
 *   1. stops accepting connections, without Node 19+'s `server.close()` habit of closing the
 *      idle ones at once;
 *   2. answers every request from then on with `Connection: close`, so a busy client learns
 *      from a response that the connection ends and opens its next one elsewhere;
 *   3. closes a connection only after it has been idle for `idleCloseMs` (5 s), and every
 *      connection at the timeout. A client pool reuses a connection within milliseconds
 *      while it is busy; one idle for seconds is one it has stopped picking. 500 ms was not
 *      enough: the cluster failover test lost 1 of 2,446 requests to a pool that picked a
 *      connection idle for just that long. No value below the announced keep-alive timeout
 *      (65 s, for load balancers) rules the race out entirely, and waiting that long would
 *      make every drain last its whole timeout; HTTP/1.1 has no way to tell an idle client.
 */
import type { Server } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

export interface HttpDrainOptions {
  /** A connection idle this long during a drain is closed. Default 5 s. */
  idleCloseMs?: number;
}

export interface HttpDrain {
  /**
   * Stops listening now (idempotent; `drain` does it too). Call it before anything answers
   * `Connection: close`: a client told so opens a new connection at once, and one the kernel
   * has queued but the server not yet accepted is reset when the listener closes.
   */
  stopAccepting(): void;
  /** Drains; `timeout` when connections were still open after `timeoutMs` (then they are closed). */
  drain(timeoutMs: number): Promise<'closed' | 'timeout'>;
  /** Open connections now (for tests and logs). */
  openConnections(): number;
}

interface ConnectionState {
  active: number;
  idleSince: number;
}

/** Tracks the server's connections from now on; call right after it starts listening. */
export function trackConnections(server: Server, options: HttpDrainOptions = {}): HttpDrain {
  const idleCloseMs = options.idleCloseMs ?? 5_000;
  const connections = new Map<Socket, ConnectionState>();
  let draining = false;

  server.on('connection', (socket: Socket) => {
    connections.set(socket, { active: 0, idleSince: performance.now() });
    socket.once('close', () => connections.delete(socket));
  });
  // Before the app's own listener, so the header is set before any handler can answer.
  server.prependListener('request', (req, res) => {
    const state = connections.get(req.socket);
    if (state) state.active++;
    if (draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      if (!state) return;
      state.active--;
      state.idleSince = performance.now();
    });
  });

  let closed: Promise<void> | undefined;
  const stopAccepting = () => {
    // net.Server's close: stop listening and call back once every connection has ended.
    closed ??= new Promise<void>((resolve) => {
      NetServer.prototype.close.call(server, () => resolve());
    });
    return closed;
  };

  return {
    openConnections: () => connections.size,
    stopAccepting: () => void stopAccepting(),
    async drain(timeoutMs) {
      const allClosed = stopAccepting();
      draining = true;
      const sweep = setInterval(() => {
        const now = performance.now();
        for (const [socket, state] of connections) {
          if (state.active === 0 && now - state.idleSince >= idleCloseMs) socket.destroy();
        }
      }, 25);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
        timer.unref();
      });
      try {
        const outcome = await Promise.race([allClosed.then(() => 'closed' as const), timeout]);
        if (outcome === 'timeout') server.closeAllConnections();
        return outcome;
      } finally {
        clearInterval(sweep);
        clearTimeout(timer);
      }
    },
  };
}
