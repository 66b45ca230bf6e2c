/**
 * /assets/handoff.js: after the Launch / Continue click the page says what happens next ("Opening
 * Acme Desktop… you can close this tab") with the fallback link. For a private-use scheme the tab
 * stays where it is (the OS opens the app), so without this the page would look as if nothing
 * happened. The form is sent as usual; the script only changes what the page shows.
 */
export const handoffScript = `(function () {
  var button = document.getElementById('handoff');
  var opening = document.getElementById('handoff-opening');
  if (!button || !opening || !button.form) return;
  button.form.addEventListener('submit', function () {
    setTimeout(function () {
      var heading = document.querySelector('h1');
      if (heading) heading.textContent = opening.dataset.title;
      document.title = opening.dataset.title;
      button.form.hidden = true;
      opening.hidden = false;
    }, 150);
  });
})();
`;
