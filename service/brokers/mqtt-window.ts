/**
 * The MQTT adapter's in-flight window. mqtt.js reads the next incoming packet only after
 * the current one's PUBACK is sent, so a PUBACK held until the answer is acknowledged would
 * keep one request in flight at a time, and the batcher would never see two. Instead the
 * PUBACK is deferred (the client's `handleMessage` hook answers "not now", so mqtt.js moves
 * on to the next packet without acknowledging), every request is handled as it arrives (up
 * to the receive maximum the broker honours: `MSCR_MQTT_INFLIGHT`), and the PUBACKs go out
 * here, in arrival order as MQTT asks, each once its answer is acknowledged.
 *
 * A request left unanswered (the service stopping, an answer that could not be published)
 * is a gap: nothing after it is acknowledged on this connection, so the broker's session
 * redelivers it and everything after it (answered again: at least once, never lost). A new
 * connection starts a new window; settlements from the old one are ignored.
 */
import type { IPublishPacket, MqttClient } from 'mqtt';

export type SendPuback = (messageId: number) => void;

/**
 * A PUBACK sender on the client's own packet writer, or undefined when this mqtt.js has no
 * such writer (the adapter then acknowledges one request at a time, as mqtt.js does).
 */
export function pubackSender(client: MqttClient): SendPuback | undefined {
  // mqtt.js 5 writes every packet through `_sendPacket` (keep-alive, stores, drain); it is
  // not public API, hence the check and the fallback.
  const send = (client as unknown as { _sendPacket?: unknown })._sendPacket;
  if (typeof send !== 'function') return undefined;
  return (messageId) => {
    (send as (packet: object) => void).call(client, { cmd: 'puback', messageId, reasonCode: 0 });
  };
}

/** The error `handleMessage` answers mqtt.js with: "do not PUBACK this one now". */
export const DEFERRED = new Error('PUBACK deferred to the in-flight window');

interface Entry {
  messageId: number;
  settled: boolean;
  answered: boolean;
}

export class AckWindow {
  readonly #send: SendPuback;
  #entries: Entry[] = [];
  #gap = false;
  #generation = 0;
  #peak = 0;

  constructor(send: SendPuback) {
    this.#send = send;
  }

  /** Requests waiting for their PUBACK now. */
  get size(): number {
    return this.#entries.length;
  }

  /** The most requests in flight at once since the start (metrics, tests). */
  get peak(): number {
    return this.#peak;
  }

  /**
   * Takes a request into the window; call the result once with true when it is answered
   * (PUBACK due), false when it is left for a redelivery.
   */
  open(packet: IPublishPacket): (answered: boolean) => void {
    const entry: Entry = { messageId: packet.messageId ?? 0, settled: false, answered: false };
    const generation = this.#generation;
    this.#entries.push(entry);
    this.#peak = Math.max(this.#peak, this.#entries.length);
    return (answered) => {
      if (generation !== this.#generation || entry.settled) return;
      entry.settled = true;
      entry.answered = answered;
      this.#flush();
    };
  }

  /** A new connection: what was in flight on the old one is the session's to redeliver. */
  reset(): void {
    this.#generation++;
    this.#entries = [];
    this.#gap = false;
  }

  #flush(): void {
    while (this.#entries[0]?.settled) {
      const entry = this.#entries.shift() as Entry;
      if (!entry.answered) this.#gap = true;
      if (!this.#gap) this.#send(entry.messageId);
    }
  }
}
