// Vigil console: the playback page. A timeline in the station's clock time over a range of
// up to 7 days, with one lane per camera (recorded, gaps with their reasons, footage held
// as evidence), zoomed from the whole range down to a minute; click or drag on it to go
// there, shift-drag (or I and O) to select a stretch and secure it as evidence. Up to four
// cameras play in sync. Each camera's player loads one window of the range at a time (at
// most 30 minutes, an MP4 the server assembles from the recorded stretches back to back)
// and maps its time to the clock through them. Loaded after app.js, whose helpers it uses.
'use strict';

const maxTracks = 4;
const minViewMs = 60000; // the closest zoom: one minute across the timeline
// `t0`–`t1` the range loaded, `v0`–`v1` the part the timeline shows, `at` the clock time
// shown; `run` counts ranges loaded (a reply for an older one is dropped); `mark` the
// selection; `extra` the cameras chosen to play in sync with the first; `windowMs` the most
// of a range one player's MP4 covers (30 minutes: its index stays small, it starts at once).
const pb = { windowMs: 30 * 60000, t0: 0, t1: 0, v0: 0, v1: 0, at: 0, rate: 1, playing: false, tracks: [], run: 0, loop: null, mark: null, extra: [], drag: null };

function preparePlayback() {
  const playable = state.cameras.filter((c) => c.mayPlayback);
  const name = (c) => (c.removed ? `${c.name} (removed)` : c.name);
  $('playback-camera').replaceChildren(...playable.map((c) => new Option(name(c), c.id)));
  pb.extra = pb.extra.filter((id) => playable.some((c) => c.id === id));
  $('playback-add').replaceChildren(new Option('Add a camera in sync…', ''), ...playable.map((c) => new Option(name(c), c.id)));
  drawChosen();
  if (!$('playback-from').value) {
    const now = new Date();
    $('playback-from').value = localInput(new Date(now.getTime() - 10 * 60000));
    $('playback-to').value = localInput(now);
  }
}

// The cameras chosen to play beside the first, each with a button that takes it away.
function drawChosen() {
  $('playback-chosen').replaceChildren(...pb.extra.map((id) => {
    const c = cameraById(id);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.textContent = `${c ? c.name : `camera ${id}`} ×`;
    b.setAttribute('aria-label', `Stop playing ${c ? c.name : `camera ${id}`} in sync`);
    b.addEventListener('click', () => { pb.extra = pb.extra.filter((x) => x !== id); drawChosen(); $('playback-add').focus(); });
    return b;
  }));
  $('playback-add').disabled = pb.extra.length >= maxTracks - 1;
}
$('playback-add').addEventListener('change', () => {
  const id = Number($('playback-add').value);
  $('playback-add').value = '';
  if (!id || pb.extra.includes(id) || String(id) === $('playback-camera').value) return;
  if (pb.extra.length >= maxTracks - 1) return;
  pb.extra.push(id);
  drawChosen();
});

// ---- A camera's player: the window of the range it has loaded, and its time on the clock ----

const inside = (list, ms) => list.find((s) => ms >= s.from && ms < s.to);
const recordedAt = (track, ms) => inside(track.recorded, ms) !== undefined;

function mediaToClock(win, seconds) {
  for (const s of win.spans) {
    if (seconds <= s.offset + (s.to - s.from) / 1000) return s.from + (seconds - s.offset) * 1000;
  }
  const last = win.spans[win.spans.length - 1];
  return last ? last.to : win.from;
}

// The player's time for a clock time: inside a stretch, that moment; in a gap, the next stretch's start.
function clockToMedia(win, ms) {
  for (const s of win.spans) {
    if (ms < s.from) return s.offset;
    if (ms <= s.to) return s.offset + (ms - s.from) / 1000;
  }
  const last = win.spans[win.spans.length - 1];
  return last ? last.offset + (last.to - last.from) / 1000 : 0;
}

