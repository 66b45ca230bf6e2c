/** Posts the page's `#auto-post` form once it is loaded (the SAML HTTP-POST binding's hop). */
export const autoPostScript = `(() => {
  const form = document.getElementById('auto-post');
  if (form instanceof HTMLFormElement) form.submit();
})();
`;
