/**
 * The arguments of the running etcdctl command, as Go's `os.Args[1:]` (etcdctl's watch
 * scans them for `watch` and `--`): what cli/main's `main` was called with, which
 * bin/etcdctl takes from the process with every byte kept (util/arg-bytes.ts).
 */
let processArgs: readonly string[] = [];

/** Records the arguments `main` runs with. */
export function setProcessArgs(argv: readonly string[]): void {
  processArgs = [...argv];
}

/** The arguments `main` runs with. */
export function currentProcessArgs(): readonly string[] {
  return processArgs;
}
