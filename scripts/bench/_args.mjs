// The benchmark runner's command line: names of benchmarks, and options passed to them.

/** `--key value` and `--key=value` pairs of a command line; the rest are names. Throws on a key with no value. */
export function splitArgs(argv) {
  const names = [];
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      names.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      options[a.slice(2, eq)] = a.slice(eq + 1);
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`option ${a} needs a value (e.g. ${a} 12)`);
    options[a.slice(2)] = value;
    i++;
  }
  return { names, options };
}
