// PDF preview for the document page: pdf.js draws the pages on canvases, so nothing needs a frame or a plugin (the
// gateway's CSP forbids both) and it works on phones whose browsers show no PDF inline. Without JavaScript the
// page keeps its link to the document.
import { getDocument, GlobalWorkerOptions } from 'pdfjs-dist'

const MAX_PAGES = 20 // enough to recognise a document; the download has the rest

async function render (holder) {
  GlobalWorkerOptions.workerSrc = holder.dataset.worker
  const label = (page, total) => holder.dataset.pageLabel.replace('{page}', page).replace('{total}', total)
  try {
    const pdf = await getDocument({ url: holder.dataset.src, isEvalSupported: false, useWasm: false }).promise
    const pages = Math.min(pdf.numPages, MAX_PAGES)
    for (let number = 1; number <= pages; number++) {
      const page = await pdf.getPage(number)
      const fit = holder.clientWidth / page.getViewport({ scale: 1 }).width
      const viewport = page.getViewport({ scale: fit * (window.devicePixelRatio || 1) })
      const canvas = document.createElement('canvas')
      canvas.width = Math.floor(viewport.width)
      canvas.height = Math.floor(viewport.height)
      canvas.setAttribute('role', 'img')
      canvas.setAttribute('aria-label', label(number, pdf.numPages))
      holder.append(canvas)
      await page.render({ canvas, canvasContext: canvas.getContext('2d'), viewport }).promise
    }
    if (pdf.numPages > pages) {
      const more = document.createElement('p')
      more.className = 'muted'
      more.textContent = holder.dataset.moreLabel.replace('{shown}', pages).replace('{total}', pdf.numPages)
      holder.append(more)
    }
    holder.dataset.rendered = String(pages)
  } catch (error) {
    holder.dataset.failed = 'true'
    const message = document.createElement('p')
    message.textContent = holder.dataset.failedLabel
    holder.append(message)
  }
}

const holder = document.querySelector('[data-pdf-preview]')
if (holder) render(holder)