// The stretches of a coverage reply, clipped to `[from, to]`, laid end to end as the MP4
// has them. The MP4 starts at the key frame before `from` (`playsFrom`): its time 0 is
// then, so the first stretch is mapped from there.
function spansOf(coverage, from, to) {
  const clip = (ms) => Math.max(from, Math.min(to, ms));
  let offset = 0;
  return coverage.recorded.map((r, i) => {
    const start = clip(Date.parse(r.from));
    const s = { from: i === 0 && coverage.playsFrom ? Math.min(start, Date.parse(coverage.playsFrom)) : start, to: clip(Date.parse(r.to)), offset };
    offset += (s.to - s.from) / 1000;
    return s;
  });
}

const rangeQuery = (from, to) => `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;

// Loads the window of the range around `ms` into the track's player, then shows `ms`:
// playing forward, from a little before it (a minute: a short step back needs no new
// file); backward, up to a little after it. A window that failed is not asked for again
// for 5 s (each request is audited).
async function loadWindow(track, ms) {
  const run = pb.run, me = state.me, margin = Math.min(60000, pb.windowMs / 4);
  const from = pb.rate < 0 && pb.playing ? Math.max(pb.t0, Math.min(pb.t1, ms + margin) - pb.windowMs) : Math.max(pb.t0, ms - margin);
  const to = Math.min(pb.t1, from + pb.windowMs);
  track.loading = true;
  track.win = null;
  const failed = (why) => {
    if (run !== pb.run || state.me !== me) return;
    Object.assign(track, { loading: false, failed: why, retryAt: Date.now() + 5000 });
    $('playback-error').textContent = `The footage of ${track.camera.name} ${why}.`;
    drawTrack(track);
  };
  let coverage;
  try {
    coverage = await api('GET', `/api/cameras/${track.camera.id}/recordings?${rangeQuery(from, to)}`);
  } catch (err) {
    failed(`could not be read: ${err.message}`);
    return;
  }
  if (run !== pb.run || state.me !== me) return;
  const video = track.video;
  const loaded = new Promise((resolve) => {
    video.addEventListener('loadedmetadata', () => resolve(true), { once: true });
    video.addEventListener('error', () => resolve(false), { once: true });
  });
  video.src = `/api/cameras/${track.camera.id}/view.mp4?${rangeQuery(from, to)}`;
  if (!(await loaded)) { failed(track.failed || 'could not be played'); return; }
  if (run !== pb.run) return;
  Object.assign(track, { win: { from, to, spans: spansOf(coverage, from, to) }, loading: false, failed: null, retryAt: 0 });
  place(track, pb.at, true);
}

// Puts the track's player at clock time `ms`: paused with a word in a gap, loading another
// window when `ms` is outside its own, seeking when it is further than it may drift.
function place(track, ms, exact) {
  const video = track.video;
  if (track.loading || Date.now() < track.retryAt) return;
  const here = recordedAt(track, ms);
  track.inGap = !here;
  if (!here) {
    if (!video.paused) video.pause();
    drawTrack(track);
    return;
  }
  const win = track.win;
  // At its window's end the player ends: the next window carries on.
  // The window's footage may start at the key frame before it (`spans[0].from`).
  const start = win && win.spans.length ? Math.min(win.from, win.spans[0].from) : win && win.from;
  const atWindowEnd = win && video.ended && win.to < pb.t1 && ms >= win.to - 2000;
  if (!win || ms < start || ms >= win.to || atWindowEnd) {
    loadWindow(track, ms);
    drawTrack(track);
    return;
  }
  const target = clockToMedia(win, ms);
  const forward = pb.playing && pb.rate > 0;
  // Played to the end of what it holds inside its window: this camera's footage stops here
  // (the newest it has) until the clock is moved back.
  track.ended = !win.spans.length || (forward && video.ended && Math.abs(video.currentTime - target) < 0.3);
  if (track.ended) {
    track.inGap = true;
    drawTrack(track);
    return;
  }
  if (exact || Math.abs(video.currentTime - target) > (forward ? 0.3 : 0.02)) video.currentTime = target;
  if (forward) {
    if (video.playbackRate !== pb.rate) video.playbackRate = pb.rate;
    if (video.paused) {
      video.play().catch((err) => {
        if (err.name !== 'AbortError') { track.failed = `could not be played: ${err.message}`; drawTrack(track); }
      });
    }
  } else if (!video.paused) {
    video.pause();
  }
  drawTrack(track);
}

// The track's clock time as its player shows it, or null while it shows none.
function trackClock(track) {
  if (track.loading || !track.win || track.inGap || track.video.readyState < 2) return null;
  return mediaToClock(track.win, track.video.currentTime);
}

// The track's own line: its camera, and why it shows no picture when it shows none.
function drawTrack(track) {
  let note = '';
  if (track.failed) note = `Its footage ${track.failed}`;
  else if (track.loading) note = 'Loading…';
  else if (track.inGap) {
    const gap = inside(track.gaps, pb.at);
    note = gap ? `Gap: ${gap.reason}` : 'Nothing recorded at this time';
  }
  track.note.textContent = note;
  track.el.classList.toggle('in-gap', Boolean(note) && !track.loading);
}

// ---- The shared clock: the first camera playing leads, the others follow it ----

// The earliest recorded moment at or after `ms` on any camera (of `tracks`), or null.
const nextRecorded = (ms) => nextRecordedBy(pb.tracks, ms);
function nextRecordedBy(tracks, ms) {
  let best = null;
  for (const t of tracks) {
    for (const s of t.recorded) {
      if (s.to > ms) { const at = Math.max(ms, s.from); if (best === null || at < best) best = at; break; }
    }
  }
  return best;
}

// Ten or five times a second: forward, the clock is the first camera that plays (the
// others are kept within 0.3 s of it); where no camera has footage, it moves on to the
// next that has; backward, it steps back and every player is put there.
function tick() {
  if (!pb.tracks.length) return;
  let leader = null;
  if (pb.playing && pb.rate > 0) {
    leader = pb.tracks.find((t) => !t.video.paused && trackClock(t) !== null) || null;
    if (leader) {
      // The leader's MP4 has its stretches back to back: past the end of its stretch, the
      // clock stops where another camera has footage before the leader's next stretch.
      const next = trackClock(leader), stretch = inside(leader.recorded, pb.at);
      const other = stretch && next > stretch.to + 500 ? nextRecordedBy(pb.tracks.filter((t) => t !== leader), stretch.to) : null;
      if (other !== null && other < next) { pb.at = Math.max(stretch.to, other); leader = null; } else pb.at = next;
    } else if (!pb.tracks.some((t) => recordedAt(t, pb.at) && !t.ended && !t.failed)) {
      const next = nextRecorded(pb.at + 40);
      if (next === null || next >= pb.t1) { pausePlayback(); pb.at = Math.min(pb.at, pb.t1); } else { pb.at = next; }
    }
    if (pb.at >= pb.t1 - 50) pausePlayback();
  } else if (pb.playing && pb.rate < 0) {
    // Browsers do not play backward: the clock steps back, and every player with it.
    // No further back than the earliest footage (the key frame before the range at most).
    const floor = Math.min(...pb.tracks.map((t) => (t.recorded.length ? t.recorded[0].from : pb.t1)));
    pb.at = Math.max(floor, pb.at + pb.rate * 100);
    if (pb.at <= floor) pausePlayback();
  }
  for (const t of pb.tracks) if (t !== leader) place(t, pb.at, false);
  drawPlayhead();
}

function startLoop(rate) {
  clearInterval(pb.loop);
  pb.loop = setInterval(tick, rate < 0 ? 100 : 200);
}

// Paused, nothing moves: the loop stops until playing again (a seek or a load places the
// players itself).
function pausePlayback() {
  pb.playing = false;
  clearInterval(pb.loop);
  pb.loop = null;
  for (const t of pb.tracks) if (!t.video.paused) t.video.pause();
}

// Speed: forward at the players' own rate; backward by stepping the clock back 10 times a
// second, the players paused. A new range keeps the speed chosen.
function setSpeed(rate) {
  pb.rate = rate;
  $('playback-speed').value = String(rate);
  if (!pb.tracks.length) return;
  pb.playing = true;
  startLoop(rate);
  for (const t of pb.tracks) { t.video.defaultPlaybackRate = Math.max(rate, 0.5); place(t, pb.at, true); }
}

function stepFrame(frames) {
  const leader = pb.tracks.find((t) => trackClock(t) !== null);
  if (leader) pb.at = trackClock(leader);
  pb.rate = 1;
  $('playback-speed').value = '1';
  pausePlayback();
  pb.at = Math.max(pb.t0, Math.min(pb.t1, pb.at + frames * 40));
  for (const t of pb.tracks) place(t, pb.at, true);
  drawPlayhead();
}

// Goes to clock time `ms` on every camera; where none recorded, to the next moment one did.
function seekToClock(ms) {
  if (!pb.tracks.length) return;
  let at = Math.max(pb.t0, Math.min(pb.t1, ms));
  if (!pb.tracks.some((t) => recordedAt(t, at))) { const next = nextRecorded(at); if (next !== null) at = next; }
  pb.at = at;
  for (const t of pb.tracks) place(t, at, true);
  follow();
  drawPlayhead();
}

$('playback-speed').addEventListener('change', () => setSpeed(Number($('playback-speed').value)));
$('frame-back').addEventListener('click', () => stepFrame(-1));
$('frame-forward').addEventListener('click', () => stepFrame(1));
$('play-pause').addEventListener('click', () => { if (pb.playing) { pausePlayback(); drawPlayhead(); } else setSpeed(pb.rate); });

function stopPlayback() {
  clearInterval(pb.loop);
  pb.loop = null;
  pb.run++;
  pb.playing = false;
  for (const t of pb.tracks) { t.video.removeAttribute('src'); t.video.load(); }
  pb.tracks = [];
  pb.mark = null;
  $('playback-grid').replaceChildren();
  // The timeline keeps its ruler and lanes; what was in them goes.
  for (const part of ['.ruler', '.lanes']) $('coverage').querySelector(part).replaceChildren();
  $('playback-clock').textContent = '';
  $('timeline-scale').textContent = '';
  drawSelection();
}

// ---- The timeline ----

const viewShare = (ms) => (ms - pb.v0) / (pb.v1 - pb.v0);
const durationText = (ms) => {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 7200) return s % 60 && s < 600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} days`;
};

