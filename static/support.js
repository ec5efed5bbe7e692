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
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
