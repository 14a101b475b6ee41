import { Argument, type Command } from 'commander';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from '../completion.js';

export function register(program: Command): void {
  program
    .command('completion')
    .description('print the shell completion script for bash or zsh')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(COMPLETION_SHELLS))
    .addHelpText('after', `
The Debian package installs both. By hand:
  f2b-store completion bash > /etc/bash_completion.d/f2b-store
  f2b-store completion zsh > /usr/local/share/zsh/site-functions/_f2b-store`)
    .action((shell: CompletionShell) => {
      let root = program;
      while (root.parent) root = root.parent;
      process.stdout.write(completionScript(root, shell));
    });
}
