// The web mapping debugger's page logic: plain DOM, no framework, no build step, nothing loaded from elsewhere.
// Data from the server (mappings, events, resources) is only ever written with textContent, never as HTML.

const VALIDATE_DELAY_MS = 250;

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * Creates an element with a class and text.
 * @param {string} tag
 * @param {{ className?: string, text?: string }} [options]
 */
function element(tag, options = {}) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  return node;
}

/** A textarea with line numbers and line highlights. */
class Editor {
  /** @param {string} id the textarea's id */
  constructor(id) {
    this.textarea = /** @type {HTMLTextAreaElement} */ (byId(id));
    const root = /** @type {HTMLElement} */ (this.textarea.closest('.editor'));
    this.gutter = /** @type {HTMLElement} */ (root.querySelector('.gutter'));
    this.highlights = /** @type {HTMLElement} */ (root.querySelector('.highlights'));
    this.layer = element('div');
    this.highlights.append(this.layer);
    /** @type {Map<number, 'error' | 'warning'>} */
    this.marks = new Map();
    this.lineCount = 0;
    this.textarea.addEventListener('input', () => this.render());
    this.textarea.addEventListener('scroll', () => this.syncScroll());
    this.render();
  }

  get text() {
    return this.textarea.value;
  }

  set text(value) {
    this.textarea.value = value;
    this.textarea.scrollTop = 0;
    this.render();
  }

  get lineHeight() {
    return parseFloat(getComputedStyle(this.textarea).lineHeight) || 18;
  }

  get paddingTop() {
    return parseFloat(getComputedStyle(this.textarea).paddingTop) || 0;
  }

  /**
   * Marks lines with issues (the most severe issue of a line wins).
   * @param {{ line: number, severity: 'error' | 'warning' }[]} issues
   */
  mark(issues) {
    this.marks = new Map();
    for (const issue of issues) {
      if (this.marks.get(issue.line) !== 'error') this.marks.set(issue.line, issue.severity);
    }
    this.render(true);
  }

  /** Redraws the gutter (when the line count or the marks change) and the highlights. */
  render(force = false) {
    const count = this.text.split('\n').length;
    if (force || count !== this.lineCount) {
      this.lineCount = count;
      const fragment = document.createDocumentFragment();
      for (let line = 1; line <= count; line++) {
        const span = element('span', { text: String(line) });
        span.dataset.line = String(line);
        const mark = this.marks.get(line);
        if (mark) span.className = mark;
        fragment.append(span);
      }
      this.gutter.replaceChildren(fragment);
      const layer = document.createDocumentFragment();
      for (const [line, severity] of this.marks) {
        const bar = element('div', { className: severity });
        bar.dataset.line = String(line);
        bar.style.top = `${this.paddingTop + (line - 1) * this.lineHeight}px`;
        layer.append(bar);
      }
      this.layer.replaceChildren(layer);
    }
    this.syncScroll();
  }

  syncScroll() {
    this.gutter.scrollTop = this.textarea.scrollTop;
    this.layer.style.transform = `translateY(${-this.textarea.scrollTop}px)`;
  }

  /**
   * Moves the cursor to a position and scrolls it into view.
   * @param {number} line 1-based
   * @param {number} column 1-based
   */
  reveal(line, column) {
    const lines = this.text.split('\n');
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += (lines[i] ?? '').length + 1;
    offset += Math.min(Math.max(column - 1, 0), (lines[line - 1] ?? '').length);
    this.textarea.focus();
    this.textarea.setSelectionRange(offset, offset);
    const target = (line - 1) * this.lineHeight;
    const view = this.textarea.clientHeight;
    if (target < this.textarea.scrollTop || target > this.textarea.scrollTop + view - 2 * this.lineHeight) {
      this.textarea.scrollTop = Math.max(0, target - view / 2);
    }
    this.syncScroll();
  }
}

const editors = {
  deviceMapping: new Editor('device-mapping'),
  fhirMapping: new Editor('fhir-mapping'),
};
/** @type {Record<keyof typeof editors, string>} */
const ELEMENT_IDS = { deviceMapping: 'device-mapping', fhirMapping: 'fhir-mapping' };

