/** Option parsers shared by the commands: each says what is wrong and what to type instead. */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../connectors/store/gc.ts';

export const DEFAULT_STORE = 'file://./models';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1) {
    throw new InvalidArgumentError(
      `expected a fraction between 0 and 1 (e.g. 0.2), got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** `32x32` or `32` (square). */
export function imageSize(value: string): { height: number; width: number } {
  const match = /^(\d{1,4})(?:x(\d{1,4}))?$/.exec(value);
  const height = Number(match?.[1]);
  const width = Number(match?.[2] ?? match?.[1]);
  if (!match || height < 1 || width < 1 || height > 1024 || width > 1024) {
    throw new InvalidArgumentError(
      `expected HEIGHTxWIDTH between 1 and 1024, e.g. 32x32, got ${JSON.stringify(value)}`,
    );
  }
  return { height, width };
}

/** Repeatable and comma-separated: `--data a,b --data c` gives [a, b, c]. */
export function collectList(value: string, previous: string[] = []): string[] {
  return previous.concat(
    value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  );
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(
        `expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`,
      );
    }
    return value as T;
  };
}

/** A version number, `latest`, or an alias name. */
export function versionRef(value: string): string | number {
  return /^[1-9]\d*$/.test(value) ? Number(value) : value;
}

/** `90s`, `30m`, `2h`, `7d` or plain seconds, as milliseconds. */
export function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new InvalidArgumentError(
      `expected a duration such as 90s, 30m, 2h or 7d, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}