// Ticks at a step that gives 6 to 16 labels across, on the station's clock.
function drawRuler() {
  const span = pb.v1 - pb.v0;
  const steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400].map((s) => s * 1000);
  const step = steps.find((s) => span / s <= 16) || steps[steps.length - 1];
  const zone = new Date(pb.v0).getTimezoneOffset() * 60000;
  const label = (ms) => {
    const d = new Date(ms);
    if (step >= 86400000) return d.toLocaleDateString([], { day: '2-digit', month: '2-digit' });
    if (step >= 60000) {
      const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
      return d.getHours() === 0 && d.getMinutes() === 0 ? `${d.toLocaleDateString([], { day: '2-digit', month: '2-digit' })} ${t}` : t;
    }
    return clock(ms);
  };
  const ticks = [];
  for (let ms = Math.ceil((pb.v0 - zone) / step) * step + zone; ms <= pb.v1; ms += step) {
    const t = document.createElement('span');
    t.className = 'tick';
    t.style.left = `${viewShare(ms) * 100}%`;
    t.textContent = label(ms);
    ticks.push(t);
  }
  $('coverage').querySelector('.ruler').replaceChildren(...ticks);
  $('timeline-scale').textContent = `${clockDate(pb.v0)} – ${clock(pb.v1)} (${timeZone}): ${durationText(span)} shown of ${durationText(pb.t1 - pb.t0)}`;
}

