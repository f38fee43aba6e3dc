// The guest upload page: drag and drop or pick several files; each goes up resumably over tus (through the
// gateway, to the documents service) with its own progress bar. Strings come from the page, in its language.
import Uppy from '@uppy/core'
import Tus from '@uppy/tus'

// Retry for about five minutes after a dropped connection; tus resumes from the server's offset each time.
const RETRY_DELAYS = [0, 1000, 2000, 3000, 5000, 5000, 10000, 10000, 15000, 20000, 30000, 30000, 60000, 60000, 60000]

function start (form) {
  const messages = JSON.parse(form.dataset.messages)
  const t = (key, values = {}) => (messages[key] || key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? '')
  const list = form.querySelector('[data-file-list]')
  const status = form.querySelector('[data-status]')
  const input = form.querySelector('[data-file-input]')
  const dropzone = form.querySelector('[data-dropzone]')
  const maxFiles = Number(form.dataset.maxFiles) || 0
  const rows = new Map()

  const uppy = new Uppy({
    autoProceed: true,
    restrictions: { maxFileSize: Number(form.dataset.maxSize), maxNumberOfFiles: maxFiles || null },
  })
  uppy.use(Tus, {
    endpoint: form.dataset.endpoint,
    chunkSize: Number(form.dataset.chunkSize), // several S3 parts a PATCH: stored while the rest arrives
    retryDelays: RETRY_DELAYS,
    limit: 3,
    removeFingerprintOnSuccess: true,
    allowedMetaFields: ['name', 'type', 'uploader_name', 'uploader_email'],
    onShouldRetry (error, attempt, options, next) {
      const retry = next(error)
      if (retry) announce(t('retrying'))
      return retry
    },
  })

  function announce (text) {
    status.textContent = text
  }

  function row (id, name) {
    const item = document.createElement('li')
    const label = document.createElement('span')
    label.className = 'name'
    label.textContent = name
    const progress = document.createElement('progress')
    progress.max = 100
    progress.value = 0
    progress.setAttribute('aria-label', name)
    const state = document.createElement('span')
    state.className = 'state'
    state.textContent = t('waiting')
    item.append(label, progress, state)
    item.dataset.fileRow = ''
    list.append(item)
    const entry = { item, progress, state, name }
    if (id) rows.set(id, entry)
    return entry
  }

  function fail (entry, reason) {
    entry.state.textContent = t('failed', { reason })
    entry.state.className = 'state error'
    entry.item.dataset.state = 'failed'
    announce(`${entry.name}: ${t('failed', { reason })}`)
  }

  function reasonFor (status, name) {
    if (status === 413) return t('too_large', { name, size: messages.max_size })
    if (status === 415) return t('wrong_type', { name })
    if (status === 403) return t('too_many')
    if (status === 400) return t('empty', { name })
    if (status === 410) return t('link_closed')
    if (status === 422) return t('refused_by_scan', { name })
    return t('unavailable')
  }

  function add (files) {
    const meta = {
      uploader_name: form.querySelector('[name=uploader_name]').value.trim(),
      uploader_email: form.querySelector('[name=uploader_email]').value.trim(),
    }
    for (const file of files) {
      try {
        const id = uppy.addFile({ name: file.name, type: file.type, data: file, source: 'local', meta })
        row(id, file.name)
      } catch (error) {
        const entry = row(null, file.name)
        if (file.size === 0) fail(entry, t('empty', { name: file.name }))
        else if (file.size > Number(form.dataset.maxSize)) fail(entry, reasonFor(413, file.name))
        else fail(entry, t('too_many'))
      }
    }
  }

  uppy.on('upload-progress', (file, progress) => {
    const entry = rows.get(file.id)
    if (!entry || !progress.bytesTotal) return
    const percent = Math.floor((progress.bytesUploaded / progress.bytesTotal) * 100)
    entry.progress.value = percent
    entry.state.textContent = t('uploading', { percent })
    entry.item.dataset.state = 'uploading'
  })
  uppy.on('upload-success', (file) => {
    const entry = rows.get(file.id)
    if (!entry) return
    entry.progress.value = 100
    entry.state.textContent = t('done')
    entry.state.className = 'state done'
    entry.item.dataset.state = 'done'
    announce(`${entry.name}: ${t('done')}`)
  })
  uppy.on('upload-error', (file, error, response) => {
    const entry = file && rows.get(file.id)
    if (entry) fail(entry, reasonFor(response?.status, entry.name))
  })

  // A real button opens the picker: it is focusable, labelled and keyboard-operable everywhere, unlike a styled
  // file input.
  form.querySelector('[data-choose]').addEventListener('click', () => input.click())
  input.addEventListener('change', () => {
    add(Array.from(input.files))
    input.value = ''
  })
  form.addEventListener('submit', (event) => event.preventDefault())
  for (const name of ['dragenter', 'dragover']) {
    dropzone.addEventListener(name, (event) => {
      event.preventDefault()
      dropzone.classList.add('is-over')
    })
  }
  dropzone.addEventListener('dragleave', () => dropzone.classList.remove('is-over'))
  dropzone.addEventListener('drop', (event) => {
    event.preventDefault()
    dropzone.classList.remove('is-over')
    add(Array.from(event.dataTransfer.files))
  })
  form.dataset.ready = 'true'
}

const form = document.getElementById('uploader')
if (form) start(form)