// ---- live validation ---------------------------------------------------------------------------------------------

let validateTimer = 0;
let validateSequence = 0;

function scheduleValidation() {
  clearTimeout(validateTimer);
  validateTimer = window.setTimeout(validate, VALIDATE_DELAY_MS);
}

async function validate() {
  const sequence = ++validateSequence;
  /** @type {Record<string, string>} */
  const body = {};
  for (const [name, editor] of Object.entries(editors)) {
    if (editor.text.trim() !== '') body[name] = editor.text;
  }
  let answer;
  try {
    answer = await postJson('/api/validate', body);
  } catch {
    if (sequence === validateSequence) {
      for (const name of Object.keys(editors)) setValidity(name, 'invalid', 'validation unavailable');
    }
    return;
  }
  // An older answer arriving after a newer request must not overwrite it.
  if (sequence !== validateSequence) return;
  if (!answer.ok) {
    for (const name of Object.keys(editors)) setValidity(name, 'invalid', answer.json.error ?? 'validation failed');
    return;
  }
  const warnings = answer.json.warnings ?? [];
  for (const [name, editor] of Object.entries(editors)) {
    const result = answer.json[name];
    const issues = [
      ...(result?.issues ?? []),
      ...warnings
        .filter((/** @type {{mapping: string}} */ w) => w.mapping === name)
        .map((/** @type {any} */ w) => ({ ...w, severity: 'warning', medtechErrorType: 'Warning' })),
    ].sort((a, b) => a.line - b.line || a.column - b.column);
    showIssues(name, editor, result === undefined ? undefined : issues);
  }
}

/**
 * @param {string} name
 * @param {Editor} editor
 * @param {any[] | undefined} issues undefined when the editor is empty
 */
function showIssues(name, editor, issues) {
  const list = byId(`${ELEMENT_IDS[/** @type {keyof typeof editors} */ (name)]}-issues`);
  editor.mark(issues ?? []);
  if (issues === undefined) {
    list.replaceChildren(element('li', { className: 'none', text: 'Empty.' }));
    setValidity(name, '', name === 'fhirMapping' ? 'empty: runs stop after normalization' : 'empty');
    return;
  }
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  setValidity(
    name,
    errors > 0 ? 'invalid' : 'ok',
    errors > 0
      ? `${plural(errors, 'error')}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}`
      : `valid${warnings > 0 ? ` (${plural(warnings, 'warning')})` : ''}`,
  );
  if (issues.length === 0) {
    list.replaceChildren(element('li', { className: 'none', text: 'No issues.' }));
    return;
  }
  list.replaceChildren(
    ...issues.map((issue) => {
      const item = element('li', { className: issue.severity });
      const button = element('button');
      button.setAttribute('type', 'button');
      button.dataset.line = String(issue.line);
      button.dataset.column = String(issue.column);
      button.title = `Go to line ${issue.line}, column ${issue.column}`;
      button.append(
        element('span', { className: 'position', text: `${issue.line}:${issue.column}` }),
        element('span', { className: 'type', text: issue.medtechErrorType }),
        element('span', { className: 'message', text: issue.message }),
      );
      button.addEventListener('click', () => editor.reveal(issue.line, issue.column));
      item.append(button);
      return item;
    }),
  );
}

/**
 * @param {string} name
 * @param {'ok' | 'invalid' | ''} state
 * @param {string} text
 */
function setValidity(name, state, text) {
  const node = byId(`${ELEMENT_IDS[/** @type {keyof typeof editors} */ (name)]}-validity`);
  node.className = `validity ${state}`;
  node.textContent = text;
}

/** @param {number} n @param {string} word */
function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---- events ------------------------------------------------------------------------------------------------------

/**
 * Reads the test events. Events format: a JSON array, one object, or JSON lines of event objects. Device messages:
 * the whole text is one message, or each line is one; sent as `bodyText`, so the server parses each body exactly as
 * the pipeline parses device bytes (lenient syntax, big integers, dates).
 * @returns {object[]}
 */