function drawLanes() {
  const piece = (cls, from, to, title) => {
    const a = Math.max(from, pb.v0), b = Math.min(to, pb.v1);
    if (b <= a) return null;
    const s = document.createElement('span');
    s.className = cls;
    s.style.left = `${viewShare(a) * 100}%`;
    s.style.width = `${Math.max(0.15, (viewShare(b) - viewShare(a)) * 100)}%`;
    if (title) s.title = title;
    return s;
  };
  $('coverage').querySelector('.lanes').replaceChildren(...pb.tracks.map((t) => {
    const lane = document.createElement('div');
    lane.className = 'lane';
    const name = document.createElement('span');
    name.className = 'lane-name';
    name.textContent = t.camera.name;
    const bar = document.createElement('div');
    bar.className = 'lane-bar';
    bar.append(...[
      ...t.recorded.map((s) => piece('rec', s.from, s.to, `${t.camera.name}: recorded ${clock(s.from)}–${clock(s.to)}`)),
      ...t.gaps.map((g) => piece('gap', g.from, g.to, `${t.camera.name}, ${clock(g.from)}–${clock(g.to)}: ${g.reason}`)),
      ...t.held.map((h) => piece('held', h.from, h.to, `${t.camera.name}: held as evidence ${clockDate(h.from)}–${clock(h.to)}`)),
      ...t.incidents.map((i) => piece('incident', i.from, i.to, `Incident ${i.number}: ${i.category} (${i.status}), ${clock(i.from)}–${clock(i.to)}`)),
    ].filter(Boolean));
    lane.append(name, bar);
    return lane;
  }));
}

