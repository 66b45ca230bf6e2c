/**
 * /assets/countdown.js: counts a throttle's wait down on the page (pages/two-step-text.ts writes the
 * span) and then says the person can try again. The live region is quiet while it counts, so a
 * screen reader hears the message once and the "try again now" once, not every second.
 */
export const countdownScript = `(function () {
  function words(el, n) {
    if (n < 120) return n === 1 ? el.dataset.one : el.dataset.many.replace('{n}', String(n));
    var m = Math.ceil(n / 60);
    return m === 1 ? el.dataset.minute : el.dataset.minutes.replace('{n}', String(m));
  }
  document.querySelectorAll('[data-countdown]').forEach(function (el) {
    var left = Number(el.dataset.countdown);
    var region = el.closest('[aria-live]');
    if (region) region.setAttribute('aria-live', 'off');
    var timer = setInterval(function () {
      left -= 1;
      if (left > 0) { el.textContent = words(el, left); return; }
      clearInterval(timer);
      if (region) { region.setAttribute('aria-live', 'polite'); region.textContent = el.dataset.ready; }
      else el.textContent = el.dataset.ready;
    }, 1000);
  });
})();
`;
