// Builds the guest pages' scripts into ../src/loginless/documents/static/ (upload.js: Uppy + tus; preview.js and
// pdf.worker.js: pdf.js), committed so the service needs no Node at run time, and copies axe-core for the tests. Run: npm ci && npm run build
import { build } from 'esbuild'
import { copyFileSync, readFileSync } from 'node:fs'

const here = new URL('.', import.meta.url)
const versions = ['@uppy/core', '@uppy/tus', 'pdfjs-dist', 'axe-core'].map(
  (name) => `${name}@${JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, here))).version}`,
)

await build({
  entryPoints: [new URL('src/upload.js', here).pathname],
  outfile: new URL('../src/loginless/documents/static/upload.js', here).pathname,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2022'], // Uppy 6 uses private class fields: Chrome 94, Firefox 93, Safari 15.4 and later
  legalComments: 'eof',
  banner: { js: `/* loginless documents upload page; bundles ${versions.join(', ')}. Source: services/documents/frontend */` },
})
await build({
  entryPoints: [new URL('src/preview.js', here).pathname],
  outfile: new URL('../src/loginless/documents/static/preview.js', here).pathname,
  bundle: true,
  minify: true,
  format: 'esm', // pdf.js is an ES module; the page loads this with <script type="module">
  target: ['es2022'],
  legalComments: 'eof',
  banner: { js: `/* loginless documents PDF preview; bundles ${versions[2]}. Source: services/documents/frontend */` },
})
// The pdf.js worker as published, renamed .js so any server sends it with a JavaScript content type.
copyFileSync(new URL('node_modules/pdfjs-dist/build/pdf.worker.min.mjs', here),
  new URL('../src/loginless/documents/static/pdf.worker.js', here))
copyFileSync(new URL('node_modules/axe-core/axe.min.js', here), new URL('../tests/browser/axe.min.js', here))
console.log(`built upload.js with ${versions.join(', ')}`)
