// The review UI's keyboard and live checks. No inline script anywhere (the CSP forbids it): this file is
// the only code the pages run. Each committed cell edit is POSTed with the session's CSRF token; the
// server answers with the re-run checks, which replace the panel, and the cells' outlines follow.
(() => {
  "use strict";
  const csrf = document.body.dataset.csrf || "";

  document.addEventListener("keydown", (ev) => {
    if (!ev.altKey) return;
    const key = ev.key.toLowerCase();
    if (key === "n") {
      const form = document.getElementById("next-form");
      const button = document.getElementById("next-task");
      if (form) form.submit();
      else if (button) button.click();
      ev.preventDefault();
    } else if (key === "s" && document.getElementById("submit")) {
      document.getElementById("submit").click();
      ev.preventDefault();
    }
  });

  const task = document.getElementById("task");
  if (!task) return;
  const taskId = task.dataset.task;
  const mine = task.dataset.mine === "yes";
  const source = document.getElementById("source-text");
  const chars = Array.from(source.textContent); // code points: provenance offsets count code points
  const where = document.getElementById("where");
  const errorBox = document.getElementById("edit-error");
  const reasonBox = document.getElementById("edit-reason");
  let pending = null; // the edit or fix waiting for a reason: a value that departs from the printed one needs one
  const inputs = Array.from(document.querySelectorAll("#tables input[data-key]"));
  const byKey = new Map(inputs.map((i) => [i.dataset.key, i]));

  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
      for (const pane of document.querySelectorAll(".pane")) pane.hidden = pane.id !== tab.dataset.tab;
    });
  }

  const pageImg = document.getElementById("page-img");
  const box = document.getElementById("box");
  const pageSize = new Map(
    Array.from(document.querySelectorAll(".page-info")).map((p) => [p.dataset.n, [Number(p.dataset.w), Number(p.dataset.h)]]),
  );

  function showBox(input) {
    // the cell's box on its page picture; bboxes are in the page's own unit, so percentages place them
    if (!pageImg) return;
    const size = pageSize.get(input.dataset.page);
    if (!input.dataset.bbox || !size) {
      box.hidden = true;
      return;
    }
    const src = `/review/tasks/${taskId}/pages/${input.dataset.page}.png`;
    if (!pageImg.src.endsWith(src)) pageImg.src = src;
    const [x0, top, x1, bottom] = input.dataset.bbox.split(",").map(Number);
    const [w, h] = size;
    box.style.left = `${(100 * x0) / w}%`;
    box.style.top = `${(100 * top) / h}%`;
    box.style.width = `${(100 * (x1 - x0)) / w}%`;
    box.style.height = `${(100 * (bottom - top)) / h}%`;
    box.hidden = false;
    box.scrollIntoView({ block: "center" });
  }

  function highlight(input) {
    showBox(input);
    where.textContent = input.dataset.key + (input.dataset.page ? ` · page ${input.dataset.page}` : "");
    if (input.dataset.s === undefined) {
      source.textContent = chars.join("");
      where.textContent += " · no source span";
      return;
    }
    const s = Number(input.dataset.s);
    const e = Number(input.dataset.e);
    const mark = document.createElement("mark");
    mark.id = "span";
    mark.textContent = chars.slice(s, e).join("");
    source.replaceChildren(chars.slice(0, s).join(""), mark, chars.slice(e).join(""));
    if (!source.hidden) mark.scrollIntoView({ block: "center" });
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function refresh(data) {
    document.getElementById("checks").innerHTML = data.checks_html; // server-rendered, escaped by Jinja
    document.getElementById("audit").innerHTML = data.audit_html;
    const bad = new Set(data.bad);
    const edited = new Set(data.edited);
    const overrides = new Set(data.overrides);
    for (const input of inputs) {
      const cell = input.parentElement;
      cell.classList.toggle("bad", bad.has(input.dataset.key));
      cell.classList.toggle("edited", edited.has(input.dataset.key));
      cell.classList.toggle("override", overrides.has(input.dataset.key));
      const value = data.values[input.dataset.key];
      if (value !== undefined && document.activeElement !== input) input.value = value;
      if (value !== undefined) input.dataset.saved = value;
    }
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      body,
      credentials: "same-origin",
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.detail || response.statusText);
    return data;
  }

  async function commit(input) {
    if (!mine || input.value === input.dataset.saved) return true;
    const body = new FormData();
    body.set("key", input.dataset.key);
    body.set("value", input.value);
    if (reasonBox && reasonBox.value.trim()) body.set("reason", reasonBox.value.trim());
    input.parentElement.classList.add("saving");
    try {
      refresh(await post(`/review/tasks/${taskId}/cells`, body));
      input.dataset.saved = input.value;
      input.classList.remove("invalid");
      showError("");
      if (reasonBox) reasonBox.value = ""; // a reason belongs to one edit
      pending = null;
      return true;
    } catch (err) {
      input.classList.add("invalid");
      showError(`${input.dataset.key}: ${err.message}`);
      askReason(err.message, () => commit(input).then((ok) => ok && move(input, neighbour(input, 1))));
      return false;
    } finally {
      input.parentElement.classList.remove("saving");
    }
  }

  function askReason(message, retry) {
    // the server refuses a change of a printed value without a reason: type it, Enter sends the edit again
    if (!reasonBox || !message.includes("give a reason")) return;
    pending = retry;
    reasonBox.focus();
  }

  if (reasonBox) {
    reasonBox.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && pending) {
        ev.preventDefault();
        const retry = pending;
        pending = null;
        retry();
      }
    });
  }

  async function applyFix(index) {
    const body = new FormData();
    if (reasonBox && reasonBox.value.trim()) body.set("reason", reasonBox.value.trim());
    try {
      refresh(await post(`/review/tasks/${taskId}/fixes/${index}`, body));
      showError("");
      if (reasonBox) reasonBox.value = "";
      pending = null;
    } catch (err) {
      showError(err.message);
      askReason(err.message, () => applyFix(index));
    }
  }

  function neighbour(input, dr) {
    // the input straight above/below (same table and column), crossing into the next table when needed
    const t = Number(input.dataset.t);
    const r = Number(input.dataset.r);
    const c = Number(input.dataset.c);
    const same = inputs.filter((i) => Number(i.dataset.t) === t && Number(i.dataset.c) === c);
    const next = dr > 0 ? same.find((i) => Number(i.dataset.r) > r) : same.reverse().find((i) => Number(i.dataset.r) < r);
    if (next) return next;
    const at = inputs.indexOf(input);
    const others = dr > 0 ? inputs.slice(at + 1) : inputs.slice(0, at).reverse();
    return others.find((i) => Number(i.dataset.t) !== t) || null;
  }

  function move(input, target) {
    if (target) {
      target.focus();
      target.select();
    }
  }

  for (const input of inputs) {
    input.addEventListener("focus", () => highlight(input));
    input.addEventListener("change", () => commit(input));
    input.addEventListener("keydown", async (ev) => {
      const at = inputs.indexOf(input);
      const all = input.selectionStart === 0 && input.selectionEnd === input.value.length;
      const caretStart = all || input.readOnly || (input.selectionStart === 0 && input.selectionEnd === 0);
      const caretEnd = all || input.readOnly || input.selectionStart === input.value.length;
      if (ev.key === "Enter") {
        ev.preventDefault();
        if (await commit(input)) move(input, neighbour(input, 1));
      } else if (ev.key === "Escape") {
        input.value = input.dataset.saved;
        input.classList.remove("invalid");
        showError("");
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        move(input, neighbour(input, ev.key === "ArrowDown" ? 1 : -1));
      } else if (ev.key === "ArrowRight" && caretEnd) {
        ev.preventDefault();
        move(input, inputs[at + 1]);
      } else if (ev.key === "ArrowLeft" && caretStart) {
        ev.preventDefault();
        move(input, inputs[at - 1]);
      }
    });
  }

  document.getElementById("checks").addEventListener("click", async (ev) => {
    const fix = ev.target.closest(".apply-fix");
    if (fix && mine) {
      await applyFix(fix.dataset.fix);
      return;
    }
    const item = ev.target.closest("li[data-keys]");
    if (item && item.dataset.keys) {
      const first = byKey.get(item.dataset.keys.split(" ")[0]);
      if (first) move(first, first);
    }
  });

  const firstBad = inputs.find((i) => i.parentElement.classList.contains("bad"));
  if (firstBad) move(firstBad, firstBad);
})();
