// Dashboard: follow a report rebuild's progress and reload the page when it finishes.
(function () {
  "use strict";
  var notice = document.querySelector(".report-job[data-job-url]");
  if (!notice || notice.dataset.jobStatus === "succeeded" || notice.dataset.jobStatus === "failed") {
    return;
  }
  var progress = notice.querySelector("progress");
  function poll() {
    fetch(notice.dataset.jobUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        if (progress && job.total) {
          progress.max = job.total;
          progress.value = job.done;
        }
        if (job.status === "succeeded" || job.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1500);
        }
      });
  }
  window.setTimeout(poll, 1000);
})();
