// `npm run cli -- generate|logits …`: scripts and checks drive the engine from here. Errors are one
// line on stderr and exit code 1 (bad arguments add the usage).
import { CliError, parseCli, USAGE } from './args.ts';
import { runGenerate, runLogits } from './run.ts';

async function main(): Promise<void> {
  const args = parseCli(process.argv.slice(2));
  if (args.command === 'help') {
    console.log(USAGE);
    return;
  }
  const started = performance.now();
  if (args.command === 'generate') {
    const timing = { loadMs: -1, prefillMs: 0, decodeTokensPerS: null as number | null };
    const result = await runGenerate(args, args.json ? undefined : (t) => process.stdout.write(t), timing);
    const s = (performance.now() - started) / 1000;
    console.error(
      `${args.json ? '' : '\n'}cli: ${result.prompt_tokens.length} prompt tokens, ${result.tokens.length} generated in ${s.toFixed(2)} s (${args.backend})`,
    );
    // Only ref and cpu run here (webgpu runs in Chromium, whose memory this process does not see).
    if (timing.loadMs >= 0) {
      console.error(
        `cli: load ${timing.loadMs} ms, prefill ${timing.prefillMs} ms, decode ${timing.decodeTokensPerS ?? '-'} tokens/s, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`,
      );
    }
    if (args.json) console.log(JSON.stringify(result));
  } else {
    const result = await runLogits(args);
    console.error(`cli: ${result.prompt_tokens.length} positions in ${((performance.now() - started) / 1000).toFixed(2)} s (${args.backend})`);
    if (args.json) {
      console.log(JSON.stringify(result));
    } else {
      result.positions.forEach((top, i) => console.log(`${i}\t${result.prompt_tokens[i]}\t${top.map((t) => `${t.id}:${t.logprob.toFixed(4)}`).join(' ')}`));
    }
  }
}

main().catch((error: unknown) => {
  if (error instanceof CliError) {
    console.error(`cli: ${error.message}\n${USAGE}`);
  } else {
    console.error(error instanceof Error ? `cli: ${error.name}: ${error.message}` : `cli: ${String(error)}`);
  }
  process.exitCode = 1;
});
