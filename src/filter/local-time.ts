import { parsePosixTz, type Zone } from './posix-tz.js';

/**
 * Local time the way fail2ban gets it from glibc (`time.mktime`, `datetime.fromtimestamp`).
 * "Wall" seconds are a local date and time counted as if it were UTC.
 */
export interface LocalTime {
  /**
   * mktime: the instant of a local wall-clock time. A time skipped by a DST change is read with
   * the offset before the change; a time that happens twice follows the offset of the previous
   * conversion, as glibc does (so a log running through the repeated hour stays on one side).
   */
  toEpoch(wall: number): number;
  /** localtime: the wall-clock time of an instant. */
  toWall(epoch: number): number;
}

const HOUR = 3600;
// Farther than any zone offset: the offsets in effect this far either side of a wall time
// are the only ones it can resolve to.
const REACH = 14 * HOUR;

/**
 * The local time of the time zone `tz` (the TZ environment variable): unset means the system
 * zone; a zone name ICU knows (Europe/Berlin, EST5EDT, UTC) is used as such; otherwise a POSIX
 * rule string (CET-01CEST-02,M3.5.0,M10.5.0) is evaluated here, as glibc does for a TZ that
 * names no zoneinfo file, because Node's ICU silently treats such a TZ as UTC.
 */
export function createLocalTime(tz: string | undefined): LocalTime {
  return cached(zoneOf(tz));
}

function zoneOf(tz: string | undefined): Zone {
  if (tz === undefined || tz === '') return systemZone;
  const named = intlZone(tz);
  if (named) return named;
  return parsePosixTz(tz) ?? systemZone;
}

const systemZone: Zone = {
  offsetAt: (utcSeconds) => -new Date(utcSeconds * 1000).getTimezoneOffset() * 60,
};

function intlZone(tz: string): Zone | undefined {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
  } catch {
    return undefined;
  }
  return {
    offsetAt(utcSeconds) {
      const name = format.formatToParts(utcSeconds * 1000).find((part) => part.type === 'timeZoneName')?.value ?? '';
      const at = /([+-])(\d\d):(\d\d)(?::(\d\d))?/.exec(name);
      if (!at) return 0;
      const seconds = Number(at[2]) * 3600 + Number(at[3]) * 60 + Number(at[4] ?? 0);
      return at[1] === '-' ? -seconds : seconds;
    },
  };
}

/**
 * Lines come in bursts within the same hour: remember the offset of the last hour seen, as
 * long as no offset change lies near that hour (then every instant in it has that offset).
 */
function cached(zone: Zone): LocalTime {
  let wallHour = NaN;
  let wallOffset = 0;
  let epochHour = NaN;
  let epochOffset = 0;
  let previousOffset = 0;
  return {
    toEpoch(wall) {
      const hour = Math.floor(wall / HOUR);
      if (hour !== wallHour) {
        const start = hour * HOUR;
        const before = zone.offsetAt(start - REACH);
        if (before !== zone.offsetAt(start + HOUR + REACH)) {
          const epoch = resolveWall(zone, wall, previousOffset);
          previousOffset = wall - epoch;
          return epoch;
        }
        wallHour = hour;
        wallOffset = before;
      }
      previousOffset = wallOffset;
      return wall - wallOffset;
    },
    toWall(epoch) {
      const hour = Math.floor(epoch / HOUR);
      if (hour === epochHour) return epoch + epochOffset;
      const offset = zone.offsetAt(epoch);
      if (offset === zone.offsetAt(hour * HOUR) && offset === zone.offsetAt(hour * HOUR + HOUR - 1)) {
        epochHour = hour;
        epochOffset = offset;
      }
      return epoch + offset;
    },
  };
}

// glibc's choices, measured with Python's time.mktime: in a gap, the offset before the change;
// in an overlap, glibc starts from the previous result's offset, which lands on the side whose
// offset is in effect at `wall - previousOffset`.
function resolveWall(zone: Zone, wall: number, previousOffset: number): number {
  const before = zone.offsetAt(wall - REACH);
  const after = zone.offsetAt(wall + REACH);
  const beforeFits = zone.offsetAt(wall - before) === before;
  const afterFits = zone.offsetAt(wall - after) === after;
  if (beforeFits && afterFits) return wall - zone.offsetAt(wall - previousOffset);
  if (afterFits) return wall - after;
  return wall - before;
}
