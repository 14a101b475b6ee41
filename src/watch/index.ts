export { LogTailer, READ_AHEAD, type LineBatch, type LogTailerOptions } from './log-tailer.js';
export type { LogPosition } from './log-position.js';
export { compileLogPattern, logpathsFirstFile, logpathsNameAFile, matchingFiles, namesAFile, patternMatches, type LogPattern } from './log-pattern.js';
export { journalInsteadOfFiles } from './journal-instead.js';
export { formatJournalLine, journalFields, journalTime, LINE_FIELDS, type JournalJson } from './journal-entry.js';
export { JournalReader, journalSelection, type JournalReaderOptions, type JournalStartPoint, type JournalStatus } from './journal-reader.js';
export { DEFAULT_BATCH, readJournal, type BatchLimits, type JournalBatch, type JournalEntry, type ReadJournalOptions } from './journal-stream.js';
export { journalctlArgv, journalSourceArgs, probeCursor, type CursorState, type JournalStart } from './journalctl.js';
