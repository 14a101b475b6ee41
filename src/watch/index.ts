export { LogTailer, MAX_LINE_BYTES, type LineBatch, type LogTailerOptions } from './log-tailer.js';
export type { LogPosition } from './log-position.js';
export { compileLogPattern, patternMatches, type LogPattern } from './log-pattern.js';
