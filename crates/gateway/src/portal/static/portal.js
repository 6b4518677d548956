// The portal's one script. A record search by phone number sends only the number's MD5,
// computed here: the number itself never leaves the browser.
"use strict";

// MD5 (RFC 1321) of a string's UTF-8 bytes, as 32 lower-case hex digits.
function md5(text) {
  const bytes = new TextEncoder().encode(text);
  const n = (((bytes.length + 8) >>> 6) + 1) * 16;
  const words = new Uint32Array(n);
  for (let i = 0; i < bytes.length; i++) words[i >> 2] |= bytes[i] << ((i % 4) * 8);
  words[bytes.length >> 2] |= 0x80 << ((bytes.length % 4) * 8);
  words[n - 2] = bytes.length * 8;
  words[n - 1] = Math.floor(bytes.length / 0x20000000);

  const shifts = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  const sines = new Uint32Array(64);
  for (let i = 0; i < 64; i++) sines[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000);

  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  for (let block = 0; block < n; block += 16) {
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      let f, g;
      if (round === 0) { f = (b & c) | (~b & d); g = i; }
      else if (round === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (round === 2) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const s = shifts[round * 4 + (i % 4)];
      const sum = (a + f + sines[i] + words[block + g]) >>> 0;
      a = d; d = c; c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0; d0 = (d0 + d) >>> 0;
  }
  let hex = "";
  for (const word of [a0, b0, c0, d0]) {
    for (let i = 0; i < 4; i++) hex += ((word >>> (i * 8)) & 0xff).toString(16).padStart(2, "0");
  }
  return hex;
}

// An input with data-md5-into="<id>" fills that hidden field with its MD5 when its form is
// submitted; an emptied input clears it.
document.addEventListener("submit", (event) => {
  for (const input of event.target.querySelectorAll("input[data-md5-into]")) {
    const target = document.getElementById(input.dataset.md5Into);
    const number = input.value.trim();
    if (number !== "") target.value = md5(number);
    else if (input.dataset.touched) target.value = "";
  }
});
document.addEventListener("input", (event) => {
  if (event.target.dataset && "md5Into" in event.target.dataset) event.target.dataset.touched = "1";
});
