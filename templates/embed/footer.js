/* The article footer of {{ base }}: include once, anywhere on the page:
 *   <div data-membership-footer data-source="…" data-lang="en" data-frequency="monthly" data-amount="5"></div>
 *   <script src="{{ base }}/embed/footer.js" async></script>
 * Whatever the div holds (a link to the support page, say) stays until the footer is
 * ready, and is removed for a reader who gave or said "not now" lately. No dependencies;
 * it talks to {{ base }} alone. Documentation: docs/embed.md in the membership app. */
(function () {
  "use strict";
  var BASE = {{ base|tojson }};
  if (window.membershipFooter) return;

  function request(path, options) {
    return fetch(BASE + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function post(path, body, withCookies) {
    return request(path, {
      method: "POST",
      mode: "cors",
      credentials: withCookies ? "include" : "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    });
  }

  function fieldsOf(form) {
    var fields = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") fields[name] = value;
    });
    return fields;
  }

  function say(element, text, failed) {
    element.textContent = text;
    element.classList.toggle("mf-failed", !!failed);
  }

  function languageOf(host) {
    return host.getAttribute("data-lang") || document.documentElement.lang || "";
  }

  function sourceOf(host) {
    return host.getAttribute("data-source") || location.origin + location.pathname;
  }

  function fragmentQuery(host) {
    var query = [];
    [["lang", languageOf(host)], ["frequency", host.getAttribute("data-frequency")],
     ["amount", host.getAttribute("data-amount")], ["currency", host.getAttribute("data-currency")]]
      .forEach(function (pair) {
        if (pair[1]) query.push(pair[0] + "=" + encodeURIComponent(pair[1]));
      });
    return query.join("&");
  }

  /* The gift the reader is looking at: the chosen frequency, and a typed amount or the
     preset chosen in that frequency's group. */
  function giftOf(checkout) {
    var fields = fieldsOf(checkout);
    var frequency = fields.frequency || "monthly";
    return {
      frequency: frequency,
      amount: (fields.custom_amount || "").trim() || fields["amount_" + frequency] || "",
      currency: fields.currency || ""
    };
  }

  function wire(root, host) {
    var footer = root.querySelector(".mf");
    var messages = footer.dataset;
    var source = sourceOf(host);
    var language = footer.getAttribute("lang");
    var find = function (id) { return root.querySelector("#" + id); };

    var checkout = find("mf-checkout");
    var custom = find("mf-custom-amount");
    var continueButton = find("mf-continue");
    var checkoutStatus = find("mf-checkout-status");
    /* A typed amount wins, so choosing a preset clears it and typing clears the presets. */
    custom.addEventListener("input", function () {
      if (!custom.value.trim()) return;
      checkout.querySelectorAll('input[name^="amount_"]').forEach(function (radio) { radio.checked = false; });
    });
    checkout.querySelectorAll('input[name^="amount_"]').forEach(function (radio) {
      radio.addEventListener("change", function () { custom.value = ""; });
    });
    checkout.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = fieldsOf(checkout);
      body.source = source;
      continueButton.disabled = true;
      say(checkoutStatus, messages.msgWorking);
      post("/embed/checkout", body).then(function (answer) {
        if (answer.ok && answer.data.url) {
          /* The whole window, even when the article is itself framed (another origin's
             top may be navigated, not read: href, not assign()). */
          try { window.top.location.href = answer.data.url; } catch (error) { location.href = answer.data.url; }
          return;
        }
        continueButton.disabled = false;
        say(checkoutStatus, answer.data.message || messages.msgFailed, true);
      }, function () {
        continueButton.disabled = false;
        say(checkoutStatus, messages.msgFailed, true);
      });
    });

    var toggle = find("mf-remind-toggle");
    var remind = find("mf-remind");
    var remindStatus = find("mf-remind-status");
    toggle.addEventListener("click", function () {
      var open = remind.hidden;
      remind.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) find("mf-remind-email").focus();
    });
    remind.addEventListener("submit", function (event) {
      event.preventDefault();
      var fields = fieldsOf(remind);
      var gift = giftOf(checkout);
      var body = {
        email: fields.email || "", when: fields.when || "", frequency: gift.frequency,
        amount: gift.amount, currency: gift.currency, source: source, lang: language
      };
      post("/remind-me", body).then(function (answer) {
        if (answer.ok) {
          var day = new Date(answer.data.scheduled_for + "T00:00:00Z");
          var date = isNaN(day) ? answer.data.scheduled_for
            : day.toLocaleDateString(language || undefined, { dateStyle: "long", timeZone: "UTC" });
          say(remindStatus, messages.msgReminded.replace("{date}", date));
          remind.reset();
        } else {
          say(remindStatus, answer.data.message || messages.msgFailed, true);
        }
      }, function () { say(remindStatus, messages.msgFailed, true); });
    });

    find("mf-not-now").addEventListener("click", function () {
      post("/remind-me/snooze", { days: 30 }, true).then(function () {}, function () {});
      var note = document.createElement("p");
      note.className = "mf-snoozed";
      note.setAttribute("role", "status");
      note.tabIndex = -1;
      note.textContent = messages.msgSnoozed;
      footer.replaceChildren(note);
      note.focus();
    });

    var newsletter = find("mf-newsletter-form");
    var newsletterStatus = find("mf-newsletter-status");
    newsletter.addEventListener("submit", function (event) {
      event.preventDefault();
      var fields = fieldsOf(newsletter);
      var body = {
        email: fields.email || "", consent: find("mf-newsletter-consent").checked,
        lang: fields.lang || language, source: source
      };
      /* The body's lang is the newsletter's; the answer comes in the footer's (query). */
      post("/newsletter?lang=" + encodeURIComponent(language || ""), body).then(function (answer) {
        say(newsletterStatus, answer.data.message || messages.msgFailed, !answer.ok);
        if (answer.ok) newsletter.reset();
      }, function () { say(newsletterStatus, messages.msgFailed, true); });
    });
  }

  function mount(host, html) {
    if (host.shadowRoot) return;
    var root = host.attachShadow({ mode: "open" });
    root.innerHTML = html;
    wire(root, host);
  }

  function start() {
    var hosts = Array.prototype.slice.call(document.querySelectorAll("[data-membership-footer]"))
      .filter(function (host) { return !host.shadowRoot; });
    if (!hosts.length) return;
    request("/api/prompt", { mode: "cors", credentials: "include" }).then(function (answer) {
      if (!answer.ok) return;
      if (!answer.data.show) {
        hosts.forEach(function (host) { host.replaceChildren(); host.hidden = true; });
        return;
      }
      hosts.forEach(function (host) {
        fetch(BASE + "/embed/footer/fragment?" + fragmentQuery(host), { mode: "cors", credentials: "omit" })
          .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
          .then(function (html) { mount(host, html); })
          .catch(function () {});
      });
    }, function () {});
  }

  window.membershipFooter = { start: start };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
