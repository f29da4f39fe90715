// Posts the signed payment form to the card gateway as soon as the page loads (the button stays for
// browsers without JavaScript).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("pay");
  if (form) form.submit();
});
