/**
 * /assets/local-time.js: shows each `<time data-local-time datetime="…">` in the reader's own time
 * zone and language (Intl, in the browser: the server does not know the zone). The server writes
 * the same moment in UTC as the text, so without the script the page still says when.
 */
export const localTimeScript = `(function () {
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  document.querySelectorAll('time[data-local-time]').forEach(function (el) {
    var when = new Date(el.getAttribute('datetime'));
    if (!isNaN(when.getTime())) el.textContent = format.format(when);
  });
})();
`;