// The incidents reported on each camera over the range, as marks along the top of its lane
// (for those who may read the register; each reading is audited).
async function markIncidents(t0, t1, run) {
  if (!may('incidents')) return;
  const me = state.me;
  const clip = (ms) => Math.max(t0, Math.min(t1, ms));
  try {
    const lists = await Promise.all(pb.tracks.map((t) => api('GET', `/api/incidents?camera=${t.camera.id}&${rangeQuery(t0, t1)}`)));
    if (state.me !== me || run !== pb.run) return;
    pb.tracks.forEach((t, n) => {
      t.incidents = lists[n].flatMap((i) => i.cameras.filter((c) => c.camera === t.camera.id).map((c) => ({
        number: i.number, category: i.category ? i.category.name : '', status: i.status, from: clip(Date.parse(c.from)), to: clip(Date.parse(c.to)),
      })));
    });
  } catch (err) {
    if (state.me === me && run === pb.run) $('coverage-text').textContent += ` The incidents could not be read: ${err.message}.`;
    return;
  }
  const count = pb.tracks.reduce((n, t) => n + t.incidents.length, 0);
  if (count) $('coverage-text').textContent += ` ${count} incident mark(s) (violet).`;
  drawTimeline();
}

function drawTimeline() {
  if (!pb.tracks.length) return;
  drawRuler();
  drawLanes();
  drawSelection();
  drawPlayhead();
}

function drawPlayhead() {
  const bar = $('coverage');
  let head = bar.querySelector('.playhead');
  if (!pb.tracks.length) { if (head) head.hidden = true; return; }
  if (!head) { head = document.createElement('div'); head.className = 'playhead'; bar.append(head); }
  const share = viewShare(pb.at);
  head.hidden = share < 0 || share > 1;
  head.style.left = `${Math.max(0, Math.min(1, share)) * 100}%`;
  bar.setAttribute('aria-valuetext', clockDate(pb.at));
  bar.setAttribute('aria-valuemin', String(pb.t0));
  bar.setAttribute('aria-valuemax', String(pb.t1));
  bar.setAttribute('aria-valuenow', String(Math.round(pb.at)));
  $('playback-clock').textContent = `${clockDate(pb.at)} (${timeZone})`;
  $('play-pause').textContent = pb.playing ? '❚❚' : '▶';
  $('play-pause').setAttribute('aria-label', pb.playing ? 'Pause (space)' : 'Play (space)');
  follow();
}

// Zoomed in, the timeline follows the playhead: it moves on when the playhead leaves it.
function follow() {
  const span = pb.v1 - pb.v0;
  if (span >= pb.t1 - pb.t0 || pb.drag) return;
  if (pb.at < pb.v0 || pb.at > pb.v1) {
    pb.v0 = Math.max(pb.t0, Math.min(pb.t1 - span, pb.at - span * 0.1));
    pb.v1 = pb.v0 + span;
    drawRuler(); drawLanes(); drawSelection();
  }
}

