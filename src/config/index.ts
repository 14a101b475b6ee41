export * from './store-config.js';
export { readConfig, readConfigFiles, type ConfigTree, type ReadConfigOptions } from './config-tree.js';
export { resolveDefinition } from './definition-section.js';
export {
  FAIL2BAN_FILTER_DIR, filterSearchDirs, loadFilter, SHIPPED_FILTER_DIR, type FilterDefinition, type LoadFilterOptions, type RegexSource,
} from './filter-definition.js';
export { parseIni, readIniFile, type IniFile, type IniOption, type IniOptions, type IniSection } from './ini-file.js';
export { getOption, getQualifiedOption, type Vars } from './interpolation.js';
export { parseOptionSpec, parseOptionSpecList, type Locate, type OptionSpec } from './option-list.js';
export { asSourceLine, originAt, sourceLines, textAt, where, type Origin, type SourceLine, type SourcedText } from './sourced-text.js';
export { substituteTags, type TagOptions } from './tag-substitution.js';
export {
  actionSearchDirs, blockTypeOf, FAIL2BAN_ACTION_DIR, parseActionList, type ActionSpec, type BlockType, type JailAction,
} from './action-mapping.js';
export {
  bansJailSelection, enabledJails, enabledJailSettings, FAIL2BAN_VERSION, isLogJail, jailConfigDir, journalInsteadNotice, loadJails, watchesNothingHint, SHIPPED_CONFIG_DIR, type AnyEnabledJail, type BansJail, type DisabledJail, type EnabledJail, type IncrementOptions, type JailDefinition, type JailSettings,
  type LoadJailsOptions,
} from './jail-config.js';
export { LOG_FORMATS, parseJournalSource, WATCH_BACKENDS, type Escalation, type LogFormat, type LogPath, type UseDns } from './jail-values.js';
export { loadAction, type ActionJail, type LoadedAction } from './action-definition.js';
export { jailWarnings, misspeltJailOptions, unresolvedFilterTags, unrunnableActions } from './jail-warnings.js';
export { onPath, scriptPrograms } from './script-programs.js';
