// Runs one command line; returns the exit status. Separate from main.ts so tests can call it.
import { commandHelp, mainHelp, parseCommandLine, UsageError } from './args.js';
import { CliError, describeApiError, makeContext, runCommand } from './commands.js';
import type { Io } from './commands.js';
import { SnapshotError } from '../boundary/snapshot.js';

export async function run(argv: string[], io: Io): Promise<number> {
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.help) {
      io.out(parsed.command ? commandHelp(parsed.command) : mainHelp());
      return 0;
    }
    return await runCommand(makeContext(parsed, io));
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n${e.command ? `see: agentgate ${e.command} --help\n` : ''}`);
      return 2;
    }
    if (e instanceof CliError) {
      io.err(`error: ${e.message}\n`);
      return e.code;
    }
    if (e instanceof SnapshotError) {
      io.err(`error: ${e.message}\n`);
      return 2;
    }
    const { message, code } = describeApiError(e);
    io.err(`error: ${message}\n`);
    return code;
  }
}