// Zooms by `factor` about clock time `centre` (kept where it is on the timeline), from the
// whole range down to a minute.
function zoom(factor, centre = pb.at) {
  if (!pb.tracks.length) return;
  const span = pb.v1 - pb.v0, whole = pb.t1 - pb.t0;
  const next = Math.max(Math.min(minViewMs, whole), Math.min(whole, span * factor));
  const share = Math.max(0, Math.min(1, (centre - pb.v0) / span));
  pb.v0 = Math.max(pb.t0, Math.min(pb.t1 - next, centre - share * next));
  pb.v1 = pb.v0 + next;
  drawTimeline();
}

function pan(share) {
  const span = pb.v1 - pb.v0;
  pb.v0 = Math.max(pb.t0, Math.min(pb.t1 - span, pb.v0 + share * span));
  pb.v1 = pb.v0 + span;
  drawTimeline();
}

$('zoom-in').addEventListener('click', () => zoom(1 / 3));
$('zoom-out').addEventListener('click', () => zoom(3));
$('zoom-all').addEventListener('click', () => zoom(Infinity));
const clockAt = (clientX) => {
  const r = $('coverage').querySelector('.lanes').getBoundingClientRect();
  return pb.v0 + Math.max(0, Math.min(1, (clientX - r.left) / r.width)) * (pb.v1 - pb.v0);
};
$('coverage').addEventListener('wheel', (e) => {
  if (!pb.tracks.length) return;
  e.preventDefault();
  if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) pan((e.deltaX || e.deltaY) > 0 ? 0.2 : -0.2);
  else zoom(e.deltaY > 0 ? 1.5 : 1 / 1.5, clockAt(e.clientX));
}, { passive: false });

// Drag on the lanes to scrub (the players follow the pointer); with Shift, to select.
$('coverage').addEventListener('pointerdown', (e) => {
  if (!pb.tracks.length || e.button !== 0) return;
  const at = clockAt(e.clientX);
  pb.drag = { select: e.shiftKey, from: at, moved: false, wasPlaying: pb.playing };
  $('coverage').setPointerCapture(e.pointerId);
  if (!e.shiftKey) { pausePlayback(); seekToClock(at); }
});
function dragTo(e) {
  const at = clockAt(e.clientX);
  if (pb.drag.select) { pb.mark = { from: Math.min(pb.drag.from, at), to: Math.max(pb.drag.from, at) }; drawSelection(); } else seekToClock(at);
}
$('coverage').addEventListener('pointermove', (e) => { if (pb.drag) dragTo(e); });
$('coverage').addEventListener('pointerup', (e) => {
  if (!pb.drag) return;
  dragTo(e);
  const drag = pb.drag;
  pb.drag = null;
  if (!drag.select && drag.wasPlaying) setSpeed(pb.rate);
});
$('coverage').addEventListener('pointercancel', () => { pb.drag = null; });
// A click without a drag (a keyboard's or a test's, which sends no pointer events) goes there too.
$('coverage').addEventListener('click', (e) => { if (e.detail === 0 || !e.isTrusted) seekToClock(clockAt(e.clientX)); });

function markAt(edge) {
  if (!pb.tracks.length) return;
  const m = pb.mark || { from: pb.at, to: pb.at };
  m[edge] = pb.at;
  if (m.to < m.from) [m.from, m.to] = edge === 'from' ? [m.from, m.from] : [m.to, m.to];
  pb.mark = m;
  drawSelection();
}
$('mark-in').addEventListener('click', () => markAt('from'));
$('mark-out').addEventListener('click', () => markAt('to'));

