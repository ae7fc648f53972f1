// The layering, checked by `make test` (npx depcruise): each folder imports only the folders
// below it, and no module imports itself round a cycle.
//   guest   what runs in the guest: node and its own files only (it is pushed alone)
//   suites  the cases, also pushed: guest/ only
//   common  what every host folder uses: nothing of the project
//   images  kernels and images: common/
//   reports results and renderers: common/, guest/protocol (the record), suites/
//   runner  the CLI and the run: everything
const layer = (from, allowed) => ({
  name: `${from}-imports-below`,
  comment: `${from}/ imports only ${allowed.join(', ') || 'its own files'}`,
  severity: 'error',
  from: { path: `^${from}/` },
  to: { path: '^(guest|suites|common|images|reports|runner)/', pathNot: [`^(${[from, ...allowed].join('|')})/`] },
});

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    layer('guest', []),
    layer('suites', ['guest']),
    layer('common', []),
    layer('images', ['common']),
    layer('reports', ['common', 'guest', 'suites']),
    { name: 'not-to-tests', severity: 'error', from: { pathNot: '^test/' }, to: { path: '^test/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