function readEvents() {
  const text = /** @type {HTMLTextAreaElement} */ (byId('events')).value;
  const format = /** @type {HTMLSelectElement} */ (byId('events-format')).value;
  if (text.trim() === '') throw new Error('Enter at least one event.');
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (format === 'raw') {
    if (parses(text) || lines.length < 2 || !lines.every(parses)) return [{ bodyText: text }];
    return lines.map((line) => ({ bodyText: line }));
  }
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    if (lines.length < 2) throw new Error(`The events are not valid JSON: ${messageOf(error)}`);
    parsed = lines.map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (lineError) {
        throw new Error(`Line ${i + 1} of the events is not valid JSON: ${messageOf(lineError)}`);
      }
    });
  }
  const events = Array.isArray(parsed) ? parsed : [parsed];
  events.forEach((event, i) => {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new Error(`Event ${i} is not an object. To send device messages as they are, choose "Device messages".`);
    }
    if (!('body' in event) && !('bodyText' in event)) {
      throw new Error(`Event ${i} has no "body". To send device messages as they are, choose "Device messages".`);
    }
  });
  return events;
}

/** @param {string} text */
function parses(text) {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** @param {unknown} error */
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

// ---- run ---------------------------------------------------------------------------------------------------------

let running = false;

async function run() {
  if (running) return;
  const status = byId('run-status');
  const eventsError = byId('events-error');
  let events;
  let seed;
  try {
    events = readEvents();
    eventsError.hidden = true;
  } catch (error) {
    eventsError.textContent = messageOf(error);
    eventsError.hidden = false;
    status.textContent = 'Not run: the test events need fixing.';
    return;
  }
  try {
    seed = readSeed();
  } catch (error) {
    status.textContent = `Not run: ${messageOf(error)}`;
    return;
  }
  const request = {
    deviceMapping: editors.deviceMapping.text,
    ...(editors.fhirMapping.text.trim() === '' ? {} : { fhirMapping: editors.fhirMapping.text }),
    events,
    resolution: /** @type {HTMLSelectElement} */ (byId('resolution')).value,
    ...(seed === undefined ? {} : { seed }),
  };
  running = true;
  const button = /** @type {HTMLButtonElement} */ (byId('run'));
  button.disabled = true;
  status.textContent = 'Running…';
  try {
    const answer = await postJson('/api/debug', request);
    if (!answer.ok) {
      clearResults();
      status.textContent = `Not run: ${answer.json.error ?? `HTTP ${answer.status}`}`;
      return;
    }
    showResults(answer.json);
  } catch (error) {
    clearResults();
    status.textContent = `The debugger could not be reached: ${messageOf(error)}`;
  } finally {
    running = false;
    button.disabled = false;
  }
}

/** @returns {unknown} */
function readSeed() {
  const text = /** @type {HTMLTextAreaElement} */ (byId('seed')).value;
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`the seed resources are not valid JSON: ${messageOf(error)}`);
  }
}

function clearResults() {
  for (const id of ['errors-block', 'measurements-block', 'observations-block', 'resources-block']) {
    byId(id).hidden = true;
  }
}

