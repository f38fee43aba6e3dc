// The questionnaire page made live: questions shown and hidden as the guest answers, and every answer saved as
// it is given. Which questions show is judged by @jsonforms/core's own rule evaluation (isVisible) on the UI schema
// the server judges with Python's jsonschema: the same rules, two standard validators, no copy of their logic here.
// The page works without this script (the server decides on each save).
//
// isVisible asks its validator only for ``validate(schema, value)``. AJV, its usual one, compiles every schema
// with ``new Function``, which the gateway's Content-Security-Policy (script-src 'self', no 'unsafe-eval') forbids;
// @cfworker/json-schema interprets schemas instead (it was written for runtimes without eval), so it answers here.
import { isVisible } from '@jsonforms/core'
import { Validator } from '@cfworker/json-schema'

const validators = new Map()
const interpreter = {
  validate (schema, value) {
    const key = JSON.stringify(schema)
    if (!validators.has(key)) validators.set(key, new Validator(schema, '7', false))
    return validators.get(key).validate(value).valid
  }
}

const form = document.getElementById('questionnaire')
if (form) start(form)

function start (form) {
  const ui = JSON.parse(document.getElementById('ui-schema').textContent)
  const api = form.dataset.api
  const state = form.querySelector('[data-save-state]')
  const progress = document.querySelector('[data-progress]')
  const bar = document.querySelector('progress.progress')
  const questions = new Map([...form.querySelectorAll('[data-question]')].map((el) => [el.dataset.question, el]))
  let saved = Object.fromEntries([...questions.keys()].map((id) => [id, JSON.stringify(valueOf(id))]))
  let timer = null
  let saving = Promise.resolve()

  function inputs (id) { return [...form.querySelectorAll(`[name="q.${id}"]`)] }

  function valueOf (id) {
    const el = questions.get(id)
    const type = el.dataset.type
    if (type === 'file') return undefined // files are the server's to list
    if (type === 'group') return groupValue(id)
    const fields = inputs(id)
    if (type === 'multiple_choice') {
      const values = fields.filter((f) => f.checked).map((f) => f.value)
      return values.length ? values : undefined
    }
    if (type === 'single_choice' || type === 'yes_no') {
      const chosen = fields.find((f) => f.checked)
      if (!chosen) return undefined
      return type === 'yes_no' ? chosen.value === 'yes' : chosen.value
    }
    return typed(type, fields[0] ? fields[0].value : '')
  }

  function typed (type, text) {
    if (type !== 'short_text' && type !== 'long_text') text = text.trim()
    if (text.trim() === '') return undefined
    if (type === 'number') {
      const number = Number(text.replace(',', '.'))
      return Number.isFinite(number) ? number : text
    }
    if (type === 'currency') return text.replace(',', '.').replace(/ /g, '')
    return text
  }

  function groupValue (id) {
    const items = []
    for (const field of form.querySelectorAll(`[name^="g.${id}."]`)) {
      const [, , index, inner] = field.name.split('.')
      const item = (items[Number(index)] ||= {})
      const type = field.closest('.field')?.dataset.type || 'short_text'
      if (field.type === 'radio') {
        if (field.checked) item[inner] = type === 'yes_no' ? field.value === 'yes' : field.value
        else if (!(inner in item)) item[inner] = null
      } else if (field.type === 'checkbox') {
        item[inner] = [...(item[inner] || []), ...(field.checked ? [field.value] : [])]
      } else {
        item[inner] = typed(type, field.value) ?? null
      }
    }
    return items.length ? items : undefined
  }

  // Judged in order against the answers shown so far, as the server does: a hidden answer shows nothing else.
  function refresh () {
    const shown = {}
    let total = 0
    let answered = 0
    for (const category of ui.elements) {
      const section = form.querySelector(`[data-section="${category.label}"]`)
      const sectionVisible = isVisible(category, shown, '', interpreter)
      section.hidden = !sectionVisible
      for (const control of category.elements) {
        const id = control.scope.replace('#/properties/', '')
        const visible = sectionVisible && isVisible(control, shown, '', interpreter)
        const el = questions.get(id)
        el.hidden = !visible
        if (!visible) continue
        total += 1
        const value = el.dataset.type === 'file' ? (el.querySelector('.file-list li') ? ['file'] : undefined) : valueOf(id)
        if (value !== undefined) {
          answered += 1
          if (el.dataset.type !== 'file') shown[id] = value
        }
      }
    }
    if (progress) progress.textContent = form.dataset.answered.replace('{answered}', answered).replace('{total}', total)
    if (bar) { bar.max = Math.max(total, 1); bar.value = answered }
  }

  function changes () {
    const answers = {}
    const versions = {}
    for (const id of questions.keys()) {
      if (questions.get(id).dataset.type === 'file') continue
      const now = JSON.stringify(valueOf(id))
      if (now !== saved[id]) {
        answers[id] = valueOf(id) ?? null
        versions[id] = Number(form.querySelector(`[name="v.${id}"]`).value)
      }
    }
    return { answers, versions }
  }

  function say (text) { if (state) state.textContent = text }

  function showErrors (errors) {
    form.querySelectorAll('p.error[data-live]').forEach((p) => p.remove())
    for (const error of errors || []) {
      const id = String(error.field || '').split('.')[1]
      const el = questions.get(id)
      if (!el) continue
      const p = document.createElement('p')
      p.className = 'error'
      p.dataset.live = ''
      p.textContent = error.message
      el.querySelector('.label')?.after(p)
    }
  }

  async function save () {
    const { answers, versions } = changes()
    if (!Object.keys(answers).length) return
    say(form.dataset.saving)
    let response
    try {
      response = await fetch(`${api}/answers`, {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ answers, versions })
      })
    } catch {
      say(form.dataset.offline)
      return
    }
    const body = await response.json().catch(() => ({}))
    if (response.ok) {
      for (const [id, answer] of Object.entries(body.answers || {})) {
        const version = form.querySelector(`[name="v.${id}"]`)
        if (version) version.value = answer.version
      }
      for (const id of Object.keys(answers)) saved[id] = JSON.stringify(answers[id] ?? undefined)
      showErrors([])
      say(form.dataset.saved)
      form.dataset.savedAt = String(Date.now())
    } else {
      showErrors(body.errors || (body.conflicts ? Object.keys(body.conflicts).map((id) => ({ field: `answers.${id}`, message: form.dataset.conflict })) : []))
      say(body.detail || form.dataset.offline)
    }
  }

  function queue (delay) {
    clearTimeout(timer)
    timer = setTimeout(() => { saving = saving.then(save) }, delay)
  }

  form.addEventListener('change', (event) => {
    if (event.target.type === 'file') return
    refresh()
    queue(0)
  })
  form.addEventListener('input', (event) => {
    if (event.target.type === 'file') return
    refresh()
    queue(800)
  })
  refresh()
  form.dataset.live = 'ready'
}
