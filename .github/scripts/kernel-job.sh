#!/usr/bin/env bash
# One kernel's CI job: run it and keep its results whatever the kernel did. mmatrix exits 0
# (conformant) or 1 (the kernel deviated, leaked or crashed): both leave a whole run folder, so
# the job passes and the report job, which merges every kernel, gives the verdict. 2 (a result
# is missing), 3 (an internal error) and signals fail the job here. A plain `make run || test
# $? -eq 1` cannot work: make exits 2 for any failing recipe.
set -u
kernel=${1:?usage: kernel-job.sh KERNEL-SPEC}
cli=${MMATRIX_CLI:-node dist/runner/cli.js}
$cli run -k "$kernel" --runs-dir runs
rc=$?
echo "mmatrix run -k $kernel exited $rc"
case $rc in
  0 | 1) exit 0 ;;
  *) exit "$rc" ;;
esac
