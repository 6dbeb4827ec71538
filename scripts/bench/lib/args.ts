// Command-line numbers of the benchmarks: `--name 123`, else the default.
export function numberArg(name: string, fallback: number, argv: string[] = process.argv): number {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? Number(argv[i + 1]) : fallback;
}
