// Builds the questionnaire page's script into ../src/loginless/requests/static/questionnaire.js (committed, so the
// service needs no Node at run time). Run: npm ci && npm run build
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'

const here = new URL('.', import.meta.url)
const versions = ['@jsonforms/core', '@cfworker/json-schema'].map(
  (name) => `${name}@${JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, here))).version}`,
)

await build({
  entryPoints: [new URL('src/questionnaire.js', here).pathname],
  outfile: new URL('../src/loginless/requests/static/questionnaire.js', here).pathname,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'eof',
  banner: { js: `/* loginless requests questionnaire page; bundles ${versions.join(', ')}. Source: services/requests/frontend */` },
})
console.log(`built questionnaire.js with ${versions.join(', ')}`)
