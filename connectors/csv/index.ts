/**
 * The one CSV reader of mscr's numeric files and request bodies, shared by the Model layer
 * (training data), the Service (forecast windows, tabular rows) and the Client SDK (price
 * files): linear-time number parsing and limits checked before parsing. No Node built-ins, so
 * the web page's bundle can use it too.
 */
export { isDecimal, parseDecimal } from './number.ts';
export {
  csvCells,
  csvLines,
  CsvLimitExceeded,
  FILE_CSV_LIMITS,
  REQUEST_CSV_LIMITS,
  type CsvLimits,
} from './lines.ts';
