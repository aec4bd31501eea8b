/** The tab icon: a small cloud; served as /assets/icon.svg so browsers stop asking for /favicon.ico. */
export const ICON_PATH = '/assets/icon.svg'
export const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="#1b7f3b" d="M9 26a7 7 0 0 1-1-13.9A9 9 0 0 1 25.3 11 7.5 7.5 0 0 1 24 26z"/></svg>'
