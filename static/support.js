// Progressive enhancement only: the page works fully without this file.
(function () {
  document.documentElement.classList.add("js");
  var select = document.getElementById("currency-select");
  if (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }
  var custom = document.getElementById("custom_amount");
  if (custom) {
    custom.addEventListener("input", function () {
      if (custom.value.trim() === "") return;
      document.querySelectorAll('input[name="amount"]').forEach(function (r) { r.checked = false; });
    });
    document.querySelectorAll('input[name="amount"]').forEach(function (r) {
      r.addEventListener("change", function () { custom.value = ""; });
    });
  }
  // "Remind me later" is about the gift chosen now, not the one the page opened with.
  var remind = document.getElementById("remind-later");
  if (remind && custom) {
    var follow = function () {
      var url = new URL(remind.href);
      var chosen = document.querySelector('input[name="amount"]:checked');
      var amount = custom.value.trim() || (chosen ? chosen.value : "");
      if (amount) { url.searchParams.set("amount", amount); } else { url.searchParams.delete("amount"); }
      remind.href = url.pathname + url.search;
    };
    custom.addEventListener("input", follow);
    document.querySelectorAll('input[name="amount"]').forEach(function (r) {
      r.addEventListener("change", follow);
    });
  }
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
