/**
 * The web page's object detection: the posted image drawn on a canvas at its own size with
 * each box the service found (`/detect` answers boxes in the posted image's pixels, so they
 * are drawn as they are), labelled with class and score, and the list of boxes as text for
 * screen readers and for copying into the feedback form.
 */
import type { DetectResponse, LabelledBox } from '../../index.ts';

/** One colour per class index, distinct on light and dark images. */
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6'];

export function colourOf(classIndex: number): string {
  return PALETTE[classIndex % PALETTE.length] as string;
}

function percent(score: number): string {
  return `${(score * 100).toFixed(1)} %`;
}

/** The image with its boxes, on `canvas` (resized to the image; CSS scales it to fit). */
export async function drawDetections(
  canvas: HTMLCanvasElement,
  image: Blob,
  answer: DetectResponse,
): Promise<void> {
  const bitmap = await createImageBitmap(image, { imageOrientation: 'from-image' });
  const { width, height } = answer.image;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  if (context === null) return;
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const line = Math.max(2, Math.round(Math.min(width, height) / 200));
  const font = Math.max(12, Math.round(Math.min(width, height) / 30));
  context.font = `${font}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  for (const d of [...answer.detections].reverse()) {
    const [x, y, w, h] = d.box;
    const colour = colourOf(d.classIndex);
    context.lineWidth = line;
    context.strokeStyle = colour;
    // Inside the box, so an edge on the image's border stays visible.
    context.strokeRect(x + line / 2, y + line / 2, Math.max(0, w - line), Math.max(0, h - line));
    const text = `${d.label} ${percent(d.score)}`;
    const textWidth = context.measureText(text).width + 6;
    // Above the box when there is room, else inside its top edge.
    const top = y - font - 4 >= 0 ? y - font - 4 : y;
    context.fillStyle = colour;
    context.fillRect(x, top, textWidth, font + 4);
    context.fillStyle = '#ffffff';
    context.fillText(text, x + 3, top + 2);
  }
  canvas.setAttribute(
    'aria-label',
    `the image with ${answer.detections.length} box${answer.detections.length === 1 ? '' : 'es'} drawn`,
  );
  canvas.dataset.boxes = String(answer.detections.length);
}

/** The boxes as a list, best first: label, score and where. */
export function detectionItems(answer: DetectResponse): { text: string; colour: string }[] {
  return answer.detections.map((d) => ({
    text: `${d.label} ${percent(d.score)} at x ${Math.round(d.box[0])}, y ${Math.round(d.box[1])}, ${Math.round(d.box[2])}×${Math.round(d.box[3])}`,
    colour: colourOf(d.classIndex),
  }));
}

/** The detections as feedback boxes (JSON for the form: the person corrects and sends it). */
export function boxesJson(answer: DetectResponse): string {
  const boxes: LabelledBox[] = answer.detections.map((d) => ({ box: d.box, label: d.label }));
  return JSON.stringify(boxes);
}

/** The form's boxes: a JSON list of `{box, label}`, checked for shape (the service checks the rest). */
export function parseBoxesText(text: string): LabelledBox[] {
  let json: unknown;
  try {
    json = JSON.parse(text.trim() === '' ? '[]' : text);
  } catch (error) {
    throw new Error(`the boxes are not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(json)) {
    throw new Error('the boxes must be a list: [{"box": [x, y, width, height], "label": "..."}]');
  }
  return json as LabelledBox[];
}
