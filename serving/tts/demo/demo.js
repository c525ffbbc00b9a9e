// Kokoro TTS demo: speaks the text through POST /tts/stream and lights up each word as it is heard.
//
// The stream is NDJSON (docs/api.md, "Audio and timestamps in one stream"): a "chunk" event per chunk,
// with its piece of the encoded file (base64) and its words timed from the start of the whole
// audio, then a "done" event with the encoder's last bytes and the total duration. wav and pcm
// pieces are raw 16-bit samples (the first wav piece starts with the header), so each piece is
// played through Web Audio as soon as it arrives, scheduled right after the one before. The pieces
// of a compressed format are not files of their own, and Web Audio decodes whole files only, so
// mp3, opus, flac and aac play once the whole file has arrived. The clock that drives the
// highlight is the AudioContext's, the one the audio plays on.
"use strict";

// raw pcm is 16-bit little-endian mono at 24 kHz (docs/api.md, the `format` field)
const PCM_SAMPLE_RATE = 24000;
// a piece is scheduled this far ahead of the audio clock, so that its start is never in the past
const SCHEDULE_LEAD_S = 0.05;
const STREAMED_FORMATS = new Set(["wav", "pcm"]);
const DEFAULT_VOICE = "af_heart";
const VOICES_RETRY_S = 2;
// a word to light up has a letter or a digit: punctuation is an entry of its own in the timestamps
const SPOKEN = /[\p{L}\p{N}]/u;
const ERROR_TITLES = {
  400: "The server refused the request",
  401: "This server wants an API key: enter it under \"API key\"",
  413: "The request is too large for this server",
  429: "The server is busy",
  503: "The server is not ready",
};

const $ = (id) => document.getElementById(id);

/** The audio of one request on the AudioContext's clock, and how much of it has been heard. */
class Playback {
  constructor(context, format) {
    this.context = context;
    this.streamed = STREAMED_FORMATS.has(format);
    this.format = format;
    this.sampleRate = PCM_SAMPLE_RATE;
    this.headerPending = format === "wav";
    // each piece as scheduled: `at` on the context's clock, `from` seconds into the audio
    this.segments = [];
    this.sources = [];
    this.scheduledS = 0;
    this.nextAt = 0;
    // a compressed file's pieces, kept until the file is complete
    this.pieces = [];
  }

  /** Plays a wav or pcm piece now; keeps a compressed one for `complete`. */
  add(bytes) {
    if (bytes.length === 0) return;
    if (!this.streamed) {
      this.pieces.push(bytes);
      return;
    }
    if (this.headerPending) {
      bytes = this.skipWavHeader(bytes);
      this.headerPending = false;
    }
    this.schedule(this.pcm16Buffer(bytes));
  }

  /** The file is complete: a compressed one is decoded and played whole. */
  async complete() {
    if (this.streamed) return;
    const file = new Uint8Array(this.pieces.reduce((sum, piece) => sum + piece.length, 0));
    let offset = 0;
    for (const piece of this.pieces) {
      file.set(piece, offset);
      offset += piece.length;
    }
    let buffer;
    try {
      buffer = await this.context.decodeAudioData(file.buffer);
    } catch (error) {
      throw new Error(`this browser cannot decode ${this.format}: ${error.message}; choose wav or pcm`);
    }
    this.schedule(buffer);
  }

  /** The WAV's samples: the chunks after "RIFF", size, "WAVE" are walked to "data"; "fmt " gives the rate. */
  skipWavHeader(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const id = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
    for (let at = 12; at + 8 <= bytes.length; at += 8 + view.getUint32(at + 4, true)) {
      if (id(at) === "fmt ") this.sampleRate = view.getUint32(at + 12, true);
      if (id(at) === "data") return bytes.subarray(at + 8);
    }
    throw new Error("the first wav piece has no data chunk");
  }

  pcm16Buffer(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const samples = new Float32Array(Math.floor(bytes.length / 2));
    for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(2 * i, true) / 32768;
    const buffer = this.context.createBuffer(1, samples.length, this.sampleRate);
    buffer.copyToChannel(samples, 0);
    return buffer;
  }

  /** Plays `buffer` right after the audio before it, or, if that has run out already, at once. */
  schedule(buffer) {
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const at = Math.max(this.nextAt, this.context.currentTime + SCHEDULE_LEAD_S);
    source.start(at);
    this.sources.push(source);
    this.segments.push({ at, from: this.scheduledS, duration: buffer.duration });
    this.scheduledS += buffer.duration;
    this.nextAt = at + buffer.duration;
  }

  /** Seconds of the audio heard so far; while a late piece is awaited, the end of the one before. */
  position() {
    const now = this.context.currentTime;
    let heard = 0;
    for (const segment of this.segments) {
      if (now < segment.at) break;
      heard = segment.from + Math.min(now - segment.at, segment.duration);
    }
    return heard;
  }

  stop() {
    for (const source of this.sources) source.stop();
  }
}

/** The user's text in #transcript, each timed word wrapped in a span found in order in that text. */
class Transcript {
  constructor(element, text) {
    this.text = text;
    this.cursor = 0;
    this.words = [];
    this.active = -1;
    this.rest = document.createTextNode(text);
    element.replaceChildren(this.rest);
  }

  /** The timestamps carry the user's own spelling, so each word is the next match after the last. */
  add(word) {
    if (!SPOKEN.test(word.word)) return;
    const at = this.text.indexOf(word.word, this.cursor);
    if (at < 0) return; // left unlit rather than lighting the wrong place
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = word.word;
    span.dataset.index = String(this.words.length);
    this.rest.before(this.text.slice(this.cursor, at), span);
    this.cursor = at + word.word.length;
    this.rest.data = this.text.slice(this.cursor);
    this.words.push({ start: word.start_time, span });
  }

