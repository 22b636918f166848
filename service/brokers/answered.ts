/**
 * The message ids this replica answered recently. A broker redelivers a message whose ack
 * it never got (a broker restart between our answer and our ack); an id found here was
 * answered already, so the adapter acks it without answering twice. Bounded: the oldest go.
 */
export class AnsweredIds {
  readonly #ids = new Set<string>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  has(id: string | undefined): boolean {
    return id !== undefined && this.#ids.has(id);
  }

  add(id: string | undefined): void {
    if (id === undefined) return;
    this.#ids.add(id);
    if (this.#ids.size > this.#max) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
  }
}
