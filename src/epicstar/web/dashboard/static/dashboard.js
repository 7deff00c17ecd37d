// epicstar dashboard: live updates (server-sent events), actions without a reload, small
// conveniences. Pages work without it; everything it shows comes from the server's HTML.
"use strict";

(function () {
  const SCRIPT_HEADER = "X-Epicstar-Script";
  const body = document.body;
  const toast = document.querySelector("[data-toast]");
  let toastTimer = null;

  function say(message, isError) {
    if (!toast) return;
    toast.textContent = message;
    toast.classList.toggle("is-error", Boolean(isError));
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, isError ? 12000 : 6000);
  }

  if (toast && !toast.hidden) {
    toastTimer = setTimeout(function () { toast.hidden = true; }, 6000);
  }

  // ---- live regions: fetch this page again and swap every [data-live] element ----------
  let refreshing = false;
  let again = false;

  function selectedIds() {
    return new Set(
      Array.from(document.querySelectorAll('input[name="github_id"]:checked')).map(function (box) {
        return box.value;
      })
    );
  }

  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected && new URL(response.url).pathname === "/login") {
        location.assign(response.url);
        return;
      }
      if (!response.ok) return;
      const html = await response.text();
      const fresh = new DOMParser().parseFromString(html, "text/html");
      const selected = selectedIds();
      const focused = document.activeElement && document.activeElement.id;
      fresh.querySelectorAll("[data-live]").forEach(function (region) {
        const name = region.getAttribute("data-live");
        if (region === fresh.body) return;
        const current = document.querySelector('[data-live="' + CSS.escape(name) + '"]');
        if (current) current.replaceWith(document.importNode(region, true));
      });
      document.querySelectorAll('input[name="github_id"]').forEach(function (box) {
        box.checked = selected.has(box.value);
      });
      if (focused) {
        const target = document.getElementById(focused);
        if (target) target.focus();
      }
      wire(document);
    } catch (error) {
      // The server is restarting or unreachable: the event stream will bring us back.
    } finally {
      refreshing = false;
      if (again) { again = false; refresh(); }
    }
  }

  function listen() {
    const state = document.querySelector("[data-live-state]");
    let seen = body.getAttribute("data-fingerprint") || null;
    const source = new EventSource("/events");
    function show(text, name) {
      if (!state) return;
      state.textContent = text;
      state.setAttribute("data-state", name);
    }
    source.addEventListener("open", function () { show("Live updates: on", "live"); });
    source.addEventListener("error", function () {
      show("Live updates: reconnecting…", "lost");
      // Refused for good (signed out meanwhile): the page itself goes to the sign-in page.
      if (source.readyState === EventSource.CLOSED) refresh();
    });
    source.addEventListener("change", function (event) {
      show("Live updates: on", "live");
      if (event.data !== seen) {
        const first = seen === null;
        seen = event.data;
        if (!first) refresh();
      }
    });
    source.addEventListener("signed-out", function () {
      source.close();
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    });
  }

  // ---- actions: post the form, say what happened, refresh the live regions ---------------
  async function act(form, submitter) {
    const confirmText = form.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) return;
    const data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { [SCRIPT_HEADER]: "1", Accept: "application/json" },
      });
      if (response.status === 401) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
        return;
      }
      let message = response.ok ? "Done." : "Not done (" + response.status + ").";
      try {
        const answer = await response.json();
        if (answer && typeof answer.message === "string") message = answer.message;
      } catch (error) { /* not JSON: keep the status line */ }
      say(message, !response.ok);
      if (response.ok) {
        if (form.hasAttribute("data-reset")) form.reset();
        refresh();
      }
    } catch (error) {
      say("The server cannot be reached; try again in a moment.", true);
    } finally {
      buttons.forEach(function (button) { button.disabled = false; });
    }
  }

  function wire(root) {
    root.querySelectorAll("form[data-script]").forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        act(form, event.submitter);
      });
    });
    root.querySelectorAll("[data-select-all]").forEach(function (box) {
      if (box.dataset.wired) return;
      box.dataset.wired = "1";
      box.addEventListener("change", function () {
        document.querySelectorAll('input[name="github_id"]').forEach(function (one) {
          one.checked = box.checked;
        });
      });
    });
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      if (select.dataset.wired) return;
      select.dataset.wired = "1";
      select.addEventListener("change", function () {
        const form = select.form;
        const page = form && form.querySelector('input[name="page"]');
        if (page) page.remove();
        if (form) form.requestSubmit();
      });
    });
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.wired) return;
      button.dataset.wired = "1";
      button.addEventListener("click", async function () {
        const target = document.getElementById(button.getAttribute("data-copy"));
        if (!target) return;
        const text = target.textContent.trim();
        try {
          await navigator.clipboard.writeText(text);
        } catch (error) {
          const range = document.createRange();
          range.selectNodeContents(target);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          document.execCommand("copy");
        }
        button.textContent = "Copied";
      });
    });
  }

  wire(document);
  if (body.getAttribute("data-live") === "on") listen();
})();
