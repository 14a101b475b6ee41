/**
 * Container log files wrap each line a program wrote in a record of the runtime's, with the time
 * the runtime took it: Docker's json-file driver (`/var/lib/docker/containers/ID/ID-json.log`)
 * and the CRI format of containerd, CRI-O, Kubernetes' `/var/log/pods` and podman's k8s-file
 * driver. A jail's `logformat` names the wrapping; the filter reads the line inside.
 */
import type { LogFormat } from '../config/index.js';

/** The line a record holds, and when the runtime took it (epoch seconds). */
export interface FramedLine {
  readonly text: string;
  readonly time: number;
  /** The line holds only ASCII characters (see LogFilter.processLine). */
  readonly ascii: boolean;
}

/** One record as written: its line, or a piece of it when the line goes on in the stream's next record. */
interface RuntimeRecord {
  readonly text: string;
  readonly time: number;
  readonly stream: Stream;
  readonly partial: boolean;
}

/** The records just before where a reader starts, in order, and whether they go back to the log's start (see FrameReader.resume). */
export interface RecordsBefore {
  readonly records: readonly string[];
  readonly fromStart: boolean;
}

/** The two streams a runtime takes a container's lines from, each on its own into one file. */
const STREAMS = ['stdout', 'stderr'] as const;
type Stream = (typeof STREAMS)[number];
const isStream = (value: unknown): value is Stream => value === 'stdout' || value === 'stderr';

/** RFC 3339 with up to nanoseconds, as both formats write it (Go's RFC3339Nano): nothing looser reaches Date.parse. */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/;

function recordTime(text: string): number | undefined {
  if (!RFC3339.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/**
 * `{"log":"Failed password …\n","stream":"stderr","time":"2024-01-12T10:11:12.123456789Z"}`:
 * the line with its `\n`, which only the last record of a line cut into several lacks.
 */
function dockerRecord(record: string): RuntimeRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { log, stream, time } = parsed as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof log !== 'string' || typeof time !== 'string' || !isStream(stream)) return undefined;
  const at = recordTime(time);
  if (at === undefined) return undefined;
  if (!log.endsWith('\n')) return { text: log, time: at, stream, partial: true };
  return { text: log.slice(0, log.endsWith('\r\n') ? -2 : -1), time: at, stream, partial: false };
}

/**
 * `2024-01-12T10:11:12.123456789Z stderr F Failed password …`: time, stream, tags (`:` between
 * them; the first is F for a full line, P for a piece of one that goes on), then the line.
 */
function criRecord(record: string): RuntimeRecord | undefined {
  const timeEnd = record.indexOf(' ');
  const streamEnd = record.indexOf(' ', timeEnd + 1);
  if (timeEnd === -1 || streamEnd === -1) return undefined;
  const stream = record.slice(timeEnd + 1, streamEnd);
  if (!isStream(stream)) return undefined;
  const at = recordTime(record.slice(0, timeEnd));
  if (at === undefined) return undefined;
  // An empty line may come without the space after its tags.
  const tagsEnd = record.indexOf(' ', streamEnd + 1);
  const tags = record.slice(streamEnd + 1, tagsEnd === -1 ? undefined : tagsEnd);
  const flag = tags.split(':', 1)[0];
  if (flag !== 'F' && flag !== 'P') return undefined;
  return { text: tagsEnd === -1 ? '' : record.slice(tagsEnd + 1), time: at, stream, partial: flag === 'P' };
}

/** Whether `line` (without its `\n`) is a record of `format`: a file's last line tells whether a jail's `logformat` is its. */
export function isRecord(format: Exclude<LogFormat, 'plain'>, line: string): boolean {
  return (format === 'docker' ? dockerRecord : criRecord)(line) !== undefined;
}

/**
 * Reads the records of one log in order. A line the runtime cut into several records (Docker and
 * containerd cut at 16 KiB) is dropped whole, every piece, as the tailer drops a line over its
 * limit: at that length a line is a client's padding, and its pieces cannot be joined safely —
 * a piece over the tailer's limit (escaped JSON takes up to six bytes a character) never comes,
 * and joining the ones around it would let padding meet a later field.
 */
export class FrameReader {
  private readonly read: (record: string) => RuntimeRecord | undefined;
  /** JSON's \u escapes may write other characters in ASCII: a record's ASCII says nothing of its line. */
  private readonly escaped: boolean;
  /**
   * The streams whose last record was a piece of a line that goes on. Each stream's lines are cut
   * on their own: a stdout line may come between two pieces of a stderr line.
   */
  private readonly cut = new Set<Stream>();
  private skipped = 0;

  constructor(format: Exclude<LogFormat, 'plain'>) {
    this.read = format === 'docker' ? dockerRecord : criRecord;
    this.escaped = format === 'docker';
  }

  /**
   * A record went missing here (the tailer drops a line over its limit, as a piece of a cut line
   * escaped into JSON may be), of a stream not known. It may have begun a cut line, gone on with
   * one or ended one: each stream's next record is taken for a piece, so the end of a cut line is
   * never read as a line of its own (a client's padding before it would choose its text). This
   * costs a stream's next line where it was a whole one.
   */
  lost(): void {
    for (const stream of STREAMS) this.cut.add(stream);
  }

  /** Lines read that were no record of the format (the pieces of a cut line are records: not counted). */
  get notRecords(): number {
    return this.skipped;
  }

  /**
   * The reader starts part way into a log (a daemon resuming, or a worker started again), where the
   * record before may have begun a cut line. `before`: the records just before where it starts, in
   * order, and whether they go back to the log's start; undefined when they could not be read. A
   * stream whose last record there was a piece, and one with no record there unless they go back to
   * the start, has its next record taken for a piece (see lost).
   */
  resume(before: RecordsBefore | undefined): void {
    if (before?.fromStart !== true) this.lost();
    for (const record of before?.records ?? []) {
      const found = this.read(record);
      if (found !== undefined) this.isPiece(found);
    }
  }

  /**
   * The line in `record` (one line of the file, without its `\n`) and its time; undefined for a
   * record that is not one of the format's, or a piece of a cut line. `ascii`: the record holds
   * only ASCII characters.
   */
  next(record: string, ascii: boolean): FramedLine | undefined {
    const found = this.read(record);
    if (found === undefined) {
      this.skipped++;
      return undefined;
    }
    if (this.isPiece(found)) return undefined;
    return { text: found.text, time: found.time, ascii: ascii && !(this.escaped && record.includes('\\u')) };
  }

  /** Whether `found` is a piece of a cut line; notes whether its stream's line goes on after it. */
  private isPiece(found: RuntimeRecord): boolean {
    const piece = this.cut.has(found.stream) || found.partial;
    if (found.partial) this.cut.add(found.stream);
    else this.cut.delete(found.stream);
    return piece;
  }
}