function drawSelection() {
  const bar = $('coverage');
  let band = bar.querySelector('.selection');
  if (!band) { band = document.createElement('div'); band.className = 'selection'; bar.append(band); }
  const m = pb.mark;
  const ok = m && m.to - m.from >= 1000;
  band.hidden = !m;
  if (m) {
    const a = Math.max(0, viewShare(m.from)), b = Math.min(1, viewShare(m.to));
    band.style.left = `${a * 100}%`;
    band.style.width = `${Math.max(0, b - a) * 100}%`;
  }
  $('selection-text').textContent = !m ? 'Select a stretch: Shift-drag on the timeline, or I and O at the playhead.'
    : ok ? `Selected ${clockDate(m.from)} – ${clock(m.to)} (${durationText(m.to - m.from)})` : 'Selected: mark its end (O) after its start (I).';
  const cameras = pb.tracks.filter((t) => t.camera.mayRegisterEvidence);
  $('secure-selection').hidden = !may('manage-evidence');
  $('secure-selection').disabled = !ok || cameras.length === 0;
}

// The selection, on every camera playing that the user may register, goes to the evidence
// register's form, filled in; the request itself is made there.
$('secure-selection').addEventListener('click', () => {
  const m = pb.mark;
  if (!m) return;
  // Whole seconds (the form's), never past now (an exhibit cannot reach into the future).
  const to = Math.min(Math.ceil(m.to / 1000) * 1000, Math.floor(Date.now() / 1000) * 1000);
  state.secure = { cameras: pb.tracks.filter((t) => t.camera.mayRegisterEvidence).map((t) => t.camera.id), from: Math.floor(m.from / 1000) * 1000, to };
  openView('evidence').catch((err) => { $('evidence-error').textContent = `The evidence register could not be opened: ${err.message}`; });
});

$('playback').addEventListener('keydown', (e) => {
  if (e.target.closest('input, select, textarea') || e.ctrlKey || e.metaKey || e.altKey || !pb.tracks.length) return;
  const keys = {
    ',': () => stepFrame(-1), '.': () => stepFrame(1), '+': () => zoom(1 / 3), '=': () => zoom(1 / 3), '-': () => zoom(3),
    i: () => markAt('from'), I: () => markAt('from'), o: () => markAt('to'), O: () => markAt('to'),
    ' ': () => $('play-pause').click(),
    ArrowLeft: () => seekToClock(pb.at - (e.shiftKey ? 60000 : 10000)), ArrowRight: () => seekToClock(pb.at + (e.shiftKey ? 60000 : 10000)),
  };
  if (e.key === ' ' && e.target.closest('button')) return; // the button's own press
  const act = keys[e.key];
  if (!act) return;
  e.preventDefault();
  act();
});

// ---- Loading a range ----

function makeTrack(camera, index) {
  const el = document.createElement('figure');
  el.className = 'pb-track';
  const head = document.createElement('figcaption');
  const name = document.createElement('span');
  name.className = 'cam-name';
  name.textContent = camera.name;
  const note = document.createElement('span');
  note.className = 'pb-note';
  note.setAttribute('role', 'status');
  head.append(name, note);
  const video = document.createElement('video');
  video.muted = true; video.playsInline = true;
  // The first camera's player keeps the page's old name (tests and links use it).
  if (index === 0) video.id = 'playback-video';
  video.dataset.camera = String(camera.id);
  el.append(head, video);
  const track = { camera, el, video, note, win: null, loading: false, inGap: false, ended: false, failed: null, retryAt: 0, recorded: [], gaps: [], held: [], incidents: [] };
  video.addEventListener('error', () => {
    if (!video.getAttribute('src')) return;
    const why = { 1: 'loading was stopped', 2: 'the network failed', 3: 'the footage could not be decoded', 4: 'the server refused it or sent no playable video' }[video.error && video.error.code] || 'it failed';
    track.loading = false;
    track.failed = `could not be played: ${why}${video.error && video.error.message ? ` (${video.error.message})` : ''}`;
    $('playback-error').textContent = `The footage of ${camera.name} ${track.failed}.`;
    drawTrack(track);
  });
  return track;
}

