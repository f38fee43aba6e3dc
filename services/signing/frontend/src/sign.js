// The signing page, enhanced: pdf.js draws each PDF exactly as the server rendered it for this signer, with the
// signer's fields highlighted on their pages; "Next field" walks through the fields still empty; signature_pad
// takes a drawn signature (mouse, touch or pen) into a PNG the form posts. Without this script the page still
// signs: the fields and a typed signature are a plain form, and each PDF opens in a tab of its own.
import { getDocument, GlobalWorkerOptions } from 'pdfjs-dist'
import SignaturePad from 'signature_pad'

const form = document.querySelector('[data-signing-form]')
const fields = [...document.querySelectorAll('[data-field]')]
const signatureBlock = document.querySelector('[data-signature-block]')

function inputOf (field) {
  return field.querySelector('[data-field-input]')
}

function isEmpty (element) {
  if (!element) return false
  if (element.type === 'checkbox') return !element.checked
  if (element.type === 'radio') return !form.querySelector(`input[name="${CSS.escape(element.name)}"]:checked`)
  return element.value.trim() === ''
}

// ---- the PDFs, with the signer's fields marked on them -----------------------------------------------------

async function drawDocument (holder, marksByPage) {
  GlobalWorkerOptions.workerSrc = holder.dataset.worker
  const label = (page, total) => holder.dataset.pageLabel.replace('{page}', page).replace('{total}', total)
  try {
    const pdf = await getDocument({ url: holder.dataset.src, isEvalSupported: false, useWasm: false }).promise
    for (let number = 1; number <= pdf.numPages; number++) {
      const page = await pdf.getPage(number)
      const unscaled = page.getViewport({ scale: 1 })
      const fit = holder.clientWidth / unscaled.width
      const viewport = page.getViewport({ scale: fit * (window.devicePixelRatio || 1) })
      const box = document.createElement('div')
      box.className = 'page'
      const canvas = document.createElement('canvas')
      canvas.width = Math.floor(viewport.width)
      canvas.height = Math.floor(viewport.height)
      canvas.setAttribute('role', 'img')
      canvas.setAttribute('aria-label', label(number, pdf.numPages))
      box.append(canvas)
      for (const mark of marksByPage.get(number) || []) box.append(markFor(mark, unscaled))
      holder.append(box)
      await page.render({ canvas, canvasContext: canvas.getContext('2d'), viewport }).promise
    }
    holder.dataset.rendered = String(pdf.numPages)
  } catch (error) {
    holder.dataset.failed = 'true'
    const message = document.createElement('p')
    message.textContent = holder.dataset.failedLabel
    holder.append(message)
  }
}

// A field's box, in percent of the page so it follows the canvas at any width. PDF boxes start bottom-left.
function markFor ({ field, target, x, y, width, height }, page) {
  const mark = document.createElement('button')
  mark.type = 'button'
  mark.className = 'mark'
  mark.tabIndex = -1 // the form's own fields are the keyboard path; the marks are for pointing
  mark.setAttribute('aria-hidden', 'true')
  mark.dataset.markFor = field
  Object.assign(mark.style, {
    left: `${(x / page.width) * 100}%`,
    top: `${((page.height - y - height) / page.height) * 100}%`,
    width: `${(width / page.width) * 100}%`,
    height: `${(height / page.height) * 100}%`,
  })
  mark.addEventListener('click', () => focusField(target))
  return mark
}

function marksOf (documentIndex) {
  const byPage = new Map()
  for (const field of fields) {
    if (field.dataset.document !== String(documentIndex)) continue
    const mark = {
      field: field.dataset.field,
      target: field,
      x: Number(field.dataset.x),
      y: Number(field.dataset.y),
      width: Number(field.dataset.width),
      height: Number(field.dataset.height),
    }
    const page = Number(field.dataset.page)
    byPage.set(page, [...(byPage.get(page) || []), mark])
  }
  for (const box of signatureBoxes.filter((b) => b.document === documentIndex)) {
    byPage.set(box.page, [...(byPage.get(box.page) || []), { ...box, target: signatureBlock }])
  }
  return byPage
}

// Signature and initials boxes have no input of their own (one signature signs them all): the page lists them.
const signatureBoxes = JSON.parse(signatureBlock?.dataset.boxes || '[]')

// ---- next field --------------------------------------------------------------------------------------------

function focusField (target) {
  const input = target === signatureBlock ? signatureBlock.querySelector('[data-typed]') : inputOf(target)
  target.scrollIntoView({ block: 'center', behavior: 'smooth' })
  input?.focus({ preventScroll: true })
  document.querySelectorAll('.mark.current').forEach((m) => m.classList.remove('current'))
  if (target.dataset.field) {
    document.querySelectorAll(`[data-mark-for="${CSS.escape(target.dataset.field)}"]`)
      .forEach((m) => { m.classList.add('current'); m.scrollIntoView({ block: 'center' }) })
  }
}

function nextEmpty () {
  const empty = fields.find((field) => isEmpty(inputOf(field)))
  if (empty) return empty
  return signatureIsEmpty() ? signatureBlock : null
}

// ---- the drawn signature -----------------------------------------------------------------------------------

let pad = null

function signatureIsEmpty () {
  const typed = signatureBlock?.querySelector('[data-typed]')
  return (!pad || pad.isEmpty()) && (!typed || typed.value.trim() === '')
}

function setUpPad () {
  const area = signatureBlock?.querySelector('[data-pad]')
  if (!area) return
  area.hidden = false
  const canvas = area.querySelector('canvas')
  const drawn = area.querySelector('[data-drawn]')
  const ratio = Math.max(window.devicePixelRatio || 1, 1)
  const fit = () => {
    const data = pad?.toData()
    canvas.width = canvas.offsetWidth * ratio
    canvas.height = canvas.offsetHeight * ratio
    canvas.getContext('2d').scale(ratio, ratio)
    pad?.clear()
    if (data) pad.fromData(data)
  }
  pad = new SignaturePad(canvas, { backgroundColor: 'rgba(0,0,0,0)' })
  fit()
  window.addEventListener('resize', fit)
  pad.addEventListener('endStroke', () => { drawn.value = pad.toDataURL('image/png') })
  area.querySelector('[data-clear-pad]').addEventListener('click', () => { pad.clear(); drawn.value = '' })
}

// ---- start -----------------------------------------------------------------------------------------------

if (form) {
  setUpPad()
  const next = form.querySelector('[data-next-field]')
  next.hidden = false
  next.addEventListener('click', () => {
    const target = nextEmpty()
    if (target) focusField(target)
    else form.querySelector('[data-sign]').focus()
  })
  // One submission: a double click sends the form once (the server records one signature whatever happens).
  form.addEventListener('submit', () => { form.querySelector('[data-sign]').disabled = true })
  document.querySelectorAll('[data-pdf]').forEach((holder, index) => drawDocument(holder, marksOf(index)))
}
