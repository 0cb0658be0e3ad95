/* preattentive human experiment: backward-masked rapid presentation on jsPsych, timed in whole display frames.
 *
 * Per trial: fixation -> stimulus for N frames -> mask for M frames -> the question and its choices (keys 1-9, 0,
 * or buttons). "unlimited" trials keep the stimulus up with the choices until the answer. Frames are counted with
 * requestAnimationFrame: the canvas is drawn inside a rAF callback, so it reaches the screen at the next refresh,
 * and the callback's timestamp is that frame's time. Onset / offset are those timestamps (ms since page load);
 * the refresh interval is measured before the first trial (median of 60 intervals). A trial whose measured stimulus
 * time is not its planned whole number of frames (a dropped frame) is flagged timing_ok = false.
 * The design (trials, lists, images) comes from experiment.json, inlined by `preattentive human export`.
 */
(function () {
  "use strict";
  const BOOT = JSON.parse(document.getElementById("preattentive-config").textContent);
  const M = BOOT.manifest;
  const D = M.design;
  const P = jsPsychModule.ParameterType;
  const url = new URLSearchParams(window.location.search);
  const state = { phase: "loading", frame_ms: null, done: 0, total: 0, post_status: "", item: null, serial: 0, open: false,
                  participant: null, list: null, started_at: new Date().toISOString() };
  window.preattentive = state; // read by the browser test (phase, current item) and handy when piloting
  const bitmaps = {};

  function setPhase(p) { state.phase = p; document.body.dataset.phase = p; }
  function median(xs) { const s = xs.slice().sort((a, b) => a - b); const k = s.length >> 1;
    return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2; }
  function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" })[c]); }
  function keyOf(j) { return String((j + 1) % 10); } // choice 0 -> "1", ..., choice 9 -> "0"
  function round3(x) { return Math.round(x * 1000) / 1000; }
  function fnv1a(s) { let h = 0x811c9dc5; for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0; } return h; }
  function sentence(q) { return q.charAt(0).toUpperCase() + q.slice(1); }

  function decodeAll() {
    return Promise.all(Object.entries(BOOT.images).map(([id, b64]) => {
      const img = new Image();
      img.src = "data:image/png;base64," + b64;
      bitmaps[id] = img;
      return img.decode();
    }));
  }

  // ------------------------------------------------------------------ plugin 1: decode images, measure refresh
  class RefreshPlugin {
    constructor(jsPsych) { this.jsPsych = jsPsych; }
    trial(display, trial) {
      setPhase("calibration");
      display.innerHTML = '<p class="pa-text">Preparing the experiment, one moment…</p>';
      decodeAll().then(() => {
        const stamps = [];
        const step = (t) => {
          stamps.push(t);
          if (stamps.length <= trial.frames) { requestAnimationFrame(step); return; }
          const iv = stamps.slice(1).map((x, i) => x - stamps[i]);
          state.frame_ms = median(iv);
          display.innerHTML = "";
          this.jsPsych.finishTrial({ phase: "calibration", frame_ms: round3(state.frame_ms),
            refresh_hz: round3(1000 / state.frame_ms), intervals: iv.length,
            interval_min_ms: round3(Math.min(...iv)), interval_max_ms: round3(Math.max(...iv)) });
        };
        requestAnimationFrame(step);
      });
    }
  }
  RefreshPlugin.info = { name: "preattentive-refresh", version: "1.0.0",
    parameters: { frames: { type: P.INT, default: 60 } }, data: {} };

  // ------------------------------------------------------------------ plugin 2: one masked trial
  class MaskedTrialPlugin {
    constructor(jsPsych) { this.jsPsych = jsPsych; }
    trial(display, trial) {
      const it = trial.item, cond = trial.condition, fr = state.frame_ms;
      const frames = (ms) => Math.max(1, Math.round(ms / fr));
      const nFix = frames(D.fixation_ms), nMask = frames(D.mask_ms);
      const nStim = cond.duration_ms === null ? null : frames(cond.duration_ms);
      const px = D.display_px, dpr = window.devicePixelRatio || 1;
      state.item = it.key;
      state.serial += 1;
      const buttons = it.choices.map((c, j) => `<button class="pa-choice" data-choice="${j}">` +
        `<span class="pa-key">${keyOf(j)}</span>${esc(c)}</button>`).join("");
      display.innerHTML = `<div class="pa-trial"><p class="pa-question">${esc(sentence(it.question))}</p>` +
        `<canvas class="pa-canvas" width="${Math.round(px * dpr)}" height="${Math.round(px * dpr)}" ` +
        `style="width:${px}px;height:${px}px"></canvas><div class="pa-choices">${buttons}</div>` +
        `<div class="pa-feedback"></div></div>`;
      const canvas = display.querySelector("canvas"), ctx = canvas.getContext("2d");
      const choices = display.querySelector(".pa-choices"), fb = display.querySelector(".pa-feedback");
      const W = canvas.width;
      ctx.imageSmoothingEnabled = false; // nearest neighbour: each stimulus pixel becomes a crisp square
      const blank = () => { ctx.fillStyle = "#808080"; ctx.fillRect(0, 0, W, W); };
      const image = (id) => { blank(); ctx.drawImage(bitmaps[id], 0, 0, W, W); };
      const fixation = () => { blank(); const a = W * 0.05, w = Math.max(2, Math.round(W / 128));
        ctx.fillStyle = "#000"; ctx.fillRect(W / 2 - a, W / 2 - w / 2, 2 * a, w);
        ctx.fillRect(W / 2 - w / 2, W / 2 - a, w, 2 * a); };
      const t = {};
      let frame = 0, last = null, maxIv = 0, early = 0, open = false;
      const onKey = (e) => {
        if (!open) { early += 1; return; }
        const j = it.choices.findIndex((_, k) => keyOf(k) === e.key);
        if (j >= 0) respond(j, "key", e.key, e.timeStamp);
      };
      const onClick = (e) => {
        const b = e.target.closest("button[data-choice]");
        if (open && b) respond(Number(b.dataset.choice), "button", "", e.timeStamp);
      };
      document.addEventListener("keydown", onKey);
      choices.addEventListener("click", onClick);
      const openResponse = (ts) => { t.response_onset = ts; open = true; state.open = true; choices.classList.add("pa-on");
        setPhase("response"); };
      const tick = (ts) => {
        if (t.stim_onset !== undefined && t.stim_offset === undefined && last !== null) maxIv = Math.max(maxIv, ts - last);
        last = ts;
        if (frame === 0) { fixation(); t.fix_onset = ts; setPhase("fixation"); }
        else if (frame === nFix) {
          image(it.image); t.stim_onset = ts; setPhase("stimulus");
          if (nStim === null) { openResponse(ts); return; } // unlimited: the image stays with the choices
        } else if (frame === nFix + nStim) { image(it.mask); t.stim_offset = ts; t.mask_onset = ts; setPhase("mask"); }
        else if (frame === nFix + nStim + nMask) { blank(); t.mask_offset = ts; openResponse(ts); return; }
        frame += 1;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);

      const respond = (j, source, key, stamp) => {
        open = false;
        state.open = false;
        document.removeEventListener("keydown", onKey);
        choices.removeEventListener("click", onClick);
        const stimMs = nStim === null ? "" : t.stim_offset - t.stim_onset;
        const stimFrames = nStim === null ? "" : Math.round(stimMs / fr);
        const maskMs = nStim === null ? "" : t.mask_offset - t.mask_onset;
        const ok = nStim === null ? true : stimFrames === nStim && Math.round(maskMs / fr) === nMask;
        const data = {
          preattentive: M.format, experiment_id: M.experiment_id, participant: state.participant,
          list: state.list, synthetic: false, simulated_by: "", phase: trial.phase, trial_number: trial.number,
          trial_key: it.key, trial_id: it.trial_id, family: it.family, params: it.params, level: it.level,
          seed: it.seed, index: it.index, question: it.question, choices: JSON.stringify(it.choices),
          label: it.label, answer: it.answer, difficulty: it.difficulty, condition: cond.name,
          duration_ms: cond.duration_ms === null ? "" : cond.duration_ms, mask: D.mask, mask_ms: D.mask_ms,
          fixation_ms: D.fixation_ms, frame_ms: round3(fr), planned_frames: nStim === null ? "" : nStim,
          stim_frames: stimFrames, stim_onset_ms: round3(t.stim_onset),
          stim_offset_ms: nStim === null ? "" : round3(t.stim_offset), stim_ms: nStim === null ? "" : round3(stimMs),
          mask_frames: nStim === null ? "" : Math.round(maskMs / fr), mask_measured_ms: nStim === null ? "" : round3(maskMs),
          max_interval_ms: nStim === null ? "" : round3(maxIv), timing_ok: ok,
          response_onset_ms: round3(t.response_onset), response: j, response_key: key, response_source: source,
          predicted: it.choices[j], correct: j === it.label, rt_ms: round3(stamp - t.response_onset),
          early_keys: early, display_px: px, device_pixel_ratio: dpr, screen_w: screen.width,
          screen_h: screen.height, window_w: window.innerWidth, window_h: window.innerHeight,
          user_agent: navigator.userAgent, started_at: state.started_at,
        };
        if (trial.phase === "test") { state.done += 1;
          this.jsPsych.progressBar.progress = state.done / Math.max(1, state.total); }
        if (!trial.feedback) { blank(); this.jsPsych.finishTrial(data); return; }
        setPhase("feedback");
        fb.className = "pa-feedback " + (data.correct ? "pa-right" : "pa-wrong");
        fb.textContent = data.correct ? "Correct!" : `Not quite: the answer was “${it.answer}”.`;
        setTimeout(() => { blank(); this.jsPsych.finishTrial(data); }, 1200);
      };
    }
  }
  MaskedTrialPlugin.info = { name: "preattentive-masked-trial", version: "1.0.0", parameters: {
    item: { type: P.OBJECT, default: undefined }, condition: { type: P.OBJECT, default: undefined },
    phase: { type: P.STRING, default: "test" }, number: { type: P.INT, default: 0 },
    feedback: { type: P.BOOL, default: false } }, data: {} };

  // ------------------------------------------------------------------ the timeline
  const conditions = Object.fromEntries(M.conditions.map((c) => [c.name, c]));
  const page = (html) => `<div class="pa-text">${html}</div>`;
  const phaseStart = (p) => () => setPhase(p);

  function minutes() { // ~3 s per trial (fixation, stimulus, mask, answer) plus the practice
    const m = Math.max(1, Math.round((state.total + M.practice.length) * 3 / 60));
    return `${m} minute${m === 1 ? "" : "s"}`;
  }

  function instructions() {
    const masked = M.conditions.filter((c) => c.duration_ms !== null).map((c) => `${c.duration_ms} ms`);
    const unl = M.conditions.some((c) => c.duration_ms === null);
    return [
      page(`<h1>${esc(M.title)}</h1><p>In this study you will see small pictures and answer one question about ` +
        `each. The question is shown above the picture before it appears.</p><p>It takes about ${minutes()}. ` +
        `Please sit at a comfortable distance, use a ` +
        `computer (not a phone) and keep the window full screen.</p>`),
      page(`<p>Each trial: a small <b>cross</b> appears; look at it. Then the <b>picture</b> is shown ` +
        (masked.length ? `very briefly (${masked.join(", ")}) and then is covered by ${D.mask === "noise" ? "<b>random noise</b>" : "a <b>scrambled pattern</b>"}` : "") +
        (masked.length && unl ? `; on some trials it stays on the screen until you answer` :
          unl ? `and stays on the screen until you answer` : "") +
        `.</p><p>Then choose your answer with the number keys shown on the buttons (<span class="pa-key">1</span>, ` +
        `<span class="pa-key">2</span>, …) or click a button. If you are not sure, take your best guess: ` +
        `every trial needs an answer.</p>`),
      page(`<p>First, ${M.practice.length} practice trials, with feedback.</p>` +
        `<p class="pa-small">Use the arrow keys or the buttons to move between these pages.</p>`),
    ].filter((_, i) => i < 2 || M.practice.length);
  }

  function start(participant) {
    state.participant = participant;
    const n = M.lists.length;
    const asked = url.get("list");
    state.list = asked !== null && /^\d+$/.test(asked) && Number(asked) < n ? Number(asked) : fnv1a(participant) % n;
    const rows = M.lists[state.list];
    state.total = rows.length;
    const jsPsych = initJsPsych({ show_progress_bar: true, auto_update_progress_bar: false,
      message_progress_bar: "Progress" });
    const tl = [];
    if (url.get("fullscreen") !== "0") {
      tl.push({ type: jsPsychFullscreen, fullscreen_mode: true, on_start: phaseStart("fullscreen"),
        message: page("<p>The experiment runs in full screen. Press the button to switch.</p>") });
    }
    tl.push({ type: RefreshPlugin });
    tl.push({ type: jsPsychInstructions, pages: instructions(), show_clickable_nav: true,
      key_forward: "ArrowRight", key_backward: "ArrowLeft", on_start: phaseStart("instructions") });
    M.practice.forEach((it, k) => tl.push({ type: MaskedTrialPlugin, item: it, condition: conditions[it.condition],
      phase: "practice", number: k, feedback: true }));
    tl.push({ type: jsPsychHtmlKeyboardResponse, choices: [" "], on_start: phaseStart("begin"),
      stimulus: page(`<p>${M.practice.length ? "Practice is over. " : ""}Now the experiment: ${rows.length} ` +
        `trials${D.break_every ? `, with a short break every ${D.break_every}` : ""}. No more feedback.</p>` +
        `<p>Press the <b>space bar</b> to start.</p>`) });
    rows.forEach(([key, cname], k) => {
      if (D.break_every && k > 0 && k % D.break_every === 0) {
        tl.push({ type: jsPsychHtmlKeyboardResponse, choices: [" "], on_start: phaseStart("break"),
          stimulus: page(`<p>Break: ${k} of ${rows.length} trials done. Rest your eyes for a moment.</p>` +
            `<p>Press the <b>space bar</b> when you are ready to go on.</p>`) });
      }
      tl.push({ type: MaskedTrialPlugin, item: M.trials[key], condition: conditions[cname], phase: "test",
        number: k });
    });
    tl.push({ type: jsPsychHtmlKeyboardResponse, choices: "NO_KEYS", on_start: phaseStart("end"),
      stimulus: page(`<h1>Thank you!</h1><p>Your answers are ready.</p><div class="pa-end">` +
        `<button id="pa-csv">Download CSV</button><button id="pa-json">Download JSON</button></div>` +
        `<p id="pa-status" class="pa-small"></p>`), on_load: () => finish(jsPsych) });
    jsPsych.run(tl);
  }

  function finish(jsPsych) {
    const data = jsPsych.data.get().filterCustom((r) => r.phase === "test" || r.phase === "practice");
    const name = `preattentive-${M.experiment_id}-${state.participant}`;
    document.getElementById("pa-csv").onclick = () => data.localSave("csv", name + ".csv");
    document.getElementById("pa-json").onclick = () => data.localSave("json", name + ".json");
    const status = document.getElementById("pa-status");
    if (!BOOT.post_url) {
      state.post_status = "none";
      status.textContent = "Please download your answers and send the file to the experimenter.";
      return;
    }
    const body = data.json();
    const attempt = (k) => fetch(BOOT.post_url, { method: "POST", headers: { "Content-Type": "application/json" },
      body: body }).then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); })
      .then(() => { state.post_status = "sent"; status.textContent = "Your answers were sent. You may close this page."; },
        (e) => { if (k < 3) { setTimeout(() => attempt(k + 1), 1000 * k); return; }
          state.post_status = "failed: " + e.message;
          status.textContent = "Sending failed; please download your answers and send the file to the experimenter."; });
    status.textContent = "Sending your answers…";
    attempt(1);
  }

  const given = url.get("participant") || url.get("PROLIFIC_PID");
  if (given && /^[A-Za-z0-9._-]{1,64}$/.test(given)) {
    start(given);
  } else {
    const j0 = initJsPsych();
    j0.run([{ type: jsPsychSurveyText, on_start: phaseStart("participant"), button_label: "Continue",
      questions: [{ prompt: "Participant code (letters, digits, . _ -):", name: "participant", required: true }],
      on_finish: (d) => {
        const id = String(d.response.participant || "").trim().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
        document.body.innerHTML = "";
        start(id || "anonymous");
      } }]);
  }
})();
