// How a demo speaks: numbered steps, checks that stop the demo at the first surprise, and
// every command echoed with its output. One home for both demos (`make demo`, `make demo-mcp`).
import { kubectl, type Identity, type RunResult } from '../harness/cluster.js';

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint('1');
export const dim = paint('2');
const green = paint('32');
const red = paint('31');

let step = 0;

export function narrate(title: string, why: string): void {
  step++;
  console.log(`\n${bold(`${step}. ${title}`)}\n${dim(why)}`);
}

class StepFailed extends Error {}

/** Passes quietly with a tick, or stops the demo saying what was expected and what happened. */
export function expectThat(ok: boolean, what: string, seen?: RunResult | string): void {
  if (ok) {
    console.log(green(`   ✔ ${what}`));
    return;
  }
  console.log(red(`   ✘ expected: ${what}`));
  if (typeof seen === 'string') console.log(red(`     ${seen}`));
  else if (seen) console.log(red(`     exit ${seen.code}\n     stdout: ${seen.stdout.trim()}\n     stderr: ${seen.stderr.trim()}`));
  throw new StepFailed(what);
}

/** Prints a command's output indented under the command. */
export function showOutput(r: RunResult): void {
  const out = (r.stdout + r.stderr).trim();
  if (out)
    console.log(
      out
        .split('\n')
        .map((l) => `     ${l}`)
        .join('\n'),
    );
}

/** Runs kubectl as someone, echoing the command line and its output. */
export async function as(who: Identity, args: string[], input?: string): Promise<RunResult> {
  console.log(`   ${dim(`[${who}]`)} $ kubectl ${args.map((a) => (/[\s"']/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const r = await kubectl(who, args, input);
  showOutput(r);
  return r;
}

/** Runs a demo's scenario; returns the process exit code, always running the clean-up. */
export async function runDemo(scenario: () => Promise<void>, success: string, cleanup: () => Promise<void>): Promise<number> {
  try {
    await scenario();
    console.log(`\n${green(bold(success))}`);
    return 0;
  } catch (e) {
    console.error(red(`\nThe demo stopped at step ${step}: ${e instanceof StepFailed ? e.message : String(e)}`));
    return 1;
  } finally {
    await cleanup();
  }
}