  /** Lights the last word begun by `seconds`: it stays lit through the pause after it. */
  highlight(seconds) {
    let index = this.active;
    while (index + 1 < this.words.length && this.words[index + 1].start <= seconds) index++;
    this.light(index);
  }

  light(index) {
    if (index === this.active) return;
    if (this.active >= 0) this.words[this.active].span.classList.remove("active");
    if (index >= 0) this.words[index].span.classList.add("active");
    this.active = index;
  }
}

let audioContext = null;
let current = null;

function headers() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function hideError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setStatus(text) {
  $("status").textContent = text;
}

/** The server's own words (`{"error": ...}`), under a title that says what kind of failure it is. */
async function describeHttpError(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = typeof body.error === "string" ? body.error : (body.error?.message ?? detail);
  } catch {
    // not JSON (a proxy's page): the status line says enough
  }
  if (response.status === 401) $("key-details").open = true;
  const title = ERROR_TITLES[response.status] ?? "The request failed";
  return `${title} (HTTP ${response.status}): ${detail}`;
}

async function* ndjsonEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    const lines = buffered.split("\n");
    buffered = lines.pop();
    for (const line of lines) if (line.trim()) yield JSON.parse(line);
  }
  if (buffered.trim()) yield JSON.parse(buffered);
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

async function loadVoices() {
  const select = $("voice");
  let response;
  try {
    response = await fetch("voices", { headers: headers() });
  } catch (error) {
    showError(`Cannot reach the server for the voices: ${error.message}`);
    return;
  }
  if (response.status === 503) {
    const retryS = Number(response.headers.get("Retry-After")) || VOICES_RETRY_S;
    setStatus(`The model is loading; asking again in ${retryS} s`);
    setTimeout(loadVoices, retryS * 1000);
    return;
  }
  if (!response.ok) {
    showError(await describeHttpError(response));
    return;
  }
  const { details } = await response.json();
  const chosen = select.disabled ? DEFAULT_VOICE : select.value;
  const groups = new Map();
  for (const voice of details) {
    const language = voice.language ?? "Other";
    if (!groups.has(language)) groups.set(language, document.createElement("optgroup"));
    const option = new Option(voice.gender ? `${voice.name} (${voice.gender})` : voice.name, voice.name);
    option.selected = voice.name === chosen;
    groups.get(language).append(option);
  }
  for (const [language, group] of groups) group.label = language;
  select.replaceChildren(...groups.values());
  select.disabled = false;
  $("speak").disabled = false;
  hideError();
  setStatus("Ready");
}

/** Redraws the clock and the highlight every frame until the request's audio has all been heard. */
function tick(session) {
  if (session !== current) return;
  const heard = session.playback.position();
  $("played").textContent = heard.toFixed(2);
  session.transcript.highlight(heard);
  if (session.complete && heard >= session.playback.scheduledS) {
    session.transcript.light(-1);
    finish(session, "Done");
    return;
  }
  requestAnimationFrame(() => tick(session));
}

function finish(session, status) {
  if (session !== current) return;
  current = null;
  setStatus(status);
  $("stop").disabled = true;
}

function stop() {
  if (current === null) return;
  const session = current;
  session.controller.abort();
  session.playback.stop();
  session.transcript.light(-1);
  finish(session, "Stopped");
}

async function speak(event) {
  event.preventDefault();
  stop();
  hideError();
  audioContext ??= new AudioContext(); // made on the click: browsers let a page's gesture start audio
  await audioContext.resume();
  const format = $("format").value;
  const text = $("text").value.normalize("NFC"); // the server speaks the NFC form; words are found in it
  const session = {
    controller: new AbortController(),
    playback: new Playback(audioContext, format),
    transcript: new Transcript($("transcript"), text),
    complete: false,
  };
  current = session;
  $("played").textContent = "0.00";
  $("duration-part").hidden = true;
  $("stop").disabled = false;
  setStatus(session.playback.streamed ? "Synthesising…" : `Receiving the ${format} file…`);
  const request = { text, voice: $("voice").value, speed: Number($("speed").value), format };
  try {
    const response = await fetch("stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers() },
      body: JSON.stringify(request),
      signal: session.controller.signal,
    });
    if (!response.ok) {
      showError(await describeHttpError(response));
      finish(session, "Failed");
      return;
    }
    requestAnimationFrame(() => tick(session));
    for await (const event of ndjsonEvents(response.body)) {
      session.playback.add(base64Bytes(event.audio));
      if (event.type === "chunk") {
        for (const word of event.words) session.transcript.add(word);
        if (session.playback.streamed) setStatus("Playing");
      } else if (event.type === "done") {
        await session.playback.complete();
        $("duration").textContent = event.total_duration.toFixed(2);
        $("duration-part").hidden = false;
        session.complete = true;
        setStatus("Playing");
      }
    }
    if (!session.complete) throw new Error("the stream ended before its last event; the server log may say why");
  } catch (error) {
    if (session !== current) return; // stopped, or replaced by a newer request
    session.playback.stop();
    showError(`Playback failed: ${error.message}`);
    finish(session, "Failed");
  }
}

function start() {
  $("speak").disabled = true;
  $("speak-form").addEventListener("submit", speak);
  $("stop").addEventListener("click", stop);
  $("speed").addEventListener("input", () => {
    $("speed-value").textContent = `${Number($("speed").value).toFixed(1)}×`;
  });
  $("api-key").addEventListener("change", loadVoices);
  loadVoices();
}

start();