$('playback-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me;
  $('playback-error').textContent = '';
  const first = cameraById(Number($('playback-camera').value));
  const fromDate = new Date($('playback-from').value), toDate = new Date($('playback-to').value);
  if (!first) { $('playback-error').textContent = 'Choose a camera.'; return; }
  if (isNaN(fromDate) || isNaN(toDate)) { $('playback-error').textContent = 'Give the start and the end of the range, date and time.'; return; }
  if (toDate <= fromDate) {
    $('playback-error').textContent = `The end (${clockDate(toDate)}) is not after the start (${clockDate(fromDate)}): give a later end.`;
    return;
  }
  if (toDate - fromDate > 7 * 86400000) { $('playback-error').textContent = 'A range is at most 7 days: give a later start or an earlier end.'; return; }
  const cameras = [first, ...pb.extra.filter((id) => id !== first.id).map(cameraById).filter(Boolean)].slice(0, maxTracks);
  stopPlayback();
  const run = pb.run;
  let replies;
  try {
    replies = await Promise.all(cameras.map((c) => api('GET', `/api/cameras/${c.id}/recordings?${rangeQuery(fromDate, toDate)}`)
      .catch((err) => { throw new Error(`the recordings of ${c.name} could not be read: ${err.message}`); })));
  } catch (err) {
    if (state.me === me && run === pb.run) $('playback-error').textContent = `${err.message[0].toUpperCase()}${err.message.slice(1)}`;
    return;
  }
  if (state.me !== me || run !== pb.run) return;
  const t0 = Date.parse(replies[0].from), t1 = Date.parse(replies[0].to);
  const clip = (ms) => Math.max(t0, Math.min(t1, ms));
  Object.assign(pb, { t0, t1, v0: t0, v1: t1, at: t0, mark: null });
  pb.tracks = cameras.map((c, i) => {
    const track = makeTrack(c, i), r = replies[i];
    track.recorded = r.recorded.map((s) => ({ from: clip(Date.parse(s.from)), to: clip(Date.parse(s.to)) }));
    // The footage starts at the key frame before the range: stepping back reaches it.
    const key = r.playsFrom ? Date.parse(r.playsFrom) : null;
    if (key !== null && track.recorded.length && key < track.recorded[0].from) track.recorded[0].from = key;
    track.gaps = r.gaps.map((g) => ({ from: clip(Date.parse(g.from)), to: clip(g.to ? Date.parse(g.to) : t1), reason: g.reason }));
    track.held = r.held.map((h) => ({ from: clip(Date.parse(h.from)), to: clip(Date.parse(h.to)) }));
    return track;
  });
  $('playback-grid').dataset.count = String(pb.tracks.length);
  $('playback-grid').replaceChildren(...pb.tracks.map((t) => t.el));
  // What each camera recorded, in words: stretches, gaps, and time neither recorded nor a
  // known gap (before its first recording, after the newest, or past its retention).
  $('coverage-text').textContent = pb.tracks.map((t) => {
    const recordedMs = t.recorded.reduce((n, s) => n + s.to - s.from, 0);
    const gapMs = t.gaps.reduce((n, g) => n + g.to - g.from, 0);
    const unknown = Math.max(0, t1 - t0 - recordedMs - gapMs);
    return `${t.camera.name}: ${t.recorded.length} recorded stretch(es), ${t.gaps.length} gap(s)` +
      (unknown > 1000 ? `, ${Math.round(unknown / 1000)} s with nothing recorded (grey: before its first recording, or past its retention)` : '') +
      (t.held.length ? `, ${t.held.length} stretch(es) held as evidence (amber)` : '');
  }).join('; ') + `. Times in ${timeZone}.`;
  $('gap-list').replaceChildren(...pb.tracks.flatMap((t) => t.gaps.map((g) => {
    const li = document.createElement('li');
    li.textContent = `${pb.tracks.length > 1 ? `${t.camera.name}, ` : ''}${clock(g.from)}–${clock(g.to)}: ${g.reason}`;
    return li;
  })));
  drawTimeline();
  markIncidents(t0, t1, run);
  if (!pb.tracks.some((t) => t.recorded.length)) {
    const names = pb.tracks.map((t) => t.camera.name).join(', ');
    stopPlayback();
    $('playback-error').textContent = `Nothing was recorded by ${names} between ${clockDate(fromDate)} and ${clockDate(toDate)}.`;
    return;
  }
  pb.at = nextRecorded(t0) ?? t0;
  setSpeed(pb.rate);
});