/** @param {any} result */
function showResults(result) {
  const errors = result.errors ?? [];
  const status = result.mappingsValid
    ? `${plural(result.measurements.length, 'measurement')}, ${plural(result.observations.length, 'Observation')}, ${plural(errors.length, 'error')}.`
    : `The mappings have errors; fix them first (${plural(errors.length, 'error')}).`;
  byId('run-status').textContent = status;

  byId('errors-block').hidden = errors.length === 0;
  tableBody('errors-table').replaceChildren(
    ...errors.map((/** @type {any} */ e) => {
      const details = element('td');
      if (e.line !== undefined) {
        const go = element('button', { text: `${e.line}:${e.column}` });
        go.setAttribute('type', 'button');
        const editor = e.stage === 'FhirTemplateLoad' ? editors.fhirMapping : editors.deviceMapping;
        go.addEventListener('click', () => editor.reveal(e.line, e.column));
        details.append(go, ' ');
      }
      details.append(e.message);
      return row([
        cell(e.stage),
        cell(e.messageIndex === undefined ? '—' : `#${e.messageIndex}`),
        cell(e.medtechErrorType),
        cell(e.code, 'mono'),
        details,
      ]);
    }),
  );

  byId('measurements-block').hidden = !result.mappingsValid;
  byId('measurement-count').textContent = String(result.measurements.length);
  tableBody('measurements-table').replaceChildren(
    ...result.measurements.map((/** @type {any} */ m) =>
      row([
        cell(m.type),
        cell(m.occurrenceTimeUtc, 'mono'),
        cell(m.deviceId),
        cell(m.patientId ?? '—'),
        cell(m.encounterId ?? '—'),
        cell(m.correlationId ?? '—'),
        cell(m.properties.map((/** @type {any} */ p) => `${p.name} = ${p.value}`).join(', '), 'mono'),
      ]),
    ),
  );

  byId('observations-block').hidden = !result.mappingsValid;
  byId('observation-count').textContent = String(result.observations.length);
  byId('observations').replaceChildren(
    // Open when few, so a single run's Observation shows at once; many stay folded to their one-line summaries.
    ...result.observations.map((/** @type {any} */ o) =>
      resourceView(o, describeObservation(o), result.observations.length <= 3),
    ),
  );

  byId('resources-block').hidden = result.resources.length === 0;
  byId('resource-count').textContent = String(result.resources.length);
  byId('resources').replaceChildren(
    ...result.resources.map((/** @type {any} */ r) => resourceView(r, describeResource(r), false)),
  );
}

/** @param {string} id */
function tableBody(id) {
  return /** @type {HTMLElement} */ (byId(id).querySelector('tbody'));
}

/** @param {HTMLElement[]} cells */
function row(cells) {
  const tr = element('tr');
  tr.append(...cells);
  return tr;
}

/** @param {string} text @param {string} [className] */
function cell(text, className) {
  return element('td', { text, ...(className ? { className } : {}) });
}

/**
 * A collapsible resource: a one-line summary, the pretty JSON inside.
 * @param {any} resource
 * @param {string} summary
 * @param {boolean} open
 */
function resourceView(resource, summary, open) {
  const details = /** @type {HTMLDetailsElement} */ (element('details', { className: 'resource' }));
  details.open = open;
  details.dataset.resourceType = resource.resourceType;
  const head = element('summary', { text: summary });
  const pre = element('pre');
  pre.append(element('code', { text: JSON.stringify(resource, null, 2) }));
  details.append(head, pre);
  return details;
}

/** @param {any} o an Observation */
function describeObservation(o) {
  const codes = (o.code?.coding ?? []).map((/** @type {any} */ c) => c.code).join(', ');
  const name = o.code?.text ?? o.code?.coding?.[0]?.display ?? '';
  const period = o.effectivePeriod ? `${o.effectivePeriod.start} – ${o.effectivePeriod.end}` : '';
  return [`${name} (${codes})`, describeValue(o), period, o.status].filter(Boolean).join(' · ');
}

/** @param {any} o an Observation */
function describeValue(o) {
  const quantity = (/** @type {any} */ q) => `${q.value} ${q.unit ?? q.code ?? ''}`.trim();
  if (o.valueQuantity) return quantity(o.valueQuantity);
  if (o.valueSampledData) return describeSampledData(o.valueSampledData);
  if (o.valueString !== undefined) return `"${o.valueString}"`;
  if (o.valueCodeableConcept) return o.valueCodeableConcept.text ?? o.valueCodeableConcept.coding?.[0]?.code ?? '';
  return (o.component ?? [])
    .map((/** @type {any} */ c) => {
      const label = c.code?.coding?.[0]?.display ?? c.code?.text ?? '?';
      const value = c.valueQuantity
        ? quantity(c.valueQuantity)
        : c.valueSampledData
          ? describeSampledData(c.valueSampledData)
          : '?';
      return `${label}: ${value}`;
    })
    .join('; ');
}

/**
 * SampledData in a few words: the values and how many of the window's slots they fill (the rest are "E").
 * @param {any} sampled
 */
function describeSampledData(sampled) {
  const slots = String(sampled.data ?? '')
    .split(' ')
    .filter(Boolean);
  const values = slots.filter((slot) => slot !== 'E');
  const shown = values.slice(0, 10).join(' ') + (values.length > 10 ? ' …' : '');
  return `SampledData: ${values.length} of ${slots.length} slots (${shown})`;
}

