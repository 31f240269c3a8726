/**
 * @module commands/completion
 * `etcdctl completion [bash|zsh|fish|powershell]`: the completion command that
 * spf13/cobra 1.6.1 adds to every program with subcommands (InitDefaultCompletionCmd),
 * present in the Debian build of etcdctl 3.4.23. Each subcommand prints its shell's
 * script (commands/completion/scripts) for the program name `etcdctl`; with
 * `--no-descriptions` the script asks for candidates with `__completeNoDesc`.
 * Arguments are rejected as cobra's NoArgs does (`unknown command "x" for "etcdctl
 * completion bash"`, with the usage, exit 1). The hidden `__complete` commands the
 * scripts call are answered by cli/complete.
 */

import type { CommandContext, CommandSpec } from '../cli/command.js';
import { CliError, ExitError } from '../cli/exit-codes.js';
import type { FlagSpec } from '../cli/flags.js';
import { goQuote } from '../cli/go-format.js';
import { bashScript, fishScript, powershellScript, zshScript, type ScriptParams } from './completion/scripts.js';

const PROGRAM = 'etcdctl';

const NO_DESC_FLAG: FlagSpec = { name: 'no-descriptions', type: 'bool', default: false, usage: 'disable completion descriptions' };

/**
 * Rejects positional arguments as cobra's NoArgs validator: the error line, the
 * command's usage on stdout, an empty line, then `Error: ...` and exit 1 from main.
 */
async function noArgs(ctx: CommandContext, self: CommandSpec): Promise<void> {
  if (ctx.args.length === 0) return;
  const msg = `unknown command ${goQuote(ctx.args[0]!)} for "${[PROGRAM, ...ctx.path].join(' ')}"`;
  const [{ ROOT }, { renderHelp }, { GLOBAL_FLAGS }] = await Promise.all([
    import('../cli/registry.js'),
    import('../cli/help.js'),
    import('../cli/global-flags.js'),
  ]);
  ctx.errWrite(`Error: ${msg}\n`);
  ctx.out.write(renderHelp([ROOT, completionCommand, self], GLOBAL_FLAGS));
  ctx.out.flush();
  ctx.errWrite('\n');
  throw new CliError(ExitError, msg);
}

/** One `completion <shell>` subcommand. */
function shellCommand(shell: string, long: string, script: (p: ScriptParams) => string, extra: Partial<CommandSpec> = {}): CommandSpec {
  const spec: CommandSpec = {
    use: shell,
    short: `Generate the autocompletion script for ${shell}`,
    long,
    flags: [NO_DESC_FLAG],
    light: true,
    ...extra,
    async run(ctx) {
      await noArgs(ctx, spec);
      const compCmd = ctx.flags.bool('no-descriptions') ? '__completeNoDesc' : '__complete';
      ctx.out.write(script({ name: PROGRAM, compCmd }));
    },
  };
  return spec;
}

const n = PROGRAM;

export const completionBashCommand = shellCommand('bash', `Generate the autocompletion script for the bash shell.

This script depends on the 'bash-completion' package.
If it is not installed already, you can install it via your OS's package manager.

To load completions in your current shell session:

\tsource <(${n} completion bash)

To load completions for every new session, execute once:

#### Linux:

\t${n} completion bash > /etc/bash_completion.d/${n}

#### macOS:

\t${n} completion bash > $(brew --prefix)/etc/bash_completion.d/${n}

You will need to start a new shell for this setup to take effect.
`, bashScript, { disableFlagsInUseLine: true });

export const completionZshCommand = shellCommand('zsh', `Generate the autocompletion script for the zsh shell.

If shell completion is not already enabled in your environment you will need
to enable it.  You can execute the following once:

\techo "autoload -U compinit; compinit" >> ~/.zshrc

To load completions in your current shell session:

\tsource <(${n} completion zsh); compdef _${n} ${n}

To load completions for every new session, execute once:

#### Linux:

\t${n} completion zsh > "\${fpath[1]}/_${n}"

#### macOS:

\t${n} completion zsh > $(brew --prefix)/share/zsh/site-functions/_${n}

You will need to start a new shell for this setup to take effect.
`, zshScript);

export const completionFishCommand = shellCommand('fish', `Generate the autocompletion script for the fish shell.

To load completions in your current shell session:

\t${n} completion fish | source

To load completions for every new session, execute once:

\t${n} completion fish > ~/.config/fish/completions/${n}.fish

You will need to start a new shell for this setup to take effect.
`, fishScript);

export const completionPowershellCommand = shellCommand('powershell', `Generate the autocompletion script for powershell.

To load completions in your current shell session:

\t${n} completion powershell | Out-String | Invoke-Expression

To load completions for every new session, add the output of the above command
to your powershell profile.
`, powershellScript);

/** The `completion` command group (not runnable: without a shell it prints its help). */
export const completionCommand: CommandSpec = {
  use: 'completion',
  short: 'Generate the autocompletion script for the specified shell',
  long: `Generate the autocompletion script for ${n} for the specified shell.
See each sub-command's help for details on how to use the generated script.
`,
  subcommands: [completionBashCommand, completionZshCommand, completionFishCommand, completionPowershellCommand],
};
