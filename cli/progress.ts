/**
 * Training progress for people: a live bar on a terminal, one line per epoch otherwise
 * (CI logs, `kubectl logs`), so the same command reads well in both.
 */
import cliProgress from 'cli-progress';
import type { TrainingEvent } from '../model/training/index.ts';

function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([name, value]) => `${name} ${value.toFixed(4)}`)
    .join(' | ');
}

export function progressReporter(
  stream: NodeJS.WriteStream = process.stderr,
): (event: TrainingEvent) => void {
  const interactive = stream.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  return (event) => {
    switch (event.type) {
      case 'state':
        if (event.state === 'failed' || event.state === 'completed') bar?.stop();
        if (event.state !== 'training' || !interactive) {
          stream.write(`[${event.state}]${event.detail ? ` ${event.detail}` : ''}\n`);
        }
        return;
      case 'batch':
        if (!interactive) return;
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              stream,
              format:
                'epoch {epoch}/{epochs} |{bar}| {value}/{total} batches | loss {loss} {metrics}',
              hideCursor: true,
              clearOnComplete: false,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.batches, 0, {
            epoch: event.epoch,
            epochs: event.epochs,
            loss: '-',
            metrics: '',
          });
        }
        if (event.batch === 1) bar.setTotal(event.batches);
        bar.update(event.batch, {
          epoch: event.epoch,
          epochs: event.epochs,
          loss: event.loss.toFixed(4),
        });
        return;
      case 'epoch': {
        const line =
          `epoch ${event.epoch}/${event.epochs}  loss ${event.loss.toFixed(4)}` +
          (Object.keys(event.metrics).length > 0 ? `  ${formatMetrics(event.metrics)}` : '') +
          `  ${Math.round(event.samplesPerSecond)} samples/s`;
        if (bar) {
          bar.stop();
          bar = undefined;
        }
        stream.write(`${line}\n`);
        return;
      }
    }
  };
}