/** @param {any} r a resource */
function describeResource(r) {
  const identifiers = (Array.isArray(r.identifier) ? r.identifier : []).map(
    (/** @type {any} */ i) => `${i.system ? `${i.system}|` : ''}${i.value ?? ''}`,
  );
  return `${r.resourceType}/${r.id}${identifiers.length > 0 ? ` · identifier ${identifiers.join(', ')}` : ''}`;
}

// ---- examples, files, downloads ----------------------------------------------------------------------------------

/** @type {{ id: string, title: string, deviceMapping: string, fhirMapping: string, events?: string }[]} */
let examples = [];

async function loadExampleList() {
  const select = /** @type {HTMLSelectElement} */ (byId('example-select'));
  const response = await fetch('/api/examples');
  examples = (await response.json()).examples ?? [];
  select.replaceChildren(
    ...examples.map((example) => {
      const option = /** @type {HTMLOptionElement} */ (element('option', { text: example.title }));
      option.value = example.id;
      return option;
    }),
  );
}

async function loadExample() {
  const id = /** @type {HTMLSelectElement} */ (byId('example-select')).value;
  const example = examples.find((e) => e.id === id);
  if (!example) return;
  const fetchText = async (/** @type {string | undefined} */ url) => {
    if (url === undefined) return undefined;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.text();
  };
  try {
    const [device, fhir, events] = await Promise.all([
      fetchText(example.deviceMapping),
      fetchText(example.fhirMapping),
      fetchText(example.events),
    ]);
    editors.deviceMapping.text = device ?? '';
    editors.fhirMapping.text = fhir ?? '';
    if (events !== undefined) {
      /** @type {HTMLTextAreaElement} */ (byId('events')).value = events;
      /** @type {HTMLSelectElement} */ (byId('events-format')).value = 'entries';
    }
    byId('run-status').textContent = `Loaded “${example.title}”. Press Run (Ctrl+Enter).`;
  } catch (error) {
    byId('run-status').textContent = `Could not load the example: ${messageOf(error)}`;
  }
  await validate();
}

/**
 * @param {string} url
 * @param {unknown} body
 * @returns {Promise<{ ok: boolean, status: number, json: any }>}
 */
async function postJson(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { ok: response.ok, status: response.status, json: await response.json() };
}

/** @param {string} text @param {string} fileName */
function download(text, fileName) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const link = /** @type {HTMLAnchorElement} */ (element('a'));
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/**
 * @param {string} inputId
 * @param {(text: string) => void} onText
 */
function onFile(inputId, onText) {
  const input = /** @type {HTMLInputElement} */ (byId(inputId));
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (file) onText(await file.text());
    input.value = '';
  });
}

// ---- wiring --------------------------------------------------------------------------------------------------------

for (const editor of Object.values(editors)) {
  editor.textarea.addEventListener('input', scheduleValidation);
}
for (const button of document.querySelectorAll('button.download')) {
  const target = /** @type {HTMLElement} */ (button).dataset;
  button.addEventListener('click', () =>
    download(/** @type {HTMLTextAreaElement} */ (byId(target.target ?? '')).value, target.file ?? 'mapping.json'),
  );
}
onFile('device-mapping-file', (text) => {
  editors.deviceMapping.text = text;
  void validate();
});
onFile('fhir-mapping-file', (text) => {
  editors.fhirMapping.text = text;
  void validate();
});
onFile('events-file', (text) => {
  /** @type {HTMLTextAreaElement} */ (byId('events')).value = text;
  /** @type {HTMLSelectElement} */ (byId('events-format')).value = 'entries';
});
byId('run').addEventListener('click', () => void run());
byId('load-example').addEventListener('click', () => void loadExample());
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    void run();
  }
});

async function start() {
  try {
    await loadExampleList();
    if (editors.deviceMapping.text === '' && editors.fhirMapping.text === '' && examples.length > 0) {
      await loadExample();
    } else {
      await validate();
    }
  } catch (error) {
    byId('run-status').textContent = `Could not load the examples: ${messageOf(error)}`;
  }
  document.body.dataset.ready = 'true';
}

void start();
