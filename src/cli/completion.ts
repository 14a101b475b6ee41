import type { Command, Option } from 'commander';

/**
 * Shell completion scripts written from the program's own command tree, so a new command or option
 * completes without anyone remembering to edit a script. Completes commands, subcommands and
 * options; option values and arguments complete as file names (paths are what most of them take).
 */
export type CompletionShell = 'bash' | 'zsh';
export const COMPLETION_SHELLS: readonly CompletionShell[] = ['bash', 'zsh'];

interface Node {
  /** Command words from the top, e.g. ['import', 'list']; [] for the program itself. */
  readonly path: readonly string[];
  readonly description: string;
  readonly options: readonly Option[];
  /** Fixed values of its arguments (`completion <shell>`: bash, zsh). */
  readonly choices: readonly string[];
  readonly children: readonly Node[];
}

const visible = (command: Command): boolean => command.name() !== 'help' && !(command as unknown as { _hidden?: boolean })._hidden;

function tree(command: Command, path: readonly string[]): Node {
  const helpOption = command.createHelp().visibleOptions(command).filter((option) => option.long === '--help');
  return {
    path,
    description: command.description(),
    options: [...command.options.filter((option) => !option.hidden), ...helpOption],
    choices: command.registeredArguments.flatMap((argument) => argument.argChoices ?? []),
    children: command.commands.filter(visible).map((child) => tree(child, [...path, child.name()])),
  };
}

function walk(node: Node): Node[] {
  return [node, ...node.children.flatMap(walk)];
}

const flagsOf = (option: Option): string[] => [option.short, option.long].filter((flag): flag is string => flag !== undefined);
const takesValue = (option: Option): boolean => option.required || option.optional;
const valueName = (option: Option): string => option.flags.match(/[<[]([^>\]]+)/)?.[1] ?? 'value';
/** Values that name files complete as file names; others (a jail, a duration) have no list to offer. */
const takesPath = (option: Option): boolean => takesValue(option) && /path|dir|file/.test(valueName(option));

function bash(root: Node): string {
  const cases = walk(root).map((node) => {
    const words = [...node.children.map((child) => child.path.at(-1) ?? ''), ...node.choices, ...node.options.flatMap(flagsOf)];
    const valued = node.options.filter(takesValue).flatMap(flagsOf);
    const paths = node.options.filter(takesPath).flatMap(flagsOf);
    return `    '${node.path.join(' ')}') words='${words.join(' ')}'; valued='${valued.join(' ')}'; paths='${paths.join(' ')}' ;;`;
  });
  return `# bash completion for f2b-store, written by \`f2b-store completion bash\`.
_f2b_store() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local path='' words valued paths word i skip=''
  # Follow the command path so far (e.g. "import list"), past options and the values they take.
  _f2b_store_words ''
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [ -n "$skip" ]; then skip=''; continue; fi
    case " $valued " in *" $word "*) skip=1; continue ;; esac
    case "$word" in -*) continue ;; esac
    case " $words " in *" $word "*) path=\${path:+$path }$word; _f2b_store_words "$path" ;; esac
  done
  case " $paths " in *" $prev "*) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;; esac
  case " $valued " in *" $prev "*) return 0 ;; esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(printf '%s\\n' $words | grep -v '^-')" -- "$cur"))
    if [ \${#COMPREPLY[@]} -eq 0 ]; then COMPREPLY=($(compgen -f -- "$cur")); fi
  fi
  return 0
}
_f2b_store_words() {
  case "$1" in
${cases.join('\n')}
    *) words=''; valued=''; paths='' ;;
  esac
}
complete -o filenames -F _f2b_store f2b-store
`;
}

/** Text inside a zsh single-quoted _arguments spec: no quote, and [ ] : escaped. */
const zshText = (text: string): string => text.replace(/([[\]:\\])/g, '\\$1').replace(/'/g, "'\\''");

function zshSpecs(node: Node): string[] {
  return node.options.map((option) => {
    const flags = flagsOf(option);
    const names = flags.length > 1 ? `(${flags.join(' ')})'{${flags.join(',')}}'` : flags.join('');
    const value = takesValue(option) ? `:${zshText(valueName(option))}:${takesPath(option) ? '_files' : ''}` : '';
    return `'${names}[${zshText(option.description)}]${value}'`;
  });
}

function zshFunction(node: Node): string {
  const name = ['_f2b_store', ...node.path].join('_').replace(/-/g, '_');
  const specs = zshSpecs(node);
  if (node.children.length === 0) {
    const rest = node.choices.length > 0 ? `'*:value:(${node.choices.join(' ')})'` : "'*:file:_files'";
    return `${name}() {\n  _arguments -s ${[...specs, rest].join(' \\\n    ')}\n}\n`;
  }
  const described = node.children.map((child) => `'${zshText(child.path.at(-1) ?? '')}:${zshText(child.description)}'`);
  const dispatch = node.children.map((child) => `    ${child.path.at(-1)}) ${['_f2b_store', ...child.path].join('_').replace(/-/g, '_')} ;;`);
  return `${name}() {
  local curcontext=$curcontext state line
  local -a commands=(${described.join(' ')})
  _arguments -C ${[...specs, "'1:command:->command'", "'*::argument:->argument'"].join(' \\\n    ')}
  case $state in
    command) _describe command commands ;;
    argument)
      case $line[1] in
${dispatch.map((line) => `    ${line}`).join('\n')}
      esac ;;
  esac
}
`;
}

function zsh(root: Node): string {
  return `#compdef f2b-store
# zsh completion for f2b-store, written by \`f2b-store completion zsh\`.
${walk(root).map(zshFunction).join('\n')}
_f2b_store "$@"
`;
}

export function completionScript(program: Command, shell: CompletionShell): string {
  const root = tree(program, []);
  return shell === 'bash' ? bash(root) : zsh(root);
}
