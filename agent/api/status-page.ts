// The status page lives in ./page/ (small pure modules shared with the browser script);
// this file keeps the original import path working.
export { renderStatusPage } from './page/document.js'
export { escapeHtml } from './page/to-html.js'
