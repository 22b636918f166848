import { MscrError } from '../../connectors/errors.ts';
import type { ModelTask } from '../../connectors/ms/manifest.ts';
import { imageClassification } from './image-classification.ts';
import { objectDetection } from './object-detection.ts';
import { seriesForecast } from './series-forecast.ts';
import type { Task } from './task.ts';

const tasks: Partial<Record<ModelTask, Task>> = {
  'image-classification': imageClassification,
  'series-forecast': seriesForecast,
  'object-detection': objectDetection,
};

export function taskFor(task: ModelTask): Task {
  const found = tasks[task];
  if (!found) throw new MscrError('config', `mscr cannot train or evaluate ${task} models yet`);
  return found;
}
