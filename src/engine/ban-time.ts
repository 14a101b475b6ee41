import { capDuration, InputError, type BanTimeIncrement, type Duration } from '../core/index.js';

export type { BanTimeIncrement } from '../core/index.js';
import { compileFormula, EvaluationError, type Formula } from './formula.js';


/** fail2ban's default: the ban time doubles with every earlier ban, up to 2^20 times. */
export const DEFAULT_BAN_FORMULA = 'ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor';

const FORMULA_VARIABLES = ['ban.Time', 'ban.Count', 'banFactor'] as const;

/** The length of the next ban, from how many earlier bans the address has; null = permanent. */
export type BanTimeCalculator = (previousBans: number, random: () => number) => Duration;

function checkSeconds(name: string, value: number | undefined, least: number): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= least)) {
    throw new InputError(`bantime.${name} must be a number of seconds of at least ${least}, not ${value}`);
  }
}

function fromMultipliers(multipliers: readonly number[], factor: number): (time: number, count: number) => number {
  for (const m of multipliers) {
    if (!(Number.isFinite(m) && m >= 0)) throw new InputError(`bantime.multipliers: "${m}" is not a number of at least 0`);
  }
  // fail2ban indexes them by the earlier ban count; past the end, the last one keeps applying.
  return (time, count) => time * factor * (multipliers[Math.min(count, multipliers.length - 1)] ?? 1);
}

function fromFormula(text: string, factor: number, bantime: number): (time: number, count: number) => number {
  const formula: Formula = compileFormula(text, FORMULA_VARIABLES, 'bantime.formula');
  const run = (time: number, count: number): number => formula({ 'ban.Time': time, 'ban.Count': count, banFactor: factor });
  // A formula that cannot work for a second ban is a config error, found at load rather than at the first repeat offender.
  try {
    run(bantime, 1);
  } catch (error) {
    if (error instanceof EvaluationError) throw new InputError(`bantime.formula "${text}": ${error.message} (with ban.Time=${bantime}, ban.Count=1)`);
    throw error;
  }
  // fail2ban never lets the formula shorten a ban below the jail's bantime.
  return (time, count) => Math.max(time, run(time, count));
}

/**
 * fail2ban's `bantime.increment`: a first ban lasts `bantime`; the next one of an address banned
 * `n` times before lasts the formula (or multiplier) over ban.Time = bantime and ban.Count = n,
 * capped by `maxtime`, plus up to `rndtime` random seconds, and never past core's MAX_DURATION. A
 * formula that fails at run time (overflow, division by zero, NaN) gives `bantime`, as in fail2ban
 * when its Python raises. Permanent stays permanent. Throws InputError for a bad formula, factor, multiplier or time.
 */
export function banTimeCalculator(bantime: Duration, increment: BanTimeIncrement): BanTimeCalculator {
  if (bantime !== null && !(Number.isFinite(bantime) && bantime > 0)) throw new InputError(`bantime must be a positive number of seconds or permanent, not ${bantime}`);
  if (!(Number.isFinite(increment.factor) && increment.factor > 0)) throw new InputError(`bantime.factor must be above 0, not ${increment.factor}`);
  checkSeconds('maxtime', increment.maxtime, 1);
  checkSeconds('rndtime', increment.rndtime, 0);
  const multipliers = increment.multipliers ?? [];
  const grow = multipliers.length > 0
    ? fromMultipliers(multipliers, increment.factor)
    : fromFormula(increment.formula ?? DEFAULT_BAN_FORMULA, increment.factor, bantime ?? 1);
  if (bantime === null) return () => null;
  if (!increment.enabled) return () => bantime;
  const { maxtime, rndtime } = increment;
  return (previousBans, random) => {
    if (previousBans <= 0) return bantime;
    let seconds: number;
    try {
      seconds = grow(bantime, previousBans);
    } catch (error) {
      if (error instanceof EvaluationError) return bantime;
      throw error;
    }
    if (Number.isNaN(seconds)) return bantime;
    if (maxtime !== undefined) seconds = Math.min(seconds, maxtime);
    if (rndtime !== undefined) seconds += random() * rndtime;
    return capDuration(Math.max(1, Math.round(seconds)));
  };
}
