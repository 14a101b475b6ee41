export { banTimeCalculator, DEFAULT_BAN_FORMULA, type BanTimeCalculator, type BanTimeIncrement } from './ban-time.js';
export { compileFormula, EvaluationError, type Formula, type FormulaValues } from './formula.js';
export { MAX_MATCH_CHARS } from './failure-window.js';
export { parseIgnoreCommand, type RunCommand } from './ignore-command.js';
export { COMMAND_TTL, NAME_TTL } from './ignore-list.js';
export {
  DEFAULT_MAX_TRACKED,
  JailEngine,
  type BanDecision,
  type EngineDeps,
  type FailureCounterChange,
  type JailEngineOptions,
} from './jail-engine.js';
